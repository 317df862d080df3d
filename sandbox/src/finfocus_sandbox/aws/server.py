"""moto's AWS server behind the sandbox's fault injector, for retry and failure tests.

    with FaultyAWS() as aws:
        aws.faults.add(Fault(kind="rate_limit", path=r"-Manifest\\.json$", times=2))
        client = boto3.client("s3", endpoint_url=aws.url, ...)

The same moto app `ThreadedMotoServer` runs (server mode, in-memory backends shared with
any other moto server of the process), wrapped in FaultInjector with S3's own error
answers: rate limits are 503 SlowDown, server errors InternalError, as XML.

`moto_s3()` is plain moto in server mode, as tests and benchmarks use it:

    with moto_s3() as url:
        client = boto3.client("s3", endpoint_url=url, ...)
"""

from __future__ import annotations

import contextlib
import logging
import typing as t

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer

from finfocus_sandbox.faults import Fault, FaultInjector, FaultProfile, FaultSet, Reply
from finfocus_sandbox.server import BackgroundServer

if t.TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

    from _typeshed.wsgi import WSGIEnvironment


def _s3_error(status: int, code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>FINFOCUSFAULT0001</RequestId></Error>"
    ).encode()
    return Reply(status, [("Content-Type", "application/xml")], body)


class S3FaultProfile(FaultProfile):
    """S3's answers: throttling is 503 SlowDown; server errors carry InternalError."""

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        return _s3_error(503, "SlowDown", "Please reduce your request rate.")

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        code = "ServiceUnavailable" if status == 503 else "InternalError"
        return _s3_error(status, code, "We encountered an internal error. Please try again.")


class FaultyAWS:
    """moto (server mode) on 127.0.0.1 behind a FaultInjector; `url` once started."""

    def __init__(self, faults: FaultSet | None = None) -> None:
        self.faults = faults if faults is not None else FaultSet()
        app = DomainDispatcherApplication(create_backend_app)
        self.server = BackgroundServer(FaultInjector(app, self.faults, S3FaultProfile()))

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        return self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FaultyAWS:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto in server mode on a free loopback port, its request log quiet; the endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
