"""The Anthropic base streams: auth, the two pagination styles, errors, windows, state.

How tap-anthropic reads the Admin API (https://api.anthropic.com/v1/organizations/...):

* Every request carries `x-api-key` (the Admin API key) and `anthropic-version`.
* Lists (workspaces, API keys) page with `after_id` = the previous page's `last_id`.
* Reports (cost, messages usage) answer time buckets `{starting_at, ending_at, results}`
  and page with the opaque `next_page` token. A run walks [start, end) in windows of
  `window_days`, oldest first, and asks for each window whole. `end` is the last complete
  bucket before the run started: a bucket still filling up is read by a later run.
* The bookmark is a watermark ("every bucket before W has been emitted"); it advances only
  when a window is complete. Anthropic revises recent buckets, so each run starts
  `lookback_days` before the watermark; records keep their key, so a re-read replaces.
* One record per (bucket, result): the result as Anthropic sends it (the cost `amount`
  stays the decimal string in cents), plus the bucket's `starting_at` / `ending_at`, the
  `organization_id` and a deterministic `record_key` from the bucket start and the
  group-by values (never from amounts or token counts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import typing as t
from http import HTTPStatus
from importlib import resources
from urllib.parse import parse_qs, urlparse

from finfocus_common.rest import (
    UTC,
    FinfocusRESTStream,
    isoformat,
    parse_datetime,
    response_json,
    windows,
)
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.authenticators import APIKeyAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context

__all__ = ["UTC", "AnthropicStream", "ListStream", "ReportStream", "isoformat", "parse_datetime"]

#: bucket_width -> (seconds, the most buckets one page may hold)
BUCKET_WIDTHS = {"1d": (86_400, 31), "1h": (3_600, 168), "1m": (60, 1_440)}
LIST_LIMIT = 1000


def floor_to(moment: dt.datetime, seconds: int) -> dt.datetime:
    """The start of the UTC bucket of `seconds` that holds `moment`."""
    epoch = int(moment.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def record_key(*parts: object) -> str:
    """A stable key from a record's identity (bucket and group-by values, never amounts)."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class AnthropicStream(FinfocusRESTStream):
    """A stream of Anthropic's Admin API."""

    provider = "Anthropic"
    request_id_header = "request-id"
    # Anthropic says "do not retry" with x-should-retry: false (its SDKs honour it too).
    no_retry_header = ("x-should-retry", "false")

    schema = StreamSchema(SchemaDirectory(resources.files("tap_anthropic") / "schemas"))
    is_sorted = False
    # Nested objects (cache_creation, created_by, ...) are kept exactly as Anthropic sends them.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    def authenticator(self) -> APIKeyAuthenticator:
        return APIKeyAuthenticator(key="x-api-key", value=self.config["admin_api_key"])

    @property
    def http_headers(self) -> dict[str, str]:
        return {
            "User-Agent": self.tap.user_agent,
            "anthropic-version": str(self.config["anthropic_version"]),
        }

    @property
    def tap(self) -> t.Any:  # the TapAnthropic, typed loosely to avoid an import cycle
        return self._tap

    def error_summary(self, response: requests.Response) -> str:
        summary = super().error_summary(response)
        if response.status_code == HTTPStatus.UNAUTHORIZED:
            # Anthropic answers a wrong key and a standard (non-admin) key alike.
            summary += (
                " (check admin_api_key: the Admin API needs an Admin API key, sk-ant-admin..., "
                "of an organization; standard API keys are refused)"
            )
        return summary

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        row["organization_id"] = self.tap.organization["id"]
        return row

    def body_of(self, response: requests.Response) -> dict:
        """The page as a JSON object with a `data` list; anything else is retried."""
        body = self.check_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RetriableAPIError(
                f"Anthropic answered GET {_path(response)} without a list", response
            )
        if body.get("has_more") and not body["data"]:
            raise RetriableAPIError(
                f"Anthropic answered GET {_path(response)} with an empty page", response
            )
        return body


# --------------------------------------------------------------------- lists
class AfterIdPaginator(BaseAPIPaginator[str | None]):
    """Lists page forward with after_id = the previous page's last_id."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response_json(response)
        return str(body["last_id"]) if body.get("has_more") and body.get("last_id") else None


class ListStream(AnthropicStream):
    """A full list of objects (workspaces, API keys), re-read whole every run."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = None
    extra_params: t.ClassVar[dict[str, str]] = {}

    def get_new_paginator(self) -> AfterIdPaginator:
        return AfterIdPaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        params: dict[str, t.Any] = {"limit": LIST_LIMIT, **self.extra_params}
        if next_page_token:
            params["after_id"] = next_page_token
        return params

    def check_page(self, response: requests.Response) -> None:
        body = self.body_of(response)
        after = _query_value(response, "after_id")
        if after and any(item.get("id") == after for item in body["data"]):
            raise RetriableAPIError(
                f"Anthropic answered GET {_path(response)} with a page it had already sent",
                response,
            )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield from response_json(response)["data"]

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        self.tap.organization  # noqa: B018 - checks the key before anything else
        yield from self.request_records(context)


# --------------------------------------------------------------------- reports
class NextPagePaginator(BaseAPIPaginator[str | None]):
    """Reports page with the opaque next_page token; a page of empty buckets is no end."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response_json(response)
        return str(body["next_page"]) if body.get("has_more") and body.get("next_page") else None

    def continue_if_empty(self, response: requests.Response) -> bool:
        return bool(response_json(response).get("has_more"))


class ReportStream(AnthropicStream):
    """A time-bucket report read in windows, one record per (bucket, result)."""

    primary_keys: t.ClassVar[list[str]] = ["record_key"]
    replication_key = "starting_at"
    #: group_by[] values asked for
    group_by: tuple[str, ...] = ()
    #: result fields that identify a result (the group-by values as Anthropic names them)
    identity: tuple[str, ...] = ()

    @property
    def bucket_width(self) -> str:
        return "1d"

    @property
    def bucket_seconds(self) -> int:
        return BUCKET_WIDTHS[self.bucket_width][0]

    def get_new_paginator(self) -> NextPagePaginator:
        return NextPagePaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        lower, upper = (context or {})["window"]
        params: dict[str, t.Any] = {
            "starting_at": lower,
            "ending_at": upper,
            "bucket_width": self.bucket_width,
            "limit": BUCKET_WIDTHS[self.bucket_width][1],
            "group_by[]": list(self.group_by),
        }
        if next_page_token:
            params["page"] = next_page_token
        return params

    def check_page(self, response: requests.Response) -> None:
        """A 200 must be a new page of buckets inside the window asked for."""
        body = self.body_of(response)
        page = _query_value(response, "page")
        if page and body.get("next_page") == page:
            raise RetriableAPIError(
                f"Anthropic answered GET {_path(response)} with a page it had already sent",
                response,
            )
        lower = parse_datetime(_query_value(response, "starting_at") or "")
        upper = parse_datetime(_query_value(response, "ending_at") or "")
        for bucket in body["data"]:
            if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
                raise RetriableAPIError(
                    f"Anthropic answered GET {_path(response)} with a malformed bucket", response
                )
            start = parse_datetime(str(bucket.get("starting_at")))
            if not lower <= start < upper:
                raise RetriableAPIError(
                    f"Anthropic answered GET {_path(response)} with bucket {isoformat(start)} "
                    f"outside the window asked for",
                    response,
                )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        for bucket in response_json(response)["data"]:
            for result in bucket["results"]:
                yield {
                    **result,
                    "starting_at": bucket["starting_at"],
                    "ending_at": bucket["ending_at"],
                }

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        super().post_process(row, context)
        row["organization_name"] = self.tap.organization.get("name")
        row["record_key"] = record_key(
            row["organization_id"],
            self.name,
            row["starting_at"],
            *self.key_extra(),
            *(row.get(name) for name in self.identity),
        )
        if "workspace_id" in row:
            row["workspace_name"] = self.tap.workspace_names.get(row["workspace_id"])
        return row

    def key_extra(self) -> tuple[str, ...]:
        """Identity parts beyond bucket and groups (the usage report: its bucket width)."""
        return ()

    # --- windows and the watermark ----------------------------------------------

    def read_window(
        self, context: Context, lower: dt.datetime, upper: dt.datetime
    ) -> Iterator[dict]:
        """Every (bucket, result) of the report in [lower, upper)."""
        yield from self.request_records({**context, "window": (isoformat(lower), isoformat(upper))})

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        self.tap.organization  # noqa: B018 - checks the key before anything else
        context = dict(context or {})
        seconds = self.bucket_seconds
        start = floor_to(self.tap.start_date, seconds)
        end = floor_to(self.tap.end_date, seconds)  # the last complete bucket ends here
        watermark = self.watermark(context)
        lookback = dt.timedelta(days=float(self.config.get("lookback_days", 2)))
        lower = start if watermark is None else max(floor_to(watermark - lookback, seconds), start)
        step = dt.timedelta(days=int(self.config.get("window_days", 31)))
        for window_lower, window_upper in windows(lower, end, step):
            yield from self.read_window(context, window_lower, window_upper)
            # Never move the bookmark back: re-reading is lookback's job, not state's.
            self.advance_watermark(context, max(window_upper, watermark or window_upper))


def _path(response: requests.Response) -> str:
    return urlparse(response.url).path


def _query_value(response: requests.Response, key: str) -> str | None:
    url = response.request.url if response.request is not None else response.url
    values = parse_qs(urlparse(url or "").query).get(key)
    return values[0] if values else None
