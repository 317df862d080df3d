"""Helpers and fixtures for tap-aws's tests: moto in server mode as S3, and the real CLI.

A module of its own (not conftest.py) so tests can import from it by a unique name when
every package's tests run in one pytest session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from finfocus_sandbox.aws import amortized_cost
from finfocus_sandbox.aws.server import moto_s3

KEY_ID = "AKIAFINFOCUSCANARY01"
SECRET = "finfocusCanarySecret0123456789abcdefXYZ"
TAP = [sys.executable, "-m", "tap_aws.tap"]
UNBLENDED = {
    "cur2": "line_item_unblended_cost",
    "cur": "lineItem/UnblendedCost",
    "cur_parquet": "line_item_unblended_cost",
    "focus": "BilledCost",
}


@dataclass
class TapRun:
    returncode: int
    stdout: str
    stderr: str
    messages: list[dict] = field(default_factory=list)

    def records(self, stream: str) -> list[dict]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def schemas(self, stream: str) -> list[dict]:
        return [
            m["schema"] for m in self.messages if m["type"] == "SCHEMA" and m["stream"] == stream
        ]

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict:
        return self.states[-1]


def run_tap(
    config: dict, tmp_path: Path, *args: str, state: dict | None = None, timeout: float = 300
) -> TapRun:
    """Run the real `tap-aws` CLI and parse what it wrote (numbers as exact Decimals)."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [*TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    env = {**os.environ, "LOGLEVEL": os.environ.get("LOGLEVEL", "INFO")}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    messages = []
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line, parse_float=Decimal)
        except ValueError:
            continue  # --about and --discover print indented JSON, not messages
        if isinstance(message, dict) and "type" in message:
            messages.append(message)
    return TapRun(result.returncode, result.stdout, result.stderr, messages)


def tap_config(url: str, bucket: str, **overrides: object) -> dict:
    config: dict = {
        "bucket": bucket,
        "prefix": "billing/exports",
        "endpoint_url": url,
        "aws_access_key_id": KEY_ID,
        "aws_secret_access_key": SECRET,
        "max_attempts": 3,
        "request_timeout": 10,
    }
    config.update(overrides)
    return config


def client(url: str, service: str = "s3", key: str = KEY_ID, secret: str = SECRET):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def decimal_sum(records: list[dict], column: str) -> Decimal:
    return sum((Decimal(str(r[column])) for r in records if r.get(column) is not None), Decimal(0))


def amortized_of_cur2(records: list[dict]) -> Decimal:
    """AWS's amortized-cost formula over CUR 2.0 records, as the generator computes it."""
    return sum((amortized_cost(_decimals(r)) for r in records), Decimal(0))


def _decimals(record: dict) -> dict:
    return {
        k: Decimal(str(v)) if isinstance(v, (int, float, Decimal)) else v for k, v in record.items()
    }


@pytest.fixture(scope="session")
def moto_url():
    with moto_s3() as url:
        yield url


@pytest.fixture
def s3(moto_url):
    return client(moto_url)


@pytest.fixture
def bucket(s3) -> str:
    name = f"finfocus-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
