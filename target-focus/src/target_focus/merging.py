"""Partition files as sorted streams: read in chunks, merged, written in fixed row groups.

Every partition file, and every staged part of a delivery, is sorted by
(ChargePeriodStart, x_RowKey) with unique keys. A commit never holds a partition in
memory: it reads each input a few thousand rows at a time, drops the rows a newer input
replaces (known from the newer input's x_RowKey column, read alone), merges the sorted
streams and writes row groups of ``ROW_GROUP_ROWS`` rows. Memory is the read buffers,
one row group and the keys, whatever the size of the month.

Row groups are cut at fixed row counts and Parquet dictionaries are chosen from the first
row group's content, so the same rows always give the same bytes, however they arrived.
"""

from __future__ import annotations

import csv
import typing as t

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from finfocus_common.errors import PermanentError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
    from pathlib import Path

ROW_KEY = "x_RowKey"
SORT_COLUMNS = ("ChargePeriodStart", ROW_KEY)
ROW_GROUP_ROWS = 32_768
#: Rows held in the read buffers of all inputs of a merge together.
READ_BUDGET_ROWS = 16_384
_MIN_CHUNK_ROWS = 2_048
#: Files read at once by one merge (an open Parquet reader holds several MB of buffers).
MAX_MERGE_INPUTS = 16

Chunks = t.Iterator[pa.Table]


def plain_type(arrow_type: pa.DataType) -> pa.DataType:
    return arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns: cast (dictionaries decoded), missing
    ones null."""
    names = table.column_names
    arrays = []
    for field in schema:
        if field.name not in names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        arrays.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def sort_rows(table: pa.Table) -> pa.Table:
    """Rows in (ChargePeriodStart, x_RowKey) order, reordered one column at a time: the
    table is held once, plus the column being reordered."""
    keys = pa.table({name: _plain(table.column(name)) for name in SORT_COLUMNS})
    order = pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in SORT_COLUMNS])
    del keys
    columns = list(table.columns)
    schema = table.schema
    del table
    for index, column in enumerate(columns):
        whole = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        columns[index] = pa.chunked_array([whole.take(order)], type=whole.type)
        del whole
    return pa.Table.from_arrays(columns, schema=schema)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


# --- reading ---------------------------------------------------------------------------


class UnreadableFileError(PermanentError):
    """An existing file that cannot be read; it is never replaced."""


def file_schema(path: Path, file_format: str, where: str) -> pa.Schema:
    """The columns of a partition file (its footer or CSV header), checked readable."""
    try:
        if file_format == "parquet":
            return pq.read_schema(path)
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), [])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFileError(f"cannot read {where} ({exc}); refusing to replace it") from None
    return pa.schema([pa.field(name, pa.string()) for name in header])


def file_chunks(
    path: Path, file_format: str, where: str, *, rows: int, columns: Sequence[str] | None = None
) -> Chunks:
    """The file's rows, ``rows`` at a time (CSV: about that many; every column text)."""
    try:
        if file_format == "parquet":
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=rows, columns=columns):
                yield pa.Table.from_batches([batch])
            return
        header = file_schema(path, file_format, where).names
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=max(1 << 16, rows * 512)),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                include_columns=list(columns) if columns is not None else None,
            ),
        )
        for batch in reader:
            yield pa.Table.from_batches([batch])
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise UnreadableFileError(f"cannot read {where} ({exc}); refusing to replace it") from None


def file_keys(path: Path, file_format: str, where: str) -> pa.ChunkedArray:
    """The x_RowKey column of a file, read alone."""
    if ROW_KEY not in file_schema(path, file_format, where).names:
        raise UnreadableFileError(f"{where} has no {ROW_KEY} column; refusing to replace it")
    parts = [
        chunk.column(0)
        for chunk in file_chunks(path, file_format, where, rows=ROW_GROUP_ROWS, columns=[ROW_KEY])
    ]
    chunks = [chunk for part in parts for chunk in part.chunks]
    return pa.chunked_array(chunks, type=pa.string())


def table_chunks(table: pa.Table, rows: int) -> Chunks:
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows)


class Filtered:
    """A stream with some rows left out, and how many it read and left out.

    ``replaced`` marks, for every row of the stream in order, the rows a newer input
    replaces (one ``is_in`` over the stream's keys, computed once: a lookup per chunk would
    hash the newer keys again for every chunk); ``drop`` leaves out rows by content (a
    delivery's scope)."""

    def __init__(
        self,
        chunks: Chunks,
        schema: pa.Schema,
        *,
        replaced: pa.Array | pa.ChunkedArray | None = None,
        drop: Callable[[pa.Table], pa.Array | pa.ChunkedArray] | None = None,
    ) -> None:
        self.chunks = chunks
        self.schema = schema
        if replaced is not None and not pc.any(replaced).as_py():
            replaced = None
        self.replaced = replaced
        self.drop = drop
        self.read = 0
        self.dropped = 0

    def __iter__(self) -> Iterator[pa.Table]:
        for chunk in self.chunks:
            gone: t.Any = None
            if self.replaced is not None:
                gone = self.replaced.slice(self.read, chunk.num_rows)
            self.read += chunk.num_rows
            if self.drop is not None:
                out = self.drop(chunk)
                gone = out if gone is None else pc.or_(gone, out)
            if gone is not None:
                gone = pc.fill_null(gone, False)
                dropped = pc.sum(gone).as_py() or 0
                if dropped:
                    self.dropped += dropped
                    chunk = chunk.filter(pc.invert(gone))
            if chunk.num_rows:
                yield conform(chunk, self.schema)


def replaced_by(keys: pa.ChunkedArray, newer: Sequence[pa.ChunkedArray]) -> pa.ChunkedArray | None:
    """Which of ``keys`` some newer input carries too (None: none of them)."""
    chunks = [chunk for part in newer for chunk in part.chunks]
    if not chunks:
        return None
    value_set = pa.chunked_array(chunks, type=keys.type).combine_chunks()
    return pc.is_in(keys, value_set=value_set)


def chunk_rows(inputs: int) -> int:
    """Rows per read of each of ``inputs`` merged streams (within the read budget)."""
    return max(_MIN_CHUNK_ROWS, READ_BUDGET_ROWS // max(inputs, 1))


# --- merging ---------------------------------------------------------------------------


def merge_sorted(streams: Sequence[Iterable[pa.Table]], fill: int = 0) -> Iterator[pa.Table]:
    """Sorted streams (one schema, keys unique across them) as one sorted stream.

    Each round takes, from every buffer, the rows up to the smallest of the buffers' last
    sort keys (all of them sorted, so a prefix of each), sorts those and yields them; the
    buffer that set the bound is used up, so every round makes progress. Buffers are
    topped up to ``fill`` rows first, so that a round is not held back by the short rest
    of a buffer.
    """
    buffers: list[tuple[Iterator[pa.Table], pa.Table]] = []
    for stream in streams:
        iterator = iter(stream)
        first = _topped_up(iterator, None, fill)
        if first is not None:
            buffers.append((iterator, first))
    while len(buffers) > 1:
        bound = min(_last_key(buffer) for _, buffer in buffers)
        taken = []
        refilled = []
        for iterator, buffer in buffers:
            count = _rows_up_to(buffer, bound)
            if count:
                taken.append(buffer.slice(0, count))
            rest = _topped_up(iterator, buffer.slice(count), fill)
            if rest is not None:
                refilled.append((iterator, rest))
        buffers = refilled
        yield sort_rows(pa.concat_tables(taken))
    for iterator, buffer in buffers:  # one stream left: already in order
        yield buffer
        yield from iterator


def _topped_up(iterator: Iterator[pa.Table], rows: pa.Table | None, fill: int) -> pa.Table | None:
    """``rows`` followed by the stream's next chunks until there are ``fill`` rows (at
    least one row); None when the stream is used up."""
    held = [rows] if rows is not None and rows.num_rows else []
    count = sum(table.num_rows for table in held)
    while count < max(fill, 1):
        chunk = next(iterator, None)
        if chunk is None:
            break
        if chunk.num_rows:
            held.append(chunk)
            count += chunk.num_rows
    if not held:
        return None
    return held[0] if len(held) == 1 else pa.concat_tables(held)


def _last_key(table: pa.Table) -> tuple[t.Any, ...]:
    last = table.num_rows - 1
    return tuple(table.column(name)[last].as_py() for name in SORT_COLUMNS)


def _rows_up_to(table: pa.Table, bound: tuple[t.Any, ...]) -> int:
    """How many leading rows of sorted ``table`` sort at or before ``bound``."""
    start, key = (table.column(name) for name in SORT_COLUMNS)
    start_bound = pa.scalar(bound[0], start.type)
    key_bound = pa.scalar(bound[1], key.type)
    before = pc.or_(
        pc.less(start, start_bound),
        pc.and_(pc.equal(start, start_bound), pc.less_equal(key, key_bound)),
    )
    return int(pc.sum(pc.fill_null(before, False)).as_py() or 0)


# --- writing ---------------------------------------------------------------------------


def row_groups(pieces: Iterable[pa.Table], size: int | None = None) -> Iterator[pa.Table]:
    """Pieces re-cut into tables of exactly ``size`` (ROW_GROUP_ROWS) rows, the last one
    shorter."""
    size = size or ROW_GROUP_ROWS
    held: list[pa.Table] = []
    count = 0
    for piece in pieces:
        while piece.num_rows:
            take = min(size - count, piece.num_rows)
            held.append(piece.slice(0, take))
            count += take
            piece = piece.slice(take)
            if count == size:
                yield pa.concat_tables(held)  # chunked: written as one row group, not copied
                held, count = [], 0
    if count:
        yield pa.concat_tables(held)


def repeats(column: pa.ChunkedArray | pa.Array) -> bool:
    """Worth a Parquet dictionary: not text, or text with at most one distinct value in
    two rows (unique keys, ids and tags would only fill a dictionary to throw it away)."""
    if not pa.types.is_string(plain_type(column.type)):
        return True
    return 2 * len(pc.unique(column)) <= len(column)


def write_rows(
    pieces: Iterable[pa.Table],
    schema: pa.Schema,
    path: Path,
    file_format: str,
    *,
    compression: str = "zstd",
    file_metadata: Mapping[str, str] | None = None,
) -> int:
    """Write sorted pieces (of ``schema``) as one partition file; returns the row count."""
    written = 0
    if file_format == "parquet":
        writer: pq.ParquetWriter | None = None
        try:
            for group in row_groups(pieces):
                if writer is None:
                    # Parquet dictionaries for columns that repeat, decided by content (not
                    # by how Arrow happens to encode them), so the same rows give the same
                    # bytes.
                    repeated = [name for name in schema.names if repeats(group.column(name))]
                    writer = _parquet_writer(path, schema, compression, repeated)
                writer.write_table(group)
                written += group.num_rows
            if writer is None:
                writer = _parquet_writer(path, schema, compression, True)
                writer.write_table(schema.empty_table())
            writer.add_key_value_metadata(dict(file_metadata or {}))
        finally:
            if writer is not None:
                writer.close()
        return written
    # CSV: header, then FOCUS text values (already formatted); null is an empty field.
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer_csv = csv.writer(handle, lineterminator="\n")
        writer_csv.writerow(schema.names)
        for piece in pieces:
            for batch in piece.to_batches(max_chunksize=50_000):
                writer_csv.writerows(
                    zip(*(column.to_pylist() for column in batch.columns), strict=True)
                )
            written += piece.num_rows
    return written


def _parquet_writer(
    path: Path, schema: pa.Schema, compression: str, dictionary: bool | list[str]
) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        path, schema, compression=compression, store_schema=False, use_dictionary=dictionary
    )
