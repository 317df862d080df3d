"""FOCUS value formats: reading Decimal and DateTime values, and writing them as text.

FOCUS NumericFormat (as written by this package): digits, an optional leading "-" for
negative values, an optional "." with a fraction; no exponent, no "+", no thousands
separators, no currency symbols. DateTimeFormat: ISO 8601 in UTC, "YYYY-MM-DDTHH:MM:SSZ".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# A decimal spelled the way FOCUS files spell it; no exponent (see the README on E notation).
DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# ISO 8601 extended date and time in UTC, "Z" or "+00:00", optional fraction of a second.
UTC_DATETIME_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|\+00:00)"
)


def as_decimal(value: Any) -> Decimal | None:
    """``value`` as a finite Decimal when it is a valid FOCUS Decimal value, else None.

    Valid: ``decimal.Decimal`` (finite), ``int`` (not ``bool``), and ``str`` that spells a
    decimal without exponent (``"-12.50"``). Never ``float``.
    """
    kind = type(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if kind is int:
        return Decimal(value)
    if kind is str:
        return Decimal(value) if DECIMAL_TEXT.fullmatch(value) else None
    if isinstance(value, bool | float):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, str):
        return Decimal(str(value)) if DECIMAL_TEXT.fullmatch(value) else None
    return None


def as_utc_datetime(value: Any) -> datetime | None:
    """``value`` as an aware datetime when it is a valid FOCUS DateTime value, else None.

    Valid: a ``datetime`` whose UTC offset is zero (``timezone.utc``, ``ZoneInfo("UTC")``,
    ...) and ISO 8601 text in UTC (``"2025-01-01T00:00:00Z"`` or ``...+00:00``).
    """
    if isinstance(value, datetime):
        offset = value.utcoffset()
        return value if offset is not None and not offset else None
    if isinstance(value, str) and UTC_DATETIME_TEXT.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def format_decimal(value: Decimal | int | str) -> str:
    """The FOCUS numeric text of ``value`` for CSV: exact, no exponent, no separators.

    ``Decimal("1.50")`` -> ``"1.50"`` (the scale is kept), ``Decimal("1E+2")`` -> ``"100"``,
    ``Decimal("-0.00")`` -> ``"0.00"``, ``7`` -> ``"7"``. Raises TypeError for ``float`` and
    ``bool`` (money is never a binary float) and ValueError for NaN, infinity and text that
    is not a plain decimal.
    """
    if isinstance(value, bool | float):
        raise TypeError(
            f"format_decimal() takes Decimal, int or decimal text, not {type(value).__name__}"
        )
    number = as_decimal(value)
    if number is None:
        if isinstance(value, Decimal | int | str):
            raise ValueError(f"not a finite FOCUS decimal value: {value!r}")
        raise TypeError(
            f"format_decimal() takes Decimal, int or decimal text, not {type(value).__name__}"
        )
    text = format(number, "f")
    if number.is_zero() and text.startswith("-"):
        text = text[1:]  # "-0" is not a negative value
    return text


def format_datetime(value: datetime | str) -> str:
    """The FOCUS date/time text of ``value``: ``"YYYY-MM-DDTHH:MM:SSZ"`` in UTC.

    Takes an aware ``datetime`` (any offset: converted to UTC, which is lossless) or UTC
    ISO 8601 text. Raises ValueError for a naive datetime and for other text. A non-zero
    microsecond is kept as a fraction (``"...T00:00:00.250000Z"``) rather than dropped.
    """
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime has no time zone, FOCUS needs UTC: {value!r}")
        moment = value.astimezone(UTC)
    elif isinstance(value, str):
        parsed = as_utc_datetime(value)
        if parsed is None:
            raise ValueError(f"not an ISO 8601 UTC date/time: {value!r}")
        moment = parsed
    else:
        raise TypeError(f"format_datetime() takes datetime or text, not {type(value).__name__}")
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"
