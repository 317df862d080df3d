"""Incremental runs: the watermark, the lookback window, restated buckets, resuming."""

from __future__ import annotations

import datetime as dt

from finfocus_sandbox.openai.dataset import DAY
from tap_openai_testing import BUCKET_STREAMS, expected, run_tap

BUCKET_PATHS = ("/v1/organization/costs", "/v1/organization/usage/")


def _watermark(state: dict, stream: str) -> int:
    value = state["bookmarks"][stream]["replication_key_value"]
    return int(dt.datetime.fromisoformat(value).timestamp())


def _bucket_requests(fake) -> list:
    """Requests for buckets, without the key check (the one-bucket probe of today)."""
    return [
        r
        for r in fake.requests
        if r.path.startswith(BUCKET_PATHS) and r.params.get("limit") != ["1"]
    ]


def test_the_watermark_advances_per_page_and_stops_before_today(config, dataset, tmp_path):
    run = run_tap({**config, "page_size": 10}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    today = dataset.now - dataset.now % DAY
    marks = [
        _watermark(s, "costs")
        for s in run.states
        if "replication_key_value" in s["bookmarks"].get("costs", {})
    ]
    assert marks == sorted(marks)
    assert len(set(marks)) >= 4
    assert marks[-1] == today  # today's bucket is still filling: never bookmarked
    assert all(_watermark(run.states[-1], s) == today for s in BUCKET_STREAMS)


def test_second_run_rereads_only_the_lookback_window(config, dataset, fake, tmp_path):
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    state = first.states[-1]
    fake.clear_requests()

    second = run_tap(config, tmp_path, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    requests = _bucket_requests(fake)
    assert {r.path for r in requests} == {
        "/v1/organization/costs",
        *(f"/v1/organization/usage/{kind}" for kind, _ in list(BUCKET_STREAMS.values())[1:]),
    }
    for stream in BUCKET_STREAMS:
        lower = _watermark(state, stream) - 2 * DAY
        records = second.records(stream)
        assert records, stream
        assert min(r["start_time"] for r in records) >= lower
        assert {r["id"] for r in records} == set(expected(dataset, stream, lower, dataset.now + 1))
    for request in requests:
        assert int(request.params["start_time"][0]) == _watermark(state, "costs") - 2 * DAY


def test_lookback_days_zero_rereads_only_the_open_bucket(config, dataset, fake, tmp_path):
    first = run_tap(config, tmp_path)
    fake.clear_requests()
    second = run_tap({**config, "lookback_days": 0}, tmp_path, state=first.states[-1])
    assert second.returncode == 0
    today = dataset.now - dataset.now % DAY
    assert {int(r.params["start_time"][0]) for r in _bucket_requests(fake)} == {today}
    assert {r["start_time"] for r in second.records("costs")} == {today}


def test_restated_buckets_come_back_with_the_same_keys_and_new_amounts(config, dataset, tmp_path):
    first = run_tap(config, tmp_path)
    assert first.returncode == 0
    changed = set(dataset.restate(days=2))
    second = run_tap(config, tmp_path, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-3000:]

    before = {r["id"]: r for r in first.records("costs")}
    after = {r["id"]: r for r in second.records("costs")}
    restated = {k for k, r in before.items() if r["start_time"] in changed}
    assert restated
    assert restated == {k for k, r in after.items() if r["start_time"] in changed}
    assert all(after[k]["amount"]["value"] > before[k]["amount"]["value"] for k in restated)
    # Upserted by key, as a target does: exactly what OpenAI holds now, nothing doubled.
    landed = {**before, **after}
    start, end = dataset.first_day - 5 * DAY, dataset.now + 1
    want = expected(dataset, "costs", start, end)
    assert set(landed) == set(want)
    assert {k: r["amount"]["value"] for k, r in landed.items()} == {
        k: r["amount"]["value"] for k, r in want.items()
    }
    usage_before = {r["id"]: r for r in first.records("usage_completions")}
    usage_after = {r["id"]: r for r in second.records("usage_completions")}
    for key in set(usage_after) & set(usage_before):
        if usage_after[key]["start_time"] in changed:
            assert usage_after[key]["input_tokens"] > usage_before[key]["input_tokens"]


def test_resuming_from_a_mid_run_state_loses_nothing(config, dataset, tmp_path):
    full = run_tap({**config, "page_size": 7}, tmp_path)
    assert full.returncode == 0
    # A crash right after the third STATE: what was written before it, and that state.
    cut = [i for i, m in enumerate(full.messages) if m["type"] == "STATE"][2]
    before = full.messages[: cut + 1]
    state = before[-1]["value"]
    resumed = run_tap({**config, "page_size": 7}, tmp_path, state=state)
    assert resumed.returncode == 0
    for stream in BUCKET_STREAMS:
        written = {
            m["record"]["id"] for m in before if m["type"] == "RECORD" and m["stream"] == stream
        }
        landed = written | {r["id"] for r in resumed.records(stream)}
        assert landed == {r["id"] for r in full.records(stream)}, stream
