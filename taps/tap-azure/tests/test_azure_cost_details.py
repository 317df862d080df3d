"""Cost details: every row of every blob, exact totals, polling, throttling, transient faults."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from finfocus_sandbox.azure import EA_COLUMNS, MCA_COLUMNS, Fault
from tap_azure_testing import (
    SECRET,
    decimal_sum,
    end_of_data,
    make_dataset,
    run_tap,
    start_fake,
    tap_config,
)

COST = {"EA": "CostInBillingCurrency", "MCA": "costInBillingCurrency"}
METRIC = {"actual": "ActualCost", "amortized": "AmortizedCost"}


def check_deliveries_follow_rows(run, stream: str = "cost_details") -> None:
    """Each deliveries record comes after the last row of its period, and counts them."""
    seen: dict[tuple[str, str], int] = {}
    for message in run.messages:
        if message["type"] != "RECORD":
            continue
        record = message["record"]
        if message["stream"] == stream:
            kind = record.get("export_kind") or f"azure_{record['metric']}"
            key = (kind, record["billing_period"])
            assert key not in {k for k, v in seen.items() if v < 0}, f"row after delivery {key}"
            seen[key] = seen.get(key, 0) + 1
        elif message["stream"] == "deliveries":
            key = (record["export_kind"], record["billing_period"])
            assert record["row_count"] == seen.get(key, 0), key
            seen[key] = -1


@pytest.mark.parametrize("agreement", ["EA", "MCA"])
def test_cost_details_every_row_exact(tmp_path, agreement):
    dataset = make_dataset(agreement=agreement, days=45, malformed_tags=1)
    fake = start_fake(dataset, blob_rows=150)
    try:
        run = run_tap(tap_config(fake, dataset), tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert SECRET not in run.stdout + run.stderr
    assert "sig=" not in run.stdout + run.stderr  # report links' SAS stays out of output
    records = run.records("cost_details")
    start, end = dataset.first_day, end_of_data(dataset)
    columns = EA_COLUMNS if agreement == "EA" else MCA_COLUMNS
    for metric, name in METRIC.items():
        rows = [r for r in records if r["metric"] == metric]
        assert len(rows) == len(list(dataset.rows(name, start, end)))
        total = decimal_sum(rows, COST[agreement])
        assert total == dataset.total(name, start, end)
        assert total > 0
        assert all(isinstance(r[COST[agreement]], (Decimal, int)) for r in rows)
    keys = {(r["delivery_id"], r["blob"], r["row_number"]) for r in records}
    assert len(keys) == len(records)
    deliveries = run.records("deliveries")
    assert len(deliveries) == 2 * len(dataset.months())
    files = {blob for d in deliveries for blob in d["files"]}
    assert {r["blob"] for r in records} == files  # every blob of every report
    assert sum(1 for d in deliveries for _ in d["files"]) > len(deliveries)  # several blobs
    for blob in files:
        numbers = sorted(r["row_number"] for r in records if r["blob"] == blob)
        assert numbers == list(range(1, len(numbers) + 1))
    assert all("?" not in blob and "sig=" not in blob for blob in files)
    first = records[0]
    assert set(columns) <= set(first)
    assert first["scope"] == dataset.billing_account_scope
    assert first["report_id"] == first["delivery_id"]
    tags = [r[columns[columns.index("Tags" if agreement == "EA" else "tags")]] for r in records]
    assert any(isinstance(t, dict) and t for t in tags)
    unparsed = [t for t in tags if isinstance(t, str)]
    assert unparsed
    assert all('o"neil' in t for t in unparsed)
    assert f"{len(unparsed)} rows had Tags that are not a JSON object" in run.stderr
    account = dataset.billing_account_id
    assert all(d["billing_account_ids"] == [account] for d in deliveries if d["row_count"])
    current = [d for d in deliveries if d["billing_period"] == dataset.months()[-1]]
    assert all(d["complete"] for d in current)
    assert {d["export_name"] for d in deliveries} == {
        f"cost_details:{dataset.billing_account_scope}"
    }
    check_deliveries_follow_rows(run)


def test_polling_honours_retry_after(tmp_path):
    dataset = make_dataset(days=3)
    fake = start_fake(dataset, poll_retry_after=2, polls_before_ready=1)
    month = dataset.today.replace(day=1)
    config = tap_config(
        fake, dataset, metrics=["actual"], start_date=str(max(month, dataset.first_day))
    )
    try:
        run = run_tap(config, tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    events = [e for e in fake.events if e.kind in ("generate", "poll")]
    assert [(e.kind, e.status) for e in events] == [
        ("generate", 202),
        ("poll", 202),
        ("poll", 200),
    ]
    assert events[1].at - events[0].at >= 2.0
    assert events[2].at - events[1].at >= 2.0
    assert decimal_sum(run.records("cost_details"), "CostInBillingCurrency") == dataset.total(
        "ActualCost", max(month, dataset.first_day), end_of_data(dataset)
    )


def test_qpu_throttling_is_waited_out_not_failed(tmp_path):
    dataset = make_dataset(days=3)
    fake = start_fake(dataset, qpu_retry_after=2)
    fake.faults.add(Fault(kind="rate_limit", path="generateCostDetailsReport$", times=2))
    month = dataset.today.replace(day=1)
    start = max(month, dataset.first_day)
    # max_retries 0: only a wait that honours the QPU hint can make this run succeed
    config = tap_config(fake, dataset, metrics=["actual"], start_date=str(start), max_retries=0)
    began = time.monotonic()
    try:
        run = run_tap(config, tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert time.monotonic() - began >= 4.0
    assert fake.faults.injected == {"rate_limit": 2}
    statuses = [r.status for r in fake.requests if r.path.endswith("generateCostDetailsReport")]
    assert statuses == [429, 429, 202]
    assert run.stderr.count("Too many requests") >= 2
    assert decimal_sum(run.records("cost_details"), "CostInBillingCurrency") == dataset.total(
        "ActualCost", start, end_of_data(dataset)
    )


def test_throttling_beyond_the_budget_exits_75(tmp_path):
    dataset = make_dataset(days=3)
    fake = start_fake(dataset, qpu_retry_after=1)
    fake.faults.add(Fault(kind="rate_limit", path="generateCostDetailsReport$", times=None))
    config = tap_config(
        fake, dataset, metrics=["actual"], max_retries=0, max_throttle_wait_seconds=2
    )
    try:
        run = run_tap(config, tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 75
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-azure: gave up after")
    assert "429" in last


def test_transient_faults_are_retried(tmp_path):
    dataset = make_dataset(days=3)
    fake = start_fake(dataset, polls_before_ready=1, blob_rows=40)
    results = "costDetailsOperationResults"
    fake.faults.add(
        Fault(kind="server_error", path="generateCostDetailsReport$", status=503),
        Fault(kind="reset", path=results),
        Fault(kind="truncated_json", path=results, skip=1),
        Fault(kind="empty_page_has_more", path=results),  # a manifest listing no blobs
        Fault(kind="wrong_content_type", path=results, status=200),
        Fault(kind="rate_limit", path="^/armreports/", times=1),  # storage 503 ServerBusy
        Fault(kind="truncated_json", path="^/armreports/", times=1),  # a blob cut short
    )
    start = max(dataset.today.replace(day=1), dataset.first_day)
    config = tap_config(fake, dataset, metrics=["amortized"], start_date=str(start), max_retries=4)
    try:
        run = run_tap(config, tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(fake.faults.injected) == {
        "server_error",
        "reset",
        "truncated_json",
        "empty_page_has_more",
        "wrong_content_type",
        "rate_limit",
    }
    records = run.records("cost_details")
    assert len(records) == len(list(dataset.rows("AmortizedCost", start, end_of_data(dataset))))
    assert decimal_sum(records, "CostInBillingCurrency") == dataset.total(
        "AmortizedCost", start, end_of_data(dataset)
    )


def test_expired_token_is_renewed(tmp_path):
    dataset = make_dataset(days=3)
    fake = start_fake(dataset, poll_retry_after=2, polls_before_ready=1)
    start = max(dataset.today.replace(day=1), dataset.first_day)
    config = tap_config(fake, dataset, metrics=["actual"], start_date=str(start))

    def expire_after_generate() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(e.kind == "generate" for e in fake.events):
                fake.app.expire_tokens()
                return
            time.sleep(0.05)

    expirer = threading.Thread(target=expire_after_generate)
    expirer.start()
    try:
        run = run_tap(config, tmp_path)
    finally:
        expirer.join()
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    tokens = [e for e in fake.events if e.kind == "token"]
    assert len(tokens) == 2
    assert [r.status for r in fake.requests if "costDetailsOperationResults" in r.path][:1] == [401]
    assert run.records("cost_details")


def test_empty_window_is_an_empty_period(tmp_path):
    """Windows with no cost (204) are periods with no rows: their deliveries say so."""
    dataset = make_dataset(days=3)
    fake = start_fake(dataset)
    before = dataset.first_day - dt.timedelta(days=40)
    config = tap_config(
        fake, dataset, metrics=["actual"], start_date=str(before), end_date=str(dataset.first_day)
    )
    try:
        run = run_tap(config, tmp_path)
    finally:
        fake.stop()
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.records("cost_details") == []
    assert [e.status for e in fake.events if e.kind == "generate"] == [204] * len(
        run.records("deliveries")
    )
    deliveries = run.records("deliveries")
    assert len(deliveries) >= 2
    assert all(d["row_count"] == 0 for d in deliveries)
    assert all(d["delivery_id"].startswith("no-data:") for d in deliveries)
