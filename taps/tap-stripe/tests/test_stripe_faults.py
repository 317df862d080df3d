"""Faults: transient ones are survived with the advertised waits, permanent ones fail fast."""

from __future__ import annotations

import json
import re
import time

import pytest
from finfocus_sandbox.faults import Fault
from tap_stripe_testing import API_KEY, STREAM_KINDS, expected_ids, run_tap

SELECT_BT = ["--catalog"]


def _assert_complete(run, dataset, stream="balance_transactions"):
    got = [(r["account_id"], r["id"]) for r in run.records(stream)]
    assert len(got) == len(set(got)), "doubled records"
    assert set(got) == expected_ids(dataset, stream)


def test_a_burst_of_429s_is_survived_with_the_advertised_waits(fake, dataset, config, tmp_path):
    fake.faults.add(Fault(kind="rate_limit", path=r"^/v1/charges$", times=3, retry_after=1))
    started = time.monotonic()
    run = run_tap(config, tmp_path)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert fake.faults.injected.get("rate_limit") == 3
    waits = [float(w) for w in re.findall(r"Retrying charges in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 3
    assert all(w >= 1.0 for w in waits), waits  # never shorter than Retry-After
    assert elapsed >= 3.0
    _assert_complete(run, dataset, "charges")


def test_429_without_retry_after_backs_off_exponentially(fake, dataset, config, tmp_path):
    fake.faults.add(Fault(kind="rate_limit", path=r"^/v1/refunds$", times=3))
    run = run_tap({**config, "backoff_base_seconds": 0.1}, tmp_path)
    assert run.returncode == 0
    waits = [float(w) for w in re.findall(r"Retrying refunds in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 3
    # 0.1, 0.2, 0.4 plus up to 1 s of jitter each
    assert [w >= b for w, b in zip(waits, (0.1, 0.2, 0.4), strict=True)] == [True] * 3
    _assert_complete(run, dataset, "refunds")


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="server_error", path=r"^/v1/balance_transactions$", times=2),
        Fault(kind="server_error", path=r"^/v1/balance_transactions$", times=1, status=503),
        Fault(kind="truncated_json", path=r"^/v1/balance_transactions$", skip=3, times=1),
        Fault(
            kind="wrong_content_type",
            path=r"^/v1/balance_transactions$",
            skip=2,
            times=1,
            status=502,
        ),
        Fault(kind="empty_page_has_more", path=r"^/v1/balance_transactions$", skip=1, times=1),
        Fault(kind="repeat_page", path=r"^/v1/balance_transactions$", skip=4, times=1),
        Fault(kind="reset", path=r"^/v1/balance_transactions$", skip=5, times=1),
        Fault(kind="slow", path=r"^/v1/balance_transactions$", skip=1, times=1, delay=3),
    ],
    ids=lambda f: f"{f.kind}-{f.status or ''}",
)
def test_transient_faults_are_retried_without_loss_or_doubles(
    fake, dataset, config, tmp_path, fault
):
    fake.faults.add(fault)
    run = run_tap({**config, "request_timeout": 1}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sum(fake.faults.injected.values()) == fault.times
    _assert_complete(run, dataset)


def test_errors_that_outlast_retries_exit_75_with_one_line(fake, config, tmp_path):
    fake.faults.add(Fault(kind="server_error", path=r"^/v1/balance_transactions$", times=None))
    run = run_tap({**config, "max_retries": 2}, tmp_path)
    assert run.returncode == 75
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        "tap-stripe: gave up after retries: Stripe refused GET /v1/balance_transactions"
    )
    assert "Traceback" not in run.stderr


def test_bad_key_fails_fast_with_one_line_and_no_key(fake, config, tmp_path):
    bad_key = "sk_test_WrongCanary9876543210"
    run = run_tap({**config, "api_key": bad_key}, tmp_path)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last == (
        "tap-stripe: Stripe refused GET /v1/account: 401 type=invalid_request_error: "
        "the API key was rejected; check api_key (a secret or restricted key)"
    )
    assert bad_key not in run.stdout + run.stderr
    assert bad_key[-8:] not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert len([r for r in fake.requests if r.status == 401]) == 1  # no retries of a 401


def test_unknown_connected_account_fails_fast_naming_it(fake, config, tmp_path):
    run = run_tap({**config, "account_ids": ["acct_1NotConnected0"]}, tmp_path)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert "for account acct_1NotConnected0" in last
    assert last.startswith("tap-stripe: Stripe refused GET /v1/account")
    assert API_KEY not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"api_key": None}, "api_key"),
        ({"api_url": "ftp://example"}, "api_url must be an http(s) URL"),
        ({"start_date": "yesterday"}, "start_date"),
        (
            {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            "must be before end_date",
        ),
        ({"account_ids": ["not-an-account"]}, "is not a Stripe account id"),
        ({"lookback_days": -1}, "lookback_days must be >= 0"),
        ({"window_days": 0}, "window_days must be > 0"),
        ({"api_key": "pk_test_publishable"}, "publishable key"),
        ({"max_retries": "many"}, "max_retries"),
    ],
)
def test_invalid_config_is_one_line_exit_2(config, tmp_path, change, needle):
    bad = {**config, **change}
    bad = {k: v for k, v in bad.items() if v is not None}
    run = run_tap(bad, tmp_path)
    assert run.returncode == 2
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith("tap-stripe:")]
    assert len(lines) == 1
    assert needle in lines[0]
    assert "invalid config" in lines[0]
    assert not run.messages


def test_stream_count_is_what_the_design_lists():
    assert len(STREAM_KINDS) == 14  # + invoice_line_items, a child of invoices


def test_no_piece_of_the_key_in_a_403(fake, config, tmp_path):
    run = run_tap({**config, "account_ids": ["acct_1NotConnected0"]}, tmp_path)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert "<api_key>" in last  # Stripe's masked echo of the key, replaced
    assert API_KEY[-4:] not in last


def test_a_catalog_selecting_an_unknown_stream_is_refused(config, tmp_path):
    discovered = json.loads(run_tap(config, tmp_path, "--discover").stdout)
    bogus = json.loads(json.dumps(discovered["streams"][0]))
    bogus["tap_stream_id"] = bogus["stream"] = "balance_transactionz"
    discovered["streams"].append(bogus)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(discovered))
    run = run_tap(config, tmp_path, "--catalog", str(catalog))
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert "balance_transactionz, not a stream of tap-stripe" in last
    assert not run.messages


def test_an_object_without_created_is_refused_in_one_line(fake, dataset, config, tmp_path):
    platform = dataset.account_ids[0]
    bt = dataset.objects("balance_transaction", platform)[5]
    dataset.update(
        "balance_transaction", bt["id"], {"created": None}, account=platform, emit_event=False
    )
    run = run_tap(config, tmp_path)
    assert run.returncode == 2
    last = run.stderr.strip().splitlines()[-1]
    assert last == (
        f"tap-stripe: Stripe returned balance_transaction {bt['id']} (balance_transactions) "
        "with created = None, not a Unix time"
    )
    assert "Traceback" not in run.stderr
