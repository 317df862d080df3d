"""Provider-agnostic fault injection for the sandbox fakes (WSGI middleware).

A `Fault` says what goes wrong (`kind`), for which requests (`path` regex searched in the
request path, optional `method`), after how many matching requests (`skip`) and for how
many (`times`, default 1; `None` means every later matching request). Faults are checked
in the order they were added; the first one that fires answers the request.

Kinds (see README.md for the full table):

    rate_limit           429 with the provider's body and headers; Retry-After only if set
    server_error         500 (or `status` 502/503/504) with the provider's error body
    slow                 sleep `delay` seconds, then answer normally (trips client timeouts)
    reset                close the TCP connection without any response
    truncated_json       200 with the real body cut in half
    wrong_content_type   text/html page like a proxy error (`status` 502 default, or 200)
    repeat_page          the body of the previous successful response to the same path
    empty_page_has_more  a valid, empty list page that claims has_more (provider's envelope)

The provider-specific parts (error bodies, rate-limit headers, the list envelope) come
from a `FaultProfile`; each fake subclasses it. Faults can be managed in-process
(`FaultSet.add/clear/injected`) or over HTTP at `/__sandbox/faults` (POST a JSON list
or object to add, DELETE to clear, GET to read faults and counts).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

KINDS = (
    "rate_limit",
    "server_error",
    "slow",
    "reset",
    "truncated_json",
    "wrong_content_type",
    "repeat_page",
    "empty_page_has_more",
)

CONTROL_PATH = "/__sandbox/faults"
PROVIDER_ANSWERS = ("rate_limit", "server_error", "empty_page_has_more")
REMEMBERED_PATHS = 256  # repeat_page remembers the last successful body of this many paths

Headers = list[tuple[str, str]]


@dataclass(frozen=True)
class Reply:
    """A complete HTTP answer produced without calling the wrapped app."""

    status: int
    headers: Headers
    body: bytes


@dataclass
class Fault:
    """One fault rule. Options that do not apply to a kind are ignored."""

    kind: str
    path: str = ""
    method: str | None = None
    skip: int = 0
    times: int | None = 1
    retry_after: float | None = None  # rate_limit: send Retry-After (seconds)
    status: int | None = None  # server_error: 500/502/503/504; wrong_content_type: 200/502
    delay: float = 0.0  # slow: seconds to wait before answering
    should_retry: bool | None = None  # rate_limit/server_error: provider retry hint, if any
    matched: int = field(default=0, init=False, compare=False)
    injected: int = field(default=0, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        self._pattern = re.compile(self.path)
        if self.method is not None:
            self.method = self.method.upper()
        if self.skip < 0 or (self.times is not None and self.times < 0):
            raise ValueError("skip and times must be >= 0")
        if self.kind == "slow" and self.delay <= 0:
            raise ValueError("a 'slow' fault needs delay > 0 (seconds)")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.kind == "server_error" and self.status not in (None, 500, 502, 503, 504):
            raise ValueError("server_error status must be 500, 502, 503 or 504")
        if self.kind == "wrong_content_type" and self.status not in (None, 200, 502):
            raise ValueError("wrong_content_type status must be 200 or 502")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        allowed = {f.name for f in fields(cls) if f.init}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.injected >= self.times

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        return self._pattern.search(path) is not None


class FaultSet:
    """The active faults of one fake, safe to change while it serves requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._injected: dict[str, int] = {}

    def add(self, *faults: Fault | Mapping[str, Any]) -> list[Fault]:
        """Add faults (Fault objects or dicts of Fault fields); returns the Fault objects."""
        built = [f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults]
        with self._lock:
            self._faults.extend(built)
        return built

    def clear(self) -> None:
        """Remove every fault and reset the injected counts."""
        with self._lock:
            self._faults.clear()
            self._injected.clear()

    @property
    def injected(self) -> dict[str, int]:
        """How many requests got each kind of fault since the last clear()."""
        with self._lock:
            return dict(self._injected)

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def pick(
        self, method: str, path: str, eligible: Callable[[Fault], bool] = lambda f: True
    ) -> Fault | None:
        """The fault that answers this request, if any (updates the counters)."""
        with self._lock:
            for fault in self._faults:
                if fault.exhausted or not fault.matches(method, path) or not eligible(fault):
                    continue
                fault.matched += 1
                if fault.matched <= fault.skip:
                    continue
                fault.injected += 1
                self._injected[fault.kind] = self._injected.get(fault.kind, 0) + 1
                return fault
        return None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": [f.to_dict() for f in self._faults],
                "injected": dict(self._injected),
            }


class FaultProfile:
    """Provider-specific answers for the faults that carry a body.

    The defaults are neutral JSON; a fake overrides them with its provider's real shapes.
    """

    def common_headers(self, environ: WSGIEnvironment) -> Headers:
        """Headers every injected reply carries (e.g. a request id)."""
        return []

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        return json_reply(429, {"error": {"type": "rate_limit", "message": "Too many requests"}})

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        return json_reply(status, {"error": {"type": "server_error", "message": "Server error"}})

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        return json_reply(200, {"data": [], "has_more": True})


def json_reply(status: int, payload: Any, headers: Headers | None = None) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, [("Content-Type", "application/json"), *(headers or [])], body)


def _proxy_error_page(status: int) -> bytes:
    title = "502 Bad Gateway" if status == 502 else "Service temporarily unavailable"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _drop_connection(environ: WSGIEnvironment) -> None:
    """Abort the TCP connection under the request; the client sees it closed, no response."""
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            # Linger 0: closing sends RST instead of a graceful FIN where possible.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("sandbox fault: connection reset")


class FaultInjector:
    """WSGI middleware: answers matching requests with faults, the rest via the app."""

    def __init__(
        self,
        app: WSGIApplication,
        faults: FaultSet | None = None,
        profile: FaultProfile | None = None,
    ) -> None:
        self.app = app
        self.faults = faults if faults is not None else FaultSet()
        self.profile = profile if profile is not None else FaultProfile()
        self._last_ok: OrderedDict[str, tuple[Headers, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == CONTROL_PATH:
            return self._control(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        fault = self.faults.pick(method, path, self._eligible(path))
        if fault is None:
            return self._passthrough(environ, start_response, path)
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return self._passthrough(environ, start_response, path)
        if fault.kind == "reset":
            _drop_connection(environ)
        reply = self._reply_for(fault, environ, path)
        headers = list(reply.headers)
        if fault.kind in PROVIDER_ANSWERS:  # the others replay the app's headers or a proxy's
            headers += self.profile.common_headers(environ)
        headers.append(("Content-Length", str(len(reply.body))))
        start_response(_status_line(reply.status), headers)
        return [reply.body]

    def _eligible(self, path: str) -> Callable[[Fault], bool]:
        def eligible(fault: Fault) -> bool:
            if fault.kind != "repeat_page":
                return True
            with self._lock:
                return path in self._last_ok

        return eligible

    def _reply_for(self, fault: Fault, environ: WSGIEnvironment, path: str) -> Reply:
        kind = fault.kind
        if kind == "rate_limit":
            reply = self.profile.rate_limit(fault, environ)
            if fault.retry_after is not None:
                value = fault.retry_after
                text = str(int(value)) if float(value).is_integer() else str(value)
                reply = Reply(reply.status, [*reply.headers, ("Retry-After", text)], reply.body)
            return reply
        if kind == "server_error":
            return self.profile.server_error(fault, fault.status or 500, environ)
        if kind == "wrong_content_type":
            status = fault.status or 502
            return Reply(status, [("Content-Type", "text/html")], _proxy_error_page(status))
        if kind == "empty_page_has_more":
            return self.profile.empty_page(fault, environ)
        if kind == "repeat_page":
            with self._lock:
                headers, body = self._last_ok[path]
            return Reply(200, headers, body)
        if kind == "truncated_json":
            status, headers, body = self._call_app(environ)
            return Reply(200, headers, body[: len(body) // 2])
        raise AssertionError(f"unhandled fault kind {kind}")  # pragma: no cover

    def _call_app(self, environ: WSGIEnvironment) -> tuple[int, Headers, bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: Headers, exc_info: Any = None) -> Callable[..., Any]:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        return int(captured["status"].split(" ", 1)[0]), headers, body

    def _passthrough(
        self, environ: WSGIEnvironment, start_response: StartResponse, path: str
    ) -> Iterable[bytes]:
        status, headers, body = self._call_app(environ)
        if 200 <= status < 300:
            with self._lock:
                self._last_ok[path] = (headers, body)
                self._last_ok.move_to_end(path)
                if len(self._last_ok) > REMEMBERED_PATHS:
                    self._last_ok.popitem(last=False)
        start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _control(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if method == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                payload = json.loads(environ["wsgi.input"].read(length) or b"[]")
                items = payload if isinstance(payload, list) else [payload]
                if not all(isinstance(item, dict) for item in items):
                    raise ValueError("expected a JSON object or a list of objects")
                self.faults.add(*items)
            elif method == "DELETE":
                self.faults.clear()
            elif method != "GET":
                reply = json_reply(405, {"error": f"method {method} not allowed"})
                return self._send(reply, start_response)
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            return self._send(json_reply(400, {"error": str(exc)}), start_response)
        return self._send(json_reply(200, self.faults.snapshot()), start_response)

    @staticmethod
    def _send(reply: Reply, start_response: StartResponse) -> Iterable[bytes]:
        headers = [*reply.headers, ("Content-Length", str(len(reply.body)))]
        start_response(_status_line(reply.status), headers)
        return [reply.body]
