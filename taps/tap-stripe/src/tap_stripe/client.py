"""The Stripe base stream: auth, list pagination, time windows, events, retries, errors, state.

How a stream reads Stripe (per account, the platform and each connected account):

* Stripe lists newest first. A run walks the range [start, end) in windows of
  `window_days`, oldest window first, asking `created[gte]/created[lt]` for each and
  following `starting_after` cursors through its pages.
* The bookmark is a watermark: "everything before W has been emitted". It advances only
  when a window has been fully emitted, so a crash re-reads at most one window and never
  skips one. Records are upserted downstream by primary key, so a re-read never doubles.
* Immutable objects (balance transactions, events) are read by `created` from the
  watermark minus `lookback_days`.
* Mutable objects (charges, invoices, ...) are listed by `created` on the first run; later
  runs read their changes from /v1/events (the event carries the object as it became).
  Stripe keeps events 30 days: a watermark older than that cannot be served from events,
  so the stream is re-listed from start_date, with a warning, rather than leave a gap.
"""

from __future__ import annotations

import datetime as dt
import re
import typing as t
from http import HTTPStatus
from importlib import resources
from urllib.parse import parse_qs, urlparse

from finfocus_common.errors import PermanentError
from finfocus_common.rest import (
    UTC,
    FinfocusRESTStream,
    isoformat,
    parse_datetime,
    response_json,
    windows,
)
from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.pagination import BaseAPIPaginator

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.streams.rest import HTTPRequest, PageContext

__all__ = ["UTC", "StripeStream", "isoformat", "parse_datetime", "response_json"]

EVENT_RETENTION = dt.timedelta(days=30)
# Events a little younger than 30 days may already be gone by the time we page to them.
EVENT_RETENTION_MARGIN = dt.timedelta(hours=1)
PAGE_LIMIT = 100
MASKED_KEY = re.compile(r"\b(?:sk|rk|pk)_(?:test|live)_[*A-Za-z0-9]+")


def to_unix(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def from_unix(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=UTC)


class StripeListPaginator(BaseAPIPaginator[str | None]):
    """Stripe's cursor pagination: the next page starts after the last object's id."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response_json(response)
        if body.get("has_more") and body.get("data"):
            return str(body["data"][-1]["id"])
        return None


class StripeStream(FinfocusRESTStream):
    """One Stripe list endpoint, read per account in created-time windows."""

    provider = "Stripe"
    request_id_header = "Request-Id"
    no_retry_header = ("Stripe-Should-Retry", "false")

    # Set by each stream class:
    object_type: str = ""
    #: Event types that carry this object when it changes: one wildcard ("charge.*")
    #: or exact names. Empty for immutable objects, which are read by `created` only.
    event_types: tuple[str, ...] = ()
    #: Whether the list endpoint accepts created[gte]/created[lt].
    created_filter: bool = True

    # schemas/<stream name>.json, generated from Stripe's fixtures and OpenAPI spec.
    schema = StreamSchema(SchemaDirectory(resources.files("tap_stripe") / "schemas"))
    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = "updated_at"
    is_sorted = False
    # Nested objects are kept exactly as Stripe sends them; only top-level fields are typed.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY

    @property
    def url_base(self) -> str:
        return str(self.config["api_url"]).rstrip("/")

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @property
    def http_headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.tap.user_agent}
        if self.config.get("stripe_version"):
            headers["Stripe-Version"] = self.config["stripe_version"]
        return headers

    @property
    def tap(self) -> t.Any:  # the TapStripe, typed loosely to avoid an import cycle
        return self._tap

    @property
    def partitions(self) -> list[dict] | None:
        return [{"account_id": account} for account in self.tap.account_ids]

    def get_new_paginator(self) -> StripeListPaginator:
        return StripeListPaginator()

    def get_http_request(self, *, page: PageContext) -> HTTPRequest:
        request = super().get_http_request(page=page)
        context = page.stream_context or {}
        account = context.get("account_id")
        if account and account != self.tap.platform_account_id:
            request.headers["Stripe-Account"] = account
        return request

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        params: dict[str, t.Any] = {"limit": PAGE_LIMIT}
        if next_page_token:
            params["starting_after"] = next_page_token
        window = (context or {}).get("window")
        if window and self.created_filter:
            params["created[gte]"], params["created[lt]"] = window
        params.update((context or {}).get("extra_params") or {})
        return params

    # --- responses and errors ------------------------------------------------------

    def failure_context(self, response: requests.Response) -> str:
        account = response.request.headers.get("Stripe-Account") if response.request else None
        account = account.decode() if isinstance(account, bytes) else account
        return f" for account {account}" if account else ""

    def error_summary(self, response: requests.Response) -> str:
        """Stripe's error object in one line, without the key it echoes back."""
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
            # Stripe echoes a masked key here; say what to do instead.
            message = "the API key was rejected; check api_key (a secret or restricted key)"
        # Stripe quotes the key masked but for its last characters ('sk_test_****41b8'):
        # no piece of a key goes into our messages.
        message = MASKED_KEY.sub("<api_key>", message)
        return f"{' '.join(parts)}: {message}"

    def validate_response(self, response: requests.Response) -> None:
        # Stripe asks for a retry of a 409 (lock timeout) with Stripe-Should-Retry: true.
        if (
            response.status_code == HTTPStatus.CONFLICT
            and response.headers.get("Stripe-Should-Retry") == "true"
        ):
            raise RetriableAPIError(self.describe_failure(response), response)
        super().validate_response(response)

    def check_page(self, response: requests.Response) -> None:
        """A 200 must be a whole, new list page; anything else is retried."""
        path = urlparse(response.url).path
        body = self.check_json(response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise RetriableAPIError(f"Stripe answered GET {path} without a list", response)
        if body.get("has_more") and not body["data"]:
            raise RetriableAPIError(f"Stripe answered GET {path} with an empty page", response)
        url = response.request.url or ""
        after = _query_value(url, "starting_after")
        if after and any(obj.get("id") == after for obj in body["data"]):
            raise RetriableAPIError(
                f"Stripe answered GET {path} with a page it had already sent", response
            )
        # A page replayed from another window (a caching proxy, a confused load balancer)
        # is a valid list, but of objects outside the window asked for: retry, or the
        # window's real objects would be lost.
        lower, upper = _query_value(url, "created[gte]"), _query_value(url, "created[lt]")
        if lower is not None and upper is not None:
            low, high = int(lower), int(upper)
            for obj in body["data"]:
                created = obj.get("created")
                if isinstance(created, int) and not low <= created < high:
                    raise RetriableAPIError(
                        f"Stripe answered GET {path} with {obj.get('id')} created at {created}, "
                        f"outside the window [{low}, {high}) it was asked for",
                        response,
                    )

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield from response_json(response)["data"]

    # --- windows, events and the watermark ------------------------------------------

    def created_of(self, obj: dict) -> int:
        """An object's `created` time; an object without one is data we refuse to guess at."""
        created = obj.get("created")
        if isinstance(created, bool) or not isinstance(created, int):
            kind = obj.get("object") or self.object_type
            raise PermanentError(
                f"Stripe returned {kind} {obj.get('id')} ({self.name}) with created = "
                f"{created!r}, not a Unix time"
            )
        return created

    def _windows(
        self, start: dt.datetime, end: dt.datetime
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        return windows(start, end, dt.timedelta(days=float(self.config.get("window_days", 7))))

    def list_window(
        self,
        context: Context,
        lower: dt.datetime,
        upper: dt.datetime,
        extra_params: dict[str, t.Any] | None = None,
    ) -> Iterator[dict]:
        """Every object of this stream's list endpoint created in [lower, upper)."""
        window_context = {
            **context,
            "window": (to_unix(lower), to_unix(upper)),
            "extra_params": extra_params or {},
        }
        for record in self.request_records(window_context):
            if not self.created_filter:  # the endpoint cannot filter: do it here
                created = from_unix(self.created_of(record))
                if not lower <= created < upper:
                    continue
            yield record

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        context = dict(context or {})
        start = self.tap.start_date
        end = self.tap.end_date
        watermark = self.watermark(context)
        lookback = dt.timedelta(days=float(self.config.get("lookback_days", 0)))
        if watermark is not None and self.event_types:
            horizon = self.tap.run_started_at - EVENT_RETENTION + EVENT_RETENTION_MARGIN
            if watermark - lookback >= horizon:
                yield from self._changes_from_events(context, max(watermark - lookback, start), end)
                return
            self.logger.warning(
                "%s bookmark %s (account %s) is older than the 30 days Stripe keeps events: "
                "re-listing every %s created since start_date %s so no change is missed",
                self.name,
                isoformat(watermark),
                context.get("account_id"),
                self.object_type,
                isoformat(start),
            )
            watermark = None
        lower = start if watermark is None else max(watermark - lookback, start)
        yield from self._objects_by_created(context, lower, end)

    def _objects_by_created(
        self, context: Context, start: dt.datetime, end: dt.datetime
    ) -> Iterator[dict]:
        for lower, upper in self._windows(start, end):
            for record in self.list_window(context, lower, upper):
                record["updated_at"] = isoformat(from_unix(self.created_of(record)))
                yield record
            self.advance_watermark(context, upper)

    def _changes_from_events(
        self, context: Context, start: dt.datetime, end: dt.datetime
    ) -> Iterator[dict]:
        """The latest version, per window, of each object that changed in [start, end)."""
        if len(self.event_types) == 1 and self.event_types[0].endswith("*"):
            filters: dict[str, t.Any] = {"type": self.event_types[0]}
        else:
            filters = {"types[]": list(self.event_types)}
        events = self.tap.streams["events"]
        for lower, upper in self._windows(start, end):
            seen: set[str] = set()
            # Newest first: the first time we meet an object is its latest version.
            for event in events.list_window(context, lower, upper, extra_params=filters):
                obj = (event.get("data") or {}).get("object") or {}
                if obj.get("object") != self.object_type or not obj.get("id") or obj["id"] in seen:
                    continue
                seen.add(obj["id"])
                if self.created_of(obj) < to_unix(self.tap.start_date):
                    continue  # same scope as a first run: objects created since start_date
                record = dict(obj)
                record["updated_at"] = isoformat(from_unix(self.created_of(event)))
                if str(event.get("type", "")).endswith(".deleted"):
                    record["deleted"] = True
                yield record
            self.advance_watermark(context, upper)


def _query_value(url: str, key: str) -> str | None:
    values = parse_qs(urlparse(url).query).get(key)
    return values[0] if values else None
