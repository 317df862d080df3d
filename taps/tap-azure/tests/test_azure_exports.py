"""Exports in Blob Storage (Azurite): every type read in full, newest run wins, re-deliveries."""

from __future__ import annotations

import datetime as dt

import pytest
from finfocus_sandbox.azure import write_export_run
from tap_azure_testing import decimal_sum, exports_config, make_dataset, run_tap

COST = {
    ("EA", "ActualCost"): "CostInBillingCurrency",
    ("EA", "AmortizedCost"): "CostInBillingCurrency",
    ("MCA", "ActualCost"): "costInBillingCurrency",
    ("MCA", "AmortizedCost"): "costInBillingCurrency",
}
KIND = {
    "ActualCost": "azure_actual",
    "AmortizedCost": "azure_amortized",
    "FocusCost": "azure_focus",
}


def check_order(run) -> None:
    """Each deliveries record follows the last row of its run and counts its rows."""
    open_counts: dict[str, int] = {}
    closed: set[str] = set()
    for message in run.messages:
        if message["type"] != "RECORD":
            continue
        record = message["record"]
        if message["stream"] == "export_rows":
            assert record["delivery_id"] not in closed
            open_counts[record["delivery_id"]] = open_counts.get(record["delivery_id"], 0) + 1
        elif message["stream"] == "deliveries":
            assert record["row_count"] == open_counts.get(record["delivery_id"], 0)
            closed.add(record["delivery_id"])


@pytest.mark.parametrize("agreement", ["EA", "MCA"])
def test_every_export_type_read_in_full(tmp_path, azurite_server, blob_container, agreement):
    container, name = blob_container
    dataset = make_dataset(agreement=agreement, days=45, malformed_tags=1)
    runs = []
    for period in dataset.months()[-2:]:
        for export_type in ("ActualCost", "AmortizedCost", "FocusCost"):
            runs.append(
                write_export_run(
                    container,
                    dataset,
                    f"{agreement.lower()}-{export_type.lower()}",
                    export_type,
                    period,
                    rows_per_file=120,
                    compress=export_type == "AmortizedCost",
                )
            )
    run = run_tap(exports_config(azurite_server, name), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records("export_rows")
    deliveries = {(d["export_name"], d["billing_period"]): d for d in run.records("deliveries")}
    assert len(deliveries) == len(runs)
    for written in runs:
        rows = [r for r in records if r["delivery_id"] == written.run_id]
        assert len(rows) == written.rows
        assert rows
        if written.export_type == "FocusCost":
            assert decimal_sum(rows, "BilledCost") == written.cost
            assert decimal_sum(rows, "EffectiveCost") == written.effective_cost
            assert all(isinstance(r["Tags"], (dict, str)) for r in rows)
        else:
            assert decimal_sum(rows, COST[agreement, written.export_type]) == written.cost
        assert {r["export_kind"] for r in rows} == {KIND[written.export_type]}
        assert {r["blob"] for r in rows} == set(written.files)
        delivery = deliveries[written.export_name, written.billing_period]
        assert delivery["delivery_id"] == written.run_id
        assert delivery["export_kind"] == KIND[written.export_type]
        assert delivery["manifest_key"] == written.manifest_blob
        assert delivery["files"] == list(written.files)
        assert delivery["row_count"] == written.rows
        assert delivery["complete"] is True
        assert delivery["delivered_at"].endswith("Z")
    keys = {(r["delivery_id"], r["blob"], r["row_number"]) for r in records}
    assert len(keys) == len(records)
    focus = [r for r in records if r["export_kind"] == "azure_focus"]
    assert any(isinstance(r["Tags"], dict) and r["Tags"] for r in focus)
    # FOCUS billing account ids are resource ids; cost details ones are raw ids
    ids = {d["export_kind"]: d["billing_account_ids"] for d in deliveries.values()}
    assert ids["azure_focus"] == [dataset.focus_billing_account_id]
    assert ids["azure_actual"] == [dataset.billing_account_id]
    check_order(run)
    # the schema follows the data: MCA files spell `tags`, FOCUS files `Tags`
    if agreement == "MCA":
        assert any("tags" in s["properties"] for s in run.schemas("export_rows"))


def test_redelivered_period_is_read_again(tmp_path, azurite_server, blob_container):
    container, name = blob_container
    dataset = make_dataset(days=45)
    closed, current = dataset.months()[-2], dataset.months()[-1]
    stale = write_export_run(container, dataset, "focus", "FocusCost", current)
    old = write_export_run(
        container,
        dataset,
        "focus",
        "FocusCost",
        closed,
        submitted_at=dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=3),
    )
    newest = write_export_run(container, dataset, "focus", "FocusCost", current)
    config = exports_config(azurite_server, name)
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    ids = {r["delivery_id"] for r in first.records("export_rows")}
    assert ids == {old.run_id, newest.run_id}  # the older run of the month is superseded
    assert stale.run_id not in ids
    state = first.last_state
    delivered = state["bookmarks"]["deliveries"]["delivered"]
    assert delivered[f"azure_focus/focus/{current}"]["delivery_id"] == newest.run_id
    # nothing new: nothing read
    again = run_tap(config, tmp_path, state=state)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.records("export_rows") == []
    assert again.records("deliveries") == []
    assert "unchanged" in again.stderr
    # Azure restates recent days and re-delivers the open month
    dataset.restate(days=3)
    redelivered = write_export_run(container, dataset, "focus", "FocusCost", current)
    third = run_tap(config, tmp_path, state=state)
    assert third.returncode == 0, third.stderr[-3000:]
    rows = third.records("export_rows")
    assert {r["delivery_id"] for r in rows} == {redelivered.run_id}
    assert len(rows) == redelivered.rows
    assert decimal_sum(rows, "BilledCost") == redelivered.cost
    assert redelivered.cost != newest.cost
    (delivery,) = third.records("deliveries")
    assert delivery["billing_period"] == current
    assert delivery["delivery_id"] == redelivered.run_id
    assert third.order()[-1] == "deliveries"  # after the period's last row
    check_order(third)
    after = third.last_state["bookmarks"]["deliveries"]["delivered"]
    assert after[f"azure_focus/focus/{current}"]["delivery_id"] == redelivered.run_id
    assert after[f"azure_focus/focus/{closed}"]["delivery_id"] == old.run_id


def test_export_names_and_start_date_filter(tmp_path, azurite_server, blob_container):
    container, name = blob_container
    dataset = make_dataset(days=45)
    closed, current = dataset.months()[-2], dataset.months()[-1]
    write_export_run(container, dataset, "actual", "ActualCost", closed)
    keep = write_export_run(container, dataset, "actual", "ActualCost", current)
    write_export_run(container, dataset, "amortized", "AmortizedCost", current)
    config = exports_config(
        azurite_server, name, export_names=["actual"], start_date=f"{current}-01"
    )
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert {r["delivery_id"] for r in run.records("export_rows")} == {keep.run_id}
    assert [d["billing_period"] for d in run.records("deliveries")] == [current]
