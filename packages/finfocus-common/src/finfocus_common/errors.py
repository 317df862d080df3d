"""Exit codes that orchestrators can act on, and the one-line error wrapper for every CLI.

- 0: success.
- 2: permanent failure (configuration, credentials, permissions, data we refuse to guess
  at). Do not retry; a human must act.
- 75 (EX_TEMPFAIL): a transient failure that outlasted its retries (rate limits, 5xx,
  timeouts, resets). Retry later.
- 1: unexpected internal error (a bug); the traceback is logged. Report it.
"""

from __future__ import annotations

import logging
import sys
import typing as t

import requests
from singer_sdk.exceptions import (
    ConfigValidationError,
    FatalAPIError,
    RetriableAPIError,
)

from finfocus_common.redact import redact

if t.TYPE_CHECKING:
    import click

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_PERMANENT = 2
EXIT_TRANSIENT = 75  # EX_TEMPFAIL from sysexits.h

_TRANSIENT_NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionResetError,
)


class FinfocusError(Exception):
    """An error we understand; its message is one line fit for a user."""

    exit_code = EXIT_PERMANENT


class PermanentError(FinfocusError):
    """Retrying cannot help: bad config, bad credentials, missing permission, bad data."""

    exit_code = EXIT_PERMANENT


class ConfigError(PermanentError):
    """The plugin's configuration is invalid."""


class TransientError(FinfocusError):
    """Retrying later may help: the provider stayed unavailable through every retry."""

    exit_code = EXIT_TRANSIENT


def one_line(text: str) -> str:
    """Collapse whitespace so an error is a single log line."""
    return " ".join(str(text).split())


def exit_code_for(exc: BaseException) -> int:
    """Classify an exception raised out of a plugin run."""
    if isinstance(exc, FinfocusError):
        return exc.exit_code
    if isinstance(exc, (ConfigValidationError, FatalAPIError)):
        return EXIT_PERMANENT
    if isinstance(exc, (RetriableAPIError, *_TRANSIENT_NETWORK_ERRORS)):
        return EXIT_TRANSIENT
    return EXIT_INTERNAL


def describe(exc: BaseException) -> str:
    """The one-line, secret-free message for an exception."""
    if isinstance(exc, ConfigValidationError) and exc.errors:
        return "invalid config: " + "; ".join(one_line(e) for e in exc.errors)
    if isinstance(exc, RetriableAPIError):
        return "gave up after retries: " + one_line(str(exc))
    if isinstance(exc, _TRANSIENT_NETWORK_ERRORS):
        return f"gave up after retries: network error ({type(exc).__name__})"
    text = one_line(str(exc)) or type(exc).__name__
    return text


def run_cli(command: click.Command, plugin_name: str) -> t.NoReturn:
    """Run a singer-sdk click command; turn failures into one line and a meaningful exit code.

    Known failures print `<plugin>: <message>` on stderr with no traceback; an unexpected
    exception is logged with its traceback (a bug to report) and exits 1.
    """
    try:
        command.main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except BaseException as exc:
        code = exit_code_for(exc)
        message = redact(f"{plugin_name}: {describe(exc)}")
        if code == EXIT_INTERNAL:
            logging.getLogger(plugin_name).error(
                redact(f"{plugin_name}: internal error: {one_line(str(exc))}"), exc_info=exc
            )
        print(message, file=sys.stderr, flush=True)
        sys.exit(code)
    sys.exit(EXIT_OK)  # pragma: no cover - click exits itself
