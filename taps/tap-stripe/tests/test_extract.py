"""A full extraction against the fake Stripe API: every object of every account, once."""

from __future__ import annotations

import collections
import json
import time
from decimal import Decimal

from tap_stripe_testing import API_KEY, CONNECTED, STREAM_KINDS, expected_ids, run_tap

EVENT_RETENTION = 30 * 86400


def test_every_object_of_every_account_lands_exactly_once(config, dataset, tmp_path):
    started = int(time.time())
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in STREAM_KINDS:
        got = collections.Counter((r["account_id"], r["id"]) for r in run.records(stream))
        doubled = [key for key, n in got.items() if n > 1]
        assert not doubled, f"{stream}: emitted twice: {doubled[:5]}"
        if stream == "events":  # Stripe serves the last 30 days only
            assert set(got) == expected_ids(dataset, stream, since=started - EVENT_RETENTION)
        else:
            assert set(got) == expected_ids(dataset, stream), stream
    assert {r["account_id"] for r in run.records("charges")} == set(dataset.account_ids)
    assert set(CONNECTED) < set(dataset.account_ids)


def test_invoice_line_items_include_every_page_not_only_the_embedded_one(config, dataset, tmp_path):
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    got = collections.Counter(
        (r["account_id"], r["invoice_id"]) for r in run.records("invoice_line_items")
    )
    want: collections.Counter = collections.Counter()
    for account in dataset.account_ids:
        for line in dataset.objects("line_item", account):
            want[(account, line["invoice"])] += 1
    assert got == want
    assert max(want.values()) > 10, "the fake must hold invoices with more lines than one page"
    keys = [(r["invoice_id"], r["id"]) for r in run.records("invoice_line_items")]
    assert len(keys) == len(set(keys))


def test_money_stays_exact_integer_minor_units_and_decimal_rates(config, dataset, tmp_path):
    run = run_tap(config, tmp_path)
    assert run.returncode == 0
    lines = {
        json.loads(line)["record"]["id"]: line
        for line in run.stdout.splitlines()
        if '"stream":"balance_transactions"' in line and '"type":"RECORD"' in line
    }
    with_rate = [
        bt
        for a in dataset.account_ids
        for bt in dataset.objects("balance_transaction", a)
        if bt.get("exchange_rate") is not None
    ]
    assert with_rate, "the fake must hold converted transactions"
    for bt in with_rate:
        record = json.loads(lines[bt["id"]], parse_float=Decimal)["record"]
        assert record["exchange_rate"] == Decimal(repr(bt["exchange_rate"]))
    for line in lines.values():
        record = json.loads(line)["record"]
        assert isinstance(record["amount"], int)
        assert isinstance(record["fee"], int)
        assert all(isinstance(fee["amount"], int) for fee in record["fee_details"])
    currencies = {json.loads(line)["record"]["currency"] for line in lines.values()}
    assert "jpy" in currencies


def test_about_discover_and_test_modes(config, tmp_path):
    about = run_tap(config, tmp_path, "--about", "--format=json")
    assert about.returncode == 0
    info = json.loads(about.stdout)
    assert info["name"] == "tap-stripe"
    assert {
        "api_key",
        "start_date",
        "end_date",
        "account_ids",
        "api_url",
        "stripe_version",
        "lookback_days",
    } <= set(info["settings"]["properties"])
    assert info["settings"]["properties"]["api_key"]["secret"] is True

    discover = run_tap(config, tmp_path, "--discover")
    catalog = json.loads(discover.stdout)
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert set(streams) == {*STREAM_KINDS, "invoice_line_items"}
    assert streams["invoice_line_items"]["key_properties"] == ["invoice_id", "id"]
    assert all(s["replication_key"] == "updated_at" for s in streams.values())

    test = run_tap(config, tmp_path, "--test")
    assert test.returncode == 0, test.stderr[-2000:]
    assert {"balance_transactions", "charges", "invoices"} <= test.streams
    assert API_KEY not in test.stdout + test.stderr
