"""S3 access for tap-aws: the client, errors, finding deliveries, and reading their rows.

A *delivery* is what one manifest describes: one billing period of one export, as AWS
last (re)delivered it. Data Exports (CUR 2.0 and FOCUS) manifests live at
``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/[<folder>/]<export>-Manifest.json`` and
name their files in ``dataFiles``; legacy CUR manifests at
``<prefix>/<report>/yyyymmdd-yyyymmdd/<report>-Manifest.json`` name theirs in
``reportKeys``. Files are read where the manifest says, never by listing folders, so both
delivery preferences (overwrite or create new versions) read the same way. When several
manifests describe one period, the most recently written one wins.

Rows stream: Parquet by row batches, gzip CSV line by line (on the BATCH path, a MiB
block at a time, see arrow_batches), all through ranged GETs of a few MiB (each retried
by botocore) pinned to the object's ETag, so memory stays flat whatever the size of a
month and a file replaced mid-read is detected, not mixed.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import logging
import re
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import boto3
import botocore.exceptions
from botocore.config import Config
from finfocus_common.errors import ConfigError, PermanentError, TransientError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    import pyarrow as pa
    import pyarrow.parquet as pq

_LOG = logging.getLogger(__name__)
UTC = dt.UTC
RANGE_BYTES = 8 * 1024 * 1024

_DATA_EXPORT_MANIFEST = re.compile(
    r"^(?P<root>(?:.+/)?)(?P<name>[^/]+)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/"
    r"(?:[^/]+/)?(?P=name)-Manifest\.json$"
)
_LEGACY_MANIFEST = re.compile(
    r"^(?P<root>(?:.+/)?)(?P<name>[^/]+)/(?P<start>\d{8})-(?P<end>\d{8})/(?P=name)-Manifest\.json$"
)

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "AllAccessDisabled", "Forbidden", "403"}
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "503",
    "500",
    "502",
    "504",
}


# --- the client and its errors --------------------------------------------------------


def make_client(service: str, config: dict[str, t.Any]) -> t.Any:
    """A boto3 client with bounded, standard-mode retries (throttling, 5xx, timeouts)."""
    session = boto3.session.Session(
        aws_access_key_id=config.get("aws_access_key_id") or None,
        aws_secret_access_key=config.get("aws_secret_access_key") or None,
        aws_session_token=config.get("aws_session_token") or None,
        region_name="us-east-1" if service == "ce" else config.get("region") or "us-east-1",
    )
    retries = Config(
        retries={"max_attempts": int(config.get("max_attempts", 8)), "mode": "standard"},
        connect_timeout=float(config.get("request_timeout", 60)),
        read_timeout=float(config.get("request_timeout", 60)),
        user_agent_extra="finfocus-tap-aws",
    )
    endpoint = config.get("endpoint_url") if service == "s3" else config.get("ce_endpoint_url")
    return session.client(service, endpoint_url=endpoint or None, config=retries)


def translate(exc: Exception, what: str) -> Exception:
    """The one-line, secret-free error for a failed AWS call on `what` (e.g. s3://b/p)."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ConfigError(
            f"no AWS credentials for {what}: set aws_access_key_id and aws_secret_access_key, "
            "or configure the standard AWS credential chain (environment, profile, role)"
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return PermanentError(f"bucket {what.split('/')[2]!r} does not exist ({what})")
        if code in _CREDENTIAL_CODES:
            return PermanentError(
                f"AWS rejected the credentials ({code}) reading {what}: check "
                "aws_access_key_id, aws_secret_access_key and aws_session_token"
            )
        if code in _DENIED_CODES or status == 403:
            return PermanentError(
                f"access denied ({code or status}) reading {what}: the credentials need "
                "s3:ListBucket on the bucket and s3:GetObject on the export's keys"
            )
        if code == "NoSuchKey":
            return PermanentError(f"{what} is listed by its manifest but does not exist")
        if code in _TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            return TransientError(f"AWS kept failing ({code or status}) reading {what}")
        if code in {"PreconditionFailed", "412"}:
            return TransientError(f"{what} was replaced while being read; run again")
        return PermanentError(f"AWS refused reading {what}: {code or status}")
    if isinstance(
        exc,
        (
            botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError,
            botocore.exceptions.ConnectionClosedError,
            botocore.exceptions.ResponseStreamingError,
        ),
    ):
        return TransientError(f"could not reach AWS reading {what} ({type(exc).__name__})")
    return exc


# --- deliveries ------------------------------------------------------------------


@dataclass
class DeliveryInfo:
    """One billing period of one export, as its manifest describes it."""

    export_kind: str  # cur2 | cur | focus
    export_name: str
    billing_period: str  # YYYY-MM
    delivery_id: str  # Data Exports executionId, legacy assemblyId
    manifest_key: str
    delivered_at: str  # when the manifest was written (ISO 8601, UTC)
    files: list[str]  # S3 keys
    columns: list[tuple[str, str]]  # (column name in the data files, manifest type)
    file_format: str  # parquet | csv
    extra: dict[str, t.Any] = field(default_factory=dict)

    @property
    def state_key(self) -> str:
        return f"{self.export_kind}/{self.export_name}/{self.billing_period}"


@dataclass(frozen=True)
class _ManifestRef:
    key: str
    layout: str  # data_exports | legacy
    name: str
    period: str
    last_modified: dt.datetime


def _bucket_key(uri_or_key: str, bucket: str) -> str:
    if uri_or_key.startswith("s3://"):
        found_bucket, _, key = uri_or_key[5:].partition("/")
        if found_bucket != bucket:
            raise PermanentError(
                f"a manifest lists {uri_or_key}, outside bucket {bucket!r}; "
                "tap-aws reads one bucket"
            )
        return key
    return uri_or_key


class S3Exports:
    """Finds the deliveries under bucket/prefix and reads their rows."""

    def __init__(self, config: dict[str, t.Any]) -> None:
        self.config = config
        self.bucket = str(config["bucket"])
        self.prefix = str(config.get("prefix") or "").strip("/")
        self.s3 = make_client("s3", config)

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix + '/' if self.prefix else ''}"

    def _call(self, what: str, fn: Callable[..., t.Any], **kwargs: t.Any) -> t.Any:
        try:
            return fn(**kwargs)
        except Exception as exc:
            raise translate(exc, what) from None

    def _manifest_refs(self) -> list[_ManifestRef]:
        list_prefix = f"{self.prefix}/" if self.prefix else ""
        root = list_prefix
        wanted = self.config.get("export_name")
        refs = []
        token: str | None = None
        while True:
            kwargs: dict[str, t.Any] = {"Bucket": self.bucket, "Prefix": list_prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = self._call(self.where, self.s3.list_objects_v2, **kwargs)
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if not key.endswith("-Manifest.json"):
                    continue
                for layout, pattern in (
                    ("data_exports", _DATA_EXPORT_MANIFEST),
                    ("legacy", _LEGACY_MANIFEST),
                ):
                    match = pattern.match(key)
                    if not match or match["root"] != root:
                        continue
                    if wanted and match["name"] != wanted:
                        continue
                    period = (
                        match["period"]
                        if layout == "data_exports"
                        else f"{match['start'][:4]}-{match['start'][4:6]}"
                    )
                    refs.append(
                        _ManifestRef(key, layout, match["name"], period, obj["LastModified"])
                    )
            if not page.get("IsTruncated"):
                return refs
            token = page.get("NextContinuationToken")

    def deliveries(self) -> list[DeliveryInfo]:
        """The latest delivery of every export and billing period, by export then period."""
        latest: dict[tuple[str, str, str], _ManifestRef] = {}
        for ref in self._manifest_refs():
            slot = (ref.layout, ref.name, ref.period)
            current = latest.get(slot)
            if current is None or (ref.last_modified, ref.key) > (
                current.last_modified,
                current.key,
            ):
                latest[slot] = ref
        if not latest:
            what = (
                f"export {self.config['export_name']!r} " if self.config.get("export_name") else ""
            )
            raise PermanentError(
                f"no {what}manifests found under {self.where} (expected <prefix>/<export>/metadata/"
                "BILLING_PERIOD=YYYY-MM/<export>-Manifest.json or <prefix>/<report>/"
                "yyyymmdd-yyyymmdd/<report>-Manifest.json): check bucket, prefix and export_name"
            )
        found = [
            self._describe(ref) for ref in sorted(latest.values(), key=lambda r: (r.name, r.period))
        ]
        kind = self.config.get("export_kind") or "auto"
        if kind != "auto":
            found = [d for d in found if d.export_kind == kind]
            if not found:
                raise PermanentError(
                    f"no {kind} exports found under {self.where} (export_kind={kind})"
                )
        return found

    def _describe(self, ref: _ManifestRef) -> DeliveryInfo:
        what = f"s3://{self.bucket}/{ref.key}"
        body = self._call(what, self.s3.get_object, Bucket=self.bucket, Key=ref.key)["Body"].read()
        try:
            manifest = json.loads(body)
        except ValueError:
            raise PermanentError(f"{what} is not valid JSON") from None
        delivered_at = ref.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if ref.layout == "data_exports":
            files = [_bucket_key(f, self.bucket) for f in manifest.get("dataFiles") or []]
            columns = [
                (str(c["name"]), str(c.get("type", "string")))
                for c in manifest.get("columns") or []
            ]
            names = {name for name, _ in columns}
            query = str(manifest.get("queryStatement", "")).upper()
            focus = "FOCUS_" in query or {"BilledCost", "ChargeCategory"} <= names
            delivery_id = manifest.get("executionId")
            kind = "focus" if focus else "cur2"
        else:
            files = [_bucket_key(f, self.bucket) for f in manifest.get("reportKeys") or []]
            parquet = any(f.endswith(".parquet") for f in files)
            columns = [
                (
                    _legacy_parquet_name(c["category"], c["name"])
                    if parquet
                    else f"{c['category']}/{c['name']}",
                    str(c.get("type", "String")),
                )
                for c in manifest.get("columns") or []
            ]
            delivery_id = manifest.get("assemblyId")
            kind = "cur"
        if not delivery_id:
            raise PermanentError(
                f"{what} has no {'executionId' if kind != 'cur' else 'assemblyId'}"
            )
        parquet = any(f.endswith(".parquet") for f in files)
        return DeliveryInfo(
            export_kind=kind,
            export_name=ref.name,
            billing_period=ref.period,
            delivery_id=str(delivery_id),
            manifest_key=ref.key,
            delivered_at=delivered_at,
            files=files,
            columns=columns,
            file_format="parquet" if parquet else "csv",
        )

    # --- reading rows ------------------------------------------------------------

    def open(self, key: str) -> S3RangeFile:
        """The object as a seekable file; its size and ETag from a one-byte ranged GET."""
        what = f"s3://{self.bucket}/{key}"
        first = self._call(what, self.s3.get_object, Bucket=self.bucket, Key=key, Range="bytes=0-0")
        first["Body"].read()
        content_range = str(first.get("ContentRange") or "")
        size = (
            int(content_range.rpartition("/")[2])
            if "/" in content_range
            else int(first["ContentLength"])
        )
        return S3RangeFile(self, key, size, first.get("ETag"))

    def rows(self, delivery: DeliveryInfo, key: str, batch_rows: int) -> Iterator[dict[str, t.Any]]:
        """The rows of one data file, typed by the manifest (see `converter`)."""
        types = dict(delivery.columns)
        if delivery.file_format == "parquet":
            yield from self._parquet_rows(key, types, batch_rows)
        else:
            yield from self._csv_rows(key, types)

    def _parquet_batches(
        self, key: str, batch_rows: int
    ) -> Iterator[tuple[pq.ParquetFile, pa.RecordBatch]]:
        """The file's record batches, one row group at a time: each row group is one
        ranged read (pyarrow coalesces its columns), so memory stays flat whatever the
        size of the file."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from tap_aws.batches import dictionary_columns

        with self.open(key) as handle:
            try:
                parquet = pq.ParquetFile(handle)
                dictionaries = dictionary_columns(parquet)
                if dictionaries:
                    parquet = pq.ParquetFile(handle, read_dictionary=dictionaries)
                for group in range(parquet.num_row_groups):
                    for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group]):
                        yield parquet, batch
            except (pa.ArrowException, ValueError) as exc:
                raise PermanentError(
                    f"s3://{self.bucket}/{key} is not readable Parquet: {exc}"
                ) from None

    def _parquet_rows(
        self, key: str, types: dict[str, str], batch_rows: int
    ) -> Iterator[dict[str, t.Any]]:
        import pyarrow as pa

        converters: list[tuple[Callable[[pa.Array], pa.Array], Callable[[t.Any], t.Any]]] = []
        names: list[str] = []
        for parquet, batch in self._parquet_batches(key, batch_rows):
            if not names:
                names = parquet.schema_arrow.names
                converters = [
                    parquet_converter(parquet.schema_arrow.field(n).type, types.get(n), n)
                    for n in names
                ]
            try:
                columns = [
                    [convert(v) for v in _plain(prepare(batch.column(i))).to_pylist()]
                    for i, (prepare, convert) in enumerate(converters)
                ]
            except (pa.ArrowException, ValueError) as exc:
                raise PermanentError(
                    f"s3://{self.bucket}/{key} is not readable Parquet: {exc}"
                ) from None
            for values in zip(*columns, strict=True):
                yield dict(zip(names, values, strict=True))

    def arrow_batches(
        self,
        delivery: DeliveryInfo,
        key: str,
        batch_rows: int,
        properties: Mapping[str, t.Any],
    ) -> Iterator[pa.RecordBatch]:
        """The rows of one data file as Arrow record batches in batch-file types (see
        tap_aws.batches), tap fields included: the BATCH path's twin of ``rows``."""
        from tap_aws import batches

        fields = {
            "billing_period": delivery.billing_period,
            "delivery_id": delivery.delivery_id,
            "export_name": delivery.export_name,
            "source_file": key,
        }
        first_row = 1
        types = dict(delivery.columns)
        if delivery.file_format != "parquet":
            yield from self._csv_batches(key, types, batch_rows, properties, fields)
            return
        converters: list[Callable[[pa.Array], pa.Array]] = []
        for parquet, batch in self._parquet_batches(key, batch_rows):
            if not converters:
                schema = parquet.schema_arrow
                converters = [
                    batches.parquet_column_converter(schema.field(n).type, types.get(n), n)
                    for n in schema.names
                ]
            try:
                yield batches.with_tap_fields(batch, converters, fields, first_row)
            except batches.ConversionError as exc:
                raise PermanentError(
                    f"s3://{self.bucket}/{key} is not readable Parquet: {exc}"
                ) from None
            first_row += batch.num_rows

    def _csv_batches(
        self,
        key: str,
        types: dict[str, str],
        batch_rows: int,
        properties: Mapping[str, t.Any],
        fields: Mapping[str, str],
    ) -> Iterator[pa.RecordBatch]:
        """A CSV file's batches, column-wise where that is proven to give the row path's
        batches; otherwise (a bad value, a ragged line, an unusual text...) the row path
        takes over from the first row not yet yielded, so the batches and the errors stay
        exactly the row path's."""
        done = 0
        try:
            for batch in self.csv_batches_columnwise(key, types, batch_rows, properties, fields):
                yield batch
                done += batch.num_rows
        except (ConfigError, PermanentError, TransientError):
            raise  # S3 said no: reading again the other way would not help
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            _LOG.info("s3://%s/%s: reading it row by row (%s)", self.bucket, key, reason)
            yield from self.csv_batches_by_row(key, types, batch_rows, properties, fields, done)

    def csv_batches_columnwise(
        self,
        key: str,
        types: dict[str, str],
        batch_rows: int,
        properties: Mapping[str, t.Any],
        fields: Mapping[str, str],
    ) -> Iterator[pa.RecordBatch]:
        """The file read by pyarrow's streaming CSV reader and converted column by column
        (see tap_aws.batches). Raises where it cannot vouch for matching the row path."""
        from tap_aws import batches

        with self.open(key) as handle, self._csv_bytes(key, handle) as stream:
            header = batches.csv_header(stream)
            if header is None:
                return
            converters = [
                batches.csv_column_converter(
                    csv_kind(types.get(name), name),
                    batches.arrow_type_of(properties.get(name) or {}),
                    csv_converter(types.get(name), name),
                )
                for name in header
            ]
            first_row = 1
            for texts in batches.csv_text_batches(stream, header, batch_rows):
                yield batches.csv_text_to_batch(texts, converters, fields, first_row, properties)
                first_row += texts.num_rows

    def csv_batches_by_row(
        self,
        key: str,
        types: dict[str, str],
        batch_rows: int,
        properties: Mapping[str, t.Any],
        fields: Mapping[str, str],
        skip: int = 0,
    ) -> Iterator[pa.RecordBatch]:
        """The row path: the RECORD path's rows (see _csv_rows) gathered into batches of
        ``batch_rows`` (batches.rows_to_batch); the first ``skip`` rows left out."""
        from tap_aws import batches

        names: list[str] = []
        chunk: list[dict[str, t.Any]] = []
        for number, row in enumerate(self._csv_rows(key, types), start=1):
            if not names:
                names = list(dict.fromkeys([*row, *batches.TAP_FIELDS]))
            if number <= skip:
                continue
            row.update(fields, row_number=number)
            chunk.append(row)
            if len(chunk) >= batch_rows:
                yield batches.rows_to_batch(chunk, names, properties)
                chunk = []
        if chunk:
            yield batches.rows_to_batch(chunk, names, properties)

    @staticmethod
    def _csv_bytes(key: str, handle: S3RangeFile) -> io.BufferedReader[t.Any] | gzip.GzipFile:
        """The file's bytes, uncompressed when the key ends in .gz, read a range at a time."""
        raw = io.BufferedReader(handle, RANGE_BYTES)
        return gzip.GzipFile(fileobj=raw, mode="rb") if key.endswith(".gz") else raw

    def _csv_rows(self, key: str, types: dict[str, str]) -> Iterator[dict[str, t.Any]]:
        with self.open(key) as handle:
            raw: t.BinaryIO = t.cast("t.BinaryIO", self._csv_bytes(key, handle))
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                return
            converters = [csv_converter(types.get(name), name) for name in header]
            width = len(header)
            for line, values in enumerate(reader, start=2):
                if len(values) != width:
                    raise PermanentError(
                        f"s3://{self.bucket}/{key} line {line} has {len(values)} fields, "
                        f"its header {width}"
                    )
                try:
                    yield {
                        name: convert(value)
                        for name, convert, value in zip(header, converters, values, strict=True)
                    }
                except ValueError as exc:
                    raise PermanentError(f"s3://{self.bucket}/{key} line {line}: {exc}") from None


def _legacy_parquet_name(category: str, name: str) -> str:
    text = re.sub(r"([A-Z])", r"_\1", f"{category}/{name}").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


class S3RangeFile(io.RawIOBase):
    """A read-only, seekable view of one S3 object through ranged GETs pinned to its ETag."""

    def __init__(self, exports: S3Exports, key: str, size: int, etag: str | None) -> None:
        super().__init__()
        self.exports, self.key, self.size, self.etag = exports, key, size, etag
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: t.Any) -> int:
        view = memoryview(buffer).cast("B")
        if self.position >= self.size or not len(view):
            return 0
        end = min(self.size, self.position + len(view)) - 1
        data = self._get(self.position, end)
        view[: len(data)] = data
        self.position += len(data)
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self.position
        if self.position >= self.size or size == 0:
            return b""
        end = min(self.size, self.position + size) - 1
        data = self._get(self.position, end)
        self.position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def _get(self, start: int, end: int) -> bytes:
        what = f"s3://{self.exports.bucket}/{self.key}"
        kwargs: dict[str, t.Any] = {
            "Bucket": self.exports.bucket,
            "Key": self.key,
            "Range": f"bytes={start}-{end}",
        }
        if self.etag:
            kwargs["IfMatch"] = self.etag
        try:
            return bytes(self.exports.s3.get_object(**kwargs)["Body"].read())
        except Exception as exc:
            raise translate(exc, what) from None


# --- values -------------------------------------------------------------------------


def json_type(manifest_type: str | None, column: str) -> dict[str, t.Any]:
    """The JSON schema of a column, from its manifest type (and AWS's string-typed rates)."""
    kind = (manifest_type or "string").lower()
    if is_number(kind, column):
        return {"type": ["number", "null"]}
    if kind.startswith(("timestamp", "datetime")):
        return {"type": ["string", "null"], "format": "date-time"}
    if kind == "date":
        return {"type": ["string", "null"], "format": "date"}
    if kind.startswith(("map", "struct")):
        return {"type": ["object", "null"]}
    if kind.startswith("array"):
        return {"type": ["array", "null"]}
    if kind in {"int", "integer", "bigint", "long", "smallint", "tinyint"}:
        return {"type": ["integer", "null"]}
    if kind in {"boolean", "bool"}:
        return {"type": ["boolean", "null"]}
    return {"type": ["string", "null"]}


def is_number(kind: str, column: str) -> bool:
    if kind in {"double", "float", "real", "bigdecimal", "optionalbigdecimal"} or kind.startswith(
        ("decimal", "numeric")
    ):
        return True
    # CUR 2.0 types its rates as strings; they are decimal numbers (or empty).
    return kind in {"string", "optionalstring"} and (
        column.endswith("_rate") or column.endswith("Rate")
    )


def _plain(array: t.Any) -> t.Any:
    """A dictionary array decoded: its Python values come out many times faster so."""
    import pyarrow as pa

    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def decimal_of_float(value: float) -> Decimal:
    """The decimal a double was written from: its shortest repr, never binary noise."""
    if value != value or value in {float("inf"), float("-inf")}:
        raise ValueError(f"not a finite number: {value!r}")
    number = Decimal(repr(value))
    if number.is_zero():  # -0.0 is not a negative amount: zero has no sign
        return number.copy_abs()
    return number if "E" not in str(number) else Decimal(format(number, "f"))


def iso_utc(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_text(text: str) -> str:
    if len(text) == 20 and text[10] == "T" and text.endswith("Z"):
        return text
    if len(text) == 24 and text.endswith(".000Z"):
        return text[:19] + "Z"
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        raise ValueError(f"{text!r} is not a timestamp") from None
    return iso_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _map_value(value: t.Any) -> t.Any:
    return decimal_of_float(value) if isinstance(value, float) else value


def _same(array: pa.Array) -> pa.Array:
    return array


def _decimal_text(text: str | None) -> Decimal | None:
    """A double's shortest round-trip text (Arrow's cast, as repr) as a plain Decimal."""
    if text is None:
        return None
    if "n" in text:  # nan, inf
        raise ValueError(f"not a finite number: {text!r}")
    if "e" in text:  # 1e-05, 1e+16
        return Decimal(format(Decimal(text), "f"))
    return Decimal(text)


def _utc_text(text: str | None) -> str | None:
    if text is None:
        return None
    return text[:-4] + "Z" if text.endswith(".000") else text + "Z"


def parquet_converter(
    arrow_type: pa.DataType, manifest_type: str | None, column: str
) -> tuple[Callable[[pa.Array], pa.Array], Callable[[t.Any], t.Any]]:
    """How to read one Parquet column: an Arrow-side step (vectorized), then per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = (manifest_type or "").lower()
    if pa.types.is_dictionary(arrow_type):  # text read as a dictionary: values decoded alike
        arrow_type = arrow_type.value_type
    if pa.types.is_floating(arrow_type):
        # Arrow casts a double to its shortest round-trip text, as Python's repr does.
        return (lambda array: array.cast(pa.string())), _decimal_text
    if pa.types.is_decimal(arrow_type):
        return _same, lambda v: v
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz in {None, "UTC", "+00:00", "Etc/UTC"}:
            return (lambda array: pc.strftime(array, format="%Y-%m-%dT%H:%M:%S")), _utc_text
        return _same, lambda v: None if v is None else iso_utc(v)
    if pa.types.is_date(arrow_type):
        return _same, lambda v: None if v is None else v.isoformat()
    if pa.types.is_map(arrow_type):
        return _same, lambda v: None if v is None else {k: _map_value(x) for k, x in v}
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        if is_number(kind or "string", column):
            return _same, lambda v: Decimal(v) if v else None
        return _same, lambda v: v if v != "" else None
    if pa.types.is_struct(arrow_type) or pa.types.is_list(arrow_type):
        return _same, _deep_decimal
    return _same, lambda v: v


def _deep_decimal(value: t.Any) -> t.Any:
    if isinstance(value, float):
        return decimal_of_float(value)
    if isinstance(value, dict):
        return {k: _deep_decimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_decimal(v) for v in value]
    return value


def csv_kind(manifest_type: str | None, column: str) -> str:
    """How a CSV column's text is read: number, timestamp, json, integer, boolean or text
    (the BATCH path's column-wise reader picks its conversion by the same rule)."""
    kind = (manifest_type or "string").lower()
    if is_number(kind, column):
        return "number"
    if kind.startswith(("timestamp", "datetime")):
        return "timestamp"
    if kind.startswith(("map", "struct", "array")):
        return "json"
    if kind in {"int", "integer", "bigint", "long"}:
        return "integer"
    if kind in {"boolean", "bool"}:
        return "boolean"
    return "text"


def csv_converter(manifest_type: str | None, column: str) -> Callable[[str], t.Any]:
    kind = csv_kind(manifest_type, column)
    if kind == "number":

        def number(text: str) -> Decimal | None:
            if not text:
                return None
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise ValueError(f"column {column} holds {text[:40]!r}, not a number") from None
            if not value.is_finite():
                raise ValueError(f"column {column} holds {text[:40]!r}, not a finite number")
            return value

        return number
    if kind == "timestamp":
        return lambda text: iso_text(text) if text else None
    if kind == "json":

        def structure(text: str) -> t.Any:
            if not text:
                return None
            try:
                return json.loads(text, parse_float=Decimal)
            except ValueError:
                raise ValueError(f"column {column} holds {text[:40]!r}, not JSON") from None

        return structure
    if kind == "integer":
        return lambda text: int(text) if text else None
    if kind == "boolean":
        return lambda text: None if not text else text.strip().lower() == "true"
    return lambda text: text if text != "" else None
