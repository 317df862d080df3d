"""The BATCH path and the RECORD path give the same FOCUS dataset (the acceptance test).

Each case writes AWS deliveries into S3 (moto), then runs the plain shell pipe
`tap-aws | mapper-focus | target-focus` twice: once with RECORD messages throughout, once
with tap-aws's `batch_config` (Parquet batch files, the vectorised CUR 2.0 mapping, the
target's column-wise validation). The two datasets must be the same row for row: every
column, exact Decimals, x_RowKey, and the order of the rows in every file. So must the
quarantine (rows the mapper could not map) and the rows counted in the audit.

Deliveries: generated months of several seeds (every line item type: usage, RI and
Savings Plans coverage and negation, fees, purchases, tax, credit, refund, discounts,
Marketplace), a month without net-cost columns, a gzip CSV month, legacy CUR months (CSV
and Parquet, and per-key tag columns with hard values), and a month with
hand-made hard rows (escapes and control characters in tags, repeated MAP keys, doubles
whose decimals need more than 28 digits in a product, instant charges, missing billing
period bounds, Spot and capacity reservations, a row that cannot be mapped).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from finfocus_sandbox.aws import write_cur2_delivery, write_legacy_cur_delivery
from finfocus_sandbox.aws.server import moto_s3

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
KEY, SECRET = "AKIAEQUIVALENCE", "equivalence-secret"
PERIOD = "2026-03"
CAPACITY_ARN = "arn:aws:ec2:us-east-1:1:capacity-reservation/"


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as url:
        yield url


def client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def run_pipeline(
    endpoint: str, bucket: str, work: Path, *, batch: bool, on_invalid: str = "fail"
) -> Path:
    """`tap-aws | mapper-focus | target-focus` in a shell; the dataset's folder."""
    work.mkdir(parents=True, exist_ok=True)
    tap = {
        "bucket": bucket,
        "prefix": "exports",
        "endpoint_url": endpoint,
        "aws_access_key_id": KEY,
        "aws_secret_access_key": SECRET,
        "batch_rows": 700,  # several record batches and files per delivery
    }
    if batch:
        tap["batch_config"] = {
            "encoding": {"format": "parquet"},
            "storage": {"root": (work / "batches").as_uri()},
            "batch_size": 1500,
        }
    (work / "tap.json").write_text(json.dumps(tap))
    (work / "mapper.json").write_text(json.dumps({"on_invalid": on_invalid}))
    (work / "target.json").write_text(json.dumps({"output_path": str(work / "focus")}))
    command = (
        f"{BIN / 'tap-aws'} --config tap.json 2> tap.log"
        f" | {BIN / 'mapper-focus'} --config mapper.json 2> mapper.log"
        f" | {BIN / 'target-focus'} --config target.json > state.jsonl 2> target.log"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=work,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    logs = "\n".join(
        (work / n).read_text()[-2000:] for n in ("tap.log", "mapper.log", "target.log")
    )
    assert result.returncode == 0, logs
    if batch:
        mapper_log = (work / "mapper.log").read_text()
        assert "batch manifests" in mapper_log
    return work / "focus"


def dataset(root: Path) -> dict[str, list[dict]]:
    """Every data file's rows, in file order, by path; quarantined rows; audit counts."""
    files = {
        str(path.relative_to(root)): pq.read_table(path).to_pylist()
        for path in sorted((root / "data").rglob("*.parquet"))
    }
    quarantined = []
    for path in (
        sorted((root / "quarantine").glob("*.jsonl")) if (root / "quarantine").exists() else []
    ):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            quarantined.append((entry["x_SourceRecordId"], entry["reasons"]))
    files["quarantine"] = sorted(quarantined, key=repr)  # type: ignore[assignment]
    assert not list((root / "_staging").rglob("*.*")) if (root / "_staging").exists() else True
    return files


def assert_same(record: dict[str, list], batch: dict[str, list]) -> None:
    assert record.keys() == batch.keys()
    for path, rows in record.items():
        other = batch[path]
        assert len(rows) == len(other), path
        for index, (a, b) in enumerate(zip(rows, other, strict=True)):
            if a != b:
                different = {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k)}
                raise AssertionError(f"{path} row {index} differs: {different}")
            if isinstance(a, dict):  # exact: same Decimal digits, same types
                for name, value in a.items():
                    assert type(value) is type(b[name]), (path, index, name)


def both_ways(endpoint: str, bucket: str, tmp: Path, on_invalid: str = "fail") -> dict:
    record = dataset(
        run_pipeline(endpoint, bucket, tmp / "record", batch=False, on_invalid=on_invalid)
    )
    batch = dataset(
        run_pipeline(endpoint, bucket, tmp / "batch", batch=True, on_invalid=on_invalid)
    )
    assert_same(record, batch)
    return record


@pytest.mark.parametrize("seed", [3, 17, 29])
def test_generated_months_are_the_same_both_ways(s3_endpoint, tmp_path, seed):
    s3 = client(s3_endpoint)
    bucket = f"equivalence-{seed}"
    s3.create_bucket(Bucket=bucket)
    delivery = write_cur2_delivery(
        s3, bucket, "exports", "cur2", PERIOD, rows=4000, seed=seed, linked_accounts=3
    )
    # every line item type the generator writes is in the month
    assert {
        "Usage",
        "DiscountedUsage",
        "SavingsPlanCoveredUsage",
        "SavingsPlanNegation",
        "RIFee",
        "Fee",
        "SavingsPlanRecurringFee",
        "SavingsPlanUpfrontFee",
        "Tax",
        "Credit",
        "Refund",
        "BundledDiscount",
    } <= set(delivery.totals.line_item_types)
    rows = both_ways(s3_endpoint, bucket, tmp_path)
    data = [row for path, part in rows.items() if path != "quarantine" for row in part]
    assert len(data) > delivery.totals.rows  # the unused-commitment rows too
    billed = sum((row["BilledCost"] for row in data), Decimal(0))
    assert billed == delivery.totals.net_unblended_cost


def test_months_without_net_columns_and_in_csv_are_the_same_both_ways(s3_endpoint, tmp_path):
    s3 = client(s3_endpoint)
    bucket = "equivalence-layouts"
    s3.create_bucket(Bucket=bucket)
    write_cur2_delivery(
        s3,
        bucket,
        "exports",
        "gross",
        PERIOD,
        rows=1500,
        seed=5,
        drop_columns=("line_item_net_unblended_cost", "line_item_net_unblended_rate"),
    )
    write_cur2_delivery(s3, bucket, "exports", "text", "2026-04", rows=1200, seed=6, fmt="csv")
    both_ways(s3_endpoint, bucket, tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_legacy_months_are_the_same_both_ways(s3_endpoint, tmp_path, fmt):
    """Legacy CUR (slash-style CSV, snake_case Parquet, per-key tag columns) goes through
    the CUR 2.0 vectorised rules after renaming: the same dataset as its record path."""
    s3 = client(s3_endpoint)
    bucket = f"equivalence-legacy-{fmt}"
    s3.create_bucket(Bucket=bucket)
    delivery = write_legacy_cur_delivery(
        s3, bucket, "exports", "legacy", PERIOD, rows=3000, seed=7, fmt=fmt, linked_accounts=3
    )
    rows = both_ways(s3_endpoint, bucket, tmp_path)
    data = [row for path, part in rows.items() if path != "quarantine" for row in part]
    assert sum(row["Tags"] is not None for row in data) > len(data) // 2
    billed = sum((row["BilledCost"] for row in data), Decimal(0))
    assert billed == delivery.totals.net_unblended_cost
    mapper_log = (tmp_path / "batch" / "mapper.log").read_text()
    assert "cur_line_items" in mapper_log


def _hard_rows(rows: list[dict]) -> list[dict]:
    """Generated rows made hard: every case the vectorised mapping must get right or
    leave to the row mapping."""
    usage = [i for i, r in enumerate(rows) if r["line_item_line_item_type"] == "Usage"]
    negation = [
        i for i, r in enumerate(rows) if r["line_item_line_item_type"] == "SavingsPlanNegation"
    ]
    covered = [i for i, r in enumerate(rows) if r["line_item_line_item_type"] == "DiscountedUsage"]
    edits: list[dict] = [
        {"resource_tags": [("user:Name", 'web "blue" \\ green'), ("user_team", "data")]},
        {"resource_tags": [("user_team", "line\nbreak")]},
        {"resource_tags": [("user_team", "a"), ("user_team", "b")]},
        {"resource_tags": [("name", ""), ("user_name", "fallback-name")]},
        {"discount": [("edp_discount", 100.0), ("other", None)]},
        {"discount": [("edp_discount", 1.5e-07)]},
        {"discount": [("edp_discount", -0.0)]},
        {
            "line_item_usage_amount": 0.12345678901234568,
            "line_item_unblended_rate": "0.0000123456789012",
        },
        {
            "line_item_usage_amount": 2.6881720430107525,
            "pricing_public_on_demand_rate": "0.0912345678",
        },
        {"line_item_usage_end_date": "start"},
        {"bill_billing_period_start_date": None},
        {
            "capacity_reservation_capacity_reservation_arn": CAPACITY_ARN + "cr-1",
            "capacity_reservation_capacity_reservation_status": "UNUSED",
        },
        {
            "capacity_reservation_capacity_reservation_arn": CAPACITY_ARN + "cr-2",
            "capacity_reservation_capacity_reservation_status": None,
            "line_item_usage_type": "Reservation:UnusedBox",
        },
        {"pricing_term": "Spot"},
        {
            "bill_billing_entity": "AWS Marketplace",
            "line_item_resource_id": None,
            "line_item_product_code": "prod-unknown",
            "product": [("product_name", "Seller Thing")],
        },
        {
            "product": [("product_name", ""), ("product_name", "Twice"), ("region", "eu-west-9")],
            "product_region_code": None,
        },
        {"line_item_product_code": "SomethingNew", "product": []},
        {"line_item_line_item_description": "Ünïcödé — 東京 \u2028 usage"},
        {"line_item_resource_id": "arn:aws:s3:::bucket-name"},
        {"line_item_resource_id": "eipalloc-0abc"},
        {"line_item_currency_code": None},  # cannot be mapped: quarantined both ways
        {"resource_tags": [("user_team", "tab\tand\x01control")]},
        {"identity_line_item_id": ""},
    ]
    for index, edit in zip(usage, edits, strict=False):
        row = rows[index]
        for column, value in edit.items():
            row[column] = row["line_item_usage_start_date"] if value == "start" else value
    for index in negation[:3]:
        rows[index]["pricing_public_on_demand_rate"] = None
    for index in covered[:2]:
        rows[index]["line_item_normalized_usage_amount"] = None
    return rows


def test_hard_rows_are_the_same_both_ways(s3_endpoint, tmp_path):
    s3 = client(s3_endpoint)
    bucket = "equivalence-hard"
    s3.create_bucket(Bucket=bucket)
    delivery = write_cur2_delivery(s3, bucket, "exports", "hard", PERIOD, rows=2500, seed=41)
    local = tmp_path / "cur.parquet"
    s3.download_file(bucket, delivery.files[0], str(local))
    table = pq.read_table(local)
    rows = _hard_rows(table.to_pylist())
    for row in rows:
        for column in ("line_item_usage_start_date", "line_item_usage_end_date"):
            if isinstance(row[column], dt.datetime):
                row[column] = row[column].replace(tzinfo=None)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), local)
    s3.upload_file(str(local), bucket, delivery.files[0])
    result = both_ways(s3_endpoint, bucket, tmp_path, on_invalid="quarantine")
    assert len(result["quarantine"]) == 1  # the row without a currency, both ways


def test_legacy_tag_columns_with_hard_values_are_the_same_both_ways(s3_endpoint, tmp_path):
    """Legacy per-key tag columns gathered into a MAP: empty and missing values left out,
    quotes, backslashes, line breaks and control characters in values, non-ASCII keys."""
    s3 = client(s3_endpoint)
    bucket = "equivalence-legacy-hard"
    s3.create_bucket(Bucket=bucket)
    delivery = write_legacy_cur_delivery(
        s3,
        bucket,
        "exports",
        "legacy",
        PERIOD,
        rows=1200,
        seed=43,
        fmt="parquet",
        tag_keys=("user:Name", "user:team", "aws:createdBy", "user:Kostenstelle-ä"),
    )
    local = tmp_path / "cur.parquet"
    s3.download_file(bucket, delivery.files[0], str(local))
    table = pq.read_table(local)
    tag_columns = [name for name in table.column_names if name.startswith("resource_tags_")]
    assert len(tag_columns) == 4
    values = ['web "blue" \\ green', "line\nbreak", "tab\tand\x01control", "", None, "Ünï 東京"]
    rows = table.to_pylist()
    for index, row in enumerate(rows[:300]):
        for offset, column in enumerate(tag_columns):
            row[column] = values[(index + offset) % len(values)]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), local)
    s3.upload_file(str(local), bucket, delivery.files[0])
    result = both_ways(s3_endpoint, bucket, tmp_path)
    data = [row for path, part in result.items() if path != "quarantine" for row in part]
    tags = [json.loads(row["Tags"]) for row in data if row["Tags"]]
    assert any("line\nbreak" in tag.values() for tag in tags)
    assert any('web "blue" \\ green' in tag.values() for tag in tags)
    assert not any("" in tag.values() for tag in tags)  # empty values are left out
