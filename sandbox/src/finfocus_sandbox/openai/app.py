"""The fake OpenAI admin API: a WSGI app over an OpenAIDataset, and FakeOpenAI to serve it.

Read-only (GET) endpoints, as OpenAI documents them:

- /v1/organization/costs and /v1/organization/usage/{kind}: `start_time` (required, unix
  seconds, inclusive), `end_time` (exclusive, default now), `bucket_width` (costs `1d`;
  usage `1m`, `1h`, `1d`), `group_by`, filters (`project_ids`, `api_key_ids`, ... per
  endpoint), `limit` buckets per page (costs 1..180, default 7; usage 1d 1..31 default 7,
  1h 1..168 default 24, 1m 1..1440 default 60) and `page` cursors (`next_page`). Every
  bucket of the range is returned, empty or not, in the envelope
  {"object": "page", "data": [{"object": "bucket", ...}], "has_more", "next_page"}.
- /v1/organization/projects (`limit` 1..100 default 20, `after`, `include_archived`),
  /v1/organization/projects/{id}, /v1/organization/projects/{id}/api_keys (`limit`,
  `after`) and /v1/organization/projects/{id}/api_keys/{key_id}.

Array parameters are accepted repeated (`group_by=a&group_by=b`) or with brackets
(`group_by[]=a`), as OpenAI's SDKs send them. Errors use OpenAI's body
{"error": {"message", "type", "param", "code"}}: 401 for a missing or unknown key, 403
for a valid key without the admin scope the endpoint needs, 400 for bad parameters, 404
for unknown paths and ids.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import struct
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from finfocus_sandbox.faults import FaultInjector, FaultProfile, FaultSet, Reply, json_reply
from finfocus_sandbox.openai.dataset import COST_GROUPS, DAY, USAGE_KINDS, OpenAIDataset
from finfocus_sandbox.server import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from finfocus_sandbox.faults import Fault

Obj = dict[str, Any]

KEYS_URL = "https://platform.openai.com/account/api-keys"
MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password "
    "field (with blank username) if you're accessing the API from your browser and are "
    f"prompted for a username and password. You can obtain an API key from {KEYS_URL}."
)
MISSING_SCOPE = (
    "You have insufficient permissions for this operation. Missing scopes: {scope}. Check "
    "that you have the correct role in your organization (Reader, Writer, Owner) and "
    "project (Member, Owner), and if you're using a restricted API key, that it has the "
    "necessary scopes."
)
USAGE_SCOPE = "api.usage.read"
MANAGEMENT_SCOPE = "api.management.read"
WIDTHS = {"1m": 60, "1h": 3_600, "1d": DAY}
#: bucket width -> (default limit, max limit) for usage endpoints
USAGE_LIMITS = {"1m": (60, 1_440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)
LIST_LIMITS = (20, 100)
#: filter parameter -> the grouping field it filters on
FILTERS = {
    "project_ids": "project_id",
    "user_ids": "user_id",
    "api_key_ids": "api_key_id",
    "models": "model",
    "sources": "source",
    "sizes": "size",
    "context_levels": "context_level",
    "vector_store_ids": "vector_store_id",
}
USAGE_FILTERS = {
    "completions": ("project_ids", "user_ids", "api_key_ids", "models", "batch"),
    "embeddings": ("project_ids", "user_ids", "api_key_ids", "models"),
    "moderations": ("project_ids", "user_ids", "api_key_ids", "models"),
    "images": ("project_ids", "user_ids", "api_key_ids", "models", "sources", "sizes"),
    "audio_speeches": ("project_ids", "user_ids", "api_key_ids", "models"),
    "audio_transcriptions": ("project_ids", "user_ids", "api_key_ids", "models"),
    "vector_stores": ("project_ids",),
    "code_interpreter_sessions": ("project_ids",),
    "file_search_calls": ("project_ids", "user_ids", "api_key_ids", "vector_store_ids"),
    "web_search_calls": ("project_ids", "user_ids", "api_key_ids", "models", "context_levels"),
}
#: filters whose values OpenAI enumerates
FILTER_VALUES = {
    "sources": ("image.generation", "image.edit", "image.variation"),
    "sizes": ("256x256", "512x512", "1024x1024", "1792x1792", "1024x1792"),
    "context_levels": ("low", "medium", "high"),
}
BUCKET_PARAMS = frozenset({"start_time", "end_time", "bucket_width", "group_by", "limit", "page"})
_DEC = re.compile(r'"\\u0000dec:([-+0-9.Ee]+)"')


class OpenAIError(Exception):
    """An error answered with OpenAI's body: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: Obj = {"message": message, "type": type_, "param": param, "code": code}


def mask_key(key: str) -> str:
    """Mask a key as OpenAI does in errors: a short prefix, stars, the last four."""
    if len(key) <= 12:
        return "*" * len(key)
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def invalid(param: str, message: str, code: str | None = "invalid_value") -> OpenAIError:
    return OpenAIError(400, message, param=param, code=code)


def dumps(payload: Any) -> bytes:
    """JSON with every Decimal written as the number its text spells (never via float)."""
    text = json.dumps(payload, default=_mark_decimal, separators=(",", ":"))
    return _DEC.sub(r"\1", text).encode()


def _mark_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"\x00dec:{value}"
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# ------------------------------------------------------------------------ parameters
class Query:
    """A query string as OpenAI reads it: scalars, and arrays repeated or with `[]`."""

    def __init__(self, text: str) -> None:
        self.values: dict[str, list[str]] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            self.values.setdefault(key.removesuffix("[]"), []).append(value)

    def check(self, allowed: Iterable[str]) -> None:
        for name in self.values:
            if name not in allowed:
                raise OpenAIError(400, f"Unrecognized request argument supplied: {name}")

    def scalar(self, name: str) -> str | None:
        values = self.values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise invalid(name, f"Invalid '{name}': expected a single value.")
        return values[0]

    def integer(self, name: str, default: int | None = None) -> int | None:
        raw = self.scalar(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid(
                name,
                f"Invalid '{name}': expected an integer, but got '{raw}' instead.",
                code="invalid_type",
            ) from None

    def array(self, name: str, allowed: Iterable[str] | None = None) -> list[str]:
        values = [v for v in self.values.get(name, []) if v != ""]
        if allowed is not None:
            choices = list(allowed)
            for value in values:
                if value not in choices:
                    supported = ", ".join(f"'{c}'" for c in choices)
                    raise invalid(
                        name, f"Invalid value: '{value}'. Supported values are: {supported}."
                    )
        return values

    def boolean(self, name: str) -> bool | None:
        raw = self.scalar(name)
        if raw is None:
            return None
        if raw.lower() not in ("true", "false"):
            raise invalid(name, f"Invalid '{name}': expected a boolean, but got '{raw}' instead.")
        return raw.lower() == "true"


def _limit(query: Query, default: int, maximum: int) -> int:
    limit = query.integer("limit", default)
    assert limit is not None
    if limit < 1:
        raise invalid(
            "limit",
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
            f"{limit} instead.",
            code="integer_below_min_value",
        )
    if limit > maximum:
        raise invalid(
            "limit",
            f"Invalid 'limit': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {limit} instead.",
            code="integer_above_max_value",
        )
    return limit


def encode_page(next_start: int) -> str:
    return "page_" + base64.b64encode(struct.pack(">qI", next_start, 0x9E3779B9)).decode()


def decode_page(cursor: str) -> int:
    try:
        raw = base64.b64decode(cursor.removeprefix("page_"), validate=True)
        next_start, magic = struct.unpack(">qI", raw)
    except (binascii.Error, struct.error, ValueError):
        raise invalid("page", f"Invalid 'page': '{cursor}' is not a valid page cursor.") from None
    if magic != 0x9E3779B9 or not cursor.startswith("page_"):
        raise invalid("page", f"Invalid 'page': '{cursor}' is not a valid page cursor.")
    return int(next_start)


# ------------------------------------------------------------------------ the app
class OpenAIApp:
    """WSGI app answering like api.openai.com's admin endpoints for an OpenAIDataset."""

    def __init__(
        self,
        dataset: OpenAIDataset,
        admin_keys: Iterable[str] = ("sk-admin-finfocus",),
        api_keys: Iterable[str] = (),
    ) -> None:
        self.dataset = dataset
        self.admin_keys = frozenset(admin_keys)
        self.api_keys = frozenset(api_keys)  # valid keys without admin scopes
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def request_id(self) -> str:
        with self._rng_lock:
            return f"req_{self._rng.getrandbits(128):032x}"

    def meta_headers(self) -> list[tuple[str, str]]:
        """Headers OpenAI sends with every answer to an authenticated request."""
        return [
            ("openai-organization", self.dataset.organization["id"]),
            ("openai-processing-ms", "42"),
            ("openai-version", "2020-10-01"),
            ("x-request-id", self.request_id()),
        ]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = [("Content-Type", "application/json")]
        try:
            status, payload = self.handle(environ)
            headers += self.meta_headers()
        except OpenAIError as err:
            status, payload = err.status, {"error": err.error}
            if err.status != 401:
                headers += self.meta_headers()
            else:
                headers.append(("x-request-id", self.request_id()))
        body = dumps(payload)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASON.get(status, 'Error')}", headers)
        return [body]

    def handle(self, environ: WSGIEnvironment) -> tuple[int, Obj]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        parts = path.strip("/").split("/")
        if parts[:2] != ["v1", "organization"] or method != "GET" or len(parts) < 3:
            self.authenticate(environ, None)
            raise OpenAIError(404, f"Invalid URL ({method} {path})")
        route = parts[2:]
        scope = USAGE_SCOPE if route[0] in ("costs", "usage") else MANAGEMENT_SCOPE
        self.authenticate(environ, scope)
        query = Query(environ.get("QUERY_STRING", ""))
        with self.dataset.lock:
            return 200, self.route(route, query, method, path)

    def authenticate(self, environ: WSGIEnvironment, scope: str | None) -> None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not key:
            raise OpenAIError(401, MISSING_KEY)
        if key not in self.admin_keys and key not in self.api_keys:
            raise OpenAIError(
                401,
                f"Incorrect API key provided: {mask_key(key)}. You can find your API key at "
                f"{KEYS_URL}.",
                code="invalid_api_key",
            )
        if scope is not None and key not in self.admin_keys:
            raise OpenAIError(403, MISSING_SCOPE.format(scope=scope))

    def route(self, route: list[str], query: Query, method: str, path: str) -> Obj:
        if route == ["costs"]:
            return self.costs(query)
        if len(route) == 2 and route[0] == "usage" and route[1] in USAGE_KINDS:
            return self.usage(route[1], query)
        if route == ["projects"]:
            return self.list_projects(query)
        if len(route) >= 2 and route[0] == "projects":
            project = self.dataset.project(route[1])
            if project is None:
                raise OpenAIError(
                    404, f"No such project: '{route[1]}'", param="project_id", code="not_found"
                )
            if len(route) == 2:
                query.check(())
                return project
            if route[2:] == ["api_keys"]:
                return self.list_api_keys(project, query)
            if len(route) == 4 and route[2] == "api_keys":
                query.check(())
                for key in self.dataset.api_keys[project["id"]]:
                    if key["id"] == route[3]:
                        return key
                raise OpenAIError(
                    404, f"No such API key: '{route[3]}'", param="api_key_id", code="not_found"
                )
        raise OpenAIError(404, f"Invalid URL ({method} {path})")

    # -------------------------------------------------------------------- buckets
    def costs(self, query: Query) -> Obj:
        query.check(BUCKET_PARAMS | {"project_ids", "api_key_ids"})
        width = self._width(query, ("1d",))
        group_by = query.array("group_by", COST_GROUPS)
        start, end, limit = self._range(query, width, *COSTS_LIMITS)
        project_ids = query.array("project_ids") or None
        api_key_ids = query.array("api_key_ids") or None
        page_end = min(end, start + limit * width)
        buckets = self.dataset.costs(start, page_end, group_by, project_ids, api_key_ids)
        return self._page(buckets, width, page_end, end)

    def usage(self, kind: str, query: Query) -> Obj:
        _, groups, _ = USAGE_KINDS[kind]
        query.check(BUCKET_PARAMS | set(USAGE_FILTERS[kind]))
        width = self._width(query, tuple(WIDTHS))
        default, maximum = USAGE_LIMITS[query.scalar("bucket_width") or "1d"]
        group_by = query.array("group_by", groups)
        start, end, limit = self._range(query, width, default, maximum)
        filters: dict[str, set[Any]] = {}
        for name in USAGE_FILTERS[kind]:
            if name == "batch":
                batch = query.boolean("batch")
                if batch is not None:
                    filters["batch"] = {batch}
            elif values := query.array(name, FILTER_VALUES.get(name)):
                filters[FILTERS[name]] = set(values)
        page_end = min(end, start + limit * width)
        buckets = self.dataset.usage(kind, start, page_end, width, group_by, filters)
        return self._page(buckets, width, page_end, end)

    @staticmethod
    def _width(query: Query, allowed: tuple[str, ...]) -> int:
        raw = query.scalar("bucket_width") or "1d"
        if raw not in allowed:
            supported = ", ".join(f"'{w}'" for w in allowed)
            raise invalid(
                "bucket_width", f"Invalid value: '{raw}'. Supported values are: {supported}."
            )
        return WIDTHS[raw]

    def _range(self, query: Query, width: int, default: int, maximum: int) -> tuple[int, int, int]:
        """(first bucket start of this page, end of the whole range, buckets per page)."""
        start = query.integer("start_time")
        if start is None:
            raise invalid(
                "start_time",
                "Missing required parameter: 'start_time'.",
                code="missing_required_parameter",
            )
        end = query.integer("end_time", self.dataset.now)  # the dataset clock
        assert end is not None
        if end <= start:
            raise invalid("end_time", "Invalid 'end_time': it must be later than 'start_time'.")
        limit = _limit(query, default, maximum)
        first = start - start % width
        cursor = query.scalar("page")
        if cursor:
            first = decode_page(cursor)
            if first < start - start % width or first >= end or first % width:
                raise invalid("page", f"Invalid 'page': '{cursor}' does not belong to this query.")
        return first, end, limit

    @staticmethod
    def _page(buckets: dict[int, list[Obj]], width: int, page_end: int, end: int) -> Obj:
        last = max(buckets) if buckets else page_end - width
        has_more = last + width < end
        return {
            "object": "page",
            "data": [
                {
                    "object": "bucket",
                    "start_time": start,
                    "end_time": start + width,
                    "results": results,
                }
                for start, results in sorted(buckets.items())
            ],
            "has_more": has_more,
            "next_page": encode_page(last + width) if has_more else None,
        }

    # -------------------------------------------------------------------- lists
    def list_projects(self, query: Query) -> Obj:
        query.check({"limit", "after", "include_archived"})
        limit = _limit(query, *LIST_LIMITS)
        archived = query.boolean("include_archived") or False
        projects = [p for p in self.dataset.projects if archived or p["archived_at"] is None]
        return _list_page(projects, limit, query.scalar("after"), "project")

    def list_api_keys(self, project: Obj, query: Query) -> Obj:
        query.check({"limit", "after"})
        limit = _limit(query, *LIST_LIMITS)
        keys = self.dataset.api_keys[project["id"]]
        return _list_page(keys, limit, query.scalar("after"), "API key")


def _list_page(items: list[Obj], limit: int, after: str | None, noun: str) -> Obj:
    """OpenAI's list envelope, cursor `after` = the id of the last object already seen."""
    begin = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise invalid("after", f"Invalid 'after': no {noun} with id '{after}'.")
        begin = ids.index(after) + 1
    page = items[begin : begin + limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": begin + limit < len(items),
    }


_REASON = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_SERVER_ERRORS = {
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The server is overloaded or not ready yet.",
    504: "Gateway timeout.",
}


# ------------------------------------------------------------------------ faults
class OpenAIFaultProfile(FaultProfile):
    """OpenAI's own shapes for injected rate limits, server errors and empty pages."""

    def __init__(self, app: OpenAIApp) -> None:
        self.app = app

    def common_headers(self, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        return self.app.meta_headers()

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        wait = fault.retry_after if fault.retry_after is not None else 1
        seconds = f"{wait:g}s"
        organization = self.app.dataset.organization["id"]
        err = OpenAIError(
            429,
            f"Rate limit reached for requests in organization {organization} on requests per "
            f"min (RPM): Limit 60, Used 60, Requested 1. Please try again in {seconds}. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            type_="requests",
            code="rate_limit_exceeded",
        )
        headers = [
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", seconds),
        ]
        return json_reply(429, {"error": err.error}, headers)

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        err = OpenAIError(status, _SERVER_ERRORS[status], type_="server_error")
        return json_reply(status, {"error": err.error})

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        if "/organization/projects" in environ.get("PATH_INFO", ""):
            page: Obj = {
                "object": "list",
                "data": [],
                "first_id": None,
                "last_id": None,
                "has_more": True,
            }
        else:
            page = {"object": "page", "data": [], "has_more": True, "next_page": None}
        return json_reply(200, page)


class FakeOpenAI(BackgroundServer):
    """The fake OpenAI admin API on 127.0.0.1, with fault injection and a request log.

    fake = FakeOpenAI(ds, admin_keys={"sk-admin-finfocus"}, api_keys={"sk-proj-..."})
    url = fake.start(); ...; fake.stop()      # or: with fake: ...
    """

    def __init__(
        self,
        dataset: OpenAIDataset,
        admin_keys: Iterable[str] = ("sk-admin-finfocus",),
        api_keys: Iterable[str] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_requests: Any = None,
    ) -> None:
        self.dataset = dataset
        self.app = OpenAIApp(dataset, admin_keys, api_keys)
        self.faults = FaultSet()
        injector = FaultInjector(self.app, self.faults, OpenAIFaultProfile(self.app))
        super().__init__(injector, host=host, port=port, echo_requests=echo_requests)

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self


__all__ = [
    "FakeOpenAI",
    "OpenAIApp",
    "OpenAIError",
    "OpenAIFaultProfile",
    "mask_key",
]
