"""The fake answers like Anthropic's Admin API: auth, buckets, pages, grouping, errors, faults."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from finfocus_sandbox.anthropic import AnthropicDataset, FakeAnthropic, Fault, page_token
from finfocus_sandbox.anthropic.dataset import DAY, HOUR, TOKEN_TYPES, rfc3339

SAMPLES = Path("/work/shared/samples/anthropic")
ADMIN_KEY = "sk-ant-admin01-sandboxCanary0123456789"
STANDARD_KEY = "sk-ant-api03-standardCanary0123456789"
VERSION = "2023-06-01"
COST = "/v1/organizations/cost_report"
USAGE = "/v1/organizations/usage_report/messages"


def request(
    base: str,
    path: str,
    params: list[tuple[str, Any]] | dict[str, Any] | None = None,
    *,
    key: str | None = ADMIN_KEY,
    version: str | None = VERSION,
) -> tuple[int, dict[str, str], Any]:
    query = urllib.parse.urlencode(params or {})
    req = urllib.request.Request(f"{base}{path}{'?' + query if query else ''}")  # noqa: S310
    if key is not None:
        req.add_header("x-api-key", key)
    if version is not None:
        req.add_header("anthropic-version", version)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


@pytest.fixture(scope="module")
def anthropic_ds() -> AnthropicDataset:
    return AnthropicDataset.generate(seed=5, days=40, workspaces=3)


@pytest.fixture(scope="module")
def anthropic_fake(anthropic_ds: AnthropicDataset):
    with FakeAnthropic(anthropic_ds, admin_keys={ADMIN_KEY}) as server:
        yield server


@pytest.fixture
def api(anthropic_fake: FakeAnthropic):
    """A clean fake: no faults, empty request log."""
    anthropic_fake.faults.clear()
    anthropic_fake.clear_requests()
    yield anthropic_fake
    anthropic_fake.faults.clear()


@pytest.fixture
def fetch(api: FakeAnthropic):
    def _fetch(path: str, params: Any = None, **options: Any) -> tuple[int, dict[str, str], Any]:
        return request(api.url, path, params, **options)

    return _fetch


def walk(fetch, path: str, params: list[tuple[str, Any]]) -> tuple[list[dict], int]:
    """Every bucket of a report, following next_page; returns (buckets, pages)."""
    buckets, pages, page = [], 0, None
    while True:
        status, _, body = fetch(path, params + ([("page", page)] if page else []))
        assert status == 200, body
        pages += 1
        buckets.extend(body["data"])
        if not body["has_more"]:
            assert body["next_page"] is None
            return buckets, pages
        page = body["next_page"]


def cents(results: list[dict]) -> Decimal:
    return sum((Decimal(r["amount"]) for r in results), Decimal(0))


# ------------------------------------------------------------------ auth and headers
def test_organization_me_and_headers(fetch, anthropic_ds):
    status, headers, body = fetch("/v1/organizations/me")
    assert status == 200
    assert body == anthropic_ds.organization
    assert set(body) == {"id", "name", "type"}
    assert body["type"] == "organization"
    assert headers["Content-Type"] == "application/json"
    assert headers["request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "x-api-key header is required"),
        ("sk-ant-admin01-wrong", "invalid x-api-key"),
        (STANDARD_KEY, "invalid x-api-key"),  # the Admin API does not know standard keys
    ],
)
def test_keys_other_than_an_admin_key_are_401_authentication_error(fetch, key, message):
    status, headers, body = fetch(COST, {"starting_at": "2026-01-01T00:00:00Z"}, key=key)
    assert status == 401
    assert body["type"] == "error"
    assert body["error"] == {"type": "authentication_error", "message": message}
    assert body["request_id"] == headers["request-id"]
    assert headers["x-should-retry"] == "false"


@pytest.mark.parametrize(
    ("version", "message"),
    [(None, "anthropic-version: header is required"), ("2099-01-01", "not a valid version")],
)
def test_anthropic_version_header_is_required_and_checked(fetch, version, message):
    status, _, body = fetch("/v1/organizations/me", version=version)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]


def test_request_log_never_keeps_the_key(fetch, api):
    fetch("/v1/organizations/me")
    fetch("/v1/organizations/me", key=STANDARD_KEY)
    assert [r.status for r in api.requests] == [200, 401]
    assert ADMIN_KEY not in repr(api.requests)
    assert STANDARD_KEY not in repr(api.requests)


def test_unknown_paths_and_write_methods(fetch, api):
    assert fetch("/v1/organizations/nothing")[0] == 404
    assert fetch("/v1/organizations/nothing")[2]["error"]["type"] == "not_found_error"
    req = urllib.request.Request(  # noqa: S310 - the local fake
        f"{api.url}/v1/organizations/workspaces", method="POST", data=b"{}"
    )
    req.add_header("x-api-key", ADMIN_KEY)
    req.add_header("anthropic-version", VERSION)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)  # noqa: S310
    assert info.value.code == 405


# ------------------------------------------------------------------ cost report
def test_cost_report_is_shaped_like_the_documented_example(fetch, anthropic_ds):
    sample = json.loads((SAMPLES / "cost_report_doc_example.json").read_text())
    params = [
        ("starting_at", rfc3339(anthropic_ds.start)),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "description"),
        ("limit", 2),
    ]
    status, _, body = fetch(COST, params)
    assert status == 200
    assert set(body) == set(sample)
    assert body["has_more"] is True
    assert body["next_page"].startswith("page_")
    bucket = body["data"][0]
    assert set(bucket) == set(sample["data"][0])
    assert bucket["starting_at"] == rfc3339(anthropic_ds.start)
    assert bucket["ending_at"] == rfc3339(anthropic_ds.start + DAY)
    assert {tuple(sorted(r)) for r in bucket["results"]} == {
        tuple(sorted(sample["data"][0]["results"][0]))
    }
    for result in bucket["results"]:
        assert result["currency"] == "USD"
        assert isinstance(result["amount"], str)
        Decimal(result["amount"])  # a decimal string in cents
        assert "e" not in result["amount"].lower()
    assert {r["cost_type"] for r in bucket["results"]} >= {"tokens", "web_search"}
    web = next(r for r in bucket["results"] if r["cost_type"] == "web_search")
    assert web["model"] is web["token_type"] is web["service_tier"] is web["context_window"] is None


def test_cost_pages_cover_every_day_once_and_add_up(fetch, anthropic_ds):
    params = [("starting_at", rfc3339(anthropic_ds.start)), ("group_by[]", "description")]
    buckets, pages = walk(fetch, COST, [*params, ("limit", 6)])
    starts = [b["starting_at"] for b in buckets]
    assert starts == [rfc3339(day) for day in range(anthropic_ds.start, _today(), DAY)]
    assert pages == -(-len(starts) // 6)
    total = sum((cents(b["results"]) for b in buckets), Decimal(0))
    assert total == anthropic_ds.total_cost_cents()
    assert total > 0


def test_default_and_maximum_limits(fetch, anthropic_ds):
    start = rfc3339(anthropic_ds.start)
    assert len(fetch(COST, {"starting_at": start})[2]["data"]) == 7
    assert len(fetch(COST, {"starting_at": start, "limit": 31})[2]["data"]) == 31
    status, _, body = fetch(COST, {"starting_at": start, "limit": 32})
    assert status == 400
    assert body["error"]["message"].startswith("limit:")
    assert fetch(COST, {"starting_at": start, "limit": 0})[0] == 400


def test_every_grouping_adds_up_to_the_same_daily_totals(fetch, anthropic_ds):
    day = anthropic_ds.start + 3 * DAY
    window = {"starting_at": rfc3339(day), "ending_at": rfc3339(day + DAY)}
    totals = {}
    for group_by in ([], ["workspace_id"], ["description"], ["workspace_id", "description"]):
        params = [*window.items(), *(("group_by[]", g) for g in group_by)]
        status, _, body = fetch(COST, params)
        assert status == 200
        assert len(body["data"]) == 1
        totals[tuple(group_by)] = cents(body["data"][0]["results"])
        results = body["data"][0]["results"]
        if not group_by:
            assert len(results) == 1
            assert results[0]["workspace_id"] is None
            assert results[0]["description"] is None
        if "workspace_id" in group_by:
            assert {r["workspace_id"] for r in results} >= {None, anthropic_ds.workspaces[0]["id"]}
    assert len(set(totals.values())) == 1
    assert totals[()] == cents(anthropic_ds.cost_lines(day))


def test_buckets_snap_to_whole_days_and_partial_ranges_are_refused(fetch, anthropic_ds):
    day = anthropic_ds.start + 2 * DAY
    status, _, body = fetch(
        COST, {"starting_at": rfc3339(day + 5 * HOUR), "ending_at": rfc3339(day + 2 * DAY + HOUR)}
    )
    assert status == 200
    assert [b["starting_at"] for b in body["data"]] == [rfc3339(day), rfc3339(day + DAY)]
    status, _, body = fetch(
        COST, {"starting_at": rfc3339(day), "ending_at": rfc3339(day + DAY - 1)}
    )
    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "Invalid date range: ending date must be after starting date",
    }


def test_without_ending_at_the_report_stops_at_the_last_complete_day(fetch):
    start = _today() - 3 * DAY
    _, _, body = fetch(COST, {"starting_at": rfc3339(start), "limit": 31})
    assert body["data"][-1]["ending_at"] == rfc3339(_today())
    assert not body["has_more"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "starting_at: Field required"),
        ({"starting_at": "yesterday"}, "starting_at"),
        ({"starting_at": "2026-01-01T00:00:00"}, "starting_at"),  # no offset: not RFC 3339
        ({"starting_at": "2026-01-01T00:00:00Z", "bucket_width": "1h"}, "bucket_width"),
        ({"starting_at": "2026-01-01T00:00:00Z", "group_by[]": "model"}, "group_by[]"),
        ({"starting_at": "2026-01-01T00:00:00Z", "group_by": "workspace_id"}, "use group_by[]"),
        ({"starting_at": "2026-01-01T00:00:00Z", "page": "page_bm9wZQ=="}, "page"),
        ({"starting_at": "2026-01-01T00:00:00Z", "colour": "blue"}, "colour"),
    ],
)
def test_bad_parameters_are_invalid_request_errors(fetch, params, needle):
    status, headers, body = fetch(COST, params)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert needle in body["error"]["message"]
    assert headers["x-should-retry"] == "false"


def test_next_page_is_opaque_and_resumes_where_the_page_ended(fetch, anthropic_ds):
    params = [("starting_at", rfc3339(anthropic_ds.start)), ("limit", 3)]
    _, _, first = fetch(COST, params)
    token = first["next_page"]
    assert token == page_token(anthropic_ds.start + 3 * DAY)
    assert base64.b64decode(token.removeprefix("page_")).decode() == rfc3339(
        anthropic_ds.start + 3 * DAY
    )
    _, _, second = fetch(COST, [*params, ("page", token)])
    assert second["data"][0]["starting_at"] == rfc3339(anthropic_ds.start + 3 * DAY)


def test_restate_changes_only_the_most_recent_days():
    ds = AnthropicDataset.generate(seed=9, days=10, workspaces=2)
    before = {day: cents(ds.cost_lines(day)) for day in ds.day_starts()}
    revised = ds.restate(days=2)
    assert revised == ds.day_starts()[-2:]
    after = {day: cents(ds.cost_lines(day)) for day in ds.day_starts()}
    for day in ds.day_starts():
        if day in revised:
            assert after[day] > before[day]
        else:
            assert after[day] == before[day]
    keys = {d: {(r["workspace_id"], r["description"]) for r in ds.cost_lines(d)} for d in revised}
    ds.restate(days=2)
    assert {
        d: {(r["workspace_id"], r["description"]) for r in ds.cost_lines(d)} for d in revised
    } == keys


# ------------------------------------------------------------------ usage report
def test_usage_results_are_shaped_like_the_documented_example(fetch, anthropic_ds):
    sample = json.loads((SAMPLES / "usage_report_messages_doc_example.json").read_text())
    groups = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]
    params = [("starting_at", rfc3339(anthropic_ds.start)), *(("group_by[]", g) for g in groups)]
    status, _, body = fetch(USAGE, params)
    assert status == 200
    assert set(body) == set(sample)
    result = body["data"][0]["results"][0]
    want = sample["data"][0]["results"][0]
    assert set(result) == set(want)
    assert set(result["cache_creation"]) == set(want["cache_creation"])
    assert set(result["server_tool_use"]) == set(want["server_tool_use"])
    tiers = {r["service_tier"] for b in body["data"] for r in b["results"]}
    assert tiers == {"standard", "batch", "priority"}
    windows = {r["context_window"] for b in body["data"] for r in b["results"]}
    assert windows == {"0-200k", "200k-1M"}
    assert None in {r["api_key_id"] for b in body["data"] for r in b["results"]}  # Console


@pytest.mark.parametrize(
    ("width", "default", "maximum"), [("1d", 7, 31), ("1h", 24, 168), ("1m", 60, 1440)]
)
def test_usage_limits_depend_on_bucket_width(fetch, anthropic_ds, width, default, maximum):
    start = rfc3339(anthropic_ds.start)
    _, _, body = fetch(USAGE, {"starting_at": start, "bucket_width": width})
    assert len(body["data"]) == default
    _, _, body = fetch(USAGE, {"starting_at": start, "bucket_width": width, "limit": maximum})
    assert len(body["data"]) == maximum
    status, _, _ = fetch(USAGE, {"starting_at": start, "bucket_width": width, "limit": maximum + 1})
    assert status == 400


def _token_totals(buckets: list[dict]) -> Counter:
    total: Counter = Counter()
    for bucket in buckets:
        for r in bucket["results"]:
            total["uncached_input_tokens"] += r["uncached_input_tokens"]
            total["output_tokens"] += r["output_tokens"]
            total["cache_read_input_tokens"] += r["cache_read_input_tokens"]
            for name, count in r["cache_creation"].items():
                total[f"cache_creation.{name}"] += count
            total["web_search_requests"] += r["server_tool_use"]["web_search_requests"]
    return total


def test_daily_hourly_and_minute_buckets_hold_the_same_usage(fetch, anthropic_ds):
    day = anthropic_ds.start + 5 * DAY
    window = [("starting_at", rfc3339(day)), ("ending_at", rfc3339(day + DAY))]
    daily, _ = walk(fetch, USAGE, [*window, ("bucket_width", "1d")])
    hourly, hour_pages = walk(fetch, USAGE, [*window, ("bucket_width", "1h"), ("limit", 5)])
    minutes, _ = walk(fetch, USAGE, [*window, ("bucket_width", "1m"), ("limit", 1440)])
    assert [len(daily), len(hourly), len(minutes)] == [1, 24, 1440]
    assert hour_pages == 5
    assert _token_totals(daily) == _token_totals(hourly) == _token_totals(minutes)
    assert set(_token_totals(daily)) == {*TOKEN_TYPES, "web_search_requests"}
    assert sum(1 for b in minutes if b["results"]) > 1


def test_usage_filters_restrict_the_results(fetch, anthropic_ds):
    space = anthropic_ds.workspaces[0]["id"]
    params = [
        ("starting_at", rfc3339(anthropic_ds.start)),
        ("limit", 31),
        ("group_by[]", "workspace_id"),
        ("group_by[]", "model"),
        ("workspace_ids[]", space),
        ("models[]", "claude-sonnet-4-20250514"),
        ("models[]", "claude-3-5-haiku-20241022"),
    ]
    _, _, body = fetch(USAGE, params)
    results = [r for b in body["data"] for r in b["results"]]
    assert results
    assert {r["workspace_id"] for r in results} == {space}
    assert {r["model"] for r in results} <= {
        "claude-sonnet-4-20250514",
        "claude-3-5-haiku-20241022",
    }


def test_costs_follow_usage_and_priority_tier_has_no_cost_lines(fetch, anthropic_ds):
    day = anthropic_ds.start + 1 * DAY
    window = {"starting_at": rfc3339(day), "ending_at": rfc3339(day + DAY)}
    groups = [
        ("group_by[]", g) for g in ("workspace_id", "model", "service_tier", "context_window")
    ]
    _, _, usage = fetch(USAGE, [*window.items(), *groups])
    _, _, costs = fetch(
        COST, [*window.items(), ("group_by[]", "workspace_id"), ("group_by[]", "description")]
    )
    cost_lines = costs["data"][0]["results"]
    assert all(r["service_tier"] != "priority" for r in cost_lines)
    for line in (r for r in cost_lines if r["cost_type"] == "tokens"):
        match = [
            r
            for r in usage["data"][0]["results"]
            if (r["workspace_id"], r["model"], r["service_tier"], r["context_window"])
            == (line["workspace_id"], line["model"], line["service_tier"], line["context_window"])
        ]
        assert len(match) == 1, line
        head, _, tail = line["token_type"].partition(".")
        tokens = match[0][head][tail] if tail else match[0][head]
        assert tokens > 0


# ------------------------------------------------------------------ workspaces and keys
def test_workspaces_hide_archived_unless_asked_and_page_by_id(fetch, anthropic_ds):
    _, _, active = fetch("/v1/organizations/workspaces")
    assert set(active) == {"data", "has_more", "first_id", "last_id"}
    assert all(w["archived_at"] is None for w in active["data"])
    _, _, everything = fetch("/v1/organizations/workspaces", {"include_archived": "true"})
    assert len(everything["data"]) == len(anthropic_ds.workspaces) > len(active["data"])
    _, _, first = fetch("/v1/organizations/workspaces", {"include_archived": "true", "limit": 2})
    assert first["has_more"] is True
    assert first["last_id"] == first["data"][-1]["id"]
    _, _, rest = fetch(
        "/v1/organizations/workspaces",
        {"include_archived": "true", "limit": 2, "after_id": first["last_id"]},
    )
    ids = [w["id"] for w in first["data"] + rest["data"]]
    assert sorted(ids) == sorted(w["id"] for w in anthropic_ds.workspaces)
    _, _, back = fetch(
        "/v1/organizations/workspaces",
        {"include_archived": "true", "before_id": rest["first_id"]},
    )
    assert [w["id"] for w in back["data"]] == [w["id"] for w in first["data"]]
    one = anthropic_ds.workspaces[0]
    assert fetch(f"/v1/organizations/workspaces/{one['id']}")[2] == one
    assert fetch("/v1/organizations/workspaces/wrkspc_01nope")[0] == 404


def test_api_keys_list_and_filters(fetch, anthropic_ds):
    _, _, body = fetch("/v1/organizations/api_keys", {"limit": 1000})
    assert len(body["data"]) == len(anthropic_ds.api_keys)
    assert None in {k["workspace_id"] for k in body["data"]}  # the default workspace
    key = body["data"][0]
    assert set(key) == {
        "id",
        "type",
        "name",
        "workspace_id",
        "created_at",
        "created_by",
        "partial_key_hint",
        "status",
    }
    space = anthropic_ds.workspaces[0]["id"]
    _, _, scoped = fetch("/v1/organizations/api_keys", {"workspace_id": space, "status": "active"})
    assert scoped["data"]
    assert all(k["workspace_id"] == space and k["status"] == "active" for k in scoped["data"])
    assert fetch("/v1/organizations/api_keys", {"status": "lost"})[0] == 400


# ------------------------------------------------------------------ faults
def test_rate_limit_has_anthropics_body_and_headers(fetch, api):
    api.faults.add(Fault(kind="rate_limit", path="cost_report", retry_after=2))
    status, headers, body = fetch(COST, {"starting_at": "2026-01-01T00:00:00Z"})
    assert status == 429
    assert body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error"
    assert headers["Retry-After"] == "2"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert int(headers["anthropic-ratelimit-requests-limit"]) > 0
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert headers["request-id"] == body["request_id"]
    assert api.faults.injected == {"rate_limit": 1}


def test_server_error_and_empty_page_have_anthropics_shapes(fetch, api):
    api.faults.add(Fault(kind="server_error", path="usage_report", status=503, should_retry=True))
    status, headers, body = fetch(USAGE, {"starting_at": "2026-01-01T00:00:00Z"})
    assert status == 503
    assert body["error"]["type"] == "api_error"
    assert headers["x-should-retry"] == "true"
    api.faults.add(Fault(kind="empty_page_has_more", path="cost_report"))
    status, _, body = fetch(COST, {"starting_at": "2026-01-01T00:00:00Z"})
    assert status == 200
    assert (body["data"], body["has_more"]) == ([], True)
    assert body["next_page"]
    api.faults.add(Fault(kind="empty_page_has_more", path="workspaces"))
    _, _, body = fetch("/v1/organizations/workspaces")
    assert body == {"data": [], "has_more": True, "first_id": None, "last_id": None}


def test_same_seed_and_now_give_the_same_dataset():
    one = AnthropicDataset.generate(seed=3, days=5, workspaces=2, now=1_767_225_600)
    two = AnthropicDataset.generate(seed=3, days=5, workspaces=2, now=1_767_225_600)
    assert one.organization == two.organization
    assert one.workspaces == two.workspaces
    assert one.api_keys == two.api_keys
    assert [one.cost_lines(d) for d in one.day_starts()] == [
        two.cost_lines(d) for d in two.day_starts()
    ]
    other = AnthropicDataset.generate(seed=4, days=5, workspaces=2, now=1_767_225_600)
    assert other.organization["id"] != one.organization["id"]


def test_cli_prints_one_url_line_and_serves_until_sigterm():
    faults = json.dumps([{"kind": "rate_limit", "path": "cost_report", "times": 1}])
    command = [
        *(sys.executable, "-m", "finfocus_sandbox.cli", "anthropic", "--port", "0"),
        *("--days", "5", "--workspaces", "2", "--admin-key", ADMIN_KEY, "--faults", faults),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        start = rfc3339(_today() - 3 * DAY)
        assert request(url, COST, {"starting_at": start})[0] == 429
        status, _, body = request(url, COST, {"starting_at": start})
        assert status == 200
        assert len(body["data"]) == 3
        assert request(url, "/v1/organizations/me", key=STANDARD_KEY)[0] == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert out == ""
    assert "429 GET /v1/organizations/cost_report" in err
    assert ADMIN_KEY not in err
    assert STANDARD_KEY not in err


def _today() -> int:
    import time

    now = int(time.time())
    return now - now % DAY
