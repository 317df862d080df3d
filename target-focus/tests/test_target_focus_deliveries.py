"""Re-delivered billing periods: the new delivery replaces the period as a whole.

Rows of file-based sources carry x_DeliveryId; they are staged until mapper-focus sends a
`focus_deliveries` record saying the delivery is complete, and only then replace the
period's partition, in one atomic step. Older deliveries' rows go, nothing is doubled, and
a delivery that never completes leaves the previous data in place.
"""

from __future__ import annotations

from decimal import Decimal

from focus_spec import get_spec
from target_focus.target import TargetFocus
from target_focus_testdata import (
    STREAM,
    audit_records,
    data_files,
    focus_messages,
    parquet_rows,
    record_message,
    run_target,
    state_message,
    stripe_row,
)

CUSTOM = {
    "x_SourceProvider": {"type": ["string"]},
    "x_SourceStream": {"type": ["string"]},
    "x_SourceRecordId": {"type": ["string"]},
    "x_RowKey": {"type": ["string"]},
    "x_DeliveryId": {"type": ["string", "null"]},
    "x_StripeFeeType": {"type": ["string", "null"]},  # set by the shared test row
}
DELIVERY_SCHEMA = {
    "type": "SCHEMA",
    "stream": "focus_deliveries",
    "key_properties": ["x_RowKey"],
    "schema": {
        "type": "object",
        "properties": {
            "x_RowKey": {"type": ["string"]},
            "provider": {"type": ["string"]},
            "billing_period": {"type": ["string"]},
            "billing_account_ids": {"type": ["array"], "items": {"type": "string"}},
            "delivery_id": {"type": ["string"]},
            "row_count": {"type": ["integer", "null"]},
            "source": {"type": ["string", "null"]},
        },
    },
}
PARTITION = (
    "data/provider=aws/billing_account_id=111111111111/billing_period=2025-01/part-0.parquet"
)


def aws_row(key: str, delivery: str, cost: str = "1.00", **columns) -> dict:
    row = stripe_row(
        key,
        cost=cost,
        account="111111111111",
        provider="Amazon Web Services",
        ServiceName="Amazon EC2",
        **columns,
    )
    row.update({"x_SourceProvider": "aws", "x_DeliveryId": delivery})
    return row


def delivery_messages(delivery: str, rows: list[dict], *, complete: bool = True) -> list[dict]:
    schema = {
        "type": "SCHEMA",
        "stream": STREAM,
        "key_properties": ["x_RowKey"],
        "schema": get_spec("1.3").json_schema(custom_columns=CUSTOM),
    }
    messages = [schema, *(record_message(r) for r in rows)]
    if complete:
        messages += [
            DELIVERY_SCHEMA,
            record_message(
                {
                    "x_RowKey": f"d-{delivery}",
                    "provider": "aws",
                    "billing_period": "2025-01",
                    "billing_account_ids": ["111111111111"],
                    "delivery_id": delivery,
                    "row_count": len(rows),
                    "source": None,
                },
                stream="focus_deliveries",
            ),
        ]
    return [*messages, state_message({"delivery": delivery})]


def test_a_new_delivery_replaces_the_period_as_a_whole(tmp_path):
    settings = {"output_path": str(tmp_path)}
    first = [aws_row(f"r{i}", "exec-1", cost="1.00") for i in range(5)]
    run_target(settings, delivery_messages("exec-1", first))
    assert sorted(r["x_RowKey"] for r in parquet_rows(tmp_path / PARTITION)) == [
        "r0",
        "r1",
        "r2",
        "r3",
        "r4",
    ]

    # AWS rewrote the month: fewer rows, new amounts, one new line; keys partly changed.
    second = [aws_row("r0", "exec-2", cost="2.50"), aws_row("n9", "exec-2", cost="0.10")]
    run_target(settings, delivery_messages("exec-2", second))
    rows = parquet_rows(tmp_path / PARTITION)
    assert sorted(r["x_RowKey"] for r in rows) == ["n9", "r0"]
    assert {r["x_DeliveryId"] for r in rows} == {"exec-2"}
    assert sum(r["BilledCost"] for r in rows) == Decimal("2.60")
    assert data_files(tmp_path) == [tmp_path / PARTITION]
    assert not list((tmp_path / "_staging").rglob("*.parquet"))
    audit = audit_records(tmp_path)[-1]
    assert audit["deliveries_replaced"] == [
        {
            "path": PARTITION,
            "provider": "aws",
            "billing_account_id": "111111111111",
            "billing_period": "2025-01",
            "delivery_id": "exec-2",
            "rows_before": 5,
            "rows_after": 2,
        }
    ]
    assert audit["deliveries_pending"] == []

    # The same delivery again changes nothing.
    before = (tmp_path / PARTITION).read_bytes()
    run_target(settings, delivery_messages("exec-2", second))
    assert (tmp_path / PARTITION).read_bytes() == before


def test_an_incomplete_delivery_leaves_the_previous_data_until_it_completes(tmp_path):
    settings = {"output_path": str(tmp_path)}
    run_target(settings, delivery_messages("exec-1", [aws_row("a", "exec-1")]))
    before = (tmp_path / PARTITION).read_bytes()

    # The run stops before the delivery record (a crash, or the input ends early).
    new = [aws_row("b", "exec-2"), aws_row("c", "exec-2")]
    run_target(settings, delivery_messages("exec-2", new[:1], complete=False))
    assert (tmp_path / PARTITION).read_bytes() == before  # never half-replaced
    assert audit_records(tmp_path)[-1]["deliveries_pending"]

    # The next run re-sends the whole delivery and completes it.
    run_target(settings, delivery_messages("exec-2", new))
    assert sorted(r["x_RowKey"] for r in parquet_rows(tmp_path / PARTITION)) == ["b", "c"]
    assert not list((tmp_path / "_staging").rglob("*.parquet"))


def test_a_delivery_without_rows_for_an_account_empties_its_partition(tmp_path):
    settings = {"output_path": str(tmp_path)}
    run_target(settings, delivery_messages("exec-1", [aws_row("a", "exec-1")]))
    run_target(settings, delivery_messages("exec-2", []))
    assert data_files(tmp_path) == []


def test_state_follows_every_commit_not_only_the_end(tmp_path, monkeypatch):
    """A full batch commits every sink and then emits the STATE received before it, so a
    crashed run resumes from its last commit (here: after k4), not from its start."""
    emitted = []
    monkeypatch.setattr(
        TargetFocus, "_write_state_message", lambda self, state: emitted.append(state)
    )
    rows = [stripe_row(f"k{i}") for i in range(1, 6)]
    messages = [
        *focus_messages(rows[:2]),
        state_message({"after": 2}),
        record_message(rows[2]),
        record_message(rows[3]),  # batch of 2 full: commit, then {"after": 2}
        state_message({"after": 4}),
        record_message(rows[4]),
    ]
    run_target({"output_path": str(tmp_path), "batch_size_rows": 2}, messages)
    assert emitted == [{"after": 2}, {"after": 4}]
