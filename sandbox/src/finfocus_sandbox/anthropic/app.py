"""The fake Anthropic Admin API: a WSGI app over an AnthropicDataset, and FakeAnthropic.

Read-only (GET) endpoints, answered the way Anthropic documents them:

- `/v1/organizations/me`: the organization the Admin API key belongs to;
- `/v1/organizations/workspaces` and `/v1/organizations/api_keys` (and `/{id}`): lists
  with `limit` (1..1000, default 20), `after_id` / `before_id` cursors and
  `{data, has_more, first_id, last_id}`;
- `/v1/organizations/cost_report` and `/v1/organizations/usage_report/messages`: time
  buckets `{data: [{starting_at, ending_at, results}], has_more, next_page}` for
  `starting_at` (required) .. `ending_at` (default: now), snapped to whole buckets in UTC;
  `bucket_width`, `limit` (buckets per page, per width), `group_by[]`, the usage report's
  filters, and `page` (the opaque `next_page` token of the previous page).

Every request needs `x-api-key` with an Admin API key and an `anthropic-version` header.
Errors are `{"type": "error", "error": {"type", "message"}, "request_id"}` with
`invalid_request_error` (400), `authentication_error` (401, also for a standard API key:
the Admin API does not know it), `not_found_error` (404) and, through the fault layer,
`rate_limit_error` (429, with `anthropic-ratelimit-requests-*` headers) and `api_error`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from finfocus_sandbox.anthropic.dataset import DAY, HOUR, MINUTE, AnthropicDataset, rfc3339
from finfocus_sandbox.faults import FaultInjector, FaultProfile, FaultSet, Reply, json_reply
from finfocus_sandbox.server import BackgroundServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from finfocus_sandbox.faults import Fault

Obj = dict[str, Any]

API_VERSIONS = frozenset({"2023-06-01", "2023-01-01"})
DEFAULT_ADMIN_KEY = "sk-ant-admin01-finfocus-sandbox"
RATE_LIMITED = (
    "Number of requests has exceeded your per-minute rate limit for the Admin API. "
    "Please try again later or contact sales to discuss your options for a rate limit increase."
)
RATE_LIMIT_REQUESTS = 60  # what anthropic-ratelimit-requests-limit says
ORG = "/v1/organizations"


class AnthropicError(Exception):
    """An error answered with Anthropic's body: {"type": "error", "error": {...}}."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers or []


def invalid(message: str) -> AnthropicError:
    return AnthropicError(400, "invalid_request_error", message)


def not_found(message: str = "Not Found") -> AnthropicError:
    return AnthropicError(404, "not_found_error", message)


def error_body(type_: str, message: str, request_id: str) -> Obj:
    return {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}


# ------------------------------------------------------------------------ query strings
@dataclass
class Query:
    """A query string as the Admin API reads it: scalars, and `name[]` arrays."""

    scalars: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Query:
        query = cls()
        for name, value in parse_qsl(text, keep_blank_values=True):
            if name.endswith("[]"):
                query.arrays.setdefault(name[:-2], []).append(value)
            else:
                query.scalars[name] = value
        return query

    def check(self, scalars: Iterable[str], arrays: Iterable[str] = ()) -> None:
        """Refuse parameters the endpoint does not take (the fake is strict on purpose)."""
        known_scalars, known_arrays = set(scalars), set(arrays)
        for name in self.scalars:
            if name not in known_scalars:
                hint = f" (use {name}[])" if name in known_arrays else ""
                raise invalid(f"{name}: unexpected query parameter{hint}")
        for name in self.arrays:
            if name not in known_arrays:
                raise invalid(f"{name}[]: unexpected query parameter")

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.scalars.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(f"{name}: Input should be a valid integer") from None
        if not low <= value <= high:
            raise invalid(f"{name}: Input should be between {low} and {high} (inclusive)")
        return value

    def boolean(self, name: str) -> bool:
        raw = self.scalars.get(name, "false").lower()
        if raw not in ("true", "false"):
            raise invalid(f"{name}: Input should be a valid boolean")
        return raw == "true"

    def moment(self, name: str) -> int | None:
        raw = self.scalars.get(name)
        if raw is None:
            return None
        try:
            value = dt.datetime.fromisoformat(raw)
        except ValueError:
            value = None
        if value is None or value.tzinfo is None or "T" not in raw:
            raise invalid(f"{name}: Input should be a valid RFC 3339 datetime, got {raw!r}")
        return int(value.timestamp())


# ------------------------------------------------------------------------ bucket reports
@dataclass(frozen=True)
class Report:
    """A time-bucket report: widths (seconds, default limit, max limit), group_by, filters."""

    widths: dict[str, tuple[int, int, int]]
    group_by: tuple[str, ...]
    #: query array name -> usage attribute it restricts
    filters: dict[str, str] = field(default_factory=dict)


COST_REPORT = Report({"1d": (DAY, 7, 31)}, ("workspace_id", "description"))
USAGE_REPORT = Report(
    {"1d": (DAY, 7, 31), "1h": (HOUR, 24, 168), "1m": (MINUTE, 60, 1440)},
    (
        "api_key_id",
        "workspace_id",
        "model",
        "service_tier",
        "context_window",
        "inference_geo",
        "account_id",
        "service_account_id",
    ),
    {
        "api_key_ids": "api_key_id",
        "workspace_ids": "workspace_id",
        "models": "model",
        "service_tiers": "service_tier",
        "context_window": "context_window",
        "inference_geos": "inference_geo",
        "account_ids": "account_id",
        "service_account_ids": "service_account_id",
    },
)
Results = Callable[[int, int, set[str], dict[str, set[str]]], list[Obj]]


def page_token(moment: int) -> str:
    """The opaque `next_page` token (Anthropic's look: page_<base64 of a timestamp>)."""
    return "page_" + base64.b64encode(rfc3339(moment).encode()).decode()


def _page_start(token: str, lower: int, upper: int, width: int) -> int:
    try:
        if not token.startswith("page_"):
            raise ValueError(token)
        text = base64.b64decode(token[5:], validate=True).decode()
        moment = int(dt.datetime.fromisoformat(text).timestamp())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("page: Invalid page token") from None
    if moment % width or not lower <= moment < upper:
        raise invalid("page: Invalid page token")
    return moment


# ------------------------------------------------------------------------ the app
class AnthropicApp:
    """WSGI app answering the Admin API's read endpoints from an AnthropicDataset."""

    def __init__(
        self,
        dataset: AnthropicDataset,
        admin_keys: Iterable[str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dataset = dataset
        self.admin_keys = frozenset(admin_keys)
        self.clock = clock
        self._counter = itertools.count(1)
        self._counter_lock = threading.Lock()

    def request_id(self) -> str:
        with self._counter_lock:
            n = next(self._counter)
        return f"req_011CSandbox{n:012d}"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        request_id = self.request_id()
        headers: list[tuple[str, str]] = []
        try:
            status, payload = 200, self.handle(environ)
        except AnthropicError as err:
            status, headers = err.status, list(err.headers)
            payload = error_body(err.type, err.message, request_id)
            if status != 429:
                headers.append(("x-should-retry", "false"))
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {_REASON.get(status, 'Error')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("request-id", request_id),
                *headers,
            ],
        )
        return [body]

    def handle(self, environ: WSGIEnvironment) -> Obj:
        self.authenticate(environ)
        version = environ.get("HTTP_ANTHROPIC_VERSION")
        if not version:
            raise invalid("anthropic-version: header is required")
        if version not in API_VERSIONS:
            raise invalid(f"anthropic-version: {version!r} is not a valid version")
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        query = Query.parse(environ.get("QUERY_STRING", ""))
        if method != "GET":
            raise AnthropicError(
                405, "invalid_request_error", f"{method} is not supported by the sandbox"
            )
        with self.dataset.lock:
            return self.route(path.rstrip("/"), query)

    def authenticate(self, environ: WSGIEnvironment) -> None:
        key = environ.get("HTTP_X_API_KEY", "")
        if not key:
            raise AnthropicError(401, "authentication_error", "x-api-key header is required")
        if key not in self.admin_keys:
            # A standard key (sk-ant-api...) gets the same answer: the Admin API only knows
            # Admin API keys.
            raise AnthropicError(401, "authentication_error", "invalid x-api-key")

    def route(self, path: str, query: Query) -> Obj:
        ds = self.dataset
        if path == f"{ORG}/me":
            query.check(())
            return ds.organization
        if path == f"{ORG}/cost_report":
            return self.report(COST_REPORT, query, self._cost_results)
        if path == f"{ORG}/usage_report/messages":
            return self.report(USAGE_REPORT, query, ds.usage_results)
        if path == f"{ORG}/workspaces":
            query.check(("limit", "after_id", "before_id", "include_archived"))
            archived = query.boolean("include_archived")
            items = [w for w in ds.workspaces if archived or w["archived_at"] is None]
            return self.listing(_newest_first(items), query)
        if path == f"{ORG}/api_keys":
            return self.api_keys(query)
        for collection, items in (("workspaces", ds.workspaces), ("api_keys", ds.api_keys)):
            prefix = f"{ORG}/{collection}/"
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                query.check(())
                found = next((i for i in items if i["id"] == path[len(prefix) :]), None)
                if found is None:
                    raise not_found(f"{collection[:-1]} not found: {path[len(prefix) :]!r}")
                return found
        raise not_found()

    # -------------------------------------------------------------------- lists
    def api_keys(self, query: Query) -> Obj:
        query.check(
            ("limit", "after_id", "before_id", "status", "workspace_id", "created_by_user_id")
        )
        status = query.scalars.get("status")
        if status is not None and status not in ("active", "inactive", "archived", "expired"):
            raise invalid("status: Input should be 'active', 'inactive', 'archived' or 'expired'")
        items = [
            key
            for key in self.dataset.api_keys
            if (status is None or key["status"] == status)
            and (
                "workspace_id" not in query.scalars
                or key["workspace_id"] == query.scalars["workspace_id"]
            )
            and (
                "created_by_user_id" not in query.scalars
                or key["created_by"]["id"] == query.scalars["created_by_user_id"]
            )
        ]
        return self.listing(_newest_first(items), query)

    @staticmethod
    def listing(items: list[Obj], query: Query) -> Obj:
        limit = query.integer("limit", 20, 1, 1000)
        after, before = query.scalars.get("after_id"), query.scalars.get("before_id")
        if after is not None and before is not None:
            raise invalid("after_id, before_id: specify at most one of these parameters")
        positions = {item["id"]: i for i, item in enumerate(items)}
        for name, cursor in (("after_id", after), ("before_id", before)):
            if cursor is not None and cursor not in positions:
                raise invalid(f"{name}: no object with id {cursor!r} in this list")
        if before is not None:
            upper = positions[before]
            lower = max(0, upper - limit)
            page, has_more = items[lower:upper], lower > 0
        else:
            lower = positions[after] + 1 if after is not None else 0
            page, has_more = items[lower : lower + limit], lower + limit < len(items)
        return {
            "data": page,
            "has_more": has_more,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
        }

    # -------------------------------------------------------------------- reports
    def _cost_results(
        self, start: int, width: int, group_by: set[str], filters: dict[str, set[str]]
    ) -> list[Obj]:
        return self.dataset.cost_results(start, group_by)

    def report(self, report: Report, query: Query, results: Results) -> Obj:
        query.check(
            ("starting_at", "ending_at", "bucket_width", "limit", "page"),
            ("group_by", *report.filters),
        )
        width_name = query.scalars.get("bucket_width", "1d")
        if width_name not in report.widths:
            options = " or ".join(repr(w) for w in report.widths)
            raise invalid(f"bucket_width: Input should be {options}")
        width, default_limit, max_limit = report.widths[width_name]
        starting_at = query.moment("starting_at")
        if starting_at is None:
            raise invalid("starting_at: Field required")
        now = int(self.clock())
        ending_at = query.moment("ending_at")
        lower = starting_at - starting_at % width
        # Only whole buckets that have ended: ending_at and now both snap down.
        upper = min(ending_at if ending_at is not None else now, now)
        upper -= upper % width
        if upper <= lower:
            raise invalid("Invalid date range: ending date must be after starting date")
        limit = query.integer("limit", default_limit, 1, max_limit)
        group_by = set(query.arrays.get("group_by", []))
        for name in group_by - set(report.group_by):
            options = ", ".join(repr(g) for g in report.group_by)
            raise invalid(f"group_by[]: Input should be one of {options}, got {name!r}")
        filters = {
            attribute: set(query.arrays[name])
            for name, attribute in report.filters.items()
            if name in query.arrays
        }
        token = query.scalars.get("page")
        cursor = _page_start(token, lower, upper, width) if token is not None else lower
        buckets: list[Obj] = []
        while cursor < upper and len(buckets) < limit:
            buckets.append(
                {
                    "starting_at": rfc3339(cursor),
                    "ending_at": rfc3339(cursor + width),
                    "results": results(cursor, width, group_by, filters),
                }
            )
            cursor += width
        has_more = cursor < upper
        return {
            "data": buckets,
            "has_more": has_more,
            "next_page": page_token(cursor) if has_more else None,
        }


def _newest_first(items: list[Obj]) -> list[Obj]:
    return sorted(items, key=lambda item: (item["created_at"], item["id"]), reverse=True)


_REASON = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


# ------------------------------------------------------------------------ faults
class AnthropicFaultProfile(FaultProfile):
    """Anthropic's own shapes for injected rate limits, server errors and empty pages."""

    def __init__(self, app: AnthropicApp) -> None:
        self.app = app
        self._current = threading.local()

    def _request_id(self) -> str:
        self._current.id = self.app.request_id()
        return str(self._current.id)

    def common_headers(self, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        # The id the body of this reply carries, so header and body agree.
        request_id = getattr(self._current, "id", None) or self.app.request_id()
        self._current.id = None
        return [("request-id", request_id)]

    @staticmethod
    def _retry_hint(fault: Fault) -> list[tuple[str, str]]:
        if fault.should_retry is None:
            return []
        return [("x-should-retry", "true" if fault.should_retry else "false")]

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        wait = fault.retry_after if fault.retry_after is not None else 60.0
        reset = rfc3339(int(self.app.clock() + wait + 0.999))
        headers = [
            ("anthropic-ratelimit-requests-limit", str(RATE_LIMIT_REQUESTS)),
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", reset),
            *self._retry_hint(fault),
        ]
        body = error_body("rate_limit_error", RATE_LIMITED, self._request_id())
        return json_reply(429, body, headers)

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        body = error_body("api_error", "Internal server error", self._request_id())
        return json_reply(status, body, self._retry_hint(fault))

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        path = environ.get("PATH_INFO", "")
        if path.endswith(("/cost_report", "/usage_report/messages")):
            token = page_token(int(self.app.clock()) // DAY * DAY)
            return json_reply(200, {"data": [], "has_more": True, "next_page": token})
        return json_reply(200, {"data": [], "has_more": True, "first_id": None, "last_id": None})


class FakeAnthropic(BackgroundServer):
    """The fake Anthropic Admin API on 127.0.0.1, with fault injection and a request log.

    fake = FakeAnthropic(ds, admin_keys={"sk-ant-admin01-..."})
    url = fake.start(); ...; fake.stop()      # or: with fake: ...
    """

    def __init__(
        self,
        dataset: AnthropicDataset,
        admin_keys: Iterable[str] = (DEFAULT_ADMIN_KEY,),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
        echo_requests: Any = None,
    ) -> None:
        self.dataset = dataset
        self.app = AnthropicApp(dataset, admin_keys, clock)
        self.faults = FaultSet()
        injector = FaultInjector(self.app, self.faults, AnthropicFaultProfile(self.app))
        super().__init__(injector, host=host, port=port, echo_requests=echo_requests)

    def __enter__(self) -> FakeAnthropic:
        self.start()
        return self


__all__ = [
    "DEFAULT_ADMIN_KEY",
    "AnthropicApp",
    "AnthropicError",
    "AnthropicFaultProfile",
    "FakeAnthropic",
    "page_token",
]
