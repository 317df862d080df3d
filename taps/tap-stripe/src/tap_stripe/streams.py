"""Stripe streams: one small class per object. Reading logic lives in client.StripeStream."""

from __future__ import annotations

import datetime as dt
import typing as t

from singer_sdk.pagination import SinglePagePaginator

from tap_stripe.client import (
    EVENT_RETENTION,
    StripeStream,
    isoformat,
    response_json,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    import requests
    from singer_sdk.helpers.types import Context


class BalanceTransactionsStream(StripeStream):
    """Every movement of money on the balance; `fee_details` itemises Stripe's own fees."""

    name = "balance_transactions"
    path = "/v1/balance_transactions"
    object_type = "balance_transaction"


class ChargesStream(StripeStream):
    name = "charges"
    path = "/v1/charges"
    object_type = "charge"
    event_types = ("charge.*",)


class RefundsStream(StripeStream):
    name = "refunds"
    path = "/v1/refunds"
    object_type = "refund"
    # Older API versions announce refund changes only as charge.refund.updated.
    event_types = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")


class DisputesStream(StripeStream):
    name = "disputes"
    path = "/v1/disputes"
    object_type = "dispute"
    event_types = ("charge.dispute.*",)


class PayoutsStream(StripeStream):
    name = "payouts"
    path = "/v1/payouts"
    object_type = "payout"
    event_types = ("payout.*",)


class InvoicesStream(StripeStream):
    name = "invoices"
    path = "/v1/invoices"
    object_type = "invoice"
    event_types = ("invoice.*",)

    def get_child_context(self, record: dict, context: Context | None) -> dict:
        lines: InvoiceLineItemsStream = self.tap.streams["invoice_line_items"]
        lines.embedded[record["id"]] = record.get("lines") or {}
        return {
            "account_id": record["account_id"],
            "invoice_id": record["id"],
            "updated_at": record["updated_at"],
        }


class InvoiceLineItemsStream(StripeStream):
    """All lines of each invoice read: the embedded first page, then /lines for the rest."""

    name = "invoice_line_items"
    path = "/v1/invoices/{invoice_id}/lines"
    object_type = "line_item"
    parent_stream_type = InvoicesStream
    primary_keys: t.ClassVar[list[str]] = ["invoice_id", "id"]
    state_partitioning_keys: t.ClassVar[list[str]] = []  # one bookmark, not one per invoice

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.embedded: dict[str, dict] = {}

    @property
    def partitions(self) -> list[dict] | None:
        return None  # always called with its parent's context

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        assert context is not None, "invoice_line_items is only read through invoices"
        embedded = self.embedded.pop(context["invoice_id"], {})
        if embedded.get("data") is not None and not embedded.get("has_more"):
            lines: Iterable[dict] = embedded["data"]
        else:  # the invoice embeds its first lines only: page through all of them
            lines = self.request_records(dict(context))
        for line in lines:
            yield {
                **line,
                "invoice_id": context["invoice_id"],
                "account_id": context["account_id"],
                "updated_at": context["updated_at"],
            }


class CreditNotesStream(StripeStream):
    name = "credit_notes"
    path = "/v1/credit_notes"
    object_type = "credit_note"
    event_types = ("credit_note.*",)


class CustomersStream(StripeStream):
    name = "customers"
    path = "/v1/customers"
    object_type = "customer"
    # Not customer.*: that also matches subscription, discount and source events.
    event_types = ("customer.created", "customer.updated", "customer.deleted")


class SubscriptionsStream(StripeStream):
    name = "subscriptions"
    path = "/v1/subscriptions"
    object_type = "subscription"
    event_types = ("customer.subscription.*",)

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        # Stripe hides canceled subscriptions from the list unless asked for all.
        return {**super().get_url_params(context, next_page_token), "status": "all"}


class ProductsStream(StripeStream):
    name = "products"
    path = "/v1/products"
    object_type = "product"
    event_types = ("product.*",)


class PricesStream(StripeStream):
    name = "prices"
    path = "/v1/prices"
    object_type = "price"
    event_types = ("price.*",)


class ApplicationFeesStream(StripeStream):
    name = "application_fees"
    path = "/v1/application_fees"
    object_type = "application_fee"
    event_types = ("application_fee.created", "application_fee.refunded")


class TransfersStream(StripeStream):
    name = "transfers"
    path = "/v1/transfers"
    object_type = "transfer"
    event_types = ("transfer.*",)


class EventsStream(StripeStream):
    """Stripe's event log. Stripe keeps 30 days of it: older events cannot be read."""

    name = "events"
    path = "/v1/events"
    object_type = "event"

    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        context = dict(context or {})
        # Read whatever Stripe still holds; only a bookmark older than this is a gap.
        horizon = self.tap.run_started_at - EVENT_RETENTION
        watermark = self.watermark(context)
        lookback = dt.timedelta(days=float(self.config.get("lookback_days", 0)))
        lower = (
            self.tap.start_date
            if watermark is None
            else max(watermark - lookback, self.tap.start_date)
        )
        if lower < horizon:
            if watermark is not None:
                self.logger.warning(
                    "events bookmark %s (account %s) is older than the 30 days Stripe keeps "
                    "events: events between it and %s can no longer be read",
                    isoformat(watermark),
                    context.get("account_id"),
                    isoformat(horizon),
                )
            lower = horizon
        yield from self._objects_by_created(context, lower, self.tap.end_date)


class AccountStream(StripeStream):
    """GET /v1/account: who the key belongs to. Used to check access, never emitted."""

    name = "account"
    path = "/v1/account"
    object_type = "account"
    schema = {"type": "object", "properties": {"id": {"type": "string"}}}

    def get_new_paginator(self) -> SinglePagePaginator:  # type: ignore[override]
        return SinglePagePaginator()

    def get_url_params(self, context: Context | None, next_page_token: str | None) -> dict:
        return {}

    def check_page(self, response: requests.Response) -> None:
        self.check_json(response)

    def parse_response(self, response: requests.Response) -> Iterable[dict]:
        yield response_json(response)


STREAM_TYPES: list[type[StripeStream]] = [
    BalanceTransactionsStream,
    ChargesStream,
    RefundsStream,
    DisputesStream,
    PayoutsStream,
    InvoicesStream,
    InvoiceLineItemsStream,
    CreditNotesStream,
    CustomersStream,
    SubscriptionsStream,
    ProductsStream,
    PricesStream,
    ApplicationFeesStream,
    TransfersStream,
    EventsStream,
]
