"""The committed column catalog is the one columns.csv describes.

These tests read ../shared/focus/columns.csv next to the repository root. When that file
is missing they FAIL (never skip): the catalog must stay checked against its source.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from typing import TYPE_CHECKING

import focus_spec
import pytest
from focus_spec import get_spec
from focus_spec_testdata import NEW_IN_1_3, PACKAGE_DIR, SHARED_FOCUS

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

COLUMNS_CSV = SHARED_FOCUS / "columns.csv"
COMMITTED = PACKAGE_DIR / "src" / "focus_spec" / "_columns_1_3.py"


def _source_text() -> str:
    assert COLUMNS_CSV.is_file(), (
        f"{COLUMNS_CSV} is missing: the FOCUS column catalog cannot be checked against its"
        " source (CI checks out ../shared next to the repository)"
    )
    return COLUMNS_CSV.read_text(encoding="utf-8")


def _csv_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(_source_text().splitlines()))


def _generator() -> ModuleType:
    path = PACKAGE_DIR / "scripts" / "generate.py"
    spec = importlib.util.spec_from_file_location("focus_spec_generate", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_catalog_is_generated_from_columns_csv() -> None:
    rendered = _generator().render(_source_text())
    assert rendered == COMMITTED.read_text(encoding="utf-8"), (
        "src/focus_spec/_columns_1_3.py is stale: run packages/focus-spec/scripts/generate.py"
    )


def test_catalog_1_3_matches_every_csv_row() -> None:
    spec = get_spec("1.3")
    rows = _csv_rows()
    assert spec.column_names == tuple(row["column"] for row in rows)
    types = {"Date/Time": "DateTime", "String": "String", "Decimal": "Decimal", "JSON": "JSON"}
    for row in rows:
        column = spec.column(row["column"])
        assert column.data_type == types[row["type"]], column.name
        assert column.requirement == row["level"], column.name
        notes = row["notes"]
        if notes.startswith("NEW in 1.3"):
            assert column.introduced == "1.3", column.name
        else:
            assert column.introduced == re.match(r"introduced ([^;]+);", notes)[1], column.name
            nulls = re.search(r"allows nulls (True|False)", notes)[1]
            assert column.nullable is (nulls == "True"), column.name
        if column.name == "ServiceSubcategory":
            pairs = [value.split("/", 1) for value in row["allowed_values"].split("|")]
            assert column.allowed_values == frozenset(sub for _, sub in pairs)
            assert dict(spec.service_subcategory_parents) == {sub: cat for cat, sub in pairs}
        elif row["allowed_values"]:
            assert column.allowed_values == frozenset(row["allowed_values"].split("|"))
        else:
            assert column.allowed_values is None, column.name


def test_new_1_3_columns_are_exactly_the_csv_new_ones_and_not_in_1_2() -> None:
    new = {row["column"] for row in _csv_rows() if row["notes"].startswith("NEW in 1.3")}
    assert new == set(NEW_IN_1_3)
    spec12, spec13 = get_spec("1.2"), get_spec("1.3")
    assert len(spec13.columns) == 65
    assert len(spec12.columns) == 57
    assert set(spec13.column_names) - set(spec12.column_names) == new
    # the columns 1.2 shares with 1.3 are defined identically
    for column in spec12.columns:
        assert spec13.column(column.name) == column


def test_new_1_3_columns_nullability_from_released_text() -> None:
    spec = get_spec("1.3")
    assert spec.column("ServiceProviderName").nullable is False
    assert spec.column("HostProviderName").nullable is True
    assert spec.column("HostProviderName").requirement == "Mandatory"
    for name in NEW_IN_1_3[:6]:
        assert spec.column(name).nullable is True


def test_catalog_has_the_spec_shape() -> None:
    spec = get_spec("1.3")
    assert spec.column("BilledCost").data_type == "Decimal"
    assert spec.column("ChargePeriodStart").data_type == "DateTime"
    assert spec.column("Tags").data_type == "JSON"
    assert spec.column("ChargeClass").allowed_values == frozenset({"Correction"})
    assert spec.column("CommitmentDiscountStatus").allowed_values == frozenset({"Used", "Unused"})
    assert spec.column("ChargeCategory").allowed_values == frozenset(
        {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
    )
    assert len(spec.service_subcategory_parents) == 82
    assert {column.data_type for column in spec.columns} == set(focus_spec.DATA_TYPES)
    assert all(column.requirement in focus_spec.REQUIREMENTS for column in spec.columns)
    assert all(column.description for column in spec.columns)


def test_package_never_reads_shared_at_run_time() -> None:
    source_dir = PACKAGE_DIR / "src" / "focus_spec"
    for path in source_dir.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "open(" not in code, path.name
        assert "read_text" not in code, path.name


@pytest.mark.parametrize("path", sorted((PACKAGE_DIR / "src").rglob("*.py")), ids=lambda p: p.name)
def test_no_third_party_imports(path: Path) -> None:
    allowed = {
        "__future__", "collections", "dataclasses", "datetime", "decimal", "difflib",
        "focus_spec", "functools", "json", "math", "re", "types", "typing",
    }  # fmt: skip
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*(?:from|import) ([\w.]+)", line)
        if match and not match[1].startswith("."):
            assert match[1].split(".")[0] in allowed, f"{path.name}: {line.strip()}"
