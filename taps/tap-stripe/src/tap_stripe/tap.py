"""tap-stripe: settings, the accounts to read, and the stream list."""

from __future__ import annotations

import datetime as dt
import functools
import re
import typing as t

from finfocus_common.errors import run_cli
from finfocus_common.tap import FinfocusTap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_stripe.client import parse_datetime
from tap_stripe.streams import STREAM_TYPES, AccountStream

if t.TYPE_CHECKING:
    from tap_stripe.client import StripeStream

DEFAULT_HISTORY = dt.timedelta(days=365)
ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]+$")


class TapStripe(FinfocusTap):
    """Singer tap for Stripe's financial objects."""

    name = "tap-stripe"
    package_name = "finfocus-tap-stripe"
    message_writer_class = MsgSpecWriter  # faster, and Decimal-exact like the default

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Stripe secret key (sk_...) or restricted key (rk_...) with read access",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest `created` time to extract (ISO 8601). "
            "Default: 365 days before the run",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Optional exclusive upper bound on `created` (ISO 8601). Default: now",
        ),
        th.Property(
            "account_ids",
            th.ArrayType(th.StringType),
            default=[],
            description="Connected accounts (acct_...) to read besides the platform, "
            "each sent as the Stripe-Account header",
        ),
        th.Property(
            "api_url",
            th.StringType,
            default="https://api.stripe.com",
            description="Base URL of the Stripe API (tests, sandboxes and proxies point it "
            "elsewhere)",
        ),
        th.Property(
            "stripe_version",
            th.StringType,
            description="Stripe-Version header to pin the API version (e.g. 2024-06-20). "
            "Default: the account's own API version",
        ),
        th.Property(
            "lookback_days",
            th.NumberType,
            default=0,
            description="How far before the bookmark each incremental run re-reads",
        ),
        th.Property(
            "window_days",
            th.NumberType,
            default=7,
            description="Width of each created-time window; the bookmark advances per window",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType,
            default=60,
            description="Seconds to wait for one HTTP response before retrying",
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of one request on 429, 5xx, timeouts and resets",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType,
            default=1.0,
            description="First wait of the exponential backoff when Stripe advertises none",
        ),
    ).to_dict()

    secret_settings = ("api_key",)
    positive_settings = ("request_timeout", "window_days")

    def config_problems(self) -> t.Iterator[str]:
        config = self.config
        if str(config.get("api_key", "")).startswith("pk_"):
            yield "api_key is a publishable key (pk_...); use a secret or restricted key"
        for account in config.get("account_ids") or []:
            if not ACCOUNT_ID.match(str(account)):
                yield f"account_ids entry {account!r} is not a Stripe account id (acct_...)"

    # --- run scope -----------------------------------------------------------------

    @functools.cached_property
    def start_date(self) -> dt.datetime:
        value = self.config.get("start_date")
        return parse_datetime(value) if value else self.run_started_at - DEFAULT_HISTORY

    @functools.cached_property
    def end_date(self) -> dt.datetime:
        value = self.config.get("end_date")
        return min(parse_datetime(value), self.run_started_at) if value else self.run_started_at

    @property
    def user_agent(self) -> str:
        return f"finfocus-tap-stripe/{self.plugin_version}"

    @functools.cached_property
    def platform_account_id(self) -> str:
        """The account that owns the key (GET /v1/account); fails fast on a bad key."""
        return self._retrieve_account(None)

    @functools.cached_property
    def account_ids(self) -> list[str]:
        """The platform, then each connected account, each checked for access up front."""
        accounts = [self.platform_account_id]
        for account in self.config.get("account_ids") or []:
            if account not in accounts:
                self._retrieve_account(account)
                accounts.append(account)
        return accounts

    def _retrieve_account(self, account: str | None) -> str:
        stream = AccountStream(tap=self)
        context = {"account_id": account} if account else {}
        body = next(iter(stream.request_records(context)))
        return str(body["id"])

    def discover_streams(self) -> list[StripeStream]:
        return [stream_class(tap=self) for stream_class in STREAM_TYPES]


def main() -> None:
    """Console entry point: `tap-stripe`."""
    run_cli(TapStripe.cli, "tap-stripe")


if __name__ == "__main__":
    main()
