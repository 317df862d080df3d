"""The two value types of the package: a spec column and a rule violation."""

from __future__ import annotations

from dataclasses import dataclass

# Data types as the package names them (the spec writes "Date/Time" for DATETIME).
STRING = "String"
DECIMAL = "Decimal"
DATETIME = "DateTime"
JSON = "JSON"
DATA_TYPES = (STRING, DECIMAL, DATETIME, JSON)

# Requirement (feature) levels.
MANDATORY = "Mandatory"
CONDITIONAL = "Conditional"
RECOMMENDED = "Recommended"
OPTIONAL = "Optional"
REQUIREMENTS = (MANDATORY, CONDITIONAL, RECOMMENDED, OPTIONAL)

CUSTOM_PREFIX = "x_"


@dataclass(frozen=True, slots=True)
class Column:
    """One FOCUS Cost and Usage column as a given FOCUS version defines it.

    name: the Column ID (``BilledCost``).
    data_type: ``"String"``, ``"Decimal"``, ``"DateTime"`` or ``"JSON"``.
    requirement: feature level, ``"Mandatory"``, ``"Conditional"``, ``"Recommended"`` or
        ``"Optional"``.
    nullable: the spec's "Allows nulls" constraint. Some columns allow nulls only in given
        cases; ``FocusSpec.validate_row`` checks those cases.
    allowed_values: the closed list of values where the spec gives one, else None.
    introduced: the FOCUS version that introduced the column (``"0.5"``, ``"1.3"``, ...).
    description: a short description (column type, value format, notes).
    """

    name: str
    data_type: str
    requirement: str
    nullable: bool
    allowed_values: frozenset[str] | None
    introduced: str
    description: str

    @property
    def is_mandatory(self) -> bool:
        return self.requirement == MANDATORY


@dataclass(frozen=True, slots=True)
class Violation:
    """A row that breaks one rule in one column.

    column: the column the rule is about (for an unknown column, its name).
    rule: a short stable rule id, e.g. ``"allowed-values"`` (see the README's rule list).
    message: one line naming the column and the rule, e.g.
        ``"ChargeCategory [allowed-values]: 'Usagee' is not one of Adjustment, Credit, ..."``.
    value_repr: ``repr()`` of the offending value, shortened; ``"<missing>"`` when absent.
    """

    column: str
    rule: str
    message: str
    value_repr: str

    def __str__(self) -> str:
        return self.message
