"""Generate src/tap_stripe/schemas/*.json from Stripe's public fixtures and OpenAPI spec.

Run from the repository root (needs ../shared, which CI and every engineer have):

    uv run python taps/tap-stripe/scripts/generate_schemas.py

Every top-level field of an object is typed; nested objects and arrays are kept whole
(`object` / `array` without sub-schemas) so nothing inside them is lost or coerced.
Fields from the 2022 spec that newer API versions dropped are kept, so accounts pinned to
an older Stripe-Version still land every field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[2].parent / "shared" / "samples" / "stripe"
OUT = HERE.parent / "src" / "tap_stripe" / "schemas"

# stream name -> Stripe object name
STREAMS = {
    "balance_transactions": "balance_transaction",
    "charges": "charge",
    "refunds": "refund",
    "disputes": "dispute",
    "payouts": "payout",
    "invoices": "invoice",
    "invoice_line_items": "line_item",
    "credit_notes": "credit_note",
    "customers": "customer",
    "subscriptions": "subscription",
    "products": "product",
    "prices": "price",
    "application_fees": "application_fee",
    "transfers": "transfer",
    "events": "event",
}

# Fields whose fixture value is null and whose type the 2022 spec does not give.
NULL_FIELD_TYPES = {
    "application_fee_amount": "integer",
    "application_fee_percent": "number",
    "days_until_due": "integer",
    "ending_balance": "integer",
    "out_of_band_amount": "integer",
    "total_excluding_tax": "integer",
    "automatically_finalizes_at": "integer",
    "shippable": "boolean",
    "account_tax_ids": "array",
    "custom_fields": "array",
    "total_pretax_credit_amounts": "array",
    "total_taxes": "array",
    "pretax_credit_amounts": "array",
    "taxes": "array",
}

TRACE_FIELDS = {
    "account_id": {
        "type": ["string"],
        "description": "finfocus: the Stripe account the object was read from "
        "(the platform, or a connected account sent as Stripe-Account)",
    },
    "updated_at": {
        "type": ["string"],
        "format": "date-time",
        "description": "finfocus: when this version of the object came to be "
        "(its creation, or the created time of the event that carried it)",
    },
}
DELETED_FIELD = {
    "type": ["boolean", "null"],
    "description": "true when a *.deleted event reported the object deleted",
}
INVOICE_ID_FIELD = {
    "type": ["string"],
    "description": "finfocus: the invoice this line belongs to",
}


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def spec_type(prop: dict) -> str | None:
    if "type" in prop:
        return str(prop["type"])
    if "anyOf" in prop:  # expandable: an id string unless expanded
        kinds = {p.get("type") for p in prop["anyOf"]}
        return "string" if "string" in kinds else "object"
    if "$ref" in prop or "allOf" in prop:
        return "object"
    return None


def property_schema(kind: str) -> dict:
    schema: dict = {"type": [kind, "null"]}
    if kind == "array":
        schema["items"] = {}
    return schema


def build(stream: str, obj: str, fixtures: dict, spec: dict) -> dict:
    example = fixtures[obj]
    spec_props = spec.get(obj, {}).get("properties", {})
    props: dict[str, dict] = {}
    for field in sorted(set(example) | set(spec_props)):
        value = example.get(field)
        kind = (
            json_type(value)
            if value is not None
            else spec_type(spec_props.get(field, {})) or NULL_FIELD_TYPES.get(field, "string")
        )
        props[field] = property_schema(kind)
    props.update(TRACE_FIELDS)
    if stream not in {"balance_transactions", "events", "invoice_line_items"}:
        props["deleted"] = DELETED_FIELD
    if stream == "invoice_line_items":
        props["invoice_id"] = INVOICE_ID_FIELD
    return {"type": "object", "properties": props, "required": ["id"]}


def main() -> int:
    fixtures = json.loads((SAMPLES / "fixtures3.json").read_text())["resources"]
    spec = json.loads((SAMPLES / "spec3_2022_schemas_subset.json").read_text())["schemas"]
    OUT.mkdir(parents=True, exist_ok=True)
    for stream, obj in STREAMS.items():
        schema = build(stream, obj, fixtures, spec)
        (OUT / f"{stream}.json").write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(STREAMS)} schemas to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
