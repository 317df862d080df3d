"""Which raw streams the mapper can transform, and how each declares itself.

A provider module declares one `StreamMapping` per raw stream it understands. A stream is
recognised by its name *and* by the properties its schema must have, so another tap's
stream of the same name is never mangled by the wrong mapping. Raw tables read back by a
database tap arrive as `<schema>-<table>` (tap-postgres' naming): `stripe-balance_transactions`
is recognised as `balance_transactions`, which is how transform-only runs work.

A provider may also map a stream's BATCH files vectorised (``BatchMapping``, in a module
``providers/<name>_arrow.py``); rows it leaves aside go through the record mapping.
"""

from __future__ import annotations

import importlib
import pkgutil
import typing as t
from dataclasses import dataclass, field

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping


@dataclass(frozen=True)
class StreamMapping:
    """How one raw stream becomes FOCUS rows (0..n rows per record)."""

    provider: str
    stream: str
    required_properties: frozenset[str]
    map_record: Callable[[Mapping[str, t.Any]], Iterable[dict[str, t.Any]]]
    record_id: Callable[[Mapping[str, t.Any]], str | None]
    custom_columns: Mapping[str, dict] = field(default_factory=dict)
    #: A control mapping turns records into `focus_deliveries` messages (a period's
    #: complete delivery) instead of FOCUS rows.
    control: bool = False

    def accepts(self, schema: Mapping[str, t.Any]) -> bool:
        properties = set((schema or {}).get("properties") or {})
        return self.required_properties <= properties


#: Provider modules with this suffix hold vectorised (Arrow) mappings only.
ARROW_SUFFIX = "_arrow"


@dataclass
class Mapped:
    """The vectorised part of one batch: FOCUS columns of the rows at ``indices``; the
    rows at ``fallback`` are mapped with the stream's record mapping, one by one."""

    columns: dict[str, t.Any]  # column name -> pyarrow Array, one value per mapped row
    indices: t.Any  # pyarrow int64 Array: positions of the mapped rows in the batch
    fallback: list[int]  # positions of the rows left to the record mapping


@dataclass(frozen=True)
class BatchMapping:
    """A vectorised (Arrow) mapping of one raw stream's batch files.

    ``reads`` are the columns it needs (the rest of a batch file is not read);
    ``map_table`` maps a table of them. Rows it leaves to ``Mapped.fallback`` go through
    the stream's record mapping, so the result is what the RECORD path gives.
    """

    provider: str
    stream: str
    reads: tuple[str, ...] | None  # None: every column
    map_table: Callable[[t.Any], Mapped]


def builtin_batch_mappings() -> dict[tuple[str, str], BatchMapping]:
    """Vectorised mappings by (provider, stream), declared in the ``BATCH_MAPPINGS`` of the
    provider modules named ``<provider>_arrow`` (pyarrow is imported only when needed)."""
    from mapper_focus import providers

    found: dict[tuple[str, str], BatchMapping] = {}
    for module in sorted(pkgutil.iter_modules(providers.__path__), key=lambda m: m.name):
        if module.name.startswith("_") or not module.name.endswith(ARROW_SUFFIX):
            continue
        loaded = importlib.import_module(f"{providers.__name__}.{module.name}")
        for mapping in getattr(loaded, "BATCH_MAPPINGS", ()):
            found[(mapping.provider, mapping.stream)] = mapping
    return found


def builtin_mappings() -> list[StreamMapping]:
    """Every provider mapping that ships with mapper-focus: each module of
    `mapper_focus.providers` declares its own in a `MAPPINGS` sequence."""
    from mapper_focus import providers

    found: list[StreamMapping] = []
    for module in sorted(pkgutil.iter_modules(providers.__path__), key=lambda m: m.name):
        if module.name.startswith("_") or module.name.endswith(ARROW_SUFFIX):
            continue  # private helpers and data modules; Arrow ones load on the first BATCH
        loaded = importlib.import_module(f"{providers.__name__}.{module.name}")
        found.extend(getattr(loaded, "MAPPINGS", ()))
    return found


def find_mapping(
    mappings: Iterable[StreamMapping], stream: str, schema: Mapping[str, t.Any]
) -> StreamMapping | None:
    for mapping in mappings:
        named = stream == mapping.stream or stream.endswith(f"-{mapping.stream}")
        if named and mapping.accepts(schema):
            return mapping
    return None
