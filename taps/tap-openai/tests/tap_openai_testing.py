"""Helpers and fixtures for tap-openai's tests: a fake OpenAI admin API and the real CLI.

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
from decimal import Decimal
from pathlib import Path

import pytest
from finfocus_sandbox.openai import FakeOpenAI, OpenAIDataset
from finfocus_sandbox.openai.dataset import DAY

ADMIN_KEY = "sk-admin-finfocusCanary0123456789"
PROJECT_KEY = "sk-proj-finfocusProjectCanary012345"
TAP = [sys.executable, "-m", "tap_openai.tap"]

#: stream -> (usage endpoint kind or "costs", group_by the tap asks for)
BUCKET_STREAMS = {
    "costs": ("costs", ("project_id", "line_item")),
    "usage_completions": (
        "completions",
        ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    ),
    "usage_embeddings": ("embeddings", ("project_id", "user_id", "api_key_id", "model")),
    "usage_moderations": ("moderations", ("project_id", "user_id", "api_key_id", "model")),
    "usage_images": (
        "images",
        ("project_id", "user_id", "api_key_id", "model", "size", "source"),
    ),
    "usage_audio_speeches": ("audio_speeches", ("project_id", "user_id", "api_key_id", "model")),
    "usage_audio_transcriptions": (
        "audio_transcriptions",
        ("project_id", "user_id", "api_key_id", "model"),
    ),
    "usage_vector_stores": ("vector_stores", ("project_id",)),
    "usage_code_interpreter_sessions": ("code_interpreter_sessions", ("project_id",)),
    "usage_file_search_calls": (
        "file_search_calls",
        ("project_id", "user_id", "api_key_id", "vector_store_id"),
    ),
    "usage_web_search_calls": (
        "web_search_calls",
        ("project_id", "user_id", "api_key_id", "model", "context_level"),
    ),
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
    def last_line(self) -> str:
        return self.stderr.strip().splitlines()[-1]


def run_tap(
    config: dict, tmp_path: Path, *args: str, state: dict | None = None, timeout: float = 300
) -> TapRun:
    """Run the real `tap-openai` CLI and parse what it wrote (numbers as exact Decimal)."""
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
            message = json.loads(line, parse_float=Decimal)
        except ValueError:
            continue  # --about and --discover print indented JSON, not messages
        if isinstance(message, dict) and "type" in message:
            messages.append(message)
    return TapRun(result.returncode, result.stdout, result.stderr, messages)


def make_dataset(**overrides: object) -> OpenAIDataset:
    options: dict = {"seed": 11, "days": 40, "projects": 4}
    options.update(overrides)
    return OpenAIDataset.generate(**options)


@pytest.fixture
def dataset() -> OpenAIDataset:
    return make_dataset()


@pytest.fixture
def fake(dataset: OpenAIDataset):
    server = FakeOpenAI(dataset, admin_keys={ADMIN_KEY}, api_keys={PROJECT_KEY})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(fake: FakeOpenAI, dataset: OpenAIDataset) -> dict:
    return tap_config(fake.url, dataset)


def tap_config(url: str, dataset: OpenAIDataset, **overrides: object) -> dict:
    config = {
        "admin_api_key": ADMIN_KEY,
        "api_url": url,
        "start_date": iso(dataset.first_day - 5 * DAY),
        "backoff_base_seconds": 0.05,
        "max_retries": 4,
        "request_timeout": 5,
    }
    config.update(overrides)
    return config


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected(dataset: OpenAIDataset, stream: str, start: int, end: int) -> dict[str, dict]:
    """What the fake holds for a bucket stream in [start, end), by the tap's record id."""
    kind, group_by = BUCKET_STREAMS[stream]
    if kind == "costs":
        buckets = dataset.costs(start, end, group_by)
    else:
        buckets = dataset.usage(kind, start, end, DAY, group_by)
    return {
        json.dumps([bucket, *(r[g] for g in group_by)], separators=(",", ":")): r
        for bucket, results in buckets.items()
        for r in results
    }
