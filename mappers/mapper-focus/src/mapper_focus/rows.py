"""What every provider mapping shares: row keys, periods, exact amounts, mapping errors."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import typing as t
from decimal import Decimal

UTC = dt.UTC

#: Custom columns every FOCUS row carries, whatever the provider.
TRACE_COLUMNS: dict[str, dict] = {
    "x_SourceProvider": {
        "type": ["string"],
        "description": "the bill the row comes from (aws, stripe, ...): target-focus "
        "partitions by it, so one provider's bill is replaced as a whole",
    },
    "x_SourceStream": {"type": ["string"], "description": "raw stream the row came from"},
    "x_SourceRecordId": {"type": ["string"], "description": "id of the raw record"},
    "x_RowKey": {
        "type": ["string"],
        "description": "deterministic key: same source record and component, same key",
    },
}


class RowShaper:
    """Give a mapped row the shape of the configured FOCUS version.

    A row carries every Mandatory column (null where the mapping set none) and the other
    columns its mapping set; Conditional columns for features a provider does not have
    (SKU price lists, a pricing currency, ...) stay absent, which FOCUS allows and which
    keeps their conditional rules from applying. Columns of another FOCUS version are
    dropped; a column of no version is a bug in the mapping.

    The usual row (every column of this version or x_) is completed in place: the
    mapping's dict is fresh per row, so copying it again would only cost time.
    """

    def __init__(self, spec: t.Any, all_spec_columns: frozenset[str]) -> None:
        self.allowed = frozenset(spec.column_names)
        self.all_spec_columns = all_spec_columns
        self.template = {column.name: None for column in spec.mandatory_columns}
        self.mandatory = frozenset(self.template)
        #: Column names known to be kept as they are: this version's and x_ columns seen.
        self.known: set[str] = set(self.allowed)

    def __call__(self, row: dict[str, t.Any], stream: str, provider: str) -> dict:
        if row.keys() <= self.known:
            for column in self.mandatory - row.keys():
                row[column] = None
            row["x_SourceProvider"] = provider
            return row
        return self._slow(row, stream, provider)

    def columns(self, names: t.Iterable[str], stream: str, provider: str) -> list[str]:
        """The columns (in order) of a shaped row whose mapping set ``names``."""
        return list(self._slow(dict.fromkeys(names), stream, provider))

    def _slow(self, row: t.Mapping[str, t.Any], stream: str, provider: str) -> dict:
        out = dict(self.template)
        out["x_SourceProvider"] = provider
        for column, value in row.items():
            if column in self.allowed or column.startswith("x_"):
                out[column] = value
                self.known.add(column)
            elif column not in self.all_spec_columns:
                raise MappingError(
                    stream,
                    row.get("x_SourceRecordId"),
                    column,
                    f"{provider} mapping produced a non-FOCUS column",
                )
        return out


class MappingError(ValueError):
    """A raw record cannot be turned into FOCUS rows; names where and why."""

    def __init__(self, stream: str, record_id: str | None, column: str, reason: str) -> None:
        self.stream, self.record_id, self.column, self.reason = stream, record_id, column, reason
        super().__init__(f"stream {stream}, record {record_id or '<no id>'}, {column}: {reason}")


def row_key(*parts: object) -> str:
    """A stable key from the row's identity (never from its values, which get restated)."""
    try:
        text = "\x1f".join(parts)  # type: ignore[arg-type]  # the usual case: all text
    except TypeError:
        text = "\x1f".join(["" if part is None else str(part) for part in parts])
    return _sha256(text.encode()).hexdigest()[:32]


#: The custom column naming what a delivered row belongs to (see ``delivery_scope``).
DELIVERY_SCOPE_COLUMN: dict[str, dict] = {
    "x_DeliveryScope": {
        "type": ["string", "null"],
        "description": "the export the row was delivered by (<export kind>:<export name>): "
        "a new delivery of it replaces its rows of the billing period in target-focus, "
        "and only those",
    },
}


def delivery_scope(kind: object, name: object) -> str | None:
    """What a delivery replaces: one export of a provider (an AWS CUR 2.0 export, an Azure
    ActualCost export, the Cost Details of one scope and metric...), ``"<kind>:<name>"``.
    Rows and their delivery record (providers/deliveries.py) compute it alike."""
    if kind is None or kind == "" or name is None or name == "":
        return None
    return f"{kind}:{name}"


_sha256 = hashlib.sha256
_CACHE_LIMIT = 4096
_ISO: dict[dt.datetime, str] = {}
_DAYS: dict[int, tuple[dt.datetime, dt.datetime]] = {}
_MONTHS: dict[int, tuple[dt.datetime, dt.datetime]] = {}
_DAY = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def iso(moment: dt.datetime) -> str:
    """FOCUS date/time format: UTC, second precision, trailing Z.

    Bills repeat a few period bounds over and over: each distinct instant is formatted
    once (aware datetimes that are the same instant are equal, and format alike).
    """
    text = _ISO.get(moment)
    if text is None:
        text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if len(_ISO) >= _CACHE_LIMIT:
            _ISO.clear()
        _ISO[moment] = text
    return text


def from_unix(seconds: int | Decimal | str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), tz=UTC)


def _utc_day(moment: dt.datetime) -> int:
    """The UTC day of an aware datetime: its proleptic ordinal."""
    if moment.tzinfo is UTC:
        return moment.toordinal()
    seconds = math.floor(moment.timestamp())
    return (seconds - seconds % _DAY) // _DAY + _EPOCH_ORDINAL


def day_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if moment.tzinfo is None:  # naive: its own fields, as astimezone would take them
        return _day_bounds(moment)
    day = _utc_day(moment)
    bounds = _DAYS.get(day)
    if bounds is None:
        bounds = _day_bounds(moment)
        if len(_DAYS) >= _CACHE_LIMIT:
            _DAYS.clear()
        _DAYS[day] = bounds
    return bounds


def _day_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + dt.timedelta(days=1)


def month_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if moment.tzinfo is None:
        return _month_bounds(moment)
    day = _utc_day(moment)
    bounds = _MONTHS.get(day)
    if bounds is None:
        bounds = _month_bounds(moment)
        if len(_MONTHS) >= _CACHE_LIMIT:
            _MONTHS.clear()
        _MONTHS[day] = bounds
    return bounds


def _month_bounds(moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def as_decimal(value: object, *, where: tuple[str, str | None, str]) -> Decimal:
    """Exact decimal from an int, Decimal or decimal string; floats are refused."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise MappingError(*where, f"expected an exact number, got {value!r}")
    try:
        result = Decimal(value) if isinstance(value, int | str) else value
    except ArithmeticError:
        raise MappingError(*where, f"not a number: {value!r}") from None
    if not isinstance(result, Decimal) or not result.is_finite():
        raise MappingError(*where, f"not a finite number: {value!r}")
    return result


#: Scale of FOCUS decimals in the datasets finfocus writes (Parquet decimal128(38, 18)).
COST_SCALE = Decimal("1e-18")


def derived_cost(unit_price: Decimal, quantity: Decimal) -> Decimal:
    """unit price x quantity, for costs finfocus computes (ListCost, ContractedCost).

    Amounts a provider sends are never rounded (a value that does not fit is an error).
    A product of two provider decimals can carry more places than any amount (a 10-place
    rate times a 10-place quantity): it is rounded half-even to the dataset's 18 places,
    a difference below 1e-18 that FOCUS's "price x quantity = cost" rule accepts.
    """
    product = unit_price * quantity
    if product.as_tuple().exponent < -18:  # type: ignore[operator]
        return product.quantize(COST_SCALE)
    return product


def require(record: t.Mapping[str, t.Any], field: str, stream: str, record_id: str | None) -> t.Any:
    value = record.get(field)
    if value is None or value == "":
        raise MappingError(stream, record_id, field, "required field is missing")
    return value
