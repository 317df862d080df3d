"""Anthropic mapping rules, one fixture each, then the whole fake dataset reconciled.

Each fixture in fixtures/anthropic/ says why the rule exists, the raw record (a
`cost_report` record as tap-anthropic emits it) and the rows expected; only the columns a
fixture lists are compared. Money is compared as exact Decimal, digit for digit.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
import urllib.request
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.anthropic import FakeAnthropic
from finfocus_sandbox.anthropic.dataset import rfc3339
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS, FocusMapper
from mapper_focus.providers.anthropic import map_cost_line
from mapper_focus.registry import builtin_mappings, find_mapping
from mapper_focus.rows import MappingError, RowShaper
from singer_sdk.testing import sync_end_to_end
from target_focus.target import TargetFocus

sys.path.insert(0, str(Path(__file__).parents[3] / "taps/tap-anthropic/tests"))
from tap_anthropic.tap import TapAnthropic
from tap_anthropic_testing import ADMIN_KEY, make_dataset, run_tap, tap_config

TAP_TESTS = Path(__file__).parents[3] / "taps/tap-anthropic/tests"

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "anthropic").glob("*.json"))
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"}
TAP_SCHEMA = json.loads(
    (TAP_TESTS.parent / "src/tap_anthropic/schemas/cost_report.json").read_text()
)


def _expected(value: object, column: str) -> object:
    return Decimal(value) if column in DECIMAL_COLUMNS and value is not None else value


def _case(name: str) -> dict:
    return json.loads((FIXTURES[0].parent / f"{name}.json").read_text())


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_anthropic_rule(fixture: Path):
    case = json.loads(fixture.read_text())
    rows = list(map_cost_line(case["input"]))
    assert len(rows) == len(case["expected"]), case["why"]
    for row, expected in zip(rows, case["expected"], strict=True):
        for column, value in expected.items():
            got = row[column]
            want = _expected(value, column)
            assert got == want, f"{fixture.stem}: {column} = {got!r}, want {want!r}"
            if isinstance(want, Decimal):  # exact digits, not just equal value
                assert str(got) == str(want), f"{fixture.stem}: {column} {got} vs {want}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_anthropic_rows_are_valid_focus(fixture: Path, version: str):
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_cost_line(json.loads(fixture.read_text())["input"]):
        assert spec.validate_row(shape(row, "cost_report", "anthropic")) == []


def test_row_keys_follow_identity_not_amounts():
    line = _case("doc_example_token_line")["input"]
    [row] = map_cost_line(line)
    [again] = map_cost_line(json.loads(json.dumps(line)))
    assert row["x_RowKey"] == again["x_RowKey"]
    restated = {**line, "amount": "130.5", "usage_quantity": 1600}
    [revised] = map_cost_line(restated)
    assert revised["x_RowKey"] == row["x_RowKey"]
    assert revised["BilledCost"] == Decimal("1.305")
    keys = {row["x_RowKey"]}
    for change in (
        {"token_type": "output_tokens"},
        {"service_tier": "batch"},
        {"context_window": "200k-1M"},
        {"workspace_id": None},
        {"starting_at": "2025-08-02T00:00:00Z", "ending_at": "2025-08-03T00:00:00Z"},
        {"organization_id": "another-org"},
    ):
        [other] = map_cost_line({**line, **change})
        keys.add(other["x_RowKey"])
    assert len(keys) == 7


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"cost_type": None}, "cost_type", "required field is missing"),
        ({"cost_type": "teleportation"}, "cost_type", "unknown Anthropic cost type"),
        ({"amount": 123.78912}, "amount", "exact number"),
        ({"amount": "lots"}, "amount", "not a number"),
        ({"currency": "dollars"}, "currency", "not a currency code"),
        ({"model": None}, "model", "required field is missing"),
        ({"usage_unit": "hours"}, "usage_unit", "unknown usage unit"),
        ({"usage_quantity": -3}, "usage_quantity", "not a count"),
        ({"ending_at": "2025-07-31T00:00:00Z"}, "ending_at", "ends before it starts"),
        ({"starting_at": "soon"}, "starting_at", "RFC 3339"),
        ({"organization_id": None}, "organization_id", "required field is missing"),
    ],
)
def test_unmappable_records_name_stream_record_and_column(change, column, reason):
    record = {**_case("doc_example_token_line")["input"], **change}
    with pytest.raises(MappingError) as info:
        list(map_cost_line(record))
    assert info.value.stream == "cost_report"
    assert info.value.record_id == "k-doc-example"
    assert info.value.column == column
    assert reason in info.value.reason


def test_the_tap_schema_is_recognised_also_when_read_back_from_a_database():
    mappings = builtin_mappings()
    for stream in ("cost_report", "anthropic-cost_report"):
        mapping = find_mapping(mappings, stream, TAP_SCHEMA)
        assert mapping is not None
        assert mapping.provider == "anthropic"
    assert find_mapping(mappings, "cost_report", {"properties": {"amount": {}}}) is None


# ------------------------------------------------------------------ the whole fake dataset
def _api_total_cents(url: str, dataset) -> Decimal:
    """What Anthropic's own cost report adds up to, ungrouped, every page."""
    total, page = Decimal(0), None
    while True:
        params = {"starting_at": rfc3339(dataset.start), "limit": 31}
        if page:
            params["page"] = page
        request = urllib.request.Request(  # noqa: S310 - the local fake
            f"{url}/v1/organizations/cost_report?{urllib.parse.urlencode(params)}"
        )
        request.add_header("x-api-key", ADMIN_KEY)
        request.add_header("anthropic-version", "2023-06-01")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        for bucket in body["data"]:
            for result in bucket["results"]:
                assert (result["workspace_id"], result["description"]) == (None, None)
                total += Decimal(result["amount"])
        if not body["has_more"]:
            return total
        page = body["next_page"]


@pytest.fixture(scope="module")
def anthropic_world(tmp_path_factory):
    dataset = make_dataset(seed=13, days=45, workspaces=4)
    with FakeAnthropic(dataset, admin_keys={ADMIN_KEY}) as fake:
        run = run_tap(tap_config(fake.url, dataset), tmp_path_factory.mktemp("anthropic"))
        assert run.returncode == 0, run.stderr[-3000:]
        yield dataset, fake, run.records("cost_report")


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_every_cost_line_of_the_fake_is_one_valid_row(anthropic_world, version):
    dataset, _, records = anthropic_world
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    rows = [row for record in records for row in map_cost_line(record)]
    assert (
        len(rows) == len(records) == sum(len(dataset.cost_lines(d)) for d in dataset.day_starts())
    )
    assert len({row["x_RowKey"] for row in rows}) == len(rows)
    problems = [
        (row["x_SourceRecordId"], violation.message)
        for row in rows
        for violation in spec.validate_row(shape(row, "cost_report", "anthropic"))
    ]
    assert problems == []
    sources = {row["x_AnthropicQuantitySource"] for row in rows}
    assert sources == {"usage_report", "cost_line"}


def test_billed_cost_reconciles_exactly_with_anthropics_totals(anthropic_world):
    dataset, fake, records = anthropic_world
    billed = sum(
        (row["BilledCost"] for record in records for row in map_cost_line(record)), Decimal(0)
    )
    api_total = _api_total_cents(fake.url, dataset)
    assert api_total > 0
    assert billed == api_total.scaleb(-2)  # cents to dollars, moved, never rounded
    assert billed == dataset.total_cost_cents().scaleb(-2)
    assert all(isinstance(row["BilledCost"], Decimal) for r in records for row in map_cost_line(r))


def test_tap_mapper_target_in_one_process_reconciles(tmp_path):
    dataset = make_dataset(seed=17, days=20, workspaces=2)
    with FakeAnthropic(dataset, admin_keys={ADMIN_KEY}) as fake:
        tap = TapAnthropic(config=tap_config(fake.url, dataset))
        target = TargetFocus(config={"output_path": str(tmp_path / "focus")})
        sync_end_to_end(tap, target, FocusMapper(config={}))
        api_total = _api_total_cents(fake.url, dataset)
    table = pads.dataset(tmp_path / "focus" / "data", format="parquet", partitioning="hive")
    rows = table.to_table().to_pylist()
    assert len(rows) == sum(len(dataset.cost_lines(d)) for d in dataset.day_starts())
    assert len({r["x_RowKey"] for r in rows}) == len(rows)
    assert {r["ServiceProviderName"] for r in rows} == {"Anthropic"}
    assert sum((r["BilledCost"] for r in rows), Decimal(0)) == api_total.scaleb(-2)
