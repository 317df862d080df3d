"""`meltano run tap-openai focus target-focus` and the same for tap-anthropic.

Each against its fake: BilledCost reconciles exactly with the API's own cost totals, a
second (incremental) run changes nothing, and restated recent days replace their rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.anthropic import AnthropicDataset, FakeAnthropic
from finfocus_sandbox.openai import FakeOpenAI, OpenAIDataset

pytestmark = pytest.mark.integration
DAY = 86400
OPENAI_KEY = "sk-admin-finfocusPipelineCanary"
ANTHROPIC_KEY = "sk-ant-admin01-finfocusPipelineCanary"


def rows(path) -> list[dict]:
    return pads.dataset(path / "data", format="parquet", partitioning="hive").to_table().to_pylist()


def billed(found: list[dict]) -> Decimal:
    return sum((r["BilledCost"] for r in found), Decimal(0))


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_openai_costs_reconcile_and_restated_days_replace(meltano, tmp_path):
    dataset = OpenAIDataset.generate(seed=3, days=40, projects=3)
    with FakeOpenAI(dataset, admin_keys={OPENAI_KEY}) as fake:
        env = {
            "TAP_OPENAI_API_URL": fake.url,
            "TAP_OPENAI_ADMIN_API_KEY": OPENAI_KEY,
            "TAP_OPENAI_START_DATE": iso(dataset.first_day),
        }
        first = meltano.ok("run", "tap-openai", "focus", "target-focus", extra_env=env)
        assert OPENAI_KEY not in first.stdout + first.stderr
        everything = dataset.cost_total(dataset.first_day, dataset.first_day + 400 * DAY)
        found = rows(tmp_path / "focus")
        assert billed(found) == everything
        keys = [r["x_RowKey"] for r in found]
        assert len(keys) == len(set(keys))
        assert {r["ServiceProviderName"] for r in found} == {"OpenAI"}
        assert {r["x_SourceProvider"] for r in found} == {"openai"}

        meltano.ok("run", "tap-openai", "focus", "target-focus", extra_env=env)
        assert sorted(r["x_RowKey"] for r in rows(tmp_path / "focus")) == sorted(keys)

        dataset.restate(days=2)
        restated_total = dataset.cost_total(dataset.first_day, dataset.first_day + 400 * DAY)
        assert restated_total != everything
        meltano.ok("run", "tap-openai", "focus", "target-focus", extra_env=env)
        found = rows(tmp_path / "focus")
        assert billed(found) == restated_total
        assert len(found) == len(keys)


def test_anthropic_costs_reconcile_and_restated_days_replace(meltano, tmp_path):
    dataset = AnthropicDataset.generate(seed=4, days=40, workspaces=3)
    with FakeAnthropic(dataset, admin_keys={ANTHROPIC_KEY}) as fake:
        env = {
            "TAP_ANTHROPIC_API_URL": fake.url,
            "TAP_ANTHROPIC_ADMIN_API_KEY": ANTHROPIC_KEY,
            "TAP_ANTHROPIC_START_DATE": iso(dataset.start),
        }
        first = meltano.ok("run", "tap-anthropic", "focus", "target-focus", extra_env=env)
        assert ANTHROPIC_KEY not in first.stdout + first.stderr
        found = rows(tmp_path / "focus")
        # Cents as decimal strings, converted without float.
        assert billed(found) == dataset.total_cost_cents().scaleb(-2)
        keys = [r["x_RowKey"] for r in found]
        assert len(keys) == len(set(keys))
        assert {r["x_SourceProvider"] for r in found} == {"anthropic"}

        meltano.ok("run", "tap-anthropic", "focus", "target-focus", extra_env=env)
        assert sorted(r["x_RowKey"] for r in rows(tmp_path / "focus")) == sorted(keys)

        dataset.restate(days=2)
        meltano.ok("run", "tap-anthropic", "focus", "target-focus", extra_env=env)
        found = rows(tmp_path / "focus")
        assert billed(found) == dataset.total_cost_cents().scaleb(-2)
        assert len(found) == len(keys)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_ai_output_passes_the_finops_foundation_validator(meltano, tmp_path, provider):
    import subprocess
    from pathlib import Path

    validator = Path(__file__).resolve().parents[2] / "shared" / "tools" / "focus-validate"
    env = {"MAPPER_FOCUS_FOCUS_VERSION": "1.2", "TARGET_FOCUS_FOCUS_VERSION": "1.2"}
    if provider == "openai":
        dataset = OpenAIDataset.generate(seed=5, days=10, projects=2)
        fake = FakeOpenAI(dataset, admin_keys={OPENAI_KEY})
        env |= {
            "TAP_OPENAI_ADMIN_API_KEY": OPENAI_KEY,
            "TAP_OPENAI_START_DATE": iso(dataset.first_day),
        }
    else:
        dataset = AnthropicDataset.generate(seed=5, days=10, workspaces=2)
        fake = FakeAnthropic(dataset, admin_keys={ANTHROPIC_KEY})
        env |= {
            "TAP_ANTHROPIC_ADMIN_API_KEY": ANTHROPIC_KEY,
            "TAP_ANTHROPIC_START_DATE": iso(dataset.start),
        }
    with fake:
        env[f"TAP_{provider.upper()}_API_URL"] = fake.url
        meltano.ok("run", f"tap-{provider}", "focus", "target-focus", extra_env=env)
    files = sorted((tmp_path / "focus" / "data").rglob("*.parquet"))
    assert files
    result = subprocess.run(
        [str(validator), "--version", "1.2", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
