"""The fake Azure: Entra ID's token endpoint and Cost Management's Cost Details API.

One WSGI app (served by FakeAzure) answers, as Microsoft documents them:

- POST /{tenant}/oauth2/v2.0/token (Entra ID, client credentials: `grant_type`,
  `client_id`, `client_secret`, `scope=https://management.azure.com/.default`) with
  {"token_type", "expires_in", "ext_expires_in", "access_token"}, or Entra's error body
  {"error", "error_description": "AADSTS...", "error_codes", "timestamp", "trace_id",
  "correlation_id", "error_uri"}: unknown tenant AADSTS90002 (400 invalid_request), unknown
  client AADSTS700016 (400 unauthorized_client), wrong secret AADSTS7000215 (401
  invalid_client), no secret AADSTS7000218 (401), missing parameter AADSTS900144 (400),
  bad scope AADSTS1002012 (400 invalid_scope), wrong grant AADSTS70003 (400).
- POST /{scope}/providers/Microsoft.CostManagement/generateCostDetailsReport
  ?api-version=2024-08-01 with {"metric": "ActualCost"|"AmortizedCost", "timePeriod":
  {"start", "end"}} (dates, end inclusive, at most one month, no older than 13 months;
  without timePeriod: the open month): 202 with Location (the operation to poll) and
  Retry-After; 204 when the scope has no cost in the period.
- GET /{scope}/providers/Microsoft.CostManagement/costDetailsOperationResults/{id}
  ?api-version=...: 202 + Location + Retry-After while the report is being generated
  (`polls_before_ready` polls), then 200 with the operation and its manifest (blob links).
- GET /armreports/{shard}/{report}_{n}?sv=...&sr=b&se=...&sp=r&sig=...: the CSV blobs,
  served only with the right signature and before `se` (Blob Storage's XML errors).

ARM errors are {"error": {"code", "message"}}: 401 AuthenticationFailed (no token),
InvalidAuthenticationToken, ExpiredAuthenticationToken, InvalidAuthenticationTokenAudience;
403 AuthorizationFailed (no RBAC role on the scope); 404 SubscriptionNotFound,
ResourceGroupNotFound, NotFound (billing scopes); 400 for bad requests. Every ARM answer
carries x-ms-request-id and x-ms-correlation-request-id, Cost Management answers the
x-ms-ratelimit-microsoft.costmanagement-qpu-* headers. Injected 429s (fault kind
`rate_limit`) carry x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from finfocus_sandbox.azure.dataset import METRICS, AzureDataset, ScopeError, month_start
from finfocus_sandbox.faults import FaultInjector, FaultProfile, FaultSet, Reply, json_reply
from finfocus_sandbox.server import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from finfocus_sandbox.faults import Fault

Obj = dict[str, Any]
Headers = list[tuple[str, str]]

API_VERSIONS = ("2022-05-01", "2022-10-01", "2023-03-01", "2023-08-01", "2023-11-01",
                "2024-08-01", "2025-03-01")  # fmt: skip
ARM_RESOURCES = ("https://management.azure.com", "https://management.core.windows.net")
QPU_RETRY_AFTER = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"
QPU_CONSUMED = "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed"
QPU_REMAINING = "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"
MAX_DAYS = 31  # "1 month or less"
_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_GENERATE = re.compile(
    r"^(?P<scope>/.+?)/providers/Microsoft\.CostManagement/generateCostDetailsReport$", re.I
)
_RESULTS = re.compile(
    r"^(?P<scope>/.+?)/providers/Microsoft\.CostManagement/costDetailsOperationResults/"
    r"(?P<op>[^/]+)$",
    re.I,
)
_BLOB = re.compile(r"^/armreports/(?P<shard>\d{5})/(?P<name>[^/]+)$")
_REASON = {
    200: "OK",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _now_iso(seconds: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if seconds is None else seconds, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"  # 7 fractional digits, as Azure


class ArmError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Headers | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or []


class EntraError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


@dataclass
class Report:
    """One Cost Details report: its request, its readiness and its blobs."""

    id: str
    scope: str
    metric: str
    start: dt.date
    end: dt.date  # inclusive, as the request says
    polls_left: int
    blobs: list[tuple[str, int]] = field(default_factory=list)  # (path, bytes)
    rows: int = 0
    valid_till: float = 0.0


@dataclass(frozen=True)
class Event:
    """What the fake did, with a monotonic timestamp (for Retry-After assertions)."""

    at: float
    kind: str  # token | generate | poll | blob
    report: str
    status: int


class AzureApp:
    """WSGI app playing Entra ID and Azure Resource Manager for one AzureDataset."""

    def __init__(
        self,
        dataset: AzureDataset,
        client_id: str,
        client_secret: str,
        *,
        role_scopes: Iterable[str] | None = None,
        poll_retry_after: int = 1,
        polls_before_ready: int = 1,
        blob_rows: int = 50_000,
        token_lifetime: int = 3599,
        sas_lifetime: int = 3600,
    ) -> None:
        self.dataset = dataset
        self.client_id = client_id
        self.client_secret = client_secret
        self.role_scopes = None if role_scopes is None else [s.rstrip("/") for s in role_scopes]
        self.poll_retry_after = poll_retry_after
        self.polls_before_ready = polls_before_ready
        self.blob_rows = blob_rows
        self.token_lifetime = token_lifetime
        self.sas_lifetime = sas_lifetime
        self.object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{client_id}"))
        self._signing_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self.tokens: dict[str, tuple[float, str]] = {}  # token -> (expiry, audience)
        self.reports: dict[str, Report] = {}
        self.blobs: dict[str, bytes] = {}
        self.events: list[Event] = []

    # ------------------------------------------------------------------ plumbing
    def _event(self, kind: str, report: str, status: int) -> None:
        with self._lock:
            self.events.append(Event(time.monotonic(), kind, report, status))

    def arm_headers(self) -> Headers:
        request_id = str(uuid.uuid4())
        return [
            ("x-ms-request-id", request_id),
            ("x-ms-correlation-request-id", request_id),
            ("x-ms-routing-request-id", f"EASTUS:{time.strftime('%Y%m%dT%H%M%SZ')}:{request_id}"),
            ("Cache-Control", "no-cache"),
        ]

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if _TOKEN_PATH.match(path):
            status, headers, body = self._token_endpoint(environ, path, method)
        elif _BLOB.match(path):
            status, headers, body = self._blob(environ, path, method)
        else:
            status, headers, body = self._arm(environ, path, method)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_REASON.get(status, 'Error')}", headers)
        return [body]

    # ------------------------------------------------------------------ Entra ID
    def _token_endpoint(self, environ: WSGIEnvironment, path: str, method: str) -> tuple:
        match = _TOKEN_PATH.match(path)
        assert match is not None
        tenant = match["tenant"]
        try:
            if method != "POST":
                raise EntraError(
                    405, "invalid_request", 900561,
                    "AADSTS900561: The endpoint only accepts POST requests. Received a GET "
                    "request.",
                )  # fmt: skip
            form = self._form(environ)
            payload = self._issue(tenant, form)
            status = 200
        except EntraError as err:
            status = err.status
            trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
            stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
            payload = {
                "error": err.error,
                "error_description": f"{err.description}\r\nTrace ID: {trace}\r\n"
                f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
                "error_codes": [err.code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
                "error_uri": f"https://login.microsoftonline.com/error?code={err.code}",
            }
        self._event("token", "", status)
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Cache-Control", "no-store, no-cache"),
            ("x-ms-request-id", str(uuid.uuid4())),
        ]
        return status, headers, json.dumps(payload).encode()

    @staticmethod
    def _form(environ: WSGIEnvironment) -> dict[str, str]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length else ""
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _issue(self, tenant: str, form: dict[str, str]) -> Obj:
        ds = self.dataset
        if tenant.lower() not in (ds.tenant_id, f"{ds.tenant_name.lower()}.onmicrosoft.com"):
            raise EntraError(
                400, "invalid_request", 90002,
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud. Check with your "
                "subscription administrator, this may happen if there are no active "
                "subscriptions for the tenant.",
            )  # fmt: skip
        for name in ("grant_type", "client_id"):
            if not form.get(name):
                raise EntraError(
                    400, "invalid_request", 900144,
                    f"AADSTS900144: The request body must contain the following parameter: "
                    f"'{name}'.",
                )  # fmt: skip
        if form["grant_type"] != "client_credentials":
            raise EntraError(
                400, "unsupported_grant_type", 70003,
                "AADSTS70003: The app requested an unsupported grant type "
                f"'{form['grant_type']}'.",
            )  # fmt: skip
        client = form["client_id"]
        if client != self.client_id:
            raise EntraError(
                400, "unauthorized_client", 700016,
                f"AADSTS700016: Application with identifier '{client}' was not found in the "
                f"directory '{ds.tenant_name}'. This can happen if the application has not been "
                "installed by the administrator of the tenant or consented to by any user in "
                "the tenant. You may have sent your authentication request to the wrong tenant.",
            )  # fmt: skip
        secret = form.get("client_secret", "")
        if not secret:
            raise EntraError(
                401, "invalid_client", 7000218,
                "AADSTS7000218: The request body must contain the following parameter: "
                "'client_assertion' or 'client_secret'.",
            )  # fmt: skip
        if not hmac.compare_digest(secret, self.client_secret):
            raise EntraError(
                401, "invalid_client", 7000215,
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                "in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{client}'.",
            )  # fmt: skip
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            raise EntraError(
                400, "invalid_scope", 1002012,
                f"AADSTS1002012: The provided value for scope {scope or '(none)'} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to "
                "the resource identifier (application ID URI).",
            )  # fmt: skip
        audience = scope.removesuffix("/.default").rstrip("/")
        token = self._new_token()
        with self._lock:
            self.tokens[token] = (time.time() + self.token_lifetime, audience)
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "ext_expires_in": self.token_lifetime,
            "access_token": token,
        }

    @staticmethod
    def _new_token() -> str:
        def part(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).decode().rstrip("=")

        header = part(b'{"typ":"JWT","alg":"RS256"}')
        return f"{header}.{part(secrets.token_bytes(48))}.{part(secrets.token_bytes(64))}"

    def expire_tokens(self) -> None:
        """Make every issued token expired (tests of token refresh)."""
        with self._lock:
            self.tokens = {t: (0.0, aud) for t, (_, aud) in self.tokens.items()}

    # ------------------------------------------------------------------ ARM
    def _arm(self, environ: WSGIEnvironment, path: str, method: str) -> tuple:
        headers: Headers = [("Content-Type", "application/json; charset=utf-8")]
        try:
            self._authenticate(environ)
            headers += self.arm_headers()
            status, extra, payload = self._route(environ, path, method)
            headers += extra
        except ArmError as err:
            if not any(name == "x-ms-request-id" for name, _ in headers):
                headers += self.arm_headers()
            headers += err.headers
            status, payload = err.status, {"error": {"code": err.code, "message": err.message}}
        body = b"" if payload is None else json.dumps(payload).encode()
        if payload is None:
            headers = [(k, v) for k, v in headers if k != "Content-Type"]
        return status, headers, body

    def _authenticate(self, environ: WSGIEnvironment) -> None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        challenge = [
            (
                "WWW-Authenticate",
                f'Bearer authorization_uri="https://login.windows.net/{self.dataset.tenant_id}", '
                'error="invalid_token", error_description="The authentication failed because of '
                "missing 'Authorization' header.\"",
            )
        ]
        if not header:
            raise ArmError(
                401, "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.", challenge,
            )  # fmt: skip
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self._lock:
            known = self.tokens.get(token)
        if known is None:
            raise ArmError(
                401, "InvalidAuthenticationToken", "The access token is invalid.", challenge
            )
        expiry, audience = known
        if audience not in ARM_RESOURCES:
            raise ArmError(
                401, "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{audience}'. "
                "It should exactly match with one of the allowed audiences "
                "'https://management.core.windows.net/','https://management.core.windows.net',"
                "'https://management.azure.com/','https://management.azure.com'.",
                challenge,
            )  # fmt: skip
        if expiry <= time.time():
            stamp = time.strftime("%m/%d/%Y %I:%M:%S %p", time.gmtime(expiry))
            now = time.strftime("%m/%d/%Y %I:%M:%S %p", time.gmtime())
            raise ArmError(
                401, "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{stamp}' is earlier than current UTC time "
                f"'{now}'.",
                challenge,
            )  # fmt: skip

    def _route(self, environ: WSGIEnvironment, path: str, method: str) -> tuple:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        version = (query.get("api-version") or [""])[0]
        if not version:
            raise ArmError(
                400, "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )  # fmt: skip
        generate, results = _GENERATE.match(path), _RESULTS.match(path)
        if generate is None and results is None:
            raise ArmError(
                404, "NotFound", f"The resource path '{path}' is not supported by the fake."
            )
        if version not in API_VERSIONS:
            raise ArmError(
                400, "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are "
                f"'{','.join(API_VERSIONS)}'.",
            )  # fmt: skip
        match = generate or results
        assert match is not None
        scope = match["scope"]
        self._authorize(scope, "generateCostDetailsReport/action" if generate else "read")
        if generate is not None:
            if method != "POST":
                raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed.")
            return self._generate(environ, scope, version)
        if method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"The method '{method}' is not allowed.")
        assert results is not None
        return self._results(environ, scope, results["op"], version)

    def _authorize(self, scope: str, action: str) -> None:
        try:
            self.dataset.scope_filter(scope)
        except ScopeError as err:
            raise ArmError(404, err.code, err.message) from None
        if self.role_scopes is None:
            return
        wanted = scope.rstrip("/").lower()
        for allowed in self.role_scopes:
            if wanted == allowed.lower() or wanted.startswith(allowed.lower() + "/"):
                return
        raise ArmError(
            403, "AuthorizationFailed",
            f"The client '{self.client_id}' with object id '{self.object_id}' does not have "
            f"authorization to perform action 'Microsoft.CostManagement/{action}' over scope "
            f"'{scope}' or the scope is invalid. If access was recently granted, please refresh "
            "your credentials.",
        )  # fmt: skip

    def _qpu_headers(self) -> Headers:
        return [(QPU_CONSUMED, "1"), (QPU_REMAINING, "11")]

    def _location(self, environ: WSGIEnvironment, scope: str, op: str, version: str) -> str:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return (
            f"http://{host}{scope}/providers/Microsoft.CostManagement/"
            f"costDetailsOperationResults/{op}?api-version={version}"
        )

    def _generate(self, environ: WSGIEnvironment, scope: str, version: str) -> tuple:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ArmError(400, "BadRequest", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ArmError(400, "BadRequest", "The request body must be a JSON object.")
        metric = body.get("metric", "ActualCost")
        if metric not in METRICS:
            raise ArmError(
                400, "BadRequest",
                f"Invalid metric '{metric}'. Supported values are: ActualCost, AmortizedCost.",
            )  # fmt: skip
        if "billingPeriod" in body or "invoiceId" in body:
            raise ArmError(
                400, "BadRequest", "The fake Cost Details API supports timePeriod requests only."
            )
        today = self.dataset.today
        period = body.get("timePeriod")
        if period is None:
            start, end = month_start(today), today
        else:
            try:
                start = dt.date.fromisoformat(str(period["start"]))
                end = dt.date.fromisoformat(str(period["end"]))
            except (KeyError, TypeError, ValueError):
                raise ArmError(
                    400, "BadRequest",
                    "Invalid timePeriod: start and end must be dates formatted yyyy-MM-dd.",
                ) from None  # fmt: skip
        if end < start:
            raise ArmError(
                400, "BadRequest", "Invalid timePeriod: the end date is before the start date."
            )
        if (end - start).days >= MAX_DAYS:
            raise ArmError(
                400, "BadRequest",
                "Invalid timePeriod: the date range cannot be more than 1 month. "
                "Use exports for larger date ranges.",
            )  # fmt: skip
        horizon = month_start(today)
        for _ in range(13):
            horizon = month_start(horizon - dt.timedelta(days=1))
        if start < horizon:
            raise ArmError(
                400, "BadRequest",
                f"Invalid timePeriod: data older than 13 months (before {horizon}) cannot be "
                "requested.",
            )  # fmt: skip
        rows = list(self.dataset.rows(metric, start, end + dt.timedelta(days=1), scope))
        self._event("generate", "", 202 if rows else 204)
        if not rows:
            return 204, self._qpu_headers(), None
        report = Report(
            id=str(uuid.uuid4()),
            scope=scope,
            metric=metric,
            start=start,
            end=end,
            polls_left=self.polls_before_ready,
            rows=len(rows),
            valid_till=time.time() + self.sas_lifetime,
        )
        self._write_blobs(report, rows)
        with self._lock:
            self.reports[report.id] = report
        headers = [
            ("Location", self._location(environ, scope, report.id, version)),
            ("Retry-After", str(self.poll_retry_after)),
            *self._qpu_headers(),
        ]
        return 202, headers, None

    def _write_blobs(self, report: Report, rows: list[list[str]]) -> None:
        shard = int(report.id[:4], 16) % 100_000
        columns = self.dataset.columns
        for index in range(0, len(rows), self.blob_rows):
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(columns)
            writer.writerows(rows[index : index + self.blob_rows])
            data = b"\xef\xbb\xbf" + buffer.getvalue().encode()
            path = f"/armreports/{shard:05d}/{report.id}_{index // self.blob_rows}"
            with self._lock:
                self.blobs[path] = data
            report.blobs.append((path, len(data)))

    def _sas(self, path: str, expiry: float) -> str:
        se = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))
        signature = hmac.new(self._signing_key, f"{path}|{se}".encode(), hashlib.sha256).digest()
        sig = base64.b64encode(signature).decode()
        return f"sv=2020-05-31&sr=b&se={quote(se)}&sp=r&sig={quote(sig, safe='')}"

    def _results(self, environ: WSGIEnvironment, scope: str, op: str, version: str) -> tuple:
        with self._lock:
            report = self.reports.get(op)
        if report is None or report.scope.lower() != scope.lower():
            self._event("poll", op, 404)
            raise ArmError(404, "NotFound", f"The operation '{op}' was not found.")
        if report.polls_left > 0:
            report.polls_left -= 1
            self._event("poll", op, 202)
            headers = [
                ("Location", self._location(environ, scope, op, version)),
                ("Retry-After", str(self.poll_retry_after)),
                *self._qpu_headers(),
            ]
            return 202, headers, None
        self._event("poll", op, 200)
        return 200, self._qpu_headers(), self.operation_body(environ, report)

    def operation_body(self, environ: WSGIEnvironment, report: Report) -> Obj:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        scope = report.scope.strip("/")
        return {
            "id": f"{scope}/providers/Microsoft.CostManagement/costDetailsOperationResults/"
            f"{report.id}",
            "name": report.id,
            "status": "Completed",
            "manifest": {
                "manifestVersion": "2024-08-01",
                "dataFormat": "Csv",
                "blobCount": len(report.blobs),
                "byteCount": sum(size for _, size in report.blobs),
                "compressData": False,
                "requestContext": {
                    "requestScope": scope,
                    "requestBody": {
                        "metric": report.metric,
                        "timePeriod": {
                            "start": report.start.isoformat(),
                            "end": report.end.isoformat(),
                        },
                    },
                },
                "blobs": [
                    {
                        "blobLink": f"http://{host}{path}?{self._sas(path, report.valid_till)}",
                        "byteCount": size,
                    }
                    for path, size in report.blobs
                ],
            },
            "validTill": _now_iso(report.valid_till),
        }

    # ------------------------------------------------------------------ Blob Storage
    def _blob(self, environ: WSGIEnvironment, path: str, method: str) -> tuple:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        with self._lock:
            data = self.blobs.get(path)
        report = path.rsplit("/", 1)[-1].rsplit("_", 1)[0]
        if method not in ("GET", "HEAD"):
            status, code = 405, "UnsupportedHttpVerb"
            message = "The resource doesn't support specified Http Verb."
        elif data is None:
            status, code, message = 404, "BlobNotFound", "The specified blob does not exist."
        else:
            status, code, message = 200, "", ""
            se, sig = query.get("se", ""), query.get("sig", "")
            expected = self._sas(path, _parse_se(se)).rsplit("sig=", 1)[-1] if se else ""
            signed = bool(sig) and hmac.compare_digest(quote(sig, safe=""), expected)
            if not signed or _parse_se(se) <= time.time():
                status, code = 403, "AuthenticationFailed"
                message = (
                    "Server failed to authenticate the request. Make sure the value of "
                    "Authorization header is formed correctly including the signature."
                )
        self._event("blob", report, status)
        request_id = str(uuid.uuid4())
        headers: Headers = [("x-ms-request-id", request_id), ("x-ms-version", "2020-05-31")]
        if status != 200:
            body = (
                '<?xml version="1.0" encoding="utf-8"?><Error>'
                f"<Code>{code}</Code><Message>{message}\nRequestId:{request_id}\n"
                f"Time:{_now_iso()}</Message></Error>"
            ).encode()
            return status, [("Content-Type", "application/xml"), *headers], body
        assert data is not None
        headers += [
            ("Content-Type", "text/csv"),
            ("ETag", f'"0x{hashlib.sha1(data).hexdigest()[:15].upper()}"'),  # noqa: S324
            ("x-ms-blob-type", "BlockBlob"),
        ]
        return 200, headers, b"" if method == "HEAD" else data


def _parse_se(value: str) -> float:
    try:
        moment = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0.0
    return moment.timestamp()


# ------------------------------------------------------------------------ faults
class AzureFaultProfile(FaultProfile):
    """Azure's answers for injected faults: ARM, Entra ID or Blob Storage by path.

    A rate limit on ARM is a 429 {"error": {"code": "429", ...}} with
    x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after: the fault's `retry_after`,
    else `qpu_retry_after` (seconds; None sends no QPU hint). The generic layer adds
    Retry-After only when the fault sets `retry_after`.
    """

    def __init__(self, app: AzureApp, qpu_retry_after: float | None = 1) -> None:
        self.app = app
        self.qpu_retry_after = qpu_retry_after

    def common_headers(self, environ: WSGIEnvironment) -> Headers:
        return self.app.arm_headers()

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        path = environ.get("PATH_INFO", "")
        if _TOKEN_PATH.match(path):
            return json_reply(
                429,
                {
                    "error": "temporarily_unavailable",
                    "error_description": "AADSTS50196: The server terminated an operation "
                    "because it encountered a client request loop. Please retry later.",
                    "error_codes": [50196],
                },
            )
        if _BLOB.match(path):
            return _storage_error(503, "ServerBusy", "The server is busy.")
        wait = fault.retry_after if fault.retry_after is not None else self.qpu_retry_after
        headers = [(QPU_CONSUMED, "0"), (QPU_REMAINING, "0")]
        if wait is not None:
            text = str(int(wait)) if float(wait).is_integer() else str(wait)
            headers.append((QPU_RETRY_AFTER, text))
        return json_reply(
            429, {"error": {"code": "429", "message": "Too many requests. Please retry."}}, headers
        )

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        path = environ.get("PATH_INFO", "")
        if _TOKEN_PATH.match(path):
            return json_reply(
                status,
                {
                    "error": "temporarily_unavailable",
                    "error_description": "AADSTS90033: A transient error has occurred. "
                    "Please try again.",
                    "error_codes": [90033],
                },
            )
        if _BLOB.match(path):
            return _storage_error(status, "InternalError", "The server encountered an internal "
                                  "error. Please retry the request.")  # fmt: skip
        code = {502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(
            status, "InternalServerError"
        )
        return json_reply(
            status,
            {
                "error": {
                    "code": code,
                    "message": "Encountered internal server error. Diagnostic information: "
                    f"timestamp '{time.strftime('%Y%m%dT%H%M%SZ')}', tracking id "
                    f"'{uuid.uuid4()}'.",
                }
            },
        )

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        """A finished operation whose manifest claims a blob and lists none."""
        match = _RESULTS.match(environ.get("PATH_INFO", ""))
        op = match["op"] if match else str(uuid.uuid4())
        body = {
            "id": op,
            "name": op,
            "status": "Completed",
            "manifest": {
                "manifestVersion": "2024-08-01",
                "dataFormat": "Csv",
                "blobCount": 1,
                "byteCount": 1,
                "compressData": False,
                "blobs": [],
            },
        }
        return json_reply(200, body)


def _storage_error(status: int, code: str, message: str) -> Reply:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}\nRequestId:{uuid.uuid4()}\nTime:{_now_iso()}</Message></Error>"
    ).encode()
    return Reply(status, [("Content-Type", "application/xml")], body)


class FakeAzure(BackgroundServer):
    """Entra ID + Cost Management on 127.0.0.1, with fault injection and request logs.

    fake = FakeAzure(ds, client_id="...", client_secret="...")
    url = fake.start()   # login_url and api_url of the tap are both this URL
    """

    def __init__(
        self,
        dataset: AzureDataset,
        client_id: str,
        client_secret: str,
        *,
        role_scopes: Iterable[str] | None = None,
        poll_retry_after: int = 1,
        polls_before_ready: int = 1,
        blob_rows: int = 50_000,
        token_lifetime: int = 3599,
        qpu_retry_after: float | None = 1,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_requests: Any = None,
    ) -> None:
        self.dataset = dataset
        self.app = AzureApp(
            dataset,
            client_id,
            client_secret,
            role_scopes=role_scopes,
            poll_retry_after=poll_retry_after,
            polls_before_ready=polls_before_ready,
            blob_rows=blob_rows,
            token_lifetime=token_lifetime,
        )
        self.faults = FaultSet()
        self.fault_profile = AzureFaultProfile(self.app, qpu_retry_after)
        injector = FaultInjector(self.app, self.faults, self.fault_profile)
        super().__init__(injector, host=host, port=port, echo_requests=echo_requests)

    @property
    def events(self) -> list[Event]:
        with self.app._lock:
            return list(self.app.events)

    def token_url(self, tenant: str | None = None) -> str:
        return f"{self.url}/{tenant or self.dataset.tenant_id}/oauth2/v2.0/token"

    def __enter__(self) -> FakeAzure:
        self.start()
        return self


__all__ = ["QPU_RETRY_AFTER", "AzureApp", "AzureFaultProfile", "Event", "FakeAzure", "Report"]
