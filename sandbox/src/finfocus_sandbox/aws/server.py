"""moto's AWS server behind the sandbox's fault injector, for retry and failure tests.

    with FaultyAWS() as aws:
        aws.faults.add(Fault(kind="rate_limit", path=r"-Manifest\\.json$", times=2))
        client = boto3.client("s3", endpoint_url=aws.url, ...)

The same moto app `ThreadedMotoServer` runs (server mode, in-memory backends shared with
any other moto server of the process), wrapped in FaultInjector with S3's own error
answers: rate limits are 503 SlowDown, server errors InternalError, as XML.
"""

from __future__ import annotations

import typing as t

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from finfocus_sandbox.faults import Fault, FaultInjector, FaultProfile, FaultSet, Reply
from finfocus_sandbox.server import BackgroundServer

if t.TYPE_CHECKING:
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
