"""BATCH messages in mapper-focus: reading a tap's batch files, writing FOCUS ones.

A BATCH message names files that hold a stream's records (singer-sdk's batch extension:
``{"type": "BATCH", "stream": ..., "encoding": {"format": "parquet" | "jsonl", ...},
"manifest": [file URLs]}``). The mapper reads each file, maps its rows (vectorised where a
provider has an Arrow mapping, else record by record) and writes the FOCUS rows into new
batch files, announced by BATCH messages of the FOCUS stream.

Values read from a batch file are the values the RECORD path would have carried:
``records_of`` turns Arrow columns back into them (exact Decimals, date-times as UTC text,
MAPs as dicts). FOCUS batch files type their columns as target-focus stores them:
Decimal as ``decimal128(38, 18)``, DateTime as ``timestamp("us", "UTC")``, JSON as
compact JSON text, String as text.
"""

from __future__ import annotations

import datetime as dt
import gzip
import typing as t
import uuid
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DECIMAL = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("us", "UTC")
_QUANTUM = Decimal(1).scaleb(-18)
_ONE = Decimal(1)
_TENTH = Decimal("0.1")
_REPR_LIMIT = Decimal("1E16")  # Python writes a float of at least this in E notation

#: JSON as target-focus stores it: compact, numbers exactly as given.
JSON_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
JSON_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_RECORD_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class BatchError(ValueError):
    """A batch file that cannot be read (names the file and why)."""


# --- files ------------------------------------------------------------------------------


def local_path(url: str) -> Path | None:
    """The local path of a ``file://`` URL (or a plain path), else None."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "":
        return Path(url)
    return None


def _open(url: str) -> t.Any:
    path = local_path(url)
    if path is not None:
        return path.open("rb")
    from singer_sdk.helpers._batch import StorageTarget

    head, tail = StorageTarget.split_url(url)
    return StorageTarget.from_url(head).open(tail, mode="rb")


def read_parquet(url: str, columns: Sequence[str] | None = None) -> pa.Table:
    """One Parquet batch file (only ``columns`` of it, when given and present)."""
    try:
        path = local_path(url)
        source: t.Any = str(path) if path is not None else _open(url)
        parquet = pq.ParquetFile(source)
        if columns is not None:
            names = set(parquet.schema_arrow.names)
            columns = [c for c in columns if c in names]
        return parquet.read(columns=columns, use_threads=False)
    except (OSError, pa.ArrowException) as exc:
        raise BatchError(f"batch file {url} is not readable Parquet: {exc}") from None


def read_jsonl(url: str, compression: str | None) -> list[dict[str, t.Any]]:
    """One JSONL batch file: a record per line (numbers as exact Decimals)."""
    try:
        with _open(url) as handle:
            data = handle.read()
        if compression == "gzip" or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return [_RECORD_DECODER.decode(line) for line in data.splitlines() if line.strip()]
    except (OSError, msgspec.DecodeError) as exc:
        raise BatchError(f"batch file {url} is not readable JSON lines: {exc}") from None


# --- Arrow values as the RECORD path carries them ---------------------------------------


def canonical_decimal(value: Decimal) -> Decimal:
    """A decimal read from a fixed-scale column, as the shortest text that spells it:
    ``0.100000000000000000`` -> ``0.1``, ``100.000...`` -> ``100`` (never ``1E+2``)."""
    number = value.normalize()
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return number.quantize(_ONE)
    return number


def float_decimal(value: Decimal) -> Decimal:
    """What ``Decimal(repr(x))`` gives for the double ``x`` this exact decimal came from
    (tap-aws reads MAP and nested doubles that way): an integral value below 1E16 keeps
    one decimal place, ``5.0``; anything else is the shortest text."""
    number = canonical_decimal(value)
    if number == number.to_integral_value() and abs(number) < _REPR_LIMIT:
        return number.quantize(_TENTH)
    return number


def _utc_text(text: str | None) -> str | None:
    """tap-aws's date-time text: Arrow's ``%Y-%m-%dT%H:%M:%S`` in UTC, ``.000`` dropped."""
    if text is None:
        return None
    return text[:-4] + "Z" if text.endswith(".000") else text + "Z"


def _deep(value: t.Any, leaf: t.Callable[[Decimal], Decimal]) -> t.Any:
    if isinstance(value, Decimal):
        return leaf(value)
    if isinstance(value, dict):
        return {k: _deep(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        if value and isinstance(value[0], tuple):  # a MAP: key/value pairs
            return {k: _deep(v, leaf) for k, v in value}
        return [_deep(v, leaf) for v in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def column_values(array: pa.Array | pa.ChunkedArray, schema: Mapping[str, t.Any]) -> list[t.Any]:
    """One column's values as the RECORD path carries them (see the module docstring)."""
    arrow_type = array.type
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
        array = array.cast(arrow_type)
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared or [])
    if pa.types.is_decimal(arrow_type):
        return [None if v is None else canonical_decimal(v) for v in array.to_pylist()]
    if pa.types.is_floating(arrow_type):
        return [None if v is None else Decimal(repr(v)) for v in array.to_pylist()]
    if pa.types.is_timestamp(arrow_type):
        if arrow_type.tz is None:
            array = array.cast(pa.timestamp(arrow_type.unit, "UTC"))
        text = pc.strftime(array.cast(pa.timestamp(arrow_type.unit, "UTC")), "%Y-%m-%dT%H:%M:%S")
        return [_utc_text(v) for v in text.to_pylist()]
    if pa.types.is_date(arrow_type):
        return [None if v is None else v.isoformat() for v in array.to_pylist()]
    if pa.types.is_map(arrow_type) or pa.types.is_struct(arrow_type):
        return [None if v is None else _deep(v, float_decimal) for v in array.to_pylist()]
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return [None if v is None else _deep(v, float_decimal) for v in array.to_pylist()]
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        values = array.to_pylist()
        if "number" in types:  # exact decimal text (a value that fits no decimal column)
            return [None if v is None else Decimal(v) for v in values]
        if types & {"object", "array"} and "string" not in types:  # JSON text
            return [None if v is None else JSON_DECODER.decode(v) for v in values]
        return values
    return array.to_pylist()


def records_of(table: pa.Table, properties: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """The table's rows as the RECORD path would have carried them, in column order."""
    names = table.column_names
    columns = [column_values(table.column(name), properties.get(name) or {}) for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


# --- FOCUS batch files ------------------------------------------------------------------

FOCUS_TYPES: dict[str, pa.DataType] = {
    "String": pa.string(),
    "Decimal": DECIMAL,
    "DateTime": TIMESTAMP,
    "JSON": pa.string(),
    "Integer": pa.int64(),
    "Boolean": pa.bool_(),
}


def custom_kind(schema: Mapping[str, t.Any]) -> str:
    """A custom column's data type from its JSON schema (as target-focus reads it)."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared or [])
    types.discard("null")
    if types == {"integer"}:
        return "Integer"
    if types and types <= {"number", "integer"}:
        return "Decimal"
    if types == {"boolean"}:
        return "Boolean"
    if types and types <= {"object", "array"}:
        return "JSON"
    return "String"


def focus_kinds(spec: t.Any, custom_columns: Mapping[str, Mapping[str, t.Any]]) -> dict[str, str]:
    """Data type of every column a FOCUS row of this spec and these custom columns has."""
    kinds = {column.name: column.data_type for column in spec.columns}
    kinds.update({name: custom_kind(schema) for name, schema in custom_columns.items()})
    return kinds


def json_text(value: t.Any) -> str:
    """A JSON column's text exactly as target-focus stores it (compact, exact numbers)."""
    if isinstance(value, str):
        value = JSON_DECODER.decode(value)
    return JSON_ENCODER.encode(value).decode()


class UnrepresentableError(ValueError):
    """A row value a FOCUS batch column cannot hold as target-focus would store it."""


_FIT = Context(prec=38, traps=[Inexact, InvalidOperation])


def _decimal_value(value: t.Any) -> Decimal:
    """As target-focus stores a Decimal column: exactly, 38 digits, 18 after the point."""
    if type(value) is Decimal or type(value) is int:
        number = Decimal(value)
        if number.is_finite():
            try:
                return number.quantize(_QUANTUM, context=_FIT)
            except DecimalException:
                pass
    raise UnrepresentableError(value)


def _timestamp_value(value: t.Any) -> dt.datetime:
    from focus_spec import as_utc_datetime

    moment = as_utc_datetime(value)
    if moment is None:
        raise UnrepresentableError(value)
    return moment.astimezone(dt.UTC)


def _converter(kind: str, custom: bool) -> t.Callable[[t.Any], t.Any]:
    if kind == "Decimal":
        return _decimal_value
    if kind == "DateTime":
        return _timestamp_value
    if kind == "JSON":
        return _json_value
    if kind == "String":
        return _custom_text if custom else _text_value
    if kind == "Integer":
        return _integer_value
    return _boolean_value


def _json_value(value: t.Any) -> str:
    if not isinstance(value, dict | list | str):
        raise UnrepresentableError(value)
    try:
        return json_text(value)
    except (msgspec.DecodeError, TypeError):
        raise UnrepresentableError(value) from None


def _text_value(value: t.Any) -> str:
    if type(value) is not str or not value:
        raise UnrepresentableError(value)
    return value


def _custom_text(value: t.Any) -> str:
    return value if isinstance(value, str) else json_text(value)


def _integer_value(value: t.Any) -> int:
    if type(value) is int:
        return value
    raise UnrepresentableError(value)


def _boolean_value(value: t.Any) -> bool:
    if type(value) is bool:
        return value
    raise UnrepresentableError(value)


def rows_to_table(
    rows: Sequence[Mapping[str, t.Any]], columns: Sequence[str], kinds: Mapping[str, str]
) -> tuple[pa.Table, list[int]]:
    """FOCUS rows (dicts, as the RECORD path emits them) as a table of ``columns``.

    Returns the table of the rows that have exactly these columns (a column a row lacks
    is not the same as a null one to FOCUS's conditional rules) and every value of which
    the batch types hold exactly as target-focus would store it; and the indices of the
    others, for RECORD messages, so target-focus judges them as it judges any record.
    """
    converters = [
        (name, _converter(kinds.get(name, "String"), name.startswith("x_"))) for name in columns
    ]
    known = set(columns)
    kept: list[list[t.Any]] = [[] for _ in columns]
    refused: list[int] = []
    for index, row in enumerate(rows):
        if row.keys() != known:
            refused.append(index)
            continue
        try:
            values = [
                None if (value := row.get(name)) is None else convert(value)
                for name, convert in converters
            ]
        except UnrepresentableError:
            refused.append(index)
            continue
        for column, value in zip(kept, values, strict=True):
            column.append(value)
    arrays = [
        pa.array(values, FOCUS_TYPES[kinds.get(name, "String")])
        for name, values in zip(columns, kept, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=list(columns)), refused


class FocusBatchWriter:
    """Writes FOCUS tables as batch files and returns the BATCH messages announcing them.

    Files go where the mapper's ``batch_config.storage`` says; without one, beside the
    input batch file (the directory the pipeline already hands files through). Parquet by
    default; ``jsonl`` (optionally gzip) for loaders that read JSON lines better (JSON
    columns then hold objects, as in RECORD messages).
    """

    def __init__(self, batch_config: Mapping[str, t.Any] | None, stream: str) -> None:
        config = dict(batch_config or {})
        encoding = dict(config.get("encoding") or {})
        storage = dict(config.get("storage") or {})
        self.format = str(encoding.get("format") or "parquet")
        self.compression = encoding.get("compression")
        self.root = storage.get("root")
        self.prefix = str(storage.get("prefix") or "")
        self.stream = stream

    def _target(self, near: str | None, suffix: str) -> tuple[str, t.Any]:
        name = f"{self.prefix}mapper-focus--{self.stream}-{uuid.uuid4()}{suffix}"
        root = self.root
        if root is None and near is not None:
            root = near.rsplit("/", 1)[0] if "/" in near else "."
        if root is None:
            root = Path.cwd().as_uri()
        local = local_path(root)
        if local is not None:
            local.mkdir(parents=True, exist_ok=True)
            path = local / name
            return path.resolve().as_uri(), path
        from singer_sdk.helpers._batch import StorageTarget

        storage = StorageTarget(root=root)
        return storage.get_url(name), storage.open(name, mode="wb")

    def write(
        self, table: pa.Table, kinds: Mapping[str, str], near: str | None = None
    ) -> dict[str, t.Any]:
        """One batch file holding ``table``; the BATCH message (as a dict) naming it."""
        if self.format == "jsonl":
            url = self._write_jsonl(table, kinds, near)
            encoding: dict[str, t.Any] = {"format": "jsonl"}
            if self.compression == "gzip":
                encoding["compression"] = "gzip"
        else:
            suffix = ".parquet.gz" if self.compression == "gzip" else ".parquet"
            url, where = self._target(near, suffix)
            compression = "gzip" if self.compression == "gzip" else "none"
            try:
                pq.write_table(
                    table,
                    where,
                    compression=compression,
                    write_statistics=False,
                    use_dictionary=repeated_columns(table),
                    store_schema=False,
                )
            finally:
                if not isinstance(where, Path):
                    where.close()
            encoding = {"format": "parquet"}
            if self.compression == "gzip":
                encoding["compression"] = "gzip"
        return {"type": "BATCH", "stream": self.stream, "encoding": encoding, "manifest": [url]}

    def _write_jsonl(self, table: pa.Table, kinds: Mapping[str, str], near: str | None) -> str:
        suffix = ".jsonl.gz" if self.compression == "gzip" else ".jsonl"
        url, where = self._target(near, suffix)
        json_columns = {name for name in table.column_names if kinds.get(name) == "JSON"}
        time_columns = {name for name in table.column_names if kinds.get(name) == "DateTime"}
        columns: list[list[t.Any]] = []
        for name in table.column_names:
            column = table.column(name)
            if name in time_columns:
                text = pc.strftime(column, "%Y-%m-%dT%H:%M:%S")  # %S has the fraction
                columns.append([None if v is None else _trim_fraction(v) for v in text.to_pylist()])
            elif name in json_columns:
                columns.append(
                    [None if v is None else msgspec.Raw(v.encode()) for v in column.to_pylist()]
                )
            else:
                columns.append(column.to_pylist())
        names = table.column_names
        buffer = bytearray()
        for values in zip(*columns, strict=True):
            buffer += JSON_ENCODER.encode(dict(zip(names, values, strict=True)))
            buffer += b"\n"
        data = gzip.compress(bytes(buffer), compresslevel=1) if suffix.endswith(".gz") else buffer
        if isinstance(where, Path):
            where.write_bytes(data)
        else:
            with where as handle:
                handle.write(data)
        return url


def repeated_columns(table: pa.Table) -> list[str]:
    """Columns worth a Parquet dictionary: all but text whose values hardly repeat (a
    sample tells), for which a dictionary would only be filled and thrown away. The
    reader keeps the dictionaries (target-focus reads them as Arrow dictionaries)."""
    found = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            found.append(name)
            continue
        values = column.drop_null()
        step = max(1, len(values) // 1000)
        sample = values[::step] if step > 1 else values
        if len(sample) == 0 or pc.count_distinct(sample).as_py() * 4 <= len(sample):
            found.append(name)
    return found


def _trim_fraction(text: str) -> str:
    """``...T00:00:00.000000`` -> ``...T00:00:00Z``; a real fraction is kept."""
    head, _, fraction = text.partition(".")
    fraction = fraction[:6].rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def count_rows(url: str, encoding: Mapping[str, t.Any]) -> int:
    """Rows in one batch file (for the counts of a stream nothing maps)."""
    if str(encoding.get("format")) == "parquet":
        path = local_path(url)
        source: t.Any = str(path) if path is not None else _open(url)
        return int(pq.ParquetFile(source).metadata.num_rows)
    return len(read_jsonl(url, encoding.get("compression")))


def _typed(array: pa.Array, kind: str) -> pa.Array:
    target = FOCUS_TYPES[kind]
    if array.type == target:
        return array
    if kind in ("String", "JSON") and pa.types.is_dictionary(array.type):
        return array
    return array.cast(target)


def _constant(value: str, size: int) -> pa.Array:
    indices = pa.repeat(pa.scalar(0, pa.int32()), size) if size else pa.array([], pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array([value], pa.string()))


def focus_table(
    vector: Mapping[str, pa.Array],
    indices: pa.Array,
    provider: str,
    rows: Sequence[Mapping[str, t.Any]],
    origins: Sequence[int],
    columns: Sequence[str],
    kinds: Mapping[str, str],
) -> tuple[pa.Table, list[int]]:
    """One batch's FOCUS rows as one table, in input order: the vectorised rows (one per
    input row at ``indices``) and the record-mapped ``rows`` (from the input rows at
    ``origins``, 0..n each). Returns it and the ``rows`` indices it could not hold."""
    size = len(indices)
    arrays = []
    for name in columns:
        kind = kinds.get(name, "String")
        if name == "x_SourceProvider":
            arrays.append(_constant(provider, size))
        elif name in vector:
            arrays.append(_typed(vector[name], kind))
        else:
            arrays.append(pa.nulls(size, FOCUS_TYPES[kind]))
    table = pa.Table.from_arrays(arrays, names=list(columns))
    if not rows:
        return table, []
    others, refused = rows_to_table(rows, columns, kinds)
    if not others.num_rows:
        return table, refused
    if not size:
        return others, refused
    others = pa.Table.from_arrays(
        [
            others.column(i).dictionary_encode()
            if pa.types.is_dictionary(table.schema.field(i).type)
            else others.column(i)
            for i in range(len(columns))
        ],
        schema=table.schema,
    )
    skipped = set(refused)
    kept_origins = [origin for i, origin in enumerate(origins) if i not in skipped]
    sub: list[int] = []
    previous = None
    for origin in kept_origins:
        sub.append(sub[-1] + 1 if origin == previous else 0)
        previous = origin
    order_table = pa.table(
        {
            "position": pa.concat_arrays(
                [indices.cast(pa.int64()), pa.array(kept_origins, pa.int64())]
            ),
            "sub": pa.concat_arrays(
                [pa.repeat(pa.scalar(0, pa.int64()), size), pa.array(sub, pa.int64())]
            ),
        }
    )
    order = pc.sort_indices(
        order_table, sort_keys=[("position", "ascending"), ("sub", "ascending")]
    )
    combined = pa.concat_tables([table, others]).unify_dictionaries().combine_chunks()
    return combined.take(order), refused
