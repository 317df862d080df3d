"""Stripe mapping rules, one fixture each: raw balance transaction in, FOCUS rows out.

Each fixture in fixtures/stripe/ says why the rule exists, the raw record (shaped like
Stripe's balance_transaction object, as tap-stripe emits it) and the rows expected; only
the columns a fixture lists are compared, so each fixture shows the rule it is about.
Money is compared as exact Decimal.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers.stripe import map_balance_transaction
from mapper_focus.rows import MappingError, RowShaper

FIXTURES = sorted((Path(__file__).parent / "fixtures" / "stripe").glob("*.json"))
DECIMAL_COLUMNS = {c.name for c in get_spec("1.3").columns if c.data_type == "Decimal"}


def _expected(value: object, column: str) -> object:
    return Decimal(value) if column in DECIMAL_COLUMNS and value is not None else value


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_stripe_rule(fixture: Path):
    case = json.loads(fixture.read_text())
    rows = list(map_balance_transaction(case["input"]))
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
def test_stripe_rows_are_valid_focus(fixture: Path, version: str):
    spec = get_spec(version)
    shape = RowShaper(spec, ALL_SPEC_COLUMNS)
    for row in map_balance_transaction(json.loads(fixture.read_text())["input"]):
        assert spec.validate_row(shape(row, "balance_transactions", "stripe")) == []


def test_row_keys_are_deterministic_and_distinct():
    case = json.loads((FIXTURES[0].parent / "processing_fee_and_tax.json").read_text())
    first = [r["x_RowKey"] for r in map_balance_transaction(case["input"])]
    again = [r["x_RowKey"] for r in map_balance_transaction(json.loads(json.dumps(case["input"])))]
    assert first == again
    assert len(set(first)) == len(first) == 2
    restated = {
        **case["input"],
        "fee_details": [
            {**case["input"]["fee_details"][0], "amount": 300},
            case["input"]["fee_details"][1],
        ],
    }
    assert [r["x_RowKey"] for r in map_balance_transaction(restated)] == first


@pytest.mark.parametrize(
    ("change", "column", "reason"),
    [
        (
            {"fee_details": [{"amount": 10, "currency": "usd", "type": "mystery_fee"}]},
            "fee_details[0].type",
            "unknown Stripe fee type",
        ),
        (
            {"fee_details": [{"amount": 10, "currency": "dollars", "type": "stripe_fee"}]},
            "fee_details[0].currency",
            "not a currency code",
        ),
        (
            {"fee_details": [{"amount": 1.5, "currency": "usd", "type": "stripe_fee"}]},
            "fee_details[0].amount",
            "exact number",
        ),
        (
            {"fee_details": [{"amount": Decimal("1.5"), "currency": "usd", "type": "stripe_fee"}]},
            "fee_details[0].amount",
            "whole minor units",
        ),
        ({"created": None}, "created", "required field is missing"),
        ({"fee_details": "oops"}, "fee_details", "expected a list"),
    ],
)
def test_unmappable_records_name_stream_record_and_column(change, column, reason):
    record = {
        "id": "txn_bad",
        "account_id": "acct_1",
        "created": 1767225600,
        "type": "charge",
        "currency": "usd",
        "amount": 100,
        "fee_details": [],
    }
    record.update(change)
    with pytest.raises(MappingError) as info:
        list(map_balance_transaction(record))
    assert info.value.stream == "balance_transactions"
    assert info.value.record_id == "txn_bad"
    assert info.value.column == column
    assert reason in info.value.reason
