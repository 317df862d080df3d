"""Faults: transient ones are survived with the advertised waits, permanent ones fail fast."""

from __future__ import annotations

import re
import time

import pytest
from finfocus_sandbox.anthropic.dataset import rfc3339
from finfocus_sandbox.faults import Fault
from tap_anthropic_testing import ADMIN_KEY, run_tap

COST = r"/cost_report$"


def _assert_complete(run, dataset):
    got = [
        (r["starting_at"], r["workspace_id"], r["description"]) for r in run.records("cost_report")
    ]
    assert len(got) == len(set(got)), "doubled records"
    want = {
        (rfc3339(day), line["workspace_id"], line["description"])
        for day in dataset.day_starts()
        for line in dataset.cost_lines(day)
    }
    assert set(got) == want


def test_429s_are_survived_with_the_advertised_retry_after(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    anthropic_fake.faults.add(Fault(kind="rate_limit", path=COST, times=2, retry_after=1))
    started = time.monotonic()
    run = run_tap(anthropic_config, tmp_path)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert anthropic_fake.faults.injected == {"rate_limit": 2}
    waits = [float(w) for w in re.findall(r"Retrying cost_report in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 2
    assert all(w >= 1.0 for w in waits), waits  # never shorter than retry-after
    assert elapsed >= 2.0
    assert "rate_limit_error" in run.stderr
    _assert_complete(run, anthropic_dataset)


def test_429_without_retry_after_backs_off_exponentially(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path
):
    anthropic_fake.faults.add(Fault(kind="rate_limit", path=COST, times=3))
    run = run_tap({**anthropic_config, "backoff_base_seconds": 0.1}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    waits = [float(w) for w in re.findall(r"Retrying cost_report in ([0-9.]+)s", run.stderr)]
    assert len(waits) == 3
    assert all(w >= b for w, b in zip(waits, (0.1, 0.2, 0.4), strict=True)), waits
    _assert_complete(run, anthropic_dataset)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(kind="server_error", path=COST, times=2),
        Fault(kind="server_error", path=COST, times=1, status=503),
        Fault(kind="server_error", path="usage_report", times=1, status=502),
        Fault(kind="truncated_json", path=COST, skip=1, times=1),
        Fault(kind="wrong_content_type", path=COST, skip=1, times=1, status=200),
        Fault(kind="empty_page_has_more", path=COST, skip=1, times=1),
        Fault(kind="repeat_page", path=COST, skip=1, times=1),
        Fault(kind="reset", path=COST, skip=2, times=1),
        Fault(kind="slow", path=COST, skip=1, times=1, delay=3),
    ],
    ids=lambda f: f"{f.kind}-{f.path.strip('/$')}-{f.status or ''}",
)
def test_transient_faults_are_retried_without_loss_or_doubles(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path, fault
):
    # 90-day windows: the cost report needs next_page, so a repeated page can happen.
    config = {**anthropic_config, "request_timeout": 1, "window_days": 90}
    anthropic_fake.faults.add(fault)
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sum(anthropic_fake.faults.injected.values()) == fault.times
    _assert_complete(run, anthropic_dataset)


def test_errors_that_outlast_retries_exit_75_with_one_line(
    anthropic_fake, anthropic_config, tmp_path
):
    anthropic_fake.faults.add(Fault(kind="server_error", path=COST, times=None))
    run = run_tap({**anthropic_config, "max_retries": 2}, tmp_path)
    assert run.returncode == 75
    line = run.last_error_line()
    assert line.startswith(
        "tap-anthropic: gave up after retries: Anthropic refused GET /v1/organizations/cost_report"
    )
    assert "api_error" in line
    assert "Traceback" not in run.stderr


def test_x_should_retry_false_is_not_retried(anthropic_fake, anthropic_config, tmp_path):
    anthropic_fake.faults.add(Fault(kind="server_error", path=COST, times=None, should_retry=False))
    run = run_tap(anthropic_config, tmp_path)
    assert run.returncode == 2
    assert anthropic_fake.faults.injected == {"server_error": 1}
    assert (
        "Anthropic refused GET /v1/organizations/cost_report: 500 api_error"
        in run.last_error_line()
    )


def test_bad_admin_key_fails_fast_with_one_line_and_no_key(
    anthropic_fake, anthropic_config, tmp_path
):
    bad = "sk-ant-admin01-WrongCanary9876543210"
    run = run_tap({**anthropic_config, "admin_api_key": bad}, tmp_path)
    assert run.returncode == 2
    assert run.last_error_line() == (
        "tap-anthropic: Anthropic refused GET /v1/organizations/me: 401 authentication_error: "
        "invalid x-api-key (check admin_api_key: the Admin API needs an Admin API key, "
        "sk-ant-admin..., of an organization; standard API keys are refused)"
    )
    assert bad not in run.stdout + run.stderr
    assert bad[-8:] not in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert [r.status for r in anthropic_fake.requests] == [401]  # no retries, nothing else
    assert not run.records("cost_report")


def test_a_standard_api_key_is_refused_before_any_request(
    anthropic_fake, anthropic_config, tmp_path
):
    standard = "sk-ant-api03-StandardCanary9876543210"
    run = run_tap({**anthropic_config, "admin_api_key": standard}, tmp_path)
    assert run.returncode == 2
    assert run.last_error_line() == (
        "tap-anthropic: invalid config: admin_api_key is a standard API key (sk-ant-api...); "
        "the Admin API needs an Admin API key (sk-ant-admin...)"
    )
    assert standard not in run.stdout + run.stderr
    assert anthropic_fake.requests == []


def test_a_non_admin_key_the_tap_cannot_recognise_gets_anthropics_401(
    anthropic_fake, anthropic_config, tmp_path
):
    # Keys without the sk-ant-api prefix reach the API, which answers as for a bad key.
    other = "workbench-session-CanaryKey0123456789"
    run = run_tap({**anthropic_config, "admin_api_key": other}, tmp_path)
    assert run.returncode == 2
    line = run.last_error_line()
    assert "401 authentication_error: invalid x-api-key" in line
    assert "Admin API key" in line
    assert other not in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"admin_api_key": None}, "admin_api_key"),
        ({"api_url": "ftp://example"}, "api_url must be an http(s) URL"),
        ({"start_date": "yesterday"}, "start_date"),
        (
            {"start_date": "2026-02-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            "must be before end_date",
        ),
        ({"bucket_width": "1w"}, "bucket_width"),
        ({"lookback_days": -1}, "lookback_days must be >= 0"),
        ({"window_days": 0}, "window_days must be > 0"),
        ({"anthropic_version": "latest"}, "anthropic_version must look like 2023-06-01"),
        ({"max_retries": "many"}, "max_retries"),
    ],
)
def test_invalid_config_is_one_line_exit_2(anthropic_config, tmp_path, change, needle):
    bad = {k: v for k, v in {**anthropic_config, **change}.items() if v is not None}
    run = run_tap(bad, tmp_path)
    assert run.returncode == 2
    line = run.last_error_line()
    assert needle in line
    assert "invalid config" in line
    assert not run.messages
    assert ADMIN_KEY not in run.stderr
