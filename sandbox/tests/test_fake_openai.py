"""The fake answers like OpenAI's admin API: buckets, pages, groups, filters, errors, faults."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from finfocus_sandbox.faults import Fault
from finfocus_sandbox.openai import USAGE_KINDS, FakeOpenAI, OpenAIDataset
from finfocus_sandbox.openai.dataset import DAY

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "openai"
ADMIN = "sk-admin-sandboxAdmin0123456789wxyz"
PROJECT_KEY = "sk-proj-sandboxProject0123456789abcd"
NOW = 1_767_225_600 + 13 * 3_600 + 1_234  # 2026-01-01T13:20:34Z


@pytest.fixture(scope="module")
def openai_dataset() -> OpenAIDataset:
    return OpenAIDataset.generate(seed=5, days=20, projects=4, now=NOW)


@pytest.fixture(scope="module")
def openai_fake(openai_dataset):
    with FakeOpenAI(openai_dataset, admin_keys={ADMIN}, api_keys={PROJECT_KEY}) as server:
        yield server


@pytest.fixture
def oa(openai_fake, http):
    """GET on the OpenAI fake with the admin key: oa(path, params, key=...)."""
    openai_fake.faults.clear()
    openai_fake.clear_requests()

    def _get(path, params=None, **options):
        options.setdefault("key", ADMIN)
        return http(openai_fake.url, path, params, **options)

    yield _get
    openai_fake.faults.clear()


def exact(body: bytes):
    return json.loads(body, parse_float=Decimal)


def walk(oa, path, params):
    """Every bucket of a bucket endpoint, following next_page; returns (buckets, pages)."""
    buckets, pages, cursor = [], 0, []
    while True:
        response = oa(path, list(params) + cursor)
        assert response.status == 200, response.body
        body = exact(response.body)
        pages += 1
        buckets.extend(body["data"])
        if not body["has_more"]:
            assert body["next_page"] is None
            return buckets, pages
        cursor = [("page", body["next_page"])]


def first(ds):
    return ds.first_day


# ------------------------------------------------------------------ shapes
@pytest.mark.parametrize("endpoint", ["costs", *(f"usage/{k}" for k in USAGE_KINDS)])
def test_results_have_the_fields_of_openais_published_examples(oa, openai_dataset, endpoint):
    examples = json.loads((SAMPLES / "response_examples.json").read_text())["examples"]
    example = examples[f"/organization/{endpoint}"]
    response = oa(f"/v1/organization/{endpoint}", {"start_time": first(openai_dataset), "limit": 2})
    body = response.json()
    assert set(body) == set(example)
    assert body["object"] == "page"
    bucket, want_bucket = body["data"][0], example["data"][0]
    assert set(bucket) == set(want_bucket)
    assert bucket["end_time"] - bucket["start_time"] == DAY
    result, want_result = bucket["results"][0], want_bucket["results"][0]
    assert result["object"] == want_result["object"]
    assert set(want_result) <= set(result)
    # Ungrouped: one result per bucket, every grouping field null (as in the examples).
    assert len(bucket["results"]) == 1
    assert all(result[f] is None for f in ("project_id", "line_item", "model") if f in result)


def test_meta_headers_name_the_organization(oa, openai_dataset):
    response = oa("/v1/organization/costs", {"start_time": first(openai_dataset)})
    assert response.headers["openai-organization"] == openai_dataset.organization["id"]
    assert response.headers["openai-version"] == "2020-10-01"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])


# ------------------------------------------------------------------ buckets and pages
def test_pages_of_buckets_cover_the_range_without_gaps_or_repeats(oa, openai_dataset):
    start, end = first(openai_dataset) - 3 * DAY, openai_dataset.now
    params = [("start_time", start), ("end_time", end), ("limit", 4)]
    buckets, pages = walk(oa, "/v1/organization/costs", params)
    starts = [b["start_time"] for b in buckets]
    assert starts == list(range(start, end, DAY))  # empty days are buckets too
    assert pages == -(-len(starts) // 4)
    assert all(not b["results"] for b in buckets[:3])  # before the organization's usage
    one_page = exact(oa("/v1/organization/costs", [*params[:2], ("limit", 180)]).body)
    assert one_page["data"] == buckets
    assert one_page["has_more"] is False


def test_start_time_is_snapped_to_the_bucket_and_end_time_defaults_to_now(oa, openai_dataset):
    body = oa("/v1/organization/costs", {"start_time": first(openai_dataset) + 5_000}).json()
    assert body["data"][0]["start_time"] == first(openai_dataset)
    buckets, _ = walk(oa, "/v1/organization/costs", [("start_time", NOW - 2 * DAY)])
    assert buckets[-1]["start_time"] <= NOW < buckets[-1]["end_time"]  # today, in progress


@pytest.mark.parametrize(
    ("width", "seconds", "default"), [("1m", 60, 60), ("1h", 3600, 24), ("1d", DAY, 7)]
)
def test_usage_bucket_widths_and_their_default_limits(oa, openai_dataset, width, seconds, default):
    start = NOW - NOW % DAY - 10 * DAY
    body = oa(
        "/v1/organization/usage/completions", {"start_time": start, "bucket_width": width}
    ).json()
    assert len(body["data"]) == default
    assert all(b["end_time"] - b["start_time"] == seconds for b in body["data"])


def test_finer_buckets_add_up_to_the_day(oa, openai_dataset):
    day = first(openai_dataset) + 3 * DAY
    params = [("start_time", day), ("end_time", day + DAY), ("group_by[]", "model")]
    daily = oa("/v1/organization/usage/completions", [*params, ("bucket_width", "1d")]).json()
    hourly, pages = walk(
        oa, "/v1/organization/usage/completions", [*params, ("bucket_width", "1h"), ("limit", 5)]
    )
    assert len(hourly) == 24
    assert pages == 5
    totals: dict[str, int] = {}
    for bucket in hourly:
        for r in bucket["results"]:
            totals[r["model"]] = totals.get(r["model"], 0) + r["output_tokens"]
    assert totals == {r["model"]: r["output_tokens"] for r in daily["data"][0]["results"]}


@pytest.mark.parametrize(
    ("path", "params", "param", "code"),
    [
        ("costs", {}, "start_time", "missing_required_parameter"),
        ("costs", {"start_time": "yesterday"}, "start_time", "invalid_type"),
        ("costs", {"start_time": 100, "bucket_width": "1h"}, "bucket_width", "invalid_value"),
        ("costs", {"start_time": 100, "limit": 181}, "limit", "integer_above_max_value"),
        ("costs", {"start_time": 100, "limit": 0}, "limit", "integer_below_min_value"),
        ("usage/completions", {"start_time": 100, "limit": 32}, "limit", "integer_above_max_value"),
        (
            "usage/completions",
            {"start_time": 100, "bucket_width": "1h", "limit": 169},
            "limit",
            "integer_above_max_value",
        ),
        ("costs", {"start_time": 100, "group_by": "model"}, "group_by", "invalid_value"),
        (
            "usage/vector_stores",
            {"start_time": 100, "group_by": "user_id"},
            "group_by",
            "invalid_value",
        ),
        ("costs", {"start_time": 100, "page": "page_bogus"}, "page", "invalid_value"),
        ("costs", {"start_time": 200, "end_time": 100}, "end_time", "invalid_value"),
        ("usage/images", {"start_time": 100, "sizes": "3x3"}, "sizes", "invalid_value"),
    ],
)
def test_bad_parameters_are_400s_in_openais_error_shape(oa, path, params, param, code):
    response = oa(f"/v1/organization/{path}", params)
    assert response.status == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_unknown_parameters_and_paths(oa):
    unknown = oa("/v1/organization/costs", {"start_time": 100, "starting_after": "x"})
    assert unknown.status == 400
    assert unknown.json()["error"]["message"] == (
        "Unrecognized request argument supplied: starting_after"
    )
    missing = oa("/v1/organization/usage/telepathy", {"start_time": 100})
    assert missing.status == 404
    assert (
        missing.json()["error"]["message"] == "Invalid URL (GET /v1/organization/usage/telepathy)"
    )


# ------------------------------------------------------------------ costs: money and quantities
def test_grouped_costs_add_up_exactly_to_the_ungrouped_totals(oa, openai_dataset):
    params = [("start_time", first(openai_dataset)), ("limit", 180)]
    totals = exact(oa("/v1/organization/costs", params).body)["data"]
    grouped = exact(
        oa(
            "/v1/organization/costs",
            [*params, ("group_by[]", "project_id"), ("group_by[]", "line_item")],
        ).body
    )["data"]
    by_key = exact(oa("/v1/organization/costs", [*params, ("group_by", "api_key_id")]).body)["data"]
    for total, parts, keys in zip(totals, grouped, by_key, strict=True):
        want = sum((r["amount"]["value"] for r in total["results"]), Decimal(0))
        assert sum((r["amount"]["value"] for r in parts["results"]), Decimal(0)) == want
        assert sum((r["amount"]["value"] for r in keys["results"]), Decimal(0)) == want
    grand = sum((r["amount"]["value"] for b in totals for r in b["results"]), Decimal(0))
    assert grand == openai_dataset.cost_total(first(openai_dataset), NOW)
    assert grand > 0


def test_amounts_are_json_numbers_with_float_artefacts(oa, openai_dataset):
    raw = oa(
        "/v1/organization/costs",
        [("start_time", first(openai_dataset)), ("limit", 180), ("group_by", "line_item")],
    ).body.decode()
    values = re.findall(r'"value":(-?[0-9.eE+-]+)', raw)
    assert values
    assert all(not v.startswith('"') for v in values)
    long = [v for v in values if len(v.split(".")[-1]) >= 15]
    assert long, "some amounts must carry float artefacts like 0.06000000000000001"
    # Read as float, such a value is not the decimal the API wrote.
    assert any(str(Decimal(float(v))) != v for v in long)
    assert max(len(v.split(".")[-1]) for v in values) <= 18


def test_cost_quantities_are_the_usage_endpoints_counts(oa, openai_dataset):
    day = first(openai_dataset) + 4 * DAY
    window = [("start_time", day), ("end_time", day + DAY)]
    costs = oa(
        "/v1/organization/costs",
        [*window, ("group_by", "project_id"), ("group_by", "line_item")],
    ).json()["data"][0]["results"]
    usage = oa(
        "/v1/organization/usage/completions",
        [*window, *(("group_by", g) for g in ("project_id", "model", "batch"))],
    ).json()["data"][0]["results"]
    checked = 0
    for u in usage:
        suffix = " (batch)" if u["batch"] else ""
        lines = {
            f"{u['model']}, input{suffix}": u["input_tokens"] - u["input_cached_tokens"],
            f"{u['model']}, output{suffix}": u["output_tokens"],
        }
        for line_item, tokens in lines.items():
            match = [
                c
                for c in costs
                if c["project_id"] == u["project_id"] and c["line_item"] == line_item
            ]
            assert len(match) == 1, line_item
            assert (match[0]["quantity"], match[0]["quantity_unit"]) == (tokens, "tokens")
            checked += 1
    assert checked >= 8
    units = {c["line_item"].split(",")[0]: c["quantity_unit"] for c in costs}
    assert units["code interpreter sessions"] is None  # a quantity without a named unit
    assert units["vector store storage"] == "gibibyte_hours"
    ungrouped = oa("/v1/organization/costs", window).json()["data"][0]["results"][0]
    assert ungrouped["quantity"] is None
    assert ungrouped["quantity_unit"] is None


def test_project_and_api_key_filters(oa, openai_dataset):
    project = openai_dataset.projects[1]
    key = openai_dataset.api_keys[project["id"]][0]["id"]
    window = [("start_time", first(openai_dataset)), ("limit", 180)]
    costs = oa(
        "/v1/organization/costs",
        [*window, ("project_ids[]", project["id"]), ("group_by", "project_id")],
    ).json()["data"]
    assert {r["project_id"] for b in costs for r in b["results"]} == {project["id"]}
    usage = oa(
        "/v1/organization/usage/embeddings",
        [*window[:1], ("limit", 31), ("api_key_ids", key), ("group_by", "api_key_id")],
    ).json()["data"]
    assert {r["api_key_id"] for b in usage for r in b["results"]} == {key}
    batch_only = oa(
        "/v1/organization/usage/completions",
        [*window[:1], ("limit", 31), ("batch", "true"), ("group_by", "batch")],
    ).json()["data"]
    assert {r["batch"] for b in batch_only for r in b["results"]} == {True}


def test_moderation_is_usage_without_cost(oa, openai_dataset):
    window = [("start_time", first(openai_dataset)), ("limit", 31)]
    moderation = oa("/v1/organization/usage/moderations", window).json()["data"]
    assert sum(r["input_tokens"] for b in moderation for r in b["results"]) > 0
    costs = oa("/v1/organization/costs", [*window, ("group_by", "line_item")]).json()["data"]
    assert not [r for b in costs for r in b["results"] if "moderation" in r["line_item"]]


# ------------------------------------------------------------------ projects and keys
def test_projects_hide_archived_unless_asked_and_page_with_after(oa, openai_dataset):
    active = oa("/v1/organization/projects").json()
    assert [p["id"] for p in active["data"]] == [
        p["id"] for p in openai_dataset.projects if p["status"] == "active"
    ]
    assert active["object"] == "list"
    assert active["has_more"] is False
    every, after = [], []
    while True:
        page = oa(
            "/v1/organization/projects", [("limit", 1), ("include_archived", "true"), *after]
        ).json()
        every += page["data"]
        if not page["has_more"]:
            break
        after = [("after", page["last_id"])]
    assert every == openai_dataset.projects
    assert {p["status"] for p in every} == {"active", "archived"}
    assert oa("/v1/organization/projects", {"after": "proj_nope"}).status == 400


def test_project_api_keys_and_lookups(oa, openai_dataset):
    project = openai_dataset.projects[0]
    keys = oa(f"/v1/organization/projects/{project['id']}/api_keys").json()
    assert [k["id"] for k in keys["data"]] == [
        k["id"] for k in openai_dataset.api_keys[project["id"]]
    ]
    key = keys["data"][0]
    assert key["object"] == "organization.project.api_key"
    assert key["owner"]["type"] in {"user", "service_account"}
    assert oa(f"/v1/organization/projects/{project['id']}").json() == project
    assert oa(f"/v1/organization/projects/{project['id']}/api_keys/{key['id']}").json() == key
    missing = oa("/v1/organization/projects/proj_missing/api_keys")
    assert missing.status == 404
    assert missing.json()["error"]["param"] == "project_id"


# ------------------------------------------------------------------ auth
def test_missing_key_is_401(oa):
    response = oa("/v1/organization/costs", {"start_time": 100}, key=None)
    assert response.status == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    assert "openai-organization" not in response.headers


def test_unknown_key_is_401_invalid_api_key_with_the_key_masked(oa, openai_fake):
    wrong = "sk-admin-WrongWrongWrong0123456789"
    response = oa("/v1/organization/costs", {"start_time": 100}, key=wrong)
    assert response.status == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert error["type"] == "invalid_request_error"
    assert wrong not in error["message"]
    assert error["message"].startswith("Incorrect API key provided: sk-admin")
    assert "openai-organization" not in response.headers
    assert all(wrong not in json.dumps(r.params) for r in openai_fake.requests)


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/v1/organization/costs", "api.usage.read"),
        ("/v1/organization/usage/completions", "api.usage.read"),
        ("/v1/organization/projects", "api.management.read"),
    ],
)
def test_a_valid_key_without_admin_scope_is_403_missing_scopes(oa, path, scope):
    response = oa(path, {"start_time": 100}, key=PROJECT_KEY)
    assert response.status == 403
    error = response.json()["error"]
    assert f"Missing scopes: {scope}." in error["message"]
    assert error["type"] == "invalid_request_error"
    assert PROJECT_KEY not in response.body.decode()


# ------------------------------------------------------------------ restatement and determinism
def test_restate_changes_recent_buckets_only_and_keeps_their_groups():
    ds = OpenAIDataset.generate(seed=9, days=10, projects=3, now=NOW)
    groups = ["project_id", "line_item"]
    before = ds.costs(ds.first_day, NOW, groups)
    changed = ds.restate(days=2)
    after = ds.costs(ds.first_day, NOW, groups)
    today = NOW - NOW % DAY
    assert changed == [today - 2 * DAY, today - DAY, today]
    for day in before:
        same = [(r["project_id"], r["line_item"]) for r in before[day]]
        assert same == [(r["project_id"], r["line_item"]) for r in after[day]]
        amounts_before = [r["amount"]["value"] for r in before[day]]
        amounts_after = [r["amount"]["value"] for r in after[day]]
        if day in changed:
            assert all(a > b for a, b in zip(amounts_after, amounts_before, strict=True))
        else:
            assert amounts_after == amounts_before
    usage = ds.usage("completions", today - DAY, today, DAY)
    assert usage[today - DAY][0]["input_tokens"] > 0


def test_same_seed_and_now_give_the_same_dataset():
    a = OpenAIDataset.generate(seed=3, days=6, now=NOW)
    b = OpenAIDataset.generate(seed=3, days=6, now=NOW)
    c = OpenAIDataset.generate(seed=4, days=6, now=NOW)
    assert a.projects == b.projects
    assert a.api_keys == b.api_keys
    assert a.costs(a.first_day, NOW, ["line_item"]) == b.costs(b.first_day, NOW, ["line_item"])
    assert a.organization["id"] != c.organization["id"]
    assert a.cost_total(a.first_day, NOW) != c.cost_total(c.first_day, NOW)


# ------------------------------------------------------------------ faults
def test_rate_limit_fault_has_openais_body_and_headers(oa, openai_fake):
    openai_fake.faults.add(Fault(kind="rate_limit", path="^/v1/organization/costs$", retry_after=2))
    response = oa("/v1/organization/costs", {"start_time": 100})
    assert response.status == 429
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "Please try again in 2s" in error["message"]
    assert response.headers["Retry-After"] == "2"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "2s"
    assert "openai-organization" in response.headers


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_fault_has_openais_body(oa, openai_fake, status):
    openai_fake.faults.add(Fault(kind="server_error", status=status))
    response = oa("/v1/organization/usage/embeddings", {"start_time": 100})
    assert response.status == status
    assert response.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(
    ("path", "envelope"),
    [("/v1/organization/costs", "page"), ("/v1/organization/projects", "list")],
)
def test_empty_page_fault_uses_the_endpoints_envelope(oa, openai_fake, path, envelope):
    openai_fake.faults.add(Fault(kind="empty_page_has_more"))
    body = oa(path, {"start_time": 100} if envelope == "page" else None).json()
    assert body["object"] == envelope
    assert body["data"] == []
    assert body["has_more"] is True


def test_cli_serves_the_openai_fake_until_sigterm(http):
    command = [
        *(sys.executable, "-m", "finfocus_sandbox.cli", "openai", "--port", "0", "--days", "5"),
        *("--admin-key", "sk-admin-cliKey12345", "--api-key", "sk-proj-cliKey12345"),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        ok = http(
            url, "/v1/organization/costs", {"start_time": 0, "limit": 1}, key="sk-admin-cliKey12345"
        )
        assert ok.status == 200
        assert ok.json()["object"] == "page"
        denied = http(url, "/v1/organization/costs", {"start_time": 0}, key="sk-proj-cliKey12345")
        assert denied.status == 403
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert out == ""
    assert "200 GET /v1/organization/costs" in err
    assert "sk-admin-cliKey12345" not in err
