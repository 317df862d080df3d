"""Commits stream their partitions: sorted inputs merged a chunk at a time, written in
fixed row groups. The file must not depend on how rows were cut into commits, chunks or
staged parts: same rows, same bytes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from target_focus import dataset, merging
from target_focus_testdata import (
    audit_records,
    data_files,
    focus_messages,
    parquet_rows,
    run_target,
)
from test_target_focus_deliveries import (
    AZURE,
    PARTITION,
    aws_row,
    azure_row,
    delivery_messages,
    scoped_messages,
)

START = datetime(2025, 1, 1, tzinfo=UTC)


def random_table(rows: int, seed: int) -> pa.Table:
    """Rows with few distinct ChargePeriodStart values (ties broken by key), unique keys."""
    rng = random.Random(seed)
    keys = rng.sample(range(10 * rows), rows)
    return pa.table(
        {
            "ChargePeriodStart": pa.array(
                [START + timedelta(days=rng.randrange(4)) for _ in keys], pa.timestamp("us", "UTC")
            ),
            "x_RowKey": [f"k{key:07d}" for key in keys],
            "n": list(range(rows)),
        }
    )


def chunked(table: pa.Table, rng: random.Random) -> list[pa.Table]:
    pieces, start = [], 0
    while start < table.num_rows:
        size = rng.randrange(0, 9)  # empty chunks too
        pieces.append(table.slice(start, size))
        start += size
    return pieces


@pytest.mark.parametrize("seed", range(6))
def test_merged_streams_come_out_as_one_full_sort(seed):
    rng = random.Random(seed)
    table = random_table(200, seed)
    streams = [[] for _ in range(rng.randrange(1, 6))]
    owner = [rng.randrange(len(streams)) for _ in range(table.num_rows)]
    for index, stream in enumerate(streams):
        rows = table.filter(pa.array([o == index for o in owner]))
        stream.extend(chunked(merging.sort_rows(rows), rng))

    merged = pa.concat_tables(merging.merge_sorted(streams, fill=rng.choice([0, 5, 50])))

    assert merged.equals(merging.sort_rows(table))


def test_row_groups_have_a_fixed_size_whatever_the_pieces():
    table = random_table(100, 1)
    groups = list(merging.row_groups(chunked(table, random.Random(2)), size=32))
    assert [g.num_rows for g in groups] == [32, 32, 32, 4]
    assert pa.concat_tables(groups).equals(table)


@pytest.fixture
def tiny_chunks(monkeypatch):
    """Row groups of 16 rows, reads of 4 rows per input, 3 files per merge: a small test
    partition is merged in many rounds, in interim groups, and written in many row groups,
    as a month of millions would be."""
    monkeypatch.setattr(merging, "MAX_MERGE_INPUTS", 3)
    monkeypatch.setattr(merging, "ROW_GROUP_ROWS", 16)
    monkeypatch.setattr(dataset, "ROW_GROUP_ROWS", 16)
    monkeypatch.setattr(merging, "READ_BUDGET_ROWS", 8)
    monkeypatch.setattr(merging, "_MIN_CHUNK_ROWS", 4)


def day(i: int) -> int:
    return 1 + i % 9


def delivery_rows(delivery: str, count: int, cost: str = "1.00") -> list[dict]:
    return [aws_row(f"r{i:03d}", delivery, cost=cost, day=day(i)) for i in range(count)]


def test_a_delivery_staged_in_many_parts_gives_the_file_of_one_commit(tmp_path, tiny_chunks):
    rows = delivery_rows("exec-1", 90)
    rows.append(
        aws_row("r005", "exec-1", cost="7.00", day=day(5))
    )  # re-sent later: the later one wins
    one, many = tmp_path / "one", tmp_path / "many"

    run_target({"output_path": str(one)}, delivery_messages("exec-1", rows))
    run_target({"output_path": str(many), "batch_size_rows": 7}, delivery_messages("exec-1", rows))

    assert (many / PARTITION).read_bytes() == (one / PARTITION).read_bytes()
    assert pq.ParquetFile(many / PARTITION).metadata.num_row_groups == 6  # 90 rows / 16
    written = parquet_rows(many / PARTITION)
    assert len(written) == 90
    assert next(r["BilledCost"] for r in written if r["x_RowKey"] == "r005") == 7
    assert [(r["ChargePeriodStart"], r["x_RowKey"]) for r in written] == sorted(
        (r["ChargePeriodStart"], r["x_RowKey"]) for r in written
    )
    assert not list((many / "_staging").rglob("*.*"))


def test_a_redelivery_merged_with_other_scopes_in_many_rounds(tmp_path, tiny_chunks):
    settings = {"output_path": str(tmp_path), "batch_size_rows": 5}
    partition = tmp_path / AZURE.format(account="8611")

    def rows(prefix: str, delivery: str, scope: str, count: int, cost: str = "1.00"):
        return [
            azure_row(
                f"{prefix}{i:03d}",
                delivery,
                scope,
                cost=cost,
                day=day(i),
            )
            for i in range(count)
        ]

    run_target(settings, scoped_messages("a-1", "actual", rows("r", "a-1", "actual", 40)))
    run_target(settings, scoped_messages("b-1", "amortized", rows("o", "b-1", "amortized", 30)))
    # A new delivery of the first scope: fewer rows, new amounts.
    second = rows("r", "a-2", "actual", 25, cost="2.00")
    run_target(settings, scoped_messages("a-2", "actual", second))

    written = parquet_rows(partition)
    assert sorted(r["x_RowKey"] for r in written) == sorted(
        [f"r{i:03d}" for i in range(25)] + [f"o{i:03d}" for i in range(30)]
    )
    assert {r["x_DeliveryId"] for r in written if r["x_DeliveryScope"] == "actual"} == {"a-2"}
    assert sum(r["BilledCost"] for r in written) == 25 * 2 + 30
    assert [(r["ChargePeriodStart"], r["x_RowKey"]) for r in written] == sorted(
        (r["ChargePeriodStart"], r["x_RowKey"]) for r in written
    )
    assert pq.ParquetFile(partition).metadata.num_row_groups == 4  # 55 rows / 16
    replaced = audit_records(tmp_path)[-1]["deliveries_replaced"]
    assert [(d["rows_before"], d["rows_after"]) for d in replaced] == [(70, 55)]


def test_commits_in_small_batches_give_the_file_of_one_commit(tmp_path, tiny_chunks):
    from target_focus_testdata import stripe_row

    rows = [stripe_row(f"t{i:03d}", day=1 + i % 20) for i in range(70)]
    restated = [stripe_row(f"t{i:03d}", cost="0.10", day=1 + i % 20) for i in range(0, 70, 9)]
    one, many = tmp_path / "one", tmp_path / "many"

    run_target({"output_path": str(one)}, focus_messages(rows + restated))
    run_target({"output_path": str(many), "batch_size_rows": 6}, focus_messages(rows))
    run_target({"output_path": str(many), "batch_size_rows": 3}, focus_messages(restated))

    (expected,) = data_files(one)
    (found,) = data_files(many)
    assert found.read_bytes() == expected.read_bytes()
    last = audit_records(many)[-1]["partitions"][0]
    assert (last["rows_before"], last["rows_after"], last["rows_replaced"]) == (70, 70, 8)


def test_a_csv_delivery_staged_in_many_parts_gives_the_file_of_one_commit(tmp_path, tiny_chunks):
    rows = delivery_rows("exec-1", 60)
    rows.append(aws_row("r007", "exec-1", cost="3.00", day=day(7)))
    one, many = tmp_path / "one", tmp_path / "many"
    csv_partition = PARTITION.replace(".parquet", ".csv")

    run_target({"output_path": str(one), "format": "csv"}, delivery_messages("exec-1", rows))
    run_target(
        {"output_path": str(many), "format": "csv", "batch_size_rows": 6},
        delivery_messages("exec-1", rows),
    )

    text = (many / csv_partition).read_text()
    assert text == (one / csv_partition).read_text()
    assert len(text.splitlines()) == 61  # header and 60 rows: r007 once, at 3.00
    assert not [p for p in (many / "_staging").rglob("*") if p.is_file()]
