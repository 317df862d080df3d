"""target-focus writing to S3, against moto in server mode (a real HTTP endpoint)."""

from __future__ import annotations

import io
import json

import boto3
import pyarrow.parquet as pq
import pytest
from finfocus_common.errors import PermanentError, TransientError
from finfocus_sandbox.aws.server import moto_s3
from target_focus.storage import S3Storage
from target_focus_testdata import focus_messages, run_target, stripe_row

BUCKET = "finfocus-test"
PARTITION_KEY = (
    "focus/data/provider=stripe/billing_account_id=acct_1Test/billing_period=2025-01/part-0.parquet"
)


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def s3_config(endpoint: str, **settings) -> dict:
    return {
        "output_path": f"s3://{BUCKET}/focus",
        "s3_endpoint_url": endpoint,
        "s3_region": "us-east-1",
        **settings,
    }


def object_keys(client) -> list[str]:
    return sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def read_object(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_dataset_on_s3_with_restatement(s3, s3_endpoint):
    run_target(s3_config(s3_endpoint), focus_messages([stripe_row("k1"), stripe_row("k2", day=6)]))
    run_target(s3_config(s3_endpoint), focus_messages([stripe_row("k1", cost="0.60")]))

    found = object_keys(s3)
    assert PARTITION_KEY in found
    assert "focus/metadata.json" in found
    audits = [key for key in found if key.startswith("focus/_audit/")]
    assert len(audits) == 2
    assert not [key for key in found if key.endswith(".tmp")]
    table = pq.read_table(io.BytesIO(read_object(s3, PARTITION_KEY)))
    costs = {row["x_RowKey"]: str(row["BilledCost"].normalize()) for row in table.to_pylist()}
    assert costs == {"k1": "0.6", "k2": "0.59"}
    last = json.loads(read_object(s3, audits[-1]))  # names sort by start time
    assert last["status"] == "succeeded"
    assert last["output_path"] == f"s3://{BUCKET}/focus"
    assert last["partitions"][0]["action"] == "replaced"
    assert (last["partitions"][0]["rows_before"], last["partitions"][0]["rows_after"]) == (2, 2)


def test_quarantine_file_on_s3(s3, s3_endpoint):
    rows = [stripe_row("k1"), stripe_row("k2", BilledCost=None)]
    run_target(s3_config(s3_endpoint, on_invalid="quarantine", format="csv"), focus_messages(rows))

    (quarantine,) = [key for key in object_keys(s3) if key.startswith("focus/quarantine/")]
    lines = read_object(s3, quarantine).decode().splitlines()
    assert [json.loads(line)["x_RowKey"] for line in lines] == ["k2"]
    csv_key = PARTITION_KEY.replace(".parquet", ".csv")
    assert read_object(s3, csv_key).decode().count("\n") == 2  # header and k1


def test_failed_upload_leaves_the_previous_object_intact(s3, s3_endpoint, monkeypatch):
    run_target(s3_config(s3_endpoint), focus_messages([stripe_row("k1")]))
    before = read_object(s3, PARTITION_KEY)
    real_upload = S3Storage.upload

    def failing_upload(self, path, key):
        if not key.endswith("part-0.parquet"):
            return real_upload(self, path, key)
        assert path.stat().st_size > 0  # the complete new file exists locally
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(S3Storage, "upload", failing_upload)
    with pytest.raises(TransientError, match=r"cannot write s3://.*part-0.parquet"):
        run_target(s3_config(s3_endpoint), focus_messages([stripe_row("k2")]))

    assert read_object(s3, PARTITION_KEY) == before


def test_missing_bucket_is_a_permanent_error(s3, s3_endpoint):
    config = s3_config(s3_endpoint, output_path="s3://no-such-bucket/focus")
    with pytest.raises(PermanentError, match="no-such-bucket"):
        run_target(config, focus_messages([stripe_row("k1")]))


def test_dataset_lock_on_s3_refuses_a_second_writer_and_takes_over_a_stale_lock(s3, s3_endpoint):
    import time

    from target_focus.lock import LOCK_PATH

    busy = {
        "run_id": "other-run",
        "host": "elsewhere",
        "pid": 1,
        "since": time.time(),
        "since_utc": "now",
    }
    s3.put_object(Bucket=BUCKET, Key=f"focus/{LOCK_PATH}", Body=json.dumps(busy).encode())
    with pytest.raises(TransientError) as info:
        run_target(
            s3_config(s3_endpoint, lock_wait_seconds=0.5), focus_messages([stripe_row("k1")])
        )
    assert "being written by another target-focus run (other-run on elsewhere" in str(info.value)
    assert PARTITION_KEY not in object_keys(s3)

    stale = {**busy, "since": time.time() - 7 * 3600}
    s3.put_object(Bucket=BUCKET, Key=f"focus/{LOCK_PATH}", Body=json.dumps(stale).encode())
    run_target(s3_config(s3_endpoint, lock_wait_seconds=0.5), focus_messages([stripe_row("k1")]))
    assert PARTITION_KEY in object_keys(s3)
    assert f"focus/{LOCK_PATH}" not in object_keys(s3)  # released at the end


def test_a_delivery_staged_in_many_parts_on_s3(s3, s3_endpoint, tmp_path, monkeypatch):
    """Staged parts, merged in rounds: the same file on S3 as in a local folder, and no
    staged object left."""
    from target_focus import dataset, merging
    from test_target_focus_deliveries import PARTITION, aws_row, delivery_messages

    monkeypatch.setattr(merging, "ROW_GROUP_ROWS", 16)
    monkeypatch.setattr(dataset, "ROW_GROUP_ROWS", 16)
    monkeypatch.setattr(merging, "READ_BUDGET_ROWS", 8)
    rows = [aws_row(f"r{i:03d}", "exec-1", day=1 + i % 9) for i in range(40)]
    messages = delivery_messages("exec-1", rows)
    run_target(s3_config(s3_endpoint, batch_size_rows=6), messages)
    run_target({"output_path": str(tmp_path), "batch_size_rows": 6}, messages)

    keys = object_keys(s3)
    assert f"focus/{PARTITION}" in keys
    assert not [key for key in keys if key.startswith("focus/_staging/")]
    assert read_object(s3, f"focus/{PARTITION}") == (tmp_path / PARTITION).read_bytes()
