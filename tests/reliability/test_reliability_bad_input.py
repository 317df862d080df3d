"""Bad input everywhere: every setting of every plugin, surprising data through pipelines.

Each gives a clear one-line error (exit 2) or a quarantined row with its reason; none
crashes with a traceback as the only message, and nothing is lost on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.dataset as pads
import pytest

PLUGINS = {
    "tap-stripe": ("tap_stripe.tap", {"api_key": "sk_test_badinput"}),
    "tap-openai": ("tap_openai.tap", {"admin_api_key": "sk-admin-badinput"}),
    "tap-anthropic": ("tap_anthropic.tap", {"admin_api_key": "sk-ant-admin01-badinput"}),
    "tap-aws": ("tap_aws.tap", {"bucket": "billing"}),
    "mapper-focus": ("mapper_focus.mapper", {}),
    "target-focus": ("target_focus.target", {"output_path": "{tmp}/out"}),
}
# Settings every singer-sdk plugin has; the SDK validates them itself.
SDK_SETTINGS = {
    "stream_maps",
    "stream_map_config",
    "flattening_enabled",
    "flattening_max_depth",
    "batch_config",
    "faker_config",
    "add_record_metadata",
    "load_method",
    "validate_records",
    "batch_size_rows",
    "process_activate_version_messages",
    "hard_delete",
}
WRONG = {
    "string": 12345,
    "integer": "many",
    "number": "lots",
    "boolean": "sometimes",
    "array": "not-a-list",
    "object": 7,
}


def settings_of(module: str) -> dict:
    about = subprocess.run(
        [sys.executable, "-m", module, "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(about.stdout)["settings"]["properties"]


def cases() -> list[tuple[str, str, object]]:
    found = []
    for plugin, (module, _) in PLUGINS.items():
        for name, schema in settings_of(module).items():
            if name in SDK_SETTINGS:
                continue
            types = schema.get("type", [])
            types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
            if types and types[0] in WRONG:
                found.append((plugin, name, WRONG[types[0]]))
    return found


CASES = cases()


@pytest.mark.parametrize(
    ("plugin", "setting", "value"), CASES, ids=[f"{p}-{s}" for p, s, _ in CASES]
)
def test_every_setting_with_a_wrong_type_is_one_line_exit_2(
    tmp_path, plugin, setting, value, tally
):
    module, base = PLUGINS[plugin]
    config = {k: (v.format(tmp=tmp_path) if isinstance(v, str) else v) for k, v in base.items()}
    config[setting] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    run = subprocess.run(
        [sys.executable, "-m", module, "--config", str(path)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    tally["bad_inputs"] += 1
    assert run.returncode == 2, run.stderr[-1500:]
    lines = [line for line in run.stderr.strip().splitlines() if line.startswith(f"{plugin}:")]
    assert len(lines) == 1, run.stderr[-1500:]
    assert setting in lines[0]
    assert "Traceback" not in run.stderr


def test_the_suite_covers_every_plugin():
    assert {plugin for plugin, _, _ in CASES} == set(PLUGINS)
    assert len(CASES) >= 40


# --- surprising data through `meltano run` -------------------------------------------------


def _rows(path) -> list[dict]:
    return pads.dataset(path / "data", format="parquet", partitioning="hive").to_table().to_pylist()


def _spoil(dataset, changes: dict) -> str:
    platform = dataset.account_ids[0]
    bt = next(b for b in dataset.objects("balance_transaction", platform) if b["fee_details"])
    dataset.update(
        "balance_transaction",
        bt["id"],
        changes(bt) if callable(changes) else changes,
        account=platform,
        emit_event=False,
    )
    return bt["id"]


BAD_RECORDS = {
    "unknown fee type": lambda bt: {"fee_details": [{**bt["fee_details"][0], "type": "mystery"}]},
    "bad currency": lambda bt: {"fee_details": [{**bt["fee_details"][0], "currency": "dollars"}]},
    "missing required field": {"type": None},
    "huge value": lambda bt: {"fee_details": [{**bt["fee_details"][0], "amount": 10**25}]},
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_records_fail_with_one_line_or_are_quarantined(
    meltano, stripe_dataset, tmp_path, case, tally
):
    bad_id = _spoil(stripe_dataset, BAD_RECORDS[case])
    tally["bad_inputs"] += 1
    failed = meltano.run("run", "tap-stripe", "focus", "target-focus")
    assert failed.returncode != 0
    named = [
        line
        for line in failed.stderr.splitlines()
        if ("mapper-focus:" in line or "target-focus:" in line) and bad_id in line
    ]
    assert named, f"no one-line error names {bad_id}"
    assert not list((tmp_path / "focus").rglob("part-0.parquet")) or case == "huge value"

    quarantine = {
        "MAPPER_FOCUS_ON_INVALID": "quarantine",
        "TARGET_FOCUS_ON_INVALID": "quarantine",
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'q.db'}",
        "TARGET_FOCUS_OUTPUT_PATH": str(tmp_path / "quarantined"),
    }
    result = meltano.run("run", "tap-stripe", "focus", "target-focus", extra_env=quarantine)
    assert result.returncode == 0, "\n".join(
        line
        for line in result.stderr.splitlines()
        if "target-focus" in line and "METRIC" not in line
    )[-3000:]
    files = list((tmp_path / "quarantined" / "quarantine").glob("*.jsonl"))
    assert files
    entries = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert any(e.get("x_SourceRecordId") == bad_id or bad_id in json.dumps(e) for e in entries)
    assert all(e["reasons"] for e in entries)
    audit = json.loads(sorted((tmp_path / "quarantined" / "_audit").glob("*.json"))[-1].read_text())
    counts = audit["rows"]
    assert counts["in"] == counts["written"] + counts["quarantined"]
    assert bad_id not in {r["x_SourceRecordId"] for r in _rows(tmp_path / "quarantined")}


def test_unicode_nul_bytes_and_schema_drift_land_intact(
    meltano, stripe_dataset, database, tmp_path, tally
):
    text = "Zahlung für 💳 Größe \x00 end"
    bt_id = _spoil(
        stripe_dataset,
        lambda bt: {
            "description": text,
            "brand_new_field": {"added": "by a newer API version"},
            "fee_details": [{**bt["fee_details"][0], "description": "Gebühr ✓"}],
        },
    )
    tally["bad_inputs"] += 3
    raw = meltano.ok("run", "tap-stripe", "target-postgres")
    assert "brand_new_field" in raw.stderr  # the SDK names the field it did not expect
    (description,) = database.query(
        "select description from stripe.balance_transactions where id = %s", bt_id
    )[0]
    # PostgreSQL text cannot hold NUL: target-postgres replaces it with U+FFFD.
    assert description == text.replace("\x00", "\ufffd")
    meltano.ok("run", "tap-stripe", "focus", "target-focus")
    rows = [r for r in _rows(tmp_path / "focus") if r["x_SourceRecordId"] == bt_id]
    assert "Gebühr ✓" in {r["ChargeDescription"] for r in rows}
