"""The FinOps Foundation's validator examples conform; FOCUS 1.2 and 1.3 differ where they should.

The example Parquet files (../shared/focus/validator-examples) are read with pyarrow when
the test environment has it; the same rows are also committed as CSV fixtures (all values
text, empty cell = null), which always run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from focus_spec import get_spec
from focus_spec_testdata import (
    FIXTURES,
    NEW_IN_1_3,
    SHARED_FOCUS,
    read_csv_rows,
    usage_row_1_2,
    usage_row_1_3,
)

VERSIONS = ("1.2", "1.3")


def _rules(violations: list[Any]) -> set[tuple[str, str]]:
    return {(item.column, item.rule) for item in violations}


def _parquet_rows(version: str) -> list[dict[str, Any]]:
    parquet = pytest.importorskip("pyarrow.parquet")
    path = SHARED_FOCUS / "validator-examples" / f"focus_{version}_minimal.parquet"
    assert path.is_file(), f"{path} is missing"
    return list(parquet.read_table(path).to_pylist())


@pytest.mark.parametrize("version", VERSIONS)
def test_validator_example_parquet_rows_conform(version: str) -> None:
    rows = _parquet_rows(version)
    assert len(rows) == 2
    assert isinstance(rows[0]["BilledCost"], Decimal)
    for row in rows:
        assert get_spec(version).validate_row(row) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_validator_example_csv_rows_conform(version: str) -> None:
    rows = read_csv_rows(FIXTURES / f"focus_{version}_minimal.csv")
    assert len(rows) == 2
    assert len(rows[0]) == len(get_spec(version).columns)
    for row in rows:
        assert get_spec(version).validate_row(row) == []


def test_csv_fixture_is_the_parquet_example() -> None:
    parquet_rows = _parquet_rows("1.3")
    csv_rows = read_csv_rows(FIXTURES / "focus_1.3_minimal.csv")
    spec = get_spec("1.3")
    for typed, text in zip(parquet_rows, csv_rows, strict=True):
        assert typed.keys() == text.keys()
        for name, value in typed.items():
            if value is None or isinstance(value, str):
                assert text[name] == value, name
            elif isinstance(value, Decimal):
                assert Decimal(text[name]) == value, name
            else:
                assert text[name] == spec.format_datetime(value), name


def test_a_1_3_row_is_not_a_1_2_row() -> None:
    for row in (usage_row_1_3(), *read_csv_rows(FIXTURES / "focus_1.3_minimal.csv")):
        violations = get_spec("1.2").validate_row(row)
        assert _rules(violations) == {(name, "unknown-column") for name in NEW_IN_1_3}
        assert all("new in a later FOCUS version" in item.message for item in violations)


def test_a_1_2_row_lacks_the_new_mandatory_1_3_columns() -> None:
    for row in (usage_row_1_2(), *read_csv_rows(FIXTURES / "focus_1.2_minimal.csv")):
        assert _rules(get_spec("1.3").validate_row(row)) == {
            ("HostProviderName", "missing-column"),
            ("ServiceProviderName", "missing-column"),
        }


def _credit_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Credit row without a SKU price that still states a pricing quantity."""
    row.update(
        ChargeCategory="Credit",
        ChargeFrequency="One-Time",
        BilledCost=Decimal("-5"),
        EffectiveCost=Decimal("-5"),
        ListCost=Decimal("-5"),
        ContractedCost=Decimal("-5"),
        PricingCurrencyEffectiveCost=Decimal("-5"),
        ListUnitPrice=None,
        ContractedUnitPrice=None,
        PricingCurrencyListUnitPrice=None,
        PricingCurrencyContractedUnitPrice=None,
        PricingCategory=None,
        SkuPriceId=None,
        SkuPriceDetails=None,
        ConsumedQuantity=None,
        ConsumedUnit=None,
        PricingQuantity=Decimal("1"),
        PricingUnit="Credits",
    )
    return row


def test_quantities_do_not_depend_on_a_sku_price() -> None:
    # A 1.3 draft tied PricingQuantity & co. to SkuPriceId ("MUST be null when SkuPriceId is
    # null"); the released column texts tie them to ChargeCategory/ChargeClass only, as 1.2
    # does (see README, doubtful rule 8). A credit with a quantity is valid in both.
    assert get_spec("1.2").validate_row(_credit_row(usage_row_1_2())) == []
    assert get_spec("1.3").validate_row(_credit_row(usage_row_1_3())) == []


def test_1_3_needs_unit_prices_with_a_sku_price_even_for_corrections() -> None:
    def correction(row: dict[str, Any]) -> dict[str, Any]:
        row.update(ChargeClass="Correction", ListUnitPrice=None, ListCost=Decimal("0.0832"))
        return row

    assert get_spec("1.2").validate_row(correction(usage_row_1_2())) == []
    assert _rules(get_spec("1.3").validate_row(correction(usage_row_1_3()))) == {
        ("ListUnitPrice", "must-not-be-null")
    }


def test_1_3_list_cost_is_the_product_even_for_corrections() -> None:
    def correction(row: dict[str, Any]) -> dict[str, Any]:
        row.update(ChargeClass="Correction", ListCost=Decimal("-0.0832"))
        return row

    assert get_spec("1.2").validate_row(correction(usage_row_1_2())) == []
    assert _rules(get_spec("1.3").validate_row(correction(usage_row_1_3()))) == {
        ("ListCost", "cost-product")
    }


def test_sku_price_details_property_names_per_version() -> None:
    row12, row13 = usage_row_1_2(), usage_row_1_3()
    row12["SkuPriceDetails"] = row13["SkuPriceDetails"] = {"NetworkIops": 1000}
    assert get_spec("1.2").validate_row(row12) == []
    assert _rules(get_spec("1.3").validate_row(row13)) == {("SkuPriceDetails", "custom-key-prefix")}


def test_sku_price_id_rules_skip_datasets_without_the_column() -> None:
    row = _credit_row(usage_row_1_3())
    for name in ("SkuId", "SkuMeter", "SkuPriceId", "SkuPriceDetails"):
        del row[name]
    assert get_spec("1.3").validate_row(row) == []


def test_allowed_values_are_the_same_in_both_versions() -> None:
    spec12, spec13 = get_spec("1.2"), get_spec("1.3")
    for column in spec12.columns:
        assert column.allowed_values == spec13.column(column.name).allowed_values
