"""Retry waits that honour what the provider says (Retry-After, reset headers)."""

from __future__ import annotations

import email.utils
import time
import typing as t

if t.TYPE_CHECKING:
    import requests

MAX_ADVERTISED_WAIT = 300.0  # never sleep longer than this on one provider hint


def retry_after_seconds(response: requests.Response | None) -> float | None:
    """Seconds the server asked us to wait, from Retry-After (seconds or HTTP date)."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_ADVERTISED_WAIT)


def wait_generator(
    advertised: t.Callable[[BaseException | None], float | None],
    *,
    base: float = 1.0,
    cap: float = 60.0,
) -> t.Generator[float, BaseException | None, None]:
    """A `backoff` wait generator: the provider's advertised wait, else capped exponential.

    `backoff` sends the exception of each failed attempt into the generator, so the wait
    can follow the response that failed. Jitter is added on top by the caller.
    """
    attempt = 0
    exc = yield 0.0  # primed by backoff before the first failure
    while True:
        hinted = advertised(exc)
        wait = hinted if hinted is not None else min(cap, base * 2**attempt)
        attempt += 1
        exc = yield wait
