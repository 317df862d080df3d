"""Exact JSON: numbers from an API are read as the decimal their text spells."""

from __future__ import annotations

import decimal
import json
import typing as t


def loads_exact(text: str | bytes) -> t.Any:
    """Parse JSON keeping 0.1 as Decimal('0.1'), never a binary float."""
    return json.loads(text, parse_float=decimal.Decimal)
