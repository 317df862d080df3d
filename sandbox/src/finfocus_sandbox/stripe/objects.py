"""Stripe object builders, shaped like stripe-mock's fixtures (openapi fixtures3.json).

Every builder returns a fresh top-level dict with every field its fixture has. Nested
values that never change (empty addresses, card checks, ...) are shared module constants:
the dataset never mutates a nested value in place (it replaces top-level keys), which
keeps 50,000-object datasets small and makes event snapshots cheap (a shallow copy).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

EMPTY_ADDRESS: Obj = {
    "city": None,
    "country": None,
    "line1": None,
    "line2": None,
    "postal_code": None,
    "state": None,
}
CARD_CHECKS: Obj = {
    "address_line1_check": None,
    "address_postal_code_check": None,
    "cvc_check": "pass",
}
OUTCOME_AUTHORIZED: Obj = {
    "advice_code": None,
    "network_advice_code": None,
    "network_decline_code": None,
    "network_status": "approved_by_network",
    "reason": None,
    "seller_message": "Payment complete.",
    "type": "authorized",
}
_EVIDENCE_FIELDS = (
    "access_activity_log",
    "billing_address",
    "cancellation_policy",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "customer_communication",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "customer_signature",
    "duplicate_charge_documentation",
    "duplicate_charge_explanation",
    "duplicate_charge_id",
    "product_description",
    "receipt",
    "refund_policy",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "service_date",
    "service_documentation",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_documentation",
    "shipping_tracking_number",
    "uncategorized_file",
    "uncategorized_text",
)
DISPUTE_EVIDENCE: Obj = dict.fromkeys(_EVIDENCE_FIELDS) | {"enhanced_evidence": {}}
_DISABLED = {"status": "disabled"}
_UNAVAILABLE = {"status": "unavailable"}
_NOT_USED = {"used": False}
_INVOICE_SETTINGS_CUSTOMER: Obj = {
    "custom_fields": None,
    "default_payment_method": None,
    "footer": None,
    "rendering_options": None,
}
_AUTOMATIC_TAX_OFF: Obj = {
    "enabled": False,
    "liability": None,
    "status": None,
    "disabled_reason": None,
    "provider": None,
}
_SUB_AUTOMATIC_TAX_OFF: Obj = {"enabled": False, "liability": None, "disabled_reason": None}
_ISSUER_SELF: Obj = {"type": "self"}
_INVOICE_PAYMENT_SETTINGS: Obj = {
    "default_mandate": None,
    "payment_method_options": None,
    "payment_method_types": None,
}
_SUB_PAYMENT_SETTINGS: Obj = {
    "payment_method_options": None,
    "payment_method_types": None,
    "save_default_payment_method": "off",
}
_RENDERING: Obj = {
    "amount_tax_display": None,
    "pdf": {"page_size": "auto"},
    "template": None,
    "template_version": None,
}
_CANCELLATION_NONE: Obj = {"comment": None, "feedback": None, "reason": None}
_SUB_INVOICE_SETTINGS: Obj = {
    "account_tax_ids": None,
    "issuer": _ISSUER_SELF,
    "custom_fields": None,
    "description": None,
    "footer": None,
}
_TRIAL_SETTINGS: Obj = {"end_behavior": {"missing_payment_method": "create_invoice"}}
_BILLING_MODE: Obj = {"type": "classic", "flexible": None}
_CUSTOM_UNIT_AMOUNT_NONE = None


def list_of(data: list[Obj], url: str, has_more: bool = False) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def fee_detail(
    amount: int, currency: str, description: str, type_: str, application: str | None = None
) -> Obj:
    return {
        "amount": amount,
        "application": application,
        "currency": currency,
        "description": description,
        "type": type_,
    }


def balance_transaction(
    *,
    id: str,
    amount: int,
    available_on: int,
    created: int,
    currency: str,
    description: str | None,
    exchange_rate: float | None,
    fee: int,
    fee_details: list[Obj],
    reporting_category: str,
    source: str | None,
    status: str,
    type: str,
) -> Obj:
    return {
        "id": id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": created,
        "currency": currency,
        "description": description,
        "exchange_rate": exchange_rate,
        "fee": fee,
        "fee_details": fee_details,
        "net": amount - fee,
        "reporting_category": reporting_category,
        "source": source,
        "status": status,
        "type": type,
    }


def card_details(
    *,
    brand: str,
    country: str,
    exp_month: int,
    exp_year: int,
    fingerprint: str,
    funding: str,
    last4: str,
    amount: int,
) -> Obj:
    return {
        "card": {
            "amount_authorized": amount,
            "authorization_code": None,
            "brand": brand,
            "checks": CARD_CHECKS,
            "country": country,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "extended_authorization": _DISABLED,
            "fingerprint": fingerprint,
            "funding": funding,
            "incremental_authorization": _UNAVAILABLE,
            "installments": None,
            "last4": last4,
            "mandate": None,
            "multicapture": _UNAVAILABLE,
            "network": brand,
            "network_token": _NOT_USED,
            "network_transaction_id": None,
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
        "type": "card",
    }


def charge(
    *,
    id: str,
    amount: int,
    balance_transaction: str,
    billing_details: Obj,
    created: int,
    currency: str,
    customer: str | None,
    description: str | None,
    payment_intent: str,
    payment_method: str,
    payment_method_details: Obj,
    receipt_url: str,
    receipt_email: str | None,
    statement_descriptor: str,
) -> Obj:
    return {
        "id": id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": balance_transaction,
        "billing_details": billing_details,
        "calculated_statement_descriptor": statement_descriptor,
        "captured": True,
        "created": created,
        "currency": currency,
        "customer": customer,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": {},
        "on_behalf_of": None,
        "outcome": OUTCOME_AUTHORIZED,
        "paid": True,
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "payment_method_details": payment_method_details,
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": receipt_url,
        "refunded": False,
        "refunds": list_of([], f"/v1/charges/{id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    *,
    id: str,
    amount: int,
    balance_transaction: str,
    charge: str,
    created: int,
    currency: str,
    payment_intent: str | None,
    reason: str | None,
    customer: str | None,
    payment_method: str | None,
) -> Obj:
    return {
        "id": id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "charge": charge,
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "destination_details": {"card": {"type": "refund"}, "type": "card"},
        "metadata": {},
        "payment_intent": payment_intent,
        "payment_method": payment_method,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def dispute(
    *,
    id: str,
    amount: int,
    balance_transactions: list[Obj],
    charge: str,
    created: int,
    currency: str,
    due_by: int,
    payment_intent: str | None,
    brand: str,
    reason: str,
    reason_code: str,
    status: str,
) -> Obj:
    return {
        "id": id,
        "object": "dispute",
        "amount": amount,
        "balance_transactions": balance_transactions,
        "charge": charge,
        "created": created,
        "currency": currency,
        "enhanced_eligibility_types": [],
        "evidence": DISPUTE_EVIDENCE,
        "evidence_details": {
            "due_by": due_by,
            "enhanced_eligibility": {},
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment_intent,
        "payment_method_details": {
            "card": {
                "brand": brand,
                "case_type": "chargeback",
                "network_reason_code": reason_code,
                "network": brand,
            },
            "type": "card",
        },
        "reason": reason,
        "status": status,
    }


def payout(
    *,
    id: str,
    amount: int,
    arrival_date: int,
    automatic: bool,
    balance_transaction: str,
    created: int,
    currency: str,
    destination: str,
    status: str,
) -> Obj:
    return {
        "id": id,
        "object": "payout",
        "amount": amount,
        "application_fee": None,
        "application_fee_amount": None,
        "arrival_date": arrival_date,
        "automatic": automatic,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": "STRIPE PAYOUT",
        "destination": destination,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "livemode": False,
        "metadata": {},
        "method": "standard",
        "original_payout": None,
        "payout_method": None,
        "reconciliation_status": "completed" if automatic else "not_applicable",
        "reversed_by": None,
        "source_type": "card",
        "statement_descriptor": None,
        "status": status,
        "trace_id": {"status": "supported" if status == "paid" else "pending", "value": None},
        "type": "bank_account",
    }


def customer(
    *,
    id: str,
    created: int,
    currency: str | None,
    email: str,
    name: str,
    invoice_prefix: str,
    address: Obj,
    phone: str | None,
) -> Obj:
    return {
        "id": id,
        "object": "customer",
        "address": address,
        "balance": 0,
        "created": created,
        "currency": currency,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": email,
        "invoice_prefix": invoice_prefix,
        "invoice_settings": _INVOICE_SETTINGS_CUSTOMER,
        "livemode": False,
        "metadata": {},
        "name": name,
        "next_invoice_sequence": 1,
        "phone": phone,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def product(
    *,
    id: str,
    created: int,
    name: str,
    description: str,
    default_price: str | None,
    unit_label: str | None,
    type: str = "service",
) -> Obj:
    return {
        "id": id,
        "object": "product",
        "active": True,
        "created": created,
        "default_price": default_price,
        "description": description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": type,
        "unit_label": unit_label,
        "updated": created,
        "url": None,
    }


def price(
    *,
    id: str,
    created: int,
    currency: str,
    product: str,
    unit_amount: int,
    nickname: str | None,
    interval: str | None,
    usage_type: str = "licensed",
    lookup_key: str | None = None,
) -> Obj:
    recurring = (
        {
            "interval": interval,
            "interval_count": 1,
            "meter": None,
            "usage_type": usage_type,
            "trial_period_days": None,
        }
        if interval
        else None
    )
    return {
        "id": id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": _CUSTOM_UNIT_AMOUNT_NONE,
        "livemode": False,
        "lookup_key": lookup_key,
        "metadata": {},
        "nickname": nickname,
        "product": product,
        "recurring": recurring,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring" if interval else "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def plan_from_price(p: Obj) -> Obj:
    """The legacy `plan` view of a recurring price, as subscription items still carry it."""
    recurring = p["recurring"] or {}
    return {
        "id": p["id"],
        "object": "plan",
        "active": p["active"],
        "amount": p["unit_amount"],
        "amount_decimal": p["unit_amount_decimal"],
        "billing_scheme": p["billing_scheme"],
        "created": p["created"],
        "currency": p["currency"],
        "interval": recurring.get("interval"),
        "interval_count": recurring.get("interval_count"),
        "livemode": False,
        "metadata": {},
        "meter": None,
        "nickname": p["nickname"],
        "product": p["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": recurring.get("usage_type", "licensed"),
    }


def subscription_item(
    *,
    id: str,
    created: int,
    price: Obj,
    plan: Obj,
    quantity: int,
    subscription: str,
    period_start: int,
    period_end: int,
) -> Obj:
    return {
        "id": id,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": created,
        "current_period_end": period_end,
        "current_period_start": period_start,
        "discounts": [],
        "metadata": {},
        "plan": plan,
        "price": price,
        "quantity": quantity,
        "subscription": subscription,
        "tax_rates": [],
    }


def subscription(
    *,
    id: str,
    created: int,
    currency: str,
    customer: str,
    items: list[Obj],
    status: str,
    canceled_at: int | None,
    ended_at: int | None,
    latest_invoice: str | None,
    trial_start: int | None,
    trial_end: int | None,
    cancellation_reason: str | None,
) -> Obj:
    return {
        "id": id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": _SUB_AUTOMATIC_TAX_OFF,
        "billing_cycle_anchor": created,
        "billing_cycle_anchor_config": None,
        "billing_mode": _BILLING_MODE,
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": canceled_at,
        "cancellation_details": (
            _CANCELLATION_NONE
            if cancellation_reason is None
            else {"comment": None, "feedback": None, "reason": cancellation_reason}
        ),
        "collection_method": "charge_automatically",
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": ended_at,
        "invoice_settings": _SUB_INVOICE_SETTINGS,
        "items": list_of(items, f"/v1/subscription_items?subscription={id}"),
        "latest_invoice": latest_invoice,
        "livemode": False,
        "managed_payments": None,
        "metadata": {},
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": _SUB_PAYMENT_SETTINGS,
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": created,
        "status": status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": trial_end,
        "trial_settings": _TRIAL_SETTINGS,
        "trial_start": trial_start,
    }


def line_item(
    *,
    id: str,
    amount: int,
    currency: str,
    description: str,
    invoice: str,
    period_start: int,
    period_end: int,
    quantity: int,
    price: str,
    product: str,
    unit_amount: int,
    subscription: str | None,
    subscription_item: str | None,
    invoice_item: str | None,
) -> Obj:
    if subscription is not None:
        parent: Obj = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": subscription,
                "subscription_item": subscription_item,
            },
            "type": "subscription_item_details",
        }
    else:
        parent = {
            "invoice_item_details": {
                "invoice_item": invoice_item,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": None,
            },
            "subscription_item_details": None,
            "type": "invoice_item_details",
        }
    return {
        "id": id,
        "object": "line_item",
        "amount": amount,
        "currency": currency,
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"end": period_end, "start": period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price, "product": product},
            "type": "price_details",
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
        "quantity_decimal": str(quantity),
        "subscription": subscription,
        "subtotal": amount,
        "taxes": [],
    }


def invoice(
    *,
    id: str,
    account_country: str,
    account_name: str,
    billing_reason: str,
    collection_method: str,
    created: int,
    currency: str,
    customer: Obj,
    lines: list[Obj],
    number: str | None,
    period_start: int,
    period_end: int,
    status: str,
    subscription: str | None,
    finalized_at: int | None,
    paid_at: int | None,
    voided_at: int | None,
    uncollectible_at: int | None,
    due_date: int | None,
    hosted_url: str | None,
    pdf_url: str | None,
    embedded_lines: int = 10,
) -> Obj:
    total = sum(line["amount"] for line in lines)
    paid = total if status == "paid" else 0
    remaining = 0 if status in ("paid", "void") else total
    open_like = status in ("open", "draft")
    return {
        "id": id,
        "object": "invoice",
        "account_country": account_country,
        "account_name": account_name,
        "account_tax_ids": None,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": paid,
        "amount_remaining": remaining,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1 if status in ("paid", "uncollectible") else 0,
        "attempted": status in ("paid", "uncollectible"),
        "auto_advance": open_like,
        "automatic_tax": _AUTOMATIC_TAX_OFF,
        "automatically_finalizes_at": created + 3600 if status == "draft" else None,
        "billing_reason": billing_reason,
        "collection_method": collection_method,
        "created": created,
        "currency": currency,
        "custom_fields": None,
        "customer": customer["id"],
        "customer_account": None,
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "customer_phone": customer["phone"],
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": due_date,
        "effective_at": finalized_at,
        "ending_balance": 0 if finalized_at else None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": hosted_url,
        "invoice_pdf": pdf_url,
        "issuer": _ISSUER_SELF,
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": list_of(
            lines[:embedded_lines], f"/v1/invoices/{id}/lines", len(lines) > embedded_lines
        ),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": created + 3600 if status in ("draft", "open") else None,
        "number": number,
        "on_behalf_of": None,
        "parent": (
            {
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": subscription},
                "type": "subscription_details",
            }
            if subscription
            else None
        ),
        "payment_settings": _INVOICE_PAYMENT_SETTINGS,
        "period_end": period_end,
        "period_start": period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": _RENDERING,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": {
            "finalized_at": finalized_at,
            "marked_uncollectible_at": uncollectible_at,
            "paid_at": paid_at,
            "voided_at": voided_at,
        },
        "subscription": subscription,
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "test_clock": None,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": created,
    }


def credit_note_line(
    *, id: str, amount: int, description: str, invoice_line_item: str, quantity: int
) -> Obj:
    return {
        "id": id,
        "object": "credit_note_line_item",
        "amount": amount,
        "description": description,
        "discount_amount": 0,
        "discount_amounts": [],
        "invoice_line_item": invoice_line_item,
        "livemode": False,
        "metadata": None,
        "pretax_credit_amounts": [],
        "quantity": quantity,
        "tax_rates": [],
        "taxes": [],
        "type": "invoice_line_item",
        "unit_amount": None,
        "unit_amount_decimal": None,
    }


def credit_note(
    *,
    id: str,
    amount: int,
    created: int,
    currency: str,
    customer: str,
    customer_balance_transaction: str,
    invoice: str,
    lines: list[Obj],
    number: str,
    pdf: str,
    reason: str,
    memo: str | None,
) -> Obj:
    return {
        "id": id,
        "object": "credit_note",
        "amount": amount,
        "amount_shipping": 0,
        "created": created,
        "currency": currency,
        "customer": customer,
        "customer_account": None,
        "customer_balance_transaction": customer_balance_transaction,
        "discount_amount": 0,
        "discount_amounts": [],
        "effective_at": created,
        "invoice": invoice,
        "lines": list_of(lines, f"/v1/credit_notes/{id}/lines"),
        "livemode": False,
        "memo": memo,
        "metadata": {},
        "number": number,
        "out_of_band_amount": None,
        "pdf": pdf,
        "post_payment_amount": amount,
        "pre_payment_amount": 0,
        "pretax_credit_amounts": [],
        "reason": reason,
        "refunds": [],
        "shipping_cost": None,
        "status": "issued",
        "subtotal": amount,
        "subtotal_excluding_tax": amount,
        "total": amount,
        "total_excluding_tax": amount,
        "total_taxes": [],
        "type": "post_payment",
        "voided_at": None,
    }


def application_fee(
    *,
    id: str,
    account: str,
    amount: int,
    application: str,
    balance_transaction: str,
    charge: str,
    created: int,
    currency: str,
) -> Obj:
    return {
        "id": id,
        "object": "application_fee",
        "account": account,
        "amount": amount,
        "amount_refunded": 0,
        "application": application,
        "balance_transaction": balance_transaction,
        "charge": charge,
        "created": created,
        "currency": currency,
        "fee_source": {"charge": charge, "type": "charge"},
        "livemode": False,
        "originating_transaction": None,
        "refunded": False,
        "refunds": list_of([], f"/v1/application_fees/{id}/refunds"),
    }


def fee_refund(
    *, id: str, amount: int, balance_transaction: str, created: int, currency: str, fee: str
) -> Obj:
    return {
        "id": id,
        "object": "fee_refund",
        "amount": amount,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "fee": fee,
        "metadata": {},
    }


def transfer(
    *,
    id: str,
    amount: int,
    balance_transaction: str,
    created: int,
    currency: str,
    destination: str,
    destination_payment: str,
    description: str | None,
    transfer_group: str | None,
) -> Obj:
    return {
        "id": id,
        "object": "transfer",
        "amount": amount,
        "amount_reversed": 0,
        "balance_transaction": balance_transaction,
        "created": created,
        "currency": currency,
        "description": description,
        "destination": destination,
        "destination_payment": destination_payment,
        "livemode": False,
        "metadata": {},
        "reversals": list_of([], f"/v1/transfers/{id}/reversals"),
        "reversed": False,
        "source_transaction": None,
        "source_type": "card",
        "transfer_group": transfer_group,
    }


def event(
    *,
    id: str,
    account: str | None,
    api_version: str,
    created: int,
    obj: Obj,
    previous_attributes: Obj | None,
    request_id: str | None,
    idempotency_key: str | None,
    type: str,
) -> Obj:
    data: Obj = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    evt: Obj = {
        "id": id,
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": type,
    }
    if account is not None:
        evt["account"] = account
    return evt


def account(
    *,
    id: str,
    country: str,
    created: int,
    default_currency: str,
    email: str,
    name: str,
    type: str,
    controller: str,
) -> Obj:
    no_requirements: Obj = {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": [],
        "disabled_reason": None,
        "errors": [],
        "eventually_due": [],
        "past_due": [],
        "pending_verification": [],
    }
    return {
        "id": id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": "5734",
            "minority_owned_business_designation": None,
            "name": name,
            "product_description": None,
            "support_address": None,
            "support_email": email,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": controller},
        "country": country,
        "created": created,
        "default_currency": default_currency,
        "details_submitted": True,
        "email": email,
        "external_accounts": list_of([], f"/v1/accounts/{id}/external_accounts"),
        "future_requirements": no_requirements,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": no_requirements,
        "settings": {
            "bacs_debit_payments": {"display_name": None, "service_user_number": None},
            "branding": {
                "icon": None,
                "logo": None,
                "primary_color": None,
                "secondary_color": None,
            },
            "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
            "card_payments": {
                "decline_on": {"avs_failure": False, "cvc_failure": True},
                "statement_descriptor_prefix": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "dashboard": {"display_name": name, "timezone": "Etc/UTC"},
            "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
            "payments": {
                "statement_descriptor": name.upper()[:22],
                "statement_descriptor_kana": None,
                "statement_descriptor_kanji": None,
                "statement_descriptor_prefix_kana": None,
                "statement_descriptor_prefix_kanji": None,
            },
            "payouts": {
                "debit_negative_balances": True,
                "schedule": {"delay_days": 2, "interval": "daily"},
                "statement_descriptor": None,
            },
            "sepa_debit_payments": {},
        },
        "tos_acceptance": {"date": created, "ip": None, "user_agent": None},
        "type": type,
    }
