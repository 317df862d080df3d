"""mapper-focus as users run it: Singer messages on stdin, messages on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from focus_spec import get_spec

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
BT_SCHEMA = json.loads(
    (
        Path(__file__).parents[3]
        / "taps/tap-stripe/src/tap_stripe/schemas/balance_transactions.json"
    ).read_text()
)
MAPPER = [sys.executable, "-m", "mapper_focus.mapper"]


def fixture_record(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["input"]


def messages(*records: dict, extra: list[dict] | None = None) -> list[dict]:
    out: list[dict] = [
        {
            "type": "SCHEMA",
            "stream": "balance_transactions",
            "schema": BT_SCHEMA,
            "key_properties": ["id"],
        },
    ]
    for index, record in enumerate(records):
        out.append({"type": "RECORD", "stream": "balance_transactions", "record": record})
        out.append({"type": "STATE", "value": {"position": index}})
    return out + (extra or [])


def run_mapper(
    msgs: list[dict], config: dict | None, tmp_path: Path
) -> tuple[int, list[dict], str]:
    command = list(MAPPER)
    if config is not None:
        path = tmp_path / "mapper.json"
        path.write_text(json.dumps(config))
        command += ["--config", str(path)]
    result = subprocess.run(
        command,
        input="\n".join(json.dumps(m) for m in msgs) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines() if line]
    return result.returncode, out, result.stderr


def records(out: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in out if m["type"] == "RECORD" and m["stream"] == stream]


def test_fees_become_focus_rows_and_state_follows_them(tmp_path):
    code, out, _ = run_mapper(
        messages(fixture_record("processing_fee_and_tax"), fixture_record("no_fee_no_row")),
        None,
        tmp_path,
    )
    assert code == 0
    kinds = [(m["type"], m.get("stream")) for m in out]
    focus = ("RECORD", "focus_cost_and_usage")
    # The FOCUS schema first, then two rows, then the state that covers them.
    assert kinds[0] == ("SCHEMA", "focus_cost_and_usage")
    assert kinds[1:4] == [focus, focus, ("STATE", None)]
    assert kinds[4:] == [("STATE", None)]
    schema = out[0]
    assert schema["key_properties"] == ["x_RowKey"]
    rows = records(out, "focus_cost_and_usage")
    assert [r["BilledCost"] for r in rows] == [Decimal("2.90"), Decimal("0.59")]
    spec = get_spec("1.3")
    assert all(spec.validate_row(r) == [] for r in rows)
    assert not records(out, "balance_transactions")  # raw stays out unless emit_raw


def test_emit_raw_passes_raw_stream_through_unchanged(tmp_path):
    raw = fixture_record("dispute_fee")
    code, out, _ = run_mapper(messages(raw), {"emit_raw": True}, tmp_path)
    assert code == 0
    assert records(out, "balance_transactions") == [
        json.loads(json.dumps(raw), parse_float=Decimal)
    ]
    assert len(records(out, "focus_cost_and_usage")) == 1


@pytest.mark.parametrize(("setting", "passed"), [("drop", 0), ("passthrough", 1)])
def test_unmapped_streams_are_dropped_or_passed_as_configured(tmp_path, setting, passed):
    extra = [
        {
            "type": "SCHEMA",
            "stream": "charges",
            "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "charges", "record": {"id": "ch_1"}},
    ]
    code, out, err = run_mapper(messages(extra=extra), {"unmapped_streams": setting}, tmp_path)
    assert code == 0
    assert len(records(out, "charges")) == passed
    assert f"charges: 1 records in, 0 mapped to 0 FOCUS rows, 0 quarantined, {passed} passed" in err


def test_unmappable_record_fails_with_one_line_naming_stream_record_and_column(tmp_path):
    bad = {**fixture_record("processing_fee_and_tax"), "id": "txn_broken"}
    bad["fee_details"] = [{"amount": 5, "currency": "usd", "type": "mystery_fee"}]
    code, out, err = run_mapper(messages(fixture_record("dispute_fee"), bad), None, tmp_path)
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith("mapper-focus: cannot map to FOCUS: stream balance_transactions")
    assert "record txn_broken" in last
    assert "fee_details[0].type" in last
    assert "Traceback" not in err
    # What was mapped before the bad record was emitted; no state past it.
    assert len(records(out, "focus_cost_and_usage")) == 1
    assert [m["value"] for m in out if m["type"] == "STATE"] == [{"position": 0}]


def test_quarantine_counts_in_equal_out_plus_quarantined(tmp_path):
    good = [
        fixture_record(n) for n in ("processing_fee_and_tax", "dispute_fee", "jpy_zero_decimal")
    ]
    bad = {
        **good[0],
        "id": "txn_bad",
        "fee_details": [{"amount": 1, "currency": "??", "type": "tax"}],
    }
    code, out, err = run_mapper(messages(*good, bad), {"on_invalid": "quarantine"}, tmp_path)
    assert code == 0
    quarantined = records(out, "focus_quarantine")
    assert len(quarantined) == 1
    assert quarantined[0]["x_SourceRecordId"] == "txn_bad"
    assert quarantined[0]["column"] == "fee_details[0].currency"
    assert json.loads(quarantined[0]["record"])["id"] == "txn_bad"
    assert "4 records in, 3 mapped to 4 FOCUS rows, 1 quarantined" in err


def test_focus_1_2_rows_have_no_1_3_columns(tmp_path):
    code, out, _ = run_mapper(
        messages(fixture_record("radar_fee")), {"focus_version": "1.2"}, tmp_path
    )
    assert code == 0
    (row,) = records(out, "focus_cost_and_usage")
    assert "ServiceProviderName" not in row
    assert "HostProviderName" not in row
    assert row["ProviderName"] == "Stripe"
    assert get_spec("1.2").validate_row(row) == []


def test_declarative_mapping_for_a_vendor_invoice_csv(tmp_path):
    config = {
        "mappings": [
            {
                "stream": "vendor_invoices",
                "provider": "Acme",
                "record_id": 'record["invoice_no"]',
                "columns": {
                    "BilledCost": 'decimal(record["amount"])',
                    "EffectiveCost": 'decimal(record["amount"])',
                    "ListCost": 'decimal(record["amount"])',
                    "ContractedCost": 'decimal(record["amount"])',
                    "BillingCurrency": 'upper(record["currency"])',
                    "BillingAccountId": '"acme-123"',
                    "BillingAccountType": '"Customer"',
                    "BillingPeriodStart": 'month_start(record["date"])',
                    "BillingPeriodEnd": 'month_end(record["date"])',
                    "ChargePeriodStart": 'day_start(record["date"])',
                    "ChargePeriodEnd": 'day_end(record["date"])',
                    "ChargeCategory": '"Purchase"',
                    "ChargeDescription": 'record["line"]',
                    "ChargeFrequency": '"Recurring"',
                    "PricingQuantity": "decimal(1)",
                    "PricingUnit": '"Licenses"',
                    "ServiceName": '"Acme Suite"',
                    "ServiceCategory": '"Business Applications"',
                    "ServiceSubcategory": '"Productivity and Collaboration"',
                    "ServiceProviderName": '"Acme"',
                    "HostProviderName": '"Acme"',
                    "InvoiceIssuerName": '"Acme"',
                    "ProviderName": '"Acme"',
                    "PublisherName": '"Acme"',
                    "x_AcmeLine": 'record["line"]',
                },
            }
        ]
    }
    msgs = [
        {
            "type": "SCHEMA",
            "stream": "vendor_invoices",
            "schema": {
                "type": "object",
                "properties": {
                    k: {"type": ["string"]}
                    for k in ("invoice_no", "amount", "currency", "date", "line")
                },
            },
            "key_properties": ["invoice_no"],
        },
        {
            "type": "RECORD",
            "stream": "vendor_invoices",
            "record": {
                "invoice_no": "INV-7",
                "amount": "1234.5600",
                "currency": "eur",
                "date": "2026-03-15",
                "line": "Seats",
            },
        },
    ]
    code, out, err = run_mapper(msgs, config, tmp_path)
    assert code == 0, err
    (row,) = records(out, "focus_cost_and_usage")
    assert row["BilledCost"] == Decimal("1234.5600")
    assert str(row["BilledCost"]) == "1234.5600"
    assert row["BillingPeriodStart"] == "2026-03-01T00:00:00Z"
    assert row["BillingPeriodEnd"] == "2026-04-01T00:00:00Z"
    assert row["x_SourceRecordId"] == "INV-7"
    assert row["x_AcmeLine"] == "Seats"
    assert get_spec("1.3").validate_row(row) == []


def test_bad_expression_in_config_is_one_line_exit_2(tmp_path):
    config = {"mappings": [{"stream": "s", "columns": {"BilledCost": "decimal(("}}]}
    code, _, err = run_mapper(messages(), config, tmp_path)
    assert code == 2
    assert err.strip().splitlines()[-1].startswith("mapper-focus: invalid config: mappings:")


def test_unknown_focus_version_is_rejected(tmp_path):
    code, _, err = run_mapper(messages(), {"focus_version": "0.9"}, tmp_path)
    assert code == 2
    assert "focus_version" in err.strip().splitlines()[-1]
