"""The FOCUS dataset on storage: column types, partitions, merge by x_RowKey, file formats.

Layout under the output path::

    metadata.json
    data/provider=<slug>/billing_account_id=<id>/billing_period=<YYYY-MM>/part-0.parquet
    quarantine/<run_id>.jsonl
    _audit/<UTC timestamp>-<run_id>.json

A partition is one file with a fixed name, sorted by (ChargePeriodStart, x_RowKey).
Committing a batch to a partition keeps the file's rows whose x_RowKey the batch does not
carry, adds the batch rows in order and replaces the file atomically; the file is read and
written as sorted streams (target_focus.merging), never held whole.

Rows of a *delivery* (x_DeliveryId: an export run, a Cost Details report) wait under
``_staging/<partition>/delivery=<id>/part-<n>`` (one sorted file per commit) until its
``focus_deliveries`` record arrives
(``apply_delivery``). A delivery replaces its *scope* (x_DeliveryScope, one export of a
provider: ``"<export kind>:<export name>"``) in the provider's partitions of its billing
period: rows of other scopes, and rows that came from no delivery, stay. An incomplete
delivery (a window that does not cover its whole billing period) replaces nothing: its rows
are merged by x_RowKey.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import re
import typing as t
import unicodedata
import urllib.parse
import uuid
from datetime import UTC, datetime
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from finfocus_common.errors import ConfigError, PermanentError
from focus_spec import (
    CUSTOM_PREFIX,
    DATETIME,
    DECIMAL,
    JSON,
    STRING,
    as_decimal,
    as_utc_datetime,
    format_datetime,
    format_decimal,
)

from target_focus import merging
from target_focus.merging import (
    ROW_GROUP_ROWS,
    ROW_KEY,
    SORT_COLUMNS,
    Filtered,
    chunk_rows,
    conform,
    file_chunks,
    file_keys,
    file_schema,
    merge_sorted,
    plain_type,
    replaced_by,
    sort_rows,
    table_chunks,
    write_rows,
)
from target_focus.storage import copy_into

if t.TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

    from focus_spec import FocusSpec

    from target_focus.storage import Storage

FORMATS = ("parquet", "csv")
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
METADATA_PATH = "metadata.json"
STAGING_FOLDER = "_staging"  # deliveries waiting for completion; never part of the data
DELIVERY_ID = "x_DeliveryId"
DELIVERY_SCOPE = "x_DeliveryScope"
_PARTITION_PATH = re.compile(
    r"^(?:data|" + STAGING_FOLDER + r")/provider=(?P<provider>[^/]+)"
    r"/billing_account_id=(?P<account>[^/]+)/billing_period=(?P<period>[^/]+)"
    r"/(?:delivery=(?P<delivery>[^/]+)/)?part-(?P<part>[0-9]+)\.(?P<format>[a-z]+)$"
)

# Decimal columns in Parquet: 20 digits before the point, 18 after (API float artefacts
# reach 17-18 decimal places). A value that does not fit is refused, never rounded.
DECIMAL_PRECISION = 38
DECIMAL_SCALE = 18
DECIMAL_TYPE = pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_QUANTUM = Decimal(1).scaleb(-DECIMAL_SCALE)
_FIT = Context(prec=DECIMAL_PRECISION, traps=[Inexact, InvalidOperation])

# Custom (x_) column types besides the four FOCUS ones.
INTEGER = "Integer"
BOOLEAN = "Boolean"

_JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
_JSON_DECODER = msgspec.json.Decoder(float_hook=Decimal)

Converter = t.Callable[[t.Any], t.Any]


class ValueProblemError(ValueError):
    """A value that cannot be stored as its column's type: a rule id and a detail."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


# --- columns ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ColumnDef:
    """One column of the dataset: its name, its data type and whether it is custom."""

    name: str
    data_type: str
    custom: bool = False

    def arrow_type(self, file_format: str) -> pa.DataType:
        """The Arrow type in files of ``file_format`` (every CSV column is text)."""
        if file_format == "csv":
            return pa.string()
        if self.data_type == DECIMAL:
            return DECIMAL_TYPE
        if self.data_type == DATETIME:
            return TIMESTAMP_TYPE
        if self.data_type == INTEGER:
            return pa.int64()
        if self.data_type == BOOLEAN:
            return pa.bool_()
        return pa.string()  # String, and JSON as compact JSON text

    def describe(self, file_format: str) -> dict[str, t.Any]:
        """The column's entry in metadata.json (FOCUS metadata ColumnDefinition style)."""
        entry: dict[str, t.Any] = {"ColumnName": self.name, "DataType": self.data_type}
        if self.data_type in (STRING, JSON):
            entry["StringEncoding"] = "UTF-8"
        if self.data_type == DECIMAL and file_format == "parquet":
            entry["NumericPrecision"] = DECIMAL_PRECISION
            entry["NumberScale"] = DECIMAL_SCALE
        if self.custom:
            entry["x_Custom"] = True
        entry["x_PhysicalType"] = str(self.arrow_type(file_format))
        return entry


def custom_data_type(schema: Mapping[str, t.Any]) -> str:
    """The data type of a custom column from its JSON schema (anything unclear is String)."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared or [])
    types.discard("null")
    if types == {"integer"}:
        return INTEGER
    if types and types <= {"number", "integer"}:
        return DECIMAL
    if types == {"boolean"}:
        return BOOLEAN
    if types and types <= {"object", "array"}:
        return JSON
    return STRING


def spec_columns(spec: FocusSpec) -> list[ColumnDef]:
    return [ColumnDef(column.name, column.data_type) for column in spec.columns]


def ordered(spec: FocusSpec, names: Iterable[str]) -> list[str]:
    """Spec columns in spec order, then the others (custom columns) sorted by name."""
    present = set(names)
    head = [name for name in spec.column_names if name in present]
    return head + sorted(present.difference(spec.column_names))


# --- value conversion ------------------------------------------------------------------


def to_decimal128(value: t.Any) -> Decimal:
    """``value`` as a Decimal that fits decimal128(38, 18) exactly; ValueProblemError if not."""
    number = value if type(value) is Decimal else as_decimal(value)
    if number is None:
        raise ValueProblemError("type", f"expected a decimal number, got {type(value).__name__}")
    try:
        return number.quantize(_QUANTUM, context=_FIT)
    except DecimalException:
        raise ValueProblemError(
            "decimal-precision",
            f"{number} does not fit decimal({DECIMAL_PRECISION}, {DECIMAL_SCALE}) (at most "
            f"{DECIMAL_PRECISION - DECIMAL_SCALE} digits before and {DECIMAL_SCALE} after the "
            "decimal point); refusing to round",
        ) from None


def decimal_text(value: t.Any) -> str:
    """FOCUS numeric text (``spec.format_decimal``: exact, no exponent), always with a fraction.

    ``1`` is written ``1.0``: readers that infer CSV column types (the FinOps Foundation's
    validator among them) would otherwise take an all-integer column for an integer one
    and fail "MUST be of type Decimal". Both spell the same value in FOCUS NumericFormat.
    """
    try:
        text = format_decimal(value)
    except (TypeError, ValueError) as exc:
        raise ValueProblemError("type", str(exc)) from None
    return text if "." in text else text + ".0"


def to_timestamp(value: t.Any) -> datetime:
    moment = as_utc_datetime(value)
    if moment is None:
        raise ValueProblemError("datetime-format", f"{value!r} is not a UTC date/time")
    return moment


def datetime_text(value: t.Any) -> str:
    """FOCUS date/time text (``spec.format_datetime``): ``YYYY-MM-DDTHH:MM:SSZ``."""
    try:
        return format_datetime(value)
    except (TypeError, ValueError) as exc:
        raise ValueProblemError("datetime-format", str(exc)) from None


def to_json_text(value: t.Any) -> str:
    """Compact JSON text, numbers exactly as given (JSON text input is re-encoded)."""
    if isinstance(value, str):
        try:
            value = _JSON_DECODER.decode(value)
        except msgspec.DecodeError:
            raise ValueProblemError("json-object", "is not valid JSON text") from None
    return _JSON_ENCODER.encode(value).decode()


def to_text(value: t.Any) -> str:
    """Custom String columns: text as is, anything else as its exact JSON text."""
    return value if isinstance(value, str) else to_json_text(value)


def to_integer(value: t.Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise ValueProblemError("type", f"expected an integer, got {value!r}")


def to_boolean(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueProblemError("type", f"expected true or false, got {value!r}")


def boolean_text(value: t.Any) -> str:
    return "true" if to_boolean(value) else "false"


def integer_text(value: t.Any) -> str:
    return str(to_integer(value))


_CONVERTERS: dict[tuple[str, str], Converter | None] = {
    ("parquet", STRING): None,  # validate_row guarantees str for spec columns
    ("parquet", DECIMAL): to_decimal128,
    ("parquet", DATETIME): to_timestamp,
    ("parquet", JSON): to_json_text,
    ("parquet", INTEGER): to_integer,
    ("parquet", BOOLEAN): to_boolean,
    ("csv", STRING): None,
    ("csv", DECIMAL): decimal_text,
    ("csv", DATETIME): datetime_text,
    ("csv", JSON): to_json_text,
    ("csv", INTEGER): integer_text,
    ("csv", BOOLEAN): boolean_text,
}


def converter(column: ColumnDef, file_format: str) -> Converter | None:
    """How a non-null value of ``column`` becomes what a ``file_format`` file stores."""
    if column.custom and column.data_type == STRING:
        return to_text
    return _CONVERTERS[(file_format, column.data_type)]


# --- partitions ------------------------------------------------------------------------

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


def provider_slug(name: str) -> str:
    """``"Amazon Web Services"`` -> ``"amazon-web-services"``; never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_JUNK.sub("-", ascii_name.lower()).strip("-")
    return slug or "provider-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def escape_partition_value(value: str) -> str:
    """Hive-style escaping: every byte outside ``[A-Za-z0-9_-]`` as ``%XX``."""
    return "".join(
        char
        if char.isascii() and (char.isalnum() or char in "-_")
        else "".join(f"%{byte:02X}" for byte in char.encode())
        for char in value
    )


def unescape_partition_value(value: str) -> str:
    """The inverse of ``escape_partition_value``."""
    return urllib.parse.unquote(value, errors="strict")


@dataclasses.dataclass(frozen=True, order=True)
class PartitionKey:
    """provider slug / BillingAccountId / billing period (YYYY-MM of BillingPeriodStart)."""

    provider: str
    billing_account_id: str
    billing_period: str

    @classmethod
    def of(cls, provider_name: str, billing_account_id: str, period_start: t.Any) -> PartitionKey:
        start = as_utc_datetime(period_start)
        if start is None:  # pragma: no cover - validate_row rejects it first
            raise ValueProblemError("datetime-format", f"BillingPeriodStart {period_start!r}")
        start = start.astimezone(UTC)
        return cls(
            provider_slug(provider_name), billing_account_id, f"{start.year:04d}-{start.month:02d}"
        )

    @property
    def folder(self) -> str:
        return (
            f"provider={self.provider}"
            f"/billing_account_id={escape_partition_value(self.billing_account_id)}"
            f"/billing_period={self.billing_period}"
        )

    def relpath(self, file_format: str) -> str:
        return f"data/{self.folder}/part-0.{file_format}"

    def staging_folder(self) -> str:
        """Where deliveries of this partition wait for their completion (never read as data)."""
        return f"{STAGING_FOLDER}/{self.folder}/"

    def delivery_folder(self, delivery_id: str) -> str:
        """Where one delivery's rows of this partition wait: one sorted part per commit."""
        return f"{self.staging_folder()}delivery={escape_partition_value(delivery_id)}/"


# --- tables ----------------------------------------------------------------------------


def arrow_schema(columns: Sequence[ColumnDef], file_format: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type(file_format)) for c in columns])


def rows_to_batch(rows: Sequence[Sequence[t.Any]], schema: pa.Schema) -> pa.RecordBatch:
    """Row tuples (converted values, in schema order) as one compact Arrow record batch.

    Text columns whose values repeat (currencies, service names, units...) are kept
    dictionary-encoded while staged, which makes them several times smaller;
    ``staged_table`` turns them back into plain columns at commit time.
    """
    arrays = []
    for field, values in zip(schema, zip(*rows, strict=True), strict=True):
        try:
            array = pa.array(values, type=field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise PermanentError(
                f"column {field.name}: cannot store as {field.type}: {exc}"
            ) from None
        arrays.append(dictionary_if_smaller(array))
    return pa.RecordBatch.from_arrays(arrays, names=schema.names)


def dictionary_if_smaller(array: t.Any) -> t.Any:
    """A text (chunked) array dictionary-encoded when that makes it smaller: staged text
    that repeats (currencies, service names, units...) takes several times less memory."""
    if pa.types.is_string(array.type):
        encoded = array.dictionary_encode()
        if encoded.nbytes < array.nbytes:
            return encoded
    return array


def staged_table(tables: Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    """Staged tables (record batches of ``rows_to_batch``, batch-file tables) as one table
    of ``schema``'s columns. A text column stays dictionary-encoded when every part has it
    so (it is written as it is, without decoding); otherwise it is decoded."""
    if not tables:
        return schema.empty_table()
    arrays = []
    fields = []
    for index, field in enumerate(schema):
        parts = [table.column(index) for table in tables]
        types = {part.type for part in parts}
        if len(types) == 1 and pa.types.is_dictionary(next(iter(types))):
            column = pa.chunked_array(
                [chunk for part in parts for chunk in part.chunks], type=next(iter(types))
            )
            fields.append(pa.field(field.name, column.type))
        else:
            column = pa.chunked_array(
                [chunk.cast(field.type) for part in parts for chunk in part.chunks],
                type=field.type,
            )
            fields.append(field)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)).unify_dictionaries()


def union_schema(spec: FocusSpec, schemas: Sequence[pa.Schema], where: str) -> pa.Schema:
    """One schema for rows of several tables or files: the union of their columns in
    dataset order, plain types (a text column dictionary-encoded in one and plain in
    another is text: values are what matter, the files store text either way)."""
    types: dict[str, pa.DataType] = {}
    for schema in schemas:
        for field in schema:
            kind = plain_type(field.type)
            known = types.setdefault(field.name, kind)
            if known != kind:
                raise PermanentError(
                    f"{where}: column {field.name} is {known} in the dataset "
                    f"but {field.type} in this batch"
                )
    return pa.schema([pa.field(name, types[name]) for name in ordered(spec, types)])


def keep_last(table: pa.Table) -> tuple[pa.Table, int]:
    """Rows with a unique x_RowKey, the last occurrence winning; and how many were dropped."""
    keys = table.column(ROW_KEY)
    if pc.count_distinct(keys, mode="all").as_py() == table.num_rows:
        return table, 0
    positions = pa.table({"key": keys, "row": pa.array(range(table.num_rows), pa.int64())})
    last = positions.group_by("key", use_threads=False).aggregate([("row", "max")])
    rows = pc.sort_indices(last.column("row_max"))
    keep = last.column("row_max").take(rows)
    return table.take(keep), table.num_rows - len(keep)


@dataclasses.dataclass(frozen=True)
class Merged:
    """Row counts of one commit to a file."""

    rows_before: int
    rows_after: int
    rows_replaced: int


# --- files -----------------------------------------------------------------------------


def read_partition(path: Path, file_format: str) -> pa.Table:
    """A whole partition file (tests and tools; commits stream, see target_focus.merging)."""
    if file_format == "parquet":
        return pq.read_table(path)
    chunks = list(file_chunks(path, file_format, str(path), rows=ROW_GROUP_ROWS))
    if not chunks:
        return file_schema(path, file_format, str(path)).empty_table()
    return pa.concat_tables(chunks)


# --- metadata.json ---------------------------------------------------------------------


def read_metadata(storage: Storage) -> dict[str, t.Any] | None:
    data = storage.read_bytes(METADATA_PATH)
    if data is None:
        return None
    try:
        metadata = json.loads(data)
    except ValueError:
        raise PermanentError(f"{storage.describe(METADATA_PATH)} is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise PermanentError(f"{storage.describe(METADATA_PATH)} is not a JSON object")
    return metadata


def check_compatible(
    metadata: Mapping[str, t.Any], version: str, file_format: str, where: str
) -> None:
    """Refuse to mix FOCUS versions or file formats in one dataset."""
    found_version = metadata.get("FocusVersion")
    if found_version is not None and found_version != version:
        raise ConfigError(
            f"invalid config: focus_version is {version} but the dataset at {where} is "
            f"FOCUS {found_version}; use another output_path or focus_version {found_version}"
        )
    found_format = metadata.get("x_Format")
    if found_format is not None and found_format != file_format:
        raise ConfigError(
            f"invalid config: format is {file_format} but the dataset at {where} is "
            f"{found_format}; use another output_path or format {found_format}"
        )


def custom_columns_of(metadata: Mapping[str, t.Any]) -> dict[str, ColumnDef]:
    columns = {}
    for entry in metadata.get("Columns") or []:
        if isinstance(entry, dict) and entry.get("x_Custom"):
            name = str(entry.get("ColumnName"))
            columns[name] = ColumnDef(name, str(entry.get("DataType", STRING)), custom=True)
    return columns


def build_metadata(
    *,
    spec: FocusSpec,
    file_format: str,
    custom: Mapping[str, ColumnDef],
    generator: str,
    created: str,
    updated: str,
    run_id: str,
) -> dict[str, t.Any]:
    columns = [*spec_columns(spec), *(custom[name] for name in sorted(custom))]
    described = [column.describe(file_format) for column in columns]
    schema_id = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "DataGenerator": generator,
        "FocusVersion": spec.version,
        "SchemaId": schema_id,
        "CreationDate": created,
        "Columns": described,
        "x_Format": file_format,
        "x_Partitioning": [
            f"provider=<slug of {provider_column(spec)}>",
            "billing_account_id=<BillingAccountId>",
            "billing_period=<YYYY-MM of BillingPeriodStart>",
        ],
        "x_RowKey": ROW_KEY,
        "x_SortedBy": list(SORT_COLUMNS),
        "x_UpdatedAt": updated,
        "x_LastRunId": run_id,
    }


def provider_column(spec: FocusSpec) -> str:
    """The column that names the provider partition: ServiceProviderName (1.3+) or ProviderName."""
    return "ServiceProviderName" if "ServiceProviderName" in spec.column_names else "ProviderName"


class Dataset:
    """One FOCUS dataset on storage: checks and writes metadata.json, commits partitions."""

    def __init__(
        self,
        storage: Storage,
        spec: FocusSpec,
        *,
        file_format: str,
        compression: str,
        generator: str,
        run_id: str,
    ) -> None:
        self.storage = storage
        self.spec = spec
        self.file_format = file_format
        self.compression = compression
        self.generator = generator
        self.run_id = run_id
        self.custom: dict[str, ColumnDef] = {}
        #: Rows this run staged per (partition, delivery), for the audit record.
        self.staged_rows: dict[tuple[PartitionKey, str], int] = {}
        self.created: str | None = None
        self.stored_custom: dict[str, ColumnDef] | None = None  # as in metadata.json
        self.metadata_written = False
        #: Called before anything of the dataset is written (takes the dataset lock).
        self.before_write: t.Callable[[], None] = lambda: None

    def prepare(self) -> None:
        """Read metadata.json once: refuse another FOCUS version or format, learn x_ columns."""
        if self.created is not None:
            return
        metadata = read_metadata(self.storage)
        if metadata is None:
            self.created = utc_now_text()
            return
        check_compatible(
            metadata, self.spec.version, self.file_format, self.storage.describe(METADATA_PATH)
        )
        self.created = str(metadata.get("CreationDate") or utc_now_text())
        self.stored_custom = custom_columns_of(metadata)
        self.custom.update(self.stored_custom)

    def declare(self, columns: Iterable[ColumnDef], stream: str) -> None:
        """Custom columns of a FOCUS stream; one type per column name across the dataset."""
        self.prepare()
        for column in columns:
            if not column.custom:
                continue
            known = self.custom.setdefault(column.name, column)
            if known.data_type != column.data_type:
                raise PermanentError(
                    f"stream {stream}: custom column {column.name} is {column.data_type} "
                    f"but the dataset has it as {known.data_type}"
                )

    def write_metadata(self) -> None:
        self.before_write()
        self.prepare()
        metadata = build_metadata(
            spec=self.spec,
            file_format=self.file_format,
            custom=self.custom,
            generator=self.generator,
            created=self.created or utc_now_text(),
            updated=utc_now_text(),
            run_id=self.run_id,
        )
        text = json.dumps(metadata, indent=2) + "\n"
        self.storage.write_bytes(METADATA_PATH, text.encode())
        self.metadata_written = True

    def commit(
        self, key: PartitionKey, batch: pa.Table, delivery_id: str | None = None
    ) -> tuple[str, Merged]:
        """Merge ``batch`` (unique keys) into its partition and replace the file atomically.

        Rows of a delivery (``delivery_id``) are written as the next staged part of the
        delivery instead; the live partition changes only when the delivery completes
        (``apply_delivery``). Returns the path written (a delivery's staging folder) and
        its row counts.
        """
        self.before_write()
        if not self.metadata_written and self.stored_custom != self.custom:
            # A dataset never has data files that metadata.json does not describe.
            self.write_metadata()
        batch = sort_rows(batch)
        if delivery_id is not None:
            return self._stage(key, batch, delivery_id)
        relpath = key.relpath(self.file_format)
        where = self.storage.describe(relpath)
        with self.storage.local_copy(relpath) as path:
            if path is None:
                schema = union_schema(self.spec, [batch.schema], where)
                after = self._write(relpath, _pieces(batch, schema), schema)
                return relpath, Merged(0, after, 0)
            existing = f"the existing partition {where}"
            schema = union_schema(
                self.spec, [file_schema(path, self.file_format, existing), batch.schema], where
            )
            new_keys = _plain_text(batch.column(ROW_KEY))
            live = Filtered(
                file_chunks(path, self.file_format, existing, rows=chunk_rows(2)),
                schema,
                replaced=replaced_by(file_keys(path, self.file_format, existing), [new_keys]),
            )
            pieces = merge_sorted([live, _pieces(batch, schema)], fill=chunk_rows(2))
            after = self._write(relpath, pieces, schema)
        return relpath, Merged(live.read, after, live.dropped)

    def _stage(self, key: PartitionKey, batch: pa.Table, delivery_id: str) -> tuple[str, Merged]:
        """The batch as the delivery's next staged part (nothing is read or rewritten)."""
        folder = key.delivery_folder(delivery_id)
        parts = self._staged_parts(key, delivery_id)
        relpath = f"{folder}part-{parts[-1][0] + 1 if parts else 0}.{self.file_format}"
        schema = union_schema(self.spec, [batch.schema], self.storage.describe(relpath))
        written = self._write(relpath, _pieces(batch, schema), schema)
        before = self.staged_rows.get((key, delivery_id), 0)
        self.staged_rows[(key, delivery_id)] = before + written
        return folder, Merged(before, before + written, 0)

    def _staged_parts(self, key: PartitionKey, delivery_id: str) -> list[tuple[int, str]]:
        """The delivery's staged parts of the partition, (number, path) in commit order."""
        parts = []
        for path in self.storage.list(key.delivery_folder(delivery_id)):
            match = _PARTITION_PATH.match(path)
            if match is not None and match["format"] == self.file_format:
                parts.append((int(match["part"]), path))
        return sorted(parts)

    def _write(self, relpath: str, pieces: Iterable[pa.Table], schema: pa.Schema) -> int:
        """Sorted pieces written as the file ``relpath``, atomically; returns its rows."""
        written = 0

        def write(path: Path) -> None:
            nonlocal written
            written = write_rows(
                pieces,
                schema,
                path,
                self.file_format,
                compression=self.compression,
                file_metadata={"FocusVersion": self.spec.version, "DataGenerator": self.generator},
            )

        self.storage.write_atomic(relpath, write)
        return written

    def promote(self, key: PartitionKey, delivery_id: str) -> tuple[str, int, int]:
        """A delivery is complete: its rows become the partition, in one atomic replace.

        Rows of older deliveries of the period go with the old file, so nothing stale or
        doubled remains. A delivery without rows for this partition empties it. Then every
        staged delivery of the partition is removed. Returns (path, rows before, after).
        """
        self.before_write()
        live = key.relpath(self.file_format)
        where = self.storage.describe(live)
        before = 0
        with self.storage.local_copy(live) as path:
            if path is not None:
                before = self._row_count(path, f"the existing partition {where}")
        after = self._replace_with_staged(live, self._staged_parts(key, delivery_id))
        for leftover in self.storage.list(key.staging_folder()):
            self.storage.delete(leftover)
        return live, before, after

    # --- deliveries ----------------------------------------------------------------------

    def apply_delivery(
        self, delivery: Delivery, pending: Collection[str] = ()
    ) -> list[tuple[PartitionKey, str, int, int]]:
        """A delivery is complete: apply it to every partition it concerns, each in one
        atomic replace. Returns (partition, path, rows before, rows after) of each changed.

        With a scope, the partitions are the provider's partitions of the billing period
        (live files) and those the delivery's rows were staged in: in those of the period,
        the rows of the scope are replaced by the delivery's rows; into a partition of
        another period (rows the source files under another month) they are merged. A delivery
        without a scope (a mapper before scopes) replaces whole partitions, those of its
        billing accounts. Staged files of other deliveries in ``pending`` (staged by this
        run and not completed yet) stay; older leftovers of a partition go.
        """
        if delivery.scope is None and not delivery.merge:
            changed = []
            for account in delivery.billing_account_ids:
                key = PartitionKey(delivery.provider, account, delivery.billing_period)
                changed.append((key, *self.promote(key, delivery.delivery_id)))
            return changed
        self.before_write()
        keys = self._partitions(STAGING_FOLDER, delivery.provider, delivery=delivery.delivery_id)
        if not delivery.merge:
            keys |= self._partitions("data", delivery.provider, period=delivery.billing_period)
        changed = []
        for key in sorted(keys):
            result = self._apply(key, delivery)
            if result is not None:
                changed.append((key, *result))
            for path in self.storage.list(key.staging_folder()):
                match = _PARTITION_PATH.match(path)
                staged_id = unescape_partition_value(match["delivery"]) if match else None
                if staged_id == delivery.delivery_id or staged_id not in pending:
                    self.storage.delete(path)
        return changed

    def _partitions(
        self, folder: str, provider: str, *, period: str | None = None, delivery: str | None = None
    ) -> set[PartitionKey]:
        """Partitions of ``provider`` with a file under ``folder`` (data or staging), of one
        billing period, or holding one delivery's staged rows."""
        found = set()
        for path in self.storage.list(f"{folder}/provider={provider}/"):
            match = _PARTITION_PATH.match(path)
            if match is None or match["format"] != self.file_format:
                continue
            if period is not None and match["period"] != period:
                continue
            if delivery is not None and (
                match["delivery"] is None or unescape_partition_value(match["delivery"]) != delivery
            ):
                continue
            account = unescape_partition_value(match["account"])
            found.add(PartitionKey(match["provider"], account, match["period"]))
        return found

    def _apply(self, key: PartitionKey, delivery: Delivery) -> tuple[str, int, int] | None:
        """One partition: its rows of the delivery's scope replaced by the delivery's staged
        rows (a merging delivery: its rows merged by x_RowKey). None when nothing changes."""
        live = key.relpath(self.file_format)
        existing = f"the existing partition {self.storage.describe(live)}"
        parts = self._staged_parts(key, delivery.delivery_id)
        # Rows staged in another billing period's partition (a correction the source files
        # under a later month) are merged: that period belongs to its own deliveries.
        merging = delivery.merge or key.billing_period != delivery.billing_period
        if merging and not parts:
            return None
        with self.storage.local_copy(live) as live_path:
            before = out_of_date = 0
            if live_path is not None:
                scope = None if merging else delivery.scope
                before, out_of_date = self._scope_counts(live_path, existing, scope, merging)
            if not parts and not out_of_date:
                return None  # neither rows of the scope nor of the delivery here
            if out_of_date == before:  # nothing of the old file stays
                return live, before, self._replace_with_staged(live, parts)
            drop = None if merging else functools.partial(in_scope, scope=delivery.scope)
            after = self._merge_staged(live, parts, live_path, existing, drop)
        return live, before, after

    def _scope_counts(
        self, path: Path, where: str, scope: str | None, merging: bool
    ) -> tuple[int, int]:
        """Rows of the file, and rows a delivery of ``scope`` replaces (none when merging);
        only the delivery columns are read."""
        names = file_schema(path, self.file_format, where).names
        columns = [name for name in (DELIVERY_ID, DELIVERY_SCOPE) if name in names] or [ROW_KEY]
        rows = replaced = 0
        chunks = file_chunks(path, self.file_format, where, rows=ROW_GROUP_ROWS, columns=columns)
        for chunk in chunks:
            rows += chunk.num_rows
            if not merging:
                replaced += pc.sum(pc.fill_null(in_scope(chunk, scope), False)).as_py() or 0
        return rows, replaced

    def _row_count(self, path: Path, where: str) -> int:
        if self.file_format == "parquet":
            file_schema(path, self.file_format, where)
            return int(pq.read_metadata(path).num_rows)
        return self._scope_counts(path, where, None, True)[0]

    def _replace_with_staged(self, live: str, parts: list[tuple[int, str]]) -> int:
        """The live file replaced by the staged parts (one part: copied as it is; none:
        the file is removed). Returns its rows."""
        if not parts:
            self.storage.delete(live)
            return 0
        if len(parts) == 1:
            relpath = parts[0][1]
            with self.storage.local_copy(relpath) as path:
                if path is None:  # pragma: no cover - listed a moment ago
                    raise PermanentError(f"staged rows {self.storage.describe(relpath)} vanished")
                rows = self._row_count(path, f"the staged rows {self.storage.describe(relpath)}")
                self.storage.write_atomic(live, copy_into(path))
            return rows
        return self._merge_staged(live, parts, None, "", None)

    def _merge_staged(
        self,
        live: str,
        parts: list[tuple[int, str]],
        live_path: Path | None,
        existing: str,
        drop: t.Callable[[pa.Table], pa.Array] | None,
    ) -> int:
        """Write ``live`` as the staged parts merged (a later part's row replacing an
        earlier one's with the same key) with the live file's rows (``live_path``) that
        neither ``drop`` leaves out nor a staged row replaces. Returns its rows.

        At most MAX_MERGE_INPUTS files are read at once (each open reader holds buffers):
        more parts are first merged in groups, in commit order, into interim files of the
        staging folder (removed with the delivery's parts)."""
        relpaths = [relpath for _, relpath in parts]
        while len(relpaths) > merging.MAX_MERGE_INPUTS - 1:
            grouped = []
            for start in range(0, len(relpaths), merging.MAX_MERGE_INPUTS):
                group = relpaths[start : start + merging.MAX_MERGE_INPUTS]
                if len(group) == 1:
                    grouped.append(group[0])
                    continue
                interim = (
                    f"{group[0].rsplit('/', 1)[0]}/interim-{uuid.uuid4().hex}.{self.file_format}"
                )
                self._merge_files(interim, group, None, "", None)
                grouped.append(interim)
            relpaths = grouped
        return self._merge_files(live, relpaths, live_path, existing, drop)

    def _merge_files(
        self,
        output: str,
        parts: list[str],
        live_path: Path | None,
        existing: str,
        drop: t.Callable[[pa.Table], pa.Array] | None,
    ) -> int:
        with contextlib.ExitStack() as stack:
            staged = []
            for relpath in parts:
                path = stack.enter_context(self.storage.local_copy(relpath))
                if path is not None:
                    staged.append((path, f"the staged rows {self.storage.describe(relpath)}"))
            schemas = [file_schema(path, self.file_format, where) for path, where in staged]
            if live_path is not None:
                schemas.append(file_schema(live_path, self.file_format, existing))
            schema = union_schema(self.spec, schemas, self.storage.describe(output))
            rows = chunk_rows(len(schemas))
            keys = [file_keys(path, self.file_format, where) for path, where in staged]
            # A key staged twice (the same row re-sent in a later commit): the later wins.
            staged_twice = (
                sum(map(len, keys))
                != pc.count_distinct(
                    pa.chunked_array([chunk for part in keys for chunk in part.chunks], pa.string())
                ).as_py()
            )
            streams = []
            for index, (path, where) in enumerate(staged):
                streams.append(
                    Filtered(
                        file_chunks(path, self.file_format, where, rows=rows),
                        schema,
                        replaced=replaced_by(keys[index], keys[index + 1 :])
                        if staged_twice
                        else None,
                    )
                )
            if live_path is not None:
                streams.append(
                    Filtered(
                        file_chunks(live_path, self.file_format, existing, rows=rows),
                        schema,
                        replaced=replaced_by(
                            file_keys(live_path, self.file_format, existing), keys
                        ),
                        drop=drop,
                    )
                )
            del keys
            return self._write(output, merge_sorted(streams, fill=rows), schema)


def _pieces(table: pa.Table, schema: pa.Schema) -> Iterator[pa.Table]:
    """A sorted in-memory table as pieces of ``schema`` (decoded one piece at a time)."""
    for chunk in table_chunks(table, ROW_GROUP_ROWS):
        yield conform(chunk, schema)


def _plain_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(pa.string()) if column.type != pa.string() else column


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A complete delivery (mapper-focus ``focus_deliveries`` record)."""

    provider: str  # partition slug
    billing_period: str  # YYYY-MM
    delivery_id: str
    #: What it replaces: one export of the provider ("<export kind>:<export name>"). None:
    #: whole partitions of ``billing_account_ids`` (records written before scopes).
    scope: str | None = None
    #: An incomplete delivery (mode "merge"): its rows are merged, nothing is removed.
    merge: bool = False
    billing_account_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, record: Mapping[str, t.Any]) -> Delivery:
        mode = record.get("mode") or "replace"
        if mode not in ("replace", "merge"):
            raise PermanentError(
                f"focus_deliveries: delivery {record.get('delivery_id')}: unknown mode {mode!r}"
            )
        scope = record.get("scope")
        return cls(
            provider=provider_slug(str(record["provider"])),
            billing_period=str(record["billing_period"]),
            delivery_id=str(record["delivery_id"]),
            scope=str(scope) if scope else None,
            merge=mode == "merge",
            billing_account_ids=tuple(str(a) for a in record.get("billing_account_ids") or ()),
        )


def in_scope(table: pa.Table, scope: str | None) -> pa.Array:
    """Rows a delivery of ``scope`` replaces: rows of that scope, and delivered rows written
    before scopes existed (x_DeliveryId set, x_DeliveryScope null or absent)."""
    names = table.column_names
    if DELIVERY_ID in names:
        delivered = pc.is_valid(table.column(DELIVERY_ID))
    else:
        delivered = pa.repeat(pa.scalar(False), table.num_rows)
    if DELIVERY_SCOPE not in names or scope is None:
        return delivered
    column = table.column(DELIVERY_SCOPE)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    same = pc.fill_null(pc.equal(column, pa.scalar(scope, column.type)), False)
    return pc.or_(same, pc.and_(pc.is_null(column), delivered))


def is_custom(name: str) -> bool:
    return name.startswith(CUSTOM_PREFIX)


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
