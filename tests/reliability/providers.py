"""Every HTTP tap of finfocus, described once for the reliability suite.

A Provider knows how to build its fake API with a given key, the tap's CLI config and the
Meltano environment pointing at it, its main cost stream (where faults are injected) and
the key of a record, so every test runs the same way against every tap.

The key is a canary string. Most taps take it as it is (an API key, Azure's client
secret); tap-gcp takes a service-account key file, so for it the canary names an RSA key
pair made for the test: the fake knows the public half of the good one, and what must never
leak is the private key in the file (`Provider.secrets`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from finfocus_sandbox.anthropic import AnthropicDataset, FakeAnthropic
from finfocus_sandbox.azure import AzureDataset, FakeAzure
from finfocus_sandbox.gcp import FakeGCP, GCPBillingDataset
from finfocus_sandbox.gcp.app import DEFAULT_ACCOUNT
from finfocus_sandbox.openai import FakeOpenAI, OpenAIDataset
from finfocus_sandbox.stripe import FakeStripe, StripeDataset

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


#: tap-azure's pinned npm install of Azurite (Blob Storage), shared with its own tests.
AZURITE_DIR = Path(__file__).resolve().parents[2] / "taps" / "tap-azure" / "tests" / "azurite"


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
    #: fault kind -> regex of the endpoint that kind is injected at (default: `path`)
    fault_paths: Mapping[str, str] = field(default_factory=dict)
    #: the running fake -> settings known once it listens (an Entra ID login_url)
    live: Callable[[Any], dict[str, Any]] | None = None
    #: (running fake, key) -> the value of `key_setting` (default: the key itself)
    credential: Callable[[Any, str], str] | None = None
    #: key -> what must never show up anywhere (default: the key, its first and last 16)
    secret_parts: Callable[[str], list[str]] | None = None
    #: stream whose bookmarks say how far a run got (default: `stream`)
    state_stream: str = ""

    @property
    def tap(self) -> str:
        return f"tap-{self.name}"

    def fault_path(self, kind: str) -> str:
        return self.fault_paths.get(kind, self.path)

    def config(self, fake: Any, key: str, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            self.key_setting: self.credential(fake, key) if self.credential else key,
            "api_url": fake.url,
            "backoff_base_seconds": 0.05,
            "max_retries": 3,
            "request_timeout": 2,
            **(self.live(fake) if self.live else {}),
            **extra,
        }

    def secrets(self, key: str) -> list[str]:
        """The strings that must appear in no output, log, state or file."""
        if self.secret_parts is not None:
            return self.secret_parts(key)
        return [key, key[-16:], key[:16]]

    def leaked(self, key: str, *texts: str) -> list[str]:
        return [part for part in self.secrets(key) if any(part in text for text in texts)]

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
        return run_tap(f"tap_{self.name}.tap", config, tmp_path, *args, env=env)


def run_tap(
    module: str, config: dict, folder: Path, *args: str, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The tap's CLI with `config` (written into `folder`), as a user runs it."""
    path = folder / f"{module.split('.')[0]}-config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [sys.executable, "-m", module, "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env if env is not None else tap_env(),
    )


def tap_env(**extra: str) -> dict[str, str]:
    """The environment of a tap run: no ambient Google credentials or metadata server."""
    env = {**os.environ, "NO_GCE_CHECK": "True", **extra}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    return env


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


AZURE_CLIENT_ID = "5f0c9a3e-7b1d-4c2e-9f8a-1b2c3d4e5f60"
AZURE_WINDOWS = (
    "Microsoft\\.CostManagement/(generateCostDetailsReport|costDetailsOperationResults/)"
)


def _azure(key: str) -> tuple[Any, dict]:
    # 40 days: two calendar months, two metrics: four reports, each polled once.
    dataset = AzureDataset.generate(
        seed=34, days=40, agreement="EA", subscriptions=1, resources_per_subscription=6
    )
    fake = FakeAzure(
        dataset,
        client_id=AZURE_CLIENT_ID,
        client_secret=key,
        poll_retry_after=0,
        polls_before_ready=1,
    )
    return fake, {
        "tenant_id": dataset.tenant_id,
        "client_id": AZURE_CLIENT_ID,
        "scope": dataset.billing_account_scope,
        "agreement": "EA",
        "start_date": dataset.first_day.isoformat(),
    }


def azure_row_key(record: dict) -> str:
    """A cost details row by what it says, not by the report that carried it (a report
    generated again has a new id, its blobs new names)."""
    origin = {"report_id", "delivery_id", "blob"}
    return json.dumps(
        {k: v for k, v in record.items() if k not in origin}, sort_keys=True, default=str
    )


@functools.cache
def gcp_key(key: str) -> rsa.RSAPrivateKey:
    """The RSA key pair a canary names (made once per canary and run)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def gcp_key_id(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()  # noqa: S324 - an id, as Google's look


def gcp_pem(key: str) -> str:
    return (
        gcp_key(key)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def gcp_credentials(fake: FakeGCP, key: str) -> str:
    """The service-account key file of the fake's account, with the canary's key pair."""
    info = {
        **fake.credentials_info(),
        "private_key": gcp_pem(key),
        "private_key_id": gcp_key_id(key),
    }
    return json.dumps(info)


def gcp_secret_parts(key: str) -> list[str]:
    """Any line of the private key, the whole key, and the key file's private parts."""
    pem = gcp_pem(key)
    body = [line for line in pem.splitlines() if "PRIVATE KEY" not in line]
    return [pem.strip(), json.dumps(pem)[1:-1], *body, gcp_key_id(key)]


def _gcp(key: str) -> tuple[Any, dict]:
    dataset = GCPBillingDataset.generate(seed=35, days=6, projects=2, resources_per_project=3)
    fake = FakeGCP(dataset, page_bytes=40_000, projects=("finfocus-analytics",))
    fake.add_service_account(DEFAULT_ACCOUNT, private_key=gcp_key(key), key_id=gcp_key_id(key))
    start = dt.datetime.fromtimestamp(dataset.start // 1_000_000 - 86_400, tz=dt.UTC)
    return fake, {
        "project_id": "finfocus-analytics",
        "billing_table": fake.table_id("standard"),
        "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_days": 2,
        "page_size": 60,
    }


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
    Provider(
        "azure",
        "client_secret",
        "cost_details",
        AZURE_WINDOWS,
        _azure,
        azure_row_key,
        # A cut or empty answer where a body matters: the finished report's manifest. A
        # replay where it would do harm: the 202 of another month's report.
        fault_paths={
            "truncated_json": "costDetailsOperationResults/",
            "empty_page_has_more": "costDetailsOperationResults/",
            "repeat_page": "generateCostDetailsReport$",
        },
        live=lambda fake: {"login_url": fake.url},
        state_stream="deliveries",
    ),
    Provider(
        "gcp",
        "credentials",
        "billing_export",
        r"/queries",
        _gcp,
        lambda r: r["row_key"],
        credential=gcp_credentials,
        secret_parts=gcp_secret_parts,
    ),
]
KEYS = {
    "stripe": "sk_test_{}",
    "openai": "sk-admin-{}",
    "anthropic": "sk-ant-admin01-{}",
    "azure": "{}~Az8Q",
    "gcp": "gcp-key-{}",
}


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
