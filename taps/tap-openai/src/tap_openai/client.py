"""The OpenAI base streams: auth, bucket pages, lists, errors, rate limits, the watermark.

How a bucket stream (costs, usage_*) reads OpenAI:

* OpenAI answers in time buckets (`1d` for costs; `1m`/`1h`/`1d` for usage), each with
  the results of the requested `group_by`. A run asks for [lower, end) once, `limit`
  buckets per page (the API's maximum unless `page_size` says otherwise), following
  `next_page` cursors. One record per (bucket, result).
* The bookmark is a watermark ("every bucket that ends before W has been emitted"). It
  advances after each page, to the end of the page's last *complete* bucket (the bucket
  in progress, today's, is never bookmarked), so a crash re-reads at most one page.
* OpenAI revises recent buckets. Each run starts `lookback_days` before the watermark, so
  the revised buckets are read again; their records keep their key (bucket start and
  group-by values) and replace the old ones downstream.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import typing as t
from http import HTTPStatus
from importlib import resources
from urllib.parse import parse_qs, urlparse

from finfocus_common.redact import redact
from finfocus_common.rest import (
    UTC,
    FinfocusRESTStream,
    isoformat,
    parse_datetime,
    response_json,
)
from finfocus_common.retry import MAX_ADVERTISED_WAIT, retry_after_seconds, wait_generator
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context

__all__ = ["UTC", "BucketStream", "OpenAIStream", "isoformat", "parse_datetime"]

WIDTH_SECONDS = {"1m": 60, "1h": 3_600, "1d": 86_400}
#: the most buckets one usage page may hold, per bucket width (costs: 180)
USAGE_PAGE_LIMITS = {"1m": 1_440, "1h": 168, "1d": 31}
COSTS_PAGE_LIMIT = 180
LIST_PAGE_LIMIT = 100
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def to_unix(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def from_unix(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=UTC)


def floor_to(moment: dt.datetime, width: int) -> dt.datetime:
    """The start of the UTC bucket of `width` seconds that holds `moment`."""
    seconds = to_unix(moment)
    return from_unix(seconds - seconds % width)


def duration_seconds(text: str) -> float | None:
    """OpenAI's reset durations ("1s", "6m0s", "20ms", "1h2m3.5s") in seconds."""
    parts = _DURATION_PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def advertised_wait(response: requests.Response | None) -> float | None:
    """What OpenAI asks us to wait: Retry-After, else on a 429 its request-limit reset."""
    seconds = retry_after_seconds(response)
    if seconds is not None or response is None:
        return seconds
    if response.status_code != HTTPStatus.TOO_MANY_REQUESTS:
        return None
    reset = duration_seconds(response.headers.get("x-ratelimit-reset-requests", ""))
    return None if reset is None else min(reset, MAX_ADVERTISED_WAIT)


class OpenAIStream(FinfocusRESTStream):
    """A stream of OpenAI's admin API (costs, usage, projects): auth, errors, retries."""

    provider = "OpenAI"
    request_id_header = "x-request-id"
    schema = StreamSchema(SchemaDirectory(resources.files("tap_openai") / "schemas"))
    # Nested objects (amount, owner) are kept exactly as OpenAI sends them; top-level
    # fields the schema does not know (new in the API) are dropped with a warning.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/") + "/v1"

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.config["admin_api_key"])

    @property
    def http_headers(self) -> dict[str, str]:
        return {"User-Agent": self.tap.user_agent}

    @property
    def tap(self) -> t.Any:  # the TapOpenAI, typed loosely to avoid an import cycle
        return self._tap

    def error_summary(self, response: requests.Response) -> str:
        """OpenAI's error object in one line, without the masked key it echoes back."""
        try:
            error = response_json(response).get("error") or {}
        except (ValueError, AttributeError):
            error = {}
        parts = [str(response.status_code)]
        for key in ("type", "code", "param"):
            if error.get(key):
                parts.append(f"{key}={error[key]}")
        message = error.get("message") or response.reason or ""
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            # OpenAI echoes part of the key here; say what to do instead.
            message = "the admin API key was rejected; check admin_api_key (sk-admin-...)"
        elif response.status_code == HTTPStatus.FORBIDDEN:
            message = f"{message} (tap-openai needs an admin API key, sk-admin-...)"
        return redact(f"{' '.join(parts)}: {message}")

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        def advertised(exc: BaseException | None) -> float | None:
            return advertised_wait(getattr(exc, "response", None))

        return wait_generator(
            advertised, base=float(self.config.get("backoff_base_seconds", 1.0)), cap=60.0
        )


class NextPagePaginator(BaseAPIPaginator[str | None]):
    """OpenAI's bucket pages: the next one is named by `next_page` while `has_more`."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response_json(response)
        return str(body["next_page"]) if body.get("has_more") else None

    def continue_if_empty(self, response: requests.Response) -> bool:
        return True  # days without usage are pages of empty buckets; has_more decides


class BucketStream(OpenAIStream):
    """One of OpenAI's bucketed endpoints (costs, usage/*): one record per bucket result."""

    #: the fields asked for in `group_by`; with the bucket start they are the record's key
    group_by: tuple[str, ...] = ()
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "bucket_start"
    is_sorted = False  # the watermark is ours (advance_watermark), not the SDK's

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._query: tuple[dt.datetime, dt.datetime] | None = None
        self._context: Context | None = None
        self._next_bucket: int | None = None  # where the next page must start

    @property
    def bucket_width(self) -> str:
        return str(self.config.get("bucket_width") or "1d")

    @property
    def width_seconds(self) -> int:
        return WIDTH_SECONDS[self.bucket_width]

    @property
    def page_limit(self) -> int:
        maximum = USAGE_PAGE_LIMITS[self.bucket_width]
        return min(int(self.config.get("page_size") or maximum), maximum)

    def get_new_paginator(self) -> NextPagePaginator:
        return NextPagePaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        assert self._query is not None, "get_records sets the query range first"
        lower, upper = self._query
        params: dict[str, t.Any] = {
            "start_time": to_unix(lower),
            "end_time": to_unix(upper),
            "bucket_width": self.bucket_width,
            "group_by[]": list(self.group_by),
            "limit": self.page_limit,
        }
        if self.config.get("project_ids"):
            params["project_ids[]"] = list(self.config["project_ids"])
        if next_page_token:
            params["page"] = next_page_token
        return params

    # --- pages -------------------------------------------------------------------

    def check_page(self, response: requests.Response) -> None:
        """A 200 must be a whole, new page of buckets; anything else is retried."""
        path = urlparse(response.url).path
        body = self.check_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RetriableAPIError(f"OpenAI answered GET {path} without buckets", response)
        if body.get("has_more") and (not body["data"] or not body.get("next_page")):
            raise RetriableAPIError(
                f"OpenAI answered GET {path} with a page that claims more but cannot lead to it",
                response,
            )
        first = body["data"][0]["start_time"] if body["data"] else None
        if first is not None and first != self._next_bucket:
            # A page sent again, or one of another query: never skip or double buckets.
            raise RetriableAPIError(
                f"OpenAI answered GET {path} with buckets starting at {first}, not "
                f"{self._next_bucket} (a page sent twice, or one of another query)",
                response,
            )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        assert self._query is not None
        organization = self.tap.organization_id
        body = response_json(response)
        complete_until: dt.datetime | None = None
        for bucket in body["data"]:
            start, end = int(bucket["start_time"]), int(bucket["end_time"])
            self._next_bucket = end
            fields = {
                "organization_id": organization,
                "start_time": start,
                "end_time": end,
                "bucket_start": isoformat(from_unix(start)),
                "bucket_end": isoformat(from_unix(end)),
            }
            for result in bucket.get("results") or []:
                yield {**result, "id": self.record_key(start, result), **fields}
            if from_unix(end) <= self._query[1]:
                complete_until = from_unix(end)
        # Every record of the page has been written: bookmark its complete buckets.
        watermark = self.watermark(self._context)
        if complete_until is not None and (watermark is None or complete_until > watermark):
            self.advance_watermark(self._context, complete_until)

    def record_key(self, start: int, result: dict) -> str:
        """The bucket start and the group-by values: same bucket and group, same key."""
        return json.dumps([start, *(result.get(g) for g in self.group_by)], separators=(",", ":"))

    # --- the range and the watermark ---------------------------------------------------

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        self.tap.organization_id  # noqa: B018 - checks the key before anything is read
        width = self.width_seconds
        start = floor_to(self.tap.start_date, width)
        end = self.tap.end_date
        watermark = self.watermark(context)
        lookback = dt.timedelta(days=float(self.config.get("lookback_days", 2)))
        lower = start if watermark is None else max(floor_to(watermark - lookback, width), start)
        if lower >= end:
            return
        self._query, self._context, self._next_bucket = (lower, end), context, to_unix(lower)
        yield from self.request_records(context)


class ListStream(OpenAIStream):
    """One of OpenAI's object lists (projects, API keys): `limit`, `after` cursors, whole."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = None

    def get_new_paginator(self) -> ListPaginator:
        return ListPaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        params: dict[str, t.Any] = {"limit": LIST_PAGE_LIMIT}
        if next_page_token:
            params["after"] = next_page_token
        return params

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        self.tap.organization_id  # noqa: B018 - checks the key before anything is read
        yield from super().get_records(context)

    def check_page(self, response: requests.Response) -> None:
        """A 200 must be a whole, new list page; anything else is retried."""
        path = urlparse(response.url).path
        body = self.check_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RetriableAPIError(f"OpenAI answered GET {path} without a list", response)
        if body.get("has_more") and not body["data"]:
            raise RetriableAPIError(f"OpenAI answered GET {path} with an empty page", response)
        after = parse_qs(urlparse(response.request.url or "").query).get("after")
        if after and any(obj.get("id") == after[0] for obj in body["data"]):
            raise RetriableAPIError(
                f"OpenAI answered GET {path} with a page it had already sent", response
            )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        organization = self.tap.organization_id
        for obj in response_json(response)["data"]:
            yield {**obj, "organization_id": organization}


class ListPaginator(BaseAPIPaginator[str | None]):
    """OpenAI's lists: the next page starts after the last object's id."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response_json(response)
        if body.get("has_more") and body.get("data"):
            return str(body.get("last_id") or body["data"][-1]["id"])
        return None
