"""A full extraction against the fake Anthropic Admin API: every bucket and result, once."""

from __future__ import annotations

import collections
import json
from decimal import Decimal

import pytest
from finfocus_sandbox.anthropic.dataset import DAY, TOKEN_TYPES, rfc3339
from tap_anthropic_testing import ADMIN_KEY, STREAMS, run_tap

COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
LINE = ("starting_at", "workspace_id", "description", "model", "token_type", "service_tier")


def expected_cost_lines(dataset) -> dict[tuple, str]:
    return {
        (rfc3339(day), *(line[name] for name in LINE[1:])): line["amount"]
        for day in dataset.day_starts()
        for line in dataset.cost_lines(day)
    }


@pytest.mark.parametrize("window_days", [31, 90])  # one page per window, or next_page too
def test_every_cost_line_of_every_bucket_lands_once_across_pages(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path, window_days
):
    run = run_tap({**anthropic_config, "window_days": window_days}, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records("cost_report")
    got = collections.Counter(tuple(r[name] for name in LINE) for r in records)
    assert [key for key, n in got.items() if n > 1] == []
    amounts = {tuple(r[name] for name in LINE): r["amount"] for r in records}
    assert amounts == expected_cost_lines(anthropic_dataset)  # the exact strings, in cents
    assert len({r["record_key"] for r in records}) == len(records)

    # start_date is 5 days before the data; the run reads up to today, 31 buckets a page.
    days = anthropic_dataset.days + 5
    windows = [min(window_days, days - lower) for lower in range(0, days, window_days)]
    pages = [-(-length // 31) for length in windows]
    cost_requests = [r for r in anthropic_fake.requests if r.path == COST_PATH]
    assert len(cost_requests) == sum(pages) > 1
    assert sum(1 for r in cost_requests if "page" in r.params) == sum(pages) - len(windows)
    for request in cost_requests:
        assert request.params["group_by[]"] == ["workspace_id", "description"]
        assert request.params["bucket_width"] == ["1d"]
        assert request.params["limit"] == ["31"]


def test_records_keep_anthropics_fields_and_add_ours(anthropic_dataset, anthropic_config, tmp_path):
    run = run_tap(anthropic_config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    org = anthropic_dataset.organization["id"]
    names = {w["id"]: w["name"] for w in anthropic_dataset.workspaces}
    for record in run.records("cost_report"):
        assert record["organization_id"] == org
        assert isinstance(record["amount"], str)
        assert record["currency"] == "USD"
        assert record["workspace_name"] == names.get(record["workspace_id"])
        assert record["ending_at"] > record["starting_at"]
    default = [r for r in run.records("cost_report") if r["workspace_id"] is None]
    assert default, "the default workspace has a null id and its own costs"
    archived = next(w for w in anthropic_dataset.workspaces if w["archived_at"])
    assert archived["name"] in {r["workspace_name"] for r in run.records("cost_report")}
    assert {w["id"] for w in run.records("workspaces")} == set(names)
    assert {k["id"] for k in run.records("api_keys")} == {
        k["id"] for k in anthropic_dataset.api_keys
    }
    assert all(r["organization_id"] == org for s in STREAMS for r in run.records(s))


def test_money_and_counts_stay_exact_in_the_singer_output(anthropic_config, tmp_path):
    run = run_tap(anthropic_config, tmp_path)
    lines = [
        json.loads(line, parse_float=Decimal)
        for line in run.stdout.splitlines()
        if '"stream":"cost_report"' in line and '"type":"RECORD"' in line
    ]
    assert lines
    fractional = [m["record"]["amount"] for m in lines if "." in m["record"]["amount"]]
    assert fractional, "the fake must send fractional cents"
    assert all(isinstance(m["record"]["amount"], str) for m in lines)


def test_token_lines_carry_the_matching_usage_and_nothing_is_estimated(
    anthropic_dataset, anthropic_config, tmp_path
):
    run = run_tap(anthropic_config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    tokens: collections.Counter = collections.Counter()
    searches: collections.Counter = collections.Counter()
    for day, atoms in anthropic_dataset.atoms_by_day.items():
        for atom in atoms:
            if atom.service_tier == "priority":
                continue
            where = (rfc3339(day), atom.workspace_id)
            for token_type, count in atom.tokens.items():
                tokens[
                    (*where, atom.model, atom.service_tier, atom.context_window, token_type)
                ] += count
            searches[where] += atom.web_search_requests
    kinds = collections.Counter()
    for record in run.records("cost_report"):
        where = (record["starting_at"], record["workspace_id"])
        kind = record["cost_type"]
        kinds[kind] += 1
        if kind == "tokens":
            key = (*where, record["model"], record["service_tier"], record["context_window"])
            assert record["usage_quantity"] == tokens[(*key, record["token_type"])]
            assert record["usage_unit"] == "tokens"
        elif kind == "web_search":
            assert record["usage_quantity"] == searches[where]
            assert record["usage_unit"] == "web_search_requests"
        else:
            assert kind == "code_execution"
            assert record["usage_quantity"] is None
            assert record["usage_unit"] is None
    assert set(kinds) == {"tokens", "web_search", "code_execution"}


@pytest.mark.parametrize("width", ["1d", "1h"])
def test_usage_report_holds_every_token_once(
    anthropic_fake, anthropic_dataset, anthropic_config, tmp_path, width
):
    config = {**anthropic_config, "bucket_width": width}
    if width == "1h":
        config["start_date"] = rfc3339(anthropic_dataset.end - 3 * DAY)
    run = run_tap(config, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    records = run.records("usage_report_messages")
    assert len({r["record_key"] for r in records}) == len(records)
    assert {r["bucket_width"] for r in records} == {width}
    since = anthropic_dataset.start if width == "1d" else anthropic_dataset.end - 3 * DAY
    want: collections.Counter = collections.Counter()
    for atoms in anthropic_dataset.atoms_by_day.values():
        for atom in (a for a in atoms if a.at >= since):
            for token_type, count in atom.tokens.items():
                want[token_type] += count
    got: collections.Counter = collections.Counter()
    for record in records:
        for token_type in TOKEN_TYPES:
            head, _, tail = token_type.partition(".")
            got[token_type] += record[head][tail] if tail else record[head]
    assert got == want
    assert {r["service_tier"] for r in records} == {"standard", "batch", "priority"}
    assert None in {r["api_key_id"] for r in records}
    usage_requests = [
        r for r in anthropic_fake.requests if r.path == USAGE_PATH and "api_key_id" in str(r.params)
    ]
    assert {r.params["bucket_width"][0] for r in usage_requests} == {width}


def test_about_discover_and_test_modes(anthropic_fake, anthropic_config, tmp_path):
    about = run_tap(anthropic_config, tmp_path, "--about", "--format=json")
    assert about.returncode == 0
    info = json.loads(about.stdout)
    assert info["name"] == "tap-anthropic"
    settings = info["settings"]["properties"]
    assert {
        "admin_api_key",
        "api_url",
        "anthropic_version",
        "start_date",
        "end_date",
        "bucket_width",
        "lookback_days",
        "request_timeout",
        "max_retries",
        "backoff_base_seconds",
    } <= set(settings)
    assert settings["admin_api_key"]["secret"] is True
    assert settings["lookback_days"]["default"] == 2

    anthropic_fake.clear_requests()
    discover = run_tap(anthropic_config, tmp_path, "--discover")
    assert discover.returncode == 0
    assert anthropic_fake.requests == []  # discovery never calls the API
    catalog = {s["tap_stream_id"]: s for s in json.loads(discover.stdout)["streams"]}
    assert set(catalog) == set(STREAMS)
    assert catalog["cost_report"]["key_properties"] == ["record_key"]
    assert catalog["cost_report"]["replication_key"] == "starting_at"
    assert catalog["workspaces"]["key_properties"] == ["id"]

    test = run_tap(anthropic_config, tmp_path, "--test")
    assert test.returncode == 0, test.stderr[-2000:]
    assert set(STREAMS) <= test.streams
    assert ADMIN_KEY not in test.stdout + test.stderr
