"""Incremental cost details: the bookmark, lookback_days, restated days, resuming."""

from __future__ import annotations

import datetime as dt

from finfocus_sandbox.azure import Fault
from tap_azure_testing import (
    decimal_sum,
    end_of_data,
    make_dataset,
    run_tap,
    start_fake,
    tap_config,
)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def requested(fake, since: int = 0) -> set[tuple[str, dt.date, dt.date]]:
    return {(r.metric, r.start, r.end) for r in list(fake.app.reports.values())[since:]}


def test_lookback_rereads_only_the_recent_window(tmp_path):
    dataset = make_dataset(days=70)
    fake = start_fake(dataset)
    config = tap_config(fake, dataset, lookback_days=3)
    try:
        first = run_tap(config, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        state = first.last_state
        bookmarks = state["bookmarks"]["deliveries"]["cost_details"]
        end = end_of_data(dataset)
        for metric in ("actual", "amortized"):
            assert bookmarks[f"{dataset.billing_account_scope}|{metric}"]["read_until"] == str(end)
        months_first = {r.start.replace(day=1) for r in fake.app.reports.values()}
        assert len(months_first) >= 3
        before = len(fake.app.reports)
        touched = dataset.restate(days=3)
        second = run_tap(config, tmp_path, state=state)
        assert second.returncode == 0, second.stderr[-3000:]
    finally:
        fake.stop()
    lower = month_start(end - dt.timedelta(days=3))
    windows = requested(fake, before)
    assert {start for _, start, _ in windows} == {
        d for d in (lower, month_start(dataset.today)) if d >= lower
    }
    assert all(start >= lower for _, start, _ in windows)  # older months are not asked again
    records = second.records("cost_details")
    assert min(r["window_start"] for r in records) == str(lower)
    for metric, name in (("actual", "ActualCost"), ("amortized", "AmortizedCost")):
        rows = [r for r in records if r["metric"] == metric]
        assert decimal_sum(rows, "CostInBillingCurrency") == dataset.total(name, lower, end)
    restated = {r["Date"] for r in records if r["metric"] == "actual"}
    assert {f"{d.month:02d}/{d.day:02d}/{d.year}" for d in touched} <= restated
    assert all(d["complete"] for d in second.records("deliveries"))


def test_lookback_zero_still_rereads_the_open_month(tmp_path):
    dataset = make_dataset(days=70)
    fake = start_fake(dataset)
    config = tap_config(fake, dataset, lookback_days=0, metrics=["actual"])
    try:
        first = run_tap(config, tmp_path)
        assert first.returncode == 0, first.stderr[-3000:]
        before = len(fake.app.reports)
        second = run_tap(config, tmp_path, state=first.last_state)
    finally:
        fake.stop()
    assert second.returncode == 0, second.stderr[-3000:]
    end = end_of_data(dataset)
    expected = {month_start(end)} if month_start(end) < end else set()
    assert {start for _, start, _ in requested(fake, before)} == expected


def test_a_failed_run_resumes_from_its_last_complete_window(tmp_path):
    dataset = make_dataset(days=70)
    fake = start_fake(dataset)
    # the third report fails for good (429 beyond the throttle budget): exit 75
    fake.faults.add(Fault(kind="rate_limit", path="generateCostDetailsReport$", skip=2, times=None))
    config = tap_config(fake, dataset, max_retries=0, max_throttle_wait_seconds=1)
    try:
        failed = run_tap(config, tmp_path)
        assert failed.returncode == 75
        state = failed.last_state
        done = state["bookmarks"]["deliveries"]["cost_details"]
        assert len(done) == 2  # one window per metric finished before the failure
        first_month_end = {v["read_until"] for v in done.values()}
        assert len(first_month_end) == 1
        fake.faults.clear()
        resumed = run_tap(tap_config(fake, dataset), tmp_path, state=state)
    finally:
        fake.stop()
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = failed.records("cost_details") + resumed.records("cost_details")
    # every day is covered; re-read days share keys with nothing (new report ids) but the
    # resumed run covers from its bookmark on
    resumed_start = min(r["window_start"] for r in resumed.records("cost_details"))
    assert resumed_start <= next(iter(first_month_end))
    kept = [r for r in failed.records("cost_details") if r["window_end"] <= resumed_start]
    total = decimal_sum(
        [r for r in kept if r["metric"] == "actual"]
        + [r for r in resumed.records("cost_details") if r["metric"] == "actual"],
        "CostInBillingCurrency",
    )
    assert total == dataset.total("ActualCost", dataset.first_day, end_of_data(dataset))
    assert rows
