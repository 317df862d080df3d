"""Failures: one clear line, the right exit code, and never a secret."""

from __future__ import annotations

import json

import moto.settings
import pytest
from finfocus_sandbox.aws import write_cur2_delivery
from finfocus_sandbox.aws.server import FaultyAWS
from finfocus_sandbox.faults import Fault
from tap_aws_testing import SECRET, client, run_tap, tap_config

PREFIX = "billing/exports"


def _failure_line(run) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("tap-aws: ")]
    assert len(lines) == 1, run.stderr[-2000:]
    assert SECRET not in run.stderr
    assert SECRET not in run.stdout
    return lines[0]


@pytest.fixture
def auth_enforced():
    """moto checks signatures and IAM policies while this fixture is active."""
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    yield
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")


def test_missing_bucket(moto_url, tmp_path):
    run = run_tap(tap_config(moto_url, "finfocus-no-such-bucket"), tmp_path)
    assert run.returncode == 2
    line = _failure_line(run)
    assert "bucket 'finfocus-no-such-bucket' does not exist" in line


def test_wrong_prefix(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=10, seed=1)
    run = run_tap(tap_config(moto_url, bucket, prefix="billing/typo"), tmp_path)
    assert run.returncode == 2
    assert f"no manifests found under s3://{bucket}/billing/typo/" in _failure_line(run)
    run = run_tap(tap_config(moto_url, bucket, export_name="nope"), tmp_path)
    assert run.returncode == 2
    assert "no export 'nope' manifests found" in _failure_line(run)


def test_bad_credentials(moto_url, s3, bucket, tmp_path, auth_enforced):
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 2
    line = _failure_line(run)
    assert "AWS rejected the credentials (InvalidAccessKeyId)" in line
    assert f"s3://{bucket}/" in line


def test_denied_access(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=10, seed=1)
    iam = client(moto_url, "iam")
    user = f"lister-{bucket[-6:]}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="list-only", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    config = tap_config(
        moto_url,
        bucket,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        run = run_tap(config, tmp_path)
    finally:
        moto.settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    assert run.returncode == 2
    line = _failure_line(run)
    assert "access denied (AccessDenied) reading s3://" in line
    assert "-Manifest.json" in line
    assert key["SecretAccessKey"] not in run.stderr


def test_throttling_and_5xx_are_retried(moto_url, s3, bucket, tmp_path):
    delivery = write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=40, seed=1)
    with FaultyAWS() as aws:
        aws.faults.add(
            Fault(kind="rate_limit", path=r"-Manifest\.json$", times=2),
            Fault(kind="server_error", path=r"\.parquet$", status=503, times=1),
            Fault(kind="server_error", path=rf"^/{bucket}$", status=500, times=1),
        )
        run = run_tap(tap_config(aws.url, bucket, max_attempts=5), tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        assert aws.faults.injected == {"rate_limit": 2, "server_error": 2}
    assert len(run.records("cur2_line_items")) == delivery.totals.rows


def test_persistent_5xx_exits_75(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=10, seed=1)
    with FaultyAWS() as aws:
        aws.faults.add(Fault(kind="server_error", path=r"\.parquet$", status=503, times=None))
        run = run_tap(tap_config(aws.url, bucket, max_attempts=2), tmp_path)
    assert run.returncode == 75
    line = _failure_line(run)
    assert "AWS kept failing" in line
    assert ".parquet" in line


def test_secrets_not_in_state_or_logs(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=10, seed=1)
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 0
    assert SECRET not in run.stdout
    assert SECRET not in run.stderr


def test_invalid_config_is_one_line(moto_url, tmp_path):
    run = run_tap(tap_config(moto_url, "b", export_kind="cur3", endpoint_url="ftp://x"), tmp_path)
    assert run.returncode == 2
    line = _failure_line(run)
    assert "invalid config" in line
