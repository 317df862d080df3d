"""Azure mapping rules, one fixture each: raw tap-azure record(s) in, FOCUS rows out.

Each fixture in fixtures/azure/ says why the rule exists, the raw record(s) (cost details
rows with Microsoft's EA or MCA column names, or export rows: ActualCost / AmortizedCost /
Microsoft's FOCUS export, as tap-azure emits them) and the rows expected; only the columns a
fixture lists are compared, money as exact Decimal digit for digit. Then: every row valid
FOCUS 1.2 and 1.3; a month loaded with BOTH metrics reconciles exactly (sum BilledCost =
the actual metric's total, sum EffectiveCost = the amortized metric's total); the drops
that make it so are counted; keys, names, units, services, regions; unmappable records
named by stream, record and column; the mapper CLI over cost_details messages.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers import azure_common, azure_cost, azure_export
from mapper_focus.providers.azure_common import (
    DROPS,
    known_service,
    region_of,
    unit_of,
)
from mapper_focus.providers.azure_cost import Layouts, map_cost_details
from mapper_focus.providers.azure_export import map_export_row
from mapper_focus.registry import builtin_mappings, find_mapping
from mapper_focus.rows import MappingError, RowShaper

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "azure"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
MAPPERS = {"cost_details": map_cost_details, "export_rows": map_export_row}
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"} | {
    name
    for name, schema in azure_common.CUSTOM_COLUMNS.items()
    if "number" in schema.get("type", [])
}
TAP_FIELDS = (
    "metric",
    "scope",
    "report_id",
    "delivery_id",
    "billing_period",
    "blob",
    "row_number",
    "window_start",
    "window_end",
)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def fixture(name: str) -> dict:
    return load(FIXTURE_DIR / f"{name}.json")


def inputs(case: dict) -> list[dict]:
    raw = case["input"]
    return raw if isinstance(raw, list) else [raw]


def map_case(case: dict) -> list[dict]:
    mapper = MAPPERS[case["stream"]]
    return [row for record in inputs(case) for row in mapper(copy.deepcopy(record))]


def _expected(value: object, column: str) -> object:
    return Decimal(value) if column in DECIMAL_COLUMNS and value is not None else value


# --- the rules, one fixture each -------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_azure_rule(path: Path):
    case = load(path)
    rows = map_case(case)
    assert len(rows) == len(case["expected"]), case["why"]
    for index, (row, expected) in enumerate(zip(rows, case["expected"], strict=True)):
        for column, value in expected.items():
            assert column in row, f"{path.stem}[{index}]: no column {column}"
            got, want = row[column], _expected(value, column)
            assert got == want, f"{path.stem}[{index}]: {column} = {got!r}, want {want!r}"
            if isinstance(want, Decimal):  # exact digits, not just an equal value
                assert isinstance(got, Decimal), f"{path.stem}: {column} is {type(got)}"
                assert str(got) == str(want), f"{path.stem}[{index}]: {column} {got} vs {want}"


@pytest.mark.parametrize("path", FIXTURES, ids=[f.stem for f in FIXTURES])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_azure_rows_are_valid_focus(path: Path, version: str):
    case = load(path)
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_case(case):
        shaped = shape(row, case["stream"], "azure")
        assert spec.validate_row(shaped) == [], f"{path.stem} ({version})"
        for column in case.get("only_in_1_3", []):
            assert (column in shaped) == (version == "1.3"), column
        for column in shaped:  # every custom column is declared for the FOCUS schema
            if column.startswith("x_"):
                assert column in azure_common.CUSTOM_COLUMNS or column in (
                    "x_SourceProvider",
                    "x_SourceStream",
                    "x_SourceRecordId",
                    "x_RowKey",
                ), column


def test_every_case_the_brief_names_has_a_fixture():
    names = {f.stem for f in FIXTURES}
    assert {
        "on_demand_usage_ea",
        "on_demand_usage_mca",
        "reservation_purchase_actual",
        "reservation_usage_amortized",
        "unused_reservation",
        "savings_plan_usage",
        "savings_plan_unused",
        "refund",
        "marketplace",
        "tax_and_rounding",
        "spot",
        "tags_without_braces",
        "unit_block_scaling",
        "metric_drops",
        "focus_1_0_usage",
        "focus_1_0_commitment_purchase",
    } <= names


def test_dropped_metric_rows_are_counted_never_silent(caplog):
    case = fixture("metric_drops")
    before = dict(DROPS.counts)
    with caplog.at_level("INFO", logger="mapper_focus.azure"):
        assert map_case(case) == []
    added: dict[str, int] = defaultdict(int)
    for (stream, metric, _reason), count in DROPS.counts.items():
        added[metric] += count - before.get((stream, metric, _reason), 0)
    assert dict(added) == case["drops"]
    assert azure_common.drop_counts() == dict(DROPS.counts)


# --- both metrics: each charge once, totals exact ---------------------------------------


def _raw(record: dict, name: str) -> str | None:
    for key, value in record.items():
        if key.lower() == name.lower():
            return value
    return None


def _cost(record: dict) -> Decimal:
    return Decimal(_raw(record, "CostInBillingCurrency"))


def _currency(record: dict) -> str:
    return _raw(record, "BillingCurrency") or _raw(record, "BillingCurrencyCode")


def both_metrics_month() -> tuple[list[dict], list[dict]]:
    """Every cost_details fixture row, completed into what Cost Management delivers for
    the month in each metric: the actual twin of an amortized row costs the same, except
    commitment-covered usage (0 in actual data) and Unused rows (amortized only); the
    commitment purchases and refunds are in the actual metric only."""
    actual: list[dict] = []
    amortized: list[dict] = []
    number = 1000
    for path in FIXTURES:
        case = load(path)
        if case["stream"] != "cost_details" or path.stem == "metric_drops":
            continue
        for record in inputs(case):
            number += 1
            record = {**record, "row_number": number}
            if record["metric"] == "actual":
                actual.append(record)
                continue
            amortized.append(record)
            charge_type = _raw(record, "ChargeType")
            model = (_raw(record, "PricingModel") or "").replace(" ", "").lower()
            if charge_type.lower().startswith("unused"):
                continue  # only the amortized metric has unused commitment rows
            twin = {**record, "metric": "actual", "row_number": number + 500}
            if model in ("reservation", "savingsplan"):
                for name in list(twin):
                    if name.lower() in ("costinbillingcurrency", "effectiveprice"):
                        twin[name] = "0"
                    if name.lower() == "costinpricingcurrency":
                        twin[name] = "0"
            actual.append(twin)
    return actual, amortized


def test_both_metrics_reconcile_exactly_with_each_metric_total():
    actual, amortized = both_metrics_month()
    assert len(actual) >= 12
    assert len(amortized) >= 12
    before = DROPS.total()
    rows = [row for record in actual + amortized for row in map_cost_details(record)]
    purchases = [r for r in actual if _raw(r, "ChargeType") in ("Purchase", "Refund")]
    commitment_purchases = [r for r in purchases if _raw(r, "PricingModel") not in ("", None)]
    # Each charge once: every amortized row, and the actual metric's commitment purchases.
    assert len(rows) == len(amortized) + len(commitment_purchases)
    assert DROPS.total() - before == len(actual) - len(commitment_purchases)
    billed: dict[str, Decimal] = defaultdict(Decimal)
    effective: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        billed[row["BillingCurrency"]] += row["BilledCost"]
        effective[row["BillingCurrency"]] += row["EffectiveCost"]
    actual_total: dict[str, Decimal] = defaultdict(Decimal)
    amortized_total: dict[str, Decimal] = defaultdict(Decimal)
    for record in actual:
        actual_total[_currency(record)] += _cost(record)
    for record in amortized:
        amortized_total[_currency(record)] += _cost(record)
    assert set(billed) == {"USD", "EUR"}
    assert billed == actual_total  # the invoice basis, digit for digit
    assert effective == amortized_total  # the amortized view, digit for digit
    # Commitment purchases carry no EffectiveCost; Unused rows no BilledCost.
    for row in rows:
        if row["ChargeCategory"] == "Purchase" and row["CommitmentDiscountId"]:
            assert row["EffectiveCost"] == 0
        if row["CommitmentDiscountStatus"] in ("Used", "Unused"):
            assert row["BilledCost"] == 0


def test_both_metrics_through_exports_reconcile_too():
    """The same month as ActualCost + AmortizedCost exports (export_rows)."""
    actual, amortized = both_metrics_month()
    rows = []
    for index, record in enumerate(actual + amortized):
        kind = "azure_actual" if record["metric"] == "actual" else "azure_amortized"
        export = {k: v for k, v in record.items() if k not in TAP_FIELDS}
        export.update(
            export_kind=kind,
            export_name=kind,
            billing_period="2024-03",
            delivery_id="del-1",
            blob=f"exports/{kind}/part_0_0001.csv",
            row_number=index,
        )
        rows += list(map_export_row(export))
    assert sum(r["BilledCost"] for r in rows) == sum(_cost(r) for r in actual)
    assert sum(r["EffectiveCost"] for r in rows) == sum(_cost(r) for r in amortized)
    assert {r["x_DeliveryId"] for r in rows} == {"del-1"}
    # A cost details report is a delivery of its month too (tap-azure: delivery_id is the
    # report id); a row without one (another producer) simply has no x_DeliveryId.
    (row,) = map_cost_details(amortized[0])
    assert row["x_DeliveryId"] == amortized[0]["delivery_id"]
    bare = {k: v for k, v in amortized[0].items() if k != "delivery_id"}
    assert "x_DeliveryId" not in next(map_cost_details(bare))
    assert len({r["x_RowKey"] for r in rows}) == len(rows)


# --- the spec's own commitment examples, from Azure savings plan rows -------------------

SPEC_EXAMPLES = (
    Path(__file__).resolve().parents[3].parent / "shared" / "focus" / "spec_v1.2_examples"
)
SP = "/providers/Microsoft.BillingBenefits/savingsPlanOrders/o-1/savingsPlans/sp-1"


def spec_rows(name: str) -> list[dict]:
    import csv

    path = SPEC_EXAMPLES / f"commitment_discount_scenarios__{name}.csv"
    assert path.exists(), f"spec example missing: {path}"
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if any(v.strip() for v in r.values())]
    return [{k: (None if v == "null" else v) for k, v in r.items()} for r in rows]


def sp_row(charge_type: str, cost: str, *, metric: str = "amortized", **changes: str) -> dict:
    base = fixture("on_demand_usage_ea")["input"]
    record = {
        **base,
        "metric": metric,
        "row_number": abs(hash((charge_type, cost, metric))) % 100_000,
        "ChargeType": charge_type,
        "PricingModel": "SavingsPlan",
        "benefitId": SP,
        "benefitName": "sp",
        "Quantity": "1",
        "UnitPrice": "1.50",
        "PayGPrice": "1.50",
        "EffectivePrice": cost,
        "CostInBillingCurrency": cost,
    }
    record.update(changes)
    return record


SPEC_COMPARED = (
    "ChargeCategory",
    "ChargeFrequency",
    "PricingCategory",
    "BilledCost",
    "EffectiveCost",
    "ConsumedQuantity",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
    "CommitmentDiscountUnit",
)


def compare_spec(got: dict, want: dict) -> None:
    for column in SPEC_COMPARED:
        if column not in want:
            continue
        expected, value = want[column], got.get(column)
        if column in DECIMAL_COLUMNS and expected is not None:
            assert value == Decimal(expected), (column, value, expected)
        else:
            assert value == expected, (column, value, expected)
    if want.get("ResourceId") == "<my-commitment-discount-id>":
        assert got["ResourceId"] == got["CommitmentDiscountId"] == SP.lower()


def test_spec_usage_scenarios_from_savings_plan_rows():
    (used,) = map_cost_details(sp_row("Usage", "1.00"))
    compare_spec(used, spec_rows("commitment_discount_usage_scenario_1")[0])
    unused_source = sp_row("UnusedSavingsPlan", "1.00", ResourceId="", ConsumedService="")
    (unused,) = map_cost_details(unused_source)
    compare_spec(unused, spec_rows("commitment_discount_usage_scenario_2")[0])
    want_used, want_unused = spec_rows("commitment_discount_usage_scenario_3")
    compare_spec(next(map_cost_details(sp_row("Usage", "0.75"))), want_used)
    partly = sp_row("UnusedSavingsPlan", "0.25", ResourceId="", ConsumedService="")
    compare_spec(next(map_cost_details(partly)), want_unused)
    want_used, want_on_demand = spec_rows("commitment_discount_usage_scenario_4")
    compare_spec(next(map_cost_details(sp_row("Usage", "1.00"))), want_used)
    on_demand = sp_row("Usage", "0.50", PricingModel="OnDemand", benefitId="", UnitPrice="0.50")
    (row,) = map_cost_details(on_demand)
    compare_spec(row, want_on_demand)
    assert row["CommitmentDiscountId"] is None


def test_spec_purchase_scenario_recurring_savings_plan():
    for index, want in enumerate(spec_rows("commitment_discount_purchase_scenario_2")):
        record = sp_row(
            "Purchase",
            want["BilledCost"],
            metric="actual",
            Frequency="Recurring",
            ResourceId="",
            row_number=str(index),
        )
        (got,) = map_cost_details(record)
        compare_spec(got, want)
        assert got["PricingCategory"] == want["PricingCategory"] == "Standard"


# --- more rules ----------------------------------------------------------------------------


def test_list_cost_agrees_with_microsofts_payg_cost_where_mca_gives_one():
    """ListCost is computed (unit price x PricingQuantity, what the validator checks); on
    the MCA fixtures it equals Microsoft's paygCostInBillingCurrency wherever that is set."""
    checked = 0
    for name in ("on_demand_usage_mca", "savings_plan_usage"):
        record = fixture(name)["input"]
        (row,) = map_cost_details(record)
        assert row["ListCost"] == Decimal(record["paygCostInBillingCurrency"])
        checked += 1
    assert checked == 2


def test_capacity_reservation_from_additional_info():
    capacity = (
        "/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute"
        "/capacityReservationGroups/crg/capacityReservations/cr1"
    )
    info = json.dumps({"VMCapacityReservationId": capacity})
    (row,) = map_cost_details({**fixture("on_demand_usage_ea")["input"], "AdditionalInfo": info})
    assert row["CapacityReservationId"].endswith("/capacityreservations/cr1")
    assert row["CapacityReservationId"] == row["CapacityReservationId"].lower()
    assert row["CapacityReservationStatus"] == "Used"
    spec = get_spec("1.2")
    assert spec.validate_row(RowShaper(spec, ALL_SPEC_COLUMNS)(row, "cost_details", "azure")) == []


def test_billing_period_end_written_exclusive_is_not_moved():
    record = {
        **fixture("on_demand_usage_mca")["input"],
        "billingPeriodEndDate": "2024-04-01T00:00:00.0000000Z",
    }
    (row,) = map_cost_details(record)
    assert row["BillingPeriodEnd"] == "2024-04-01T00:00:00Z"
    no_period = {**record, "billingPeriodStartDate": "", "billingPeriodEndDate": ""}
    (row,) = map_cost_details(no_period)  # the calendar month of the charge
    assert (row["BillingPeriodStart"], row["BillingPeriodEnd"]) == (
        "2024-03-01T00:00:00Z",
        "2024-04-01T00:00:00Z",
    )


def test_a_usage_day_before_its_billing_period_is_a_correction():
    (row,) = map_cost_details({**fixture("on_demand_usage_ea")["input"], "Date": "02/27/2024"})
    assert row["ChargeClass"] == "Correction"


def test_focus_1_0_preview_spellings_are_brought_up_to_date():
    record = {
        k: v
        for k, v in fixture("focus_1_0_usage")["input"].items()
        if k not in ("RegionId", "RegionName", "ConsumedQuantity", "ConsumedUnit")
    }
    record.update(ChargeSubcategory="On-Demand", Region="US East", UsageQuantity="24")
    record.update(UsageUnit="Hours", PricingCategory="On-Demand")
    (row,) = map_export_row(record)
    assert (row["RegionId"], row["RegionName"]) == ("eastus", "East US")
    assert row["ConsumedQuantity"] == Decimal("24")
    assert row["PricingCategory"] == "Standard"
    refund = {**record, "ChargeSubcategory": "Refund", "ChargeCategory": "Adjustment"}
    (row,) = map_export_row(refund)
    assert (row["ChargeCategory"], row["ChargeClass"]) == ("Purchase", "Correction")


# --- keys ----------------------------------------------------------------------------------


def test_cost_details_keys_come_from_identity_never_from_values():
    record = fixture("reservation_usage_amortized")["input"]
    (first,) = map_cost_details(copy.deepcopy(record))
    key = first["x_RowKey"]
    assert key == next(map_cost_details(copy.deepcopy(record)))["x_RowKey"]
    restated = {
        **record,
        "CostInBillingCurrency": "1.3",
        "Quantity": "25",
        "EffectivePrice": "0.052",
        "UnitPrice": "0.09",
        "PayGPrice": "0.1",
        "SubscriptionName": "renamed",
        "Tags": '"team": "web", "env": "prod"',  # the same tags, without braces, reordered
        "CostCenter": "CC-200",
        "report_id": "another-report",
        "blob": "armreports/00001/another.csv",
        "row_number": 99,
    }
    assert next(map_cost_details(restated))["x_RowKey"] == key
    for change in (
        {"Date": "03/06/2024"},
        {"MeterId": "other-meter"},
        {"ResourceId": record["ResourceId"].replace("web-01", "web-02")},
        {"AdditionalInfo": record["AdditionalInfo"].replace("ComputeHR", "ComputeHR_SW")},
        {"scope": "/providers/Microsoft.Billing/billingAccounts/other"},
        {"PricingModel": "OnDemand"},
        {"Tags": '{"env": "prod", "team": "web", "new": "tag"}'},
    ):
        assert next(map_cost_details({**record, **change}))["x_RowKey"] != key, change
    # The id's case does not matter (Azure ids are case-insensitive), its content does.
    upper = {**record, "ResourceId": record["ResourceId"].upper()}
    assert next(map_cost_details(upper))["x_RowKey"] == key


def test_export_keys_come_from_file_and_row():
    record = fixture("export_amortized_and_actual")["input"][0]
    (row,) = map_export_row(copy.deepcopy(record))
    restated = {**record, "CostInBillingCurrency": "3", "Tags": ""}
    assert next(map_export_row(restated))["x_RowKey"] == row["x_RowKey"]
    assert next(map_export_row({**record, "row_number": 18}))["x_RowKey"] != row["x_RowKey"]


def test_export_file_is_the_blob_or_a_source_file_without_its_query_string():
    record = fixture("export_amortized_and_actual")["input"][0]
    (by_blob,) = map_export_row(copy.deepcopy(record))
    renamed = {k: v for k, v in record.items() if k != "blob"}
    renamed["source_file"] = record["blob"] + "?sv=2024&sig=SECRET"
    (by_source,) = map_export_row(renamed)
    assert by_source["x_RowKey"] == by_blob["x_RowKey"]
    assert by_source["x_SourceRecordId"] == by_blob["x_SourceRecordId"]
    assert "SECRET" not in by_source["x_SourceRecordId"]


def test_every_fixture_row_has_its_own_key():
    keys = [r["x_RowKey"] for path in FIXTURES for r in map_case(load(path))]
    assert len(keys) == len(set(keys))


# --- names, units, services, regions, registry ------------------------------------------


def test_column_names_are_matched_case_insensitively_once_per_schema():
    record = fixture("on_demand_usage_ea")["input"]
    tap = {k: v for k, v in record.items() if k in TAP_FIELDS}
    lower = {**{k.lower(): v for k, v in record.items() if k not in TAP_FIELDS}, **tap}
    upper = {**{k.upper(): v for k, v in record.items() if k not in TAP_FIELDS}, **tap}
    (expected,) = map_cost_details(copy.deepcopy(record))
    for variant in (lower, upper):
        (row,) = map_cost_details(variant)
        assert row == expected
    layouts = Layouts()
    assert layouts(record) is layouts({**record, "row_number": 2})
    assert layouts(lower) is not layouts(record)
    layout = layouts(record)
    assert layout.raw["BillingCurrency"] == "BillingCurrencyCode"  # EA's spelling
    assert layout.raw["CostInBillingCurrency"] == "CostInBillingCurrency"
    mca = fixture("on_demand_usage_mca")["input"]
    assert layouts(mca).raw["ResourceGroup"] == "resourceGroupName"
    assert layouts(mca).raw["CostInBillingCurrency"] == "costInBillingCurrency"


def test_an_older_export_with_cost_and_currency_columns_maps_too():
    record = {
        k: v
        for k, v in fixture("on_demand_usage_ea")["input"].items()
        if k not in ("CostInBillingCurrency", "BillingCurrencyCode")
    }
    record.update(Cost="2.0736", Currency="usd")
    (row,) = map_cost_details(record)
    assert row["BilledCost"] == Decimal("2.0736")
    assert row["BillingCurrency"] == "USD"


@pytest.mark.parametrize(
    ("unit", "block", "name"),
    [
        ("1 Hour", 1, "Hours"),
        ("10 Hours", 10, "Hours"),
        ("100 Hours", 100, "Hours"),
        ("1 GB/Month", 1, "GB/Month"),
        ("10K", 10000, "Units"),
        ("1 ", 1, "Units"),  # EA's trailing space, as the toolkit lists it
        ("10 hours", 10, "Hours"),  # case and spaces ignored when not listed exactly
        ("1\u00a0GB/mes", 1, "GB/Month"),
        ("150 Widgets", 150, "Widgets"),  # not in the table: "<count> <unit>"
        ("Seats", 1, "Seats"),
        (None, 1, "Units"),
    ],
)
def test_units_follow_the_toolkit_pricing_units(unit, block, name):
    found = unit_of(unit)
    assert (found.block, found.name) == (Decimal(block), name)


def test_pricing_quantity_is_exact_and_rounds_only_what_cannot_terminate():
    assert str(unit_of("10 Hours").per_block(Decimal("37"))) == "3.7"
    assert str(unit_of("1000000 Requests").per_block(Decimal("2.5"))) == "0.0000025"
    assert str(unit_of("128 MB").per_block(Decimal("3"))) == "0.0234375"  # 2^7: exact
    assert unit_of("60 Minutes").per_block(Decimal("120")) == 2
    sixty = unit_of("60 Minutes").per_block(Decimal("7"))
    assert str(sixty) == "0.116666666666666667"  # 7/60 rounded half-even to 18 places
    # 0.0000000001980949998 needs 19 places: rounded half-even to the dataset's 18.
    tiny = unit_of("10000 Hours").per_block(Decimal("0.000001980949998"))
    assert tiny.as_tuple().exponent == -18
    assert tiny == Decimal("0.000000000198095000")


def test_inexact_block_keeps_costs_consistent_with_the_rounded_quantity():
    record = {
        **fixture("unit_block_scaling")["input"],
        "UnitOfMeasure": "60 Minutes",
        "Quantity": "7",
        "UnitPrice": "0.6",
        "PayGPrice": "0.6",
        "EffectivePrice": "0.6",
        "CostInBillingCurrency": "0.07",
    }
    (row,) = map_cost_details(record)
    assert row["PricingUnit"] == "Minutes"
    assert row["ConsumedQuantity"] == Decimal("7")
    spec = get_spec("1.3")
    shaped = RowShaper(spec, ALL_SPEC_COLUMNS)(row, "cost_details", "azure")
    assert spec.validate_row(shaped) == []
    assert abs(row["ListCost"] - Decimal("0.07")) < Decimal("1e-17")


@pytest.mark.parametrize(
    ("consumed", "resource_type", "meter", "service"),
    [
        ("Microsoft.Compute", "microsoft.compute/virtualmachines", "", "Virtual Machines"),
        ("Microsoft.Storage", "microsoft.storage/storageaccounts", "Storage", "Storage Accounts"),
        ("Microsoft.Sql", "microsoft.sql/servers/databases", "SQL Database", "Azure SQL Database"),
        ("Microsoft.Web", "microsoft.web/sites", "", "Azure App Service"),
        ("Functions", "microsoft.web/sites", "", "Functions"),
        ("", "microsoft.capacity/reservationorders/reservations", "", "Azure Reservations"),
        ("Microsoft.Capacity", None, "", "Azure Reservations"),  # bare reservation GUID
        (
            "microsoft.compute",
            "microsoft.compute/virtualmachines/extensions",
            "",
            "Virtual Machines",
        ),
        ("", "", "Virtual Machines", "Virtual Machines"),  # by MeterCategory naming a service
    ],
)
def test_services_come_from_the_toolkit_table(consumed, resource_type, meter, service):
    found = known_service(consumed, resource_type, meter)
    assert found is not None
    assert found[0] == service


def test_unknown_services_are_not_guessed():
    assert known_service("Contoso.Widgets", "contoso.widgets/things", "Widgets") is None
    # Defender pricings belong to several services: by resource type alone it is ambiguous.
    assert known_service("", "microsoft.security/pricings", "") is None


@pytest.mark.parametrize(
    ("location", "region"),
    [
        ("EastUS", ("eastus", "East US")),
        ("East US", ("eastus", "East US")),
        ("US East", ("eastus", "East US")),
        ("uswest", ("westus", "West US")),
        ("EU West", ("westeurope", "West Europe")),
        ("global", (None, None)),
        ("Unassigned", (None, None)),
        ("Atlantis Central", ("atlantiscentral", "Atlantis Central")),
        (None, (None, None)),
    ],
)
def test_regions(location, region):
    assert region_of(location) == region


def test_tap_azure_streams_have_mappings_and_deliveries_is_not_azures():
    mappings = builtin_mappings()

    def schema(record: dict) -> dict:
        return {"properties": {key: {} for key in record}}

    cost = find_mapping(mappings, "cost_details", schema(fixture("on_demand_usage_ea")["input"]))
    assert cost is not None
    assert (cost.provider, cost.stream) == ("azure", "cost_details")
    export_record = fixture("focus_1_0_usage")["input"]
    export = find_mapping(mappings, "export_rows", schema(export_record))
    assert export is not None
    assert (export.provider, export.stream) == ("azure", "export_rows")
    assert "x_DeliveryId" in export.custom_columns
    # tap-azure may announce its streams with its own fields only.
    tap_only = {"properties": {k: {} for k in ("metric", "scope", "report_id", "row_number")}}
    assert find_mapping(mappings, "cost_details", tap_only) is cost
    export_only = {
        "properties": {k: {} for k in ("export_kind", "delivery_id", "blob", "row_number")}
    }
    assert find_mapping(mappings, "export_rows", export_only) is export
    # Another tap's stream of the same name without tap-azure's fields is not taken.
    assert find_mapping(mappings, "cost_details", {"properties": {"cost": {}}}) is None
    # deliveries is mapped by the lead's control mapping, never by the Azure modules.
    azure_streams = {
        m.stream
        for module in (azure_cost, azure_export, azure_common)
        for m in getattr(module, "MAPPINGS", ())
    }
    assert azure_streams == {"cost_details", "export_rows"}


# --- unmappable records --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "index", "change", "column", "reason"),
    [
        (
            "on_demand_usage_ea",
            0,
            {"CostInBillingCurrency": 2.0736},
            "CostInBillingCurrency",
            "exact",
        ),
        (
            "on_demand_usage_ea",
            0,
            {"CostInBillingCurrency": "NaN"},
            "CostInBillingCurrency",
            "finite",
        ),
        (
            "on_demand_usage_ea",
            0,
            {"CostInBillingCurrency": None},
            "CostInBillingCurrency",
            "missing",
        ),
        (
            "on_demand_usage_ea",
            0,
            {"CostInBillingCurrency": "0.0000000000000000001"},
            "CostInBillingCurrency",
            "18 decimal places",
        ),
        ("on_demand_usage_ea", 0, {"Quantity": 24.0}, "Quantity", "exact"),
        ("on_demand_usage_ea", 0, {"PayGPrice": "abc"}, "PayGPrice", "not a number"),
        ("on_demand_usage_ea", 0, {"ChargeType": ""}, "ChargeType", "missing"),
        ("on_demand_usage_ea", 0, {"Date": "yesterday"}, "Date", "not a date"),
        ("on_demand_usage_ea", 0, {"BillingCurrencyCode": None}, "BillingCurrencyCode", "missing"),
        ("on_demand_usage_ea", 0, {"Tags": "env=prod"}, "Tags", "JSON object"),
        ("on_demand_usage_ea", 0, {"metric": "forecast"}, "metric", "actual or amortized"),
        (
            "on_demand_usage_ea",
            0,
            {"BillingAccountId": None, "BillingProfileId": None},
            "BillingAccountId",
            "missing",
        ),
        (
            "on_demand_usage_mca",
            0,
            {"costInBillingCurrency": 1.5},
            "costInBillingCurrency",
            "exact",
        ),
        (
            "on_demand_usage_mca",
            0,
            {"exchangeRatePricingToBilling": ""},
            "exchangeRatePricingToBilling",
            "no exchange rate",
        ),
        ("on_demand_usage_mca", 0, {"quantity": None}, "quantity", "missing"),
        ("export_amortized_and_actual", 0, {"delivery_id": None}, "delivery_id", "missing"),
        (
            "export_amortized_and_actual",
            0,
            {"export_kind": "azure_usage"},
            "export_kind",
            "unknown",
        ),
        ("export_amortized_and_actual", 0, {"Quantity": 1.5}, "Quantity", "exact"),
        ("focus_1_0_usage", 0, {"BilledCost": 2.0736}, "BilledCost", "exact"),
        ("focus_1_0_usage", 0, {"BillingAccountId": ""}, "BillingAccountId", "missing"),
        ("focus_1_0_usage", 0, {"ChargePeriodStart": "soon"}, "ChargePeriodStart", "ISO 8601"),
        ("focus_1_0_usage", 0, {"x_PricingBlockSize": 1.0}, "x_PricingBlockSize", "exact"),
    ],
)
def test_unmappable_records_name_stream_record_and_column(name, index, change, column, reason):
    case = fixture(name)
    record = {**inputs(case)[index], **change}
    with pytest.raises(MappingError) as info:
        list(MAPPERS[case["stream"]](record))
    assert info.value.stream == case["stream"]
    if case["stream"] == "cost_details":
        expected_id = f"{record['report_id']}:{record['blob']}:{record['row_number']}"
    else:
        expected_id = f"{record['blob']}:{record['row_number']}"
    assert info.value.record_id == expected_id
    assert info.value.column == column
    assert reason in info.value.reason
    assert expected_id in str(info.value)
    assert column in str(info.value)


def test_a_signed_blob_url_never_reaches_the_record_id():
    record = {
        **fixture("on_demand_usage_ea")["input"],
        "blob": "https://example.invalid/armreports/x.csv?sv=2020&sig=SECRET",
        "CostInBillingCurrency": 1.0,
    }
    with pytest.raises(MappingError) as info:
        list(map_cost_details(record))
    assert "SECRET" not in str(info.value)
    assert info.value.record_id.endswith("/armreports/x.csv:1")


# --- the CLI over tap-azure messages ----------------------------------------------------------


def test_mapper_cli_maps_cost_details_and_logs_the_drops(tmp_path):
    usage = fixture("on_demand_usage_ea")["input"]
    purchase = fixture("reservation_purchase_actual")["input"]
    actual_twin = {**usage, "metric": "actual", "row_number": 99}
    schema = {"type": "object", "properties": {key: {} for key in usage}}
    messages = [
        {"type": "SCHEMA", "stream": "cost_details", "schema": schema, "key_properties": []}
    ]
    for record in (usage, purchase, actual_twin):
        messages.append({"type": "RECORD", "stream": "cost_details", "record": record})
    messages.append({"type": "STATE", "value": {"done": True}})
    result = subprocess.run(
        [sys.executable, "-m", "mapper_focus.mapper"],
        input="\n".join(json.dumps(m) for m in messages) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines() if line]
    focus_schema = next(m for m in out if m["type"] == "SCHEMA")
    assert {"x_AzureMetric", "x_DeliveryId", "x_AzureChargeType"} <= set(
        focus_schema["schema"]["properties"]
    )
    rows = [m["record"] for m in out if m["type"] == "RECORD"]
    assert len(rows) == 2  # the actual twin of the usage row is the amortized row's
    assert sum(r["BilledCost"] for r in rows) == Decimal("878.0736")
    assert sum(r["EffectiveCost"] for r in rows) == Decimal("2.0736")
    assert {r["x_SourceProvider"] for r in rows} == {"azure"}
    spec = get_spec("1.3")
    for row in rows:
        assert spec.validate_row(row) == []
    assert out[-1]["type"] == "STATE"
    assert "not a commitment purchase or refund" in result.stderr
    assert "3 records in, 3 mapped to 2 FOCUS rows" in result.stderr
