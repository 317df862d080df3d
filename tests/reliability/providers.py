"""Every HTTP tap of finfocus, described once for the reliability suite.

A Provider knows how to build its fake API with a given key, the tap's CLI config and the
Meltano environment pointing at it, its main cost stream (where faults are injected) and
the key of a record, so every test runs the same way against every tap.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finfocus_sandbox.anthropic import AnthropicDataset, FakeAnthropic
from finfocus_sandbox.openai import FakeOpenAI, OpenAIDataset
from finfocus_sandbox.stripe import FakeStripe, StripeDataset

if TYPE_CHECKING:
    from collections.abc import Callable


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Provider:
    name: str  # tap-<name>
    key_setting: str
    stream: str  # main cost stream
    path: str  # regex of its endpoint, for faults
    make: Callable[[str], tuple[Any, dict[str, Any]]]  # key -> (fake, extra tap config)
    record_key: Callable[[dict], Any]

    @property
    def tap(self) -> str:
        return f"tap-{self.name}"

    def config(self, fake: Any, key: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            self.key_setting: key,
            "api_url": fake.url,
            "backoff_base_seconds": 0.05,
            "max_retries": 3,
            "request_timeout": 2,
            **extra,
        }

    def meltano_env(self, fake: Any, key: str, extra: dict[str, Any]) -> dict[str, str | None]:
        prefix = self.tap.upper().replace("-", "_")
        env = {
            f"{prefix}_{k.upper()}": (v if isinstance(v, str) else json.dumps(v))
            for k, v in self.config(fake, key, extra).items()
        }
        for name, value in self.config(fake, key, extra).items():
            if value == []:  # Meltano ignores an empty array from the environment: unset it
                env[f"{prefix}_{name.upper()}"] = None  # type: ignore[assignment]
        env[f"{prefix}_REQUEST_TIMEOUT"] = "10"
        # Meltano 4.4.1 cannot pass a decimal setting given as an environment variable.
        env.pop(f"{prefix}_BACKOFF_BASE_SECONDS", None)
        return env

    def run_cli(
        self, config: dict, tmp_path: Path, *args: str, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        path = tmp_path / f"{self.name}-config.json"
        path.write_text(json.dumps(config))
        module = f"tap_{self.name}.tap"
        return subprocess.run(
            [sys.executable, "-m", module, "--config", str(path), *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env=env,
        )


def _stripe(key: str) -> tuple[Any, dict]:
    dataset = StripeDataset.generate(seed=31, days=45, balance_transactions=150)
    return FakeStripe(dataset, api_keys={key}), {
        "start_date": iso(dataset.now - 86400 * 80),
        "window_days": 30,
        "account_ids": [],
    }


def _openai(key: str) -> tuple[Any, dict]:
    dataset = OpenAIDataset.generate(seed=32, days=20, projects=2)
    return FakeOpenAI(dataset, admin_keys={key}), {"start_date": iso(dataset.first_day)}


def _anthropic(key: str) -> tuple[Any, dict]:
    dataset = AnthropicDataset.generate(seed=33, days=70, workspaces=2)  # several windows
    return FakeAnthropic(dataset, admin_keys={key}), {"start_date": iso(dataset.start)}


PROVIDERS = [
    Provider(
        "stripe",
        "api_key",
        "balance_transactions",
        r"^/v1/balance_transactions$",
        _stripe,
        lambda r: (r["account_id"], r["id"]),
    ),
    Provider(
        "openai",
        "admin_api_key",
        "costs",
        r"^/v1/organization/costs$",
        _openai,
        lambda r: json.dumps(r["id"]),
    ),
    Provider(
        "anthropic",
        "admin_api_key",
        "cost_report",
        r"^/v1/organizations/cost_report$",
        _anthropic,
        lambda r: r["record_key"],
    ),
]
KEYS = {"stripe": "sk_test_{}", "openai": "sk-admin-{}", "anthropic": "sk-ant-admin01-{}"}


def canary(provider: Provider, label: str = "Canary") -> str:
    return KEYS[provider.name].format(f"finfocus{label}7c3d9e2a41b8")


def records(stdout: str, stream: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(message, dict)
            and message.get("type") == "RECORD"
            and message.get("stream") == stream
        ):
            out.append(message["record"])
    return out
