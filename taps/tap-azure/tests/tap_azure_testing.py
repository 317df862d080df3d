"""Helpers and fixtures for tap-azure's tests: the fake Azure, Azurite, and the real CLI.

A module of its own (not conftest.py) so tests import from it by a unique name when every
package's tests run in one pytest session.

Azurite comes from the npm package pinned in ./azurite (package.json + package-lock.json);
`azurite_server` installs it with `npm ci --prefix <that dir>` if it is missing, starts
`azurite-blob` on 127.0.0.1 with a free port and its own temporary folder, and stops it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from finfocus_sandbox.azure import AzureDataset, Azurite, FakeAzure

AZURITE_DIR = Path(__file__).parent / "azurite"
CLIENT_ID = "5f0c9a3e-7b1d-4c2e-9f8a-1b2c3d4e5f60"
SECRET = "finfocusCanarySecret~0123456789abcdefXYZ"
TAP = [sys.executable, "-m", "tap_azure.tap"]


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

    def order(self) -> list[str]:
        """Stream of every RECORD message, in the order written."""
        return [m["stream"] for m in self.messages if m["type"] == "RECORD"]


def run_tap(
    config: dict, tmp_path: Path, *args: str, state: dict | None = None, timeout: float = 300
) -> TapRun:
    """Run the real `tap-azure` CLI and parse what it wrote (numbers as exact Decimals)."""
    config_file = tmp_path / f"config-{uuid.uuid4().hex[:8]}.json"
    config_file.write_text(json.dumps(config))
    command = [*TAP, "--config", str(config_file), *args]
    if state is not None:
        state_file = tmp_path / f"state-{uuid.uuid4().hex[:8]}.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    env = {**os.environ, "LOGLEVEL": os.environ.get("LOGLEVEL", "INFO")}
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


def make_dataset(**overrides: object) -> AzureDataset:
    options: dict = {"seed": 5, "days": 40, "agreement": "EA", "subscriptions": 2,
                     "resources_per_subscription": 7}  # fmt: skip
    options.update(overrides)
    return AzureDataset.generate(**options)


def scope_of(dataset: AzureDataset) -> str:
    return dataset.billing_account_scope


def tap_config(fake: FakeAzure, dataset: AzureDataset, **overrides: object) -> dict:
    config: dict = {
        "tenant_id": dataset.tenant_id,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": scope_of(dataset),
        "login_url": fake.url,
        "api_url": fake.url,
        "agreement": dataset.agreement,
        "start_date": dataset.first_day.isoformat(),
        "backoff_base_seconds": 0.05,
        "max_retries": 3,
        "request_timeout": 10,
    }
    config.update(overrides)
    return config


def exports_config(azurite: Azurite, container: str, **overrides: object) -> dict:
    config: dict = {
        "storage_connection_string": azurite.connection_string,
        "container": container,
        "prefix": "exports",
        "backoff_base_seconds": 0.05,
        "max_retries": 2,
        "request_timeout": 10,
    }
    config.update(overrides)
    return config


def decimal_sum(records: list[dict], column: str) -> Decimal:
    return sum((Decimal(str(r[column])) for r in records if r.get(column) is not None), Decimal(0))


def end_of_data(dataset: AzureDataset) -> dt.date:
    return dataset.today + dt.timedelta(days=1)


def start_fake(dataset: AzureDataset, **options: object) -> FakeAzure:
    settings: dict = {"poll_retry_after": 0, "polls_before_ready": 0}
    settings.update(options)
    fake = FakeAzure(dataset, client_id=CLIENT_ID, client_secret=SECRET, **settings)
    fake.start()
    return fake


@pytest.fixture
def azure_dataset() -> AzureDataset:
    return make_dataset()


@pytest.fixture
def fake_azure(azure_dataset: AzureDataset):
    fake = start_fake(azure_dataset)
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def azurite_server():
    """Azurite from the local npm install, on loopback, a free port, its own folder."""
    with Azurite(AZURITE_DIR) as server:
        yield server


@pytest.fixture
def blob_container(azurite_server: Azurite):
    """A fresh, empty container in Azurite: (ContainerClient, name)."""
    service = BlobServiceClient.from_connection_string(azurite_server.connection_string)
    name = f"exports-{uuid.uuid4().hex[:12]}"
    container = service.create_container(name)
    yield container, name
    container.delete_container()
