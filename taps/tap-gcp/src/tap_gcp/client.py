"""BigQuery access for tap-gcp: credentials, the client, retries, errors, queries, values.

- Credentials: a service-account key (JSON text, a JSON object, or a path to the key
  file) or, without one, Application Default Credentials. Secrets are registered for
  redaction before anything can log them.
- The client is google-cloud-bigquery's, pointed at ``api_url`` when set
  (``client_options={"api_endpoint": ...}``). Every RPC (jobs.query, jobs.get,
  getQueryResults pages, tables.get) retries transient failures — BigQuery's retryable
  reasons (``rateLimitExceeded``, ``backendError``, ``internalError``, ``badGateway``),
  429/5xx, connection resets, timeouts and a 200 whose body is not JSON — at most
  ``max_retries`` times with capped exponential backoff and jitter (honouring
  ``Retry-After`` when sent); anything else fails at once.
- A query's rows are read page by page; a page the server replays (its next page token
  is the token that fetched it) is skipped, and a read that ends short of ``totalRows``
  resumes from the same job with ``startIndex``, so no row is lost or read twice; an
  answer to a new query that names a job an earlier query started (a replayed response)
  is retried as a new query.
- Values: FLOAT64 as the Decimal its shortest repr spells (never binary noise); NUMERIC
  as Decimal; TIMESTAMP as ISO 8601 UTC with ``Z``; RECORD as objects, REPEATED as arrays.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import random
import re
import time
import typing as t
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import google.auth
import google.auth.exceptions
import requests
from finfocus_common.errors import ConfigError, PermanentError, TransientError, one_line
from finfocus_common.redact import redact, register_secret
from finfocus_common.retry import retry_after_seconds
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import bigquery
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterator

    from google.cloud.bigquery.schema import SchemaField

UTC = dt.UTC
SCOPES = ("https://www.googleapis.com/auth/bigquery",)
RETRYABLE_REASONS = frozenset(
    {"rateLimitExceeded", "backendError", "internalError", "badGateway", "quotaExceeded"}
)
JOB_RETRY_REASONS = frozenset({"jobRateLimitExceeded", "jobBackendError", "jobInternalError"})
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    google.auth.exceptions.TransportError,
    api_exceptions.TooManyRequests,
    api_exceptions.InternalServerError,
    api_exceptions.BadGateway,
    api_exceptions.ServiceUnavailable,
    api_exceptions.GatewayTimeout,
    api_exceptions.RetryError,
)


# --- credentials and the client -------------------------------------------------------


def parse_credentials(value: t.Any) -> dict[str, t.Any] | None:
    """The credentials setting as a dict: JSON text, an object, or a key file path."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    text = str(value).strip()
    if not text.startswith("{"):
        path = Path(os.path.expanduser(text))
        if not path.is_file():
            raise ConfigError(
                "credentials is neither service-account JSON nor the path of a key file"
            )
        text = path.read_text()
    try:
        info = json.loads(text)
    except ValueError:
        raise ConfigError(
            "credentials is not valid JSON (expected a service-account key)"
        ) from None
    if not isinstance(info, dict):
        raise ConfigError("credentials must be a JSON object (a service-account key)")
    return info


def register_credential_secrets(raw: t.Any, info: dict[str, t.Any] | None) -> None:
    """Mask the key file, its private key (and each line of it) and key id everywhere."""
    if isinstance(raw, str):
        register_secret(raw.strip())
    if not info:
        return
    register_secret(json.dumps(info))
    for name in ("private_key", "private_key_id", "client_secret", "refresh_token"):
        secret = info.get(name)
        register_secret(secret)
        if isinstance(secret, str):
            for line in secret.splitlines():
                if len(line) >= 16 and "PRIVATE KEY" not in line:
                    register_secret(line)


def principal_of(credentials: t.Any) -> str:
    email = getattr(credentials, "service_account_email", None)
    if isinstance(email, str) and "@" in email:
        return email
    return "the configured credentials"


def make_client(config: t.Mapping[str, t.Any], info: dict[str, t.Any] | None) -> bigquery.Client:
    """google-cloud-bigquery's client, with the key (or ADC) and ``api_url``/``location``."""
    if info is not None:
        kind = info.get("type")
        try:
            if kind == "service_account":
                credentials: t.Any = service_account.Credentials.from_service_account_info(
                    info, scopes=list(SCOPES)
                )
            elif kind == "authorized_user":
                credentials = user_credentials.Credentials.from_authorized_user_info(
                    info, scopes=list(SCOPES)
                )
            else:
                raise ConfigError(
                    f"credentials of type {kind!r} are not supported: use a service-account "
                    "key, or Application Default Credentials for other kinds"
                )
        except (google.auth.exceptions.DefaultCredentialsError, ValueError) as exc:
            raise ConfigError(
                f"credentials is not a usable Google key file ({one_line(redact(str(exc)))})"
            ) from None
    else:
        try:
            credentials, _ = google.auth.default(scopes=list(SCOPES))
        except google.auth.exceptions.DefaultCredentialsError:
            raise ConfigError(
                "no Google credentials: set credentials (a service-account key) or configure "
                "Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth "
                "application-default login, or a metadata server)"
            ) from None
    options: dict[str, t.Any] = {}
    if config.get("api_url"):
        options["api_endpoint"] = str(config["api_url"]).rstrip("/")
        stay_on_endpoint(credentials)
    return bigquery.Client(
        project=str(config["project_id"]),
        credentials=credentials,
        location=config.get("location") or None,
        client_options=options or None,
    )


def stay_on_endpoint(credentials: t.Any) -> None:
    """With ``api_url`` set, call nothing but that endpoint and the key's token_uri.

    google-auth (2.4x+) looks up a service account's "regional access boundary" at
    iamcredentials.googleapis.com in a background thread on its first request; against a
    sandbox, a proxy or an air-gapped endpoint that call must not happen.
    """
    if hasattr(credentials, "_is_regional_access_boundary_lookup_required"):
        credentials._is_regional_access_boundary_lookup_required = lambda: False


# --- retries and errors -------------------------------------------------------------


def reason_of(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    try:
        return str(errors[0]["reason"]) if errors else ""
    except (KeyError, IndexError, TypeError):
        return ""


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: BigQuery's retryable reasons, 429/5xx, resets, timeouts, bad JSON."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    reason = reason_of(exc)
    if reason:
        return reason in RETRYABLE_REASONS or reason in JOB_RETRY_REASONS
    if isinstance(exc, ValueError) and not isinstance(exc, api_exceptions.GoogleAPIError):
        return True  # a 200 whose body is not JSON: a proxy page, a cut-off body
    return isinstance(exc, _TRANSIENT_TYPES)


class BoundedRetry(api_retry.Retry):
    """google-api-core's Retry, bounded by attempts (``max_retries``), not only by time.

    Waits ``base * 2**n`` seconds (capped at ``cap``) with full jitter, or what the
    server's ``Retry-After`` says; ``on_retry`` hears about every retry.
    """

    def __init__(
        self,
        max_retries: int,
        base: float,
        cap: float = 30.0,
        on_retry: Callable[[BaseException, int, float], None] | None = None,
    ) -> None:
        super().__init__(predicate=is_transient, initial=base, maximum=cap, timeout=None)
        self.max_retries = max_retries
        self.base = base
        self.cap = cap
        self.on_retry = on_retry

    def wait(self, exc: BaseException, attempt: int) -> float:
        hinted = retry_after_seconds(getattr(exc, "response", None))
        if hinted is not None:
            return hinted
        return random.uniform(0, min(self.cap, self.base * 2**attempt))

    def __call__(self, func: Callable[..., t.Any], on_error: t.Any = None) -> Callable[..., t.Any]:
        @functools.wraps(func)
        def wrapped(*args: t.Any, **kwargs: t.Any) -> t.Any:
            attempt = 0
            while True:
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if attempt >= self.max_retries or not is_transient(exc):
                        raise
                    wait = self.wait(exc, attempt)
                    attempt += 1
                    if self.on_retry is not None:
                        self.on_retry(exc, attempt, wait)
                    time.sleep(wait)

        return wrapped


def google_message(exc: BaseException) -> str:
    """Google's own message, without the client's "Location: ... Job ID: ..." footer."""
    message = getattr(exc, "message", None) or str(exc)
    first = str(message).strip().split("\n")[0]
    return one_line(first)


def translate(
    exc: BaseException, *, what: str, setting: str, principal: str, project_id: str
) -> Exception:
    """The one-line, secret-free FinfocusError for a failure reading ``what``."""
    if isinstance(exc, (PermanentError, TransientError)):
        return exc
    if isinstance(exc, google.auth.exceptions.RefreshError):
        if is_transient(exc) or getattr(exc, "retryable", False):
            return TransientError(f"Google's token endpoint kept failing for {principal}")
        detail = one_line(redact(str(exc.args[0] if exc.args else exc)))
        return PermanentError(
            f"Google rejected the credentials of {principal} ({detail}) before reading "
            f"{what}: check credentials"
        )
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError):
        return ConfigError(f"no usable Google credentials for {what}: {one_line(str(exc))}")
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        reason = reason_of(exc)
        code = exc.code or ""
        text = redact(google_message(exc))
        if isinstance(exc, api_exceptions.Unauthorized):
            return PermanentError(
                f"BigQuery rejected the credentials of {principal} (401 UNAUTHENTICATED) "
                f"reading {what}: check credentials"
            )
        if is_transient(exc):
            return TransientError(f"BigQuery kept failing ({code} {reason}) reading {what}: {text}")
        if isinstance(exc, api_exceptions.Forbidden):
            return PermanentError(
                f"access denied reading {what} ({setting}): {text} — {principal} needs "
                f"roles/bigquery.dataViewer on the table and roles/bigquery.jobUser on project "
                f"{project_id}"
            )
        if isinstance(exc, api_exceptions.NotFound) and re.search(
            rf"Not found: Project {re.escape(project_id)}(?![\w.:-])", text
        ):
            return PermanentError(
                f"project_id {project_id} not found ({text}) running the query of {what}: "
                "check project_id, the project the queries run (and are billed) in"
            )
        if isinstance(exc, api_exceptions.NotFound):
            return PermanentError(
                f"{what} ({setting}) not found: {text} — check the table id and location"
            )
        return PermanentError(f"BigQuery refused reading {what} ({code} {reason}): {text}")
    if is_transient(exc):
        kind = type(exc).__name__
        return TransientError(f"BigQuery kept failing ({kind}) reading {what}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


# --- tables --------------------------------------------------------------------------


@dataclass(frozen=True)
class TableInfo:
    """What tables.get says about a source table."""

    table_id: str
    fields: tuple[SchemaField, ...]
    partition_column: str | None  # "_PARTITIONTIME", a column name, or None (no partitions)
    partition_type: str | None  # TIMESTAMP/DATE type of a column partition
    is_view: bool
    location: str | None
    num_rows: int | None

    def field(self, name: str) -> SchemaField | None:
        for item in self.fields:
            if item.name == name:
                return item
        return None


def table_info(
    client: bigquery.Client, table_id: str, retry: BoundedRetry, timeout: float
) -> TableInfo:
    table = client.get_table(table_id, retry=retry, timeout=timeout)
    partitioning = table.time_partitioning
    column: str | None = None
    kind: str | None = None
    if partitioning is not None:
        column = partitioning.field or "_PARTITIONTIME"
        if partitioning.field:
            for item in table.schema:
                if item.name == partitioning.field:
                    kind = item.field_type
    return TableInfo(
        table_id=table_id,
        fields=tuple(table.schema),
        partition_column=column,
        partition_type=kind,
        is_view=table.table_type in {"VIEW", "MATERIALIZED_VIEW"},
        location=table.location,
        num_rows=table.num_rows,
    )


# --- JSON schema and values ----------------------------------------------------------

_SCALAR_SCHEMA: dict[str, dict[str, t.Any]] = {
    "STRING": {"type": ["string", "null"]},
    "BYTES": {"type": ["string", "null"], "contentEncoding": "base64"},
    "INTEGER": {"type": ["integer", "null"]},
    "INT64": {"type": ["integer", "null"]},
    "FLOAT": {"type": ["number", "null"]},
    "FLOAT64": {"type": ["number", "null"]},
    "NUMERIC": {"type": ["number", "null"]},
    "BIGNUMERIC": {"type": ["number", "null"]},
    "BOOLEAN": {"type": ["boolean", "null"]},
    "BOOL": {"type": ["boolean", "null"]},
    "TIMESTAMP": {"type": ["string", "null"], "format": "date-time"},
    "DATE": {"type": ["string", "null"], "format": "date"},
    "DATETIME": {"type": ["string", "null"]},
    "TIME": {"type": ["string", "null"]},
    "JSON": {},
    "GEOGRAPHY": {"type": ["string", "null"]},
}


def json_schema(item: SchemaField) -> dict[str, t.Any]:
    """JSON schema of a BigQuery field (RECORD: object; REPEATED: array; all nullable)."""
    if item.field_type in {"RECORD", "STRUCT"}:
        single: dict[str, t.Any] = {
            "type": ["object", "null"],
            "properties": {sub.name: json_schema(sub) for sub in item.fields},
        }
    else:
        single = dict(_SCALAR_SCHEMA.get(item.field_type, {"type": ["string", "null"]}))
    if item.mode == "REPEATED":
        items = {k: v for k, v in single.items()}
        if "type" in items:
            items["type"] = [x for x in items["type"] if x != "null"] or items["type"]
        return {"type": ["array", "null"], "items": items}
    return single


def decimal_of_float(value: float) -> Decimal:
    """The decimal a FLOAT64 was written from: its shortest repr (0.1, never 0.1000000000000000055)."""  # noqa: E501
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"not a finite number: {value!r}")
    number = Decimal(repr(value))
    return number if "E" not in str(number) else Decimal(format(number, "f"))


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _same(value: t.Any) -> t.Any:
    return value


def cell_parser(item: SchemaField) -> Callable[[t.Any], t.Any]:
    """Parse one cell of BigQuery's JSON rows ({"v": ...}) straight into a record value.

    The client's own per-row parsing rebuilds nested SchemaFields for every RECORD cell
    (most of a run's time on billing tables); this is compiled once per table. FLOAT64
    is read through the double it encodes and its shortest repr, NUMERIC as the decimal
    text, TIMESTAMP from int64 microseconds (or BigQuery's float seconds), RECORD as
    objects and REPEATED as arrays.
    """
    kind = item.field_type
    if kind in {"RECORD", "STRUCT"}:
        subs = [(sub.name, cell_parser(sub)) for sub in item.fields]

        def record(value: t.Any) -> t.Any:
            if value is None:
                return None
            return {
                name: parse(cell["v"]) for (name, parse), cell in zip(subs, value["f"], strict=True)
            }

        single: Callable[[t.Any], t.Any] = record
    elif kind in {"FLOAT", "FLOAT64"}:
        single = _float_text
    elif kind in {"NUMERIC", "BIGNUMERIC"}:
        single = _decimal_text
    elif kind in {"INTEGER", "INT64"}:
        single = _int_text
    elif kind in {"BOOLEAN", "BOOL"}:
        single = _bool_text
    elif kind == "TIMESTAMP":
        single = _timestamp_text
    elif kind == "JSON":
        single = _json_text
    else:  # STRING, BYTES (base64 already), DATE, DATETIME, TIME, GEOGRAPHY
        single = _same
    if item.mode == "REPEATED":

        def repeated(value: t.Any) -> t.Any:
            return None if value is None else [single(cell["v"]) for cell in value]

        return repeated
    return single


def row_parser(
    fields: tuple[SchemaField, ...],
) -> Callable[[t.Any, dict[str, t.Any]], dict[str, t.Any]]:
    """An ``item_to_value`` for the client's RowIterator: a JSON row to a record dict."""
    cells = [(f.name, cell_parser(f)) for f in fields]

    def parse(iterator: t.Any, resource: dict[str, t.Any]) -> dict[str, t.Any]:
        return {name: fn(cell["v"]) for (name, fn), cell in zip(cells, resource["f"], strict=True)}

    return parse


_EPOCH = dt.datetime(1970, 1, 1)


def _float_text(value: t.Any) -> t.Any:
    return None if value is None else decimal_of_float(float(value))


def _decimal_text(value: t.Any) -> t.Any:
    return None if value is None else Decimal(value)


def _int_text(value: t.Any) -> t.Any:
    return None if value is None else int(value)


def _bool_text(value: t.Any) -> t.Any:
    return None if value is None else str(value).lower() == "true"


def _json_text(value: t.Any) -> t.Any:
    return None if value is None else json.loads(value)


def _timestamp_text(value: t.Any) -> t.Any:
    if value is None:
        return None
    text = str(value)
    if text.lstrip("-").isdigit():
        micros = int(text)
    else:  # BigQuery's default encoding: seconds as a double, "1.7702208E9"
        micros = int((Decimal(text) * 1_000_000).to_integral_value())
    moment = _EPOCH + dt.timedelta(microseconds=micros)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- keys -----------------------------------------------------------------------------


def _canonical(value: t.Any) -> t.Any:
    """Nulls and empty arrays/objects dropped (a column added later keeps keys stable)."""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            clean = _canonical(item)
            if type(clean) in (list, dict) and not clean:
                continue
            out[key] = clean
        return out
    if kind is list:
        return [_canonical(item) for item in value]
    return value


def canonical_json(value: t.Any) -> str:
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=str)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def lookup(record: dict[str, t.Any], path: str) -> t.Any:
    value: t.Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


# --- reading a query ------------------------------------------------------------------


@dataclass
class QueryResult:
    """What one query read (for the log line and the bookmark)."""

    job_id: str = ""
    rows: int = 0
    total_rows: int = 0
    bytes_processed: int | None = None
    replayed_pages: int = 0
    resumed: int = 0


class QueryRunner:
    """Runs one SELECT with query parameters and yields its rows as dicts."""

    def __init__(
        self,
        client: bigquery.Client,
        *,
        retry: BoundedRetry,
        max_retries: int,
        page_size: int,
        timeout: float,
        logger: logging.Logger,
    ) -> None:
        self.client = client
        self.retry = retry
        self.max_retries = max_retries
        self.page_size = page_size
        self.timeout = timeout
        self.logger = logger
        self._jobs_seen: set[str] = set()

    def rows(
        self,
        sql: str,
        parameters: list[bigquery.ScalarQueryParameter],
        result: QueryResult,
        location: str | None,
        parse: Callable[[t.Any, dict[str, t.Any]], dict[str, t.Any]] | None = None,
    ) -> Iterator[dict[str, t.Any]]:
        """Rows as dicts: parsed by ``parse`` (see row_parser) or by the client."""
        config = bigquery.QueryJobConfig(query_parameters=parameters, use_legacy_sql=False)
        job: bigquery.QueryJob | None = None
        failures = 0
        while True:
            try:
                if job is None:
                    job = self.client.query(
                        sql,
                        job_config=config,
                        location=location,
                        retry=self.retry,
                        job_retry=None,
                        timeout=self.timeout,
                        api_method="QUERY",
                    )
                    # Every query starts a job of its own: an answer naming a job an earlier
                    # query started is a replay (a caching proxy, a confused balancer), and
                    # its rows belong to that other query.
                    if job.job_id in self._jobs_seen:
                        raise _ReplayedJobError(job.job_id)
                    self._jobs_seen.add(job.job_id or "")
                elif result.rows:  # resume the same job's results where we stopped
                    job = t.cast(
                        "bigquery.QueryJob",
                        self.client.get_job(
                            job.job_id,
                            location=job.location,
                            retry=self.retry,
                            timeout=self.timeout,
                        ),
                    )
                    result.resumed += 1
                result.job_id = job.job_id or ""
                iterator = job.result(
                    page_size=self.page_size,
                    retry=self.retry,
                    start_index=result.rows or None,
                    job_retry=None,
                )
                if parse is not None:
                    iterator.item_to_value = parse  # the api_core Iterator's public hook
                yield from self._pages(iterator, result)
                result.bytes_processed = job.total_bytes_processed
                if result.rows < result.total_rows:
                    raise _ShortReadError(result.rows, result.total_rows)
                if result.rows > result.total_rows:
                    raise TransientError(
                        f"BigQuery returned {result.rows} rows for job {result.job_id}, "
                        f"which reports {result.total_rows}"
                    )
                return
            except Exception as exc:
                if not isinstance(exc, (_ShortReadError, _ReplayedJobError)) and not is_transient(
                    exc
                ):
                    raise
                failures += 1
                if failures > self.max_retries:
                    if isinstance(exc, _ReplayedJobError):
                        raise TransientError(str(exc)) from None
                    raise
                if isinstance(exc, _ReplayedJobError) or (
                    reason_of(exc) in JOB_RETRY_REASONS and not result.rows
                ):
                    job = None  # the job failed, or is not ours: run the query again
                wait = self.retry.wait(exc, failures - 1)
                self.logger.warning(
                    "Retrying job %s in %.1fs (attempt %d): %s",
                    result.job_id or "(new)",
                    wait,
                    failures,
                    redact(one_line(str(exc)))[:300],
                )
                time.sleep(wait)

    def _pages(self, iterator: t.Any, result: QueryResult) -> Iterator[dict[str, t.Any]]:
        used: str | None = iterator.next_page_token  # the token that fetches the next page
        for page in iterator.pages:
            after = iterator.next_page_token
            result.total_rows = int(iterator.total_rows or 0)
            if after is not None and after == used:
                # BigQuery never answers a page with the token that fetched it: this body
                # is a replay of an earlier one. Its rows were emitted; skip them.
                result.replayed_pages += 1
                self.logger.warning(
                    "Skipping a replayed page of job %s (%d rows)", result.job_id, page.num_items
                )
                continue
            used = after
            for row in page:
                result.rows += 1
                yield row if isinstance(row, dict) else dict(row.items())


class _ReplayedJobError(Exception):
    def __init__(self, job_id: str | None) -> None:
        super().__init__(
            f"BigQuery answered a new query with job {job_id}, which an earlier query started "
            "(a replayed response)"
        )


class _ShortReadError(Exception):
    def __init__(self, read: int, total: int) -> None:
        super().__init__(f"read {read} of {total} rows")
