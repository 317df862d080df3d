"""Helpers and fixtures for tap-anthropic's tests: a fake Anthropic Admin API and the real CLI.

A module of its own (not conftest.py) so tests can import from it by a unique name when
every package's tests run in one pytest session.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from finfocus_sandbox.anthropic import AnthropicDataset, FakeAnthropic
from finfocus_sandbox.anthropic.dataset import rfc3339

ADMIN_KEY = "sk-ant-admin01-finfocusCanary0123456789"
TAP = [sys.executable, "-m", "tap_anthropic.tap"]
STREAMS = ("cost_report", "usage_report_messages", "workspaces", "api_keys")


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

    def last_error_line(self) -> str:
        lines = [
            line for line in self.stderr.strip().splitlines() if line.startswith("tap-anthropic:")
        ]
        assert len(lines) == 1, self.stderr[-3000:]
        return lines[0]


def run_tap(
    config: dict, tmp_path: Path, *args: str, state: dict | None = None, timeout: float = 300
) -> TapRun:
    """Run the real `tap-anthropic` CLI and parse what it wrote."""
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


def make_dataset(**overrides: object) -> AnthropicDataset:
    options: dict = {"seed": 7, "days": 70, "workspaces": 3}
    options.update(overrides)
    return AnthropicDataset.generate(**options)


def tap_config(url: str, dataset: AnthropicDataset, **overrides: object) -> dict:
    config = {
        "admin_api_key": ADMIN_KEY,
        "api_url": url,
        "start_date": rfc3339(dataset.start - 5 * 86_400),
        "backoff_base_seconds": 0.05,
        "max_retries": 4,
        "request_timeout": 5,
    }
    config.update(overrides)
    return config


def day(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def anthropic_dataset() -> AnthropicDataset:
    return make_dataset()


@pytest.fixture
def anthropic_fake(anthropic_dataset: AnthropicDataset):
    server = FakeAnthropic(anthropic_dataset, admin_keys={ADMIN_KEY})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def anthropic_config(anthropic_fake: FakeAnthropic, anthropic_dataset: AnthropicDataset) -> dict:
    return tap_config(anthropic_fake.url, anthropic_dataset)
