"""The public API: versions, columns, JSON Schema, value formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import focus_spec
import pytest
from focus_spec import DEFAULT_VERSION, SUPPORTED_VERSIONS, Column, Violation, get_spec


def test_versions() -> None:
    assert SUPPORTED_VERSIONS == ("1.2", "1.3")
    assert DEFAULT_VERSION == "1.3"
    assert get_spec().version == "1.3"
    assert get_spec("1.2").version == "1.2"
    assert get_spec("1.3") is get_spec("1.3")


@pytest.mark.parametrize("version", ["1.4", "1.1", "1", "", "v1.3"])
def test_unknown_version(version: str) -> None:
    with pytest.raises(ValueError, match=r"supported: 1\.2, 1\.3"):
        get_spec(version)


def test_columns() -> None:
    spec = get_spec("1.3")
    assert all(isinstance(column, Column) for column in spec.columns)
    assert spec.column_names == tuple(column.name for column in spec.columns)
    billed = spec.column("BilledCost")
    assert billed == Column(
        name="BilledCost",
        data_type="Decimal",
        requirement="Mandatory",
        nullable=False,
        allowed_values=None,
        introduced="0.5",
        description=billed.description,
    )
    assert "Numeric Format" in billed.description
    assert spec.mandatory_columns == tuple(c for c in spec.columns if c.requirement == "Mandatory")
    assert spec.mandatory_column_names == tuple(c.name for c in spec.mandatory_columns)
    assert "HostProviderName" in spec.mandatory_column_names
    assert "HostProviderName" not in get_spec("1.2").mandatory_column_names
    with pytest.raises(AttributeError):
        billed.nullable = True  # type: ignore[misc]


def test_unknown_column_key_error() -> None:
    with pytest.raises(KeyError, match="did you mean BilledCost"):
        get_spec("1.3").column("BiledCost")
    with pytest.raises(KeyError, match="new in a later FOCUS version"):
        get_spec("1.2").column("ServiceProviderName")
    with pytest.raises(KeyError, match=r"not a FOCUS 1\.3 column"):
        get_spec("1.3").column("Nothing")


def test_is_custom_column() -> None:
    spec = get_spec()
    assert spec.is_custom_column("x_RowKey")
    assert not spec.is_custom_column("X_RowKey")
    assert not spec.is_custom_column("BilledCost")


def test_json_schema() -> None:
    spec = get_spec("1.3")
    schema = spec.json_schema(custom_columns={"x_RowKey": {"type": "string"}})
    json.dumps(schema)  # plain JSON
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    properties = schema["properties"]
    assert list(properties) == [*spec.column_names, "x_RowKey"]
    assert properties["BilledCost"] == {"type": ["number", "null"]}
    assert properties["ChargePeriodStart"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["Tags"] == {"type": ["object", "null"]}
    assert properties["ContractApplied"] == {"type": ["object", "null"]}
    assert properties["ChargeCategory"] == {"type": ["string", "null"]}
    assert properties["x_RowKey"] == {"type": "string"}
    required = schema["required"]
    assert "BilledCost" in required
    assert "ServiceProviderName" in required
    for name in ("ChargeClass", "PricingQuantity", "HostProviderName", "Tags", "ChargeFrequency"):
        assert name not in required
    assert required == [c.name for c in spec.mandatory_columns if not c.nullable]
    # a fresh dict each time: callers may change it
    schema["properties"]["BilledCost"]["type"] = "string"
    assert spec.json_schema()["properties"]["BilledCost"] == {"type": ["number", "null"]}
    assert "HostProviderName" not in get_spec("1.2").json_schema()["properties"]


def test_json_schema_rejects_custom_columns_without_prefix() -> None:
    with pytest.raises(ValueError, match="must start with 'x_'"):
        get_spec().json_schema(custom_columns={"RowKey": {"type": "string"}})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1.50"), "1.50"),
        (Decimal("0.1"), "0.1"),
        (Decimal("1E+2"), "100"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-1.23E-12"), "-0.00000000000123"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("0E-10"), "0.0000000000"),
        (Decimal("123456789012345678.123456789012345678"), "123456789012345678.123456789012345678"),
        (7, "7"),
        (-12, "-12"),
        ("-12.50", "-12.50"),
    ],
)
def test_format_decimal(value: Decimal | int | str, text: str) -> None:
    assert get_spec().format_decimal(value) == text
    assert focus_spec.format_decimal(value) == text


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (0.1, TypeError),
        (True, TypeError),
        (None, TypeError),
        (Decimal("NaN"), ValueError),
        (Decimal("-Infinity"), ValueError),
        ("1e5", ValueError),
        ("1,000", ValueError),
        ("", ValueError),
    ],
)
def test_format_decimal_rejects(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        get_spec().format_decimal(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 1, 1, tzinfo=UTC), "2025-01-01T00:00:00Z"),
        (datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC), "2025-01-31T23:59:59Z"),
        (datetime(2025, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), "2025-01-01T00:00:00Z"),
        (datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC), "2025-01-01T00:00:00.250000Z"),
        ("2025-01-01T00:00:00+00:00", "2025-01-01T00:00:00Z"),
        ("2025-03-01T12:30:00Z", "2025-03-01T12:30:00Z"),
    ],
)
def test_format_datetime(value: datetime | str, text: str) -> None:
    assert get_spec().format_datetime(value) == text
    assert focus_spec.format_datetime(value) == text


@pytest.mark.parametrize(
    "value", [datetime(2025, 1, 1), "2025-01-01", "2025-01-01T00:00:00+01:00", "yesterday"]
)
def test_format_datetime_rejects(value: datetime | str) -> None:
    with pytest.raises(ValueError, match=r"naive|not an ISO 8601 UTC"):
        get_spec().format_datetime(value)


def test_violation_fields() -> None:
    assert [field for field in Violation.__dataclass_fields__] == [
        "column",
        "rule",
        "message",
        "value_repr",
    ]
