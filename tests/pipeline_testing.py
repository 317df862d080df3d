"""Cross-plugin fixtures: a throwaway PostgreSQL, a fake Stripe API, and `meltano` itself.

A module of its own (not conftest.py), imported by a unique name, so it cannot be confused
with another package's conftest when all tests run in one session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from finfocus_sandbox.stripe import FakeStripe, StripeDataset

sys.path.insert(0, str(Path(__file__).parent))
from pgcluster import PgCluster, start_cluster

ROOT = Path(__file__).resolve().parents[1]
STRIPE_KEY = "sk_test_finfocusIntegration42"
CONNECTED = ["acct_1FinfocusJapan01", "acct_1FinfocusEuro001"]
MELTANO = str(Path(sys.executable).with_name("meltano"))
QUIET = {
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
}


@pytest.fixture(scope="session")
def pg_cluster():
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@dataclass
class Database:
    cluster: PgCluster
    name: str

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def count(self, table: str) -> int:
        return int(self.query(f"select count(*) from {table}")[0][0])


@pytest.fixture
def database(pg_cluster: PgCluster) -> Database:
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    return Database(pg_cluster, name)


@pytest.fixture
def stripe_dataset() -> StripeDataset:
    return StripeDataset.generate(
        seed=11, days=90, balance_transactions=300, connected_accounts=CONNECTED
    )


@pytest.fixture
def fake_stripe(stripe_dataset: StripeDataset):
    fake = FakeStripe(stripe_dataset, api_keys={STRIPE_KEY})
    fake.start()
    yield fake
    fake.stop()


@dataclass
class Meltano:
    """`meltano` run in the repository's project, with its own state database."""

    env: dict[str, str]

    def run(self, *args: str, timeout: float = 600, extra_env: dict | None = None):
        env = {**os.environ, **QUIET, **self.env, **(extra_env or {})}
        env = {k: v for k, v in env.items() if v is not None}  # None: unset it
        return subprocess.run(
            [MELTANO, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-4000:]}"
        return result


@pytest.fixture(scope="session")
def meltano_installed() -> None:
    result = subprocess.run(
        [MELTANO, "install"],
        cwd=ROOT,
        env={**os.environ, **QUIET},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def own_meltano(tmp_path: Path, **env: str) -> Meltano:
    """`meltano` with its own state database and its own system folder, whose plugin folders
    link to the project's: plugins installed once are shared (`meltano run` installs a
    missing or changed one itself), but the config, catalog and state files Meltano hands
    its plugins live under this test's folder. `meltano install` (the `meltano_installed`
    fixture of any concurrent test session) empties .meltano/run/<plugin> of the project,
    which fails pipelines running there at that moment."""
    sys_dir = tmp_path / "meltano-sys"
    sys_dir.mkdir(exist_ok=True)
    for kind in ("extractors", "loaders", "mappers"):
        shared = ROOT / ".meltano" / kind
        shared.mkdir(parents=True, exist_ok=True)
        link = sys_dir / kind
        if not link.exists():
            link.symlink_to(shared, target_is_directory=True)
    return Meltano(
        {
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            "MELTANO_ENVIRONMENT": "dev",
            **env,
        }
    )


@pytest.fixture
def meltano(meltano_installed, tmp_path, fake_stripe, stripe_dataset, database) -> Meltano:
    start = stripe_dataset.now - 86400 * (stripe_dataset.days + 30)
    env = {
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "MELTANO_ENVIRONMENT": "dev",
        "TAP_STRIPE_API_URL": fake_stripe.url,
        "TAP_STRIPE_API_KEY": STRIPE_KEY,
        "TAP_STRIPE_START_DATE": _iso(start),
        "TAP_STRIPE_ACCOUNT_IDS": json.dumps(CONNECTED),
        "TAP_STRIPE_WINDOW_DAYS": "30",
        "TARGET_POSTGRES_HOST": database.cluster.host,
        "TARGET_POSTGRES_PORT": str(database.cluster.port),
        "TARGET_POSTGRES_USER": database.cluster.user,
        "TARGET_POSTGRES_PASSWORD": "unused",
        "TARGET_POSTGRES_DATABASE": database.name,
        "TAP_POSTGRES_HOST": database.cluster.host,
        "TAP_POSTGRES_PORT": str(database.cluster.port),
        "TAP_POSTGRES_USER": database.cluster.user,
        "TAP_POSTGRES_PASSWORD": "unused",
        "TAP_POSTGRES_DATABASE": database.name,
        "TARGET_FOCUS_OUTPUT_PATH": str(tmp_path / "focus"),
    }
    return Meltano(env)


def _iso(seconds: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
