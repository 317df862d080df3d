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
    assert not list((tmp_path / "_staging").rglob("*.*"))
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
    # Its rows wait as a staged part (never read as data).
    assert [p.suffix for p in (tmp_path / "_staging").rglob("part-*")] == [".parquet"]

    # The next run re-sends the whole delivery and completes it.
    run_target(settings, delivery_messages("exec-2", new))
    assert sorted(r["x_RowKey"] for r in parquet_rows(tmp_path / PARTITION)) == ["b", "c"]
    assert not list((tmp_path / "_staging").rglob("*.*"))


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


# --- scoped deliveries: one export of a provider replaces its own rows only --------------

SCOPED = {**CUSTOM, "x_DeliveryScope": {"type": ["string", "null"]}}
AZURE = "data/provider=azure/billing_account_id={account}/billing_period=2025-01/part-0.parquet"


def azure_row(key: str, delivery: str, scope: str | None, account: str = "8611", **columns):
    row = stripe_row(
        key,
        cost=columns.pop("cost", "1.00"),
        account=account,
        provider="Microsoft",
        ServiceName="Virtual Machines",
        **columns,
    )
    row.update({"x_SourceProvider": "azure", "x_DeliveryId": delivery, "x_DeliveryScope": scope})
    return row


def scoped_messages(
    delivery: str,
    scope: str,
    rows: list[dict],
    *,
    mode: str = "replace",
    accounts: tuple[str, ...] = ("8611",),
    period: str = "2025-01",
) -> list[dict]:
    schema = {
        "type": "SCHEMA",
        "stream": STREAM,
        "key_properties": ["x_RowKey"],
        "schema": get_spec("1.3").json_schema(custom_columns=SCOPED),
    }
    control = {
        **DELIVERY_SCHEMA,
        "schema": {
            **DELIVERY_SCHEMA["schema"],
            "properties": {
                **DELIVERY_SCHEMA["schema"]["properties"],
                "scope": {"type": ["string", "null"]},
                "mode": {"type": ["string", "null"]},
            },
        },
    }
    record = {
        "x_RowKey": f"d-{delivery}",
        "provider": "azure",
        "billing_period": period,
        "billing_account_ids": list(accounts),
        "delivery_id": delivery,
        "scope": scope,
        "mode": mode,
        "row_count": len(rows),
        "source": None,
    }
    return [
        schema,
        *(record_message(r) for r in rows),
        control,
        record_message(record, stream="focus_deliveries"),
        state_message({"delivery": delivery}),
    ]


def by_scope(path) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for row in parquet_rows(path):
        out.setdefault(row["x_DeliveryScope"], []).append(row["x_RowKey"])
    return {scope: sorted(keys) for scope, keys in out.items()}


def test_a_delivery_replaces_only_the_rows_of_its_own_scope(tmp_path):
    """Azure's actual and amortized Cost Details (or an ActualCost and a FocusCost export)
    of one account and month share a partition: each delivery replaces its own rows."""
    settings = {"output_path": str(tmp_path)}
    actual, amortized = "azure_actual:cost_details:/x", "azure_amortized:cost_details:/x"
    run_target(settings, scoped_messages("r1", actual, [azure_row("p1", "r1", actual)]))
    rows = [azure_row(f"u{i}", "r2", amortized) for i in range(3)]
    run_target(settings, scoped_messages("r2", amortized, rows))
    path = tmp_path / AZURE.format(account="8611")
    assert by_scope(path) == {actual: ["p1"], amortized: ["u0", "u1", "u2"]}

    # The amortized metric is re-read: its rows go, the actual one's stay.
    rows = [azure_row("u0", "r3", amortized, cost="2.00"), azure_row("u9", "r3", amortized)]
    run_target(settings, scoped_messages("r3", amortized, rows))
    assert by_scope(path) == {actual: ["p1"], amortized: ["u0", "u9"]}
    assert sum(r["BilledCost"] for r in parquet_rows(path)) == Decimal("4.00")
    assert {r["x_DeliveryId"] for r in parquet_rows(path)} == {"r1", "r3"}
    assert not list((tmp_path / "_staging").rglob("*.*"))
    (entry,) = audit_records(tmp_path)[-1]["deliveries_replaced"]
    assert (entry["scope"], entry["rows_before"], entry["rows_after"]) == (amortized, 4, 3)

    # A delivery of the scope without rows empties the scope, not the partition.
    run_target(settings, scoped_messages("r4", amortized, []))
    assert by_scope(path) == {actual: ["p1"]}


def test_a_delivery_finds_its_partitions_itself(tmp_path):
    """Rows staged under an account the record does not name are applied, and the scope's
    rows of the period go from every account of the provider, not only the named ones."""
    settings = {"output_path": str(tmp_path)}
    scope = "azure_focus:daily"
    first = [azure_row("a", "e1", scope, account="A"), azure_row("b", "e1", scope, account="B")]
    run_target(settings, scoped_messages("e1", scope, first, accounts=()))
    assert data_files(tmp_path) == sorted(
        tmp_path / AZURE.format(account=account) for account in ("A", "B")
    )
    # The next run of the export holds only account B's rows (and names no account).
    run_target(settings, scoped_messages("e2", scope, [azure_row("b", "e2", scope, account="B")],
                                         accounts=()))  # fmt: skip
    assert data_files(tmp_path) == [tmp_path / AZURE.format(account="B")]
    assert parquet_rows(tmp_path / AZURE.format(account="B"))[0]["x_DeliveryId"] == "e2"


def test_an_incomplete_delivery_is_merged_and_older_rows_without_scope_are_replaced(tmp_path):
    settings = {"output_path": str(tmp_path)}
    scope = "azure_amortized:cost_details:/x"
    path = tmp_path / AZURE.format(account="8611")
    # Rows written before scopes existed: a delivery id, no scope.
    run_target(settings, scoped_messages("old", scope, [azure_row("k1", "old", None),
                                                        azure_row("k2", "old", None)]))  # fmt: skip
    assert by_scope(path) == {None: ["k1", "k2"]}
    # A window that does not cover its month (mode merge): rows upserted, none removed.
    run_target(
        settings,
        scoped_messages("w1", scope, [azure_row("k2", "w1", scope, cost="5.00")], mode="merge"),
    )
    assert by_scope(path) == {None: ["k1"], scope: ["k2"]}
    entry = audit_records(tmp_path)[-1]["deliveries_replaced"][0]
    assert entry["mode"] == "merge"
    # A whole-month delivery of the scope replaces its rows and the unscoped delivered ones.
    run_target(settings, scoped_messages("m1", scope, [azure_row("k3", "m1", scope)]))
    assert by_scope(path) == {scope: ["k3"]}


def test_rows_filed_under_another_month_are_merged_into_it(tmp_path):
    """A delivery of January whose files hold a row billed in February (a late correction)
    adds it to February's partition, whose own delivery keeps its rows."""
    settings = {"output_path": str(tmp_path)}
    scope = "azure_actual:cost_details:/x"
    february = tmp_path / AZURE.format(account="8611").replace("2025-01", "2025-02")
    feb_rows = [azure_row("f1", "feb", scope, month=2), azure_row("f2", "feb", scope, month=2)]
    run_target(settings, scoped_messages("feb", scope, feb_rows, period="2025-02"))
    jan_rows = [azure_row("j1", "jan", scope), azure_row("late", "jan", scope, month=2)]
    run_target(settings, scoped_messages("jan", scope, jan_rows))
    assert by_scope(february) == {scope: ["f1", "f2", "late"]}
    assert by_scope(tmp_path / AZURE.format(account="8611")) == {scope: ["j1"]}
    assert not list((tmp_path / "_staging").rglob("*.*"))
