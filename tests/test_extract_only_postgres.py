"""`meltano run tap-stripe target-postgres`: the raw layer, landed once, kept incremental."""

from __future__ import annotations

import time

import pytest
from pipeline_testing import STRIPE_KEY

pytestmark = pytest.mark.integration

TABLES = {
    "balance_transactions": "balance_transaction",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "invoices": "invoice",
    "credit_notes": "credit_note",
    "customers": "customer",
    "subscriptions": "subscription",
    "products": "product",
    "prices": "price",
    "application_fees": "application_fee",
    "transfers": "transfer",
}


def _fake_ids(dataset, kind):
    return {(a, o["id"]) for a in dataset.account_ids for o in dataset.objects(kind, a)}


def test_extract_only_lands_every_object_once_and_stays_incremental(
    meltano, database, fake_stripe, stripe_dataset
):
    first = meltano.ok("run", "tap-stripe", "target-postgres")
    assert STRIPE_KEY not in first.stdout + first.stderr

    counts = {}
    for table, kind in TABLES.items():
        rows = database.query(f"select account_id, id from stripe.{table}")
        assert len(rows) == len(set(rows)), f"{table}: duplicate rows"
        assert set(rows) == _fake_ids(stripe_dataset, kind), table
        counts[table] = len(rows)
    lines = database.query("select invoice_id, id from stripe.invoice_line_items")
    assert len(lines) == len(set(lines))
    assert len(lines) == sum(
        len(stripe_dataset.objects("line_item", a)) for a in stripe_dataset.account_ids
    )
    # Money is stored exactly: integer minor units, exchange rates as numeric.
    types = dict(
        database.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'stripe' and table_name = 'balance_transactions'"
        )
    )
    assert types["amount"] == "bigint"
    assert types["exchange_rate"] == "numeric"

    # A second run with nothing new: only new windows and events are asked for.
    fake_stripe.clear_requests()
    time.sleep(1.1)
    meltano.ok("run", "tap-stripe", "target-postgres")
    for table in TABLES:
        assert database.count(f"stripe.{table}") == counts[table], table
    listed = [r for r in fake_stripe.requests if r.path != "/v1/account"]
    assert {r.path for r in listed} <= {"/v1/balance_transactions", "/v1/events"}

    # A changed object (an event) updates its row; a new charge adds one.
    platform = stripe_dataset.account_ids[0]
    customer = stripe_dataset.objects("customer", platform)[3]
    stripe_dataset.update(
        "customer", customer["id"], {"email": "new-billing@example.com"}, account=platform
    )
    new = stripe_dataset.advance(new_charges=2, account=platform)
    time.sleep(1.1)
    meltano.ok("run", "tap-stripe", "target-postgres")
    emails = database.query("select email from stripe.customers where id = %s", customer["id"])
    assert emails == [("new-billing@example.com",)]
    assert database.count("stripe.customers") == counts["customers"]
    assert database.count("stripe.charges") == counts["charges"] + 2
    assert database.count("stripe.balance_transactions") == counts["balance_transactions"] + 2
    new_ids = {o["id"] for o in new if o["object"] == "charge"}
    landed = {r[0] for r in database.query("select id from stripe.charges")}
    assert new_ids <= landed
