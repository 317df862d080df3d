"""Incremental reads: recent partitions only, the lookback re-read, re-ratings, resume."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from finfocus_sandbox.faults import Fault
from finfocus_sandbox.gcp.dataset import exact, iso
from tap_gcp_testing import fake_sums, latest_by_key, month_sums, run_tap, tap_config

STREAMS = (
    ("billing_export", "standard"),
    ("billing_export_resource", "resource"),
    ("focus_export", "focus"),
)


def _day(text: str) -> dt.date:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def test_second_run_scans_recent_partitions_and_rereads_the_lookback(fake, tmp_path):
    config = tap_config(fake, lookback_days=1)
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    first_queries = [q for q in fake.queries if q.table == fake.table_id("standard")]
    state = first.last_state
    bookmark = state["bookmarks"]["billing_export"]["replication_key_value"]
    assert state["bookmarks"]["billing_export"]["replication_key"] == "export_time"
    latest = max(r["export_time"] for r in first.records("billing_export"))
    assert _day(bookmark) == _day(latest)
    assert bookmark >= latest[:19]

    fake.clear_queries()
    second = run_tap(config, tmp_path, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    queries = [q for q in fake.queries if q.table == fake.table_id("standard")]
    # every query bounds the partition column and the export time; none is a full scan
    assert queries
    assert all(not q.full_scan for q in queries)
    assert all(
        {"partition_start", "partition_end", "export_start", "export_end"} <= set(q.parameters)
        for q in queries
    )
    oldest_allowed = _day(bookmark) - dt.timedelta(days=1 + 1)  # lookback + partition slack
    scanned = sorted({p for q in queries for p in q.partitions})
    assert scanned
    assert dt.date.fromisoformat(scanned[0]) >= oldest_allowed
    assert len(scanned) < len({p for q in first_queries for p in q.partitions})
    # one log line per query, naming the partitions it scanned
    assert len(second.scan_lines("billing_export")) == len(queries)
    assert all("scanned partitions" in line for line in second.scan_lines("billing_export"))
    # the lookback is re-read, with the same keys and values; older rows are not
    again = {r["row_key"]: r for r in second.records("billing_export")}
    before = {r["row_key"]: r for r in first.records("billing_export")}
    overlap = set(again) & set(before)
    assert overlap
    assert all(again[k] == before[k] for k in overlap)
    cutoff = dt.datetime.fromisoformat(bookmark.replace("Z", "+00:00")) - dt.timedelta(days=1)
    assert all(
        dt.datetime.fromisoformat(r["export_time"].replace("Z", "+00:00")) >= cutoff
        for r in again.values()
    )
    assert len(again) < len(before)


def test_a_rerated_usage_adds_a_row_and_totals_stay_exact(fake, tmp_path):
    config = tap_config(fake)
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    pairs = fake.dataset.correct(3, factor=0.25)
    assert len(pairs) == 3
    second = run_tap(config, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr[-3000:]

    detailed_first = first.records("billing_export_resource")
    detailed_second = second.records("billing_export_resource")
    for original, rerating in pairs:
        name = original["resource"]["name"]
        start = iso(original["usage_start_time"])
        exported = iso(original["export_time"])
        old = next(
            r
            for r in detailed_first
            if r["resource"]["name"] == name
            and r["usage_start_time"] == start
            and r["export_time"] == exported
        )
        new = [
            r
            for r in detailed_second
            if r["usage_key"] == old["usage_key"]
            and r["export_time"] == iso(rerating["export_time"])
        ]
        # the re-rating is its own row: same usage, a later export, the difference in cost
        assert len(new) == 1
        assert new[0]["row_key"] != old["row_key"]
        assert new[0]["cost"] == exact(rerating["cost"]) != old["cost"]
        assert new[0]["export_time"] > old["export_time"]
    # a target upserting by row_key holds every row once; its sums are Google's totals
    for stream, kind in STREAMS:
        kept = latest_by_key(first, second, stream=stream)
        assert len(kept) == len(fake.dataset.rows(kind)), stream
        assert month_sums(kept, kind) == fake_sums(fake, kind), stream
        # the second run's re-read rows replaced, not doubled
        assert len(first.records(stream)) + len(second.records(stream)) > len(kept)


def test_usage_key_is_shared_by_a_usage_and_row_key_is_stable(fake, tmp_path):
    run = run_tap(tap_config(fake, streams=("standard",)), tmp_path)
    again = run_tap(tap_config(fake, streams=("standard",)), tmp_path)
    assert run.returncode == again.returncode == 0
    assert [r["row_key"] for r in run.records("billing_export")] == [
        r["row_key"] for r in again.records("billing_export")
    ]
    by_usage: dict[str, list[dict]] = {}
    for record in run.records("billing_export"):
        by_usage.setdefault(record["usage_key"], []).append(record)
    shared = [rows for rows in by_usage.values() if len(rows) > 1]
    assert shared, "the dataset re-rates some usage in later exports"
    for rows in shared:
        assert len({r["export_time"] for r in rows}) == len(rows)
        assert len({r["row_key"] for r in rows}) == len(rows)


def test_a_run_that_dies_resumes_after_the_last_window(fake, tmp_path):
    config = tap_config(fake, streams=("standard",), window_days=2, max_retries=1)
    fake.faults.add(
        Fault(kind="server_error", path=r"/queries$", method="POST", status=503, skip=2, times=None)
    )
    broken = run_tap(config, tmp_path)
    assert broken.returncode == 75, broken.stderr[-2000:]
    assert "BigQuery kept failing (503 backendError)" in broken.failure_line()
    progress = broken.last_state["bookmarks"]["billing_export"]["progress"]
    done = dt.date.fromisoformat(progress["partitions_done_through"])
    fake.faults.clear()
    fake.clear_queries()
    resumed = run_tap(config, tmp_path, state=broken.last_state)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert min(dt.date.fromisoformat(q.partitions[0]) for q in fake.queries if q.partitions) > done
    assert "progress" not in resumed.last_state["bookmarks"]["billing_export"]
    kept = latest_by_key(broken, resumed, stream="billing_export")
    assert len(kept) == len(fake.dataset.rows("standard"))
    assert month_sums(kept, "standard") == fake_sums(fake, "standard")


def test_require_partition_filter_tables_are_readable(dataset, tmp_path):
    from finfocus_sandbox.gcp import FakeGCP

    with FakeGCP(dataset, require_partition_filter=True) as strict:
        run = run_tap(tap_config(strict), tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        assert sum(len(run.records(s)) for s, _ in STREAMS) == sum(
            len(dataset.rows(k)) for _, k in STREAMS
        )
        assert all(q.error is None for q in strict.queries)


def test_end_date_bounds_the_export_time(fake, tmp_path):
    rows = fake.dataset.rows("standard")
    middle = rows[len(rows) // 2]["export_time"]
    end = iso(middle)
    run = run_tap(tap_config(fake, streams=("standard",), end_date=end), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("billing_export")
    assert records
    assert all(r["export_time"] < end for r in records)
    expected = [r for r in rows if r["export_time"] < middle]
    assert len(records) == len(expected)
    assert sum((r["cost"] for r in records), Decimal(0)) == sum(
        (exact(r["cost"]) for r in expected), Decimal(0)
    )
