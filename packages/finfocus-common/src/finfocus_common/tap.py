"""The base of every finfocus tap: settings checked into one line, secrets masked from
the start, a catalog that names no unknown stream, one clock for the whole run.

A tap declares which settings are secrets, URLs, dates and numbers; its own checks go in
`config_problems`. Everything else a provider tap does lives in its streams.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import urlparse

from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError

from finfocus_common.errors import ConfigError
from finfocus_common.redact import install_log_redaction, register_secret
from finfocus_common.rest import UTC, parse_datetime


class FinfocusTap(Tap):
    #: Settings whose values are masked in every log line and message.
    secret_settings: t.ClassVar[tuple[str, ...]] = ()
    #: Settings that must be http(s) URLs when set.
    url_settings: t.ClassVar[tuple[str, ...]] = ("api_url",)
    #: Settings that must be > 0 when set, and >= 0 when set.
    positive_settings: t.ClassVar[tuple[str, ...]] = ("request_timeout",)
    non_negative_settings: t.ClassVar[tuple[str, ...]] = ("lookback_days", "max_retries")

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        # Captured once: every stream of the run reads up to the same instant.
        self.run_started_at = dt.datetime.now(tz=UTC).replace(microsecond=0)
        super().__init__(*args, **kwargs)
        for name in self.secret_settings:
            register_secret(self.config.get(name))
        install_log_redaction()
        self._check_catalog()

    # --- settings ------------------------------------------------------------------

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        for name in self.secret_settings:  # before any message can mention them
            register_secret(self._config.get(name))
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigError("invalid config: " + "; ".join(exc.errors)) from None
        problems = [*self._common_config_problems(), *self.config_problems()]
        if problems and raise_errors:
            raise ConfigError("invalid config: " + "; ".join(problems))
        return errors + problems

    def config_problems(self) -> t.Iterator[str]:
        """Provider-specific checks: one readable sentence per problem."""
        return iter(())

    def _common_config_problems(self) -> t.Iterator[str]:
        config = self.config
        for name in self.url_settings:
            if config.get(name):
                url = urlparse(str(config[name]))
                if url.scheme not in {"http", "https"} or not url.netloc:
                    yield f"{name} must be an http(s) URL, got {config[name]!r}"
        for name in self.positive_settings:
            if config.get(name) is not None and _number(config[name]) <= 0:
                yield f"{name} must be > 0, got {config[name]!r}"
        for name in self.non_negative_settings:
            if config.get(name) is not None and _number(config[name]) < 0:
                yield f"{name} must be >= 0, got {config[name]!r}"
        moments = {}
        for name in ("start_date", "end_date"):
            if config.get(name):
                try:
                    moments[name] = parse_datetime(str(config[name]))
                except ValueError:
                    yield f"{name} must be an ISO 8601 date or date-time, got {config[name]!r}"
        if len(moments) == 2 and moments["start_date"] >= moments["end_date"]:
            yield (
                f"start_date {config['start_date']} must be before end_date {config['end_date']}"
            )

    # --- catalog -------------------------------------------------------------------

    def _check_catalog(self) -> None:
        """A catalog that selects a stream this tap does not have is a mistake to report,
        not an entry to skip: the user would wait for data that never comes."""
        catalog = self.input_catalog
        if catalog is None:
            return
        known = set(self.streams)
        unknown = sorted(
            entry.tap_stream_id
            for entry in catalog.streams
            if entry.tap_stream_id not in known and entry.metadata.root.selected
        )
        if unknown:
            raise ConfigError(
                f"the catalog selects {', '.join(unknown)}, not a stream of {self.name} "
                f"(its streams: {', '.join(sorted(known))})"
            )


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
