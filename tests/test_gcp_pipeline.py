"""`meltano run gcp-focus` (tap-gcp | focus | target-focus) against the fake BigQuery.

tap-gcp reads the billing export tables through the real google-cloud-bigquery client
(service-account JWT at the fake's token endpoint, jobs, paged results). The standard,
detailed (resource) and FOCUS tables each extract in full and map; per invoice month,
sum(BilledCost) of each source is exactly what Google's invoice charges: cost plus
credits over every row (the fake's month_totals). The output passes the FinOps
Foundation's validator.

Google's export is append-only: a re-rating of some usage is a new row (same usage, a
later export_time, the difference in cost). An incremental run re-reads its lookback with
the same keys (x_RowKey from the tap's row_key), so nothing doubles, and adds the
re-rating as its own row: the usage's rows then add up to its corrected amount.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.gcp import FakeGCP, GCPBillingDataset
from finfocus_sandbox.gcp.dataset import exact
from pipeline_testing import ROOT, Meltano, own_meltano

pytestmark = pytest.mark.integration
VALIDATOR = ROOT.parent / "shared" / "tools" / "focus-validate"
V12 = {"MAPPER_FOCUS_FOCUS_VERSION": "1.2", "TARGET_FOCUS_FOCUS_VERSION": "1.2"}
#: FOCUS stream -> the fake's table kind.
SOURCES = {
    "billing_export": "standard",
    "billing_export_resource": "resource",
    "focus_export": "focus",
}


def gcp_env(fake: FakeGCP, tmp_path: Path, *kinds: str) -> dict[str, str | None]:
    settings = {
        "standard": "TAP_GCP_BILLING_TABLE",
        "resource": "TAP_GCP_RESOURCE_BILLING_TABLE",
        "focus": "TAP_GCP_FOCUS_TABLE",
    }
    start = fake.dataset.start // 1_000_000 - 86_400  # a day before the first usage
    env: dict[str, str | None] = {
        "TAP_GCP_PROJECT_ID": "finfocus-analytics",
        "TAP_GCP_CREDENTIALS": json.dumps(fake.credentials_info()),
        "TAP_GCP_API_URL": fake.api_url,
        "TAP_GCP_START_DATE": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
        "TAP_GCP_WINDOW_DAYS": "16",
        "TAP_GCP_REQUEST_TIMEOUT": "30",
        "TAP_GCP_MAX_RETRIES": "3",
        # Only the credentials the test gives: no metadata server, no ambient key file.
        "NO_GCE_CHECK": "True",
        "CLOUDSDK_CONFIG": str(tmp_path / "gcloud"),
        "GOOGLE_APPLICATION_CREDENTIALS": None,
    }
    env.update({settings[kind]: fake.table_id(kind) for kind in kinds})
    return env


@pytest.fixture
def meltano_gcp(tmp_path) -> Meltano:
    return own_meltano(tmp_path, TARGET_FOCUS_OUTPUT_PATH=str(tmp_path / "focus"))


def run_job(meltano: Meltano, env: dict[str, str | None], fake: FakeGCP):
    result = meltano.ok("run", "gcp-focus", extra_env=env)
    key = fake.credentials_info()["private_key"]
    secret = key.split("-----")[2].strip().splitlines()[1]  # a line of the key's body
    for text in (result.stdout, result.stderr):
        assert secret not in text
        assert "PRIVATE KEY" not in text
    return result


def focus_rows(output: Path) -> list[dict]:
    table = pads.dataset(output / "data", format="parquet", partitioning="hive").to_table()
    return table.to_pylist()


def invoice_month(row: dict) -> str:
    return row["BillingPeriodStart"].strftime("%Y%m")


def billed(rows: list[dict]) -> dict[tuple[str, str], Decimal]:
    """(x_SourceStream, invoice month) -> sum(BilledCost)."""
    out: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        key = (row["x_SourceStream"], invoice_month(row))
        out[key] = out.get(key, Decimal(0)) + row["BilledCost"]
    return out


def expected_billed(dataset: GCPBillingDataset, *kinds: str) -> dict[tuple[str, str], Decimal]:
    streams = {kind: stream for stream, kind in SOURCES.items()}
    return {
        (streams[kind], month): total
        for kind in kinds
        for month, total in dataset.month_totals(kind).items()
    }


def expected_rows(dataset: GCPBillingDataset, kind: str) -> int:
    """One FOCUS row per exported row; the billing tables add one per credit."""
    rows = dataset.rows(kind)
    if kind == "focus":
        return len(rows)
    return sum(1 + len(row["credits"] or []) for row in rows)


def test_every_source_reconciles_per_invoice_month_and_passes_the_validator(meltano_gcp, tmp_path):
    """Standard, detailed and FOCUS tables of two invoice months, FOCUS 1.2, one run."""
    dataset = GCPBillingDataset.generate(seed=31, days=32, projects=2, resources_per_project=3)
    kinds = ("standard", "resource", "focus")
    with FakeGCP(dataset, page_bytes=500_000) as fake:
        run_job(meltano_gcp, {**gcp_env(fake, tmp_path, *kinds), **V12}, fake)
    rows = focus_rows(tmp_path / "focus")
    months = set(dataset.month_totals("standard"))
    assert len(months) == 2
    assert billed(rows) == expected_billed(dataset, *kinds)
    counts = Counter(row["x_SourceStream"] for row in rows)
    assert counts == {stream: expected_rows(dataset, kind) for stream, kind in SOURCES.items()}
    # every source row is there once: the tap's row_key, each row once per stream
    for stream, kind in SOURCES.items():
        source_keys = {r["x_GcpSourceRowKey"] for r in rows if r["x_SourceStream"] == stream}
        assert len(source_keys) == len(dataset.rows(kind)), stream
    keys = [row["x_RowKey"] for row in rows]
    assert len(keys) == len(set(keys))
    assert {row["x_SourceProvider"] for row in rows} == {"gcp"}
    assert {row["BillingAccountId"] for row in rows} == {dataset.billing_account_id}

    files = sorted((tmp_path / "focus" / "data").rglob("*.parquet"))
    assert len(files) == len(months)  # one billing account, one partition per month
    result = subprocess.run(
        [str(VALIDATOR), "--version", "1.2", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert not re.search(r"^\s*FAIL ", result.stdout, flags=re.MULTILINE)


def test_a_rerated_usage_adds_its_difference_and_the_lookback_is_not_doubled(meltano_gcp, tmp_path):
    """A second, incremental run after Google re-rated three usages: the re-read lookback
    updates rows in place (same x_RowKey), each re-rating is one new row of its usage, and
    every invoice month reconciles with the corrected totals."""
    dataset = GCPBillingDataset.generate(seed=32, days=8, projects=2, resources_per_project=3)
    kinds = ("standard", "resource", "focus")
    output = tmp_path / "focus"
    with FakeGCP(dataset, page_bytes=500_000) as fake:
        # The FOCUS table is partitioned by usage day: a run re-reads restatement_days of
        # partitions for re-ratings of older usage (here: all of it).
        env = {
            **gcp_env(fake, tmp_path, *kinds),
            "TAP_GCP_LOOKBACK_DAYS": "2",
            "TAP_GCP_RESTATEMENT_DAYS": "10",
        }
        run_job(meltano_gcp, env, fake)
        first = {row["x_RowKey"]: row for row in focus_rows(output)}
        assert billed(list(first.values())) == expected_billed(dataset, *kinds)

        pairs = dataset.correct(3, factor=0.25)
        assert len(pairs) == 3
        run_job(meltano_gcp, env, fake)
    rows = focus_rows(output)
    keys = [row["x_RowKey"] for row in rows]
    assert len(keys) == len(set(keys))
    assert billed(rows) == expected_billed(dataset, *kinds)
    counts = Counter(row["x_SourceStream"] for row in rows)
    assert counts == {stream: expected_rows(dataset, kind) for stream, kind in SOURCES.items()}

    # The second run re-read its lookback: those rows replaced themselves, unchanged.
    audit = json.loads(sorted((output / "_audit").glob("*.json"))[-1].read_text())
    added = len(rows) - len(first)
    assert audit["rows"]["written"] == audit["rows"]["in"] > added
    replaced = sum(p["rows_replaced"] for p in audit["partitions"])
    assert replaced == audit["rows"]["in"] - added
    assert all(first[key] == row for row in rows if (key := row["x_RowKey"]) in first)

    # Each re-rating is one new charge row per source: same usage as a row of the first
    # run, a later export; in the detailed table, the difference in cost.
    costs = {exact(o["cost"]): exact(r["cost"]) for o, r in pairs}
    for stream, kind in SOURCES.items():
        new = [r for r in rows if r["x_RowKey"] not in first and r["x_SourceStream"] == stream]
        charges = [r for r in new if is_charge(r)]
        assert charges, stream
        assert len(charges) == len(exported_at(dataset, kind, dataset.now)), stream
        assert (
            len(new)
            == expected_rows(dataset, kind)
            - Counter(r["x_SourceStream"] for r in first.values())[stream]
        )
        for charge in charges:
            originals = [
                r
                for r in first.values()
                if r["x_SourceStream"] == stream
                and r["x_GcpUsageKey"] == charge["x_GcpUsageKey"]
                and is_charge(r)
            ]
            assert originals, stream
            assert all(o["x_GcpExportTime"] < charge["x_GcpExportTime"] for o in originals)
            if kind == "resource":
                (original,) = originals
                assert costs[original["BilledCost"]] == charge["BilledCost"]


def is_charge(row: dict) -> bool:
    """The charge row of a billing-table record (each of its credits is a row of its own)."""
    return row.get("x_GcpCreditType") is None


def exported_at(dataset: GCPBillingDataset, kind: str, moment: int) -> list[dict]:
    column = "x_ExportTime" if kind == "focus" else "export_time"
    return [row for row in dataset.rows(kind) if row[column] == moment * 1_000_000]
