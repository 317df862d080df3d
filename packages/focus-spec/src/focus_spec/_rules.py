"""Row rules: per-column value checkers and cross-column rules, built once per version.

A value checker takes one non-null value and returns None (fine) or a ``(rule, detail)``
pair. A row rule takes the whole row and returns None or a Violation. ``FocusSpec``
builds both lists when it is constructed, so ``validate_row`` only runs them.

Every rule here is listed, with its source in the spec, in the package README.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from ._model import CUSTOM_PREFIX, DATETIME, DECIMAL, JSON, STRING, Column, Violation
from ._values import DECIMAL_TEXT, UTC_DATETIME_TEXT, as_decimal, as_utc_datetime

Problem = tuple[str, str]  # (rule id, detail)
ValueChecker = Callable[[Any], Problem | None]
RowRule = Callable[[Mapping[str, Any]], Violation | None]

MISSING = "<missing>"
_ABSENT: Any = object()
_MAX_REPR = 80


def short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def violation(column: str, rule: str, detail: str, value: Any = _ABSENT) -> Violation:
    """A Violation whose message is one line: ``Column [rule]: detail``."""
    value_repr = MISSING if value is _ABSENT else short_repr(value)
    return Violation(column, rule, f"{column} [{rule}]: {detail}", value_repr)


# --- value checkers ------------------------------------------------------------------------

_EMPTY: Problem = ("empty-string", 'empty string is not a value; use null (None) instead of ""')
_ANY_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_LETTERS3 = re.compile(r"[A-Za-z]{3}")


def _type_problem(expected: str, value: Any) -> Problem:
    return ("type", f"expected {expected}, got {type(value).__name__}")


def string_checker(allowed: frozenset[str] | None, allowed_text: str) -> ValueChecker:
    """String columns: a non-empty str, one of ``allowed`` when the spec gives a list."""

    def check(value: Any) -> Problem | None:
        if not isinstance(value, str):
            return _type_problem("a string", value)
        if not value:
            return _EMPTY
        if allowed is not None and value not in allowed:
            return ("allowed-values", f"{value!r} is not {allowed_text}")
        return None

    return check


def billing_currency_checker(value: Any) -> Problem | None:
    """BillingCurrency: national currency, ISO 4217 alphabetic code (three uppercase letters)."""
    if not isinstance(value, str):
        return _type_problem("a string", value)
    if not value:
        return _EMPTY
    if not _CURRENCY_CODE.fullmatch(value):
        return ("currency-format", f"{value!r} is not an ISO 4217 code (three uppercase letters)")
    return None


def pricing_currency_checker(value: Any) -> Problem | None:
    """PricingCurrency: an ISO 4217 code, or a virtual currency name (free text).

    Three letters that are not all uppercase (``"usd"``) look like a national code written
    wrongly, so they are rejected; any other text is taken as a virtual currency.
    """
    if not isinstance(value, str):
        return _type_problem("a string", value)
    if not value:
        return _EMPTY
    if _LETTERS3.fullmatch(value) and not value.isupper():
        return (
            "currency-format",
            f"{value!r}: national currency codes are ISO 4217, three uppercase letters",
        )
    return None


def decimal_checker(value: Any) -> Problem | None:
    """Decimal columns: decimal.Decimal (finite) or int, or text spelling a plain decimal."""
    kind = type(value)
    if kind is Decimal:
        if value.is_finite():
            return None
        return ("decimal-format", f"{value!r} is not a finite decimal value")
    if kind is int:
        return None
    if kind is str:
        if not value:
            return _EMPTY
        if DECIMAL_TEXT.fullmatch(value):
            return None
        return (
            "decimal-format",
            f"{value!r} is not FOCUS numeric text (digits, optional '-' and '.', no exponent)",
        )
    if isinstance(value, float):
        return ("type", "float is not allowed (binary floating point); use decimal.Decimal")
    if isinstance(value, bool):
        return _type_problem("decimal.Decimal or int", value)
    if as_decimal(value) is not None:  # Decimal / int / str subclasses
        return None
    return _type_problem("decimal.Decimal or int", value)


def non_negative_decimal_checker(value: Any) -> Problem | None:
    """Unit price columns: a Decimal value (see decimal_checker) that is not negative."""
    problem = decimal_checker(value)
    if problem is not None:
        return problem
    number = as_decimal(value)
    if number is not None and number < 0:
        return ("non-negative", "must be a non-negative decimal value")
    return None


def datetime_checker(value: Any) -> Problem | None:
    """DateTime columns: an aware UTC datetime, or ISO 8601 UTC text (``Z`` or ``+00:00``)."""
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:
            return ("datetime-utc", "naive datetime (no tzinfo); FOCUS date/times are UTC")
        if offset:
            return ("datetime-utc", f"UTC offset {offset} is not UTC")
        return None
    if isinstance(value, str):
        if not value:
            return _EMPTY
        if UTC_DATETIME_TEXT.fullmatch(value):
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return ("datetime-format", f"{value!r} is not a valid date/time")
            return None
        match = _ANY_ISO_DATETIME.fullmatch(value)
        if match is not None and match["zone"] is None:
            return ("datetime-utc", f"{value!r} has no time zone; FOCUS date/times are UTC")
        if match is not None and "T" in value:
            return ("datetime-utc", f"{value!r} is not in UTC (use Z)")
        return (
            "datetime-format",
            f"{value!r} is not ISO 8601 date/time text 'YYYY-MM-DDTHH:MM:SSZ'",
        )
    return _type_problem("a datetime", value)


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads() with keyword arguments builds a new one each time.
_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def load_object(value: Any) -> tuple[dict[str, Any] | None, Problem | None]:
    """A JSON column value as a dict: a dict/mapping, or text that parses to an object."""
    if type(value) is dict:
        return value, None
    if isinstance(value, str):
        if not value:
            return None, _EMPTY
        try:
            parsed = _JSON_DECODER.decode(value)
        except _DuplicateKeyError as error:
            return None, ("key-value-format", f"duplicate key {error.key!r} in a JSON object")
        except ValueError:
            return None, ("json-object", f"{short_repr(value)} is not valid JSON")
        if type(parsed) is not dict:
            return None, ("json-object", f"JSON {type(parsed).__name__} is not a JSON object")
        return parsed, None
    if isinstance(value, Mapping):
        return dict(value), None
    return None, _type_problem("a JSON object (dict or JSON text)", value)


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is int or kind is Decimal:
        return kind is int or value.is_finite()
    if kind is float:
        return math.isfinite(value)
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    """A JSON scalar: string, number, true, false or null."""
    return value is None or isinstance(value, str | bool) or _is_number(value)


def key_value_problem(obj: Mapping[Any, Any]) -> Problem | None:
    """KeyValueFormat: string keys; values string, number, true, false or null."""
    for key, item in obj.items():
        if type(key) is not str:
            return ("key-value-format", f"key {key!r} is not a string")
        if item is None or type(item) is str or type(item) is bool or _is_scalar(item):
            continue
        if isinstance(item, Mapping | list | tuple):
            return (
                "key-value-format",
                f"value of {key!r} is an object or array; values must be string, number,"
                " true, false or null",
            )
        return ("key-value-format", f"value of {key!r} ({type(item).__name__}) is not JSON")
    return None


def key_value_checker(value: Any) -> Problem | None:
    """Tags, AllocatedTags: a JSON object in KeyValueFormat."""
    obj, problem = load_object(value)
    if problem is not None:
        return problem
    assert obj is not None
    return key_value_problem(obj)


def sku_price_details_checker(focus_properties: Mapping[str, str]) -> ValueChecker:
    """SkuPriceDetails: KeyValueFormat; keys FOCUS-defined or ``x_``; FOCUS-defined types."""

    def check(value: Any) -> Problem | None:
        obj, problem = load_object(value)
        if problem is not None:
            return problem
        assert obj is not None
        problem = key_value_problem(obj)
        if problem is not None:
            return problem
        for key, item in obj.items():
            kind = focus_properties.get(key)
            if kind is None:
                if not key.startswith(CUSTOM_PREFIX):
                    return (
                        "custom-key-prefix",
                        f"property {key!r} is not FOCUS-defined and does not start with 'x_'",
                    )
            elif item is not None and not (
                _is_number(item) if kind == "Numeric" else isinstance(item, str)
            ):
                return ("property-type", f"FOCUS-defined property {key!r} must be {kind}")
        return None

    return check


def _elements(obj: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]] | None, Problem | None]:
    elements = obj.get("Elements")
    if not isinstance(elements, list) or not elements:
        return None, ("json-structure", "needs a top-level 'Elements' array of objects")
    for element in elements:
        if not isinstance(element, Mapping):
            return None, ("json-structure", "every item of 'Elements' must be an object")
        problem = key_value_problem(element)
        if problem is not None:
            return None, problem
    return elements, None


def _custom_key_problem(element: Mapping[str, Any], focus_keys: Iterable[str]) -> Problem | None:
    for key in element:
        if key not in focus_keys and not key.startswith(CUSTOM_PREFIX):
            return (
                "custom-key-prefix",
                f"property {key!r} is not FOCUS-defined and does not start with 'x_'",
            )
    return None


_ALLOCATION_KEYS = frozenset({"AllocatedRatio", "UsageUnit", "UsageQuantity"})


def allocated_method_details_checker(value: Any) -> Problem | None:
    """AllocatedMethodDetails (1.3): {"Elements": [{AllocatedRatio, UsageUnit, UsageQuantity}]}."""
    obj, problem = load_object(value)
    if problem is not None:
        return problem
    assert obj is not None
    elements, problem = _elements(obj)
    if problem is not None:
        return problem
    assert elements is not None
    for element in elements:
        problem = _custom_key_problem(element, _ALLOCATION_KEYS)
        if problem is not None:
            return problem
        if not _is_number(element.get("AllocatedRatio")):
            return ("json-structure", "each element needs a numeric 'AllocatedRatio'")
        unit = element.get("UsageUnit")
        if unit is not None and not isinstance(unit, str):
            return ("property-type", "'UsageUnit' must be a string")
        quantity = element.get("UsageQuantity")
        if quantity is not None:
            if not _is_number(quantity):
                return ("property-type", "'UsageQuantity' must be a number")
            if unit is None:
                return ("json-structure", "'UsageUnit' is required when 'UsageQuantity' is given")
    return None


_CONTRACT_KEYS = frozenset(
    {
        "ContractID",
        "ContractId",
        "ContractCommitmentID",
        "ContractCommitmentAppliedCost",
        "ContractCommitmentAppliedQuantity",
        "ContractCommitmentAppliedUnit",
    }
)


def contract_applied_checker(value: Any) -> Problem | None:
    """ContractApplied (1.3): {"Elements": [{ContractID, ContractCommitmentID, Applied...}]}."""
    obj, problem = load_object(value)
    if problem is not None:
        return problem
    assert obj is not None
    elements, problem = _elements(obj)
    if problem is not None:
        return problem
    assert elements is not None
    for element in elements:
        problem = _custom_key_problem(element, _CONTRACT_KEYS)
        if problem is not None:
            return problem
        contract_id = element.get("ContractID", element.get("ContractId"))
        if not isinstance(contract_id, str) or not contract_id:
            return ("json-structure", "each element needs a 'ContractID' string")
        commitment_id = element.get("ContractCommitmentID")
        if not isinstance(commitment_id, str) or not commitment_id:
            return ("json-structure", "each element needs a 'ContractCommitmentID' string")
        cost = element.get("ContractCommitmentAppliedCost")
        quantity = element.get("ContractCommitmentAppliedQuantity")
        unit = element.get("ContractCommitmentAppliedUnit")
        if cost is not None and not _is_number(cost):
            return ("property-type", "'ContractCommitmentAppliedCost' must be a number")
        if quantity is not None and not _is_number(quantity):
            return ("property-type", "'ContractCommitmentAppliedQuantity' must be a number")
        if unit is not None and not isinstance(unit, str):
            return ("property-type", "'ContractCommitmentAppliedUnit' must be a string")
        if cost is None and quantity is None:
            return (
                "json-structure",
                "needs 'ContractCommitmentAppliedCost' or 'ContractCommitmentAppliedQuantity'",
            )
        if (unit is None) != (quantity is None):
            return (
                "json-structure",
                "'ContractCommitmentAppliedUnit' is given exactly when"
                " 'ContractCommitmentAppliedQuantity' is",
            )
    return None


def json_object_checker(value: Any) -> Problem | None:
    """Any other JSON column: a JSON object."""
    return load_object(value)[1]


# FOCUS-defined SkuPriceDetails properties and their types, per version. The 1.3 list is
# the released 1.3 text; for 1.2 the names of the 1.2-era drafts are accepted as well
# (the released 1.2 list could not be confirmed, see the README).
SKU_PRICE_PROPERTIES_1_3: dict[str, str] = {
    "CoreCount": "Numeric",
    "DiskMaxIops": "Numeric",
    "DiskSpace": "Numeric",
    "DiskType": "String",
    "GpuCount": "Numeric",
    "InstanceType": "String",
    "InstanceSeries": "String",
    "MemorySize": "Numeric",
    "NetworkMaxIops": "Numeric",
    "NetworkMaxThroughput": "Numeric",
    "OperatingSystem": "String",
    "Redundancy": "String",
    "StorageClass": "String",
}
SKU_PRICE_PROPERTIES_1_2: dict[str, str] = {
    **SKU_PRICE_PROPERTIES_1_3,
    "DiskIops": "Numeric",
    "NetworkBandwidth": "Numeric",
    "NetworkIops": "Numeric",
}


def _allowed_text(values: frozenset[str]) -> str:
    if len(values) <= 10:
        return "one of " + ", ".join(sorted(values))
    return f"one of the {len(values)} allowed values"


def value_checker(column: Column, version: str) -> ValueChecker:
    """The checker for one non-null value of ``column``."""
    name = column.name
    if column.data_type == DECIMAL:
        return non_negative_decimal_checker if name in _NON_NEGATIVE else decimal_checker
    if column.data_type == DATETIME:
        return datetime_checker
    if column.data_type == JSON:
        if name in ("Tags", "AllocatedTags"):
            return key_value_checker
        if name == "SkuPriceDetails":
            properties = SKU_PRICE_PROPERTIES_1_2 if version == "1.2" else SKU_PRICE_PROPERTIES_1_3
            return sku_price_details_checker(properties)
        if name == "AllocatedMethodDetails":
            return allocated_method_details_checker
        if name == "ContractApplied":
            return contract_applied_checker
        return json_object_checker
    if column.data_type == STRING:
        if name == "BillingCurrency":
            return billing_currency_checker
        if name == "PricingCurrency":
            return pricing_currency_checker
        allowed = column.allowed_values
        return string_checker(allowed, _allowed_text(allowed) if allowed else "")
    raise ValueError(f"{name}: no checker for data type {column.data_type!r}")


# --- cross-column rules --------------------------------------------------------------------

Condition = Callable[[Mapping[str, Any]], bool]

_PRICED_COLUMNS = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "PricingQuantity",
    "PricingCategory",
    "SkuId",
    "SkuPriceId",
)
# 1.3: "MUST NOT be null when SkuPriceId is not null".
_NOT_NULL_WITH_SKU_PRICE = (
    "ContractedUnitPrice",
    "ListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
)
_NON_NEGATIVE = (
    "ListUnitPrice",
    "ContractedUnitPrice",
    "PricingCurrencyListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
)


def _tax(row: Mapping[str, Any]) -> bool:
    return row.get("ChargeCategory") == "Tax"


def _usage_or_purchase_not_correction(row: Mapping[str, Any]) -> bool:
    return row.get("ChargeCategory") in ("Usage", "Purchase") and (
        row.get("ChargeClass") != "Correction"
    )


def _is_null(column: str) -> Condition:
    return lambda row: row.get(column) is None


def _is_not_null(column: str) -> Condition:
    return lambda row: row.get(column) is not None


def _present_and_null(column: str) -> Condition:
    return lambda row: column in row and row[column] is None


def _cd_quantity_required(row: Mapping[str, Any]) -> bool:
    return (
        row.get("ChargeCategory") in ("Usage", "Purchase")
        and row.get("CommitmentDiscountId") is not None
        and row.get("ChargeClass") != "Correction"
    )


def _cd_quantity_not_applicable(row: Mapping[str, Any]) -> bool:
    return (
        row.get("ChargeCategory") not in ("Usage", "Purchase")
        or row.get("CommitmentDiscountId") is None
    )


def _consumed_quantity_not_applicable(row: Mapping[str, Any]) -> bool:
    return row.get("ChargeCategory") != "Usage" or row.get("CommitmentDiscountStatus") == "Unused"


def _consumed_quantity_required(row: Mapping[str, Any]) -> bool:
    return (
        row.get("ChargeCategory") == "Usage"
        and row.get("CommitmentDiscountStatus") != "Unused"
        and row.get("ChargeClass") != "Correction"
    )


def _cd_status_required(row: Mapping[str, Any]) -> bool:
    return row.get("CommitmentDiscountId") is not None and row.get("ChargeCategory") == "Usage"


def _cr_status_required(row: Mapping[str, Any]) -> bool:
    return row.get("CapacityReservationId") is not None and row.get("ChargeCategory") == "Usage"


# (column, must_be_null, condition, reason)
NullRule = tuple[str, bool, Condition, str]


def null_rules(version: str, columns: Iterable[str]) -> list[NullRule]:
    """Conditional nullability rules of ``version`` whose subject is one of ``columns``."""
    rules: list[NullRule] = []
    for name in _PRICED_COLUMNS:
        rules.append((name, True, _tax, 'when ChargeCategory is "Tax"'))
        rules.append(
            (
                name,
                False,
                _usage_or_purchase_not_correction,
                'when ChargeCategory is "Usage" or "Purchase" and ChargeClass is not "Correction"',
            )
        )
    for quantity, unit in (
        ("PricingQuantity", "PricingUnit"),
        ("ConsumedQuantity", "ConsumedUnit"),
        ("CommitmentDiscountQuantity", "CommitmentDiscountUnit"),
    ):
        rules.append((unit, True, _is_null(quantity), f"when {quantity} is null"))
        rules.append((unit, False, _is_not_null(quantity), f"when {quantity} is not null"))
    for name in ("CommitmentDiscountCategory", "CommitmentDiscountType"):
        rules.append(
            (name, True, _is_null("CommitmentDiscountId"), "when CommitmentDiscountId is null")
        )
        rules.append(
            (
                name,
                False,
                _is_not_null("CommitmentDiscountId"),
                "when CommitmentDiscountId is not null",
            )
        )
    for name in ("CommitmentDiscountName", "CommitmentDiscountStatus"):
        rules.append(
            (name, True, _is_null("CommitmentDiscountId"), "when CommitmentDiscountId is null")
        )
    rules += [
        (
            "CommitmentDiscountStatus",
            False,
            _cd_status_required,
            'when CommitmentDiscountId is not null and ChargeCategory is "Usage"',
        ),
        (
            "CommitmentDiscountQuantity",
            False,
            _cd_quantity_required,
            'when ChargeCategory is "Usage" or "Purchase", CommitmentDiscountId is not null'
            ' and ChargeClass is not "Correction"',
        ),
        (
            "CommitmentDiscountQuantity",
            True,
            _cd_quantity_not_applicable,
            'unless ChargeCategory is "Usage" or "Purchase" and CommitmentDiscountId is not null',
        ),
        (
            "ConsumedQuantity",
            True,
            _consumed_quantity_not_applicable,
            'when ChargeCategory is not "Usage" or CommitmentDiscountStatus is "Unused"',
        ),
        (
            "ConsumedQuantity",
            False,
            _consumed_quantity_required,
            'when ChargeCategory is "Usage", CommitmentDiscountStatus is not "Unused"'
            ' and ChargeClass is not "Correction"',
        ),
        (
            "CapacityReservationStatus",
            True,
            _is_null("CapacityReservationId"),
            "when CapacityReservationId is null",
        ),
        (
            "CapacityReservationStatus",
            False,
            _cr_status_required,
            'when CapacityReservationId is not null and ChargeCategory is "Usage"',
        ),
        (
            "CapacityReservationId",
            False,
            lambda row: row.get("CapacityReservationStatus") == "Unused",
            'when CapacityReservationStatus is "Unused"',
        ),
        ("ResourceName", True, _is_null("ResourceId"), "when ResourceId is null"),
        ("SkuMeter", True, _is_null("SkuId"), "when SkuId is null"),
        ("SkuPriceDetails", True, _is_null("SkuPriceId"), "when SkuPriceId is null"),
    ]
    for name, parent in (
        ("ResourceType", "ResourceId"),
        ("RegionName", "RegionId"),
        ("SubAccountName", "SubAccountId"),
        ("SubAccountType", "SubAccountId"),
    ):
        rules.append((name, True, _is_null(parent), f"when {parent} is null"))
        rules.append((name, False, _is_not_null(parent), f"when {parent} is not null"))
    if version != "1.2":
        for name in _NOT_NULL_WITH_SKU_PRICE:
            rules.append((name, False, _is_not_null("SkuPriceId"), "when SkuPriceId is not null"))
        rules.append(
            (
                "AllocatedResourceName",
                True,
                _is_null("AllocatedResourceId"),
                "when AllocatedResourceId is null",
            )
        )
        rules.append(
            (
                "AllocatedResourceName",
                False,
                _is_not_null("AllocatedResourceId"),
                "when AllocatedResourceId is not null",
            )
        )
        for name in ("AllocatedMethodDetails", "AllocatedResourceId", "AllocatedTags"):
            rules.append(
                (
                    name,
                    True,
                    _present_and_null("AllocatedMethodId"),
                    "when AllocatedMethodId is null (the charge is not split-allocated)",
                )
            )
    wanted = set(columns)
    return [rule for rule in rules if rule[0] in wanted]


ConditionalNulls = dict[str, tuple[tuple[Condition, str], ...]]


def conditional_nulls(
    version: str, columns: Iterable[str]
) -> tuple[ConditionalNulls, ConditionalNulls]:
    """The conditional nullability rules indexed by column: ``(null_when, not_null_when)``.

    ``null_when[column]`` lists ``(condition, detail)`` pairs checked when the column holds a
    value; ``not_null_when[column]`` those checked when it is null. ``validate_row`` runs
    them from its loop over the row, so a column absent from the row costs nothing.
    """
    null_when: dict[str, list[tuple[Condition, str]]] = {}
    not_null_when: dict[str, list[tuple[Condition, str]]] = {}
    for column, must_be_null, condition, reason in null_rules(version, columns):
        if must_be_null:
            null_when.setdefault(column, []).append((condition, "must be null " + reason))
        else:
            not_null_when.setdefault(column, []).append((condition, "must not be null " + reason))
    return (
        {name: tuple(rules) for name, rules in null_when.items()},
        {name: tuple(rules) for name, rules in not_null_when.items()},
    )


def period_order_rule(start: str, end: str) -> RowRule:
    """``start < end`` for a [start, end) period (when both are valid date/times)."""

    def check(row: Mapping[str, Any]) -> Violation | None:
        end_value = row.get(end)
        if end_value is None:
            return None
        begin = as_utc_datetime(row.get(start))
        finish = as_utc_datetime(end_value)
        if begin is not None and finish is not None and not begin < finish:
            return violation(end, "period-order", f"must be later than {start}", end_value)
        return None

    return check


_EXACT = Context(prec=200)


def cost_product_rule(cost: str, unit_price: str, skip_corrections: bool) -> RowRule:
    """``cost`` is ``unit_price x PricingQuantity`` rounded (in either direction) to the
    cost's own decimal places: the difference is less than one unit in its last place."""
    detail_head = f"differs from {unit_price} x PricingQuantity = "

    def check(row: Mapping[str, Any]) -> Violation | None:
        price = row.get(unit_price)
        quantity = row.get("PricingQuantity")
        value = row.get(cost)
        if price is None or quantity is None or value is None:
            return None
        if skip_corrections and row.get("ChargeClass") == "Correction":
            return None
        price_d, quantity_d, cost_d = as_decimal(price), as_decimal(quantity), as_decimal(value)
        if price_d is None or quantity_d is None or cost_d is None:
            return None
        product = _EXACT.multiply(price_d, quantity_d)
        if product == cost_d:
            return None
        exponent = cost_d.as_tuple().exponent
        assert isinstance(exponent, int)
        if abs(_EXACT.subtract(product, cost_d)) >= Decimal(1).scaleb(exponent):
            return violation(
                cost,
                "cost-product",
                f"{detail_head}{format(product, 'f')} (not that product rounded to its decimals)",
                value,
            )
        return None

    return check


def charge_frequency_rule(row: Mapping[str, Any]) -> Violation | None:
    value = row.get("ChargeFrequency")
    if value == "Usage-Based" and row.get("ChargeCategory") == "Purchase":
        return violation(
            "ChargeFrequency",
            "charge-frequency",
            'must not be "Usage-Based" when ChargeCategory is "Purchase"',
            value,
        )
    return None


def service_subcategory_rule(parents: Mapping[str, str]) -> RowRule:
    def check(row: Mapping[str, Any]) -> Violation | None:
        sub = row.get("ServiceSubcategory")
        parent = parents.get(sub) if isinstance(sub, str) else None
        if parent is None:
            return None  # null, or not an allowed value (reported by allowed-values)
        category = row.get("ServiceCategory", parent)
        if category != parent:
            return violation(
                "ServiceSubcategory",
                "service-subcategory",
                f"{sub!r} belongs to ServiceCategory {parent!r}, not {category!r}",
                sub,
            )
        return None

    return check


def allocated_tags_rule(row: Mapping[str, Any]) -> Violation | None:
    """1.3: AllocatedTags MUST NOT include tags already present in Tags."""
    allocated = row.get("AllocatedTags")
    tags = row.get("Tags")
    if allocated is None or tags is None:
        return None
    allocated_obj, problem = load_object(allocated)
    tags_obj, other = load_object(tags)
    if problem is not None or other is not None or not allocated_obj or not tags_obj:
        return None
    repeated = sorted(set(allocated_obj).intersection(tags_obj))
    if repeated:
        return violation(
            "AllocatedTags",
            "allocated-tags",
            f"repeats tag keys already in Tags: {', '.join(map(repr, repeated[:5]))}",
            allocated,
        )
    return None


def row_rules(
    version: str, column_names: Iterable[str], parents: Mapping[str, str]
) -> list[tuple[str, RowRule]]:
    """The other cross-column rules of ``version`` (not conditional nullability), each with
    the column it reports, in a stable order."""
    names = set(column_names)
    rules: list[tuple[str, RowRule]] = [
        ("ChargePeriodEnd", period_order_rule("ChargePeriodStart", "ChargePeriodEnd")),
        ("BillingPeriodEnd", period_order_rule("BillingPeriodStart", "BillingPeriodEnd")),
    ]
    skip_corrections = version == "1.2"
    rules.append(("ListCost", cost_product_rule("ListCost", "ListUnitPrice", skip_corrections)))
    rules.append(
        (
            "ContractedCost",
            cost_product_rule("ContractedCost", "ContractedUnitPrice", skip_corrections),
        )
    )
    rules.append(("ChargeFrequency", charge_frequency_rule))
    rules.append(("ServiceSubcategory", service_subcategory_rule(parents)))
    if "AllocatedTags" in names:
        rules.append(("AllocatedTags", allocated_tags_rule))
    return rules
