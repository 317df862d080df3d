"""Helpers and fixtures for tap-gcp's tests: the sandbox's fake BigQuery, and the real CLI.

A module of its own (not conftest.py) so tests can import from it by a unique name when
every package's tests run in one pytest session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from finfocus_sandbox.gcp import FakeGCP, GCPBillingDataset

TAP = [sys.executable, "-m", "tap_gcp.tap"]
STREAMS = {
    "billing_export": "standard",
    "billing_export_resource": "resource",
    "focus_export": "focus",
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

    @property
    def states(self) -> list[dict]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict:
        return self.states[-1]

    def failure_line(self, secrets: tuple[str, ...] = ()) -> str:
        lines = [line for line in self.stderr.splitlines() if line.startswith("tap-gcp: ")]
        assert len(lines) == 1, self.stderr[-3000:]
        for secret in secrets:
            assert secret not in self.stderr
            assert secret not in self.stdout
        return lines[0]

    def scan_lines(self, stream: str) -> list[str]:
        return [
            line
            for line in self.stderr.splitlines()
            if f"{stream}: query " in line and " scanned " in line
        ]


def run_tap(
    config: dict,
    tmp_path: Path,
    *args: str,
    state: dict | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run the real `tap-gcp` CLI and parse what it wrote (numbers as exact Decimals)."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [*TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    # No metadata server probing, no gcloud ADC file, no ambient key: only what the test says.
    environment = {**os.environ, "LOGLEVEL": "INFO", "NO_GCE_CHECK": "True", "HOME": str(tmp_path)}
    environment.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    environment.update(env or {})
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=environment, check=False
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


def tap_config(
    fake: FakeGCP,
    *,
    streams: tuple[str, ...] = ("standard", "resource", "focus"),
    **overrides: object,
) -> dict:
    config: dict = {
        "project_id": "finfocus-analytics",
        "credentials": json.dumps(fake.credentials_info()),
        "api_url": fake.api_url,
        "start_date": "2020-01-01T00:00:00Z",
        "window_days": 4,
        "max_retries": 3,
        "backoff_base_seconds": 0.01,
        "request_timeout": 20,
        "page_size": 150,
    }
    settings = {
        "standard": "billing_table",
        "resource": "resource_billing_table",
        "focus": "focus_table",
    }
    for kind in streams:
        config[settings[kind]] = fake.table_id(kind)
    config["start_date"] = first_export(fake)
    config.update(overrides)
    return config


def first_export(fake: FakeGCP) -> str:
    """A start_date just before the dataset's first usage (few empty partitions to read)."""
    start = fake.dataset.start // 1_000_000 - 86_400
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))


def month_sums(records: list[dict], kind: str) -> dict[str, dict[str, Decimal]]:
    """Exact sums of records by invoice month and cost type, as the fake computes them."""
    import datetime as dt

    from finfocus_sandbox.gcp.dataset import focus_invoice_month, micros

    sums: dict[str, dict[str, Decimal]] = {}
    for record in records:
        if kind == "focus":
            start = dt.datetime.fromisoformat(record["BillingPeriodStart"].replace("Z", "+00:00"))
            month = focus_invoice_month(micros(start))
            cost_type = record["x_CostType"]
            total = Decimal(str(record["BilledCost"]))
        else:
            month = record["invoice"]["month"]
            cost_type = record["cost_type"]
            total = Decimal(str(record["cost"])) + sum(
                (Decimal(str(c["amount"])) for c in record["credits"] or []), Decimal(0)
            )
        by_type = sums.setdefault(month, {})
        by_type[cost_type] = by_type.get(cost_type, Decimal(0)) + total
    return sums


def fake_sums(fake: FakeGCP, kind: str) -> dict[str, dict[str, Decimal]]:
    return {
        month: {cost_type: t.total for cost_type, t in by_type.items()}
        for month, by_type in fake.dataset.totals(kind).items()
    }


def latest_by_key(*runs: TapRun, stream: str) -> list[dict]:
    """What a target that upserts by row_key holds after loading the runs in order."""
    kept: dict[str, dict] = {}
    for run in runs:
        for record in run.records(stream):
            kept[record["row_key"]] = record
    return list(kept.values())


def new_dataset(**overrides: object) -> GCPBillingDataset:
    options: dict = {"seed": 11, "days": 6, "projects": 3, "resources_per_project": 4}
    options.update(overrides)
    return GCPBillingDataset.generate(**options)


@pytest.fixture
def dataset() -> GCPBillingDataset:
    return new_dataset()


@pytest.fixture
def fake(dataset):
    with FakeGCP(dataset, page_bytes=40_000) as server:
        yield server
