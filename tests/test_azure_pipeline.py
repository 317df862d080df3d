"""`meltano run azure-focus` (tap-azure | focus | target-focus) against the fake Azure.

The Cost Details API is the sandbox's fake (Entra ID token, async reports); exports are
written into Blob Storage served by Azurite. Each source extracts in full and reconciles
exactly (Decimal) with the source's own cost columns per billing period and export
(x_DeliveryScope); a restated period replaces only the rows of the export that delivered
it; the output passes the FinOps Foundation's validator.

Each charge once (mapper-focus, Microsoft's conversion): the *actual* metric contributes
only commitment purchases, the *amortized* metric everything else. So with both metrics
loaded, per period sum(BilledCost) is the ActualCost total and sum(EffectiveCost) the
AmortizedCost total; a FocusCost export alone gives its own BilledCost / EffectiveCost.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from azure.storage.blob import BlobServiceClient
from finfocus_sandbox.azure import AzureDataset, Azurite, ExportRun, FakeAzure, write_export_run
from pipeline_testing import ROOT, Meltano, own_meltano

pytestmark = pytest.mark.integration
VALIDATOR = ROOT.parent / "shared" / "tools" / "focus-validate"
AZURITE_DIR = ROOT / "taps" / "tap-azure" / "tests" / "azurite"
CLIENT_ID = "0b6a3c1d-2e4f-4a5b-8c7d-9e0f1a2b3c4d"
SECRET = "finfocusPipelineCanary~9876543210zyxwvuFEDCBA"
V12 = {"MAPPER_FOCUS_FOCUS_VERSION": "1.2", "TARGET_FOCUS_FOCUS_VERSION": "1.2"}
#: The validator wants EffectiveCost 0 on *every* Purchase row; FOCUS wants it only when the
#: purchase covers future charges (a commitment). A Marketplace SaaS fee is a purchase that
#: covers nothing else: its EffectiveCost is its cost (mapper-focus README, "Azure").
VALIDATOR_DEFECTS = {"EffectiveCost-C-005-C"}
KINDS = {
    "ActualCost": "azure_actual",
    "AmortizedCost": "azure_amortized",
    "FocusCost": "azure_focus",
}


@pytest.fixture(scope="module")
def azurite():
    with Azurite(AZURITE_DIR) as server:
        yield server


@pytest.fixture
def container(azurite):
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    name = f"exports-{uuid.uuid4().hex[:12]}"
    client = service.create_container(name)
    yield client, name
    client.delete_container()


def start_fake(dataset: AzureDataset) -> FakeAzure:
    fake = FakeAzure(
        dataset,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        poll_retry_after=0,
        polls_before_ready=0,
    )
    fake.start()
    return fake


def cost_details_env(fake: FakeAzure, dataset: AzureDataset) -> dict[str, str]:
    return {
        "TAP_AZURE_TENANT_ID": dataset.tenant_id,
        "TAP_AZURE_CLIENT_ID": CLIENT_ID,
        "TAP_AZURE_CLIENT_SECRET": SECRET,
        "TAP_AZURE_SCOPE": dataset.billing_account_scope,
        "TAP_AZURE_LOGIN_URL": fake.url,
        "TAP_AZURE_API_URL": fake.url,
        "TAP_AZURE_AGREEMENT": dataset.agreement,
        "TAP_AZURE_METRICS": json.dumps(["actual", "amortized"]),
        "TAP_AZURE_START_DATE": dataset.first_day.isoformat(),
        "TAP_AZURE_REQUEST_TIMEOUT": "10",
        "TAP_AZURE_MAX_RETRIES": "3",
    }


def exports_env(azurite: Azurite, container: str) -> dict[str, str]:
    return {
        "TAP_AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "TAP_AZURE_CONTAINER": container,
        "TAP_AZURE_PREFIX": "exports",
    }


@pytest.fixture
def meltano_azure(tmp_path) -> Meltano:
    return own_meltano(tmp_path, TARGET_FOCUS_OUTPUT_PATH=str(tmp_path / "focus"))


def run_job(meltano: Meltano, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = meltano.ok("run", "azure-focus", extra_env=env)
    for secret in (SECRET, env.get("TAP_AZURE_STORAGE_CONNECTION_STRING")):
        if secret:
            assert secret not in result.stdout
            assert secret not in result.stderr
    return result


def focus_rows(output: Path) -> list[dict]:
    return (
        pads.dataset(output / "data", format="parquet", partitioning="hive").to_table().to_pylist()
    )


def period_of(row: dict) -> str:
    return row["BillingPeriodStart"].strftime("%Y-%m")


def bounds(period: str) -> tuple[dt.date, dt.date]:
    year, month = (int(p) for p in period.split("-"))
    start = dt.date(year, month, 1)
    return start, dt.date(year + month // 12, month % 12 + 1, 1)


def sums(rows: list[dict]) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """(x_DeliveryScope, billing period) -> (rows, sum BilledCost, sum EffectiveCost)."""
    out: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    for row in rows:
        key = (row["x_DeliveryScope"], period_of(row))
        count, billed, effective = out.get(key, (0, Decimal(0), Decimal(0)))
        out[key] = (count + 1, billed + row["BilledCost"], effective + row["EffectiveCost"])
    return out


def commitment_purchase(charge) -> bool:
    return charge.charge_type == "Purchase" and charge.commitment is not None


def expected_cost_details(
    dataset: AzureDataset, period: str, scope: str
) -> dict[str, tuple[int, Decimal, Decimal]]:
    """What the Cost Details of `period` give, per metric scope: (rows, billed, effective).

    Actual metric rows: commitment purchases (billed = cost, effective 0); amortized: all
    else (effective = cost; billed = cost except commitment-covered usage, billed 0)."""
    start, end = bounds(period)
    charges = list(dataset.all_charges(start, end))
    actual = [c for c in charges if c.actual_cost is not None and commitment_purchase(c)]
    amortized = [c for c in charges if c.amortized_cost is not None and not commitment_purchase(c)]
    actual_total = dataset.total("ActualCost", start, end)
    amortized_total = dataset.total("AmortizedCost", start, end)
    purchases = sum((dataset.billing(c.actual_cost) for c in actual), Decimal(0))
    out = {}
    if actual:
        out[f"azure_actual:cost_details:{scope}"] = (len(actual), purchases, Decimal(0))
    out[f"azure_amortized:cost_details:{scope}"] = (
        len(amortized),
        actual_total - purchases,
        amortized_total,
    )
    return out


def check_cost_details(rows: list[dict], dataset: AzureDataset, scope: str) -> None:
    got = sums([r for r in rows if r["x_SourceStream"] == "cost_details"])
    for period in dataset.months():
        start, end = bounds(period)
        want = expected_cost_details(dataset, period, scope)
        have = {s: v for (s, p), v in got.items() if p == period}
        assert have == want, period
        # both metrics together: the ActualCost and AmortizedCost totals, exactly
        assert sum((v[1] for v in have.values()), Decimal(0)) == dataset.total(
            "ActualCost", start, end
        )
        assert sum((v[2] for v in have.values()), Decimal(0)) == dataset.total(
            "AmortizedCost", start, end
        )
    assert {p for _, p in got} == set(dataset.months())


def unique_keys(rows: list[dict]) -> None:
    keys = [r["x_RowKey"] for r in rows]
    assert len(keys) == len(set(keys))


def audits(output: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((output / "_audit").glob("*.json"))]


def validator_failures(files: list[Path]) -> set[str]:
    result = subprocess.run(
        [str(VALIDATOR), "--version", "1.2", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]
    failed = set(re.findall(r"^\s*FAIL (\S+):", result.stdout, flags=re.MULTILINE))
    assert (result.returncode == 1) == bool(failed), result.stdout[-3000:]
    return failed


def two_months(**options: object) -> AzureDataset:
    """Usage from a day in the previous month (never its 1st) to today: a partial month,
    then the open one."""
    today = dt.datetime.now(tz=dt.UTC).date()
    dataset = AzureDataset.generate(days=today.day + 10, **options)  # type: ignore[arg-type]
    assert len(dataset.months()) == 2
    assert dataset.first_day.day > 1
    return dataset


def test_cost_details_reconcile_and_a_restated_month_replaces_its_metric(meltano_azure, tmp_path):
    """EA Cost Details, both metrics: each month reconciles exactly (the first one, cut by
    start_date, is merged; whole months replace their metric's rows); restated days are
    re-read by the next run and replace the month's rows of each metric, nothing doubled,
    the other month untouched."""
    dataset = two_months(seed=21, agreement="EA", subscriptions=2, resources_per_subscription=6)
    scope = dataset.billing_account_scope
    output = tmp_path / "focus"
    fake = start_fake(dataset)
    try:
        env = cost_details_env(fake, dataset)
        run_job(meltano_azure, env)
        rows = focus_rows(output)
        check_cost_details(rows, dataset, scope)
        unique_keys(rows)
        assert {r["x_SourceProvider"] for r in rows} == {"azure"}
        assert {r["BillingAccountId"] for r in rows} == {dataset.billing_account_id}
        assert not list((output / "_staging").rglob("*.*"))
        first = audits(output)[-1]
        assert first["deliveries_pending"] == []
        modes = {
            (d["billing_period"], d.get("mode", "replace")) for d in first["deliveries_replaced"]
        }
        # the first month starts at start_date (mid-month): merged; the open one replaced
        assert modes == {(dataset.months()[0], "merge"), (dataset.months()[1], "replace")}
        first_ids = {r["x_DeliveryId"] for r in rows}

        # Azure restates the last three days; the next run re-reads their months whole.
        restated = {f"{day:%Y-%m}" for day in dataset.restate(days=3)}
        before = {r["x_RowKey"]: r for r in rows if period_of(r) not in restated}
        run_job(meltano_azure, env)
        rows = focus_rows(output)
        check_cost_details(rows, dataset, scope)
        unique_keys(rows)
        assert not list((output / "_staging").rglob("*.*"))
        second = audits(output)[-1]
        assert second["deliveries_pending"] == []
        assert {d["billing_period"] for d in second["deliveries_replaced"]} == restated
        assert not first_ids & {r["x_DeliveryId"] for r in rows if period_of(r) in restated}
        assert {r["x_RowKey"]: r for r in rows if period_of(r) not in restated} == before
    finally:
        fake.stop()


def export_expectations(
    dataset: AzureDataset, runs: dict[str, ExportRun], period: str
) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    """(x_DeliveryScope, period) -> (rows, BilledCost, EffectiveCost) of one month's runs.

    FocusCost: its rows and totals. ActualCost: its commitment purchases only. AmortizedCost:
    every row; its BilledCost is the ActualCost total less those purchases."""
    start, end = bounds(period)
    charges = dataset.all_charges(start, end)
    purchases = [c for c in charges if c.actual_cost is not None and commitment_purchase(c)]
    purchased = sum((dataset.billing(c.actual_cost) for c in purchases), Decimal(0))
    focus, actual, amortized = runs["FocusCost"], runs["ActualCost"], runs["AmortizedCost"]
    out = {
        (f"azure_focus:{focus.export_name}", period): (
            focus.rows,
            focus.cost,
            focus.effective_cost,
        ),
        (f"azure_amortized:{amortized.export_name}", period): (
            amortized.rows,
            actual.cost - purchased,
            amortized.cost,
        ),
    }
    if purchases:
        out[f"azure_actual:{actual.export_name}", period] = (len(purchases), purchased, Decimal(0))
    return out


def test_every_export_type_and_cost_details_reconcile_per_scope_and_pass_the_validator(
    meltano_azure, azurite, container, tmp_path
):
    """MCA, FOCUS 1.2: ActualCost, AmortizedCost and FocusCost exports of two months and the
    Cost Details of the same account, in one dataset. Each export (x_DeliveryScope) and
    month reconciles with its files; a restatement re-runs the FocusCost export of the open
    month, which replaces that export's rows and nothing else; the files pass the
    Foundation's validator."""
    client, name = container
    dataset = two_months(seed=22, agreement="MCA", subscriptions=2, resources_per_subscription=5)
    scope = dataset.billing_account_scope
    output = tmp_path / "focus"
    expected: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    run_ids: dict[tuple[str, str], str] = {}
    for period in dataset.months():
        runs = {
            export_type: write_export_run(
                client,
                dataset,
                f"mca-{export_type.lower()}",
                export_type,
                period,
                rows_per_file=150,
                compress=export_type == "AmortizedCost",
            )
            for export_type in ("ActualCost", "AmortizedCost", "FocusCost")
        }
        expected.update(export_expectations(dataset, runs, period))
        run_ids.update({(f"{KINDS[k]}:{r.export_name}", period): r.run_id for k, r in runs.items()})
    fake = start_fake(dataset)
    try:
        env = {**cost_details_env(fake, dataset), **exports_env(azurite, name), **V12}
        run_job(meltano_azure, env)
        rows = focus_rows(output)
        unique_keys(rows)
        check_exports(rows, expected, run_ids)
        check_cost_details(rows, dataset, scope)
        assert not list((output / "_staging").rglob("*.*"))
        assert audits(output)[-1]["deliveries_pending"] == []

        files = sorted((output / "data").rglob("*.parquet"))
        assert len(files) == 4  # billing profile (cost columns) and FOCUS export, 2 months
        failed = validator_failures(files)
        assert failed <= VALIDATOR_DEFECTS, failed
        if failed:  # only purchases that cover nothing else keep their EffectiveCost
            purchases = [
                r for r in rows if r["ChargeCategory"] == "Purchase" and r["EffectiveCost"] != 0
            ]
            assert purchases
            assert all(r["CommitmentDiscountId"] is None for r in purchases)
            assert all(r["EffectiveCost"] == r["BilledCost"] for r in purchases)

        # Azure restates recent days and re-runs the FocusCost export of the open month.
        current = dataset.months()[-1]
        focus_scope = "azure_focus:mca-focuscost"
        untouched = {
            r["x_RowKey"]: r
            for r in rows
            if r["x_SourceStream"] == "export_rows"
            and (r["x_DeliveryScope"] != focus_scope or period_of(r) != current)
        }
        dataset.restate(days=3)
        rerun = write_export_run(client, dataset, "mca-focuscost", "FocusCost", current)
        assert rerun.cost != expected[focus_scope, current][1]
        expected[focus_scope, current] = (rerun.rows, rerun.cost, rerun.effective_cost)
        run_ids[focus_scope, current] = rerun.run_id
        run_job(meltano_azure, env)
        rows = focus_rows(output)
        unique_keys(rows)
        check_exports(rows, expected, run_ids)
        check_cost_details(rows, dataset, scope)  # re-read: the restated totals
        assert {r["x_RowKey"]: r for r in rows if r["x_RowKey"] in untouched} == untouched
        assert not list((output / "_staging").rglob("*.*"))
    finally:
        fake.stop()


def check_exports(
    rows: list[dict],
    expected: dict[tuple[str, str], tuple[int, Decimal, Decimal]],
    run_ids: dict[tuple[str, str], str],
) -> None:
    """Per export and month: the rows and exact cost sums of its newest run, only its rows."""
    exported = [r for r in rows if r["x_SourceStream"] == "export_rows"]
    assert sums(exported) == expected
    delivered: dict[tuple[str, str], set[str]] = {}
    for row in exported:
        delivered.setdefault((row["x_DeliveryScope"], period_of(row)), set()).add(
            row["x_DeliveryId"]
        )
    assert delivered == {key: {run_ids[key]} for key in expected}
