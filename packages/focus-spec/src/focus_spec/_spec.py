"""FocusSpec: one FOCUS version's Cost and Usage columns, rules, schema and formats."""

from __future__ import annotations

import difflib
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from . import _columns_1_3, _rules, _values
from ._model import CUSTOM_PREFIX, DATETIME, DECIMAL, JSON, Column, Violation

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from decimal import Decimal

SUPPORTED_VERSIONS: tuple[str, ...] = ("1.2", "1.3")
DEFAULT_VERSION = "1.3"

# Columns the spec's "Allows nulls" table marks nullable while its requirement text says
# "MUST NOT be null" without a condition; validate_row follows the requirement text.
_NOT_NULL_BY_TEXT = frozenset({"PricingCurrency", "PricingCurrencyEffectiveCost"})

_SCHEMA_TYPES: dict[str, dict[str, Any]] = {
    "String": {"type": ["string", "null"]},
    DECIMAL: {"type": ["number", "null"]},
    DATETIME: {"type": ["string", "null"], "format": "date-time"},
    JSON: {"type": ["object", "null"]},
}


def _catalog(version: str) -> tuple[Column, ...]:
    columns = []
    for (
        name,
        data_type,
        requirement,
        nullable,
        allowed,
        introduced,
        description,
    ) in _columns_1_3.COLUMNS:
        if version == "1.2" and introduced == "1.3":
            continue
        columns.append(
            Column(
                name=name,
                data_type=data_type,
                requirement=requirement,
                nullable=nullable,
                allowed_values=frozenset(allowed) if allowed is not None else None,
                introduced=introduced,
                description=description,
            )
        )
    return tuple(columns)


class FocusSpec:
    """The FOCUS Cost and Usage dataset of one version (get one with ``get_spec``).

    Attributes: ``version``, ``columns`` (spec order), ``column_names``,
    ``mandatory_columns`` (Column objects), ``mandatory_column_names``,
    ``service_subcategory_parents`` (ServiceSubcategory -> ServiceCategory).
    """

    def __init__(self, version: str) -> None:
        if version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"unsupported FOCUS version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}"
            )
        self.version = version
        self.columns: tuple[Column, ...] = _catalog(version)
        self.column_names: tuple[str, ...] = tuple(column.name for column in self.columns)
        self.mandatory_columns: tuple[Column, ...] = tuple(
            column for column in self.columns if column.is_mandatory
        )
        self.mandatory_column_names: tuple[str, ...] = tuple(
            column.name for column in self.mandatory_columns
        )
        self.service_subcategory_parents: Mapping[str, str] = MappingProxyType(
            dict(_columns_1_3.SERVICE_SUBCATEGORY_PARENTS)
        )
        self._by_name = {column.name: column for column in self.columns}
        self._newer_names = frozenset(
            row[0] for row in _columns_1_3.COLUMNS if row[0] not in self._by_name
        )
        # Precomputed for validate_row.
        self._checkers = {
            column.name: _rules.value_checker(column, version) for column in self.columns
        }
        self._not_null = frozenset(
            column.name
            for column in self.columns
            if not column.nullable or column.name in _NOT_NULL_BY_TEXT
        )
        self._mandatory = frozenset(self.mandatory_column_names)
        self._null_when, self._not_null_when = _rules.conditional_nulls(version, self.column_names)
        self._row_rules = _rules.row_rules(
            version, self.column_names, self.service_subcategory_parents
        )

    def __repr__(self) -> str:
        return f"FocusSpec(version={self.version!r}, columns={len(self.columns)})"

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError naming close matches when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            hint = ""
            if name in self._newer_names:
                hint = " (it is new in a later FOCUS version)"
            else:
                close = difflib.get_close_matches(name, self.column_names, n=3)
                if close:
                    hint = f"; did you mean {', '.join(close)}?"
            raise KeyError(f"{name!r} is not a FOCUS {self.version} column{hint}") from None

    def is_custom_column(self, name: str) -> bool:
        """Whether ``name`` is a custom column name (it starts with ``x_``)."""
        return name.startswith(CUSTOM_PREFIX)

    def validate_row(self, row: Mapping[str, Any]) -> list[Violation]:
        """Every rule ``row`` breaks, as Violations; an empty list when it conforms.

        ``row`` maps column names to Python values: str, decimal.Decimal / int (never
        float), aware UTC datetime or ISO 8601 UTC text, dict or JSON text, None for null.
        Never raises on bad data. See the README for the rules.
        """
        violations: list[Violation] = []
        if not self._mandatory <= row.keys():
            violations.extend(
                _rules.violation(name, "missing-column", "mandatory column is absent")
                for name in self.mandatory_column_names
                if name not in row
            )
        checkers = self._checkers
        not_null = self._not_null
        null_when = self._null_when
        not_null_when = self._not_null_when
        for name, value in row.items():
            checker = checkers.get(name)
            if checker is None:
                if not (isinstance(name, str) and name.startswith(CUSTOM_PREFIX)):
                    violations.append(self._unknown_column(name, value))
                continue
            try:
                if value is None:
                    if name in not_null:
                        violations.append(
                            _rules.violation(name, "not-null", "must not be null", value)
                        )
                    else:
                        for condition, detail in not_null_when.get(name, ()):
                            if condition(row):
                                violations.append(
                                    _rules.violation(name, "must-not-be-null", detail, value)
                                )
                    continue
                problem = checker(value)
                if problem is not None:
                    violations.append(_rules.violation(name, problem[0], problem[1], value))
                for condition, detail in null_when.get(name, ()):
                    if condition(row):
                        violations.append(_rules.violation(name, "must-be-null", detail, value))
            except Exception as error:  # an exotic value must not stop the run
                detail = f"could not be checked ({type(error).__name__})"
                violations.append(_rules.violation(name, "unreadable-value", detail, value))
        for column, rule in self._row_rules:
            try:
                found = rule(row)
            except Exception as error:
                found = _rules.violation(
                    column,
                    "unreadable-value",
                    f"a cross-column rule could not be checked ({type(error).__name__})",
                )
            if found is not None:
                violations.append(found)
        return violations

    def _unknown_column(self, name: Any, value: Any) -> Violation:
        if not isinstance(name, str):
            return _rules.violation(repr(name), "unknown-column", "column names are strings", value)
        hint = " (new in a later FOCUS version)" if name in self._newer_names else ""
        return _rules.violation(
            name,
            "unknown-column",
            f"not a FOCUS {self.version} column{hint}; custom columns start with 'x_'",
            value,
        )

    def json_schema(
        self, custom_columns: Mapping[str, Mapping[str, Any]] | None = None
    ) -> dict[str, Any]:
        """JSON Schema (draft 7) of a FOCUS row, for a Singer SCHEMA message.

        Every spec column: String -> ``{"type": ["string", "null"]}``, Decimal ->
        ``{"type": ["number", "null"]}`` (values are decimal.Decimal, exact), DateTime ->
        ``{"type": ["string", "null"], "format": "date-time"}``, JSON ->
        ``{"type": ["object", "null"]}``. ``custom_columns`` adds ``x_`` columns with the
        given schemas. ``required`` lists the mandatory non-nullable columns. No other
        properties are allowed (``additionalProperties: false``): declare every custom
        column. Raises ValueError for a custom column without the ``x_`` prefix.
        """
        properties: dict[str, Any] = {
            column.name: dict(_SCHEMA_TYPES[column.data_type]) for column in self.columns
        }
        for name, schema in (custom_columns or {}).items():
            if not self.is_custom_column(name):
                raise ValueError(f"custom column {name!r} must start with {CUSTOM_PREFIX!r}")
            properties[name] = dict(schema)
        required = [column.name for column in self.mandatory_columns if not column.nullable]
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }

    @staticmethod
    def format_decimal(value: Decimal | int | str) -> str:
        """FOCUS numeric text for CSV (see ``focus_spec.format_decimal``)."""
        return _values.format_decimal(value)

    @staticmethod
    def format_datetime(value: datetime | str) -> str:
        """FOCUS date/time text, ``"YYYY-MM-DDTHH:MM:SSZ"`` (see ``focus_spec.format_datetime``)."""
        return _values.format_datetime(value)


@cache
def _spec(version: str) -> FocusSpec:
    return FocusSpec(version)


def get_spec(version: str = DEFAULT_VERSION) -> FocusSpec:
    """The FocusSpec of ``version`` ("1.3" or "1.2"); built once, then shared.

    Raises ValueError naming the supported versions for any other version.
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"unsupported FOCUS version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}"
        )
    return _spec(version)
