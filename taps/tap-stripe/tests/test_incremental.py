"""Incremental runs: new windows for immutable objects, /v1/events for changed ones."""

from __future__ import annotations

import datetime as dt
import time

from tap_stripe_testing import STREAM_KINDS, run_tap


def _bookmarks(state: dict) -> dict[tuple[str, str], dt.datetime]:
    out = {}
    for stream, entry in state["bookmarks"].items():
        for partition in entry.get("partitions", []):
            value = partition.get("replication_key_value")
            if value:
                out[(stream, partition["context"]["account_id"])] = dt.datetime.fromisoformat(value)
    return out


def test_second_run_asks_only_for_new_windows_and_events(fake, dataset, config, tmp_path):
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    state = first.states[-1]
    bookmarks = _bookmarks(state)
    platform = dataset.account_ids[0]
    assert {(s, a) for s in STREAM_KINDS for a in dataset.account_ids} <= set(bookmarks)
    oldest_bookmark = min(bookmarks.values()).timestamp()

    charge = dataset.objects("charge", platform)[40]
    dataset.update("charge", charge["id"], {"description": "disputed by finance"}, account=platform)
    new_objects = dataset.advance(new_charges=3, account=platform)
    new_charges = {o["id"] for o in new_objects if o["object"] == "charge"}
    new_txns = {o["id"] for o in new_objects if o["object"] == "balance_transaction"}
    time.sleep(1.1)  # the run reads up to the second it starts, exclusive
    fake.clear_requests()

    second = run_tap(config, tmp_path, state=state)
    assert second.returncode == 0, second.stderr[-3000:]

    listed = [r for r in fake.requests if r.path != "/v1/account"]
    assert listed
    for request in listed:
        gte = request.params.get("created[gte]")
        assert gte is not None, f"unbounded request {request.path} {request.params}"
        assert int(gte[0]) >= int(oldest_bookmark), (
            f"re-read old data: {request.path} {request.params}"
        )
    asked = {r.path for r in listed}
    # Mutable objects are asked for through events only; immutable ones by window.
    assert "/v1/charges" not in asked
    assert "/v1/invoices" not in asked
    assert {"/v1/events", "/v1/balance_transactions"} <= asked

    charges = {r["id"]: r for r in second.records("charges")}
    assert set(charges) == new_charges | {charge["id"]}
    assert charges[charge["id"]]["description"] == "disputed by finance"
    assert {r["id"] for r in second.records("balance_transactions")} == new_txns
    assert not second.records("invoices")
    assert not second.records("customers")


def test_a_bookmark_older_than_event_retention_relists_with_a_warning(
    fake, dataset, config, tmp_path
):
    first = run_tap(config, tmp_path)
    state = first.states[-1]
    stale = (dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=45)).isoformat()
    for partition in state["bookmarks"]["charges"]["partitions"]:
        partition["replication_key_value"] = stale
    fake.clear_requests()
    second = run_tap(config, tmp_path, state=state)
    assert second.returncode == 0
    assert "older than the 30 days Stripe keeps events" in second.stderr
    # Every charge is read again (no silent gap), by window, not through events.
    assert len(second.records("charges")) == sum(
        len(dataset.objects("charge", a)) for a in dataset.account_ids
    )
    assert any(r.path == "/v1/charges" for r in fake.requests)


def test_lookback_days_rereads_the_recent_window(fake, dataset, config, tmp_path):
    first = run_tap(config, tmp_path)
    fake.clear_requests()
    second = run_tap({**config, "lookback_days": 10}, tmp_path, state=first.states[-1])
    assert second.returncode == 0
    recent = time.time() - 10 * 86400
    txns = second.records("balance_transactions")
    assert txns
    assert all(int(r["created"]) >= recent - 1 for r in txns)
    want = {
        o["id"]
        for a in dataset.account_ids
        for o in dataset.objects("balance_transaction", a)
        if int(o["created"]) >= recent + 5
    }
    assert want <= {r["id"] for r in txns}
