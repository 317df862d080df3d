"""What the FinOps Foundation's validator misses, and our own validator catches.

A valid FOCUS 1.2 Parquet file is written by mapper-focus | target-focus from Stripe fee
fixtures; then one row at a time is spoiled and both validators read the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from focus_spec import get_spec

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = ROOT.parent / "shared" / "tools" / "focus-validate"
FIXTURES = ROOT / "mappers/mapper-focus/tests/fixtures/stripe"
BT_SCHEMA = json.loads(
    (ROOT / "taps/tap-stripe/src/tap_stripe/schemas/balance_transactions.json").read_text()
)


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("validators")
    messages = [
        {
            "type": "SCHEMA",
            "stream": "balance_transactions",
            "schema": BT_SCHEMA,
            "key_properties": ["id"],
        }
    ]
    for fixture in sorted(FIXTURES.glob("*.json")):
        record = json.loads(fixture.read_text())["input"]
        record["account_id"] = "acct_1Validators"  # one partition, one file
        messages.append({"type": "RECORD", "stream": "balance_transactions", "record": record})
    (work / "mapper.json").write_text(json.dumps({"focus_version": "1.2"}))
    (work / "target.json").write_text(
        json.dumps({"output_path": str(work / "out"), "focus_version": "1.2"})
    )
    mapped = subprocess.run(
        [sys.executable, "-m", "mapper_focus.mapper", "--config", str(work / "mapper.json")],
        input="\n".join(json.dumps(m) for m in messages),
        capture_output=True,
        text=True,
        check=True,
    )
    subprocess.run(
        [sys.executable, "-m", "target_focus.target", "--config", str(work / "target.json")],
        input=mapped.stdout,
        capture_output=True,
        text=True,
        check=True,
    )
    files = sorted((work / "out" / "data").rglob("*.parquet"), key=lambda f: f.stat().st_size)
    return files[-1]  # the fixtures span two months: take the fuller partition


def foundation_validator(path: Path) -> int:
    return subprocess.run(
        [str(VALIDATOR), "--version", "1.2", str(path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    ).returncode


def read_rows(path: Path) -> list[dict]:
    """Rows of a FOCUS file. A non-Mandatory column null in every row is a feature the
    provider does not have: it is left out of the rows, as the mapper leaves it out."""
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            rows = [
                {k: (v if v != "" else None) for k, v in r.items()} for r in csv.DictReader(handle)
            ]
    else:
        rows = pq.read_table(path).to_pylist()
    mandatory = set(get_spec("1.2").mandatory_column_names)
    unused = {c for c in rows[0] if c not in mandatory and all(r[c] is None for r in rows)}
    return [{k: v for k, v in r.items() if k not in unused} for r in rows]


def our_violations(path: Path) -> list:
    spec = get_spec("1.2")
    return [
        (index, v.column, v.rule)
        for index, row in enumerate(read_rows(path))
        for v in spec.validate_row(row)
    ]


def spoil(path: Path, column: str, value: object, target: Path) -> Path:
    """Set `column` of the last row to `value`: Parquet keeps types; CSV keeps text."""
    table = pq.read_table(path)
    if target.suffix == ".csv":
        rows = [{k: _text(v) for k, v in r.items()} for r in table.to_pylist()]
        rows[-1][column] = value
        with target.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=table.column_names)
            writer.writeheader()
            writer.writerows(rows)
        return target
    values = table.column(column).to_pylist()
    values[-1] = value
    index = table.schema.get_field_index(column)
    array = pa.array(values, type=table.schema.field(index).type)
    pq.write_table(table.set_column(index, table.schema.field(index), array), target)
    return target


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def test_the_valid_file_passes_both(valid_file):
    assert foundation_validator(valid_file) == 0
    assert our_violations(valid_file) == []


@pytest.mark.parametrize(
    ("column", "value", "rule", "suffix"),
    [
        ("ChargeCategory", "Fees", "allowed-values", ".parquet"),
        ("ChargePeriodStart", "2026-01-01T02:00:00+02:00", "datetime-utc", ".csv"),
        ("ChargeDescription", "", "empty-string", ".parquet"),
    ],
    ids=["bad enumeration in one row", "non-UTC datetime", "empty string instead of NULL"],
)
def test_what_the_foundation_validator_misses_we_catch(
    valid_file, tmp_path, column, value, rule, suffix
):
    spoiled = spoil(valid_file, column, value, tmp_path / f"spoiled{suffix}")
    # The Foundation's validator lets it through...
    assert foundation_validator(spoiled) == 0
    # ...ours names the row, the column and the rule.
    last = len(read_rows(spoiled)) - 1
    assert (last, column, rule) in our_violations(spoiled)
