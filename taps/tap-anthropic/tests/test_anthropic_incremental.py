"""Incremental runs: only the lookback window is read again, and restated buckets replace."""

from __future__ import annotations

import datetime as dt

from finfocus_sandbox.anthropic.dataset import DAY, rfc3339
from tap_anthropic_testing import run_tap

REPORTS = {"/v1/organizations/cost_report", "/v1/organizations/usage_report/messages"}


def _watermarks(state: dict) -> dict[str, dt.datetime]:
    return {
        stream: dt.datetime.fromisoformat(entry["replication_key_value"])
        for stream, entry in state["bookmarks"].items()
        if entry.get("replication_key_value")
    }


def test_second_run_rereads_only_the_lookback_window(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    first = run_tap(anthropic_config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    marks = _watermarks(first.states[-1])
    assert set(marks) == {"cost_report", "usage_report_messages"}
    today = anthropic_dataset.end
    assert {int(m.timestamp()) for m in marks.values()} == {today}
    anthropic_fake.clear_requests()

    second = run_tap(anthropic_config, tmp_path, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-3000:]
    reports = [r for r in anthropic_fake.requests if r.path in REPORTS]
    assert reports
    for request in reports:  # lookback_days defaults to 2
        assert request.params["starting_at"] == [rfc3339(today - 2 * DAY)], request
        assert request.params["ending_at"] == [rfc3339(today)], request
    recent = {rfc3339(today - 2 * DAY), rfc3339(today - DAY)}
    assert {r["starting_at"] for r in second.records("cost_report")} == recent
    assert {r["starting_at"] for r in second.records("usage_report_messages")} == recent
    assert _watermarks(second.states[-1]) == marks


def test_restated_buckets_replace_records_under_the_same_key(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    first = run_tap(anthropic_config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    before = {r["record_key"]: r for r in first.records("cost_report")}
    revised = {rfc3339(day) for day in anthropic_dataset.restate(days=2)}

    second = run_tap(anthropic_config, tmp_path, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-3000:]
    after = {r["record_key"]: r for r in second.records("cost_report")}
    assert {r["starting_at"] for r in after.values()} == revised
    assert set(after) == {k for k, r in before.items() if r["starting_at"] in revised}
    changed = [k for k in after if after[k]["amount"] != before[k]["amount"]]
    assert len(changed) == len(after)  # every line of a restated day moved, same key
    tokens = [k for k in after if after[k]["cost_type"] == "tokens"]
    assert all(after[k]["usage_quantity"] > before[k]["usage_quantity"] for k in tokens)
    usage_before = {r["record_key"]: r for r in first.records("usage_report_messages")}
    usage_after = {r["record_key"]: r for r in second.records("usage_report_messages")}
    assert set(usage_after) <= set(usage_before)


def test_lookback_days_widens_the_reread(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    first = run_tap(anthropic_config, tmp_path)
    anthropic_fake.clear_requests()
    config = {**anthropic_config, "lookback_days": 10}
    second = run_tap(config, tmp_path, state=first.states[-1])
    assert second.returncode == 0
    starts = {r.params["starting_at"][0] for r in anthropic_fake.requests if r.path in REPORTS}
    assert starts == {rfc3339(anthropic_dataset.end - 10 * DAY)}
    assert len({r["starting_at"] for r in second.records("cost_report")}) == 10


def test_lookback_zero_asks_for_nothing_already_read(anthropic_fake, anthropic_config, tmp_path):
    first = run_tap(anthropic_config, tmp_path)
    anthropic_fake.clear_requests()
    second = run_tap({**anthropic_config, "lookback_days": 0}, tmp_path, state=first.states[-1])
    assert second.returncode == 0
    assert not [r for r in anthropic_fake.requests if r.path in REPORTS]
    assert not second.records("cost_report")


def test_a_crash_resumes_from_the_last_completed_window(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    first = run_tap({**anthropic_config, "window_days": 7}, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # The state after the second window of cost_report, as if the run died then.
    middle = next(
        s
        for s in first.states
        if s["bookmarks"].get("cost_report", {}).get("replication_key_value")
        and _watermarks(s)["cost_report"].timestamp() >= anthropic_dataset.start + 7 * DAY
    )
    mark = _watermarks(middle)["cost_report"]
    resumed = run_tap({**anthropic_config, "window_days": 7}, tmp_path, state=middle)
    assert resumed.returncode == 0
    starts = {r["starting_at"] for r in resumed.records("cost_report")}
    first_day = rfc3339(int(mark.timestamp()) - 2 * DAY)
    assert min(starts) == first_day
    every = {r["record_key"] for r in first.records("cost_report")}
    again = {r["record_key"] for r in resumed.records("cost_report")}
    before = {r["record_key"] for r in first.records("cost_report") if r["starting_at"] < first_day}
    assert before | again == every  # nothing lost
