"""The fake answers like Stripe: envelopes, pagination, filters, errors, accounts, events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from finfocus_sandbox.stripe import DEFAULT_API_VERSION, KINDS, FakeStripe, StripeDataset
from finfocus_sandbox.stripe.dataset import DAY, EVENT_RETENTION_SECONDS

FIXTURES = Path("/work/shared/samples/stripe/fixtures3.json")
LIST_PATHS = {
    "balance_transaction": "balance_transactions",
    "charge": "charges",
    "refund": "refunds",
    "dispute": "disputes",
    "payout": "payouts",
    "invoice": "invoices",
    "credit_note": "credit_notes",
    "customer": "customers",
    "subscription": "subscriptions",
    "product": "products",
    "price": "prices",
    "application_fee": "application_fees",
    "transfer": "transfers",
    "event": "events",
}


def walk(get, path, params=None, *, account=None, backwards=False):
    """Every object of a list endpoint, following cursors; returns (objects, pages)."""
    base = list(params.items()) if isinstance(params, dict) else list(params or [])
    base.append(("limit", 100))
    cursor: list[tuple[str, str]] = []
    seen, pages = [], 0
    while True:
        body = get(path, base + cursor, account=account).json()
        pages += 1
        seen.extend(reversed(body["data"]) if backwards else body["data"])
        if not body["has_more"]:
            return (list(reversed(seen)) if backwards else seen), pages
        name = "ending_before" if backwards else "starting_after"
        cursor = [(name, body["data"][0 if backwards else -1]["id"])]


def newest_first(objs):
    return sorted(objs, key=lambda o: (o["created"], o["id"]), reverse=True)


# ------------------------------------------------------------------ envelope and headers
def test_list_envelope_default_limit_and_headers(get, dataset):
    response = get("/v1/charges")
    assert response.status == 200
    body = response.json()
    assert set(body) == {"object", "data", "has_more", "url"}
    assert body["object"] == "list"
    assert body["url"] == "/v1/charges"
    assert len(body["data"]) == 10  # Stripe's default limit
    assert body["has_more"] is True
    assert [c["id"] for c in body["data"]] == [c["id"] for c in dataset.objects("charge")[:10]]
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Request-Id"].startswith("req_")
    assert response.headers["Stripe-Version"] == DEFAULT_API_VERSION


def test_stripe_version_header_is_echoed_and_validated(get):
    echoed = get("/v1/charges", {"limit": 1}, headers={"Stripe-Version": "2024-06-20"})
    assert echoed.status == 200
    assert echoed.headers["Stripe-Version"] == "2024-06-20"
    bad = get("/v1/charges", headers={"Stripe-Version": "yesterday"})
    assert bad.status == 400
    assert bad.json()["error"]["message"] == "Invalid Stripe API version: yesterday"


def test_each_request_gets_its_own_request_id(get):
    ids = {get("/v1/account").headers["Request-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_unknown_url_and_write_methods_are_unrecognized(get):
    missing = get("/v1/nothing_here")
    assert missing.status == 404
    assert missing.json()["error"]["message"].startswith(
        "Unrecognized request URL (GET: /v1/nothing_here)."
    )
    post = get("/v1/charges", method="POST", data=b"amount=100")
    assert post.status == 404


# ------------------------------------------------------------------ pagination
def test_forward_pagination_returns_everything_newest_first(get, dataset):
    expected = dataset.objects("balance_transaction")
    assert len(expected) == 700
    got, pages = walk(get, "/v1/balance_transactions")
    assert [t["id"] for t in got] == [t["id"] for t in expected]
    assert got == newest_first(got)
    assert pages == 7


def test_backward_pagination_with_ending_before_walks_back_to_the_newest(get, dataset):
    expected = [c["id"] for c in dataset.objects("charge")]
    oldest = expected[-1]
    first = get("/v1/charges", {"limit": 5, "ending_before": oldest}).json()
    # the five objects just newer than the cursor, still newest first
    assert [c["id"] for c in first["data"]] == expected[-6:-1]
    assert first["has_more"] is True
    seen = list(reversed(first["data"]))
    params = {"limit": 100, "ending_before": first["data"][0]["id"]}
    while True:
        body = get("/v1/charges", params).json()
        seen.extend(reversed(body["data"]))
        if not body["has_more"]:
            break
        params["ending_before"] = body["data"][0]["id"]
    assert [c["id"] for c in reversed(seen)] == expected[:-1]


def test_ending_before_the_newest_object_is_an_empty_last_page(get, dataset):
    newest = dataset.objects("charge")[0]["id"]
    body = get("/v1/charges", {"ending_before": newest}).json()
    assert body["data"] == []
    assert body["has_more"] is False


def test_cursor_must_name_an_object_of_the_list(get, dataset):
    response = get("/v1/charges", {"starting_after": "ch_doesnotexist"})
    assert response.status == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "resource_missing"
    assert error["param"] == "starting_after"
    assert error["message"] == "No such charge: 'ch_doesnotexist'"
    # an id of another kind is not a cursor of this list either
    txn = dataset.objects("balance_transaction")[0]["id"]
    assert get("/v1/charges", {"ending_before": txn}).status == 400


def test_both_cursors_at_once_are_refused(get, dataset):
    ids = [c["id"] for c in dataset.objects("charge")[:2]]
    response = get("/v1/charges", {"starting_after": ids[0], "ending_before": ids[1]})
    assert response.status == 400


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("0", "This value must be greater than or equal to 1."),
        ("101", "This value must be less than or equal to 100."),
        ("-5", "This value must be greater than or equal to 1."),
        ("ten", "Invalid integer: ten"),
    ],
)
def test_limit_out_of_bounds_is_a_400_on_param_limit(get, limit, message):
    response = get("/v1/balance_transactions", {"limit": limit})
    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] == "limit"
    assert error["type"] == "invalid_request_error"
    assert error["message"] == message


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_inclusive(get, limit):
    body = get("/v1/balance_transactions", {"limit": limit}).json()
    assert len(body["data"]) == limit


def test_empty_parameter_value_is_refused_like_stripe(get):
    response = get("/v1/charges", {"starting_after": ""})
    assert response.status == 400
    assert response.json()["error"]["code"] == "parameter_invalid_empty"


# ------------------------------------------------------------------ created filters
def test_created_range_filters_partition_the_list(get, dataset):
    txns = dataset.objects("balance_transaction")
    cut = txns[len(txns) // 2]["created"]
    newer, _ = walk(get, "/v1/balance_transactions", {"created[gte]": cut})
    older, _ = walk(get, "/v1/balance_transactions", {"created[lt]": cut})
    assert {t["id"] for t in newer} == {t["id"] for t in txns if t["created"] >= cut}
    assert {t["id"] for t in older} == {t["id"] for t in txns if t["created"] < cut}
    assert len(newer) + len(older) == len(txns)
    strict, _ = walk(
        get, "/v1/balance_transactions", {"created[gt]": cut, "created[lte]": cut + 5 * DAY}
    )
    assert {t["id"] for t in strict} == {
        t["id"] for t in txns if cut < t["created"] <= cut + 5 * DAY
    }


def test_created_as_integer_means_exactly_that_second(get, dataset):
    charge = dataset.objects("charge")[3]
    body = get("/v1/charges", {"created": charge["created"], "limit": 100}).json()
    assert charge["id"] in {c["id"] for c in body["data"]}
    assert {c["created"] for c in body["data"]} == {charge["created"]}


def test_created_cursor_and_range_combine(get, dataset):
    txns = dataset.objects("balance_transaction")
    cut = txns[-1]["created"] + 10 * DAY
    first = get("/v1/balance_transactions", {"created[gte]": cut, "limit": 50}).json()
    rest = get(
        "/v1/balance_transactions",
        {"created[gte]": cut, "limit": 100, "starting_after": first["data"][-1]["id"]},
    ).json()
    expected = [t["id"] for t in txns if t["created"] >= cut]
    assert [t["id"] for t in first["data"] + rest["data"]] == expected[:150]


def test_bad_created_values_are_stripe_errors(get):
    bad_int = get("/v1/charges", {"created[gte]": "yesterday"})
    assert bad_int.status == 400
    assert bad_int.json()["error"]["param"] == "created[gte]"
    bad_op = get("/v1/charges", {"created[after]": "1"})
    assert bad_op.status == 400
    assert bad_op.json()["error"]["message"] == "Received unknown parameter: created[after]"


@pytest.mark.parametrize("path", [f"/v1/{name}" for name in LIST_PATHS.values()])
def test_every_list_endpoint_accepts_created(get, path):
    response = get(path, {"created[gte]": 0, "limit": 1})
    assert response.status == 200, response.body


def test_invoice_lines_do_not_take_created(get, dataset):
    invoice = dataset.objects("invoice")[0]["id"]
    response = get(f"/v1/invoices/{invoice}/lines", {"created[gte]": 0})
    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "parameter_unknown"
    assert error["param"] == "created[gte]"
    assert error["message"] == "Received unknown parameter: created[gte]"


def test_unknown_parameters_are_refused(get):
    response = get("/v1/charges", {"colour": "blue"})
    assert response.status == 400
    assert response.json()["error"] == {
        "message": "Received unknown parameter: colour",
        "type": "invalid_request_error",
        "code": "parameter_unknown",
        "doc_url": "https://stripe.com/docs/error-codes/parameter-unknown",
        "param": "colour",
    }


# ------------------------------------------------------------------ filters
def test_balance_transaction_type_filter(get, dataset):
    refunds, _ = walk(get, "/v1/balance_transactions", {"type": "refund"})
    expected = [t for t in dataset.objects("balance_transaction") if t["type"] == "refund"]
    assert refunds
    assert [t["id"] for t in refunds] == [t["id"] for t in expected]


def test_balance_transactions_of_an_automatic_payout_net_to_zero(get, dataset):
    payout = next(p for p in dataset.objects("payout") if p["automatic"])
    txns, _ = walk(get, "/v1/balance_transactions", {"payout": payout["id"]})
    assert payout["balance_transaction"] in {t["id"] for t in txns}
    assert len(txns) > 1
    # the payout pays out exactly the net of what it includes
    assert sum(t["net"] for t in txns) == 0
    assert get("/v1/balance_transactions", {"payout": "po_unknown"}).status == 400


def test_subscriptions_hide_canceled_unless_asked(get, dataset):
    subs = dataset.objects("subscription")
    canceled = {s["id"] for s in subs if s["status"] == "canceled"}
    assert canceled, "the dataset should hold canceled subscriptions"
    default, _ = walk(get, "/v1/subscriptions")
    assert {s["id"] for s in default} == {s["id"] for s in subs} - canceled
    everything, _ = walk(get, "/v1/subscriptions", {"status": "all"})
    assert len(everything) == len(subs)
    only, _ = walk(get, "/v1/subscriptions", {"status": "canceled"})
    assert {s["id"] for s in only} == canceled
    assert get("/v1/subscriptions", {"status": "sleeping"}).status == 400


def test_invoice_status_and_customer_filters(get, dataset):
    invoices = dataset.objects("invoice")
    statuses = Counter(i["status"] for i in invoices)
    assert {"paid", "open", "draft"} <= set(statuses)
    paid, _ = walk(get, "/v1/invoices", {"status": "paid"})
    assert len(paid) == statuses["paid"]
    customer = invoices[0]["customer"]
    mine, _ = walk(get, "/v1/invoices", {"customer": customer})
    assert mine
    assert {i["customer"] for i in mine} == {customer}


def test_charge_filter_on_refunds(get, dataset):
    refund = dataset.objects("refund")[0]
    body = get("/v1/refunds", {"charge": refund["charge"]}).json()
    assert [r["id"] for r in body["data"]] == [refund["id"]]


# ------------------------------------------------------------------ retrieve
@pytest.mark.parametrize("kind", sorted(LIST_PATHS))
def test_retrieve_each_resource(get, dataset, kind):
    obj = dataset.objects(kind)[0]
    response = get(f"/v1/{LIST_PATHS[kind]}/{obj['id']}")
    assert response.status == 200
    assert response.json() == json.loads(json.dumps(obj))


def test_retrieve_unknown_id_is_resource_missing(get):
    response = get("/v1/invoices/in_nope")
    assert response.status == 404
    assert response.json()["error"] == {
        "message": "No such invoice: 'in_nope'",
        "type": "invalid_request_error",
        "code": "resource_missing",
        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "param": "id",
    }


# ------------------------------------------------------------------ invoices and lines
def test_invoices_embed_ten_lines_and_page_the_rest(get, dataset):
    invoice = next(
        i for i in dataset.objects("invoice") if len(dataset.account().lines[i["id"]]) >= 25
    )
    served = get(f"/v1/invoices/{invoice['id']}").json()
    assert len(served["lines"]["data"]) == 10
    assert served["lines"]["has_more"] is True
    assert served["lines"]["url"] == f"/v1/invoices/{invoice['id']}/lines"
    lines, pages = walk(get, served["lines"]["url"])
    assert pages == 1
    all_lines = dataset.account().lines[invoice["id"]]
    assert [line["id"] for line in lines] == [line["id"] for line in all_lines]
    assert lines[:10] == served["lines"]["data"]
    assert sum(line["amount"] for line in lines) == served["total"]
    # cursors inside the invoice, both ways
    page = get(served["lines"]["url"], {"limit": 10, "starting_after": all_lines[9]["id"]}).json()
    assert [line["id"] for line in page["data"]] == [line["id"] for line in all_lines[10:20]]
    back = get(served["lines"]["url"], {"limit": 3, "ending_before": all_lines[5]["id"]}).json()
    assert [line["id"] for line in back["data"]] == [line["id"] for line in all_lines[2:5]]
    assert back["has_more"] is True
    wrong = get(served["lines"]["url"], {"starting_after": "il_other"})
    assert wrong.status == 400
    assert wrong.json()["error"]["param"] == "starting_after"


def test_invoice_lines_point_at_prices_products_and_subscriptions(dataset):
    prices = {p["id"]: p for p in dataset.objects("price")}
    subscriptions = {s["id"] for s in dataset.objects("subscription")}
    lines = dataset.objects("line_item")
    assert lines
    for line in lines:
        details = line["pricing"]["price_details"]
        assert prices[details["price"]]["product"] == details["product"]
        if line["parent"]["type"] == "subscription_item_details":
            assert line["parent"]["subscription_item_details"]["subscription"] in subscriptions


def test_unknown_invoice_lines_is_404(get):
    response = get("/v1/invoices/in_missing/lines")
    assert response.status == 404
    assert response.json()["error"]["code"] == "resource_missing"


# ------------------------------------------------------------------ auth
def test_missing_key_is_401(http, api):
    response = http(api.url, "/v1/charges", key=None)
    assert response.status == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key.")


def test_wrong_key_is_401_with_the_key_masked(http, api):
    wrong = "sk_test_notTheRightOne98765wxyz"
    response = http(api.url, "/v1/charges", key=wrong)
    assert response.status == 401
    assert response.json() == {
        "error": {
            "message": "Invalid API Key provided: sk_test_" + "*" * 19 + "wxyz",
            "type": "invalid_request_error",
        }
    }
    assert wrong.encode() not in response.body


def test_basic_auth_with_the_key_as_username_works(http, api, key):
    assert http(api.url, "/v1/charges", basic=True, key=key).status == 200
    assert http(api.url, "/v1/charges", basic=True, key="sk_test_nope").status == 401


def test_publishable_key_is_refused(http, api):
    response = http(api.url, "/v1/charges", key="pk_test_publishable123")
    assert response.status == 401
    assert response.json()["error"]["message"].startswith(
        "This API call cannot be made with a publishable API key."
    )


def test_request_log_never_keeps_the_key(http, api, key):
    http(api.url, "/v1/charges", {"limit": 2}, account=None)
    http(api.url, "/v1/charges", key="sk_test_leakCandidate42")
    assert [(r.method, r.path, r.params, r.status) for r in api.requests] == [
        ("GET", "/v1/charges", {"limit": ["2"]}, 200),
        ("GET", "/v1/charges", {}, 401),
    ]
    dumped = repr(api.requests)
    assert key not in dumped
    assert "sk_test_leakCandidate42" not in dumped
    assert "Authorization" not in dumped


# ------------------------------------------------------------------ connected accounts
def test_account_endpoint_for_platform_and_connected(get, dataset):
    platform = get("/v1/account").json()
    assert platform["id"] == dataset.account_ids[0]
    assert platform["default_currency"] == "usd"
    jp_id, eu_id = dataset.account_ids[1:]
    japan = get("/v1/account", account=jp_id).json()
    assert (japan["id"], japan["default_currency"], japan["country"]) == (jp_id, "jpy", "JP")
    assert get("/v1/account", account=eu_id).json()["default_currency"] == "eur"


def test_connected_account_lists_are_that_accounts_objects(get, dataset, api):
    jp = dataset.account_ids[1]
    txns, _ = walk(get, "/v1/balance_transactions", account=jp)
    assert [t["id"] for t in txns] == [t["id"] for t in dataset.objects("balance_transaction", jp)]
    assert {t["currency"] for t in txns} == {"jpy"}
    assert {r.account for r in api.requests} == {jp}
    # another account's ids are not found through this one
    platform_charge = dataset.objects("charge")[0]["id"]
    assert get(f"/v1/charges/{platform_charge}", account=jp).status == 404


def test_stripe_account_the_key_cannot_reach_is_403_account_invalid(get, key):
    response = get("/v1/charges", account="acct_1NotConnected000")
    assert response.status == 403
    error = response.json()["error"]
    assert error["code"] == "account_invalid"
    assert error["type"] == "invalid_request_error"
    assert "'acct_1NotConnected000'" in error["message"]
    assert "does not have access to account" in error["message"]
    assert key not in error["message"]
    assert key[-4:] in error["message"]


# ------------------------------------------------------------------ dataset realism
def test_every_account_has_exactly_the_requested_transactions(dataset):
    for account in dataset.account_ids:
        assert len(dataset.objects("balance_transaction", account)) == 700


def test_balance_transactions_add_up(dataset):
    for account in dataset.account_ids:
        currency = dataset.currency(account)
        for txn in dataset.objects("balance_transaction", account):
            assert txn["currency"] == currency
            assert txn["fee"] == sum(d["amount"] for d in txn["fee_details"])
            assert txn["net"] == txn["amount"] - txn["fee"]
            assert all(isinstance(txn[k], int) for k in ("amount", "fee", "net", "created"))
            assert txn["status"] == (
                "available" if txn["available_on"] <= dataset.now else "pending"
            )


def test_transaction_types_cover_the_money_flows(dataset):
    platform = Counter(t["type"] for t in dataset.objects("balance_transaction"))
    for kind in (
        "charge", "refund", "adjustment", "payout", "stripe_fee", "stripe_fx_fee",
        "application_fee", "application_fee_refund", "transfer",
    ):  # fmt: skip
        assert platform[kind] > 0, kind
    categories = {
        (t["type"], t["reporting_category"]) for t in dataset.objects("balance_transaction")
    }
    assert ("application_fee", "platform_earning") in categories
    assert ("adjustment", "dispute") in categories


def test_dispute_transactions_carry_the_dispute_fee(dataset):
    dispute = dataset.objects("dispute")[0]
    txn = dispute["balance_transactions"][0]
    assert txn["type"] == "adjustment"
    assert txn["fee_details"][0]["amount"] == 1500
    assert txn["fee_details"][0]["type"] == "stripe_fee"
    assert txn["description"] == f"Chargeback withdrawal for {dispute['charge']}"
    assert dataset.get("charge", dispute["charge"])["disputed"] is True


def test_foreign_currency_charges_settle_with_an_exchange_rate(dataset):
    converted = [
        t for t in dataset.objects("balance_transaction") if t["exchange_rate"] is not None
    ]
    assert converted
    for txn in converted:
        assert isinstance(txn["exchange_rate"], float)
        assert txn["currency"] == "usd"
        if txn["type"] == "charge":
            assert dataset.get("charge", txn["source"])["currency"] != "usd"


def test_zero_decimal_account_amounts_are_whole_yen(dataset):
    jp = dataset.account_ids[1]
    prices = dataset.objects("price", jp)
    assert all(p["currency"] == "jpy" and p["unit_amount"] % 10 == 0 for p in prices)
    starter = next(p for p in prices if p["lookup_key"] == "starter")
    assert starter["unit_amount"] == 29 * 150  # ¥4,350, not 435,000


def test_connected_charges_pay_the_platform_application_fees(dataset):
    fees = dataset.objects("application_fee")
    assert fees
    for fee in fees:
        charge = dataset.get("charge", fee["charge"], fee["account"])
        assert charge is not None
        assert charge["application_fee"] == fee["id"]
        assert charge["application_fee_amount"] == fee["amount"]
        txn = dataset.get("balance_transaction", charge["balance_transaction"], fee["account"])
        assert "application_fee" in {d["type"] for d in txn["fee_details"]}
    assert any(f["refunded"] for f in fees)


def test_eur_account_fees_carry_tax(dataset):
    eu = dataset.account_ids[2]
    charge_txn = next(
        t for t in dataset.objects("balance_transaction", eu) if t["type"] == "charge"
    )
    assert {d["type"] for d in charge_txn["fee_details"]} >= {"stripe_fee", "tax"}


@pytest.mark.skipif(not FIXTURES.exists(), reason="stripe-mock fixtures not available")
def test_objects_have_every_field_of_their_stripe_mock_fixture(dataset):
    fixtures = json.loads(FIXTURES.read_text())["resources"]
    for kind in KINDS:
        objs = dataset.objects(kind, dataset.account_ids[0])
        assert objs, kind
        missing = set(fixtures[kind]) - set(objs[0])
        assert not missing, (kind, missing)
        assert objs[0]["object"] == fixtures[kind]["object"]


def test_same_seed_and_now_give_the_same_dataset():
    def dump(ds: StripeDataset) -> str:
        return json.dumps(
            {a: {k: ds.objects(k, a) for k in KINDS} for a in ds.account_ids}, sort_keys=True
        )

    one = StripeDataset.generate(
        seed=5, days=40, balance_transactions=150, connected_accounts=["acct_1X"], now=1_700_000_000
    )
    two = StripeDataset.generate(
        seed=5, days=40, balance_transactions=150, connected_accounts=["acct_1X"], now=1_700_000_000
    )
    other = StripeDataset.generate(
        seed=6, days=40, balance_transactions=150, connected_accounts=["acct_1X"], now=1_700_000_000
    )
    assert dump(one) == dump(two)
    assert dump(one) != dump(other)
    created = [t["created"] for t in one.objects("balance_transaction")]
    assert min(created) >= 1_700_000_000 - 40 * DAY
    assert max(created) < 1_700_000_000


# ------------------------------------------------------------------ events
def test_events_are_per_account_and_cover_creations(get, dataset):
    jp = dataset.account_ids[1]
    events, _ = walk(get, "/v1/events", account=jp)
    assert [e["id"] for e in events] == [e["id"] for e in dataset.objects("event", jp)]
    assert {e["account"] for e in events} == {jp}
    types = Counter(e["type"] for e in events)
    for expected in ("charge.succeeded", "customer.created", "invoice.paid", "payout.created"):
        assert types[expected] > 0, expected
    cutoff = dataset.now - EVENT_RETENTION_SECONDS
    recent_charges = {c["id"] for c in dataset.objects("charge", jp) if c["created"] >= cutoff}
    succeeded = {e["data"]["object"]["id"] for e in events if e["type"] == "charge.succeeded"}
    assert succeeded == recent_charges


def test_event_shape(dataset):
    evt = next(e for e in dataset.objects("event") if e["type"] == "charge.refunded")
    assert set(evt) >= {
        "id", "object", "api_version", "created", "data", "livemode", "pending_webhooks",
        "request", "type",
    }  # fmt: skip
    assert evt["object"] == "event"
    assert evt["data"]["object"]["object"] == "charge"
    assert evt["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}
    assert set(evt["request"]) == {"id", "idempotency_key"}


def test_event_type_filters(get, dataset):
    events = dataset.objects("event")
    charge_family, _ = walk(get, "/v1/events", {"type": "charge.*"})
    assert {e["type"] for e in charge_family} == {
        e["type"] for e in events if e["type"].startswith("charge.")
    }
    exact, _ = walk(get, "/v1/events", [("types[]", "invoice.paid"), ("types[]", "payout.paid")])
    assert {e["type"] for e in exact} == {"invoice.paid", "payout.paid"}
    assert len(exact) == sum(e["type"] in ("invoice.paid", "payout.paid") for e in events)
    both = get("/v1/events", [("type", "charge.*"), ("types[]", "invoice.paid")])
    assert both.status == 400


def test_events_older_than_thirty_days_are_gone(http, key):
    now = int(time.time())
    ds = StripeDataset.generate(seed=2, days=60, balance_transactions=200, now=now - 20 * DAY)
    generated = ds.objects("event")
    assert min(e["created"] for e in generated) >= now - 50 * DAY
    customer = ds.objects("customer")[0]
    update = ds.update("customer", customer["id"], {"name": "Renamed"})  # the clock moves on
    assert update is not None
    with FakeStripe(ds, api_keys={key}) as fake:
        listed, _ = walk(lambda p, q, account=None: http(fake.url, p, q), "/v1/events")
        cutoff = ds.now - EVENT_RETENTION_SECONDS
        assert ds.now >= now
        assert {e["id"] for e in listed} == {
            e["id"] for e in ds.objects("event") if e["created"] >= cutoff
        }
        expired = [e for e in generated if e["created"] < cutoff]
        assert expired, "some generated events must have aged out"
        assert http(fake.url, f"/v1/events/{expired[0]['id']}").status == 404
        assert listed[0]["id"] == update["id"]


def test_update_changes_the_object_and_records_an_event(get, dataset):
    charge = dataset.objects("charge")[5]
    old = charge["description"]
    event = dataset.update(
        "charge", charge["id"], {"description": "changed"}, event_type="charge.updated"
    )
    assert event is not None
    assert get(f"/v1/charges/{charge['id']}").json()["description"] == "changed"
    assert event["type"] == "charge.updated"
    assert event["data"]["object"]["description"] == "changed"
    assert event["data"]["previous_attributes"] == {"description": old}
    assert event["created"] >= int(time.time()) - 2
    newest = get("/v1/events", {"limit": 1}).json()["data"][0]
    assert newest["id"] == event["id"]
    sub = dataset.objects("subscription")[0]
    assert dataset.update("subscription", sub["id"], {"metadata": {"k": "v"}})["type"] == (
        "customer.subscription.updated"
    )
    with pytest.raises(KeyError):
        dataset.update("charge", "ch_missing", {"description": "x"})


def test_advance_creates_newer_charges_with_transactions_and_events(get, dataset):
    before = max(t["created"] for t in dataset.objects("event"))
    newest = dataset.account().newest_created()
    created = dataset.advance(new_charges=3)
    charges = [o for o in created if o["object"] == "charge"]
    assert len(charges) == 3
    assert Counter(o["object"] for o in created) == {
        "charge": 3,
        "balance_transaction": 3,
        "event": 3,
    }
    for charge in charges:
        assert newest < charge["created"] <= int(time.time())
    listed = get("/v1/charges", {"created[gt]": newest}).json()["data"]
    assert {c["id"] for c in listed} == {c["id"] for c in charges}
    txns = get("/v1/balance_transactions", {"limit": 3}).json()["data"]
    assert {t["source"] for t in txns} == {c["id"] for c in charges}
    events = get("/v1/events", {"created[gt]": before, "type": "charge.succeeded"}).json()["data"]
    assert {e["data"]["object"]["id"] for e in events} >= {c["id"] for c in charges}


def test_generation_is_quick_enough_for_benchmarks():
    started = time.perf_counter()
    ds = StripeDataset.generate(seed=1, days=120, balance_transactions=20_000)
    assert len(ds.objects("balance_transaction")) == 20_000
    assert time.perf_counter() - started < 10


def test_cli_prints_one_url_line_and_serves_until_sigterm(http):
    faults = json.dumps([{"kind": "rate_limit", "path": "^/v1/charges$", "times": 1}])
    command = [
        *(sys.executable, "-m", "finfocus_sandbox.cli", "stripe", "--port", "0"),
        *("--balance-transactions", "40", "--days", "30", "--api-key", "sk_test_cliKey1234"),
        *("--accounts", "acct_1CliJapan0000001", "--faults", faults),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert http(url, "/v1/charges", key="sk_test_cliKey1234").status == 429
        assert http(url, "/v1/charges", key="sk_test_cliKey1234").status == 200
        japan = http(url, "/v1/account", key="sk_test_cliKey1234", account="acct_1CliJapan0000001")
        assert japan.json()["default_currency"] == "jpy"
        assert http(url, "/v1/charges", key="sk_test_finfocus").status == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert out == ""  # the URL was the only line on stdout
    assert "429 GET /v1/charges" in err
    assert "acct_1CliJapan0000001" in err
    assert "sk_test_cliKey1234" not in err
