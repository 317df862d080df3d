"""HTTP for tap-azure: Entra ID tokens, the Cost Details API (an async report) and its blobs.

How a cost-details window is read:

1. a token from Entra ID (client credentials: one POST to
   `{login_url}/{tenant_id}/oauth2/v2.0/token`, scope `https://management.azure.com/.default`),
   cached until five minutes before it expires and renewed once if ARM says it expired;
2. POST `{api_url}{scope}/providers/Microsoft.CostManagement/generateCostDetailsReport`
   (api-version 2024-08-01) with the metric and the window's dates: 202 with Location and
   Retry-After (204: no cost in the window);
3. GET the Location after waiting what Retry-After says, again while it answers 202;
   200 brings the manifest: status and the blob links (SAS URLs);
4. GET every blob (no Authorization header: the SAS is the credential), spooled to a
   temporary file, checked against the manifest's byteCount, then parsed.

Every request goes through `AzureHttp.request`: 429 and 5xx are retried; a 429 that says how
long to wait (x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after,
x-ms-ratelimit-microsoft.consumption-retry-after or Retry-After) is waited out without
using up `max_retries`, up to `max_throttle_wait_seconds` in total; other 4xx fail at once
with one line naming the service, the request and Azure's own error code and message.

Why not finfocus_common.rest.FinfocusRESTStream (the base of the other HTTP taps): a cost
details window is not a paged GET but a protocol of three hosts and answers (a POST that
answers 202, polls that answer 202 until a manifest, SAS blob downloads checked against
byteCount), and Azure's throttling asks for what the SDK's backoff decorator cannot give:
429s with a QPU wait are waited out without using up `max_retries`, within a budget of
their own (`max_throttle_wait_seconds`), and an expired token is renewed once, not
retried. The rules the base stream stands for hold here too: 429/5xx/timeouts/resets
retried with Retry-After honoured and jitter, other 4xx one line at once, a 200 that is
not the answer (cut, not JSON, a manifest missing blobs) retried, a replayed response
(an x-ms-request-id seen before) retried, exit 75 once retries are spent.
"""

from __future__ import annotations

import random
import tempfile
import time
import typing as t
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlparse

import requests
from finfocus_common.errors import PermanentError, TransientError, one_line
from finfocus_common.jsonutil import loads_exact
from finfocus_common.redact import redact, register_secret
from finfocus_common.retry import MAX_ADVERTISED_WAIT, retry_after_seconds

if t.TYPE_CHECKING:
    import datetime as dt
    import logging
    from collections.abc import Callable

ARM_RESOURCE = "https://management.azure.com"
STORAGE_RESOURCE = "https://storage.azure.com"
API_VERSION = "2024-08-01"
METRIC_NAMES = {"actual": "ActualCost", "amortized": "AmortizedCost"}
QPU_RETRY_AFTER = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"
CONSUMPTION_RETRY_AFTER = "x-ms-ratelimit-microsoft.consumption-retry-after"
TOKEN_REFRESH_MARGIN = 300.0
SPOOL_BYTES = 32 * 1024 * 1024
USER_AGENT = "finfocus-tap-azure/0.1.0"
_TRANSIENT_NETWORK = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionResetError,
)


def advertised_wait(response: requests.Response | None) -> float | None:
    """The longest wait Azure asks for: QPU / consumption retry-after headers or Retry-After."""
    if response is None:
        return None
    waits: list[float] = []
    for header in (QPU_RETRY_AFTER, CONSUMPTION_RETRY_AFTER):
        value = response.headers.get(header)
        if value:
            try:
                waits.append(max(float(value.strip()), 0.0))
            except ValueError:
                continue
    hinted = retry_after_seconds(response)
    if hinted is not None:
        waits.append(hinted)
    return min(max(waits), MAX_ADVERTISED_WAIT) if waits else None


def path_of(url: str) -> str:
    return urlparse(url).path or "/"


def arm_error(response: requests.Response) -> tuple[str, str]:
    """(code, message) of an ARM error body {"error": {"code", "message"}}."""
    try:
        body = response.json()
    except ValueError:
        return "", one_line(response.text[:200]) if response.text else (response.reason or "")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), one_line(str(error.get("message") or ""))
    return "", ""


def storage_error_code(response: requests.Response) -> str:
    text = response.text if response.content else ""
    start, end = text.find("<Code>"), text.find("</Code>")
    return text[start + 6 : end] if 0 <= start < end else ""


@dataclass
class AzureHttp:
    """requests with Azure's retry rules (see the module docstring)."""

    logger: logging.Logger
    timeout: float = 60.0
    max_retries: int = 8
    backoff_base: float = 1.0
    max_throttle_wait: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    _seen_request_ids: set[str] = field(default_factory=set)

    def backoff(self, failures: int) -> float:
        return min(60.0, self.backoff_base * 2 ** (failures - 1))

    def _wait(self, seconds: float, reason: str) -> None:
        jitter = random.uniform(0, min(1.0, seconds * 0.1))
        self.logger.warning("Retrying in %.1fs: %s", seconds + jitter, redact(reason))
        self.sleep(seconds + jitter)

    def _replayed(self, response: requests.Response) -> bool:
        request_id = response.headers.get("x-ms-request-id")
        if not request_id:
            return False
        if request_id in self._seen_request_ids:
            return True
        self._seen_request_ids.add(request_id)
        return False

    def request(
        self,
        method: str,
        url: str,
        *,
        describe: Callable[[requests.Response], str],
        headers: Callable[[], dict[str, str]] | None = None,
        on_unauthorized: Callable[[requests.Response], bool] | None = None,
        transient_statuses: frozenset[int] = frozenset(),
        detect_replays: bool = False,
        **kwargs: t.Any,
    ) -> requests.Response:
        failures = 0
        throttled = 0.0
        renewed = False
        where = f"{method} {urlparse(url).netloc}{path_of(url)}"
        while True:
            sent = {"User-Agent": USER_AGENT, **(headers() if headers else {})}
            try:
                response = self.session.request(
                    method, url, headers=sent, timeout=self.timeout, allow_redirects=False, **kwargs
                )
            except _TRANSIENT_NETWORK as exc:
                failures += 1
                reason = f"could not reach Azure for {where} ({type(exc).__name__})"
                if failures > self.max_retries:
                    raise TransientError(f"gave up after {failures} attempts: {reason}") from None
                self._wait(self.backoff(failures), reason)
                continue
            status = response.status_code
            if status == 401 and on_unauthorized and not renewed and on_unauthorized(response):
                renewed = True
                continue
            replay = detect_replays and status < 400 and self._replayed(response)
            if status == 429 or status >= 500 or replay:
                reason = (
                    f"Azure answered {where} with a response it had already sent "
                    f"(x-ms-request-id {response.headers.get('x-ms-request-id')})"
                    if replay
                    else describe(response)
                )
                wait = None if replay else advertised_wait(response)
                if (
                    status == 429
                    and wait is not None
                    and throttled + wait <= self.max_throttle_wait
                ):
                    throttled += wait
                    self._wait(wait, reason)  # throttled with a hint: wait, it is no failure
                    continue
                failures += 1
                if failures > self.max_retries:
                    raise TransientError(f"gave up after {failures} attempts: {reason}")
                self._wait(wait if wait is not None else self.backoff(failures), reason)
                continue
            if status in transient_statuses:
                raise TransientError(describe(response))
            if status >= 400:
                raise PermanentError(describe(response))
            return response


class EntraCredential:
    """Client-credentials tokens from Entra ID, cached per resource.

    Also an azure-core TokenCredential (`get_token`), so Blob Storage can be read with the
    same service principal (role: Storage Blob Data Reader).
    """

    def __init__(
        self,
        http: AzureHttp,
        *,
        login_url: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
    ) -> None:
        self.http = http
        self.login_url = login_url.rstrip("/")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._secret = client_secret
        self._tokens: dict[str, tuple[str, float]] = {}

    @property
    def token_url(self) -> str:
        return f"{self.login_url}/{quote(self.tenant_id, safe='')}/oauth2/v2.0/token"

    def token(self, resource: str = ARM_RESOURCE) -> str:
        return self._token(resource)[0]

    def _token(self, resource: str) -> tuple[str, float]:
        cached = self._tokens.get(resource)
        if cached is not None and cached[1] - TOKEN_REFRESH_MARGIN > time.time():
            return cached
        response = self.http.request(
            "POST",
            self.token_url,
            describe=self.describe,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
                "scope": f"{resource}/.default",
            },
        )
        try:
            body = response.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 3599))
        except (ValueError, KeyError, TypeError):
            raise TransientError(
                f"Entra ID answered POST {path_of(self.token_url)} without an access token"
            ) from None
        register_secret(token)
        entry = (token, time.time() + expires_in)
        self._tokens[resource] = entry
        return entry

    def invalidate(self, resource: str = ARM_RESOURCE) -> None:
        self._tokens.pop(resource, None)

    def get_token(self, *scopes: str, **kwargs: t.Any) -> t.Any:
        from azure.core.credentials import AccessToken

        resource = (scopes[0] if scopes else f"{STORAGE_RESOURCE}/.default").removesuffix(
            "/.default"
        )
        token, expires = self._token(resource)
        return AccessToken(token, int(expires))

    def describe(self, response: requests.Response) -> str:
        """Entra's error in one line, with what to check; never the secret."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = str(body.get("error") or response.status_code) if isinstance(body, dict) else ""
        text = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        first = one_line(text.split("\r\n")[0].split("\n")[0]) or (response.reason or "")
        codes = body.get("error_codes") if isinstance(body, dict) else None
        code = int(codes[0]) if isinstance(codes, list) and codes else 0
        hint = {
            7000215: "check client_secret (the secret's value, not its ID)",
            7000222: "client_secret has expired: create a new secret",
            7000218: "client_secret is missing",
            700016: "check client_id and tenant_id (the app registration's ids)",
            90002: "check tenant_id",
            900023: "check tenant_id",
        }.get(code, "check tenant_id, client_id and client_secret")
        where = f"POST {urlparse(self.login_url).netloc}{path_of(self.token_url)}"
        return redact(
            one_line(
                f"Entra ID refused the client credentials of client_id {self.client_id} in "
                f"tenant {self.tenant_id} ({where}): {response.status_code} {error}: {first} "
                f"-- {hint}"
            )
        )


class _BadAnswerError(Exception):
    """A 200 that cannot be the operation's answer (retried like a 5xx)."""


@dataclass
class CostReport:
    """A finished Cost Details report: its id, where it was polled, and its blobs."""

    id: str
    operation: str  # the operation's path (no query)
    status: str
    blobs: list[tuple[str, int]]  # (SAS URL, byteCount)
    completed_at: str


class CostDetailsApi:
    """The Cost Details API of one scope: generate a report, wait for it, open its blobs."""

    def __init__(
        self,
        http: AzureHttp,
        credential: EntraCredential,
        *,
        api_url: str,
        scope: str,
        report_timeout: float = 3600.0,
    ) -> None:
        self.http = http
        self.credential = credential
        self.api_url = api_url.rstrip("/")
        self.scope = "/" + scope.strip("/")
        self.report_timeout = report_timeout
        self.logger = http.logger

    # --- auth and errors --------------------------------------------------------
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential.token(ARM_RESOURCE)}"}

    def _renew(self, response: requests.Response) -> bool:
        code, _ = arm_error(response)
        if code in ("ExpiredAuthenticationToken", "InvalidAuthenticationToken"):
            self.credential.invalidate(ARM_RESOURCE)
            return True
        return False

    def describe(self, response: requests.Response) -> str:
        method = response.request.method if response.request is not None else "GET"
        code, message = arm_error(response)
        status = response.status_code
        hint = ""
        if status == 403 or code in ("AuthorizationFailed", "RBACAccessDenied"):
            hint = (
                f" -- client_id {self.credential.client_id} needs the Cost Management Reader "
                f"role (Billing Reader / Enrollment Reader for billing scopes) on {self.scope}"
            )
        elif status == 404 or code.endswith("NotFound"):
            hint = f" -- check scope {self.scope}"
        elif code.startswith(("InvalidAuthenticationToken", "ExpiredAuthenticationToken")):
            hint = " -- check tenant_id: the scope may belong to another tenant"
        return redact(
            one_line(
                f"Azure Cost Management refused {method} {path_of(response.url)}: "
                f"{status} {code or response.reason or ''}: {message}{hint}"
            )
        )

    def _arm(self, method: str, url: str, **kwargs: t.Any) -> requests.Response:
        return self.http.request(
            method,
            url,
            describe=self.describe,
            headers=self._auth,
            on_unauthorized=self._renew,
            detect_replays=True,
            **kwargs,
        )

    # --- the report -------------------------------------------------------------
    def generate(self, metric: str, start: dt.date, end_inclusive: dt.date) -> CostReport | None:
        """Generate and wait for the report of [start, end_inclusive]; None: no cost there."""
        url = (
            f"{self.api_url}{self.scope}/providers/Microsoft.CostManagement/"
            f"generateCostDetailsReport?api-version={API_VERSION}"
        )
        body = {
            "metric": METRIC_NAMES[metric],
            "timePeriod": {"start": start.isoformat(), "end": end_inclusive.isoformat()},
        }
        response = self._arm("POST", url, json=body)
        deadline = time.monotonic() + self.report_timeout
        poll_url = url
        polls = 0
        bad = 0
        while True:
            if response.status_code == 204:
                return None
            if response.status_code == 202:
                poll_url = self._location(response, poll_url)
                hinted = advertised_wait(response)
                wait = hinted if hinted is not None else self.http.backoff(polls + 1)
                polls += 1
            else:
                try:
                    report = self._finished(response, poll_url)
                except _BadAnswerError as exc:
                    bad += 1  # a cut-off body, a proxy page, a manifest missing blobs
                    if bad > self.http.max_retries:
                        raise TransientError(f"gave up after {bad} attempts: {exc}") from None
                    wait = self.http.backoff(bad)
                    self.logger.warning("Retrying in %.1fs: %s", wait, exc)
                else:
                    if report is not None:
                        return report
                    hinted = advertised_wait(response)
                    wait = hinted if hinted is not None else self.http.backoff(polls + 1)
                    polls += 1
            if time.monotonic() + wait > deadline:
                raise TransientError(
                    f"the cost details report for {self.scope} ({METRIC_NAMES[metric]} "
                    f"{start}..{end_inclusive}) was not ready after "
                    f"{self.report_timeout:.0f}s (report_timeout_seconds)"
                )
            self.logger.info(
                "Cost details report %s %s..%s not ready; polling again in %.1fs",
                METRIC_NAMES[metric],
                start,
                end_inclusive,
                wait,
            )
            self.http.sleep(wait)
            if poll_url == url:  # no operation yet: ask again
                response = self._arm("POST", url, json=body)
            else:
                response = self._arm("GET", poll_url)

    def _location(self, response: requests.Response, current: str) -> str:
        location = response.headers.get("Location") or response.headers.get("Azure-AsyncOperation")
        if not location:
            return current if "costDetailsOperationResults" in current else self._missing(response)
        api = urlparse(self.api_url)
        target = urlparse(location)
        if (target.scheme, target.netloc) != (api.scheme, api.netloc):
            raise PermanentError(
                f"Azure Cost Management answered {path_of(response.url)} with a Location on "
                f"another host ({target.netloc}); tap-azure only polls {api.netloc} (api_url)"
            )
        return location

    def _missing(self, response: requests.Response) -> str:
        raise TransientError(
            f"Azure Cost Management answered {path_of(response.url)} with 202 but no Location"
        )

    def _finished(self, response: requests.Response, poll_url: str) -> CostReport | None:
        """The report of a 200 answer, or None while it is still being generated."""
        where = f"GET {path_of(poll_url)}"
        if "json" not in response.headers.get("Content-Type", ""):
            raise _BadAnswerError(f"Azure Cost Management answered {where} with no JSON")
        try:
            body = loads_exact(response.content)
        except ValueError:
            raise _BadAnswerError(
                f"Azure Cost Management answered {where} with malformed JSON"
            ) from None
        if not isinstance(body, dict):
            raise _BadAnswerError(f"Azure Cost Management answered {where} with no operation")
        status = str(body.get("status") or "") if isinstance(body, dict) else ""
        if status in ("InProgress", "Running", "Queued", "NotStarted"):
            return None
        if status in ("Failed", "TimedOut"):
            error = body.get("error") or {}
            raise TransientError(
                f"Azure Cost Management could not generate the report ({status}) at "
                f"{path_of(poll_url)}: {one_line(str(error.get('code', '')))} "
                f"{one_line(str(error.get('message', '')))}".rstrip()
            )
        manifest = body.get("manifest") or {}
        blobs = [
            (str(blob["blobLink"]), int(blob.get("byteCount") or 0))
            for blob in manifest.get("blobs") or []
            if blob.get("blobLink")
        ]
        if status in ("Completed", "") and len(blobs) != int(manifest.get("blobCount", len(blobs))):
            raise _BadAnswerError(
                f"Azure Cost Management answered {where} with a manifest of "
                f"{manifest.get('blobCount')} blobs that lists {len(blobs)}"
            )
        if status in ("Completed", "") and not manifest:
            raise _BadAnswerError(f"Azure Cost Management answered {where} without a manifest")
        for link, _ in blobs:
            for signature in parse_qs(urlparse(link).query).get("sig", []):
                register_secret(signature)
        return CostReport(
            id=str(body.get("name") or path_of(poll_url).rsplit("/", 1)[-1]),
            operation=path_of(poll_url),
            status=status or "Completed",
            blobs=blobs,
            completed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    # --- the blobs --------------------------------------------------------------
    def describe_blob(self, response: requests.Response) -> str:
        code = storage_error_code(response)
        return one_line(
            f"Azure Blob Storage refused GET {urlparse(response.url).netloc}"
            f"{path_of(response.url)} (a cost details report blob): {response.status_code} "
            f"{code or response.reason or ''}"
            + (
                " -- the report's links may have expired; run again"
                if response.status_code == 403
                else ""
            )
        )

    def open_blob(self, url: str, byte_count: int) -> t.BinaryIO:
        """The blob's bytes in a (spooled) temporary file, rewound; retried if cut short."""
        failures = 0
        while True:
            response = self.http.request(
                "GET",
                url,
                describe=self.describe_blob,
                transient_statuses=frozenset({403}),
                stream=True,
            )
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
            try:
                for chunk in response.iter_content(chunk_size=1024 * 1024):
                    spool.write(chunk)
                size = spool.tell()
                if byte_count and size != byte_count:
                    raise ValueError(f"got {size} bytes, the manifest says {byte_count}")
            except (*_TRANSIENT_NETWORK, ValueError) as exc:
                spool.close()
                failures += 1
                detail = one_line(str(exc)) or type(exc).__name__
                reason = f"downloading {path_of(url)} failed ({detail})"
                if failures > self.http.max_retries:
                    raise TransientError(f"gave up after {failures} attempts: {reason}") from None
                self.http._wait(self.http.backoff(failures), reason)
                continue
            finally:
                response.close()
            spool.seek(0)
            return t.cast("t.BinaryIO", spool)


__all__ = [
    "API_VERSION",
    "ARM_RESOURCE",
    "METRIC_NAMES",
    "AzureHttp",
    "CostDetailsApi",
    "CostReport",
    "EntraCredential",
    "advertised_wait",
]
