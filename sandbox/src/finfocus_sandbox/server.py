"""Run any WSGI app on 127.0.0.1 in a background thread and keep a log of its requests.

Nothing here knows about a provider: a fake passes its WSGI app (usually wrapped in the
fault layer) and, optionally, the name of the header that selects an account.

The request log never holds credentials: only method, path, query parameters, the
account header's value and the response status are kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Requests to these paths (the sandbox's own control endpoints) are not logged.
CONTROL_PREFIX = "/__sandbox"

#: Status recorded when the server closed the connection without answering.
NO_RESPONSE = 0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. Never carries an Authorization header or a key."""

    method: str
    path: str
    params: dict[str, list[str]]
    account: str | None
    status: int


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without its per-request access log (we keep our own)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":  # keep real server errors visible
            super().log(type, message, *args)


class RequestLog:
    """WSGI middleware that appends a RecordedRequest for every finished request."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        account_header: str | None = None,
        echo: TextIO | None = None,
    ) -> None:
        self.app = app
        self._account_key = (
            "HTTP_" + account_header.upper().replace("-", "_") if account_header else None
        )
        self._echo = echo
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.app(environ, start_response)
        status = NO_RESPONSE

        def recording_start_response(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal status
            status = int(status_line.split(" ", 1)[0])
            return start_response(status_line, headers, exc_info)

        try:
            body = list(self.app(environ, recording_start_response))
        finally:
            self._record(environ, path, status)
        return body

    def _record(self, environ: WSGIEnvironment, path: str, status: int) -> None:
        account = environ.get(self._account_key) if self._account_key else None
        entry = RecordedRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=path,
            params=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            account=account or None,
            status=status,
        )
        with self._lock:
            self._requests.append(entry)
        if self._echo is not None:
            query = environ.get("QUERY_STRING", "")
            where = f" [{entry.account}]" if entry.account else ""
            line = f"{entry.status or '---'} {entry.method} {path}{'?' + query if query else ''}"
            print(line + where, file=self._echo, flush=True)


class BackgroundServer:
    """Serve a WSGI app on 127.0.0.1 from a daemon thread.

    `port=0` picks a free port. `start()` returns the base URL; `stop()` shuts the server
    down. Also usable as a context manager. Every request is recorded in `requests`.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        account_header: str | None = None,
        echo_requests: TextIO | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._log = RequestLog(app, account_header=account_header, echo=echo_requests)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("server is not running; call start() first")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._log.requests

    def clear_requests(self) -> None:
        self._log.clear()

    def start(self) -> str:
        if self._server is not None:
            return self.url
        server = make_server(
            self.host, self.port, self._log, threaded=True, request_handler=_QuietHandler
        )
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def serve_until_stopped(self) -> None:
        """Block the calling thread while the background server runs (for the CLI)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
