"""Full extraction of the standard, detailed and FOCUS tables through the real client."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from finfocus_sandbox.gcp import COST_TYPES, CREDIT_TYPES
from tap_gcp_testing import fake_sums, month_sums, run_tap, tap_config

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_every_table_extracts_fully_and_sums_exactly(fake, tmp_path):
    run = run_tap(tap_config(fake), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for stream, kind in (
        ("billing_export", "standard"),
        ("billing_export_resource", "resource"),
        ("focus_export", "focus"),
    ):
        records = run.records(stream)
        assert len(records) == len(fake.dataset.rows(kind)), stream
        # exact to the last digit, per invoice month and cost type
        assert month_sums(records, kind) == fake_sums(fake, kind), stream
        keys = [r["row_key"] for r in records]
        assert len(set(keys)) == len(keys)
        assert all(HEX64.match(k) for k in keys)
    # the standard table sums the detailed one: same invoice, fewer rows
    assert len(run.records("billing_export")) < len(run.records("billing_export_resource"))
    assert fake_sums(fake, "standard") == fake_sums(fake, "resource")


def test_nested_fields_stay_nested_and_values_are_typed(fake, tmp_path):
    run = run_tap(tap_config(fake, streams=("resource",)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records("billing_export_resource")
    record = next(r for r in records if r["credits"] and r["labels"] and r["system_labels"])
    assert isinstance(record["credits"], list)
    assert isinstance(record["credits"][0], dict)
    assert set(record["credits"][0]) == {"name", "amount", "full_name", "id", "type"}
    assert isinstance(record["labels"][0], dict)
    assert set(record["labels"][0]) == {"key", "value"}
    ancestors = record["project"]["ancestors"]
    assert ancestors[0]["resource_name"].startswith("projects/")
    assert ancestors[-1]["resource_name"].startswith("organizations/")
    assert record["invoice"]["month"].isdigit()
    assert len(record["invoice"]["month"]) == 6
    assert set(record["service"]) == {"id", "description"}
    assert set(record["location"]) == {"location", "country", "region", "zone"}
    assert set(record["price"]) == {
        "effective_price",
        "tier_start_amount",
        "unit",
        "pricing_unit_quantity",
    }
    for moment in (record["usage_start_time"], record["usage_end_time"], record["export_time"]):
        assert ISO_Z.match(moment), moment
    # FLOAT64 money read from its shortest repr: at most six decimals, never binary noise
    for r in records:
        for amount in [r["cost"], *(c["amount"] for c in r["credits"] or [])]:
            assert isinstance(amount, Decimal)
            assert -amount.as_tuple().exponent <= 6, amount
    credit_types = Counter(c["type"] for r in records for c in r["credits"] or [])
    assert set(credit_types) == set(CREDIT_TYPES)
    assert {r["cost_type"] for r in records} == set(COST_TYPES)
    adjustment = next(r for r in records if r["cost_type"] == "adjustment")
    assert adjustment["adjustment_info"]["mode"]
    assert adjustment["adjustment_info"]["type"]


def test_focus_columns_are_numeric_and_nested(fake, tmp_path):
    run = run_tap(tap_config(fake, streams=("focus",)), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records("focus_export")
    usage = next(r for r in records if r["x_CostType"] == "regular" and r["x_Credits"])
    assert isinstance(usage["BilledCost"], Decimal)
    assert usage["BilledCost"] == usage["ContractedCost"] + sum(
        c["Amount"] for c in usage["x_Credits"]
    )
    assert usage["ChargeCategory"] == "Usage"
    assert isinstance(usage["Tags"], list)
    assert {t["x_type"] for t in usage["Tags"]} >= {
        "label",
        "project_label",
    }
    assert usage["x_Project"]["ancestors"][-1]["resource_name"].startswith("organizations/")
    assert ISO_Z.match(usage["x_ExportTime"])
    assert ISO_Z.match(usage["ChargePeriodStart"])


def test_schema_follows_the_table_and_keys_are_declared(fake, tmp_path):
    run = run_tap(tap_config(fake), tmp_path, "--discover")
    assert run.returncode == 0, run.stderr[-3000:]
    import json

    catalog = json.loads(run.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {"billing_export", "billing_export_resource", "focus_export"}
    standard = streams["billing_export"]
    assert standard["key_properties"] == ["row_key"]
    assert standard["replication_key"] == "export_time"
    assert streams["focus_export"]["replication_key"] == "x_ExportTime"
    props = standard["schema"]["properties"]
    assert props["cost"]["type"] == ["number", "null"]
    assert props["credits"]["type"] == ["array", "null"]
    assert props["credits"]["items"]["properties"]["amount"]["type"] == ["number", "null"]
    assert props["export_time"]["format"] == "date-time"
    assert "resource" not in props
    assert "resource" in streams["billing_export_resource"]["schema"]["properties"]
    assert props["row_key"]["type"] == ["string"]
