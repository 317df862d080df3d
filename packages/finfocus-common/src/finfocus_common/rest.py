"""The base REST stream of every finfocus HTTP tap.

It owns what every billing API needs and no provider should write again:

- exact JSON: bodies parsed once, numbers as the Decimal their text spells;
- response checks: 429 and 5xx are retried (unless the provider says not to); other 4xx fail
  at once with one line naming provider, method, path and the provider's error; a 200 whose
  body is not JSON (a proxy page, a cut-off body) is retried;
- waits that honour Retry-After, with jitter, else capped exponential backoff
  (settings `max_retries`, `backoff_base_seconds`, `request_timeout`);
- a watermark bookmark that advances per completed time window, never per record, so a
  crash re-reads at most one window and never skips one.

A provider subclasses it, names itself (`provider`), says how to read its error bodies
(`error_summary`) and what a good page looks like (`check_page`).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from http import HTTPStatus
from urllib.parse import urlparse

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from finfocus_common.errors import one_line
from finfocus_common.jsonutil import loads_exact
from finfocus_common.redact import redact
from finfocus_common.retry import retry_after_seconds, wait_generator

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    import requests
    from singer_sdk.helpers.types import Context

UTC = dt.UTC
_PARSED = "_finfocus_json"


def isoformat(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_datetime(value: str | dt.datetime) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def response_json(response: requests.Response) -> t.Any:
    """The response body as exact JSON (Decimal for non-integers), parsed once."""
    if not hasattr(response, _PARSED):
        setattr(response, _PARSED, loads_exact(response.content))
    return getattr(response, _PARSED)


def windows(
    start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """[start, end) cut into consecutive windows of `step`, oldest first."""
    lower = start
    while lower < end:
        upper = min(lower + step, end)
        yield lower, upper
        lower = upper


class FinfocusRESTStream(RESTStream[t.Any]):
    """Base stream of a finfocus HTTP tap: exact JSON, retries, one-line errors, watermarks."""

    #: Shown in error messages: "<provider> refused GET /v1/...".
    provider: str = "the API"
    #: Response header with which the provider says a failure must not be retried.
    no_retry_header: tuple[str, str] | None = None
    #: Response header carrying the provider's unique request id. A response whose id was
    #: seen before is a replay (a caching proxy, a confused load balancer): retried,
    #: because a replayed page stands for a different page whose objects would be lost.
    request_id_header: str | None = None

    # --- responses, errors, retries ------------------------------------------------

    @property
    def timeout(self) -> int:
        return int(self.config.get("request_timeout", 60))

    def validate_response(self, response: requests.Response) -> None:
        status = response.status_code
        if status == HTTPStatus.TOO_MANY_REQUESTS or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            if self.no_retry_header:
                name, value = self.no_retry_header
                if response.headers.get(name, "").lower() == value:
                    raise FatalAPIError(self.describe_failure(response))
            raise RetriableAPIError(self.describe_failure(response), response)
        if status >= HTTPStatus.BAD_REQUEST:
            raise FatalAPIError(self.describe_failure(response))
        self.check_not_replayed(response)
        self.check_page(response)

    def check_not_replayed(self, response: requests.Response) -> None:
        if not self.request_id_header:
            return
        request_id = response.headers.get(self.request_id_header)
        if not request_id:
            return
        seen: set[str] = self.__dict__.setdefault("_finfocus_request_ids", set())
        if request_id in seen:
            path = urlparse(response.url).path
            raise RetriableAPIError(
                f"{self.provider} answered GET {path} with a response it had already sent "
                f"({self.request_id_header} {request_id})",
                response,
            )
        seen.add(request_id)

    def describe_failure(self, response: requests.Response) -> str:
        """One line: who refused what, and the provider's own reason, secret-free."""
        method = response.request.method if response.request else "GET"
        where = f"{method} {urlparse(response.url).path}{self.failure_context(response)}"
        return redact(one_line(f"{self.provider} refused {where}: {self.error_summary(response)}"))

    def failure_context(self, response: requests.Response) -> str:
        """Extra words after the path, e.g. " for account acct_123"."""
        return ""

    def error_summary(self, response: requests.Response) -> str:
        """The provider's error body in a few words (override for the provider's shape)."""
        try:
            body = response_json(response)
        except ValueError:
            return f"{response.status_code} {response.reason or ''}".strip()
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            kind = error.get("type") or error.get("code") or ""
            message = error.get("message") or ""
            return f"{response.status_code} {kind}: {message}".strip()
        return f"{response.status_code} {response.reason or ''}".strip()

    def check_json(self, response: requests.Response) -> t.Any:
        """A 200 must carry JSON; a proxy page or a cut-off body is a transient fault."""
        path = urlparse(response.url).path
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type:
            raise RetriableAPIError(
                f"{self.provider} answered GET {path} with "
                f"{content_type or 'no content type'}, not JSON",
                response,
            )
        try:
            return response_json(response)
        except ValueError as exc:
            raise RetriableAPIError(
                f"{self.provider} answered GET {path} with malformed JSON ({one_line(str(exc))})",
                response,
            ) from exc

    def check_page(self, response: requests.Response) -> None:
        """What a good 200 looks like; raise RetriableAPIError for a bad page."""
        self.check_json(response)

    def backoff_wait_generator(self) -> t.Generator[float, t.Any, None]:
        def advertised(exc: BaseException | None) -> float | None:
            return retry_after_seconds(getattr(exc, "response", None))

        return wait_generator(
            advertised, base=float(self.config.get("backoff_base_seconds", 1.0)), cap=60.0
        )

    def backoff_max_tries(self) -> int:
        return int(self.config.get("max_retries", 8)) + 1

    def backoff_handler(self, details: t.Any) -> None:
        exc = details.get("exception")
        reason = one_line(str(exc)) if exc else "error"
        self.logger.warning(
            "Retrying %s in %.1fs (attempt %d): %s",
            self.name,
            details.get("wait", 0.0),
            details.get("tries", 0),
            redact(reason),
        )

    # --- the watermark -------------------------------------------------------------

    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        """Bookmarks advance per completed window (`advance_watermark`), not per record."""

    def advance_watermark(self, context: Context | None, moment: dt.datetime) -> None:
        """Everything before `moment` has been emitted: bookmark it and say so."""
        state = self.get_context_state(context)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = isoformat(moment)
        self.state_manager.is_flushed = False
        self._write_state_message()

    def watermark(self, context: Context | None) -> dt.datetime | None:
        value = self.get_context_state(context).get("replication_key_value")
        return parse_datetime(value) if value else None
