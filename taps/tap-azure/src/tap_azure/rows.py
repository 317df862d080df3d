"""Rows of Microsoft's cost CSV files (Cost Details blobs and exports), typed exactly.

Every column keeps its name and Microsoft's text, with three exceptions:

- money, prices, rates and quantities (columns.DECIMAL_COLUMNS) become the Decimal their
  text spells: "0.0138242083333333" stays exactly that, "1.2345E-05" too; text that is not
  a finite number stops the run naming file, line and column;
- Tags become a JSON object when the text parses as one, with or without the braces
  Microsoft sometimes leaves out (`"env": "prod","team": "data"`); otherwise the text is
  kept as it is and counted (TagStats) so the run can say how many;
- empty fields are null.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import typing as t
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from finfocus_common.errors import PermanentError

from tap_azure.columns import DECIMAL_COLUMNS, TAG_COLUMNS

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

csv.field_size_limit(64 * 1024 * 1024)  # AdditionalInfo / x_SkuDetails can be long


@dataclass
class TagStats:
    """Tags that did not parse as a JSON object, kept as text."""

    unparsed: int = 0
    example_where: str = ""


def parse_tags(text: str) -> dict[str, t.Any] | str:
    """Microsoft's Tags text as a JSON object, else the text itself."""
    stripped = text.strip()
    candidate = stripped if stripped.startswith("{") else "{" + stripped + "}"
    try:
        value = json.loads(candidate)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value


def read_rows(
    raw: t.BinaryIO,
    where: str,
    *,
    gzipped: bool = False,
    stats: TagStats | None = None,
    on_header: Callable[[list[str]], None] | None = None,
) -> Iterator[dict[str, t.Any]]:
    """The rows of one CSV file (UTF-8, optional BOM, optionally gzip) as typed dicts.

    `on_header` sees the header before the first row (to widen a stream's schema).
    """
    binary: t.BinaryIO = (
        t.cast("t.BinaryIO", gzip.GzipFile(fileobj=raw, mode="rb")) if gzipped else raw
    )
    reader = csv.reader(io.TextIOWrapper(binary, "utf-8-sig", newline=""))
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
        raise PermanentError(f"{where} is not a readable CSV file: {exc}") from None
    if header is None:
        return
    if on_header is not None:
        on_header(header)
    width = len(header)
    decimals = [(i, name) for i, name in enumerate(header) if name.lower() in DECIMAL_COLUMNS]
    tags = [(i, name) for i, name in enumerate(header) if name.lower() in TAG_COLUMNS]
    stats = stats if stats is not None else TagStats()
    line = 1
    try:
        for values in reader:
            line += 1
            if len(values) != width:
                if not values:
                    continue  # a trailing blank line
                raise PermanentError(
                    f"{where} line {line} has {len(values)} fields, its header {width}"
                )
            row: dict[str, t.Any] = dict(zip(header, [v or None for v in values], strict=True))
            for index, name in decimals:
                value = values[index]
                if value:
                    try:
                        row[name] = _decimal(value)
                    except (InvalidOperation, ValueError):
                        raise PermanentError(
                            f"{where} line {line} column {name}: {value!r} is not a number"
                        ) from None
            for index, name in tags:
                value = values[index]
                if value:
                    parsed = parse_tags(value)
                    if isinstance(parsed, str):
                        stats.unparsed += 1
                        stats.example_where = stats.example_where or f"{where} line {line}"
                    row[name] = parsed
            yield row
    except (csv.Error, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise PermanentError(f"{where} line {line + 1} is not readable CSV: {exc}") from None


__all__ = ["TagStats", "parse_tags", "read_rows"]
