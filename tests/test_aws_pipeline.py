"""`meltano run tap-aws focus target-focus` over AWS export deliveries in S3 (moto server).

Each export kind reconciles exactly with the delivery's own totals; the output passes the
Foundation's validator; a restated month replaces the old data; a second run changes
nothing.
"""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

import boto3
import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.aws import (
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from finfocus_sandbox.aws.server import moto_s3

pytestmark = pytest.mark.integration
VALIDATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "focus-validate"
PERIOD = "2026-10"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture
def s3(s3_endpoint, request):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = (
        f"billing-{request.node.name[-40:].lower().replace('_', '-').replace('[', '-').strip(']-')}"
    )
    bucket = "".join(c for c in bucket if c.isalnum() or c == "-")[:60].strip("-")
    client.create_bucket(Bucket=bucket)
    return client, bucket


def aws_env(endpoint: str, bucket: str, **extra: str) -> dict[str, str]:
    return {
        **AWS_ENV,
        "TAP_AWS_BUCKET": bucket,
        "TAP_AWS_PREFIX": "exports",
        "TAP_AWS_ENDPOINT_URL": endpoint,
        "TAP_AWS_START_DATE": f"{PERIOD}-01",
        **extra,
    }


def focus_rows(path: Path) -> list[dict]:
    return pads.dataset(path / "data", format="parquet", partitioning="hive").to_table().to_pylist()


def total(rows: list[dict], column: str) -> Decimal:
    return sum((r[column] for r in rows), Decimal(0))


def test_cur2_month_reconciles_and_a_restatement_replaces_it(meltano, s3, s3_endpoint, tmp_path):
    client, bucket = s3
    first = write_cur2_delivery(
        client, bucket, "exports", "finfocus-cur2", PERIOD, rows=3000, seed=1
    )
    env = aws_env(s3_endpoint, bucket)
    meltano.ok("run", "tap-aws", "focus", "target-focus", extra_env=env)
    rows = focus_rows(tmp_path / "focus")
    # Net unblended cost is the invoiced basis when the export has EDP discounts.
    assert first.totals.net_unblended_cost != first.totals.unblended_cost
    assert total(rows, "BilledCost") == first.totals.net_unblended_cost
    assert {r["x_DeliveryId"] for r in rows} == {first.delivery_id}
    assert {r["x_SourceProvider"] for r in rows} == {"aws"}
    keys = [r["x_RowKey"] for r in rows]
    assert len(keys) == len(set(keys))

    # AWS rewrites the month: the new delivery replaces the old one as a whole.
    second = write_cur2_delivery(
        client, bucket, "exports", "finfocus-cur2", PERIOD, rows=2500, seed=1, version=1
    )
    assert second.delivery_id != first.delivery_id
    meltano.ok("run", "tap-aws", "focus", "target-focus", extra_env=env)
    rows = focus_rows(tmp_path / "focus")
    assert total(rows, "BilledCost") == second.totals.net_unblended_cost
    assert {r["x_DeliveryId"] for r in rows} == {second.delivery_id}
    assert not list((tmp_path / "focus" / "_staging").rglob("*.*"))

    # Running again changes nothing.
    files = {p: p.read_bytes() for p in (tmp_path / "focus" / "data").rglob("*.parquet")}
    meltano.ok("run", "tap-aws", "focus", "target-focus", extra_env=env)
    assert {p: p.read_bytes() for p in (tmp_path / "focus" / "data").rglob("*.parquet")} == files


@pytest.mark.parametrize("kind", ["cur2-csv", "legacy-cur", "focus-export"])
def test_each_export_kind_reconciles_exactly(meltano, s3, s3_endpoint, tmp_path, kind):
    client, bucket = s3
    # Without discounts, net and unblended agree and the amortized total is exact.
    if kind == "cur2-csv":
        delivery = write_cur2_delivery(
            client,
            bucket,
            "exports",
            "cur2-csv",
            PERIOD,
            rows=2000,
            seed=2,
            fmt="csv",
            edp_rate=Decimal(0),
        )
    elif kind == "legacy-cur":
        delivery = write_legacy_cur_delivery(
            client, bucket, "exports", "legacy", PERIOD, rows=2000, seed=3, edp_rate=Decimal(0)
        )
    else:
        delivery = write_focus_export_delivery(
            client, bucket, "exports", "focus", PERIOD, rows=2000, seed=4, edp_rate=Decimal(0)
        )
    meltano.ok("run", "tap-aws", "focus", "target-focus", extra_env=aws_env(s3_endpoint, bucket))
    rows = focus_rows(tmp_path / "focus")
    assert total(rows, "BilledCost") == delivery.totals.unblended_cost
    assert total(rows, "EffectiveCost") == delivery.totals.amortized_cost


def test_aws_output_passes_the_finops_foundation_validator(meltano, s3, s3_endpoint, tmp_path):
    client, bucket = s3
    write_cur2_delivery(client, bucket, "exports", "finfocus-cur2", PERIOD, rows=1500, seed=5)
    env = aws_env(
        s3_endpoint, bucket, MAPPER_FOCUS_FOCUS_VERSION="1.2", TARGET_FOCUS_FOCUS_VERSION="1.2"
    )
    meltano.ok("run", "tap-aws", "focus", "target-focus", extra_env=env)
    files = sorted((tmp_path / "focus" / "data").rglob("*.parquet"))
    assert files
    result = subprocess.run(
        [str(VALIDATOR), "--version", "1.2", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
