"""Google Cloud mapping rules, one fixture each: raw tap-gcp record(s) in, FOCUS rows out.

Each fixture in fixtures/gcp/ says why the rule exists, the raw record(s) (a billing export
row, standard or detailed, or a row of Google's FOCUS export/view, as tap-gcp emits them)
and the rows expected; only the columns a fixture lists are compared, money as exact
Decimal, digit for digit. Then: every row valid FOCUS 1.2 and 1.3; per invoice month
sum(BilledCost) == sum(cost) + sum(credits.amount) exactly; keys that survive restatement
and a stale credit row that can be found; the service table against focus-spec;
unmappable records named by stream, record and column; the mapper CLI end to end.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
import zoneinfo
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from finfocus_sandbox.gcp import GCPBillingDataset
from finfocus_sandbox.gcp.dataset import iso as sandbox_iso
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers.gcp_billing import (
    CREDIT_RULES,
    CUSTOM_COLUMNS,
    map_detailed,
    map_standard,
    pacific_month_start,
    quotient,
    resource_type,
)
from mapper_focus.providers.gcp_data import GCP_SERVICES, focus_unit, service_category
from mapper_focus.providers.gcp_focus import map_focus_export
from mapper_focus.registry import builtin_mappings, find_mapping
from mapper_focus.rows import MappingError, RowShaper

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "gcp"
FIXTURES = sorted(FIXTURE_DIR.glob("*.json"))
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"} | {
    "x_GcpCurrencyConversionRate"
}
MAPPERS = {
    "billing_export": map_standard,
    "billing_export_resource": map_detailed,
    "focus_export": map_focus_export,
}
BILLING_STREAMS = ("billing_export", "billing_export_resource")


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
    if column in DECIMAL_COLUMNS and value is not None:
        return Decimal(value)
    if column == "x_GcpCredits" and value:
        return [{**c, "amount": Decimal(c["amount"])} for c in value]
    return value


def _d(value: object) -> Decimal:
    return Decimal(0) if value in (None, "") else Decimal(str(value))


# --- the rules, one fixture each -------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_gcp_rule(path: Path):
    case = load(path)
    rows = map_case(case)
    assert len(rows) == len(case["expected"]), case["why"]
    for index, (row, expected) in enumerate(zip(rows, case["expected"], strict=True)):
        for column, value in expected.items():
            assert column in row, f"{path.stem}[{index}]: no column {column}"
            got, want = row[column], _expected(value, column)
            if column == "x_GcpExtra" and got:  # values as Google gave them, text or Decimal
                got = {key: str(item) for key, item in got.items()}
            assert got == want, f"{path.stem}[{index}]: {column} = {got!r}, want {want!r}"
            if isinstance(want, Decimal):  # exact digits, not just an equal value
                assert isinstance(got, Decimal), f"{path.stem}: {column} is {type(got)}"
                assert str(got) == str(want), f"{path.stem}[{index}]: {column} {got} vs {want}"


@pytest.mark.parametrize("path", FIXTURES, ids=[f.stem for f in FIXTURES])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_gcp_rows_are_valid_focus(path: Path, version: str):
    case = load(path)
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_case(case):
        shaped = shape(row, case["stream"], "gcp")
        assert spec.validate_row(shaped) == [], f"{path.stem} ({version})"
        for column in case.get("only_in_1_3", []):
            assert (column in shaped) == (version == "1.3"), column
        for column in shaped:
            assert (
                not column.startswith("x_")
                or column in CUSTOM_COLUMNS
                or column
                in (
                    "x_SourceProvider",
                    "x_SourceStream",
                    "x_SourceRecordId",
                    "x_RowKey",
                )
            ), f"{path.stem}: {column} is not declared"


def test_every_case_the_brief_names_has_a_fixture():
    assert {
        "plain_usage",
        "credit_sustained_use_discount",
        "credit_free_tier_block_pricing",
        "credit_promotion",
        "credit_discount",
        "credit_subscription_benefit",
        "credit_reseller_margin",
        "cud_resource_based",
        "cud_spend_based",
        "cud_fee_utilization_offset",
        "tax",
        "adjustment_prior_month",
        "usage_correction_prior_month",
        "rounding_error",
        "marketplace_saas",
        "labels_and_system_labels",
        "detailed_resource_and_price_tiers",
        "restated_row_same_identity",
        "rerating_adds_to_the_usage",
        "focus_export_native",
        "focus_export_view",
    } <= {f.stem for f in FIXTURES}


def test_every_credit_type_has_a_fixture_and_a_rule():
    seen = {
        credit["type"]
        for path in FIXTURES
        for record in inputs(load(path))
        for credit in record.get("credits") or []
    }
    assert set(CREDIT_RULES) <= seen
    assert seen - set(CREDIT_RULES) == {"LOYALTY_BONUS"}  # an unknown type: a Credit row
    # The split the README documents.
    commitment = {k for k, rule in CREDIT_RULES.items() if rule.commitment}
    usage = {k for k, rule in CREDIT_RULES.items() if rule.category == "Usage"}
    credit = {k for k, rule in CREDIT_RULES.items() if rule.category == "Credit"}
    assert commitment == {
        "COMMITTED_USAGE_DISCOUNT",
        "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",
        "FEE_UTILIZATION_OFFSET",
    }
    assert usage - commitment == {"SUSTAINED_USAGE_DISCOUNT", "FREE_TIER"}
    assert credit == {"PROMOTION", "DISCOUNT", "SUBSCRIPTION_BENEFIT", "RESELLER_MARGIN"}


# --- reconciliation ----------------------------------------------------------------------


def billing_records() -> list[tuple[str, dict]]:
    return [
        (case["stream"], record)
        for case in map(load, FIXTURES)
        if case["stream"] in BILLING_STREAMS
        for record in inputs(case)
    ]


def test_invoice_month_reconciles_with_cost_plus_credits_exactly():
    records = billing_records()
    assert len(records) >= 20
    billed: dict[str, Decimal] = defaultdict(Decimal)
    effective: dict[str, Decimal] = defaultdict(Decimal)
    google: dict[str, Decimal] = defaultdict(Decimal)
    for stream, record in records:
        month = record["invoice"]["month"]
        google[month] += Decimal(record["cost"]) + sum(
            (Decimal(c["amount"]) for c in record.get("credits") or []), Decimal(0)
        )
        for row in MAPPERS[stream](copy.deepcopy(record)):
            assert row["BillingPeriodStart"] == f"{month[:4]}-{month[4:]}-01T00:00:00Z"
            billed[month] += row["BilledCost"]
            effective[month] += row["EffectiveCost"]
    assert set(billed) == {"202603"}
    assert billed == google  # digit for digit: Decimal, never float
    # No amortization in Google's exports: EffectiveCost moves money between the rows of
    # one source row (commitment credits into the charge they discount), never in or out.
    assert effective == google


def test_each_source_row_nets_to_its_cost_plus_credits():
    for stream, record in billing_records():
        rows = list(MAPPERS[stream](copy.deepcopy(record)))
        credits = record.get("credits") or []
        assert len(rows) == 1 + len(credits)
        total = Decimal(record["cost"]) + sum((Decimal(c["amount"]) for c in credits), Decimal(0))
        assert sum(r["BilledCost"] for r in rows) == total
        assert sum(r["EffectiveCost"] for r in rows) == total
        # List and contracted cost belong to the charge; credits move only billed/effective.
        assert all(r["ListCost"] == 0 == r["ContractedCost"] for r in rows[1:])
        assert {r["x_GcpExportTime"] for r in rows} == {rows[0]["x_GcpExportTime"]}


def test_committed_use_discount_nets_the_covered_usage_and_keeps_consumption_once():
    rows = map_case(fixture("cud_resource_based"))
    assert sum(r["BilledCost"] for r in rows) == 0
    assert sum(r["EffectiveCost"] for r in rows) == 0
    assert sum(r["ConsumedQuantity"] for r in rows) == Decimal(3600)
    assert {r["CommitmentDiscountId"] for r in rows} == {"Committed Usage Discount: CPU"}
    assert {r["CommitmentDiscountStatus"] for r in rows} == {"Used"}


def test_partly_covered_usage_reports_the_covered_quantity():
    record = fixture("cud_resource_based")["input"]
    record["credits"][0]["amount"] = "-0.0105370"  # a third of 0.031611
    usage, _ = map_standard(record)
    assert usage["CommitmentDiscountQuantity"] == Decimal("0.333333333333333333")
    assert usage["EffectiveCost"] == Decimal("0.0210740")


# --- the sandbox's whole billing account ---------------------------------------------------

TIMESTAMPS = frozenset(
    {
        "usage_start_time",
        "usage_end_time",
        "export_time",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "x_ExportTime",
    }
)


def as_tap_gcp_emits(value: object, key: str | None = None) -> object:
    """A fake BigQuery row as tap-gcp emits it: FLOAT64 as the Decimal its shortest repr
    spells, NUMERIC as Decimal, TIMESTAMP as ISO 8601 UTC text, no pseudo-columns."""
    if isinstance(value, dict):
        return {k: as_tap_gcp_emits(v, k) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [as_tap_gcp_emits(v) for v in value]
    if isinstance(value, float):
        return Decimal(repr(value))
    if key in TIMESTAMPS and isinstance(value, int):
        return sandbox_iso(value)
    return value


@pytest.fixture(scope="module")
def sandbox_account() -> GCPBillingDataset:
    # 40 days ending 2026-03-31: two invoice months, every credit type, tax, adjustments
    # (corrections, goodwill, SLA), rounding errors and re-rated usage.
    return GCPBillingDataset.generate(
        seed=7, days=40, projects=3, resources_per_project=4, now=1775000000
    )


@pytest.mark.parametrize(
    ("kind", "stream"),
    [
        ("standard", "billing_export"),
        ("resource", "billing_export_resource"),
        ("focus", "focus_export"),
    ],
)
def test_the_sandbox_account_maps_valid_and_reconciles_per_invoice_month(
    sandbox_account: GCPBillingDataset, kind: str, stream: str
):
    mapper = MAPPERS[stream]
    shapes = {v: (get_spec(v), RowShaper(get_spec(v), ALL_SPEC_COLUMNS)) for v in ("1.2", "1.3")}
    billed: dict[str, Decimal] = defaultdict(Decimal)
    effective: dict[str, Decimal] = defaultdict(Decimal)
    credit_types: set[str] = set()
    records = sandbox_account.rows(kind)
    assert len(records) > 1000
    for index, raw in enumerate(records):
        record = as_tap_gcp_emits(raw)
        record["row_key"] = f"{kind}-{index}"
        for row in mapper(record):
            for spec, shape in shapes.values():
                assert spec.validate_row(shape(dict(row), stream, "gcp")) == [], (spec.version, row)
            month = row["BillingPeriodStart"][:7].replace("-", "")
            billed[month] += row["BilledCost"]
            effective[month] += row["EffectiveCost"]
            credit_types.add(row.get("x_GcpCreditType") or "")
    totals = {
        month: sum((t.total for t in by_type.values()), Decimal(0))
        for month, by_type in sandbox_account.totals(kind).items()
    }
    assert set(totals) == {"202602", "202603"}
    assert billed == totals  # exactly: the fake sums the Decimals its floats spell
    if kind != "focus":  # Google's FOCUS rows keep Google's EffectiveCost
        assert effective == totals
        assert set(CREDIT_RULES) <= credit_types


def test_marketplace_is_told_by_transaction_type_not_by_a_seller_name():
    record = fixture("plain_usage")["input"]
    (google,) = map_standard({**record, "seller_name": "Google LLC"})
    assert (google["PublisherName"], google["ServiceProviderName"]) == ("Google Cloud",) * 2
    resold = {**record, "transaction_type": "THIRD_PARTY_RESELLER", "seller_name": None}
    (row,) = map_standard(resold)
    assert row["PublisherName"] == row["ServiceProviderName"] == "Google Cloud Marketplace"
    assert row["HostProviderName"] == "Google Cloud"  # it runs in a Google zone
    assert row["InvoiceIssuerName"] == row["ProviderName"] == "Google Cloud"


# --- keys ----------------------------------------------------------------------------------


def test_row_keys_are_deterministic_distinct_and_never_from_amounts():
    record = fixture("restated_row_same_identity")["input"][0]
    first = [r["x_RowKey"] for r in map_standard(copy.deepcopy(record))]
    assert first == [r["x_RowKey"] for r in map_standard(copy.deepcopy(record))]
    assert len(set(first)) == 3
    changed = copy.deepcopy(record)
    changed["cost"] = "9.99"
    changed["credits"][0]["amount"] = "-1.00"
    changed["credits"].reverse()  # credits keyed by identity, not by position
    assert sorted(r["x_RowKey"] for r in map_standard(changed)) == sorted(first)
    other = {**copy.deepcopy(record), "row_key": "another-row"}
    assert not set(first) & {r["x_RowKey"] for r in map_standard(other)}
    # The same row read from the detailed table is another stream's row.
    assert not set(first) & {r["x_RowKey"] for r in map_detailed(copy.deepcopy(record))}
    keys = [
        r["x_RowKey"]
        for path in FIXTURES
        if path.stem != "restated_row_same_identity"
        for r in map_case(load(path))
    ]
    assert len(keys) == len(set(keys))


def test_two_credits_of_one_type_and_id_keep_two_rows():
    record = fixture("credit_promotion")["input"]
    record["credits"].append(dict(record["credits"][0]))
    rows = list(map_standard(record))
    assert len({r["x_RowKey"] for r in rows}) == 3


def test_a_rerating_adds_rows_of_its_own_to_the_usage():
    original, rerating = fixture("rerating_adds_to_the_usage")["input"]
    rows = [*map_standard(copy.deepcopy(original)), *map_standard(copy.deepcopy(rerating))]
    assert len({r["x_RowKey"] for r in rows}) == 4  # nothing replaces anything
    assert {r["x_GcpUsageKey"] for r in rows} == {"usage-77"}
    assert sum(r["BilledCost"] for r in rows) == Decimal("0.0633") + Decimal("0.0158") - Decimal(
        "0.0127"
    ) - Decimal("0.0032")


def test_the_same_exported_row_read_twice_maps_to_the_same_rows():
    record = fixture("restated_row_same_identity")["input"][0]
    assert list(map_standard(copy.deepcopy(record))) == list(map_standard(copy.deepcopy(record)))


def test_restated_row_replaces_its_rows_and_a_dropped_credit_is_found():
    original, restated = fixture("restated_row_same_identity")["input"]
    first = list(map_standard(copy.deepcopy(original)))
    second = list(map_standard(copy.deepcopy(restated)))
    assert [r["x_RowKey"] for r in second] == [r["x_RowKey"] for r in first[:2]]
    # A target keyed by x_RowKey (target-focus, target-postgres) after both loads:
    table = {r["x_RowKey"]: r for r in first}
    table.update({r["x_RowKey"]: r for r in second})
    assert len(table) == 3  # the promotion credit's row was not replaced by anything
    # Every row of a source row carries its export time; a row older than its source's
    # charge row (always re-emitted) is stale. In SQL:
    #   SELECT c.* FROM focus c JOIN focus u ON u.x_GcpSourceRowKey = c.x_GcpSourceRowKey
    #     AND u.x_GcpCreditType IS NULL WHERE c.x_GcpExportTime < u.x_GcpExportTime
    charge = {
        r["x_GcpSourceRowKey"]: r["x_GcpExportTime"]
        for r in table.values()
        if r["x_GcpCreditType"] is None
    }
    stale = [r for r in table.values() if r["x_GcpExportTime"] < charge[r["x_GcpSourceRowKey"]]]
    assert [r["x_GcpCreditType"] for r in stale] == ["PROMOTION"]
    kept = [r for r in table.values() if r not in stale]
    assert sum(r["BilledCost"] for r in kept) == Decimal("0.0700") - Decimal("0.0140")


# --- tables and helpers ------------------------------------------------------------------------


def test_service_table_uses_focus_allowed_values():
    for version in ("1.2", "1.3"):
        spec = get_spec(version)
        categories = spec.column("ServiceCategory").allowed_values
        parents = spec.service_subcategory_parents
        for name, (category, subcategory) in GCP_SERVICES.items():
            assert category in categories, (name, category)
            assert parents[subcategory] == category, (name, subcategory)
    assert service_category("compute engine") == ("Compute", "Virtual Machines")
    assert service_category("A SaaS nobody knows") == ("Other", "Other (Other)")
    assert len(GCP_SERVICES) >= 100


@pytest.mark.parametrize(
    ("google", "focus"),
    [
        ("hour", "Hours"),
        ("seconds", "Seconds"),
        ("gibibyte month", "GiB-Months"),
        ("gibibyte hour", "GiB-Hours"),
        ("byte-seconds", "B-Seconds"),
        ("bytes", "B"),
        ("tebibyte", "TiB"),
        ("requests", "Requests"),
        ("count", "Count"),
        ("mebibyte second", "MiB-Seconds"),
        ("giga-instructions", "giga-instructions"),  # unknown: Google's text
    ],
)
def test_units_in_focus_format(google: str, focus: str):
    assert focus_unit(google) == focus


def test_quotient_is_exact_when_it_can_be_and_rounds_once_when_not():
    assert quotient(Decimal("1500000"), Decimal("1000000")) == Decimal("1.5")
    assert str(quotient(Decimal("0.039"), Decimal("1.5"))) == "0.026"
    assert str(quotient(Decimal("0.01"), Decimal(3))) == "0.003333333333333333"
    assert str(quotient(Decimal("0.0000001"), Decimal("1000000000000"))) == "0E-18"


def test_pacific_month_start_matches_the_time_zone_database():
    pacific = zoneinfo.ZoneInfo("America/Los_Angeles")
    for year in range(2008, 2036):
        for month in range(1, 13):
            utc_month = dt.datetime(year, month, 1, tzinfo=dt.UTC)
            want = dt.datetime(year, month, 1, tzinfo=pacific).astimezone(dt.UTC)
            assert pacific_month_start(utc_month) == want, (year, month)


def test_correction_needs_usage_before_the_invoice_month_in_pacific_time():
    """Usage of the last Pacific evening of February (early March 1 in UTC) corrected on
    the March invoice corrects February's invoice; usage of March itself does not."""
    record = fixture("usage_correction_prior_month")["input"]
    late = {**record, "usage_start_time": "2026-03-01T06:00:00Z"}
    late["usage_end_time"] = "2026-03-01T07:00:00Z"
    assert next(iter(map_standard(copy.deepcopy(late))))["ChargeClass"] == "Correction"
    march = {**late, "usage_start_time": "2026-03-01T08:00:00Z"}
    march["usage_end_time"] = "2026-03-01T09:00:00Z"
    assert next(iter(map_standard(copy.deepcopy(march))))["ChargeClass"] is None


@pytest.mark.parametrize(
    ("resource_id", "kind"),
    [
        (
            "//compute.googleapis.com/projects/p/zones/us-central1-a/instances/123",
            "compute.googleapis.com/instances",
        ),
        ("//storage.googleapis.com/projects/_/buckets/acme-logs", "storage.googleapis.com/buckets"),
        (
            "//sqladmin.googleapis.com/projects/p/instances/db-1",
            "sqladmin.googleapis.com/instances",
        ),
        ("my-disk", "Compute Engine resource"),
    ],
)
def test_resource_type_from_the_resource_name(resource_id: str, kind: str):
    assert resource_type(resource_id, "Compute Engine") == kind


def test_registry_finds_the_gcp_streams_and_no_other_taps():
    mappings = builtin_mappings()

    def schema(record: dict) -> dict:
        return {"properties": {key: {} for key in record}}

    for name in ("plain_usage", "detailed_resource_and_price_tiers", "focus_export_native"):
        case = fixture(name)
        stream = case["stream"]
        mapping = find_mapping(mappings, stream, schema(inputs(case)[0]))
        assert mapping is not None
        assert (mapping.provider, mapping.stream) == ("gcp", stream)
        assert "x_GcpExportTime" in mapping.custom_columns
        # Raw tables read back by tap-postgres: <schema>-<table>.
        assert find_mapping(mappings, f"gcp-{stream}", schema(inputs(case)[0])) is mapping
    # Another tap's stream of the same name without tap-gcp's fields is not taken.
    assert find_mapping(mappings, "billing_export", {"properties": {"cost": {}}}) is None
    other_focus = {k: {} for k in ("BilledCost", "BillingAccountId", "ChargePeriodStart")}
    assert find_mapping(mappings, "focus_export", {"properties": other_focus}) is None


# --- unmappable records ---------------------------------------------------------------------


def _set(record: dict, path: str, value: object) -> dict:
    record = copy.deepcopy(record)
    *parents, last = path.split(".")
    target = record
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return record


@pytest.mark.parametrize(
    ("name", "path", "value", "column", "reason"),
    [
        ("plain_usage", "cost", 0.0633, "cost", "exact"),
        (
            "credit_sustained_use_discount",
            "credits.0.amount",
            -0.0127,
            "credits[0].amount",
            "exact",
        ),
        ("credit_promotion", "credits.0.amount", None, "credits[0].amount", "missing"),
        ("plain_usage", "usage.amount", 7200.0, "usage.amount", "exact"),
        (
            "plain_usage",
            "price.effective_price_default",
            0.03165,
            "price.effective_price_default",
            "exact",
        ),
        ("plain_usage", "currency_conversion_rate", 1.0, "currency_conversion_rate", "exact"),
        ("plain_usage", "cost", "NaN", "cost", "finite"),
        ("plain_usage", "cost", None, "cost", "missing"),
        ("plain_usage", "billing_account_id", "", "billing_account_id", "missing"),
        ("plain_usage", "invoice.month", "2026-03", "invoice.month", "YYYYMM"),
        ("plain_usage", "invoice.month", None, "invoice.month", "missing"),
        ("plain_usage", "cost_type", "surcharge", "cost_type", "unknown cost_type"),
        ("plain_usage", "usage_start_time", "yesterday", "usage_start_time", "ISO"),
        ("plain_usage", "sku.id", None, "sku.id", "missing"),
        ("plain_usage", "credits", "none", "credits", "list"),
        ("plain_usage", "labels", "env=prod", "labels", "key, value"),
        ("plain_usage", "usage", "7200 seconds", "usage", "object"),
        ("plain_usage", "currency", None, "currency", "missing"),
    ],
)
def test_unmappable_billing_rows_name_stream_record_and_column(name, path, value, column, reason):
    case = fixture(name)
    record = _set(case["input"], path, value)
    with pytest.raises(MappingError) as info:
        list(MAPPERS[case["stream"]](record))
    assert info.value.stream == case["stream"]
    assert info.value.record_id == record["row_key"]
    assert info.value.column == column
    assert reason in info.value.reason
    assert record["row_key"] in str(info.value)
    assert column in str(info.value)


@pytest.mark.parametrize(
    ("path", "value", "column", "reason"),
    [
        ("BilledCost", 0.0506, "BilledCost", "exact"),
        ("x_Credits.0.Amount", -0.0127, "x_Credits[0].Amount", "exact"),
        ("ChargeCategory", "error", "ChargeCategory", "not a FOCUS ChargeCategory"),
        ("BillingAccountId", None, "BillingAccountId", "missing"),
        ("BillingPeriodStart", "March", "BillingPeriodStart", "ISO"),
        ("x_Project", "acme-prod", "x_Project", "object"),
    ],
)
def test_unmappable_focus_rows_name_stream_record_and_column(path, value, column, reason):
    record = _set(fixture("focus_export_native")["input"], path, value)
    with pytest.raises(MappingError) as info:
        list(map_focus_export(record))
    assert (info.value.stream, info.value.record_id, info.value.column) == (
        "focus_export",
        "focus-native-1",
        column,
    )
    assert reason in info.value.reason


def test_a_record_without_the_taps_row_key_is_refused():
    for name in ("plain_usage", "focus_export_native"):
        case = fixture(name)
        record = _set(case["input"], "row_key", KeyError)
        with pytest.raises(MappingError) as info:
            list(MAPPERS[case["stream"]](record))
        assert info.value.column == "row_key"


# --- the mapper CLI, end to end --------------------------------------------------------------


def test_mapper_cli_maps_a_gcp_stream_with_json_numbers_exactly(tmp_path):
    """tap-gcp may send money as JSON numbers: mapper-focus reads them as the decimals their
    text spells, declares every x_Gcp column it writes, and the rows reconcile."""
    records = [
        copy.deepcopy(record)
        for case in map(fixture, ("cud_resource_based", "credit_promotion", "tax"))
        for record in inputs(case)
    ]
    lines = [
        json.dumps(
            {
                "type": "SCHEMA",
                "stream": "billing_export",
                "schema": {"properties": {key: {} for key in records[0]}},
                "key_properties": ["row_key"],
            }
        )
    ]
    for record in records:
        text = json.dumps({"type": "RECORD", "stream": "billing_export", "record": record})
        # "cost": "0.031611" -> "cost": 0.031611 (a JSON number), credits likewise.
        text = text.replace(f'"cost": "{record["cost"]}"', f'"cost": {record["cost"]}')
        for credit in record.get("credits") or []:
            text = text.replace(f'"amount": "{credit["amount"]}"', f'"amount": {credit["amount"]}')
        lines.append(text)
    result = subprocess.run(
        [sys.executable, "-m", "mapper_focus.mapper"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines() if line]
    schema = next(m for m in out if m["type"] == "SCHEMA")["schema"]
    rows = [m["record"] for m in out if m["type"] == "RECORD"]
    assert len(rows) == 5
    for row in rows:
        assert set(row) <= set(schema["properties"]), set(row) - set(schema["properties"])
        assert row["x_SourceProvider"] == "gcp"
        assert get_spec("1.3").validate_row(row) == []
    expected = sum(
        (_d(r["cost"]) + sum((_d(c["amount"]) for c in r.get("credits") or []), Decimal(0)))
        for r in records
    )
    assert sum(_d(r["BilledCost"]) for r in rows) == expected
