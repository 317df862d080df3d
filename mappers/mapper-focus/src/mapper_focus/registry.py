"""Which raw streams the mapper can transform, and how each declares itself.

A provider module declares one `StreamMapping` per raw stream it understands. A stream is
recognised by its name *and* by the properties its schema must have, so another tap's
stream of the same name is never mangled by the wrong mapping. Raw tables read back by a
database tap arrive as `<schema>-<table>` (tap-postgres' naming): `stripe-balance_transactions`
is recognised as `balance_transactions`, which is how transform-only runs work.
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


def builtin_mappings() -> list[StreamMapping]:
    """Every provider mapping that ships with mapper-focus: each module of
    `mapper_focus.providers` declares its own in a `MAPPINGS` sequence."""
    from mapper_focus import providers

    found: list[StreamMapping] = []
    for module in sorted(pkgutil.iter_modules(providers.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue  # private helpers and data modules
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
