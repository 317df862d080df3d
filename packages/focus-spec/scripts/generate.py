"""Generate ``src/focus_spec/_columns_1_3.py`` from the FOCUS column catalog CSV.

    python packages/focus-spec/scripts/generate.py [PATH/TO/columns.csv]

The default input is ``../shared/focus/columns.csv`` next to the repository root (the
FOCUS 1.3 Cost and Usage columns: version, column, level, type, allowed_values, notes).
The output is a committed, import-free Python data module, so the package never reads
``../shared`` at run time. ``tests/test_catalog.py`` renders the CSV again and fails when
the committed module differs: after the CSV changes, run this script and commit the result.

The 8 columns new in FOCUS 1.3 carry draft transcriptions in the CSV notes and no
"allows nulls" value; their nullability and description come from NEW_IN_1_3 below,
taken from the released 1.3 column definitions (see the package README).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parents[1]
DEFAULT_CSV = REPO_ROOT.parent / "shared" / "focus" / "columns.csv"
OUTPUT = PACKAGE_DIR / "src" / "focus_spec" / "_columns_1_3.py"

# The spec writes "Date/Time"; the package uses identifier-like type names.
DATA_TYPES = {"String": "String", "Decimal": "Decimal", "Date/Time": "DateTime", "JSON": "JSON"}
REQUIREMENTS = ("Mandatory", "Conditional", "Recommended", "Optional")

# Columns new in FOCUS 1.3: (nullable, description), per the released 1.3 text.
NEW_IN_1_3: dict[str, tuple[bool, str]] = {
    "AllocatedMethodDetails": (
        True,
        "How a split cost allocation was calculated: a JSON object whose 'Elements' array holds"
        " objects with AllocatedRatio (required), UsageUnit and UsageQuantity; other keys in"
        " those objects start with x_. Null when the charge is not split-allocated.",
    ),
    "AllocatedMethodId": (
        True,
        "Identifier of the data generator's split cost allocation method. Null when the charge"
        " is not split-allocated, not null when it is.",
    ),
    "AllocatedResourceId": (
        True,
        "Identifier of what the cost is allocated to in a split cost allocation. Null for"
        " charges that are not split-allocated and for the unallocated remainder.",
    ),
    "AllocatedResourceName": (
        True,
        "Display name of the AllocatedResourceId; null exactly when AllocatedResourceId is null.",
    ),
    "AllocatedTags": (
        True,
        "Tags that apply to an allocated charge (Key-Value Format). Keys already in Tags are"
        " not repeated. Null when the charge is not split-allocated.",
    ),
    "ContractApplied": (
        True,
        "Contract commitments applied to the charge: a JSON object whose 'Elements' array holds"
        " objects with ContractID, ContractCommitmentID and ContractCommitmentApplied"
        "Cost/Quantity/Unit; other keys in those objects start with x_.",
    ),
    "HostProviderName": (
        True,
        "Entity that provides the infrastructure the service runs on. May be null when no"
        " hosting is involved or the host cannot be determined (e.g. Tax, Adjustment);"
        " equals ServiceProviderName unless the customer selects or sees another host.",
    ),
    "ServiceProviderName": (
        False,
        "Entity that provides the resources or services (the seller in marketplaces, the"
        " reseller for white-labelled services). Replaces the deprecated ProviderName.",
    ),
}

_OLD_NOTES = re.compile(
    r"^introduced (?P<introduced>[^;]+); column type (?P<column_type>\w+);"
    r" allows nulls (?P<nullable>True|False); value format (?P<rest>.*)$"
)

Row = tuple[str, str, str, bool, tuple[str, ...] | None, str, str]


def parse(csv_text: str) -> tuple[list[Row], list[tuple[str, str]]]:
    """Columns (name, data_type, requirement, nullable, allowed_values, introduced,
    description) in CSV order, and the (subcategory, parent category) pairs."""
    rows: list[Row] = []
    subcategories: list[tuple[str, str]] = []
    new_seen: set[str] = set()
    for record in csv.DictReader(io.StringIO(csv_text)):
        if record["version"] != "1.3":
            raise ValueError(f"unexpected version {record['version']!r} for {record['column']}")
        name = record["column"]
        data_type = DATA_TYPES[record["type"]]
        requirement = record["level"]
        if requirement not in REQUIREMENTS:
            raise ValueError(f"{name}: unknown requirement level {_literal(requirement)}")
        allowed: tuple[str, ...] | None = None
        if record["allowed_values"]:
            allowed = tuple(record["allowed_values"].split("|"))
        if name == "ServiceSubcategory" and allowed is not None:
            pairs = [value.split("/", 1) for value in allowed]
            subcategories = [(sub, category) for category, sub in pairs]
            allowed = tuple(sub for sub, _ in subcategories)
            if len(set(allowed)) != len(allowed):
                raise ValueError("ServiceSubcategory values are not unique across categories")
        notes = record["notes"]
        if notes.startswith("NEW in 1.3"):
            if name not in NEW_IN_1_3:
                raise ValueError(f"{name} is new in 1.3 but has no entry in NEW_IN_1_3")
            nullable, description = NEW_IN_1_3[name]
            introduced = "1.3"
            new_seen.add(name)
        else:
            match = _OLD_NOTES.match(notes)
            if match is None:
                raise ValueError(f"{name}: notes do not follow the expected layout: {notes!r}")
            introduced = match["introduced"]
            nullable = match["nullable"] == "True"
            value_format, _, extra = match["rest"].partition(". ")
            parts = [f"{match['column_type']} column", f"value format {value_format}"]
            if extra:
                parts.append(extra.rstrip("."))
            description = "; ".join(parts) + "."
        rows.append((name, data_type, requirement, nullable, allowed, introduced, description))
    missing = set(NEW_IN_1_3) - new_seen
    if missing:
        raise ValueError(f"NEW_IN_1_3 lists columns the CSV does not mark new: {sorted(missing)}")
    return rows, subcategories


def _literal(text: str) -> str:
    """A double-quoted Python string literal (the style ruff format keeps)."""
    if '"' in text:
        raise ValueError(f"unexpected double quote in {text!r}")
    return json.dumps(text, ensure_ascii=False)


def render(csv_text: str) -> str:
    """The text of the generated data module for ``csv_text``."""
    rows, subcategories = parse(csv_text)
    digest = hashlib.sha256(csv_text.encode("utf-8")).hexdigest()
    out = [
        "# ruff: noqa: E501",
        '"""FOCUS 1.3 Cost and Usage columns, in spec order.',
        "",
        "GENERATED by packages/focus-spec/scripts/generate.py from ../shared/focus/columns.csv.",
        "Do not edit: change the CSV (or the generator) and run the script again.",
        '"""',
        "",
        f'SOURCE_SHA256 = "{digest}"',
        "",
        "# (name, data_type, requirement, nullable, allowed_values, introduced, description)",
        "COLUMNS: tuple[tuple[str, str, str, bool, tuple[str, ...] | None, str, str], ...] = (",
    ]
    for name, data_type, requirement, nullable, allowed, introduced, description in rows:
        out.append("    (")
        out.append(f"        {_literal(name)},")
        out.append(f"        {_literal(data_type)},")
        out.append(f"        {_literal(requirement)},")
        out.append(f"        {nullable!r},")
        if allowed is None:
            out.append("        None,")
        elif len(allowed) == 1:
            out.append(f"        ({_literal(allowed[0])},),")
        else:
            out.append("        (")
            out.extend(f"            {_literal(value)}," for value in allowed)
            out.append("        ),")
        out.append(f"        {_literal(introduced)},")
        out.append(f"        {_literal(description)},")
        out.append("    ),")
    out.append(")")
    out.append("")
    out.append("# ServiceSubcategory -> its one parent ServiceCategory (FOCUS 1.1+).")
    out.append("SERVICE_SUBCATEGORY_PARENTS: tuple[tuple[str, str], ...] = (")
    out.extend(f"    ({_literal(sub)}, {_literal(category)})," for sub, category in subcategories)
    out.append(")")
    out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_CSV
    text = render(source.read_text(encoding="utf-8"))
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
