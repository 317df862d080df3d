"""User-declared mappings: FOCUS columns as expressions over a raw record.

For a source finfocus has no code for (a vendor invoice CSV read by a standard CSV tap,
say), the `mappings` setting declares, per stream, one expression per FOCUS column:

    mappings:
    - stream: vendor_invoices
      record_id: record["invoice_no"]
      columns:
        BilledCost: decimal(record["amount"])
        BillingCurrency: '"EUR"'
        ChargePeriodStart: datetime(record["date"])
        BillingPeriodStart: month_start(record["date"])
        ...

Expressions are evaluated by simpleeval (the engine of Singer stream maps): no imports,
no attribute access to Python internals. Functions: decimal, datetime, day_start,
day_end, month_start, month_end, json_object, upper, lower, str, int. Every row gets
x_SourceStream, x_SourceRecordId and x_RowKey like built-in mappings.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
from decimal import Decimal, InvalidOperation

import simpleeval

from mapper_focus.registry import StreamMapping
from mapper_focus.rows import UTC, MappingError, day_bounds, iso, month_bounds, row_key

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):  # a float already lost digits: use its shortest repr
        value = repr(value)
    try:
        return Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None


def _moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, int | Decimal):
        moment = dt.datetime.fromtimestamp(int(value), tz=UTC)
    else:
        moment = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_object(value: object) -> dict:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError(f"not a JSON object: {value!r}")
    return parsed


FUNCTIONS: dict[str, t.Callable[..., t.Any]] = {
    "decimal": _decimal,
    "datetime": lambda v: iso(_moment(v)),
    "day_start": lambda v: iso(day_bounds(_moment(v))[0]),
    "day_end": lambda v: iso(day_bounds(_moment(v))[1]),
    "month_start": lambda v: iso(month_bounds(_moment(v))[0]),
    "month_end": lambda v: iso(month_bounds(_moment(v))[1]),
    "json_object": _json_object,
    "upper": lambda v: None if v is None else str(v).upper(),
    "lower": lambda v: None if v is None else str(v).lower(),
    "str": lambda v: None if v is None else str(v),
    "int": int,
}


def compile_mapping(spec: Mapping[str, t.Any]) -> StreamMapping:
    """Turn one entry of the `mappings` setting into a StreamMapping."""
    stream = str(spec["stream"])
    columns: dict[str, str] = dict(spec.get("columns") or {})
    id_expression = str(spec.get("record_id") or 'record.get("id")')
    parser = simpleeval.EvalWithCompoundTypes(functions=FUNCTIONS)
    compiled = {column: parser.parse(expression) for column, expression in columns.items()}
    compiled_id = parser.parse(id_expression)

    def evaluate(node: t.Any, record: Mapping[str, t.Any], column: str, rid: str | None) -> t.Any:
        parser.names = {"record": record, "None": None, "True": True, "False": False}
        try:
            return parser.eval("", previously_parsed=node)
        except Exception as exc:
            raise MappingError(stream, rid, column, f"expression failed: {exc}") from None

    def record_id(record: Mapping[str, t.Any]) -> str | None:
        value = evaluate(compiled_id, record, "record_id", None)
        return None if value is None else str(value)

    def map_record(record: Mapping[str, t.Any]) -> Iterator[dict[str, t.Any]]:
        rid = record_id(record)
        row = {column: evaluate(node, record, column, rid) for column, node in compiled.items()}
        row["x_SourceStream"] = stream
        row["x_SourceRecordId"] = rid
        row["x_RowKey"] = row_key("declared", stream, rid)
        yield row

    custom = {
        name: {"type": ["string", "number", "boolean", "object", "null"]}
        for name in columns
        if name.startswith("x_")
    }
    return StreamMapping(
        provider=str(spec.get("provider") or "declared"),
        stream=stream,
        required_properties=frozenset(spec.get("required_properties") or ()),
        map_record=map_record,
        record_id=record_id,
        custom_columns=custom,
    )
