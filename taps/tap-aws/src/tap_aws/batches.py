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
per value). gzip CSV deliveries are read as the RECORD path reads them and converted
to the same Arrow types.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

if t.TYPE_CHECKING:
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
    arrays = []
    for name in names:
        values = [row.get(name) for row in rows]
        arrow_type = arrow_type_of(properties.get(name) or {})
        if arrow_type == DECIMAL:
            try:
                array = pa.array(values, DECIMAL)
            except (pa.ArrowInvalid, OverflowError):
                array = pa.array([None if v is None else str(v) for v in values], pa.string())
        elif pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
            array = pa.array(values, pa.string()).cast(arrow_type)
        elif arrow_type == pa.string():
            array = pa.array(
                [
                    v if v is None or isinstance(v, str) else _JSON.encode(v).decode()
                    for v in values
                ],
                pa.string(),
            )
        else:
            array = pa.array(values, arrow_type)
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, names=names)
