"""A full extraction against the fake OpenAI admin API: every bucket result, once, exact."""

from __future__ import annotations

import collections
import json
import re
from decimal import Decimal

from finfocus_sandbox.openai.dataset import DAY
from tap_openai_testing import ADMIN_KEY, BUCKET_STREAMS, expected, run_tap


def test_every_bucket_of_every_stream_lands_once_across_pages(config, dataset, fake, tmp_path):
    run = run_tap({**config, "page_size": 4}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    start, end = dataset.first_day - 5 * DAY, dataset.now + 1
    for stream in BUCKET_STREAMS:
        records = run.records(stream)
        ids = collections.Counter(r["id"] for r in records)
        assert not [k for k, n in ids.items() if n > 1], f"{stream}: emitted twice"
        want = expected(dataset, stream, start, end)
        assert set(ids) == set(want), stream
        for record in records:
            assert record["organization_id"] == dataset.organization["id"]
            assert record["end_time"] - record["start_time"] == DAY
            assert record["bucket_start"].endswith("T00:00:00Z")
    # 46 days of costs at 4 buckets a page: many pages, each followed by its cursor
    pages = [r for r in fake.requests if r.path == "/v1/organization/costs" and r.status == 200]
    assert len(pages) >= 12
    assert sum(1 for r in pages if "page" in r.params) == len(pages) - 2  # the probe, page one
    for request in pages[1:]:
        assert request.params["group_by[]"] == ["project_id", "line_item"]
        assert request.params["limit"] == ["4"]


def test_costs_keep_every_digit_openai_sent(config, dataset, fake, tmp_path):
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    start, end = dataset.first_day - 5 * DAY, dataset.now + 1
    want = expected(dataset, "costs", start, end)
    raw_values = {}
    for line in run.stdout.splitlines():
        if '"stream":"costs"' in line and '"type":"RECORD"' in line:
            record_id = json.loads(line)["record"]["id"]
            raw_values[record_id] = re.search(r'"value":(-?[0-9.eE+-]+)', line).group(1)
    long_ones = 0
    for record in run.records("costs"):
        value = record["amount"]["value"]
        assert isinstance(value, int | Decimal)  # never a float
        assert value == want[record["id"]]["amount"]["value"]
        assert Decimal(raw_values[record["id"]]) == value  # the text on the wire, as sent
        long_ones += len(str(value).split(".")[-1]) >= 15
        assert record["quantity"] == want[record["id"]]["quantity"]
    assert long_ones, "the fake's float artefacts must reach the records"
    total = sum((r["amount"]["value"] for r in run.records("costs")), Decimal(0))
    assert total == dataset.cost_total(start, end)


def test_projects_and_their_api_keys(config, dataset, tmp_path):
    run = run_tap(config, tmp_path)
    assert run.returncode == 0
    projects = run.records("projects")
    assert [p["id"] for p in projects] == [p["id"] for p in dataset.projects]
    assert {p["status"] for p in projects} == {"active", "archived"}
    keys = {(k["project_id"], k["id"]) for k in run.records("project_api_keys")}
    active = [p for p in dataset.projects if p["archived_at"] is None]
    assert keys == {(p["id"], k["id"]) for p in active for k in dataset.api_keys[p["id"]]}
    assert all(
        k["organization_id"] == dataset.organization["id"] for k in run.records("project_api_keys")
    )


def test_project_ids_and_bucket_width_narrow_the_requests(config, dataset, fake, tmp_path):
    project = dataset.projects[1]["id"]
    start = dataset.now - dataset.now % DAY - 2 * DAY
    run = run_tap(
        {**config, "project_ids": [project], "bucket_width": "1h", "start_date": _iso(start)},
        tmp_path,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for stream in BUCKET_STREAMS:
        assert {r["project_id"] for r in run.records(stream)} <= {project}, stream
    completions = run.records("usage_completions")
    assert completions
    assert all(r["end_time"] - r["start_time"] == 3600 for r in completions)
    assert all(r["end_time"] - r["start_time"] == DAY for r in run.records("costs"))
    assert [p["id"] for p in run.records("projects")] == [project]
    hourly = [r for r in fake.requests if r.path.endswith("/usage/completions")]
    assert all(r.params["bucket_width"] == ["1h"] for r in hourly)
    assert all(r.params["project_ids[]"] == [project] for r in hourly)
    assert all(int(r.params["limit"][0]) == 168 for r in hourly)


def test_organization_id_from_config_wins(config, dataset, tmp_path):
    run = run_tap({**config, "organization_id": "org-configured"}, tmp_path)
    assert run.returncode == 0
    assert {r["organization_id"] for r in run.records("costs")} == {"org-configured"}


def test_about_discover_and_test_modes(config, tmp_path):
    about = run_tap(config, tmp_path, "--about", "--format=json")
    assert about.returncode == 0
    info = json.loads(about.stdout)
    assert info["name"] == "tap-openai"
    settings = info["settings"]["properties"]
    assert {
        "admin_api_key",
        "start_date",
        "end_date",
        "api_url",
        "bucket_width",
        "project_ids",
        "lookback_days",
        "request_timeout",
        "max_retries",
        "backoff_base_seconds",
    } <= set(settings)
    assert settings["admin_api_key"]["secret"] is True
    assert settings["lookback_days"]["default"] == 2

    discover = run_tap(config, tmp_path, "--discover")
    streams = {s["tap_stream_id"]: s for s in json.loads(discover.stdout)["streams"]}
    assert set(streams) == {*BUCKET_STREAMS, "projects", "project_api_keys"}
    assert all(streams[s]["replication_key"] == "bucket_start" for s in BUCKET_STREAMS)
    assert all(streams[s]["key_properties"] == ["id"] for s in BUCKET_STREAMS)
    assert streams["project_api_keys"]["key_properties"] == ["project_id", "id"]

    test = run_tap(config, tmp_path, "--test")
    assert test.returncode == 0, test.stderr[-2000:]
    assert test.records("costs")
    assert ADMIN_KEY not in test.stdout + test.stderr


def _iso(seconds: int) -> str:
    from tap_openai_testing import iso

    return iso(seconds)
