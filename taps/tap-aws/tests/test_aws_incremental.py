"""State per billing period: restated periods are re-read, unchanged ones skipped; schema drift."""

from __future__ import annotations

import json

from finfocus_sandbox.aws import CREATE_NEW, write_cur2_delivery, write_legacy_cur_delivery
from tap_aws.tap import TapAWS
from tap_aws_testing import decimal_sum, run_tap, tap_config

PREFIX = "billing/exports"
NEW_COLUMNS = (
    "capacity_reservation_capacity_reservation_arn",
    "capacity_reservation_capacity_reservation_status",
    "capacity_reservation_capacity_reservation_type",
)


def _keys(s3, bucket: str, prefix: str) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])}


def test_restated_period_is_reread_and_unchanged_skipped(moto_url, s3, bucket, tmp_path):
    january = write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-01", rows=300, seed=1)
    february = write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-02", rows=200, seed=1)
    config = tap_config(moto_url, bucket)
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert len(first.records("cur2_line_items")) == 500
    delivered = first.last_state["bookmarks"]["deliveries"]["delivered"]
    assert delivered["cur2/acme/2026-01"]["delivery_id"] == january.execution_id
    assert delivered["cur2/acme/2026-02"]["delivery_id"] == february.execution_id

    # AWS refreshes February (OVERWRITE_REPORT): new execution, new manifest, files replaced.
    restated = write_cur2_delivery(
        s3, bucket, PREFIX, "acme", "2026-02", rows=210, seed=1, version=1
    )
    assert restated.execution_id != february.execution_id
    assert restated.totals.unblended_cost != february.totals.unblended_cost
    assert _keys(s3, bucket, f"{PREFIX}/acme/data/BILLING_PERIOD=2026-02/") == set(restated.files)

    second = run_tap(config, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    rows = second.records("cur2_line_items")
    assert len(rows) == 210, "February is re-read in full; January is skipped"
    assert {r["delivery_id"] for r in rows} == {restated.execution_id}
    assert decimal_sum(rows, "line_item_unblended_cost") == restated.totals.unblended_cost
    assert [d["billing_period"] for d in second.records("deliveries")] == ["2026-02"]
    assert "2026-01 unchanged" in second.stderr
    delivered = second.last_state["bookmarks"]["deliveries"]["delivered"]
    assert delivered["cur2/acme/2026-02"]["delivery_id"] == restated.execution_id

    third = run_tap(config, tmp_path, state=second.last_state)
    assert third.returncode == 0, third.stderr[-2000:]
    assert third.records("cur2_line_items") == []
    assert third.records("deliveries") == []


def test_create_new_versions_read_the_latest_only(moto_url, s3, bucket, tmp_path):
    old = write_cur2_delivery(
        s3, bucket, PREFIX, "kept", "2026-04", rows=120, seed=2, overwrite=CREATE_NEW
    )
    new = write_cur2_delivery(
        s3, bucket, PREFIX, "kept", "2026-04", rows=130, seed=2, overwrite=CREATE_NEW, version=1
    )
    data = _keys(s3, bucket, f"{PREFIX}/kept/data/BILLING_PERIOD=2026-04/")
    assert set(old.files) | set(new.files) == data, "earlier versions stay in S3"
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = run.records("cur2_line_items")
    assert len(rows) == 130
    assert {r["source_file"] for r in rows} == set(new.files)


def test_legacy_assemblies_restated(moto_url, s3, bucket, tmp_path):
    first = write_legacy_cur_delivery(s3, bucket, PREFIX, "legacy", "2026-01", rows=80, seed=4)
    run = run_tap(tap_config(moto_url, bucket), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    second = write_legacy_cur_delivery(
        s3, bucket, PREFIX, "legacy", "2026-01", rows=90, seed=4, version=1
    )
    assert second.execution_id != first.execution_id
    again = run_tap(tap_config(moto_url, bucket), tmp_path, state=run.last_state)
    rows = again.records("cur_line_items")
    assert len(rows) == 90
    assert {r["delivery_id"] for r in rows} == {second.execution_id}
    assert decimal_sum(rows, "lineItem/UnblendedCost") == second.totals.unblended_cost


def test_billing_periods_in_range(moto_url, s3, bucket, tmp_path):
    for period in ("2025-11", "2025-12", "2026-01", "2026-02"):
        write_cur2_delivery(s3, bucket, PREFIX, "acme", period, rows=20, seed=7)
    config = tap_config(moto_url, bucket, start_date="2025-12-15T00:00:00Z", end_date="2026-02-01")
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert [d["billing_period"] for d in run.records("deliveries")] == ["2025-12", "2026-01"]
    assert {r["billing_period"] for r in run.records("cur2_line_items")} == {"2025-12", "2026-01"}


def test_new_column_in_a_later_delivery(moto_url, s3, bucket, tmp_path):
    write_cur2_delivery(
        s3, bucket, PREFIX, "acme", "2026-01", rows=50, seed=1, drop_columns=NEW_COLUMNS
    )
    config = tap_config(moto_url, bucket)
    first = run_tap(config, tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert not set(NEW_COLUMNS) & set(first.schemas("cur2_line_items")[0]["properties"])
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-02", rows=60, seed=1)
    second = run_tap(config, tmp_path, state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    properties = second.schemas("cur2_line_items")[0]["properties"]
    assert set(NEW_COLUMNS) <= set(properties)
    assert properties[NEW_COLUMNS[0]]["type"] == ["string", "null"]
    rows = second.records("cur2_line_items")
    assert len(rows) == 60
    assert all(NEW_COLUMNS[0] in r for r in rows)


def test_columns_arriving_mid_run_emit_a_new_schema(moto_url, s3, bucket, capfd):
    """A delivery that lands after discovery with new columns: new SCHEMA, then its rows."""
    write_cur2_delivery(
        s3, bucket, PREFIX, "acme", "2026-01", rows=20, seed=1, drop_columns=NEW_COLUMNS
    )
    tap = TapAWS(config=tap_config(moto_url, bucket))
    stream = tap.streams["cur2_line_items"]
    assert NEW_COLUMNS[0] not in stream.schema["properties"]
    write_cur2_delivery(s3, bucket, PREFIX, "acme", "2026-02", rows=25, seed=1)
    capfd.readouterr()
    tap.sync_all()
    out = capfd.readouterr().out
    messages = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    schemas = [
        i
        for i, m in enumerate(messages)
        if m["type"] == "SCHEMA"
        and m["stream"] == "cur2_line_items"
        and NEW_COLUMNS[0] in m["schema"]["properties"]
    ]
    feb_rows = [
        i
        for i, m in enumerate(messages)
        if m["type"] == "RECORD"
        and m["stream"] == "cur2_line_items"
        and m["record"]["billing_period"] == "2026-02"
    ]
    assert schemas
    assert feb_rows
    assert schemas[0] < feb_rows[0]
    assert len(feb_rows) == 25
    assert all(NEW_COLUMNS[0] in messages[i]["record"] for i in feb_rows)
