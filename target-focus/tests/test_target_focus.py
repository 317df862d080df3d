"""target-focus behaviour on a local folder: layout, types, merge, validation, audit."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from finfocus_common.errors import ConfigError, PermanentError, TransientError
from focus_spec import get_spec
from target_focus import storage as storage_module
from target_focus.dataset import read_partition
from target_focus.sinks import InvalidRowError
from target_focus.target import TargetFocus
from target_focus_testdata import (
    FOCUS_VALIDATE,
    STREAM,
    audit_records,
    data_files,
    focus_messages,
    parquet_rows,
    record_message,
    run_target,
    schema_message,
    singer_lines,
    state_message,
    stripe_row,
)

PARTITION = "data/provider=stripe/billing_account_id=acct_1Test/billing_period=2025-01"


def config(root: Path, **settings) -> dict:
    return {"output_path": str(root), **settings}


def table_rows(path: Path) -> list[dict]:
    """A data file's rows as text values (Parquet or CSV), for comparisons."""
    file_format = path.suffix.lstrip(".")
    return read_partition(path, file_format).to_pylist()


def keys(path: Path) -> list[str]:
    return [row["x_RowKey"] for row in table_rows(path)]


# --- layout and types --------------------------------------------------------------------


def test_parquet_layout_types_and_metadata(tmp_path):
    run_target(config(tmp_path), focus_messages([stripe_row("k1"), stripe_row("k2", day=7)]))

    assert [p.relative_to(tmp_path).as_posix() for p in data_files(tmp_path)] == [
        f"{PARTITION}/part-0.parquet"
    ]
    schema = pq.read_schema(tmp_path / PARTITION / "part-0.parquet")
    assert schema.field("BilledCost").type == pa.decimal128(38, 18)
    assert schema.field("ChargePeriodStart").type == pa.timestamp("us", tz="UTC")
    assert schema.field("Tags").type == pa.string()  # JSON columns as JSON text
    assert schema.field("ServiceName").type == pa.string()
    assert schema.names[: len(get_spec("1.3").column_names)] == list(get_spec("1.3").column_names)
    assert schema.names[-4:] == [
        "x_RowKey",
        "x_SourceRecordId",
        "x_SourceStream",
        "x_StripeFeeType",
    ]
    row = parquet_rows(tmp_path / PARTITION / "part-0.parquet")[0]
    assert row["Tags"] == '{"env":"test","rate":0.029}'

    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["FocusVersion"] == "1.3"
    assert metadata["DataGenerator"] == "finfocus target-focus 0.1.0"
    assert metadata["x_Format"] == "parquet"
    columns = {c["ColumnName"]: c for c in metadata["Columns"]}
    assert columns["BilledCost"]["DataType"] == "Decimal"
    assert columns["BilledCost"]["NumberScale"] == 18
    assert columns["ChargePeriodStart"]["DataType"] == "DateTime"
    assert columns["x_StripeFeeType"] == {
        "ColumnName": "x_StripeFeeType",
        "DataType": "String",
        "StringEncoding": "UTF-8",
        "x_Custom": True,
        "x_PhysicalType": "string",
    }


def test_csv_values_are_focus_text(tmp_path):
    row = stripe_row("k1", cost="1.50", Tags={"team": "a,b"})
    run_target(config(tmp_path, format="csv"), focus_messages([row]))

    text = (tmp_path / PARTITION / "part-0.csv").read_text()
    header, line = text.splitlines()
    values = dict(zip(header.split(","), next(iter([_csv_split(line)])), strict=True))
    assert values["BilledCost"] == "1.50"  # the scale as sent
    assert values["PricingQuantity"] == "1.0"  # integral decimals keep a fraction (see README)
    assert values["ChargePeriodStart"] == "2025-01-05T00:00:00Z"
    assert values["Tags"] == '{"team":"a,b"}'
    assert values["InvoiceId"] == ""  # null is an empty field


def _csv_split(line: str) -> list[str]:
    import csv

    return next(csv.reader([line]))


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_output_passes_the_focus_validator(tmp_path, version, file_format):
    if not FOCUS_VALIDATE.exists():
        pytest.skip(f"{FOCUS_VALIDATE} is not available")
    rows = [
        stripe_row("k1", version=version),
        stripe_row("k2", cost="0.000000000000000001", day=9, version=version),
        stripe_row("k3", cost="-1.45", day=2, version=version),
    ]
    run_target(
        config(tmp_path, format=file_format, focus_version=version), focus_messages(rows, version)
    )
    (path,) = data_files(tmp_path)
    rules = version
    if (
        version == "1.3"
        and not (
            FOCUS_VALIDATE.parent.parent / "focus" / "validator-rules" / "model-1.3.json"
        ).exists()
    ):
        rules = "1.2"  # no 1.3 rule model offline: the 1.3 file is checked against 1.2 rules
    result = subprocess.run(
        [str(FOCUS_VALIDATE), "--version", rules, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert ", 0 failed" in result.stdout or "1 failed" in result.stdout  # see focus-validate.md
    assert "FAIL " not in result.stdout


# --- exact decimals ----------------------------------------------------------------------

EXACT = ["0.1", "1E-18", "-1.45", "12345678901234567890", "0.12345678901234567", "100"]


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_decimals_round_trip_exactly(tmp_path, file_format):
    rows = [stripe_row(f"k{i}", cost=value, day=i + 1) for i, value in enumerate(EXACT)]
    run_target(config(tmp_path, format=file_format), focus_messages(rows))

    by_key = {row["x_RowKey"]: row for row in table_rows(data_files(tmp_path)[0])}
    for i, value in enumerate(EXACT):
        stored = by_key[f"k{i}"]["BilledCost"]
        assert Decimal(stored) == Decimal(value), (value, stored)
        if file_format == "csv":
            expected = get_spec().format_decimal(Decimal(value))
            assert stored in (expected, expected + ".0")


@pytest.mark.parametrize(
    "value", ["0.1234567890123456789", "123456789012345678901", "-0.0000000000000000001"]
)
def test_decimal_that_does_not_fit_fails_naming_the_column(tmp_path, value):
    row = stripe_row("k1", cost="1", BilledCost=Decimal(value), EffectiveCost=Decimal(value))
    with pytest.raises(InvalidRowError, match=r"BilledCost \[decimal-precision\]"):
        run_target(config(tmp_path), focus_messages([row]))
    assert not (tmp_path / "data").exists()


# --- invalid rows ------------------------------------------------------------------------


def test_invalid_row_stops_with_one_line_and_exit_2(tmp_path):
    good = [stripe_row("k1"), stripe_row("k2", day=6)]
    bad = stripe_row("k3", ChargeCategory="Usagee", x_SourceRecordId="txn_bad")
    lines = singer_lines([*focus_messages([*good, bad]), state_message({"n": 3})])
    (tmp_path / "config.json").write_text(json.dumps(config(tmp_path / "out")))

    result = subprocess.run(
        [sys.executable, "-m", "target_focus.target", "--config", str(tmp_path / "config.json")],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if "invalid FOCUS row" in line]
    assert errors == [result.stderr.splitlines()[-1]]
    assert errors[0].startswith("target-focus: invalid FOCUS row: stream focus_cost_and_usage, ")
    assert "x_SourceRecordId txn_bad" in errors[0]
    assert "ChargeCategory [allowed-values]" in errors[0]
    assert result.stdout == ""  # no STATE: nothing was committed
    assert not (tmp_path / "out" / "data").exists()
    (audit,) = audit_records(tmp_path / "out")
    assert audit["status"] == "failed"
    assert "ChargeCategory [allowed-values]" in audit["error"]
    assert audit["rows"]["in"] == 3
    assert audit["rows"]["written"] == 0
    assert audit["rows"]["rejected"] == 1
    assert audit["rows"]["pending"] == 2


def test_bad_output_path_is_a_config_error_exit_2(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"output_path": "gs://bucket/x"}))
    result = subprocess.run(
        [sys.executable, "-m", "target_focus.target", "--config", str(tmp_path / "config.json")],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "target-focus: invalid config: output_path scheme gs://"
    )


def test_quarantine_keeps_invalid_rows_with_reasons_and_counts(tmp_path):
    rows = [
        stripe_row("k1"),
        stripe_row("k2", BillingCurrency="usd"),
        stripe_row("k3", day=7),
        stripe_row("k4", BilledCost=None, x_SourceRecordId="txn_null"),
        stripe_row("k5", day=8),
    ]
    mapper_quarantine = [
        {
            "type": "SCHEMA",
            "stream": "focus_quarantine",
            "schema": {"type": "object", "properties": {"x_RowKey": {"type": ["string"]}}},
            "key_properties": ["x_RowKey"],
        },
        record_message(
            {
                "x_RowKey": "q1",
                "x_SourceStream": "balance_transactions",
                "x_SourceRecordId": "txn_odd",
                "column": "fee_details[0].type",
                "reason": "unknown Stripe fee type 'mystery'",
                "record": '{"id": "txn_odd", "amount": 0.10}',
            },
            stream="focus_quarantine",
        ),
    ]
    run_target(
        config(tmp_path, on_invalid="quarantine"), [*focus_messages(rows), *mapper_quarantine]
    )

    assert sorted(keys(data_files(tmp_path)[0])) == ["k1", "k3", "k5"]
    (audit,) = audit_records(tmp_path)
    quarantine = tmp_path / "quarantine" / f"{audit['run_id']}.jsonl"
    assert audit["quarantine_file"] == f"quarantine/{audit['run_id']}.jsonl"
    entries = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert [e["x_RowKey"] for e in entries] == ["k2", "k4", "q1"]
    assert entries[0]["reasons"][0]["column"] == "BillingCurrency"
    assert entries[0]["reasons"][0]["rule"] == "currency-format"
    assert entries[0]["record"]["BilledCost"] == 0.59  # the whole row, numbers as JSON numbers
    assert '"BilledCost":0.59' in quarantine.read_text().splitlines()[0]
    assert entries[1]["x_SourceRecordId"] == "txn_null"
    assert {r["rule"] for r in entries[1]["reasons"]} == {"not-null"}
    assert entries[2]["stage"] == "mapper-focus"
    assert entries[2]["record"] == {"id": "txn_odd", "amount": 0.10}
    assert entries[2]["reasons"][0]["message"] == "unknown Stripe fee type 'mystery'"
    rows_count = audit["rows"]
    assert rows_count["in"] == 5
    assert rows_count["written"] == 3
    assert rows_count["quarantined"] == 2
    assert rows_count["mapper_quarantined"] == 1
    assert rows_count["in"] == rows_count["written"] + rows_count["quarantined"]


def test_undeclared_and_untyped_custom_columns_are_invalid(tmp_path):
    rows = [stripe_row("k1", x_Surprise="boo"), stripe_row("k2", x_RowKey=None)]
    run_target(config(tmp_path, on_invalid="quarantine"), focus_messages(rows))
    (audit,) = audit_records(tmp_path)
    entries = [
        json.loads(line) for line in (tmp_path / audit["quarantine_file"]).read_text().splitlines()
    ]
    assert [r["rule"] for e in entries for r in e["reasons"]] == ["undeclared-column", "row-key"]
    assert not (tmp_path / "data").exists()


# --- merge, restatement, idempotency -----------------------------------------------------


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_same_input_twice_gives_identical_files(tmp_path, file_format):
    rows = [stripe_row(f"k{i}", cost=f"0.{i}1", day=(i % 20) + 1) for i in range(30)]
    messages = focus_messages(rows)

    run_target(config(tmp_path, format=file_format), messages)
    (path,) = data_files(tmp_path)
    first_bytes, first_rows = path.read_bytes(), table_rows(path)
    run_target(config(tmp_path, format=file_format), messages)

    assert data_files(tmp_path) == [path]
    assert path.read_bytes() == first_bytes
    assert table_rows(path) == first_rows
    assert len(set(keys(path))) == len(keys(path)) == 30
    second = audit_records(tmp_path)[-1]
    assert second["partitions"][0]["action"] == "replaced"
    assert second["partitions"][0]["rows_before"] == 30
    assert second["partitions"][0]["rows_after"] == 30
    assert second["partitions"][0]["rows_replaced"] == 30


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_row_order_does_not_depend_on_input_order(tmp_path, file_format):
    rows = [stripe_row(f"k{i:02d}", day=(7 * i) % 28 + 1) for i in range(20)]
    run_target(config(tmp_path / "a", format=file_format), focus_messages(rows))
    run_target(config(tmp_path / "b", format=file_format), focus_messages(rows[::-1]))

    (a,) = data_files(tmp_path / "a")
    (b,) = data_files(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    ordered = table_rows(a)
    sort_keys = [(str(r["ChargePeriodStart"]), r["x_RowKey"]) for r in ordered]
    assert sort_keys == sorted(sort_keys)


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
def test_restated_rows_replace_their_old_versions(tmp_path, file_format):
    settings = config(tmp_path, format=file_format)
    run_target(settings, focus_messages([stripe_row("k1"), stripe_row("k2", day=6)]))
    restated = stripe_row("k1", cost="0.60")
    run_target(settings, focus_messages([restated, stripe_row("k3", day=7)]))

    (path,) = data_files(tmp_path)
    by_key = {row["x_RowKey"]: row for row in table_rows(path)}
    assert sorted(by_key) == ["k1", "k2", "k3"]
    assert Decimal(by_key["k1"]["BilledCost"]) == Decimal("0.60")
    partition = audit_records(tmp_path)[-1]["partitions"][0]
    assert (partition["rows_before"], partition["rows_after"]) == (2, 3)
    assert (partition["rows_written"], partition["rows_replaced"]) == (2, 1)


def test_last_occurrence_of_a_key_in_a_run_wins(tmp_path):
    rows = [stripe_row("k1", cost="1"), stripe_row("k2"), stripe_row("k1", cost="2")]
    run_target(config(tmp_path), focus_messages(rows))

    by_key = {row["x_RowKey"]: row for row in parquet_rows(data_files(tmp_path)[0])}
    assert len(by_key) == 2
    assert by_key["k1"]["BilledCost"] == Decimal(2)
    (audit,) = audit_records(tmp_path)
    assert audit["rows"] == {
        "in": 3,
        "written": 2,
        "quarantined": 0,
        "superseded_in_run": 1,
        "rejected": 0,
        "pending": 0,
        "mapper_quarantined": 0,
    }


def test_partitions_by_provider_account_and_month_are_written_separately(tmp_path):
    rows = [
        stripe_row("s-jan"),
        stripe_row("s-feb", month=2),
        stripe_row("s-other", account="acct/2 x"),
        stripe_row("o-jan", provider="OpenAI", ServiceName="OpenAI API"),
    ]
    run_target(config(tmp_path), focus_messages(rows))

    found = {
        p.parent.relative_to(tmp_path / "data").as_posix(): keys(p) for p in data_files(tmp_path)
    }
    assert found == {
        "provider=openai/billing_account_id=acct_1Test/billing_period=2025-01": ["o-jan"],
        "provider=stripe/billing_account_id=acct%2F2%20x/billing_period=2025-01": ["s-other"],
        "provider=stripe/billing_account_id=acct_1Test/billing_period=2025-01": ["s-jan"],
        "provider=stripe/billing_account_id=acct_1Test/billing_period=2025-02": ["s-feb"],
    }
    untouched = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in data_files(tmp_path)}

    run_target(config(tmp_path), focus_messages([stripe_row("s-feb-2", month=2, day=9)]))

    feb = (
        tmp_path
        / "data/provider=stripe/billing_account_id=acct_1Test/billing_period=2025-02/part-0.parquet"
    )
    assert keys(feb) == ["s-feb", "s-feb-2"]
    for path, before in untouched.items():
        if path != feb:
            assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    audit = audit_records(tmp_path)[-1]
    assert [p["billing_period"] for p in audit["partitions"]] == ["2025-02"]


def test_focus_1_2_partitions_by_provider_name(tmp_path):
    rows = [stripe_row("k1", version="1.2", provider="Amazon Web Services")]
    run_target(config(tmp_path, focus_version="1.2"), focus_messages(rows, "1.2"))
    (path,) = data_files(tmp_path)
    assert "provider=amazon-web-services/" in path.as_posix()
    assert "ServiceProviderName" not in pq.read_schema(path).names


# --- commit, state and crash safety ------------------------------------------------------


def test_row_resent_after_a_schema_change_wins(tmp_path):
    first_schema = schema_message()
    del first_schema["schema"]["properties"]["x_StripeFeeType"]
    first = stripe_row("k1", cost="1")
    del first["x_StripeFeeType"]
    messages = [
        first_schema,
        record_message(first),
        schema_message(),  # the mapper added a custom column: the SDK starts a new sink
        record_message(stripe_row("k1", cost="2")),
        record_message(stripe_row("k2")),
    ]
    run_target(config(tmp_path, batch_size_rows=2), messages)

    by_key = {row["x_RowKey"]: row for row in parquet_rows(data_files(tmp_path)[0])}
    assert by_key["k1"]["BilledCost"] == Decimal(2)
    assert by_key["k1"]["x_StripeFeeType"] == "stripe_fee"


def test_sdk_json_schema_validation_is_off(tmp_path):
    # x_StripeFeeType is declared a string; the SDK's validator would reject 5. FOCUS
    # rules do not cover custom columns, and a custom text column stores 5 as "5".
    run_target(config(tmp_path), focus_messages([stripe_row("k1", x_StripeFeeType=5)]))
    assert parquet_rows(data_files(tmp_path)[0])[0]["x_StripeFeeType"] == "5"


def test_state_is_emitted_only_after_its_rows_are_committed(tmp_path, monkeypatch):
    seen = []

    def spy(self, state):
        (path,) = data_files(tmp_path)
        seen.append((state, sorted(keys(path))))

    monkeypatch.setattr(TargetFocus, "_write_state_message", spy)
    messages = [
        schema_message(),
        record_message(stripe_row("k1")),
        record_message(stripe_row("k2")),
        state_message({"n": 2}),
        record_message(stripe_row("k3")),
        state_message({"n": 3}),
    ]
    run_target(config(tmp_path, batch_size_rows=2), messages)

    assert seen == [({"n": 3}, ["k1", "k2", "k3"])]
    (audit,) = audit_records(tmp_path)
    assert audit["partitions"][0]["commits"] == 2  # full at 2 rows, then the end


def test_failed_commit_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    run_target(config(tmp_path), focus_messages([stripe_row("k1"), stripe_row("k2")]))
    (path,) = data_files(tmp_path)
    before = path.read_bytes()
    written = []

    real_replace = storage_module.os.replace

    def failing_replace(source, destination):
        if not str(destination).endswith("part-0.parquet"):
            return real_replace(source, destination)
        written.append(Path(source).stat().st_size)  # the new file was complete
        raise OSError("disk went away")

    monkeypatch.setattr(storage_module.os, "replace", failing_replace)
    with pytest.raises(TransientError, match=r"cannot write .*part-0\.parquet: disk went away"):
        run_target(config(tmp_path), focus_messages([stripe_row("k1", cost="9"), stripe_row("k3")]))

    assert written
    assert written[0] > 0
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["part-0.parquet"]  # no temp left


def test_unreadable_existing_partition_is_never_replaced(tmp_path):
    run_target(config(tmp_path), focus_messages([stripe_row("k1")]))
    (path,) = data_files(tmp_path)
    path.write_bytes(b"not parquet")
    with pytest.raises(PermanentError, match="cannot read the existing partition"):
        run_target(config(tmp_path), focus_messages([stripe_row("k2")]))
    assert path.read_bytes() == b"not parquet"


def test_dataset_of_another_focus_version_is_refused(tmp_path):
    run_target(config(tmp_path), focus_messages([stripe_row("k1")]))
    with pytest.raises(ConfigError, match=r"dataset at .* is FOCUS 1\.3"):
        run_target(
            config(tmp_path, focus_version="1.2"),
            focus_messages([stripe_row("k1", version="1.2")], "1.2"),
        )


def test_schema_with_columns_of_another_version_is_refused(tmp_path):
    with pytest.raises(PermanentError, match=r"AllocatedMethodDetails, .* not FOCUS 1\.2 columns"):
        run_target(config(tmp_path, focus_version="1.2"), focus_messages([stripe_row("k1")]))


def test_focus_stream_name_without_focus_schema_is_refused(tmp_path):
    message = {
        "type": "SCHEMA",
        "stream": STREAM,
        "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
        "key_properties": ["id"],
    }
    with pytest.raises(PermanentError, match="is not a FOCUS stream"):
        run_target(config(tmp_path), [message])


# --- audit -------------------------------------------------------------------------------


def test_audit_record_of_a_run(tmp_path, caplog):
    other = [
        {
            "type": "SCHEMA",
            "stream": "balance_transactions",
            "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
            "key_properties": ["id"],
        },
        *[record_message({"id": f"txn_{i}"}, stream="balance_transactions") for i in range(3)],
    ]
    rows = [stripe_row("k1"), stripe_row("k2", month=2), stripe_row("k3", provider="OpenAI")]
    with caplog.at_level(logging.INFO):
        run_target(config(tmp_path), [*other, *focus_messages(rows)])

    (audit,) = audit_records(tmp_path)
    audit_file = next((tmp_path / "_audit").iterdir()).name
    assert audit_file.endswith(f"-{audit['run_id']}.json")
    assert audit_file[:15] == audit["started_at"].replace("-", "").replace(":", "")[:15]
    assert audit["status"] == "succeeded"
    assert audit["error"] is None
    assert audit["started_at"] <= audit["finished_at"]
    assert (audit["focus_version"], audit["format"], audit["on_invalid"]) == (
        "1.3",
        "parquet",
        "fail",
    )
    assert audit["providers"] == ["OpenAI", "Stripe"]
    assert audit["billing_periods"] == ["2025-01", "2025-02"]
    assert audit["rows"]["in"] == 3
    assert audit["rows"]["written"] == 3
    assert audit["ignored_streams"] == {"balance_transactions": 3}
    assert audit["focus_streams"] == {STREAM: 3}
    assert [
        (p["provider"], p["billing_period"], p["action"], p["rows_before"], p["rows_after"])
        for p in audit["partitions"]
    ] == [
        ("openai", "2025-01", "created", 0, 1),
        ("stripe", "2025-01", "created", 0, 1),
        ("stripe", "2025-02", "created", 0, 1),
    ]
    warnings = [r.getMessage() for r in caplog.records if "not a FOCUS stream" in r.getMessage()]
    assert len(warnings) == 1
    assert "'balance_transactions'" in warnings[0]
    summaries = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("target-focus run")
    ]
    assert len(summaries) == 1
    assert "3 FOCUS rows in, 3 written, 0 quarantined" in summaries[0]
    assert "ignored streams: balance_transactions=3" in summaries[0]
