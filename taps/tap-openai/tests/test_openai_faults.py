"""Faults: transient ones are survived with the advertised waits, permanent ones fail fast."""

from __future__ import annotations

import re
import time

import pytest
from finfocus_sandbox.faults import Fault
from finfocus_sandbox.openai.dataset import DAY
from tap_openai_testing import ADMIN_KEY, PROJECT_KEY, expected, run_tap

COSTS = r"^/v1/organization/costs$"


def _assert_complete(run, dataset, stream="costs"):
    got = [r["id"] for r in run.records(stream)]
    assert len(got) == len(set(got)), "doubled records"
    assert set(got) == set(expected(dataset, stream, dataset.first_day - 5 * DAY, dataset.now + 1))


def test_429s_are_survived_with_the_advertised_retry_after(fake, dataset, config, tmp_path):
    fake.faults.add(
        Fault(
            kind="rate_limit", path=r"^/v1/organization/usage/embeddings$", times=3, retry_after=1
        )
    )
    started = time.monotonic()
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert fake.faults.injected.get("rate_limit") == 3
    waits = [float(w) for w in re.findall(r"Retrying usage_embeddings in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 3
    assert all(w >= 1.0 for w in waits), waits  # never shorter than Retry-After
    assert time.monotonic() - started >= 3.0
    _assert_complete(run, dataset, "usage_embeddings")


def test_429_without_retry_after_waits_for_the_rate_limit_reset(fake, dataset, config, tmp_path):
    # No Retry-After: OpenAI's x-ratelimit-reset-requests ("1s" here) is the wait, not the
    # 0.05 s exponential backoff of this config.
    fake.faults.add(Fault(kind="rate_limit", path=COSTS, skip=1, times=2))
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    waits = [float(w) for w in re.findall(r"Retrying costs in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 2, waits
    assert all(w >= 1.0 for w in waits), waits
    _assert_complete(run, dataset)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="server_error", path=COSTS, skip=1, times=2),
        Fault(kind="server_error", path=COSTS, skip=1, times=1, status=503),
        Fault(kind="truncated_json", path=COSTS, skip=2, times=1),
        Fault(kind="wrong_content_type", path=COSTS, skip=2, times=1, status=502),
        Fault(kind="empty_page_has_more", path=COSTS, skip=2, times=1),
        Fault(kind="repeat_page", path=COSTS, skip=3, times=1),
        # the first page answered with the key check's one-bucket page
        Fault(kind="repeat_page", path=COSTS, skip=1, times=1),
        Fault(kind="reset", path=COSTS, skip=2, times=1),
        Fault(kind="slow", path=COSTS, skip=2, times=1, delay=3),
    ],
    ids=lambda f: f"{f.kind}-{f.status or ''}-{f.skip}",
)
def test_transient_faults_are_retried_without_loss_or_doubles(
    fake, dataset, config, tmp_path, fault
):
    fake.faults.add(fault)
    run = run_tap({**config, "request_timeout": 1, "page_size": 5}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sum(fake.faults.injected.values()) == fault.times
    _assert_complete(run, dataset)


def test_errors_that_outlast_retries_exit_75_with_one_line(fake, config, tmp_path):
    fake.faults.add(Fault(kind="server_error", path=COSTS, skip=1, times=None))
    run = run_tap({**config, "max_retries": 2}, tmp_path)
    assert run.returncode == 75
    assert run.last_line.startswith(
        "tap-openai: gave up after retries: OpenAI refused GET /v1/organization/costs: 500"
    )
    assert "Traceback" not in run.stderr


def test_bad_key_fails_fast_with_one_line_and_no_key(fake, config, tmp_path):
    bad_key = "sk-admin-WrongCanary9876543210"
    run = run_tap({**config, "admin_api_key": bad_key}, tmp_path)
    assert run.returncode == 2
    assert run.last_line == (
        "tap-openai: OpenAI refused GET /v1/organization/costs: 401 type=invalid_request_error "
        "code=invalid_api_key: the admin API key was rejected; check admin_api_key (sk-admin-...)"
    )
    for text in (bad_key, bad_key[-4:] + ".", bad_key[-8:]):
        assert text not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert not run.records("costs")
    assert len([r for r in fake.requests if r.status == 401]) == 1  # no retries of a 401


def test_key_without_admin_scope_fails_fast_naming_the_scope(fake, config, tmp_path):
    run = run_tap({**config, "admin_api_key": PROJECT_KEY}, tmp_path)
    assert run.returncode == 2
    assert run.last_line.startswith(
        "tap-openai: OpenAI refused GET /v1/organization/costs: 403 type=invalid_request_error: "
        "You have insufficient permissions for this operation. Missing scopes: api.usage.read."
    )
    assert run.last_line.endswith("(tap-openai needs an admin API key, sk-admin-...)")
    assert PROJECT_KEY not in run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) < 20  # no traceback, no retries
    assert len([r for r in fake.requests if r.status == 403]) == 1


def test_a_missing_organization_header_is_a_clear_error(fake, config, tmp_path):
    fake.app.meta_headers = lambda: []  # a proxy that strips OpenAI's headers
    run = run_tap(config, tmp_path)
    assert run.returncode == 2
    assert run.last_line == (
        "tap-openai: OpenAI did not name the organization of this key (no openai-organization "
        "header); set organization_id"
    )
    assert run_tap({**config, "organization_id": "org-x"}, tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"admin_api_key": None}, "admin_api_key"),
        ({"api_url": "ftp://example"}, "api_url must be an http(s) URL"),
        ({"api_url": "https://api.openai.com/v1"}, "must not end in /v1"),
        ({"start_date": "yesterday"}, "start_date"),
        (
            {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            "must be before end_date",
        ),
        ({"project_ids": ["not-a-project"]}, "is not an OpenAI project id"),
        ({"bucket_width": "1w"}, "bucket_width"),
        ({"lookback_days": -1}, "lookback_days must be >= 0"),
        ({"page_size": 0}, "page_size must be > 0"),
        ({"max_retries": "many"}, "max_retries"),
    ],
)
def test_invalid_config_is_one_line_exit_2(config, tmp_path, change, needle):
    bad = {k: v for k, v in {**config, **change}.items() if v is not None}
    run = run_tap(bad, tmp_path)
    assert run.returncode == 2
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith("tap-openai:")]
    assert len(lines) == 1
    assert needle in lines[0]
    assert "invalid config" in lines[0]
    assert not run.messages
    assert ADMIN_KEY not in run.stderr
