"""OpenAI mapping rules, one fixture each: raw cost record in, FOCUS rows out; and the whole
fake organization through tap, mapper and target, reconciled with OpenAI's own totals.

Each fixture in fixtures/openai/ says why the rule exists, the raw record (shaped like
tap-openai's `costs` records, numbers as the JSON text OpenAI sends) and the rows expected;
only the columns a fixture lists are compared. Money is compared as exact Decimal.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.request
from decimal import Decimal
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from finfocus_sandbox.openai import FakeOpenAI
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS, FocusMapper
from mapper_focus.providers.openai import map_cost
from mapper_focus.rows import MappingError, RowShaper
from singer_sdk.testing import sync_end_to_end
from target_focus.target import TargetFocus

sys.path.insert(0, str(Path(__file__).parents[3] / "taps/tap-openai/tests"))
from tap_openai.tap import TapOpenAI
from tap_openai_testing import ADMIN_KEY, make_dataset, run_tap, tap_config

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "openai").glob("*.json"))
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"} | {
    "x_OpenAIQuantity"
}


def _load(fixture: Path) -> dict:
    return json.loads(fixture.read_text(), parse_float=Decimal)  # as the mapper reads JSON


def _expected(value: object, column: str) -> object:
    return Decimal(value) if column in DECIMAL_COLUMNS and value is not None else value


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_openai_rule(fixture: Path):
    case = _load(fixture)
    rows = list(map_cost(case["input"]))
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
def test_openai_rows_are_valid_focus(fixture: Path, version: str):
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_cost(_load(fixture)["input"]):
        assert spec.validate_row(shape(row, "costs", "openai")) == []


def test_row_keys_come_from_identity_not_amounts():
    record = _load(FIXTURES[0].parent / "model_tokens_float_artefact.json")["input"]
    key = next(iter(map_cost(record)))["x_RowKey"]
    restated = {
        **record,
        "amount": {"value": Decimal("0.09"), "currency": "usd"},
        "quantity": 36000,
    }
    assert next(iter(map_cost(restated)))["x_RowKey"] == key
    for change in (
        {"line_item": "gpt-4o-2024-08-06, output"},
        {"project_id": "proj_Other"},
        {"organization_id": "org-other"},
        {"start_time": record["start_time"] + 86400, "end_time": record["end_time"] + 86400},
    ):
        assert next(iter(map_cost({**record, **change})))["x_RowKey"] != key, change


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        ({"amount": {"value": 1.5, "currency": "usd"}}, "amount.value", "exact number"),
        ({"amount": {"value": None, "currency": "usd"}}, "amount.value", "exact number"),
        ({"amount": {"value": Decimal("1"), "currency": "dollars"}}, "amount.currency", "currency"),
        ({"amount": "1.5"}, "amount", "expected an object"),
        ({"line_item": None}, "line_item", "required field is missing"),
        ({"organization_id": None}, "organization_id", "required field is missing"),
        ({"start_time": None}, "start_time", "required field is missing"),
        ({"quantity": 2.5}, "quantity", "exact number"),
    ],
)
def test_unmappable_records_name_stream_record_and_column(change, column, reason):
    record = {
        "id": "[1,null,null]",
        "organization_id": "org-x",
        "start_time": 1767225600,
        "end_time": 1767312000,
        "amount": {"value": Decimal("1"), "currency": "usd"},
        "line_item": "gpt-4o-2024-08-06, input",
        "project_id": "proj_x",
        "quantity": 10,
        "quantity_unit": "tokens",
    }
    record.update(change)
    with pytest.raises(MappingError) as info:
        list(map_cost(record))
    assert (info.value.stream, info.value.record_id, info.value.column) == (
        "costs",
        "[1,null,null]",
        column,
    )
    assert reason in info.value.reason


def test_every_cost_of_the_fake_organization_is_a_valid_row(tmp_path):
    dataset = make_dataset(days=30, projects=4)
    with FakeOpenAI(dataset, admin_keys={ADMIN_KEY}) as fake:
        run = run_tap(tap_config(fake.url, dataset), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records("costs")
    assert len(records) > 500
    specs = [(get_spec(v), RowShaper(get_spec(v), ALL_SPEC_COLUMNS)) for v in ("1.2", "1.3")]
    units, services = set(), set()
    for record in records:
        (row,) = map_cost(record)
        for spec, shape in specs:
            assert spec.validate_row(shape(row, "costs", "openai")) == [], record["id"]
        units.add(row["PricingUnit"])
        services.add((row["ServiceName"], row["ServiceSubcategory"]))
    assert {"Tokens", "Images", "Characters", "Seconds", "GiB Hours", "Units"} <= units
    assert ("Web Search", "AI Platforms") in services
    assert ("gpt-4o-mini", "Generative AI") in services or ("gpt-4o", "Generative AI") in services


def _api_total(url: str, start: int) -> Decimal:
    """OpenAI's own total for everything since `start`: ungrouped daily costs, exactly."""
    total, cursor = Decimal(0), ""
    while True:
        request = urllib.request.Request(  # noqa: S310 - the local fake
            f"{url}/v1/organization/costs?start_time={start}&limit=180{cursor}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310
            body = json.loads(response.read(), parse_float=Decimal)
        total += sum((r["amount"]["value"] for b in body["data"] for r in b["results"]), Decimal(0))
        if not body["has_more"]:
            return total
        cursor = f"&page={body['next_page']}"


def test_billed_cost_reconciles_exactly_with_openais_totals(tmp_path):
    dataset = make_dataset(seed=23, days=45, projects=5)
    with FakeOpenAI(dataset, admin_keys={ADMIN_KEY}) as fake:
        config = tap_config(fake.url, dataset, page_size=20)
        target = TargetFocus(config={"output_path": str(tmp_path)})
        sync_end_to_end(TapOpenAI(config=config), target, FocusMapper(config={}))
        api_total = _api_total(fake.url, dataset.first_day - 10 * 86400)
    table = pads.dataset(tmp_path / "data", format="parquet", partitioning="hive").to_table()
    rows = table.to_pylist()
    assert rows
    assert len({r["x_RowKey"] for r in rows}) == len(rows)
    assert {r["ServiceProviderName"] for r in rows} == {"OpenAI"}
    billed = sum((r["BilledCost"] for r in rows), Decimal(0))
    assert billed == api_total == dataset.cost_total(dataset.first_day, dataset.now + 1)
    # Not only in total: each day's rows add up to that day's bill.
    by_day: dict[dt.datetime, Decimal] = {}
    for row in rows:
        by_day[row["ChargePeriodStart"]] = (
            by_day.get(row["ChargePeriodStart"], 0) + row["BilledCost"]
        )
    days = {
        dt.datetime.fromtimestamp(day, tz=dt.UTC): results[0]["amount"]["value"]
        for day, results in dataset.costs(dataset.first_day, dataset.now + 1).items()
        if results
    }
    assert by_day == days
