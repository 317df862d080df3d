"""Helpers and fixtures for tap-stripe's tests: a fake Stripe API and the real CLI.

A module of its own (not conftest.py) so tests can import from it by a unique name when
every package's tests run in one pytest session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from finfocus_sandbox.stripe import FakeStripe, StripeDataset

API_KEY = "sk_test_finfocusCanary0123456789"
CONNECTED = ["acct_1FinfocusJapan01", "acct_1FinfocusEuro001"]
TAP = [sys.executable, "-m", "tap_stripe.tap"]


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
    def streams(self) -> set[str]:
        return {m["stream"] for m in self.messages if m["type"] == "RECORD"}


def run_tap(
    config: dict, tmp_path: Path, *args: str, state: dict | None = None, timeout: float = 300
) -> TapRun:
    """Run the real `tap-stripe` CLI and parse what it wrote."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    command = [*TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    env = {**os.environ, "LOGLEVEL": os.environ.get("LOGLEVEL", "INFO")}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    messages = []
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue  # --about and --discover print indented JSON, not messages
        if isinstance(message, dict) and "type" in message:
            messages.append(message)
    return TapRun(result.returncode, result.stdout, result.stderr, messages)


def make_dataset(**overrides: object) -> StripeDataset:
    options: dict = {
        "seed": 7,
        "days": 100,
        "balance_transactions": 400,
        "connected_accounts": CONNECTED,
    }
    options.update(overrides)
    return StripeDataset.generate(**options)


@pytest.fixture
def dataset() -> StripeDataset:
    return make_dataset()


@pytest.fixture
def fake(dataset: StripeDataset):
    server = FakeStripe(dataset, api_keys={API_KEY})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(fake: FakeStripe, dataset: StripeDataset) -> dict:
    return tap_config(fake.url, dataset)


STREAM_KINDS = {
    "balance_transactions": "balance_transaction",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "invoices": "invoice",
    "credit_notes": "credit_note",
    "customers": "customer",
    "subscriptions": "subscription",
    "products": "product",
    "prices": "price",
    "application_fees": "application_fee",
    "transfers": "transfer",
    "events": "event",
}


def expected_ids(dataset: StripeDataset, stream: str, since: int | None = None) -> set:
    """(account, id) of every object the fake holds for a stream (events: since `since`)."""
    kind = STREAM_KINDS[stream]
    return {
        (account, obj["id"])
        for account in dataset.account_ids
        for obj in dataset.objects(kind, account)
        if since is None or int(obj["created"]) >= since
    }


def tap_config(url: str, dataset: StripeDataset, **overrides: object) -> dict:
    config = {
        "api_key": API_KEY,
        "api_url": url,
        "start_date": _iso(dataset.now - 86400 * (dataset.days + 60)),
        "account_ids": CONNECTED,
        "window_days": 30,
        "backoff_base_seconds": 0.05,
        "max_retries": 4,
        "request_timeout": 5,
    }
    config.update(overrides)
    return config


def _iso(seconds: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
