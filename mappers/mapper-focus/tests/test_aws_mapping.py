"""AWS mapping rules, one fixture each: raw tap-aws record(s) in, FOCUS rows out.

Each fixture in fixtures/aws/ says why the rule exists, the raw record(s) (CUR 2.0,
legacy CUR CSV or Parquet, or AWS's FOCUS 1.0 export, as tap-aws emits them) and the rows
expected; only the columns a fixture lists are compared. Money is compared as exact
Decimal, digit for digit. Then: every row valid FOCUS 1.2 and 1.3; per-month invariants
(BilledCost reconciles with the CUR's invoiced column, EffectiveCost with AWS's amortized
cost formula); the spec's own commitment-discount examples reproduced from CUR input;
unmappable records named by stream, record and column.
"""

from __future__ import annotations

import copy
import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers import aws_cur
from mapper_focus.providers.aws_cur import (
    Layout,
    Layouts,
    map_cur2,
    map_legacy,
    net_unused_share,
    snake,
)
from mapper_focus.providers.aws_focus import map_focus_export
from mapper_focus.providers.aws_services import AWS_SERVICES
from mapper_focus.registry import builtin_mappings, find_mapping
from mapper_focus.rows import MappingError, RowShaper

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "aws"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
SPEC_EXAMPLES = (
    Path(__file__).resolve().parents[3].parent / "shared" / "focus" / "spec_v1.2_examples"
)
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"} | {
    "x_AwsUnblendedCost"
}
MAPPERS = {
    "cur2_line_items": map_cur2,
    "cur_line_items": map_legacy,
    "focus_export_rows": map_focus_export,
}


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def inputs(case: dict) -> list[dict]:
    raw = case["input"]
    return raw if isinstance(raw, list) else [raw]


def map_case(case: dict) -> list[dict]:
    mapper = MAPPERS[case["stream"]]
    return [row for record in inputs(case) for row in mapper(copy.deepcopy(record))]


def fixture(name: str) -> dict:
    return load(FIXTURE_DIR / f"{name}.json")


def _expected(value: object, column: str) -> object:
    return Decimal(value) if column in DECIMAL_COLUMNS and value is not None else value


# --- the rules, one fixture each -------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_aws_rule(path: Path):
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
def test_aws_rows_are_valid_focus(path: Path, version: str):
    case = load(path)
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_case(case):
        shaped = shape(row, case["stream"], "aws")
        assert spec.validate_row(shaped) == [], f"{path.stem} ({version})"
        for column in case.get("only_in_1_3", []):
            assert (column in shaped) == (version == "1.3"), column


def test_every_case_the_brief_names_has_a_fixture():
    names = {f.stem for f in FIXTURES}
    assert {
        "on_demand_usage",
        "ri_covered_usage",
        "ri_recurring_fee_unused",
        "ri_upfront_fee",
        "sp_covered_usage",
        "sp_negation",
        "sp_recurring_fee_used",
        "sp_recurring_fee_unused",
        "sp_upfront_fee",
        "tax",
        "credit",
        "refund_prior_period",
        "edp_discount_line",
        "private_rate_discount_net_columns",
        "marketplace_saas",
        "legacy_csv_slash_style",
        "legacy_parquet_snake_case",
        "focus_export_usage",
    } <= names


# --- invariants over one month ---------------------------------------------------------


def _d(record: dict, column: str) -> Decimal:
    value = record.get(column)
    return Decimal(0) if value in (None, "") else Decimal(value)


def aws_amortized(record: dict, *, net: bool) -> Decimal:
    """AWS's documented amortized cost of one CUR line (CUR query library, "amortized
    cost by charge type"; the net variant takes the net_ columns where AWS has them)."""
    kind = record["line_item_line_item_type"]

    def pick(net_column: str, column: str) -> Decimal:
        if net and record.get(net_column) not in (None, ""):
            return _d(record, net_column)
        return _d(record, column)

    if kind == "SavingsPlanCoveredUsage":
        return pick(
            "savings_plan_net_savings_plan_effective_cost",
            "savings_plan_savings_plan_effective_cost",
        )
    if kind == "SavingsPlanRecurringFee":
        unused = _d(record, "savings_plan_total_commitment_to_date") - _d(
            record, "savings_plan_used_commitment"
        )
        if not net:
            return unused
        total = _d(record, "savings_plan_recurring_commitment_for_billing_period") + _d(
            record, "savings_plan_amortized_upfront_commitment_for_billing_period"
        )
        net_total = pick(
            "savings_plan_net_recurring_commitment_for_billing_period",
            "savings_plan_recurring_commitment_for_billing_period",
        ) + pick(
            "savings_plan_net_amortized_upfront_commitment_for_billing_period",
            "savings_plan_amortized_upfront_commitment_for_billing_period",
        )
        return unused if net_total == total else unused * net_total / total
    if kind in ("SavingsPlanNegation", "SavingsPlanUpfrontFee"):
        return Decimal(0)
    if kind == "DiscountedUsage":
        return pick("reservation_net_effective_cost", "reservation_effective_cost")
    if kind == "RIFee":
        return pick(
            "reservation_net_unused_amortized_upfront_fee_for_billing_period",
            "reservation_unused_amortized_upfront_fee_for_billing_period",
        ) + pick("reservation_net_unused_recurring_fee", "reservation_unused_recurring_fee")
    if kind == "Fee" and record.get("reservation_reservation_a_r_n"):
        return Decimal(0)
    return pick("line_item_net_unblended_cost", "line_item_unblended_cost")


def gross_month() -> list[dict]:
    """Every CUR 2.0 fixture line without net columns: one month of one payer."""
    records = []
    for path in FIXTURES:
        case = load(path)
        if case["stream"] == "cur2_line_items":
            records += [r for r in inputs(case) if "line_item_net_unblended_cost" not in r]
    return records


def net_month() -> list[dict]:
    """The same month as an export with net columns (a 10% private rate on usage,
    reservations and plans; taxes and credits undiscounted)."""
    records = []
    tenth = Decimal("0.9")
    for record in gross_month():
        record = dict(record)
        for gross, net in (
            ("line_item_unblended_cost", "line_item_net_unblended_cost"),
            ("line_item_unblended_rate", "line_item_net_unblended_rate"),
            ("reservation_effective_cost", "reservation_net_effective_cost"),
            (
                "reservation_unused_amortized_upfront_fee_for_billing_period",
                "reservation_net_unused_amortized_upfront_fee_for_billing_period",
            ),
            ("reservation_unused_recurring_fee", "reservation_net_unused_recurring_fee"),
            (
                "savings_plan_savings_plan_effective_cost",
                "savings_plan_net_savings_plan_effective_cost",
            ),
            (
                "savings_plan_recurring_commitment_for_billing_period",
                "savings_plan_net_recurring_commitment_for_billing_period",
            ),
        ):
            value = record.get(gross)
            discounted = record["line_item_line_item_type"] not in ("Tax", "Credit")
            record[net] = (
                None if value in (None, "") else str(Decimal(value) * (tenth if discounted else 1))
            )
        records.append(record)
    return records


@pytest.mark.parametrize("net", [False, True], ids=["unblended-basis", "net-basis"])
def test_month_reconciles_with_cur_invoice_and_amortized_totals(net: bool):
    records = net_month() if net else gross_month()
    assert len(records) >= 15
    rows = [row for record in records for row in map_cur2(record)]
    invoiced = "line_item_net_unblended_cost" if net else "line_item_unblended_cost"
    assert sum(r["BilledCost"] for r in rows) == sum(_d(rec, invoiced) for rec in records)
    amortized = sum(aws_amortized(rec, net=net) for rec in records)
    effective = sum(r["EffectiveCost"] for r in rows)
    assert abs(effective - amortized) < Decimal("1E-9"), (effective, amortized)
    if not net:  # no division on the unblended basis: exact to the last digit
        assert effective == amortized
    # Purchases of commitments carry no EffectiveCost; their unused part is an Unused row.
    for row in rows:
        if row["ChargeCategory"] == "Purchase" and row["CommitmentDiscountId"]:
            assert row["EffectiveCost"] == 0
        if row["CommitmentDiscountStatus"] == "Unused":
            assert row["BilledCost"] == 0
            assert row["ResourceId"] == row["CommitmentDiscountId"]


def test_covered_usage_and_negation_net_to_zero_billed_per_resource():
    rows = list(map_cur2(fixture("sp_covered_usage")["input"]))
    rows += list(map_cur2(fixture("sp_negation")["input"]))
    assert {r["ResourceId"] for r in rows} == {"i-0abc1234def567890"}
    assert sum(r["BilledCost"] for r in rows) == 0
    assert sum(r["EffectiveCost"] for r in rows) == Decimal("0.062")
    assert sum(r["ConsumedQuantity"] for r in rows) == 1  # consumption counted once
    assert sum(r["ListCost"] for r in rows) == Decimal("0.096")


# --- the spec's own worked examples, from CUR input ------------------------------------


def spec_rows(name: str) -> list[dict]:
    path = SPEC_EXAMPLES / f"{name}.csv"
    assert path.exists(), f"spec example missing: {path}"
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if any(v.strip() for v in r.values())]
    return [{k: (None if v == "null" else v) for k, v in r.items()} for r in rows]


def cur_line(kind: str, **values: object) -> dict:
    """A CUR 2.0 line for the spec's one-hour example (2023-01-01T00:00Z)."""
    record = dict(fixture("on_demand_usage")["input"])
    record.update(
        bill_billing_period_start_date="2023-01-01T00:00:00Z",
        bill_billing_period_end_date="2023-02-01T00:00:00Z",
        line_item_usage_start_date="2023-01-01T00:00:00Z",
        line_item_usage_end_date="2023-01-01T01:00:00Z",
        line_item_line_item_type=kind,
        line_item_normalized_usage_amount=None,
        billing_period="2023-01",
        row_number=hash(json.dumps(values, sort_keys=True, default=str)) % 100_000,
    )
    record.update(values)
    return record


SP_ARN = "arn:aws:savingsplans::111111111111:savingsplan/spec-example"
RI_ARN = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/spec-example"
COMPARED = (
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "PricingCategory",
    "BilledCost",
    "EffectiveCost",
    "ConsumedQuantity",
    "CommitmentDiscountQuantity",
    "CommitmentDiscountStatus",
)


def sp_used(effective: str, on_demand: str) -> list[dict]:
    covered = cur_line(
        "SavingsPlanCoveredUsage",
        line_item_unblended_cost=on_demand,
        line_item_unblended_rate=on_demand,
        pricing_public_on_demand_rate=on_demand,
        savings_plan_savings_plan_a_r_n=SP_ARN,
        savings_plan_savings_plan_effective_cost=effective,
        line_item_resource_id="my-resource-id",
    )
    negation = cur_line(
        "SavingsPlanNegation",
        line_item_unblended_cost=f"-{on_demand}",
        line_item_unblended_rate=f"-{on_demand}",
        pricing_public_on_demand_rate=on_demand,
        savings_plan_savings_plan_a_r_n=SP_ARN,
        line_item_resource_id="my-resource-id",
    )
    return [*map_cur2(covered), *map_cur2(negation)]


def sp_fee(total: str, used: str, *, recurring: str = "0", upfront: str = "0") -> list[dict]:
    return list(
        map_cur2(
            cur_line(
                "SavingsPlanRecurringFee",
                line_item_unblended_cost=recurring,
                line_item_unblended_rate=recurring,
                line_item_resource_id=None,
                savings_plan_savings_plan_a_r_n=SP_ARN,
                savings_plan_total_commitment_to_date=total,
                savings_plan_used_commitment=used,
                savings_plan_recurring_commitment_for_billing_period=recurring,
                savings_plan_amortized_upfront_commitment_for_billing_period=upfront,
            )
        )
    )


def merge_covered(rows: list[dict]) -> dict:
    """Covered usage and its negation as the one FOCUS row the spec shows."""
    covered = next(r for r in rows if r["x_AwsLineItemType"] == "SavingsPlanCoveredUsage")
    return {**covered, "BilledCost": sum(r["BilledCost"] for r in rows)}


def compare(got: dict, want: dict, columns: tuple[str, ...] = COMPARED) -> None:
    for column in columns:
        expected = want.get(column)
        value = got.get(column)
        if column in DECIMAL_COLUMNS and expected is not None:
            assert value is not None, column
            assert Decimal(expected) == value, (column, value, expected)
        else:
            assert value == expected, (column, value, expected)


def test_spec_usage_scenario_1_used_commitment():
    (want,) = spec_rows("commitment_discount_scenarios__commitment_discount_usage_scenario_1")
    got = merge_covered(sp_used(effective="1.00", on_demand="1.50"))
    compare(got, want)
    assert got["CommitmentDiscountUnit"] == want["CommitmentDiscountUnit"]  # USD


def test_spec_usage_scenario_2_unused_commitment():
    (want,) = spec_rows("commitment_discount_scenarios__commitment_discount_usage_scenario_2")
    purchase, unused = sp_fee(total="1.00", used="0", recurring="1.00")
    compare(unused, want)
    assert unused["ResourceId"] == unused["CommitmentDiscountId"] == SP_ARN
    assert unused["ConsumedUnit"] is None
    assert purchase["EffectiveCost"] == 0


def test_spec_usage_scenario_3_partly_used():
    want_used, want_unused = spec_rows(
        "commitment_discount_scenarios__commitment_discount_usage_scenario_3"
    )
    compare(merge_covered(sp_used(effective="0.75", on_demand="1.10")), want_used)
    _, unused = sp_fee(total="1.00", used="0.75", recurring="1.00")
    compare(unused, want_unused)


def test_spec_usage_scenario_4_used_plus_on_demand():
    want_used, want_on_demand = spec_rows(
        "commitment_discount_scenarios__commitment_discount_usage_scenario_4"
    )
    compare(merge_covered(sp_used(effective="1.00", on_demand="1.50")), want_used)
    (on_demand,) = map_cur2(
        cur_line(
            "Usage",
            line_item_unblended_cost="0.50",
            line_item_unblended_rate="0.50",
            pricing_public_on_demand_rate="0.50",
        )
    )
    compare(on_demand, want_on_demand)


@pytest.mark.parametrize("scenario", ["1", "3"])
def test_spec_purchase_scenarios_upfront(scenario: str):
    want = spec_rows(
        f"commitment_discount_scenarios__commitment_discount_purchase_scenario_{scenario}"
    )
    upfront = want[0]
    (got,) = map_cur2(
        cur_line(
            "SavingsPlanUpfrontFee",
            bill_bill_type="Purchase",
            line_item_unblended_cost=upfront["BilledCost"],
            line_item_unblended_rate=None,
            line_item_usage_amount=None,
            line_item_resource_id=None,
            line_item_usage_start_date=upfront["ChargePeriodStart"],
            line_item_usage_end_date=upfront["ChargePeriodEnd"],
            savings_plan_savings_plan_a_r_n=SP_ARN,
        )
    )
    compare(got, upfront, (*COMPARED, "ChargePeriodStart", "ChargePeriodEnd"))
    assert got["CommitmentDiscountUnit"] == upfront["CommitmentDiscountUnit"]
    for recurring in want[1:]:  # partial upfront: the recurring part, fully used
        (fee,) = sp_fee(
            total=recurring["BilledCost"],
            used=recurring["BilledCost"],
            recurring=recurring["BilledCost"],
        )
        compare(fee, recurring)


def test_spec_purchase_scenario_2_recurring():
    for want in spec_rows("commitment_discount_scenarios__commitment_discount_purchase_scenario_2"):
        (fee,) = sp_fee(
            total=want["BilledCost"], used=want["BilledCost"], recurring=want["BilledCost"]
        )
        compare(fee, want)


def ri_fee(rate: str, unused_hours: str, unused_fee: str) -> list[dict]:
    return list(
        map_cur2(
            cur_line(
                "RIFee",
                line_item_unblended_cost=rate,
                line_item_unblended_rate=rate,
                line_item_usage_amount="1",
                line_item_resource_id=None,
                pricing_public_on_demand_rate=None,
                pricing_public_on_demand_cost=None,
                reservation_reservation_a_r_n=RI_ARN,
                reservation_total_reserved_units="1",
                reservation_unused_quantity=unused_hours,
                reservation_unused_recurring_fee=unused_fee,
                reservation_unused_amortized_upfront_fee_for_billing_period="0",
            )
        )
    )


def ri_used(effective: str, list_rate: str, *, quantity: str = "1", normalized: str | None = None):
    (row,) = map_cur2(
        cur_line(
            "DiscountedUsage",
            line_item_unblended_cost="0",
            line_item_unblended_rate="0",
            line_item_usage_amount=quantity,
            line_item_normalized_usage_amount=normalized,
            pricing_public_on_demand_rate=list_rate,
            reservation_reservation_a_r_n=RI_ARN,
            reservation_effective_cost=effective,
        )
    )
    return row


FLEX = "commitment_discount_flexibility__"
FLEX_COMPARED = ("ChargeCategory", "ChargeFrequency", "BilledCost", "EffectiveCost")


def test_spec_flexibility_full_utilization_without_flexibility():
    want_purchase, want_used = spec_rows(
        f"{FLEX}one_hundred_percent_utilization_without_commitment_discount_flexibility"
    )
    (purchase,) = ri_fee(rate="1.50", unused_hours="0", unused_fee="0")
    compare(purchase, want_purchase, FLEX_COMPARED)
    compare(ri_used("1.50", "3.00"), want_used, (*FLEX_COMPARED, "CommitmentDiscountStatus"))


def test_spec_flexibility_zero_utilization():
    want_purchase, want_unused, want_on_demand = spec_rows(
        f"{FLEX}zero_percent_utilization_without_commitment_discount_flexibility"
    )
    purchase, unused = ri_fee(rate="1.50", unused_hours="1", unused_fee="1.50")
    compare(purchase, want_purchase, FLEX_COMPARED)
    compare(unused, want_unused, (*FLEX_COMPARED, "CommitmentDiscountStatus"))
    (on_demand,) = map_cur2(
        cur_line(
            "Usage",
            line_item_unblended_cost="2.00",
            line_item_unblended_rate="2.00",
            pricing_public_on_demand_rate="2.00",
        )
    )
    compare(on_demand, want_on_demand, (*FLEX_COMPARED, "PricingCategory", "ListCost"))


def test_spec_flexibility_two_resources_normalized():
    want_purchase, *want_used = spec_rows(
        f"{FLEX}one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources"
    )
    (purchase,) = ri_fee(rate="2.00", unused_hours="0", unused_fee="0")
    compare(purchase, want_purchase, FLEX_COMPARED)
    for want in want_used:
        got = ri_used("1.00", "2.00", normalized=want["CommitmentDiscountQuantity"])
        compare(got, want, (*FLEX_COMPARED, "CommitmentDiscountQuantity", "ListCost"))
        assert got["CommitmentDiscountUnit"] == "Normalized Hours"


# --- names, layouts, services, registry ------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("lineItem/UnblendedCost", "line_item_unblended_cost"),
        ("bill/PayerAccountId", "bill_payer_account_id"),
        ("savingsPlan/SavingsPlanARN", "savings_plan_savings_plan_a_r_n"),
        (
            "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
            "reservation_unused_amortized_upfront_fee_for_billing_period",
        ),
        ("pricing/publicOnDemandRate", "pricing_public_on_demand_rate"),
        ("product/servicecode", "product_servicecode"),
        ("identity/LineItemId", "identity_line_item_id"),
        ("line_item_unblended_cost", "line_item_unblended_cost"),
    ],
)
def test_legacy_names_normalise_to_cur2(raw: str, canonical: str):
    prefix, _, rest = raw.partition("/")
    assert (f"{snake(prefix)}_{snake(rest)}" if rest else raw) == canonical
    assert Layout([raw]).raw.get(canonical) == raw


def test_layout_is_built_once_per_schema():
    layouts = Layouts()
    first = fixture("legacy_csv_slash_style")["input"]
    second = {**first, "row_number": 43, "lineItem/UnblendedCost": "1"}
    assert layouts(first) is layouts(second)
    assert layouts(fixture("on_demand_usage")["input"]) is not layouts(first)
    layout = layouts(first)
    assert layout.tag_columns == [
        ("resourceTags/user:Team", "user:Team"),
        ("resourceTags/user:Owner", "user:Owner"),
    ]
    assert layout.name("bill_payer_account_id") == "bill/PayerAccountId"
    assert not layout.net


def test_service_table_uses_focus_allowed_values():
    for version in ("1.2", "1.3"):
        spec = get_spec(version)
        categories = spec.column("ServiceCategory").allowed_values
        parents = spec.service_subcategory_parents
        for code, (name, category, subcategory) in AWS_SERVICES.items():
            assert name, code
            assert category in categories, (code, category)
            assert parents[subcategory] == category, (code, subcategory)


def test_tap_aws_streams_have_mappings_and_deliveries_has_none():
    mappings = builtin_mappings()

    def schema(record: dict) -> dict:
        return {"properties": {key: {} for key in record}}

    for name, stream in (
        ("on_demand_usage", "cur2_line_items"),
        ("legacy_csv_slash_style", "cur_line_items"),
        ("legacy_parquet_snake_case", "cur_line_items"),
        ("focus_export_usage", "focus_export_rows"),
    ):
        mapping = find_mapping(mappings, stream, schema(fixture(name)["input"]))
        assert mapping is not None
        assert mapping.provider == "aws"
        assert mapping.stream == stream
        assert "x_DeliveryId" in mapping.custom_columns
    # tap-aws first announces a line-item stream with its own fields only.
    tap_only = {
        "properties": {
            k: {}
            for k in ("billing_period", "delivery_id", "export_name", "source_file", "row_number")
        }
    }
    for stream in ("cur2_line_items", "cur_line_items", "focus_export_rows"):
        mapping = find_mapping(mappings, stream, tap_only)
        assert mapping is not None
        assert mapping.stream == stream
    deliveries = {"properties": {k: {} for k in ("export_kind", "delivery_id", "files")}}
    assert find_mapping(mappings, "deliveries", deliveries) is None
    # Another tap's stream of the same name without tap-aws fields is not taken.
    assert find_mapping(mappings, "cur_line_items", {"properties": {"cost": {}}}) is None


def test_net_unused_share_is_exact_when_it_can_be_and_rounds_once_when_not():
    assert net_unused_share(Decimal("0.038"), Decimal("0.09"), Decimal("0.1")) == Decimal("0.0342")
    third = net_unused_share(Decimal("1"), Decimal("1"), Decimal("3"))
    assert third == Decimal("0.3333333333")


# --- keys --------------------------------------------------------------------------------


def test_row_keys_are_deterministic_distinct_and_survive_restatement():
    record = fixture("ri_recurring_fee_unused")["input"]
    first = [r["x_RowKey"] for r in map_cur2(copy.deepcopy(record))]
    assert first == [r["x_RowKey"] for r in map_cur2(copy.deepcopy(record))]
    assert len(set(first)) == 2
    restated = {**record, "line_item_unblended_cost": "30.00", "reservation_unused_quantity": "10"}
    assert [r["x_RowKey"] for r in map_cur2(restated)] == first
    other_row = {**record, "row_number": record["row_number"] + 1}
    assert not set(first) & {r["x_RowKey"] for r in map_cur2(other_row)}
    all_keys = [r["x_RowKey"] for path in FIXTURES for r in map_case(load(path))]
    assert len(all_keys) == len(set(all_keys))


# --- unmappable records --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "change", "column", "reason"),
    [
        (
            "on_demand_usage",
            {"line_item_line_item_type": "MysteryFee"},
            "line_item_line_item_type",
            "unknown CUR line item type",
        ),
        ("on_demand_usage", {"bill_payer_account_id": None}, "bill_payer_account_id", "missing"),
        (
            "on_demand_usage",
            {"line_item_unblended_cost": 0.096},
            "line_item_unblended_cost",
            "exact",
        ),
        (
            "ri_covered_usage",
            {"reservation_effective_cost": 0.06},
            "reservation_effective_cost",
            "exact",
        ),
        (
            "on_demand_usage",
            {"line_item_unblended_cost": "NaN"},
            "line_item_unblended_cost",
            "finite",
        ),
        (
            "on_demand_usage",
            {"line_item_usage_start_date": "yesterday"},
            "line_item_usage_start_date",
            "ISO",
        ),
        ("on_demand_usage", {"delivery_id": None}, "delivery_id", "missing"),
        ("legacy_csv_slash_style", {"bill/PayerAccountId": ""}, "bill/PayerAccountId", "missing"),
        (
            "legacy_csv_slash_style",
            {"lineItem/UnblendedCost": 0.5},
            "lineItem/UnblendedCost",
            "exact",
        ),
        (
            "legacy_csv_slash_style",
            {"lineItem/LineItemType": "Bogus"},
            "lineItem/LineItemType",
            "unknown",
        ),
        ("focus_export_usage", {"BilledCost": 0.096}, "BilledCost", "exact"),
        ("focus_export_usage", {"BillingAccountId": None}, "BillingAccountId", "missing"),
    ],
)
def test_unmappable_records_name_stream_record_and_column(name, change, column, reason):
    case = fixture(name)
    record = {**case["input"], **change}
    with pytest.raises(MappingError) as info:
        list(MAPPERS[case["stream"]](record))
    assert info.value.stream == case["stream"]
    assert info.value.record_id == f"{record['source_file']}:{record['row_number']}"
    assert info.value.column == column
    assert reason in info.value.reason
    assert info.value.record_id in str(info.value)
    assert column in str(info.value)


def test_module_mappers_share_one_layout_cache_per_stream():
    assert aws_cur._CUR2.layouts is not aws_cur._LEGACY.layouts
