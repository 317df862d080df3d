"""The fake BigQuery REST API (v2) over a GCPBillingDataset, and FakeGCP to serve it.

What google-cloud-bigquery calls, under ``/bigquery/v2``:

- ``POST /projects/{p}/queries`` (jobs.query): runs the query; answers ``jobComplete:
  false`` for the first ``pending_polls`` status checks, then the schema, ``totalRows``,
  the first page of rows and a ``pageToken``; the same ``requestId`` again (a retry)
  answers the job the first request started;
- ``POST /projects/{p}/jobs`` (jobs.insert), ``GET /projects/{p}/jobs/{id}`` (jobs.get),
  ``POST /projects/{p}/jobs/{id}/cancel``;
- ``GET /projects/{p}/queries/{id}`` (jobs.getQueryResults): ``maxResults``,
  ``pageToken``, ``startIndex``, ``timeoutMs``, ``location``, ``fields``,
  ``formatOptions.useInt64Timestamp``;
- ``GET /projects/{p}/datasets/{d}/tables/{t}`` (tables.get): schema, partitioning,
  ``numRows``, ``location``.

And ``POST /token``: Google's OAuth 2.0 token endpoint for service accounts (JWT bearer
grant). Point a service-account JSON's ``token_uri`` here (``FakeGCP.credentials_info``
does) and google-auth signs a real RS256 assertion that the fake verifies against the
account's public key; it answers an access token the API then accepts. A self-signed JWT
as Bearer token is accepted too.

Rows are encoded as BigQuery encodes them: ``{"f": [{"v": ...}]}``, every scalar a
string (FLOAT the double's repr, NUMERIC its plain decimal, TIMESTAMP int64 microseconds
with ``useInt64Timestamp`` else a double of seconds like ``1.7093E9``), RECORD as
``{"f": [...]}``, REPEATED as ``[{"v": ...}]``.

Errors use Google's body ``{"error": {"code", "message", "errors": [{"message",
"domain", "reason"}], "status"}}``: 401 UNAUTHENTICATED; 403 ``accessDenied`` ("Access
Denied: Table p:d.t: User does not have permission to query table p:d.t, or perhaps it
does not exist."); 404 ``notFound`` ("Not found: Table p:d.t was not found in location
US"); 404 ``notFound`` ("Not found: Project p") for a job in a project that does not
exist (when the fake is told which exist: ``projects``); 400 ``invalidQuery``. A failed
query is a failed job: jobs.query answers the error, jobs.insert answers a DONE job with
``status.errorResult`` (and getQueryResults the error), as BigQuery does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from finfocus_sandbox.faults import FaultInjector, FaultProfile, FaultSet, Reply, json_reply
from finfocus_sandbox.gcp import engine
from finfocus_sandbox.gcp.schema import SCHEMAS
from finfocus_sandbox.server import BackgroundServer

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from finfocus_sandbox.faults import Fault
    from finfocus_sandbox.gcp.dataset import GCPBillingDataset

Obj = dict[str, Any]
API = "/bigquery/v2"
TOKEN_PATH = "/token"  # noqa: S105 - a URL path, not a secret
PAGE_BYTES = 10 * 1024 * 1024  # BigQuery's default response size cap
MIN_BILLED_BYTES = 10 * 1024 * 1024  # on-demand queries bill at least 10 MB
SCOPES = (
    "https://www.googleapis.com/auth/bigquery",
    "https://www.googleapis.com/auth/cloud-platform",
)
GRPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
MISSING_CREDENTIAL = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIAL = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class BigQueryError(Exception):
    """An error answered in Google's JSON error body."""

    def __init__(self, status: int, message: str, reason: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.extra = extra

    def body(self) -> Obj:
        item = {"message": self.message, "domain": "global", "reason": self.reason, **self.extra}
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "errors": [item],
                "status": GRPC_STATUS.get(self.status, "UNKNOWN"),
            }
        }


def error_body(status: int, message: str, reason: str) -> Obj:
    return BigQueryError(status, message, reason).body()


@dataclass(frozen=True)
class TableSpec:
    """Where a table of the dataset lives and how BigQuery partitions it."""

    kind: str  # standard, resource, focus
    project: str
    dataset: str
    table: str
    location: str = "US"
    partition_column: str | None = "_PARTITIONTIME"  # None: a view (no partitioning)
    require_partition_filter: bool = False
    view: bool = False

    @property
    def full_id(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"

    @property
    def label(self) -> str:
        """How BigQuery names a table in messages: ``project:dataset.table``."""
        return f"{self.project}:{self.dataset}.{self.table}"


@dataclass
class Account:
    """A service account the fake knows: its key, and what it may do."""

    email: str
    key_id: str
    private_key: rsa.RSAPrivateKey
    tables: frozenset[str]  # full ids, or "*"
    job_projects: frozenset[str]  # projects it may run jobs in, or "*"
    disabled: bool = False

    def can_read(self, table: str) -> bool:
        return "*" in self.tables or table in self.tables

    def can_run_jobs(self, project: str) -> bool:
        return "*" in self.job_projects or project in self.job_projects


ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class QueryRecord:
    """One query as the fake ran it: what it scanned is what BigQuery would bill."""

    job_id: str
    method: str  # jobs.query or jobs.insert
    principal: str
    project: str
    location: str | None
    sql: str
    parameters: dict[str, str]
    table: str | None
    partition_column: str | None
    partitions: tuple[str, ...]  # partition dates read (YYYY-MM-DD)
    partitions_total: int
    rows_scanned: int
    rows_returned: int
    bytes_processed: int
    error: str | None = None

    @property
    def full_scan(self) -> bool:
        return self.partition_column is None or len(self.partitions) == self.partitions_total


@dataclass
class Job:
    project: str
    job_id: str
    location: str
    principal: str
    sql: str
    method: str
    created_ms: int
    plan: engine.Plan | None = None
    error: BigQueryError | None = None
    polls_left: int = 0
    cancelled: bool = False
    query_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def reference(self) -> Obj:
        return {"projectId": self.project, "jobId": self.job_id, "location": self.location}

    def poll(self) -> bool:
        """One status check: True once the job is done."""
        if self.polls_left > 0:
            self.polls_left -= 1
            return False
        return True


class BigQueryApp:
    """WSGI app answering like bigquery.googleapis.com (and Google's token endpoint)."""

    def __init__(
        self,
        dataset: GCPBillingDataset,
        tables: Iterable[TableSpec],
        *,
        pending_polls: int = 1,
        page_bytes: int = PAGE_BYTES,
        allow_anonymous: bool = False,
        projects: Iterable[str] | None = None,
    ) -> None:
        self.dataset = dataset
        self.tables = {spec.full_id: spec for spec in tables}
        # None: every project exists; else only these (and the tables' own projects).
        self.projects = (
            None
            if projects is None
            else frozenset(projects) | {spec.project for spec in self.tables.values()}
        )
        self.pending_polls = pending_polls
        self.page_bytes = page_bytes
        self.allow_anonymous = allow_anonymous
        self.base_url = ""  # set when served; used for token_uri / aud checks
        self.accounts: dict[str, Account] = {}
        self._tokens: dict[str, str] = {}
        self._jobs: dict[tuple[str, str], Job] = {}
        self._queries: list[QueryRecord] = []
        self._lock = threading.Lock()
        self._job_numbers = itertools.count(1)

    # ------------------------------------------------------------------ accounts
    def add_account(
        self,
        email: str,
        *,
        tables: Iterable[str] = ("*",),
        job_projects: Iterable[str] = ("*",),
        private_key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
    ) -> Account:
        """A service account; ``private_key``/``key_id``: a key pair made elsewhere whose
        public half was uploaded (Google keeps only that half), else a key Google made."""
        key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        account = Account(
            email=email,
            key_id=key_id or secrets.token_hex(20),
            private_key=key,
            tables=frozenset(tables),
            job_projects=frozenset(job_projects),
        )
        with self._lock:
            self.accounts[email] = account
        return account

    def credentials_info(self, email: str, project_id: str) -> Obj:
        """A service-account key file (JSON) for ``email``, its token_uri at this fake."""
        account = self.accounts[email]
        pem = account.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        base = self.base_url
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": account.key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(int(hashlib.sha256(email.encode()).hexdigest()[:17], 16)),
            "auth_uri": f"{base}/o/oauth2/auth",
            "token_uri": f"{base}{TOKEN_PATH}",
            "auth_provider_x509_cert_url": f"{base}/oauth2/v1/certs",
            "client_x509_cert_url": f"{base}/robot/v1/metadata/x509/{email}",
            "universe_domain": "googleapis.com",
        }

    @property
    def queries(self) -> list[QueryRecord]:
        with self._lock:
            return list(self._queries)

    def clear_queries(self) -> None:
        with self._lock:
            self._queries.clear()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        try:
            if path == TOKEN_PATH:
                status, payload = self.token(environ)
            else:
                status, payload = self.handle(environ, path)
        except BigQueryError as err:
            status, payload = err.status, err.body()
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = [
            ("Content-Type", "application/json; charset=UTF-8"),
            ("Content-Length", str(len(body))),
            ("Vary", "Origin, X-Origin, Referer"),
        ]
        start_response(f"{status} {REASONS.get(status, 'Error')}", headers)
        return [body]

    def handle(self, environ: WSGIEnvironment, path: str) -> tuple[int, Obj]:
        method = environ.get("REQUEST_METHOD", "GET")
        if not path.startswith(API + "/projects/"):
            raise BigQueryError(404, f"Not found: URL {path}", "notFound")
        parts = path[len(API) + 1 :].split("/")
        principal = self.authenticate(environ)
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        project = parts[1]
        route = parts[2:]
        if route == ["queries"] and method == "POST":
            return 200, self.jobs_query(project, principal, _body(environ))
        if route == ["jobs"] and method == "POST":
            return 200, self.jobs_insert(project, principal, _body(environ))
        if len(route) == 2 and route[0] == "jobs" and method == "GET":
            return 200, self.jobs_get(project, route[1], principal, query)
        if len(route) == 3 and route[0] == "jobs" and route[2] == "cancel" and method == "POST":
            return 200, self.jobs_cancel(project, route[1], principal, query)
        if len(route) == 2 and route[0] == "queries" and method == "GET":
            return 200, self.get_query_results(project, route[1], principal, query)
        if len(route) == 4 and route[0] == "datasets" and route[2] == "tables" and method == "GET":
            return 200, self.tables_get(project, route[1], route[3], principal)
        if route and route[0] in {"queries", "jobs", "datasets"}:
            raise BigQueryError(405, f"Method {method} not allowed for {path}", "badRequest")
        raise BigQueryError(404, f"Not found: URL {path}", "notFound")

    # ------------------------------------------------------------------ auth
    def authenticate(self, environ: WSGIEnvironment) -> str:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header:
            if self.allow_anonymous:
                return ANONYMOUS
            raise BigQueryError(
                401,
                MISSING_CREDENTIAL,
                "required",
                location="Authorization",
                locationType="header",
            )
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token:
            with self._lock:
                email = self._tokens.get(token)
            if email is None and token.count(".") == 2:
                email = self._self_signed(token)
            if email is not None and not self.accounts[email].disabled:
                return email
        raise BigQueryError(
            401, INVALID_CREDENTIAL, "authError", location="Authorization", locationType="header"
        )

    def _self_signed(self, token: str) -> str | None:
        try:
            header, claims = self._verify_jwt(token)
        except ValueError:
            return None
        email = str(claims.get("iss", ""))
        account = self.accounts.get(email)
        if account is None or header.get("kid") != account.key_id:
            return None
        return email

    def _verify_jwt(self, token: str) -> tuple[Obj, Obj]:
        try:
            head_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(_b64decode(head_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except (ValueError, binascii.Error) as exc:
            raise ValueError("Invalid JWT") from exc
        account = self.accounts.get(str(claims.get("iss", "")))
        if account is None:
            raise LookupError(str(claims.get("iss", "")))
        if header.get("alg") != "RS256":
            raise ValueError("Invalid JWT Signature.")
        try:
            account.private_key.public_key().verify(
                signature,
                f"{head_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise ValueError("Invalid JWT Signature.") from None
        now = time.time()
        if not (float(claims.get("iat", 0)) - 300 <= now <= float(claims.get("exp", 0)) + 300):
            raise ValueError(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim."
            )
        return header, claims

    def token(self, environ: WSGIEnvironment) -> tuple[int, Obj]:
        """Google's OAuth 2.0 token endpoint, JWT bearer grant only."""
        if environ.get("REQUEST_METHOD") != "POST":
            return 405, {"error": "invalid_request", "error_description": "POST only"}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode())
        grant = form.get("grant_type", [""])[0]
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": f"Invalid grant_type: {grant}",
            }
        assertion = form.get("assertion", [""])[0]
        try:
            _, claims = self._verify_jwt(assertion)
        except LookupError:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid grant: account not found",
            }
        except ValueError as exc:
            return 400, {"error": "invalid_grant", "error_description": str(exc)}
        email = str(claims["iss"])
        if self.accounts[email].disabled:
            return 400, {
                "error": "invalid_grant",
                "error_description": "Invalid grant: account not found",
            }
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & set(SCOPES):
            return 400, {
                "error": "invalid_scope",
                "error_description": "Invalid OAuth scope or ID token audience provided.",
            }
        access_token = "ya29." + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[access_token] = email
        return 200, {"access_token": access_token, "expires_in": 3599, "token_type": "Bearer"}

    # ------------------------------------------------------------------ tables
    def table(
        self, project: str, dataset: str, table: str, location: str | None, *, query: bool = False
    ) -> TableSpec:
        """The table, or BigQuery's 404: queries say in which location they looked."""
        full = f"{project}.{dataset}.{table}"
        spec = self.tables.get(full)
        where = f" was not found in location {location or 'US'}" if query else ""
        if spec is None:
            if not any(s.project == project and s.dataset == dataset for s in self.tables.values()):
                raise BigQueryError(
                    404, f"Not found: Dataset {project}:{dataset}{where}", "notFound"
                )
            raise BigQueryError(
                404, f"Not found: Table {project}:{dataset}.{table}{where}", "notFound"
            )
        if location and location.upper() != spec.location.upper():
            raise BigQueryError(
                404,
                f"Not found: Dataset {project}:{dataset} was not found in location {location}",
                "notFound",
            )
        return spec

    def tables_get(self, project: str, dataset: str, table: str, principal: str) -> Obj:
        spec = self.table(project, dataset, table, None)
        account = self.accounts.get(principal)
        if principal != ANONYMOUS and (account is None or not account.can_read(spec.full_id)):
            raise BigQueryError(
                403,
                f"Access Denied: Table {spec.label}: Permission bigquery.tables.get denied on "
                f"table {spec.label} (or it may not exist).",
                "accessDenied",
            )
        rows = self.dataset.rows(spec.kind)
        resource: Obj = {
            "kind": "bigquery#table",
            "etag": hashlib.md5(spec.full_id.encode(), usedforsecurity=False).hexdigest(),
            "id": spec.label,
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "schema": engine.schema_json(list(SCHEMAS[spec.kind])),
            "numRows": str(len(rows)),
            "location": spec.location,
            "type": "VIEW" if spec.view else "TABLE",
            "creationTime": str(self.dataset.start // 1000),
        }
        if spec.partition_column and not spec.view:
            partitioning: Obj = {"type": "DAY"}
            if spec.partition_column != "_PARTITIONTIME":
                partitioning["field"] = spec.partition_column
            resource["timePartitioning"] = partitioning
            resource["requirePartitionFilter"] = spec.require_partition_filter
        if spec.view:
            view_sql = f"SELECT * FROM `{spec.full_id}`"  # noqa: S608 - the table's own id
            resource["view"] = {"query": view_sql, "useLegacySql": False}
        return resource

    # ------------------------------------------------------------------ jobs
    def jobs_query(self, project: str, principal: str, body: Obj) -> Obj:
        self._check_jobs(project, principal)
        request_id = str(body.get("requestId") or "")
        job_id = f"job_{request_id.replace('-', '_')}" if request_id else self._new_job_id()
        with self._lock:
            earlier = self._jobs.get((project, job_id)) if request_id else None
        if earlier is not None and earlier.sql == str(body.get("query") or ""):
            # requestId makes jobs.query idempotent: a retry of a request whose answer was
            # lost (a timeout, a cut body) gets the job the first one started.
            job = earlier
        else:
            job = self._run(project, job_id, principal, body, body.get("location"), "jobs.query")
        if job.error is not None:
            raise job.error
        int64 = bool((body.get("formatOptions") or {}).get("useInt64Timestamp"))
        if not job.poll():
            return {
                "kind": "bigquery#queryResponse",
                "jobReference": job.reference,
                "jobComplete": False,
            }
        max_results = body.get("maxResults")
        return {
            "kind": "bigquery#queryResponse",
            **self._results(job, 0, None if max_results is None else int(max_results), int64),
        }

    def jobs_insert(self, project: str, principal: str, body: Obj) -> Obj:
        self._check_jobs(project, principal)
        reference = body.get("jobReference") or {}
        job_id = str(reference.get("jobId") or self._new_job_id())
        config = (body.get("configuration") or {}).get("query")
        if not isinstance(config, dict):
            raise BigQueryError(400, "the finfocus sandbox runs query jobs only", "invalid")
        job = self._run(
            project, job_id, principal, config, reference.get("location"), "jobs.insert"
        )
        return self._job_resource(job, check=False)

    def jobs_get(self, project: str, job_id: str, principal: str, query: dict[str, str]) -> Obj:
        job = self._job(project, job_id, principal, query.get("location"))
        return self._job_resource(job, check=True)

    def jobs_cancel(self, project: str, job_id: str, principal: str, query: dict[str, str]) -> Obj:
        job = self._job(project, job_id, principal, query.get("location"))
        job.cancelled = True
        job.polls_left = 0
        return {"kind": "bigquery#jobCancelResponse", "job": self._job_resource(job, check=False)}

    def get_query_results(
        self, project: str, job_id: str, principal: str, query: dict[str, str]
    ) -> Obj:
        job = self._job(project, job_id, principal, query.get("location"))
        if job.error is not None:
            raise job.error
        if not job.poll():
            return {
                "kind": "bigquery#getQueryResultsResponse",
                "etag": job.query_id,
                "jobReference": job.reference,
                "jobComplete": False,
            }
        int64 = query.get("formatOptions.useInt64Timestamp", "").lower() == "true"
        start = 0
        if query.get("pageToken"):
            start = self._decode_token(job, query["pageToken"])
        elif query.get("startIndex"):
            start = _integer(query["startIndex"], "startIndex")
        max_results = _integer(query["maxResults"], "maxResults") if "maxResults" in query else None
        payload: Obj = {
            "kind": "bigquery#getQueryResultsResponse",
            "etag": job.query_id,
            **self._results(job, start, max_results, int64),
        }
        wanted = query.get("fields")
        if wanted:
            keep = {name.strip() for name in wanted.split(",")}
            payload = {k: v for k, v in payload.items() if k in keep}
        return payload

    def empty_page(self, environ: WSGIEnvironment) -> Obj:
        """A complete, empty page that still hands out a page token (for faults)."""
        path = environ.get("PATH_INFO", "")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        parts = path[len(API) + 1 :].split("/")
        page: Obj = {"kind": "bigquery#getQueryResultsResponse", "jobComplete": True, "rows": []}
        if len(parts) == 4 and parts[2] == "queries":
            with self._lock:
                job = self._jobs.get((parts[1], parts[3]))
            if job is not None and job.plan is not None:
                token = query.get("pageToken") or self._encode_token(job, 0)
                page.update(
                    jobReference=job.reference,
                    totalRows=str(len(job.plan.rows)),
                    schema=engine.schema_json(job.plan.fields),
                    pageToken=token,
                )
        return page

    # -- internals
    def _check_jobs(self, project: str, principal: str) -> None:
        if self.projects is not None and project not in self.projects:
            raise BigQueryError(404, f"Not found: Project {project}", "notFound")
        if principal == ANONYMOUS:
            return
        account = self.accounts[principal]
        if not account.can_run_jobs(project):
            raise BigQueryError(
                403,
                f"Access Denied: Project {project}: User does not have bigquery.jobs.create "
                f"permission in project {project}.",
                "accessDenied",
            )

    def _new_job_id(self) -> str:
        return f"job_finfocus_{next(self._job_numbers):06d}_{secrets.token_hex(6)}"

    def _run(
        self,
        project: str,
        job_id: str,
        principal: str,
        config: Obj,
        location: Any,
        method: str,
    ) -> Job:
        sql = str(config.get("query") or "")
        with self._lock:
            if (project, job_id) in self._jobs:
                raise BigQueryError(
                    409, f"Already Exists: Job {project}:{location or 'US'}.{job_id}", "duplicate"
                )
        job = Job(
            project=project,
            job_id=job_id,
            location=str(location or "US"),
            principal=principal,
            sql=sql,
            method=method,
            created_ms=int(time.time() * 1000),
            polls_left=self.pending_polls,
        )
        params: dict[str, tuple[str, Any]] = {}
        spec: TableSpec | None = None
        try:
            if config.get("useLegacySql"):
                raise BigQueryError(
                    400,
                    "Legacy SQL is not supported by the finfocus sandbox; set useLegacySql to "
                    "false",
                    "invalidQuery",
                )
            if config.get("dryRun"):
                raise BigQueryError(
                    400, "dryRun is not supported by the finfocus sandbox", "invalid"
                )
            params = _parameters(config)
            statement = engine.parse(sql, params)
            spec = self._resolve(statement.table, location)
            job.location = spec.location
            account = self.accounts.get(principal)
            if principal != ANONYMOUS and (account is None or not account.can_read(spec.full_id)):
                raise BigQueryError(
                    403,
                    f"Access Denied: Table {spec.label}: User does not have permission to query "
                    f"table {spec.label}, or perhaps it does not exist.",
                    "accessDenied",
                )
            with self.dataset.lock:
                rows = self.dataset.rows(spec.kind)
                job.plan = engine.plan(
                    statement,
                    SCHEMAS[spec.kind],
                    rows,
                    None if spec.view else spec.partition_column,
                    require_partition_filter=spec.require_partition_filter,
                    table_label=spec.full_id,
                )
        except engine.QueryError as exc:
            job.error = BigQueryError(
                exc.status, str(exc), exc.reason, location="q", locationType="parameter"
            )
        except BigQueryError as exc:
            job.error = exc
        plan = job.plan
        record = QueryRecord(
            job_id=job_id,
            method=method,
            principal=principal,
            project=project,
            location=job.location,
            sql=sql,
            parameters={name: str(value) for name, (_, value) in params.items()},
            table=spec.full_id if spec else None,
            partition_column=plan.partition_column if plan else None,
            partitions=tuple(plan.partitions) if plan else (),
            partitions_total=plan.partitions_total if plan else 0,
            rows_scanned=plan.rows_scanned if plan else 0,
            rows_returned=len(plan.rows) if plan else 0,
            bytes_processed=plan.bytes_processed if plan else 0,
            error=job.error.message if job.error else None,
        )
        with self._lock:
            self._jobs[(project, job_id)] = job
            self._queries.append(record)
        return job

    def _resolve(self, table: str, location: Any) -> TableSpec:
        project, dataset, name = table.split(".")
        return self.table(project, dataset, name, str(location) if location else None, query=True)

    def _job(self, project: str, job_id: str, principal: str, location: str | None) -> Job:
        with self._lock:
            job = self._jobs.get((project, job_id))
        if job is None or (location and location.upper() != job.location.upper()):
            raise BigQueryError(
                404, f"Not found: Job {project}:{location or 'US'}.{job_id}", "notFound"
            )
        if principal not in {job.principal, ANONYMOUS}:
            raise BigQueryError(
                403,
                f"Access Denied: Job {project}:{job.location}.{job_id}: User does not have "
                f"bigquery.jobs.get permission for job {project}:{job.location}.{job_id}.",
                "accessDenied",
            )
        return job

    def _job_resource(self, job: Job, *, check: bool) -> Obj:
        done = (
            job.error is not None or job.cancelled or (job.poll() if check else job.polls_left == 0)
        )
        status: Obj = {"state": "DONE" if done else "RUNNING"}
        if job.error is not None:
            item = {"reason": job.error.reason, "message": job.error.message}
            status.update(errorResult=item, errors=[item])
        statistics: Obj = {
            "creationTime": str(job.created_ms),
            "startTime": str(job.created_ms + 7),
        }
        if done:
            statistics["endTime"] = str(job.created_ms + 250)
        if job.plan is not None:
            processed = job.plan.bytes_processed
            billed = max(MIN_BILLED_BYTES, -(-processed // (1024 * 1024)) * 1024 * 1024)
            statistics["totalBytesProcessed"] = str(processed)
            statistics["query"] = {
                "totalBytesProcessed": str(processed),
                "totalBytesBilled": str(billed),
                "totalPartitionsProcessed": str(len(job.plan.partitions)),
                "cacheHit": False,
                "statementType": "SELECT",
            }
            if done:
                statistics["query"]["schema"] = engine.schema_json(job.plan.fields)
        return {
            "kind": "bigquery#job",
            "etag": job.query_id,
            "id": f"{job.project}:{job.location}.{job.job_id}",
            "user_email": job.principal,
            "jobReference": job.reference,
            "configuration": {
                "jobType": "QUERY",
                "query": {
                    "query": job.sql,
                    "destinationTable": {
                        "projectId": job.project,
                        "datasetId": "_"
                        + hashlib.sha1(job.principal.encode(), usedforsecurity=False).hexdigest(),
                        "tableId": "anon" + job.query_id,
                    },
                    "writeDisposition": "WRITE_TRUNCATE",
                    "priority": "INTERACTIVE",
                    "useLegacySql": False,
                },
            },
            "status": status,
            "statistics": statistics,
        }

    def _results(self, job: Job, start: int, max_results: int | None, int64: bool) -> Obj:
        plan = job.plan
        assert plan is not None
        total = len(plan.rows)
        encode = engine.row_encoder(plan.fields, int64_timestamps=int64)
        rows: list[Obj] = []
        size = 0
        index = start
        limit = total if max_results is None else min(total, start + max(0, max_results))
        row_size = 0
        while index < limit:
            encoded = encode(plan.rows[index])
            if max_results is None:
                if not row_size:  # rows of a table are alike: measure one, count the rest
                    row_size = engine.encoded_size(encoded)
                size += row_size
                if rows and size > self.page_bytes:
                    break
            rows.append(encoded)
            index += 1
        result: Obj = {
            "schema": engine.schema_json(plan.fields),
            "jobReference": job.reference,
            "totalRows": str(total),
            "totalBytesProcessed": str(plan.bytes_processed),
            "jobComplete": True,
            "cacheHit": False,
            "queryId": job.query_id,
        }
        if max_results != 0:
            result["rows"] = rows
            if index < total:
                result["pageToken"] = self._encode_token(job, index)
        return result

    def _encode_token(self, job: Job, offset: int) -> str:
        raw = f"{job.job_id}|{offset}|{job.query_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode_token(self, job: Job, token: str) -> int:
        try:
            raw = _b64decode(token).decode()
            job_id, offset, check = raw.split("|")
            if job_id != job.job_id or check != job.query_id:
                raise ValueError(token)
            return int(offset)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise BigQueryError(400, f"Invalid page token: {token[:40]}", "invalid") from None


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _body(environ: WSGIEnvironment) -> Obj:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b"{}"
    try:
        payload = json.loads(raw or b"{}")
    except ValueError:
        raise BigQueryError(400, "Invalid JSON payload received.", "parseError") from None
    if not isinstance(payload, dict):
        raise BigQueryError(400, "Invalid JSON payload received.", "parseError")
    return payload


def _integer(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BigQueryError(400, f"Invalid value for {name}: {text}", "invalid") from None
    if value < 0:
        raise BigQueryError(400, f"Invalid value for {name}: {text}", "invalid")
    return value


def _parameters(config: Obj) -> dict[str, tuple[str, Any]]:
    params: dict[str, tuple[str, Any]] = {}
    items = config.get("queryParameters") or []
    if items and str(config.get("parameterMode", "NAMED")).upper() != "NAMED":
        raise BigQueryError(
            400, "the finfocus sandbox supports named query parameters only", "invalidQuery"
        )
    for item in items:
        name = item.get("name")
        kind = str((item.get("parameterType") or {}).get("type", "STRING")).upper()
        value = (item.get("parameterValue") or {}).get("value")
        if not name or kind not in {"DATE", "TIMESTAMP", "STRING", "DATETIME"}:
            raise BigQueryError(
                400, f"Unsupported query parameter {name!r} of type {kind}", "invalidQuery"
            )
        params[str(name)] = ("TIMESTAMP" if kind == "DATETIME" else kind, value)
    return params


# ---------------------------------------------------------------------- faults
class GCPFaultProfile(FaultProfile):
    """BigQuery's own bodies for injected rate limits, server errors and empty pages.

    The client retries reasons ``rateLimitExceeded``, ``backendError``, ``internalError``
    and ``badGateway``; the profile answers with exactly those.
    """

    def __init__(self, app: BigQueryApp) -> None:
        self.app = app

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        message = (
            "Exceeded rate limits: too many api requests per user per method for this "
            "user_method. For more information, see "
            "https://cloud.google.com/bigquery/docs/troubleshoot-quotas"
        )
        body = error_body(429, message, "rateLimitExceeded")
        body["error"]["errors"][0]["domain"] = "usageLimits"
        return json_reply(429, body)

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        reason, message = {
            500: (
                "internalError",
                "An internal error occurred and the request could not be completed. This is "
                "usually caused by a transient issue. Retrying the job with back-off as "
                "described in the BigQuery SLA should solve the problem: "
                "https://cloud.google.com/bigquery/sla.",
            ),
            502: ("badGateway", "Bad gateway."),
            503: (
                "backendError",
                "Error encountered during execution. Retrying may solve the problem.",
            ),
            504: ("backendError", "Deadline exceeded; retrying may solve the problem."),
        }[status]
        return json_reply(status, error_body(status, message, reason))

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") == "POST" and path.endswith("/queries"):
            return self._empty_query_answer(environ, path)
        return json_reply(200, self.app.empty_page(environ))

    def _empty_query_answer(self, environ: WSGIEnvironment, path: str) -> Reply:
        """jobs.query answered with a finished job, no rows and a page token for the first
        row: BigQuery may hand back no rows at all in the first response."""
        try:
            status, payload = self.app.handle(environ, path)
        except BigQueryError as err:
            return json_reply(err.status, err.body())
        reference = payload.get("jobReference") or {}
        with self.app._lock:
            key = (str(reference.get("projectId")), str(reference.get("jobId")))
            job = self.app._jobs.get(key)
        if status == 200 and payload.get("jobComplete") and job is not None:
            payload = {**payload, "rows": [], "pageToken": self.app._encode_token(job, 0)}
        return json_reply(status, payload)


# ---------------------------------------------------------------------- server
DEFAULT_PROJECT = "finfocus-billing"
DEFAULT_DATASET = "billing_export"
DEFAULT_ACCOUNT = "tap-gcp@finfocus-billing.iam.gserviceaccount.com"


class FakeGCP(BackgroundServer):
    """The fake BigQuery API (and token endpoint) on 127.0.0.1, with faults and logs.

    fake = FakeGCP(ds)
    url = fake.start()
    info = fake.credentials_info()          # service-account JSON, token_uri at the fake
    fake.table_id("standard")    # finfocus-billing.billing_export.gcp_billing_export_v1_<ID>
    fake.queries                            # [QueryRecord], partitions scanned per query
    fake.stop()
    """

    def __init__(
        self,
        dataset: GCPBillingDataset,
        *,
        project: str = DEFAULT_PROJECT,
        dataset_id: str = DEFAULT_DATASET,
        location: str = "US",
        focus_partition_column: str | None = "ChargePeriodStart",
        focus_view: bool = False,
        require_partition_filter: bool = False,
        pending_polls: int = 1,
        page_bytes: int = PAGE_BYTES,
        allow_anonymous: bool = False,
        projects: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_requests: Any = None,
    ) -> None:
        self.dataset = dataset
        self.project = project
        suffix = dataset.billing_account_id.replace("-", "_")
        focus_dataset = f"gcp_billing_immutable_{suffix}_{location.lower()}"
        specs = [
            TableSpec(
                "standard",
                project,
                dataset_id,
                f"gcp_billing_export_v1_{suffix}",
                location,
                "_PARTITIONTIME",
                require_partition_filter,
            ),
            TableSpec(
                "resource",
                project,
                dataset_id,
                f"gcp_billing_export_resource_v1_{suffix}",
                location,
                "_PARTITIONTIME",
                require_partition_filter,
            ),
            TableSpec(
                "focus",
                project,
                focus_dataset,
                f"gcp_billing_export_focus_{suffix}",
                location,
                None if focus_view else focus_partition_column,
                require_partition_filter and not focus_view,
                view=focus_view,
            ),
        ]
        self.specs = {spec.kind: spec for spec in specs}
        self.app = BigQueryApp(
            dataset,
            specs,
            pending_polls=pending_polls,
            page_bytes=page_bytes,
            allow_anonymous=allow_anonymous,
            projects=projects,
        )
        self.app.add_account(DEFAULT_ACCOUNT)
        self.faults = FaultSet()
        injector = FaultInjector(self.app, self.faults, GCPFaultProfile(self.app))
        super().__init__(injector, host=host, port=port, echo_requests=echo_requests)

    def start(self) -> str:
        url = super().start()
        self.app.base_url = url
        return url

    def __enter__(self) -> FakeGCP:
        self.start()
        return self

    @property
    def api_url(self) -> str:
        """What google-cloud-bigquery takes as ``client_options={"api_endpoint": ...}``."""
        return self.url

    def table_id(self, kind: str) -> str:
        """``project.dataset.table`` of ``standard``, ``resource`` or ``focus``."""
        return self.specs[kind].full_id

    def add_service_account(
        self,
        email: str,
        *,
        tables: Iterable[str] = ("*",),
        job_projects: Iterable[str] = ("*",),
        private_key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
    ) -> str:
        """A service account allowed to read ``tables`` and run jobs in ``job_projects``
        (replacing one of the same email); ``private_key``: its key pair, made elsewhere."""
        self.app.add_account(
            email, tables=tables, job_projects=job_projects, private_key=private_key, key_id=key_id
        )
        return email

    def disable_service_account(self, email: str = DEFAULT_ACCOUNT) -> None:
        self.app.accounts[email].disabled = True

    def credentials_info(self, email: str = DEFAULT_ACCOUNT) -> Obj:
        if not self.app.base_url:
            raise RuntimeError("start the fake before asking for credentials (token_uri)")
        return self.app.credentials_info(email, self.project)

    @property
    def queries(self) -> list[QueryRecord]:
        return self.app.queries

    def clear_queries(self) -> None:
        self.app.clear_queries()


__all__ = [
    "DEFAULT_ACCOUNT",
    "BigQueryApp",
    "BigQueryError",
    "FakeGCP",
    "GCPFaultProfile",
    "QueryRecord",
    "TableSpec",
]
