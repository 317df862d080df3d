"""Every export kind and format: every row of a generated delivery, values exact."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from finfocus_sandbox.aws import (
    CREATE_NEW,
    OVERWRITE,
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from tap_aws_testing import amortized_of_cur2, decimal_sum, run_tap, tap_config

PREFIX = "billing/exports"
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
LINE_ITEM_TYPES = {
    "Usage",
    "DiscountedUsage",
    "RIFee",
    "Fee",
    "SavingsPlanCoveredUsage",
    "SavingsPlanNegation",
    "SavingsPlanRecurringFee",
    "SavingsPlanUpfrontFee",
    "Tax",
    "Credit",
    "Refund",
    "BundledDiscount",
}


def _check_keys(records: list[dict], delivery) -> None:
    keys = {(r["delivery_id"], r["source_file"], r["row_number"]) for r in records}
    assert len(keys) == len(records), "primary keys are unique"
    assert {r["delivery_id"] for r in records} == {delivery.execution_id}
    assert {r["billing_period"] for r in records} == {delivery.billing_period}
    assert {r["source_file"] for r in records} == set(delivery.files)
    for key in delivery.files:
        numbers = sorted(r["row_number"] for r in records if r["source_file"] == key)
        assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cur2_every_row_exact(moto_url, s3, bucket, tmp_path, fmt):
    delivery = write_cur2_delivery(
        s3, bucket, PREFIX, "acme-cur2", "2026-03", rows=1200, seed=3, fmt=fmt, rows_per_file=500
    )
    assert len(delivery.files) == 3
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("cur2_line_items")
    assert len(records) == delivery.totals.rows == 1200
    _check_keys(records, delivery)
    assert decimal_sum(records, "line_item_unblended_cost") == delivery.totals.unblended_cost
    assert (
        decimal_sum(records, "line_item_net_unblended_cost") == delivery.totals.net_unblended_cost
    )
    assert amortized_of_cur2(records) == delivery.totals.amortized_cost
    assert {r["line_item_line_item_type"] for r in records} == LINE_ITEM_TYPES
    first = records[0]
    for column in ("line_item_usage_start_date", "bill_billing_period_start_date"):
        assert ISO_Z.match(first[column]), first[column]
    assert isinstance(first["product"], dict)
    assert first["product"]["product_name"]
    assert isinstance(first["resource_tags"], dict)
    assert isinstance(first["line_item_unblended_rate"], Decimal)  # a string column in CUR 2.0
    assert first["line_item_tax_type"] is None  # empty in the file -> null
    marketplace = [r for r in records if r["bill_billing_entity"] == "AWS Marketplace"]
    assert marketplace
    assert all(r["line_item_legal_entity"] != "Amazon Web Services, Inc." for r in marketplace)
    # Parquet DOUBLEs come back as the decimal written, never binary noise.
    assert all(len(str(r["line_item_unblended_cost"]).split(".")[-1]) <= 10 for r in records)
    (summary,) = run.records("deliveries")
    assert summary["export_kind"] == "cur2"
    assert summary["delivery_id"] == delivery.execution_id
    assert summary["row_count"] == 1200
    assert summary["billing_account_ids"] == sorted(delivery.totals.payer_account_ids)
    assert summary["files"] == list(delivery.files)
    assert summary["complete"] is True
    last_row = max(
        i
        for i, m in enumerate(run.messages)
        if m.get("stream") == "cur2_line_items" and m["type"] == "RECORD"
    )
    summary_at = next(
        i
        for i, m in enumerate(run.messages)
        if m.get("stream") == "deliveries" and m["type"] == "RECORD"
    )
    assert summary_at > last_row, "the delivery record follows its last row"


@pytest.mark.parametrize(
    ("fmt", "versioning"), [("csv", CREATE_NEW), ("csv", OVERWRITE), ("parquet", OVERWRITE)]
)
def test_legacy_cur_every_row_exact(moto_url, s3, bucket, tmp_path, fmt, versioning):
    delivery = write_legacy_cur_delivery(
        s3, bucket, PREFIX, "acme-cur", "2026-02", rows=700, seed=5, fmt=fmt, versioning=versioning
    )
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("cur_line_items")
    assert len(records) == 700
    _check_keys(records, delivery)
    cost = "lineItem/UnblendedCost" if fmt == "csv" else "line_item_unblended_cost"
    assert decimal_sum(records, cost) == delivery.totals.unblended_cost
    tag = "resourceTags/user:Team" if fmt == "csv" else "resource_tags_user_team"
    assert {r[tag] for r in records} - {None}, "tags stay as their own columns"
    if fmt == "csv":
        assert records[0]["lineItem/UnblendedCost"] == Decimal(
            str(records[0]["lineItem/UnblendedCost"])
        )
        assert "lineItem/UsageStartDate" in run.schemas("cur_line_items")[0]["properties"]
    (summary,) = run.records("deliveries")
    assert (summary["export_kind"], summary["delivery_id"]) == ("cur", delivery.execution_id)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_focus_export_every_row_exact(moto_url, s3, bucket, tmp_path, fmt):
    delivery = write_focus_export_delivery(
        s3, bucket, PREFIX, "acme-focus", "2026-01", rows=600, seed=9, fmt=fmt
    )
    run = run_tap(tap_config(moto_url, bucket, export_kind="focus"), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("focus_export_rows")
    assert len(records) == 600
    _check_keys(records, delivery)
    assert decimal_sum(records, "BilledCost") == delivery.totals.unblended_cost
    assert decimal_sum(records, "EffectiveCost") == delivery.totals.amortized_cost
    assert all(isinstance(r["x_CostCategories"], dict) for r in records)
    assert any(r["x_Discounts"] for r in records)
    assert all(ISO_Z.match(r["ChargePeriodStart"]) for r in records)
    schema = run.schemas("focus_export_rows")[0]["properties"]
    assert schema["BilledCost"]["type"] == ["number", "null"]
    assert schema["x_Discounts"]["type"] == ["object", "null"]


def test_export_name_and_kind_select(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, PREFIX, "team-a", "2026-01", rows=30, seed=1)
    write_cur2_delivery(s3, bucket, PREFIX, "team-b", "2026-01", rows=40, seed=2)
    write_legacy_cur_delivery(s3, bucket, PREFIX, "old-cur", "2026-01", rows=20, seed=3)
    run = run_tap(tap_config(moto_url, bucket, export_name="team-b"), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert {r["export_name"] for r in run.records("cur2_line_items")} == {"team-b"}
    assert len(run.records("cur2_line_items")) == 40
    assert run.records("cur_line_items") == []
    run = run_tap(tap_config(moto_url, bucket, export_kind="cur"), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.records("cur2_line_items") == []
    assert len(run.records("cur_line_items")) == 20
