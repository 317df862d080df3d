"""BATCH messages for tap-aws: a delivery's rows as Parquet batch files, built in Arrow.

With the SDK's ``batch_config`` set, a line-item stream writes its rows into Parquet files
and emits one BATCH message per file instead of a RECORD message per row. The rows are
the same ones the RECORD path emits, column for column, typed so that every consumer
reads the same values:

- money, quantities and rates (Parquet DOUBLE, and CUR 2.0's string rates) are exact
  ``decimal128(38, 18)``: each double becomes the decimal its shortest round-trip text
  spells (Arrow's cast to text, as the RECORD path reads it), never binary noise. A
  column holding a value that does not fit 38 digits with 18 after the point is written
  as the exact decimal text instead (string), never rounded;
- date-times are ``timestamp(unit, "UTC")`` (naive CUR timestamps are UTC);
- MAP columns stay Parquet MAPs; DOUBLE map values become ``decimal128(38, 18)`` too;
- empty text is null, as in the RECORD path;
- the tap fields billing_period, delivery_id, export_name, source_file and row_number
  (1-based within source_file) are appended, as in the RECORD path.

Parquet files are converted column by column with pyarrow.compute (no Python object
per value). gzip CSV files are read by pyarrow's streaming CSV reader as text and
converted column by column to exactly what the RECORD path's rows give (rows_to_batch);
a file where that cannot be vouched for is read row by row, the RECORD path's way.
"""

from __future__ import annotations

import csv
import re
import typing as t
from decimal import Decimal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

if t.TYPE_CHECKING:
    import gzip
    import io
    from collections.abc import Callable, Iterable, Iterator, Mapping

DECIMAL = pa.decimal128(38, 18)
TAP_FIELDS = ("billing_period", "delivery_id", "export_name", "source_file", "row_number")
_JSON = msgspec.json.Encoder(decimal_format="number", enc_hook=str)


class ConversionError(ValueError):
    """A value that cannot be read as its column's type (names the column)."""


# --- Parquet columns ---------------------------------------------------------------


def _has_floating(arrow_type: pa.DataType) -> bool:
    if pa.types.is_floating(arrow_type):
        return True
    if pa.types.is_map(arrow_type):
        return _has_floating(arrow_type.key_type) or _has_floating(arrow_type.item_type)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _has_floating(arrow_type.value_type)
    if pa.types.is_struct(arrow_type):
        return any(_has_floating(field.type) for field in arrow_type)
    return False


def _replace_floating(arrow_type: pa.DataType, by: pa.DataType) -> pa.DataType:
    """``arrow_type`` with every floating type inside it replaced by ``by``."""
    if pa.types.is_floating(arrow_type):
        return by
    if pa.types.is_map(arrow_type):
        return pa.map_(
            _replace_floating(arrow_type.key_type, by),
            pa.field(
                arrow_type.item_field.name,
                _replace_floating(arrow_type.item_type, by),
                arrow_type.item_field.nullable,
            ),
        )
    if pa.types.is_list(arrow_type):
        return pa.list_(_replace_floating(arrow_type.value_type, by))
    if pa.types.is_large_list(arrow_type):
        return pa.large_list(_replace_floating(arrow_type.value_type, by))
    if pa.types.is_struct(arrow_type):
        return pa.struct(
            [pa.field(f.name, _replace_floating(f.type, by), f.nullable) for f in arrow_type]
        )
    return arrow_type


def _float_leaves(array: pa.Array) -> Iterator[pa.Array]:
    arrow_type = array.type
    if pa.types.is_floating(arrow_type):
        yield array
    elif pa.types.is_map(arrow_type):
        yield from _float_leaves(array.keys)
        yield from _float_leaves(array.items)
    elif pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        yield from _float_leaves(array.flatten())
    elif pa.types.is_struct(arrow_type):
        for index in range(arrow_type.num_fields):
            yield from _float_leaves(array.field(index))


def _check_finite(array: pa.Array, column: str) -> None:
    for values in _float_leaves(array):
        if len(values) and pc.any(pc.or_(pc.is_nan(values), pc.is_inf(values))).as_py():
            raise ConversionError(f"column {column} holds a value that is not a finite number")


def _decimal_text_of(text: str) -> str:
    """The exact decimal a double's shortest text spells, as Decimal text (no rounding)."""
    number = Decimal(text)
    return str(number if "E" not in str(number) else Decimal(format(number, "f")))


def floats_to_decimal(array: pa.Array, column: str) -> pa.Array:
    """Doubles (also inside maps, lists, structs) as exact decimals of their shortest text.

    Falls back to that text itself (strings) when a value needs more than 38 digits or
    18 decimal places, so nothing is ever rounded.
    """
    _check_finite(array, column)
    as_text = array.cast(_replace_floating(array.type, pa.string()))
    try:
        return as_text.cast(_replace_floating(array.type, DECIMAL))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if pa.types.is_floating(array.type):
        return pa.array(
            [None if v is None else _decimal_text_of(v) for v in as_text.to_pylist()],
            pa.string(),
        )
    return as_text  # nested values as text: exact, and still readable


def text_to_decimal(array: pa.Array, column: str) -> pa.Array:
    """CUR 2.0's string-typed rates: empty is null, the rest exact decimals."""
    if pa.types.is_dictionary(array.type):  # convert each distinct text once
        values = text_to_decimal(array.dictionary, column)
        return values.take(array.indices)
    array = _empty_to_null(array)
    try:
        return array.cast(DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = []
    for text in array.to_pylist():
        if text is None:
            values.append(None)
            continue
        try:
            values.append(str(Decimal(text)))
        except ArithmeticError:
            raise ConversionError(f"column {column} holds {text[:40]!r}, not a number") from None
    return pa.array(values, pa.string())


def _empty_to_null(array: pa.Array) -> pa.Array:
    if array.null_count == len(array):
        return array
    if pa.types.is_dictionary(array.type):
        empty_value = pc.equal(array.dictionary, "")
        if not pc.any(empty_value).as_py():
            return array
        indices = pc.if_else(
            empty_value.take(array.indices), pa.scalar(None, array.indices.type), array.indices
        )
        return pa.DictionaryArray.from_arrays(indices, array.dictionary)
    empty = pc.equal(array, "")
    if not pc.any(empty).as_py():
        return array
    return pc.if_else(empty, pa.scalar(None, array.type), array)


def _is_number(kind: str, column: str) -> bool:
    from tap_aws.client import is_number

    return is_number(kind, column)


def parquet_column_converter(
    arrow_type: pa.DataType, manifest_type: str | None, column: str
) -> Callable[[pa.Array], pa.Array]:
    """How one Parquet column becomes its batch-file column (see the module docstring)."""
    kind = (manifest_type or "").lower()
    if _has_floating(arrow_type):
        return lambda array: floats_to_decimal(array, column)
    if pa.types.is_decimal(arrow_type):
        if arrow_type == DECIMAL:
            return _same
        return lambda array: _rescale(array, column)
    if pa.types.is_timestamp(arrow_type):
        utc = pa.timestamp(arrow_type.unit, "UTC")
        return lambda array: array.cast(utc)
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type  # text read as a dictionary (see read_dictionary)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        if _is_number(kind or "string", column):
            return lambda array: text_to_decimal(array, column)
        return _empty_to_null
    return _same


def _same(array: pa.Array) -> pa.Array:
    return array


def _rescale(array: pa.Array, column: str) -> pa.Array:
    try:
        return array.cast(DECIMAL)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in array.to_pylist()], pa.string())


def with_tap_fields(
    batch: pa.RecordBatch,
    converters: list[Callable[[pa.Array], pa.Array]],
    fields: Mapping[str, str],
    first_row: int,
) -> pa.RecordBatch:
    """One Parquet record batch converted, with the tap fields appended."""
    try:
        arrays = [convert(batch.column(i)) for i, convert in enumerate(converters)]
    except pa.ArrowException as exc:
        raise ConversionError(str(exc)) from None
    names = list(batch.schema.names)
    rows = batch.num_rows
    zeros = pa.repeat(pa.scalar(0, pa.int32()), rows) if rows else pa.array([], pa.int32())
    for name in TAP_FIELDS[:-1]:  # constants: one-value dictionaries, nearly free to store
        arrays.append(pa.DictionaryArray.from_arrays(zeros, pa.array([fields[name]], pa.string())))
        names.append(name)
    arrays.append(pa.array(range(first_row, first_row + rows), pa.int64()))
    names.append("row_number")
    return pa.RecordBatch.from_arrays(arrays, names=names)


def dictionary_columns(parquet: t.Any) -> list[str]:
    """Text columns worth reading as Arrow dictionaries: the file dictionary-encodes them
    with a dictionary much smaller than the data (repeated names, ids, types). Decoding
    then costs an index per value, and the batch file keeps the dictionary."""
    metadata = parquet.metadata
    if not metadata.num_row_groups:
        return []
    group = metadata.row_group(0)
    text = {
        field.name
        for field in parquet.schema_arrow
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    }
    found = []
    for index in range(group.num_columns):
        chunk = group.column(index)
        name = chunk.path_in_schema
        if name not in text or not chunk.has_dictionary_page:
            continue
        start = chunk.dictionary_page_offset
        if start is None or chunk.data_page_offset is None:
            continue
        if (chunk.data_page_offset - start) * 2 < chunk.total_compressed_size:
            found.append(name)
    return found


# --- rows read the RECORD way (gzip CSV) -----------------------------------------------


def arrow_type_of(schema: Mapping[str, t.Any]) -> pa.DataType:
    """The batch-file type of a column of the stream's JSON schema."""
    declared = schema.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared or [])
    types.discard("null")
    if types == {"number"}:
        return DECIMAL
    if types == {"integer"}:
        return pa.int64()
    if types == {"boolean"}:
        return pa.bool_()
    if types == {"string"} and schema.get("format") == "date-time":
        return pa.timestamp("ms", "UTC")
    if types == {"string"} and schema.get("format") == "date":
        return pa.date32()
    return pa.string()  # text; objects and arrays as their exact JSON text


def rows_to_batch(
    rows: Iterable[Mapping[str, t.Any]], names: list[str], properties: Mapping[str, t.Any]
) -> pa.RecordBatch:
    """Rows as the RECORD path emits them, in batch-file types (CSV deliveries)."""
    rows = list(rows)
    arrays = [
        values_to_array([row.get(name) for row in rows], arrow_type_of(properties.get(name) or {}))
        for name in names
    ]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def values_to_array(values: list[t.Any], arrow_type: pa.DataType) -> pa.Array:
    """One column of RECORD-path values in its batch-file type."""
    if arrow_type == DECIMAL:
        try:
            return pa.array(values, DECIMAL)
        except (pa.ArrowInvalid, OverflowError):
            return pa.array([None if v is None else str(v) for v in values], pa.string())
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return pa.array(values, pa.string()).cast(arrow_type)
    if arrow_type == pa.string():
        return pa.array(
            [v if v is None or isinstance(v, str) else _JSON.encode(v).decode() for v in values],
            pa.string(),
        )
    return pa.array(values, arrow_type)


# --- gzip CSV read column-wise ------------------------------------------------------------
#
# The row path (rows_to_batch over the RECORD path's rows) is exact but spends a Python
# call per value. The column-wise path reads the same text with pyarrow's streaming CSV
# reader, every column as text, and converts each column with Arrow kernels to what the
# row path would make of it. It only converts what it can prove it converts the same way
# (values are checked against a strict pattern before an Arrow cast); anything else
# raises, and the caller reads that file by the row path instead (see
# S3Exports.arrow_batches), so values and error messages never change.

CSV_BLOCK_BYTES = 1024 * 1024  # pyarrow's read unit: memory stays a few blocks
_BOM = b"\xef\xbb\xbf"
_TS_MS = pa.timestamp("ms", "UTC")
# Number texts Arrow's decimal cast reads as Python's Decimal does, and small enough for
# its rescaling to 18 places not to overflow (pyarrow wraps around silently for values
# from 2**127 / 10**18 on, and also reads "1e0x1" or "1e+-1"): below 10**20, at most 18
# decimal places before a short exponent. Other texts take the row path's way.
_NUMBER = (
    r"^[+-]?(\d{1,20}(\.\d{0,18})?|\.\d{1,18})([eE]-0?1?\d)?$"  # x, x.y, .y, xE-n
    r"|^[+-]?\d(\.\d{0,18})?[eE]\+?0?1?\d$"  # d.ddE+n, as Java prints doubles
)
_INTEGER = r"^-?\d{1,18}$"  # Arrow's int64 cast also refuses "+1"
# iso_text's two shortcuts, exactly as it tests them (length, "T" at 10, the ending).
_ISO_20 = r"(?s)^.{10}T.{8}Z$"
_ISO_24 = r"(?s)^.{19}\.000Z$"
# Other timestamps iso_text reads with datetime.fromisoformat, and Arrow alike.
_ISO_OTHER = (
    r"^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")  # where newline="" text mode also ends a line
_ZONED = r"(Z|[+-]\d\d:\d\d)$"
_PY_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.strip() strips, in ASCII


class NotColumnwiseError(ValueError):
    """The column-wise CSV reader cannot vouch for matching the row path on this file."""


def csv_header(stream: io.BufferedReader[t.Any] | gzip.GzipFile) -> list[str] | None:
    """The header record, read by csv.reader as the row path reads it (UTF-8, optional
    BOM, lines ending in LF, CR LF or CR), so that the stream stops right after it for
    pyarrow."""
    pending: list[str] = []

    def lines() -> Iterator[str]:
        start = True
        while True:
            line = stream.readline(CSV_BLOCK_BYTES)
            if len(line) == CSV_BLOCK_BYTES and not line.endswith(b"\n"):
                raise NotColumnwiseError("a header line longer than a block")
            if start:
                line, start = line.removeprefix(_BOM), False
            if not line:
                return
            pending.extend(piece for piece in _LONE_CR.split(line.decode("utf-8")) if piece)
            while pending:
                yield pending.pop(0)

    header = next(csv.reader(lines()), None)
    if pending:
        raise NotColumnwiseError("a record after the header on the same line (a lone CR)")
    return header


def csv_text_batches(
    stream: io.BufferedReader[t.Any] | gzip.GzipFile, header: list[str], batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """The records after the header as text columns ("" kept), ``batch_rows`` at a time.

    Raises NotColumnwiseError (or pyarrow's error, e.g. on a ragged line) where pyarrow's
    reading could differ from csv.reader's.
    """
    if len(header) < 2 or len(set(header)) != len(header) or set(header) & set(TAP_FIELDS):
        raise NotColumnwiseError("a header of fewer than 2, repeated or reserved column names")
    head = stream.peek(3)[:3]
    if head and _BOM.startswith(head):
        raise NotColumnwiseError("a byte-order mark after the header")  # pyarrow would drop it
    with pa_csv.open_csv(
        stream,
        read_options=pa_csv.ReadOptions(column_names=header, block_size=CSV_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    ) as reader:
        for batch in _rebatch(reader, max(1, batch_rows)):
            _check_text(batch)
            yield batch


def _rebatch(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """The batches re-cut to ``rows`` rows each (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        while batch.num_rows:
            take = min(rows - count, batch.num_rows)
            pending.append(batch.slice(0, take))
            batch = batch.slice(take)
            count += take
            if count == rows:
                yield pa.concat_batches(pending)
                pending, count = [], 0
    if count:
        yield pa.concat_batches(pending)


def _check_text(batch: pa.RecordBatch) -> None:
    """Where csv.reader and pyarrow part ways: a blank line (pyarrow reads a row of empty
    fields, csv.reader none) and a field beyond csv.reader's size limit."""
    blank = pc.equal(pc.binary_length(batch.column(0)), 0)
    for column in batch.columns[1:]:
        if not pc.any(blank).as_py():
            break
        blank = pc.and_(blank, pc.equal(pc.binary_length(column), 0))
    if pc.any(blank).as_py():
        raise NotColumnwiseError("a blank line or a row of empty fields")
    limit = csv.field_size_limit()
    for column in batch.columns:
        if (pc.max(pc.binary_length(column)).as_py() or 0) > limit:
            raise NotColumnwiseError("a field beyond csv.field_size_limit()")


def csv_column_converter(
    kind: str, arrow_type: pa.DataType, python: Callable[[str], t.Any]
) -> Callable[[pa.Array], pa.Array]:
    """How one CSV text column becomes what rows_to_batch makes of ``python`` (the RECORD
    path's converter, see client.csv_converter) applied to each of its values.

    ``kind`` is client.csv_kind's, ``arrow_type`` the column's batch-file type. Other
    pairs (JSON structures, a schema typed by another manifest) and values outside the
    proven patterns take ``python`` value by value, for that column only.
    """

    def by_value(array: pa.Array) -> pa.Array:
        return values_to_array([python(v) for v in array.to_pylist()], arrow_type)

    if kind == "number" and arrow_type == DECIMAL:
        return lambda array: _csv_number(array, by_value)
    if kind == "timestamp" and arrow_type == _TS_MS:
        return lambda array: _csv_timestamp(array, by_value)
    if kind == "integer" and arrow_type == pa.int64():
        return lambda array: _csv_integer(array, by_value)
    if kind == "boolean" and arrow_type == pa.bool_():
        return lambda array: _csv_boolean(array, by_value)
    if kind == "text" and arrow_type == pa.string():
        return _empty_to_null
    if kind == "text" and pa.types.is_date(arrow_type):
        return lambda array: _empty_to_null(array).cast(arrow_type)
    return by_value


def _all(mask: pa.Array) -> bool:
    """True when no value is false (nulls, i.e. empty fields, do not count)."""
    return bool(pc.all(mask, min_count=0).as_py())


def _csv_number(array: pa.Array, by_value: Callable[[pa.Array], pa.Array]) -> pa.Array:
    text = _empty_to_null(array)
    if _all(pc.match_substring_regex(text, _NUMBER)):
        try:
            return text.cast(DECIMAL)
        except pa.ArrowInvalid:
            pass  # more than 38 digits or 18 decimal places: the row path writes text
    return by_value(array)


def _csv_integer(array: pa.Array, by_value: Callable[[pa.Array], pa.Array]) -> pa.Array:
    text = _empty_to_null(array)
    if _all(pc.match_substring_regex(text, _INTEGER)):
        return text.cast(pa.int64())
    return by_value(array)  # int() also reads " 7", "1_000", non-ASCII digits


def _csv_boolean(array: pa.Array, by_value: Callable[[pa.Array], pa.Array]) -> pa.Array:
    text = _empty_to_null(array)
    if not _all(pc.string_is_ascii(text)):
        return by_value(array)  # str.strip() and str.lower() beyond ASCII
    return pc.equal(pc.ascii_lower(pc.ascii_trim(text, _PY_ASCII_SPACE)), "true")


def _csv_timestamp(array: pa.Array, by_value: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """iso_text column-wise, then the row path's cast: its two shortcuts keep (or cut)
    the text as it does; other ISO forms are parsed by Arrow to the same instant
    (UTC unless an offset says otherwise, microseconds floored to milliseconds)."""
    text = _empty_to_null(array)
    short = pc.match_substring_regex(text, _ISO_20)
    if _all(short):
        return text.cast(_TS_MS)
    cut = pc.match_substring_regex(text, _ISO_24)
    shortcut = pc.or_(short, cut)
    no_text = pa.scalar(None, pa.string())
    kept = pc.if_else(cut, _suffixed(pc.utf8_slice_codeunits(text, 0, 19), "Z"), text)
    quick = pc.if_else(shortcut, kept, no_text).cast(_TS_MS)
    if _all(shortcut):
        return quick
    other = pc.if_else(shortcut, no_text, text)
    if not _all(pc.match_substring_regex(other, _ISO_OTHER)):
        return by_value(array)
    other = pc.replace_substring(other, " ", "T", max_replacements=1)
    zoned = pc.match_substring_regex(other, _ZONED)
    other = pc.if_else(zoned, other, _suffixed(other, "Z"))
    parsed = pc.floor_temporal(other.cast(pa.timestamp("us", "UTC")), unit="millisecond")
    return pc.if_else(shortcut, quick, parsed.cast(_TS_MS))


def _suffixed(text: pa.Array, suffix: str) -> pa.Array:
    return pc.binary_join_element_wise(text, suffix, "")


def csv_text_to_batch(
    texts: pa.RecordBatch,
    converters: list[Callable[[pa.Array], pa.Array]],
    fields: Mapping[str, str],
    first_row: int,
    properties: Mapping[str, t.Any],
) -> pa.RecordBatch:
    """One batch of CSV text columns converted, with the tap fields appended as
    rows_to_batch appends them."""
    rows = texts.num_rows
    arrays = [convert(texts.column(i)) for i, convert in enumerate(converters)]
    names = list(texts.schema.names)
    for name in TAP_FIELDS:
        arrow_type = arrow_type_of(properties.get(name) or {})
        if name == "row_number":
            arrays.append(values_to_array(list(range(first_row, first_row + rows)), arrow_type))
        elif arrow_type == pa.string():  # what values_to_array makes of [text] * rows
            arrays.append(pa.repeat(pa.scalar(fields[name], pa.string()), rows))
        else:
            arrays.append(values_to_array([fields[name]] * rows, arrow_type))
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)
