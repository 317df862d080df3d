"""FOCUS rows that arrive in batch files: column-wise validation (pyarrow.compute).

A BATCH message of a FOCUS stream names Parquet (or JSONL) files of FOCUS rows. Their
rows must be judged exactly as if each had come as a RECORD message: ``validate_row`` of
focus_spec, target-focus's own checks (x_RowKey, declared x_ columns) and the storage
conversions. Rows are checked column by column here; a row any check cannot clear
(a rule it may break, a value a check cannot prove valid, JSON text that target-focus
would re-encode) is *suspect* and goes through exactly the RECORD path's checks, alone.
Only rows the RECORD path would accept as they are skip that.

How each rule family is cleared without a Python loop over rows:

- value rules of String columns (non-empty, allowed values, currency codes): on the
  column's distinct values;
- Decimal and DateTime columns: their Arrow types (decimal128(38, 18), timestamp in UTC)
  are valid values by construction; unit prices must not be negative;
- JSON columns: distinct values are checked with focus_spec itself; a column of mostly
  distinct values (tags) by one regular expression for compact, canonical, flat JSON
  objects (what target-focus would store unchanged) and a check of repeated keys on the
  distinct key lists;
- conditional nullability: every such rule depends only on which columns are null and on
  four categorical columns, so rows are grouped by that signature and focus_spec's own
  ``validate_row`` judges one row of each group;
- cross-column rules (periods in order, cost = unit price x quantity, Purchase not
  Usage-Based, subcategory within its category): vectorised; ``AllocatedTags`` rows are
  suspect.

``tests`` prove, on generated rows with and without faults, that the rows cleared here
are exactly those ``validate_row`` accepts.
"""

from __future__ import annotations

import re
import typing as t
from decimal import Decimal

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from target_focus.dataset import DECIMAL_TYPE, ROW_KEY, is_custom

if t.TYPE_CHECKING:
    from focus_spec import FocusSpec

    from target_focus.dataset import ColumnDef

UTC_ZONES = frozenset({"UTC", "utc", "+00:00", "Etc/UTC", "Z", "GMT", "Etc/GMT"})
UNIT_PRICES = frozenset(
    {
        "ListUnitPrice",
        "ContractedUnitPrice",
        "PricingCurrencyListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
    }
)
#: Columns whose values (not only null-ness) the conditional-null rules read.
CATEGORICAL = (
    "ChargeCategory",
    "ChargeClass",
    "CommitmentDiscountStatus",
    "CapacityReservationStatus",
)
NULL_RULES = frozenset({"not-null", "must-be-null", "must-not-be-null"})
KEY_VALUE_COLUMNS = frozenset({"Tags", "AllocatedTags"})

# Compact, flat JSON objects that target-focus stores unchanged (msgspec decodes and
# re-encodes them to the same text): string values and keys without escapes other than
# \" and \\, numbers as msgspec writes them back, true, false, null.
_STRING = r'"(?:[^"\\\x00-\x1f]|\\["\\])*"'
# (Decimal text keeps its form unless its adjusted exponent is below -6: 1E-7, 0E-7.)
_NUMBER = r"(?:0|-?[1-9][0-9]*|-?[1-9][0-9]*\.[0-9]+|-?0\.0{0,5}[1-9][0-9]*|-?0\.0{1,6})"
_VALUE = rf"(?:{_STRING}|{_NUMBER}|true|false|null)"
CANONICAL_OBJECT = rf"^\{{(?:{_STRING}:{_VALUE}(?:,{_STRING}:{_VALUE})*)?\}}$"
_KEYS_ONLY = rf":{_VALUE}([,}}])"  # each value with the delimiter after it
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=str)
_PYTHON_CANONICAL_NUMBER = re.compile(_NUMBER)


def _false(size: int) -> pa.Array:
    return pa.repeat(pa.scalar(False), size) if size else pa.array([], pa.bool_())


def _or(mask: pa.Array, other: pa.Array) -> pa.Array:
    return pc.or_(mask, pc.fill_null(other, True))


def _plain(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One contiguous array (a batch file's column is usually one chunk already)."""
    if isinstance(array, pa.ChunkedArray):
        return array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array


def _per_distinct(array: pa.Array, judge: t.Callable[[t.Any], bool]) -> pa.Array:
    """``judge`` (True: suspect) applied once per distinct non-null value."""
    encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    verdicts = pa.array([judge(v) for v in encoded.dictionary.to_pylist()], pa.bool_())
    return pc.fill_null(verdicts.take(encoded.indices), False)


def _few_distinct(array: pa.Array) -> bool:
    """Whether a column repeats its values enough to judge each distinct one in Python
    (a dictionary column does; else a sample of it tells)."""
    if pa.types.is_dictionary(array.type):
        return len(array.dictionary) <= max(64, len(array) // 8)
    values = array.drop_null()
    step = max(1, len(values) // 2000)
    sample = values.slice(0, step * 2000)[::step] if step > 1 else values
    return len(sample) == 0 or pc.count_distinct(sample).as_py() <= max(8, len(sample) // 8)


def _distinct_count(array: pa.Array) -> tuple[pa.Array, int]:
    encoded = array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    return encoded, len(encoded.dictionary)


class BatchValidator:
    """Column-wise checks of FOCUS batch tables for one sink (its spec and columns)."""

    def __init__(self, spec: FocusSpec, columns: t.Sequence[ColumnDef]) -> None:
        self.spec = spec
        self.columns = {column.name: column for column in columns}
        self.spec_columns = {column.name: column for column in spec.columns}
        self.parents = dict(spec.service_subcategory_parents)
        self.version = spec.version

    # --- whole-table problems ------------------------------------------------------

    def table_problem(self, table: pa.Table) -> str | None:
        """A problem every row has (unknown or undeclared columns, wrong types, missing
        mandatory columns): then every row goes the RECORD way, for its messages."""
        names = set(table.column_names)
        for name in table.column_names:
            if name not in self.columns:
                return f"column {name} is not a column of the stream"
        missing = [c for c in self.spec.mandatory_column_names if c not in names]
        if missing:
            return f"mandatory columns {missing[:3]} are absent"
        if ROW_KEY not in names:
            return f"{ROW_KEY} is absent"
        for field in table.schema:
            kind = self.columns[field.name].data_type
            arrow_type = field.type
            if pa.types.is_dictionary(arrow_type):
                arrow_type = arrow_type.value_type
            if pa.types.is_null(arrow_type):
                continue
            if kind in ("String", "JSON") and not pa.types.is_string(arrow_type):
                return f"{field.name} is {field.type}"
            if kind == "Decimal" and arrow_type != DECIMAL_TYPE:
                return f"{field.name} is {field.type}"
            if kind == "DateTime" and not (
                pa.types.is_timestamp(arrow_type) and arrow_type.tz in UTC_ZONES
            ):
                return f"{field.name} is {field.type}"
            if kind == "Integer" and not pa.types.is_integer(arrow_type):
                return f"{field.name} is {field.type}"
            if kind == "Boolean" and not pa.types.is_boolean(arrow_type):
                return f"{field.name} is {field.type}"
        return None

    # --- rows ------------------------------------------------------------------------

    def suspects(self, table: pa.Table) -> pa.Array:
        """Rows no column-wise check could clear (they get the RECORD path's checks)."""
        size = table.num_rows
        suspect = _false(size)
        columns = {name: _plain(table.column(name)) for name in table.column_names}
        for name, array in columns.items():
            if array.null_count == len(array):
                continue
            suspect = _or(suspect, self._value_suspects(name, array))
        key = columns[ROW_KEY]
        suspect = _or(suspect, pc.or_(pc.is_null(key), pc.equal(self._text(key), "")))
        suspect = _or(suspect, self._null_rule_suspects(table, columns))
        suspect = _or(suspect, self._row_rule_suspects(columns, size))
        return suspect

    @staticmethod
    def _text(array: pa.Array) -> pa.Array:
        return array.cast(array.type.value_type) if pa.types.is_dictionary(array.type) else array

    def _value_suspects(self, name: str, array: pa.Array) -> pa.Array:
        kind = self.columns[name].data_type
        size = len(array)
        if kind == "Decimal":
            if name in UNIT_PRICES:
                return pc.fill_null(pc.less(array, pa.scalar(Decimal(0), DECIMAL_TYPE)), False)
            return _false(size)
        if kind == "JSON":
            return self._json_suspects(name, array)
        if kind != "String" or is_custom(name):
            return _false(size)  # custom text, integers, booleans, date-times: valid as typed
        column = self.spec_columns[name]
        allowed = column.allowed_values

        def judge(value: str) -> bool:
            if not value:
                return True
            if name == "BillingCurrency":
                return re.fullmatch("[A-Z]{3}", value) is None
            if name == "PricingCurrency":
                return re.fullmatch("[A-Za-z]{3}", value) is not None and not value.isupper()
            return allowed is not None and value not in allowed

        return _per_distinct(array, judge)

    def _json_suspects(self, name: str, array: pa.Array) -> pa.Array:
        """JSON text a RECORD would have stored unchanged and that focus_spec accepts."""
        custom = is_custom(name)
        if _few_distinct(array):
            encoded, _ = _distinct_count(array)

            def judge(text: str) -> bool:
                try:
                    stored = _ENCODER.encode(_DECODER.decode(text)).decode()
                except (msgspec.DecodeError, TypeError):
                    return True
                if stored != text:
                    return True
                if custom:
                    return False
                return any(
                    v.column == name and v.rule not in NULL_RULES
                    for v in self.spec.validate_row({name: text})
                )

            return _per_distinct(encoded, judge)
        if not custom and name not in KEY_VALUE_COLUMNS:
            return pc.is_valid(array)  # a rare, many-valued JSON column: row by row
        text = self._text(array)
        shaped = pc.match_substring_regex(text, CANONICAL_OBJECT)
        suspect = pc.fill_null(pc.invert(shaped), False)
        # Repeated keys: decided once per distinct list of keys.
        keys = pc.replace_substring_regex(text, _KEYS_ONLY, "\\1")
        return pc.or_(suspect, _per_distinct(keys, _repeats_a_key))

    def _null_rule_suspects(self, table: pa.Table, columns: dict[str, pa.Array]) -> pa.Array:
        """Conditional (and plain) nullability, judged by focus_spec on one row per
        signature: the null-ness of every column and the values of ``CATEGORICAL``.

        Columns null in every row, or in none, are the same for every row: only the others
        (and the categorical values) tell rows apart.
        """
        size = table.num_rows
        keys: list[pa.Array] = []
        word: pa.Array | None = None
        bits = 0
        for name in table.column_names:
            nulls = columns[name].null_count
            if nulls in (0, size):
                continue
            bit = pc.multiply(
                pc.is_null(columns[name]).cast(pa.int64()), pa.scalar(1 << bits, pa.int64())
            )
            word = bit if word is None else pc.add(word, bit)
            bits += 1
            if bits == 62:
                keys.append(word)
                word, bits = None, 0
        if word is not None:
            keys.append(word)
        for name in CATEGORICAL:
            if name in columns:
                values = columns[name]
                encoded = (
                    values if pa.types.is_dictionary(values.type) else values.dictionary_encode()
                )
                keys.append(pc.fill_null(encoded.indices.cast(pa.int64()), -1))
        if keys:
            text = [key.cast(pa.string()) for key in keys]
            signature = (
                text[0] if len(text) == 1 else pc.binary_join_element_wise(*text, ",")
            ).dictionary_encode()
            groups, representatives = (
                signature.indices,
                _first_positions(signature.indices, len(signature.dictionary)),
            )
        else:
            groups, representatives = pa.repeat(pa.scalar(0, pa.int32()), size), [0]
        sample = table.take(pa.array(representatives, pa.int64())).to_pylist()
        verdicts = [
            any(v.rule in NULL_RULES for v in self.spec.validate_row(row)) for row in sample
        ]
        if not any(verdicts):
            return _false(size)
        return pa.array(verdicts, pa.bool_()).take(groups)

    def _row_rule_suspects(self, columns: dict[str, pa.Array], size: int) -> pa.Array:
        suspect = _false(size)
        for start, end in (
            ("ChargePeriodStart", "ChargePeriodEnd"),
            ("BillingPeriodStart", "BillingPeriodEnd"),
        ):
            if start in columns and end in columns:
                suspect = _or(
                    suspect,
                    pc.and_(
                        pc.and_(pc.is_valid(columns[start]), pc.is_valid(columns[end])),
                        pc.invert(pc.fill_null(pc.less(columns[start], columns[end]), True)),
                    ),
                )
        for cost, price in (
            ("ListCost", "ListUnitPrice"),
            ("ContractedCost", "ContractedUnitPrice"),
        ):
            if cost in columns and price in columns and "PricingQuantity" in columns:
                suspect = _or(
                    suspect, self._cost_product(columns[cost], columns[price], columns, size)
                )
        if "ChargeFrequency" in columns and "ChargeCategory" in columns:
            usage_based = pc.equal(self._text(columns["ChargeFrequency"]), "Usage-Based")
            purchase = pc.equal(self._text(columns["ChargeCategory"]), "Purchase")
            suspect = _or(suspect, pc.fill_null(pc.and_(usage_based, purchase), False))
        if "ServiceSubcategory" in columns and "ServiceCategory" in columns:
            sub = self._text(columns["ServiceSubcategory"])
            names = list(self.parents)
            known = pc.index_in(sub, value_set=pa.array(names, pa.string()))
            parent = pa.array([self.parents[n] for n in names], pa.string()).take(known)
            category = self._text(columns["ServiceCategory"])
            wrong = pc.and_(pc.is_valid(parent), pc.fill_null(pc.not_equal(category, parent), True))
            suspect = _or(suspect, pc.fill_null(wrong, False))
        if "AllocatedTags" in columns and self.version != "1.2":
            suspect = _or(suspect, pc.is_valid(columns["AllocatedTags"]))
        return suspect

    def _cost_product(
        self, cost: pa.Array, price: pa.Array, columns: dict[str, pa.Array], size: int
    ) -> pa.Array:
        """cost == price x PricingQuantity to within a unit of the 18th place (the cost
        read from a decimal(38, 18) column has 18 places)."""
        quantity = columns["PricingQuantity"]
        present = pc.and_(pc.and_(pc.is_valid(cost), pc.is_valid(price)), pc.is_valid(quantity))
        if self.version == "1.2" and "ChargeClass" in columns:
            correction = pc.fill_null(
                pc.equal(self._text(columns["ChargeClass"]), "Correction"), False
            )
            present = pc.and_(present, pc.invert(correction))
        if not pc.any(present).as_py():
            return _false(size)
        limit = pa.scalar(Decimal("1E19"), DECIMAL_TYPE)
        big = pc.or_(
            pc.greater_equal(pc.abs(price), limit), pc.greater_equal(pc.abs(quantity), limit)
        )
        big = pc.fill_null(big, False)
        zero = pa.scalar(Decimal(0), DECIMAL_TYPE)
        wide = pa.decimal256(37, 18)
        safe_price = pc.if_else(big, zero, pc.coalesce(price, zero)).cast(wide)
        safe_quantity = pc.if_else(big, zero, pc.coalesce(quantity, zero)).cast(wide)
        product = pc.multiply(safe_price, safe_quantity)
        difference = pc.abs(
            pc.subtract(product, pc.coalesce(cost, zero).cast(pa.decimal256(38, 18)))
        )
        off = pc.greater_equal(difference, pa.scalar(Decimal("1E-18"), pa.decimal256(76, 36)))
        return pc.and_(present, pc.or_(big, pc.fill_null(off, True)))


def _first_positions(indices: pa.Array, groups: int) -> list[int]:
    """The first row of each group (dictionary index), without a Python loop over rows
    when there are few groups."""
    table = pa.table({"group": indices, "row": pa.array(range(len(indices)), pa.int64())})
    firsts = table.group_by("group", use_threads=False).aggregate([("row", "min")])
    positions = [0] * groups
    for group, row in zip(
        firsts.column("group").to_pylist(), firsts.column("row_min").to_pylist(), strict=True
    ):
        positions[group] = row
    return positions


def _repeats_a_key(keys_text: str) -> bool:
    """``{"a","b","a"}`` (an object's keys, values removed): does a key repeat?"""
    try:
        keys = _DECODER.decode("[" + keys_text[1:-1] + "]")
    except msgspec.DecodeError:
        return True
    return len(keys) != len(set(keys))


# --- batch files -----------------------------------------------------------------------


def _local(url: str) -> str | None:
    from urllib.parse import urlparse
    from urllib.request import url2pathname

    parsed = urlparse(url)
    if parsed.scheme == "file":
        return url2pathname(parsed.path)
    if parsed.scheme == "":
        return url
    return None


def _open(url: str) -> t.Any:
    from singer_sdk.helpers._batch import StorageTarget

    head, tail = StorageTarget.split_url(url)
    return StorageTarget.from_url(head).open(tail, mode="rb")


def read_parquet(url: str) -> pa.Table:
    """One Parquet batch file of FOCUS rows (text columns may stay dictionaries)."""
    from finfocus_common.errors import PermanentError

    path = _local(url)
    try:
        if path is not None:
            return _read(path)
        with _open(url) as handle:
            return _read(handle)
    except (OSError, pa.ArrowException) as exc:
        raise PermanentError(f"batch file {url} is not readable Parquet: {exc}") from None


def dictionary_columns(parquet: t.Any) -> list[str]:
    """Text columns the file stores as small Parquet dictionaries (repeated values)."""
    text = {
        field.name
        for field in parquet.schema_arrow
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    }
    found: list[str] = []
    if not parquet.metadata.num_row_groups or not text:
        return found
    group = parquet.metadata.row_group(0)
    for index in range(group.num_columns):
        chunk = group.column(index)
        if chunk.path_in_schema not in text or not chunk.has_dictionary_page:
            continue
        start, data = chunk.dictionary_page_offset, chunk.data_page_offset
        if (
            start is not None
            and data is not None
            and (data - start) * 4 < chunk.total_compressed_size
        ):
            found.append(chunk.path_in_schema)
    return found


def _read(source: t.Any) -> pa.Table:
    """Text that the file stores as a small Parquet dictionary stays a dictionary in
    memory (a fraction of the size, and cheaper to validate, sort and write)."""
    import pyarrow.parquet as pq

    dictionaries = dictionary_columns(pq.ParquetFile(source))
    return pq.ParquetFile(source, read_dictionary=dictionaries or None).read(use_threads=False)


def read_jsonl(url: str, compression: str | None) -> list[dict[str, t.Any]]:
    """One JSONL batch file: a record per line, numbers as exact Decimals."""
    import gzip

    from finfocus_common.errors import PermanentError

    path = _local(url)
    try:
        if path is not None:
            with open(path, "rb") as handle:
                data = handle.read()
        else:
            with _open(url) as handle:
                data = handle.read()
        if compression == "gzip" or data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return [_DECODER.decode(line) for line in data.splitlines() if line.strip()]
    except (OSError, msgspec.DecodeError) as exc:
        raise PermanentError(f"batch file {url} is not readable JSON lines: {exc}") from None
