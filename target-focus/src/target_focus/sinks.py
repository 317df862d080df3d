"""Sinks: FOCUS rows (validate, stage per partition, commit), quarantine, everything else.

A FOCUS sink validates each row when it arrives (``focus_spec`` rules plus the storage
types), converts it to the file format's values and stages it with the other rows of its
partition (Python tuples, turned into compact Arrow record batches every ``CHUNK_ROWS``
rows, so few rows are ever held as Python objects). A
drain (the SDK calls ``process_batch`` when the sink is full, every few minutes and at the
end of the input) commits every staged partition: merge by x_RowKey and atomic replace. The
SDK writes a STATE message only after draining, so STATE never covers uncommitted rows.
"""

from __future__ import annotations

import typing as t

import pyarrow as pa
import pyarrow.compute as pc
from finfocus_common.errors import PermanentError
from focus_spec import Violation
from singer_sdk.sinks import BatchSink

from target_focus.audit import parse_json_text
from target_focus.dataset import (
    ROW_KEY,
    ColumnDef,
    Delivery,
    PartitionKey,
    ValueProblemError,
    arrow_schema,
    converter,
    custom_data_type,
    dictionary_if_smaller,
    is_custom,
    keep_last,
    provider_column,
    provider_slug,
    rows_to_batch,
    spec_columns,
    staged_table,
    to_json_text,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from singer_sdk.sinks.core import BaseJSONSchemaValidator
    from singer_sdk.target_base import Target

    from target_focus.target import Run

SOURCE_PROVIDER = "x_SourceProvider"
DELIVERY_ID = "x_DeliveryId"

# Rows of a sink held as Python tuples before they become Arrow record batches.
CHUNK_ROWS = 5_000
DEFAULT_BATCH_ROWS = 200_000


class InvalidRowError(PermanentError):
    """A FOCUS row breaks a rule and ``on_invalid`` is ``fail``."""


class _RunSink(BatchSink):
    """A sink that reports to the target's run (dataset, audit, quarantine)."""

    MAX_SIZE_DEFAULT = DEFAULT_BATCH_ROWS

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target
        self.run: Run = target.run  # type: ignore[attr-defined]

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Never: FOCUS columns are fixed and custom columns must start with x_."""
        return False

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """No JSON-schema validation: focus_spec.validate_row checks every FOCUS row."""
        return None

    def _validate_and_parse(self, record: dict) -> dict:
        """Pass records through untouched.

        The SDK would validate them against the JSON schema (disabled above) and turn
        date-time strings into datetime objects; our own validation and conversion read
        the values as the mapper sent them, so this per-record work is skipped.
        """
        return record


class FocusSink(_RunSink):
    """Rows of a FOCUS stream: validated, staged per partition, committed at each drain."""

    def setup(self) -> None:
        spec = self.run.spec
        properties: Mapping[str, t.Any] = self.schema.get("properties") or {}
        unknown = sorted(n for n in properties if not is_custom(n) and n not in spec.column_names)
        if unknown:
            shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise PermanentError(
                f"stream {self.stream_name}: {shown} not FOCUS {spec.version} columns "
                "(custom columns start with x_; mapper-focus and target-focus must use the "
                "same focus_version)"
            )
        custom = {
            name: ColumnDef(name, custom_data_type(schema), custom=True)
            for name, schema in properties.items()
            if is_custom(name)
        }
        custom.setdefault(ROW_KEY, ColumnDef(ROW_KEY, "String", custom=True))
        self.columns = [*spec_columns(spec), *(custom[name] for name in sorted(custom))]
        self.run.dataset.declare(self.columns, self.stream_name)
        self.arrow_schema = arrow_schema(self.columns, self.run.file_format)
        self.column_names = [column.name for column in self.columns]
        self.converters = [
            (index, column.name, convert)
            for index, column in enumerate(self.columns)
            if (convert := converter(column, self.run.file_format)) is not None
        ]
        self.known_columns = frozenset(column.name for column in self.columns)
        self.kinds = {column.name: column.data_type for column in self.columns}
        self.provider_column = provider_column(spec)
        self.validator: t.Any = None  # a BatchValidator, made at the first BATCH message
        # Staged per partition and delivery (None: rows merged into the live partition).
        self.staged: dict[tuple[PartitionKey, str | None], _Staged] = {}
        self.python_rows = 0  # staged rows not yet in Arrow record batches
        self.run.audit.focus_streams.setdefault(self.stream_name, 0)

    def preprocess_record(self, record: dict, context: dict) -> dict:
        # A missing key is reported by our validation (one line, or quarantined), not by
        # the SDK's key-property check that runs next.
        record.setdefault(ROW_KEY, None)
        return record

    def process_record(self, record: dict, context: dict) -> None:
        audit = self.run.audit
        audit.rows_in += 1
        audit.focus_streams[self.stream_name] += 1
        violations = self.run.spec.validate_row(record)
        violations.extend(self._own_checks(record))
        values: tuple[t.Any, ...] = ()
        if not violations:
            values, violations = self._convert(record)
        if violations:
            self._reject(record, violations)
            return
        # The bill the row comes from (x_SourceProvider, set by mapper-focus) names the
        # partition, so a provider's bill is replaced as a whole; else the provider column.
        provider = record.get(SOURCE_PROVIDER) or record[self.provider_column]
        key = PartitionKey.of(provider, record["BillingAccountId"], record["BillingPeriodStart"])
        audit.providers.add(record[self.provider_column])
        slot = (key, record.get(DELIVERY_ID))
        staged = self.staged.get(slot)
        if staged is None:
            staged = self.staged[slot] = _Staged(self.arrow_schema)
        staged.rows.append(values)
        self.python_rows += 1
        if self.python_rows >= CHUNK_ROWS:
            for partition in self.staged.values():
                partition.flush()
            self.python_rows = 0

    # --- BATCH messages: Arrow tables of FOCUS rows ------------------------------------

    def process_batch_files(self, encoding: t.Any, files: Sequence[str]) -> None:
        """Rows of FOCUS batch files (Parquet: column-wise; JSONL: record by record).

        Every row is judged as the RECORD path judges it (see target_focus.batches), then
        staged with its partition and delivery like any row; the SDK counts them and
        drains when the sink is full, as for records.
        """
        from target_focus import batches

        for url in files:
            if str(getattr(encoding, "format", encoding)) in {"parquet", "BatchFileFormat.PARQUET"}:
                table = batches.read_parquet(url)
                self.process_table(table)
                rows = table.num_rows
            else:
                records = batches.read_jsonl(url, getattr(encoding, "compression", None))
                for record in records:
                    self.process_record(self.preprocess_record(record, {}), {})
                rows = len(records)
            self.record_counter_metric.increment(rows)
            self.tally_record_read(rows)
            if self.is_full:
                self.target.drain_one(self)

    def process_table(self, table: pa.Table) -> None:
        """Validate (column-wise, see target_focus.batches) and stage a table of rows."""
        from target_focus import batches

        if self.validator is None:
            self.validator = batches.BatchValidator(self.run.spec, self.columns)
        if ROW_KEY not in table.column_names:
            table = table.append_column(ROW_KEY, pa.nulls(table.num_rows, pa.string()))
        if self.validator.table_problem(table) is not None:
            for record in table.to_pylist():
                self.process_record(record, {})
            return
        audit = self.run.audit
        size = table.num_rows
        audit.rows_in += size
        audit.focus_streams[self.stream_name] += size
        suspect = self.validator.suspects(table)
        if pc.any(suspect).as_py():
            table = self._judge_suspects(table, suspect)
        if table.num_rows:
            self._stage_table(table)

    def _judge_suspects(self, table: pa.Table, suspect: pa.Array) -> pa.Table:
        """The RECORD path's checks for the suspect rows: rejected ones leave the table
        (fail or quarantine, as configured), the others get the values the RECORD path
        would store (JSON re-encoded)."""
        positions = pc.indices_nonzero(suspect).to_pylist()
        rows = table.take(positions).to_pylist()
        drop: list[int] = []
        patches: dict[str, dict[int, t.Any]] = {}
        json_columns = [name for name in table.column_names if self.kinds.get(name) == "JSON"]
        for position, row in zip(positions, rows, strict=True):
            violations = self.run.spec.validate_row(row)
            violations.extend(self._own_checks(row))
            if not violations:
                _, violations = self._convert(row)
            if violations:
                self._reject(row, violations)
                drop.append(position)
                continue
            for name in json_columns:
                value = row.get(name)
                if value is not None:
                    stored = to_json_text(value)
                    if stored != value:
                        patches.setdefault(name, {})[position] = stored
        for name, changed in patches.items():
            index = table.column_names.index(name)
            values = table.column(name).to_pylist()
            for position, value in changed.items():
                values[position] = value
            table = table.set_column(index, name, pa.array(values, pa.string()))
        if drop:
            keep = pc.invert(
                pc.is_in(
                    pa.array(range(table.num_rows), pa.int64()),
                    value_set=pa.array(drop, pa.int64()),
                )
            )
            table = table.filter(keep)
        return table

    def _stage_table(self, table: pa.Table) -> None:
        """Stage validated rows per partition and delivery (as ``process_record`` does)."""
        audit = self.run.audit
        size = table.num_rows
        names = table.column_names
        provider = (
            _text(table.column(self.provider_column)) if self.provider_column in names else None
        )
        if provider is not None:
            audit.providers.update(v for v in pc.unique(provider).to_pylist() if v is not None)
        source = _text(table.column(SOURCE_PROVIDER)) if SOURCE_PROVIDER in names else None
        if source is None:
            bill = provider
        elif provider is None:
            bill = source
        else:
            bill = pc.if_else(pc.fill_null(pc.not_equal(source, ""), False), source, provider)
        period = pc.strftime(table.column("BillingPeriodStart"), "%Y-%m")
        delivery = (
            _text(table.column(DELIVERY_ID))
            if DELIVERY_ID in names
            else pa.nulls(size, pa.string())
        )
        parts = [
            pc.coalesce(bill, pa.scalar("")) if bill is not None else pa.repeat("", size),
            _text(table.column("BillingAccountId")),
            period,
            pc.coalesce(delivery, pa.scalar("\x00")),
        ]
        slot_keys = pc.binary_join_element_wise(*parts, "\x1f").combine_chunks().dictionary_encode()
        full = compact(self._full_table(table))
        for index, slot_text in enumerate(slot_keys.dictionary.to_pylist()):
            bill_name, account, month, delivery_id = slot_text.split("\x1f")
            key = PartitionKey(provider_slug(bill_name), account, month)
            rows = (
                full
                if len(slot_keys.dictionary) == 1
                else full.filter(pc.equal(slot_keys.indices, index))
            )
            slot = (key, None if delivery_id == "\x00" else delivery_id)
            staged = self.staged.get(slot)
            if staged is None:
                staged = self.staged[slot] = _Staged(self.arrow_schema)
            staged.tables.append(rows)

    def _full_table(self, table: pa.Table) -> pa.Table:
        """The table with every column of the stream (absent ones null), in order."""
        arrays = []
        for field in self.arrow_schema:
            if field.name in table.column_names:
                arrays.append(table.column(field.name))
            else:
                arrays.append(pa.nulls(table.num_rows, field.type))
        return pa.Table.from_arrays(arrays, names=self.arrow_schema.names)

    def _own_checks(self, record: Mapping[str, t.Any]) -> list[Violation]:
        problems = []
        row_key = record.get(ROW_KEY)
        if not isinstance(row_key, str) or not row_key:
            problems.append(_violation(ROW_KEY, "row-key", "must be a non-empty string", row_key))
        for name in record:
            if name not in self.known_columns and is_custom(name):
                problems.append(
                    _violation(
                        name, "undeclared-column", "not declared in the stream's SCHEMA", None
                    )
                )
        return problems

    def _convert(self, record: Mapping[str, t.Any]) -> tuple[tuple[t.Any, ...], list[Violation]]:
        """The row's values in column order, as the file format stores them."""
        get = record.get
        values = [get(name) for name in self.column_names]
        problems = []
        for index, name, convert in self.converters:
            value = values[index]
            if value is not None:
                try:
                    values[index] = convert(value)
                except ValueProblemError as problem:
                    problems.append(_violation(name, problem.rule, problem.detail, value))
        return tuple(values), problems

    def _reject(self, record: dict, violations: list[Violation]) -> None:
        where = (
            f"stream {self.stream_name}, x_SourceRecordId {record.get('x_SourceRecordId')}, "
            f"x_RowKey {record.get(ROW_KEY)}"
        )
        if self.run.on_invalid == "fail":
            others = [f"{v.column} [{v.rule}]" for v in violations[1:]]
            more = ""
            if others:
                shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
                more = f" (and {len(others)} more: {shown})"
            self.run.audit.rows_rejected += 1
            raise InvalidRowError(f"invalid FOCUS row: {where}: {violations[0].message}{more}")
        self.run.audit.rows_quarantined += 1
        self.run.quarantine.add(
            {
                "run_id": self.run.run_id,
                "stage": "target-focus",
                "stream": self.stream_name,
                "x_RowKey": record.get(ROW_KEY),
                "x_SourceStream": record.get("x_SourceStream"),
                "x_SourceRecordId": record.get("x_SourceRecordId"),
                "reasons": [
                    {
                        "column": v.column,
                        "rule": v.rule,
                        "message": v.message,
                        "value": v.value_repr,
                    }
                    for v in violations
                ],
                "record": record,
            }
        )

    def process_batch(self, context: dict) -> None:
        """Commit: each staged partition merged into its file and replaced atomically."""
        audit = self.run.audit
        self.python_rows = 0
        for slot in sorted(self.staged, key=lambda s: (s[0], s[1] or "")):
            key, delivery_id = slot
            staged = self.staged.pop(slot)
            batch, superseded = keep_last(staged.table())
            del staged
            relpath, merged = self.run.dataset.commit(key, batch, delivery_id)
            if delivery_id is not None:
                self.run.pending_deliveries.add(slot)
            audit.rows_superseded += superseded
            self.tally_duplicate_merged(superseded)
            audit.partition_committed(key, relpath, merged, batch.num_rows)
            self.logger.info(
                "Committed %s: %d rows before, %d after (%d from this batch, %d replaced)",
                relpath,
                merged.rows_before,
                merged.rows_after,
                batch.num_rows,
                merged.rows_replaced,
            )
        self.run.publish_quarantine()
        release_memory()


def release_memory() -> None:
    """Give memory the commit freed back to the system: Arrow's allocator keeps freed
    pages for reuse, which would show as a peak that grows with every commit."""
    pa.default_memory_pool().release_unused()


def compact(table: pa.Table) -> pa.Table:
    """Text columns that repeat dictionary-encoded, as ``rows_to_batch`` stages records:
    a batch file's plain text would take several times the memory while staged."""
    columns = [dictionary_if_smaller(column) for column in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


class _Staged:
    """Rows of one partition waiting for the next commit."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows: list[tuple[t.Any, ...]] = []
        self.tables: list[pa.Table] = []  # record batches of rows, batch-file tables

    def flush(self) -> None:
        """Move the rows held as Python tuples into a compact Arrow record batch."""
        if self.rows:
            self.tables.append(pa.Table.from_batches([rows_to_batch(self.rows, self.schema)]))
            self.rows = []

    def table(self) -> pa.Table:
        self.flush()
        return staged_table(self.tables, self.schema)


class QuarantineSink(_RunSink):
    """The mapper's ``focus_quarantine`` stream: records it could not map, with the reason."""

    def process_record(self, record: dict, context: dict) -> None:
        self.run.audit.mapper_quarantined += 1
        self.run.quarantine.add(
            {
                "run_id": self.run.run_id,
                "stage": "mapper-focus",
                "stream": self.stream_name,
                "x_RowKey": record.get(ROW_KEY),
                "x_SourceStream": record.get("x_SourceStream"),
                "x_SourceRecordId": record.get("x_SourceRecordId"),
                "reasons": [
                    {
                        "column": record.get("column"),
                        "rule": "unmappable",
                        "message": record.get("reason"),
                    }
                ],
                "record": parse_json_text(record.get("record")),
            }
        )

    def process_batch(self, context: dict) -> None:
        self.run.publish_quarantine()


class DeliverySink(_RunSink):
    """The mapper's ``focus_deliveries`` stream: a delivery is complete.

    Its rows (tagged with x_DeliveryId and x_DeliveryScope) were staged; now they replace
    the rows of their scope (one export of the provider) in the provider's partitions of
    the billing period, one atomic replace per partition, and older deliveries of the
    scope go with them (see ``Dataset.apply_delivery``). An incomplete delivery (mode
    ``merge``) is merged by x_RowKey instead.
    """

    def process_record(self, record: dict, context: dict) -> None:
        # Rows of the delivery may still be buffered: stage (commit) everything first.
        self.target.drain_all()
        delivery = Delivery.of(record)
        pending = self.run.pending_deliveries
        others = {d for _, d in pending if d is not None and d != delivery.delivery_id}
        for key, relpath, before, after in self.run.dataset.apply_delivery(delivery, others):
            pending.discard((key, delivery.delivery_id))
            self.run.audit.delivery_promoted(
                key,
                relpath,
                delivery.delivery_id,
                before,
                after,
                scope=delivery.scope,
                mode="merge" if delivery.merge else None,
            )
            self.logger.info(
                "Delivery %s of %s %s%s (account %s) %s %s: %d rows before, %d after",
                delivery.delivery_id,
                record["provider"],
                record["billing_period"],
                f" [{delivery.scope}]" if delivery.scope else "",
                key.billing_account_id,
                "merged into" if delivery.merge else "replaced",
                relpath,
                before,
                after,
            )
        if delivery.scope is not None or delivery.merge:
            # Every partition the delivery was staged in has been applied.
            pending.difference_update({s for s in pending if s[1] == delivery.delivery_id})
        release_memory()

    def process_batch(self, context: dict) -> None:
        """Nothing buffered: each delivery is applied when its record arrives."""


class IgnoredSink(_RunSink):
    """Any other stream: not written, but warned about once and counted in the audit."""

    def setup(self) -> None:
        self.run.ignore_stream(self.stream_name, self.logger)

    def process_record(self, record: dict, context: dict) -> None:
        ignored = self.run.audit.ignored_streams
        ignored[self.stream_name] = ignored.get(self.stream_name, 0) + 1

    def process_batch(self, context: dict) -> None:
        """Nothing to write."""


def _text(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column as plain strings (dictionary-encoded ones decoded)."""
    if pa.types.is_dictionary(array.type):
        return array.cast(array.type.value_type)
    return array


def _violation(column: str, rule: str, detail: str, value: t.Any) -> Violation:
    text = repr(value)
    return Violation(
        column, rule, f"{column} [{rule}]: {detail}", text if len(text) <= 80 else text[:77] + "..."
    )
