"""The AWS billing delivery generator: layouts, manifests, totals, determinism."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from decimal import Decimal

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from finfocus_sandbox.aws import (
    CREATE_NEW,
    LineItemGenerator,
    Organisation,
    amortized_cost,
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from finfocus_sandbox.aws.server import moto_s3

ALL_TYPES = {
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


@pytest.fixture(scope="module")
def aws_url():
    with moto_s3() as url:
        yield url


@pytest.fixture
def s3(aws_url):
    return boto3.client(
        "s3",
        endpoint_url=aws_url,
        region_name="us-east-1",
        aws_access_key_id="AKIAGENERATOR",
        aws_secret_access_key="generator-secret",
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"gen-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _keys(s3, bucket: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def _json(s3, bucket: str, key: str) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def _csv(s3, bucket: str, key: str) -> list[dict]:
    body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_line_items_every_type_consistent_and_deterministic():
    org = Organisation.generate(seed=4)
    rows = list(LineItemGenerator("2026-02", 3000, 4, org))
    again = list(LineItemGenerator("2026-02", 3000, 4, org))
    assert rows == again
    assert len(rows) == 3000
    assert {r["line_item_line_item_type"] for r in rows} == ALL_TYPES
    assert len({r["bill_payer_account_id"] for r in rows}) == 1
    assert len({r["line_item_usage_account_id"] for r in rows}) == 5
    covered = [r for r in rows if r["line_item_line_item_type"] == "SavingsPlanCoveredUsage"]
    negations = [r for r in rows if r["line_item_line_item_type"] == "SavingsPlanNegation"]
    assert sum(r["line_item_unblended_cost"] for r in covered) == -sum(
        r["line_item_unblended_cost"] for r in negations
    )
    fees = [r for r in rows if r["line_item_line_item_type"] == "SavingsPlanRecurringFee"]
    assert sum(r["savings_plan_used_commitment"] for r in fees) == sum(
        r["savings_plan_savings_plan_effective_cost"] for r in covered
    )
    assert all(
        r["savings_plan_used_commitment"] <= r["savings_plan_total_commitment_to_date"]
        for r in fees
    )
    (ri_fee,) = [r for r in rows if r["line_item_line_item_type"] == "RIFee"]
    discounted = [r for r in rows if r["line_item_line_item_type"] == "DiscountedUsage"]
    assert ri_fee["reservation_unused_quantity"] == ri_fee["line_item_usage_amount"] - len(
        discounted
    )
    assert all(
        r["line_item_unblended_cost"] == 0 and r["reservation_effective_cost"] > 0
        for r in discounted
    )
    assert any(r["bill_billing_entity"] == "AWS Marketplace" for r in rows)
    for r in rows:  # every amount fits 10 decimal places and a double's 15 digits
        cost = r["line_item_unblended_cost"]
        assert cost == cost.quantize(Decimal("1e-10"))
        assert len(cost.normalize().as_tuple().digits) <= 15
        assert Decimal(repr(float(cost))) == cost
    net = [r for r in rows if r.get("discount")]
    assert net
    assert all(
        r["line_item_net_unblended_cost"]
        == r["line_item_unblended_cost"] + r["discount"]["edp_discount"]
        for r in net
    )


def test_cur2_parquet_layout_manifest_and_totals(s3, bucket):
    d = write_cur2_delivery(
        s3, bucket, "cur2", "acme", "2026-01", rows=2500, seed=1, rows_per_file=1000
    )
    assert d.manifest_key == "cur2/acme/metadata/BILLING_PERIOD=2026-01/acme-Manifest.json"
    assert d.files == tuple(
        f"cur2/acme/data/BILLING_PERIOD=2026-01/acme-0000{n}.snappy.parquet" for n in (1, 2, 3)
    )
    manifest = _json(s3, bucket, d.manifest_key)
    assert manifest["executionId"] == d.execution_id
    assert manifest["dataFiles"] == [f"s3://{bucket}/{key}" for key in d.files]
    types = {c["name"]: c["type"] for c in manifest["columns"]}
    assert types["line_item_unblended_cost"] == "double"
    assert types["line_item_unblended_rate"] == "string"
    assert types["line_item_usage_start_date"] == "timestamp"
    assert types["resource_tags"].startswith("map")
    assert "FROM COST_AND_USAGE_REPORT" in manifest["queryStatement"]
    total = Decimal(0)
    rows = 0
    for key in d.files:
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        assert str(table.schema.field("line_item_unblended_cost").type) == "double"
        assert pa.types.is_map(table.schema.field("resource_tags").type)
        rows += table.num_rows
        total += sum(Decimal(repr(v)) for v in table.column("line_item_unblended_cost").to_pylist())
    assert rows == d.totals.rows == 2500
    assert total == d.totals.unblended_cost


def test_cur2_csv_refresh_overwrites_and_create_new_keeps(s3, bucket):
    first = write_cur2_delivery(s3, bucket, "x", "ov", "2026-01", rows=50, seed=2, fmt="csv")
    rows = _csv(s3, bucket, first.files[0])
    assert rows[0]["line_item_usage_start_date"].endswith(".000Z")
    assert sum(Decimal(r["line_item_unblended_cost"]) for r in rows) == first.totals.unblended_cost
    assert json.loads(rows[0]["product"])["product_name"]
    second = write_cur2_delivery(
        s3, bucket, "x", "ov", "2026-01", rows=60, seed=2, fmt="csv", version=1
    )
    assert second.execution_id != first.execution_id
    data = {k for k in _keys(s3, bucket) if "/ov/data/" in k}
    assert data == set(second.files)
    kept1 = write_cur2_delivery(
        s3, bucket, "x", "cn", "2026-01", rows=10, seed=2, overwrite=CREATE_NEW
    )
    kept2 = write_cur2_delivery(
        s3, bucket, "x", "cn", "2026-01", rows=10, seed=2, overwrite=CREATE_NEW, version=1
    )
    data = {k for k in _keys(s3, bucket) if "/cn/data/" in k}
    assert data == set(kept1.files) | set(kept2.files)
    assert f"/{kept2.execution_id}/" in kept2.files[0]
    assert _json(s3, bucket, kept2.manifest_key)["executionId"] == kept2.execution_id


def test_legacy_cur_layout(s3, bucket):
    d = write_legacy_cur_delivery(
        s3, bucket, "legacy", "acme", "2026-02", rows=200, seed=3, tag_keys=("user:Team",)
    )
    folder = f"legacy/acme/20260201-20260301/{d.execution_id}/"
    assert d.files == (f"{folder}acme-1.csv.gz",)
    assert d.manifest_key == "legacy/acme/20260201-20260301/acme-Manifest.json"
    assert f"{folder}acme-Manifest.json" in _keys(s3, bucket)
    manifest = _json(s3, bucket, d.manifest_key)
    assert manifest["assemblyId"] == d.execution_id
    assert manifest["reportKeys"] == list(d.files)
    assert manifest["billingPeriod"] == {
        "start": "20260201T000000.000Z",
        "end": "20260301T000000.000Z",
    }
    assert {"category": "lineItem", "name": "UnblendedCost", "type": "BigDecimal"} in manifest[
        "columns"
    ]
    rows = _csv(s3, bucket, d.files[0])
    assert list(rows[0])[:2] == ["identity/LineItemId", "identity/TimeInterval"]
    assert list(rows[0])[-1] == "resourceTags/user:Team"
    assert all(len(r["lineItem/UnblendedCost"].split(".")[1]) == 10 for r in rows)
    assert sum(Decimal(r["lineItem/UnblendedCost"]) for r in rows) == d.totals.unblended_cost
    parquet = write_legacy_cur_delivery(
        s3, bucket, "legacy", "pq", "2026-02", rows=30, seed=3, fmt="parquet"
    )
    assert parquet.files == ("legacy/pq/pq/year=2026/month=2/pq-00001.snappy.parquet",)
    assert "reservation_reservation_a_r_n" in parquet.columns


def test_focus_export_columns_and_totals(s3, bucket):
    d = write_focus_export_delivery(s3, bucket, "focus", "f", "2026-01", rows=400, seed=5)
    manifest = _json(s3, bucket, d.manifest_key)
    names = [c["name"] for c in manifest["columns"]]
    for column in (
        "BilledCost",
        "EffectiveCost",
        "x_CostCategories",
        "x_Discounts",
        "x_Operation",
        "x_ServiceCode",
        "x_UsageType",
    ):
        assert column in names
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=d.files[0])["Body"].read()))
    billed = sum(Decimal(repr(v)) for v in table.column("BilledCost").to_pylist())
    effective = sum(Decimal(repr(v)) for v in table.column("EffectiveCost").to_pylist())
    assert billed == d.totals.unblended_cost
    assert effective == d.totals.amortized_cost


def test_amortized_formula():
    def row(kind: str, **values: str) -> dict:
        return {
            "line_item_line_item_type": kind,
            **{k: Decimal(v) if v[0].isdigit() or v[0] == "-" else v for k, v in values.items()},
        }

    assert amortized_cost(row("Usage", line_item_unblended_cost="1.5")) == Decimal("1.5")
    assert amortized_cost(
        row(
            "SavingsPlanCoveredUsage",
            line_item_unblended_cost="1",
            savings_plan_savings_plan_effective_cost="0.6",
        )
    ) == Decimal("0.6")
    assert amortized_cost(row("SavingsPlanNegation", line_item_unblended_cost="-1")) == 0
    assert amortized_cost(
        row(
            "SavingsPlanRecurringFee",
            line_item_unblended_cost="10",
            savings_plan_total_commitment_to_date="10",
            savings_plan_used_commitment="7.5",
        )
    ) == Decimal("2.5")
    assert amortized_cost(
        row("DiscountedUsage", line_item_unblended_cost="0", reservation_effective_cost="0.062")
    ) == Decimal("0.062")
    assert amortized_cost(
        row(
            "RIFee",
            line_item_unblended_cost="20",
            reservation_unused_amortized_upfront_fee_for_billing_period="1.2",
            reservation_unused_recurring_fee="3",
        )
    ) == Decimal("4.2")
    assert (
        amortized_cost(
            row(
                "Fee",
                line_item_unblended_cost="254.04",
                reservation_reservation_a_r_n="arn:aws:ec2:x",
            )
        )
        == 0
    )
    assert amortized_cost(row("Fee", line_item_unblended_cost="5")) == Decimal("5")
