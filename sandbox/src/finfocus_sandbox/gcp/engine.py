"""The small part of GoogleSQL the fake understands, and BigQuery's JSON row encoding.

Not a query engine: it accepts the queries a billing-export reader sends, in this shape
(keywords in any case, whitespace free, one statement, an optional trailing ``;``)::

    SELECT <column>[, <column> ...] | *
    FROM `<project>.<dataset>.<table>`
    [WHERE <predicate> [AND <predicate> ...]]
    [ORDER BY <column> [ASC|DESC][, ...]]
    [LIMIT <n>]

where a column is a top-level column name (backticks allowed), and a predicate is

    <operand> (= | < | <= | > | >=) <value>
    <operand> BETWEEN <value> AND <value>

with ``<operand>`` one of ``_PARTITIONTIME``, ``DATE(_PARTITIONTIME)``, ``_PARTITIONDATE``,
a TIMESTAMP column (``export_time``, ``usage_start_time``, ``x_ExportTime``,
``ChargePeriodStart`` ...) or ``DATE(<timestamp column>)``, and ``<value>`` a named
parameter (``@name``, typed by ``queryParameters``: DATE, TIMESTAMP or STRING), a literal
``DATE 'YYYY-MM-DD'`` / ``TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.ffffff][+00:00|Z]'`` or
``DATE(@p)`` / ``TIMESTAMP(@p)``. ``ORDER BY`` columns may be dotted (``sku.id``).
Anything else is answered as BigQuery answers a query it rejects: 400 ``invalidQuery``.

Partition pruning follows BigQuery's rules for the table's partitioning: predicates on the
partitioning column (``_PARTITIONTIME`` for ingestion-time tables, the column for
column-partitioned ones) narrow the partitions read; every other predicate filters rows
of the partitions read. What was read is reported (``Plan.partitions``) and billed
(``bytes_processed``): every selected column of every row of every partition scanned.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from finfocus_sandbox.gcp.dataset import SECOND, micros, moment_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from finfocus_sandbox.gcp.schema import Field

Row = dict[str, Any]
UTC = dt.UTC

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<quoted>`[^`]+`)
      | (?P<param>@[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>\d+(?:\.\d+)?)
      | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|\*|;)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "BETWEEN", "ORDER", "BY", "ASC", "DESC", "LIMIT"}
PARTITION_PSEUDO = {"_PARTITIONTIME", "_PARTITIONDATE"}


class QueryError(Exception):
    """A query BigQuery would reject; ``reason`` is BigQuery's (invalidQuery, notFound...)."""

    def __init__(self, message: str, reason: str = "invalidQuery", status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(sql: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    text = sql.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            line, column = _line_column(sql, position)
            raise QueryError(
                f"Syntax error: Unexpected character {text[position:].lstrip()[:1]!r} "
                f"at [{line}:{column}]"
            )
        kind = match.lastgroup or ""
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        position = match.end()
    return tokens


def _line_column(sql: str, position: int) -> tuple[int, int]:
    before = sql[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


@dataclass(frozen=True)
class Operand:
    """What a predicate compares: a column (or pseudo column), maybe wrapped in DATE()."""

    column: str
    as_date: bool


@dataclass(frozen=True)
class Predicate:
    operand: Operand
    op: str  # =, <, <=, >, >=
    value: Any  # int micros (TIMESTAMP) or dt.date (DATE)


@dataclass
class Statement:
    columns: list[str] | None  # None: SELECT *
    table: str
    predicates: list[Predicate] = field(default_factory=list)
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (path, descending)
    limit: int | None = None
    sql: str = ""


class _Parser:
    def __init__(self, sql: str, params: dict[str, tuple[str, Any]]) -> None:
        self.sql = sql
        self.tokens = tokenize(sql)
        self.index = 0
        self.params = params

    # -- token helpers
    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryError("Syntax error: Unexpected end of script")
        self.index += 1
        return token

    def expect_word(self, word: str) -> None:
        token = self.take()
        if token.upper != word:
            self.fail(token, f"Expected keyword {word} but got {token.text!r}")

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.upper == text:
            self.index += 1
            return True
        return False

    def fail(self, token: Token | None, message: str) -> None:
        if token is None:
            raise QueryError(f"Syntax error: {message} at end of script")
        line, column = _line_column(self.sql, token.position)
        raise QueryError(f"Syntax error: {message} at [{line}:{column}]")

    # -- grammar
    def statement(self) -> Statement:
        self.expect_word("SELECT")
        columns = self.columns()
        self.expect_word("FROM")
        table_token = self.take()
        if table_token.kind != "quoted" or table_token.text.count(".") != 2:
            self.fail(
                table_token,
                "the finfocus sandbox expects a fully qualified table `project.dataset.table`",
            )
        statement = Statement(columns=columns, table=table_token.text.strip("`"), sql=self.sql)
        if self.accept("WHERE"):
            statement.predicates.extend(self.predicate())
            while self.accept("AND"):
                statement.predicates.extend(self.predicate())
        if self.accept("ORDER"):
            self.expect_word("BY")
            statement.order_by.append(self.order_item())
            while self.accept(","):
                statement.order_by.append(self.order_item())
        if self.accept("LIMIT"):
            token = self.take()
            if token.kind != "number" or "." in token.text:
                self.fail(token, "LIMIT expects an integer literal")
            statement.limit = int(token.text)
        self.accept(";")
        rest = self.peek()
        if rest is not None:
            self.fail(rest, f"Unexpected {rest.text!r}")
        return statement

    def columns(self) -> list[str] | None:
        if self.accept("*"):
            return None
        names = [self.identifier()]
        while self.accept(","):
            names.append(self.identifier())
        return names

    def identifier(self) -> str:
        token = self.take()
        if token.kind == "quoted":
            return token.text.strip("`")
        if token.kind != "word" or token.upper in KEYWORDS:
            self.fail(token, f"Unexpected {token.text!r}")
        return token.text

    def order_item(self) -> tuple[str, bool]:
        name = self.identifier()
        descending = False
        if self.accept("DESC"):
            descending = True
        else:
            self.accept("ASC")
        return name, descending

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "word" and token.upper == "DATE" and self.accept("("):
            inner = self.identifier()
            self.expect_close()
            return Operand(inner, True)
        if token.kind in {"word", "quoted"} and token.upper not in KEYWORDS:
            name = token.text.strip("`")
            return Operand(name, name.upper() == "_PARTITIONDATE")
        self.fail(token, f"Unexpected {token.text!r}")
        raise AssertionError  # pragma: no cover

    def expect_close(self) -> None:
        token = self.take()
        if token.text != ")":
            self.fail(token, 'Expected ")"')

    def predicate(self) -> list[Predicate]:
        operand = self.operand()
        token = self.take()
        if token.upper == "BETWEEN":
            low = self.value(operand)
            self.expect_word("AND")
            high = self.value(operand)
            return [Predicate(operand, ">=", low), Predicate(operand, "<=", high)]
        if token.text not in {"=", "<", "<=", ">", ">="}:
            self.fail(token, f"the finfocus sandbox does not support {token.text!r} here")
        return [Predicate(operand, token.text, self.value(operand))]

    def value(self, operand: Operand) -> Any:
        token = self.take()
        if token.kind == "param":
            return self.param(token, operand)
        if token.kind == "word" and token.upper in {"DATE", "TIMESTAMP"}:
            if self.accept("("):
                inner = self.take()
                if inner.kind != "param":
                    self.fail(inner, f"{token.upper}() expects a query parameter")
                raw = self.param(inner, operand, convert=False)
                self.expect_close()
                return _convert(token.upper, raw, operand)
            literal = self.take()
            if literal.kind != "string":
                self.fail(literal, f"{token.upper} expects a quoted literal")
            return _convert(token.upper, literal.text[1:-1], operand)
        if token.kind == "string":
            return _convert("STRING", token.text[1:-1], operand)
        self.fail(token, f"Unexpected {token.text!r}")
        raise AssertionError  # pragma: no cover

    def param(self, token: Token, operand: Operand, convert: bool = True) -> Any:
        name = token.text[1:]
        if name not in self.params:
            line, column = _line_column(self.sql, token.position)
            raise QueryError(f"Query parameter '{name}' not found at [{line}:{column}]")
        kind, raw = self.params[name]
        return _convert(kind, raw, operand) if convert else raw


def _convert(kind: str, raw: Any, operand: Operand) -> Any:
    """A parameter or literal as the operand compares it (date, or timestamp micros)."""
    text = str(raw)
    try:
        if kind == "DATE" or (kind == "STRING" and operand.as_date):
            value: Any = dt.date.fromisoformat(text[:10])
        else:
            value = parse_timestamp(text)
    except ValueError:
        raise QueryError(f"Could not cast literal {text!r} to type {kind}") from None
    if operand.as_date and not isinstance(value, dt.date):
        raise QueryError("No matching signature for operator: DATE vs TIMESTAMP")
    if not operand.as_date and isinstance(value, dt.date) and not isinstance(value, int):
        value = micros(dt.datetime(value.year, value.month, value.day, tzinfo=UTC))
    return value


def parse_timestamp(text: str) -> int:
    cleaned = text.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    if len(cleaned) == 10:
        cleaned += "T00:00:00+00:00"
    moment = dt.datetime.fromisoformat(cleaned.replace(" ", "T", 1))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return micros(moment.astimezone(UTC))


def parse(sql: str, params: dict[str, tuple[str, Any]]) -> Statement:
    return _Parser(sql, params).statement()


# ---------------------------------------------------------------------- planning
@dataclass
class Plan:
    """What a query reads: partitions scanned, rows matched, bytes processed."""

    statement: Statement
    fields: list[Field]
    partition_column: str | None
    partitions: list[str]  # YYYY-MM-DD, every partition read
    partitions_total: int
    rows_scanned: int
    rows: list[Row]
    bytes_processed: int


def plan(
    statement: Statement,
    schema: tuple[Field, ...],
    rows: list[Row],
    partition_column: str | None,
    *,
    require_partition_filter: bool = False,
    table_label: str = "",
) -> Plan:
    by_name = {f.name: f for f in schema}
    if statement.columns is None:
        fields = list(schema)
    else:
        fields = []
        for name in statement.columns:
            if name not in by_name:
                raise QueryError(f"Unrecognized name: {name}")
            fields.append(by_name[name])
    checks: list[tuple[str, Callable[[Any], bool], bool]] = []
    partition_bounds: list[Predicate] = []
    for predicate in statement.predicates:
        column = predicate.operand.column
        pseudo = column.upper() in PARTITION_PSEUDO
        if pseudo and partition_column != "_PARTITIONTIME":
            raise QueryError(f"Unrecognized name: {column}")
        if not pseudo:
            target = by_name.get(column)
            if target is None:
                raise QueryError(f"Unrecognized name: {column}")
            if target.type != "TIMESTAMP" or target.repeated:
                raise QueryError(
                    f"the finfocus sandbox compares only TIMESTAMP columns; {column} is "
                    f"{target.type}"
                )
        key = "_PARTITIONTIME" if pseudo else column
        if key == partition_column:
            partition_bounds.append(predicate)
        checks.append((key, _comparator(predicate), predicate.operand.as_date))
    if require_partition_filter and partition_column and not partition_bounds:
        raise QueryError(
            f"Cannot query over table '{table_label}' without a filter over column(s) "
            f"'{partition_column}' that can be used for partition elimination"
        )
    partition_of = _partition_key(partition_column)
    numbers = [partition_of(row) for row in rows] if partition_column else []
    all_days = sorted(set(numbers))
    days: list[int] = []
    if partition_column:
        low, high = _day_range(partition_bounds)
        low_n = _day_number(low) if low else None
        high_n = _day_number(high) if high else None
        days = [
            d for d in all_days if (low_n is None or d >= low_n) and (high_n is None or d <= high_n)
        ]
        allowed = set(days)
        scanned = [row for row, number in zip(rows, numbers, strict=True) if number in allowed]
    else:
        scanned = rows
    matched = [row for row in scanned if all(_check(row, c) for c in checks)]
    for path, descending in reversed(statement.order_by):
        matched.sort(key=_sort_key(path), reverse=descending)
    if statement.limit is not None:
        matched = matched[: statement.limit]
    row_bytes = sum(_field_bytes(f) for f in fields)
    return Plan(
        statement=statement,
        fields=fields,
        partition_column=partition_column,
        partitions=[_day_of(d).isoformat() for d in days],
        partitions_total=len(all_days),
        rows_scanned=len(scanned),
        rows=matched,
        bytes_processed=row_bytes * len(scanned),
    )


_DAY_MICROS = 86_400 * SECOND
_EPOCH_DAY = dt.date(1970, 1, 1)


def _partition_key(partition_column: str | None) -> Callable[[Row], int]:
    """A row's partition as a UTC day number (cheap: no datetime per row)."""
    column = partition_column or "_PARTITIONTIME"

    def key(row: Row) -> int:
        return int(row[column]) // _DAY_MICROS

    return key


def _day_number(day: dt.date) -> int:
    return (day - _EPOCH_DAY).days


def _day_of(number: int) -> dt.date:
    return _EPOCH_DAY + dt.timedelta(days=number)


def _day_range(bounds: list[Predicate]) -> tuple[dt.date | None, dt.date | None]:
    """The partition dates the partition predicates allow (inclusive)."""
    low: dt.date | None = None
    high: dt.date | None = None
    for predicate in bounds:
        value = predicate.value
        if isinstance(value, int):  # a timestamp bound on the partitioning column
            day = moment_of(value).date()
            exact_midnight = value % (86_400 * SECOND) == 0
            if predicate.op in {">", ">="}:
                candidate_low = day
                candidate_high = None
            elif predicate.op == "<":
                candidate_low = None
                candidate_high = day - dt.timedelta(days=1) if exact_midnight else day
            elif predicate.op == "<=":
                candidate_low, candidate_high = None, day
            else:
                candidate_low = candidate_high = day
        else:
            candidate_low = candidate_high = None
            if predicate.op in {">", ">="}:
                candidate_low = value + dt.timedelta(days=1) if predicate.op == ">" else value
            elif predicate.op in {"<", "<="}:
                candidate_high = value - dt.timedelta(days=1) if predicate.op == "<" else value
            else:
                candidate_low = candidate_high = value
        if candidate_low is not None:
            low = candidate_low if low is None else max(low, candidate_low)
        if candidate_high is not None:
            high = candidate_high if high is None else min(high, candidate_high)
    return low, high


def _comparator(predicate: Predicate) -> Callable[[Any], bool]:
    value, op = predicate.value, predicate.op
    if op == "=":
        return lambda x: x == value
    if op == "<":
        return lambda x: x < value
    if op == "<=":
        return lambda x: x <= value
    if op == ">":
        return lambda x: x > value
    return lambda x: x >= value


def _check(row: Row, check: tuple[str, Callable[[Any], bool], bool]) -> bool:
    column, compare, as_date = check
    value = row.get(column)
    if value is None:
        return False  # NULL compares as unknown: the row is filtered out
    return compare(moment_of(value).date() if as_date else value)


def _sort_key(path: str) -> Callable[[Row], tuple[bool, Any]]:
    parts = path.split(".")

    def key(row: Row) -> tuple[bool, Any]:
        value: Any = row
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        return (value is not None, value if value is not None else 0)

    return key


def _field_bytes(item: Field) -> int:
    """BigQuery's logical sizes, roughly: 8 for numbers and timestamps, ~24 for strings."""
    if item.type in {"RECORD", "STRUCT"}:
        size = sum(_field_bytes(f) for f in item.fields)
    elif item.type in {"STRING", "BYTES"}:
        size = 24
    elif item.type in {"NUMERIC"}:
        size = 16
    elif item.type == "BOOLEAN":
        size = 1
    else:
        size = 8
    return size * 2 if item.repeated else size


# ---------------------------------------------------------------------- JSON rows
def row_encoder(fields: list[Field], *, int64_timestamps: bool) -> Callable[[Row], Row]:
    """Encode a row as BigQuery's tabledata JSON: {"f": [{"v": ...}]} with typed strings."""
    cells = [(f.name, _value_encoder(f, int64_timestamps)) for f in fields]

    def encode(row: Row) -> Row:
        return {"f": [{"v": convert(row.get(name))} for name, convert in cells]}

    return encode


def _value_encoder(item: Field, int64_timestamps: bool) -> Callable[[Any], Any]:
    single = _scalar_encoder(item, int64_timestamps)
    if item.repeated:

        def repeated(value: Any) -> Any:
            return [{"v": single(v)} for v in value or ()]

        return repeated
    return single


def _scalar_encoder(item: Field, int64_timestamps: bool) -> Callable[[Any], Any]:
    kind = item.type
    if kind in {"RECORD", "STRUCT"}:
        subs = [(f.name, _value_encoder(f, int64_timestamps)) for f in item.fields]

        def record(value: Any) -> Any:
            if value is None:
                return None
            return {"f": [{"v": convert(value.get(name))} for name, convert in subs]}

        return record
    if kind == "TIMESTAMP":
        return _timestamp_int if int64_timestamps else _timestamp_float
    if kind in {"FLOAT", "FLOAT64"}:
        return _float
    if kind in {"NUMERIC", "BIGNUMERIC"}:
        return _numeric
    if kind in {"BOOLEAN", "BOOL"}:
        return _boolean
    if kind in {"INTEGER", "INT64"}:
        return _integer
    return _string


def _string(value: Any) -> Any:
    return None if value is None else str(value)


def _integer(value: Any) -> Any:
    return None if value is None else str(int(value))


def _boolean(value: Any) -> Any:
    return None if value is None else ("true" if value else "false")


def _float(value: Any) -> Any:
    if value is None:
        return None
    return repr(float(value))


def _numeric(value: Any) -> Any:
    if value is None:
        return None
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _timestamp_int(value: Any) -> Any:
    return None if value is None else str(int(value))


def _timestamp_float(value: Any) -> Any:
    """BigQuery's legacy TIMESTAMP encoding: seconds as a Java double ("1.7093E9")."""
    if value is None:
        return None
    seconds = Decimal(int(value)) / SECOND
    digits = format(seconds.normalize(), "E")  # 1.709251200123456E+9
    mantissa, exponent = digits.split("E")
    if "." not in mantissa:
        mantissa += ".0"
    return f"{mantissa}E{int(exponent)}"


def schema_json(fields: list[Field]) -> Row:
    return {"fields": [f.to_api() for f in fields]}


def encoded_size(row: Row) -> int:
    return len(json.dumps(row, separators=(",", ":")))
