"""The FinOps FOCUS specification as code (Cost and Usage dataset, FOCUS 1.3 and 1.2).

    from focus_spec import get_spec, SUPPORTED_VERSIONS, DEFAULT_VERSION, Violation

    spec = get_spec("1.3")
    spec.column("BilledCost").data_type         # "Decimal"
    spec.validate_row(row)                      # [] or [Violation(...), ...]
    spec.json_schema(custom_columns={"x_RowKey": {"type": "string"}})
    spec.format_decimal(Decimal("1.50"))        # "1.50"
    spec.format_datetime(datetime(2025, 1, 1, tzinfo=timezone.utc))  # "2025-01-01T00:00:00Z"

Pure standard library; the column catalog is generated from the FOCUS column CSV into
``_columns_1_3.py`` by ``scripts/generate.py``. See README.md for every rule.
"""

from ._model import (
    CONDITIONAL,
    CUSTOM_PREFIX,
    DATA_TYPES,
    DATETIME,
    DECIMAL,
    JSON,
    MANDATORY,
    OPTIONAL,
    RECOMMENDED,
    REQUIREMENTS,
    STRING,
    Column,
    Violation,
)
from ._spec import DEFAULT_VERSION, SUPPORTED_VERSIONS, FocusSpec, get_spec
from ._values import as_decimal, as_utc_datetime, format_datetime, format_decimal

__all__ = [
    "CONDITIONAL",
    "CUSTOM_PREFIX",
    "DATA_TYPES",
    "DATETIME",
    "DECIMAL",
    "DEFAULT_VERSION",
    "JSON",
    "MANDATORY",
    "OPTIONAL",
    "RECOMMENDED",
    "REQUIREMENTS",
    "STRING",
    "SUPPORTED_VERSIONS",
    "Column",
    "FocusSpec",
    "Violation",
    "as_decimal",
    "as_utc_datetime",
    "format_datetime",
    "format_decimal",
    "get_spec",
]
