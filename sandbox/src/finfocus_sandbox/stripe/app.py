"""The fake Stripe API: a WSGI app over a StripeDataset, and FakeStripe to serve it.

Read-only (GET) endpoints with Stripe's list semantics: newest first, `limit` 1..100
(default 10), `starting_after` / `ending_before` cursors, `created` as an integer or
`created[gt|gte|lt|lte]`, each list's documented filters, and Stripe's error bodies for
bad keys, unknown parameters, unknown ids and connected accounts the key cannot reach.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from finfocus_sandbox.faults import FaultInjector, FaultProfile, FaultSet, Reply, json_reply
from finfocus_sandbox.server import BackgroundServer
from finfocus_sandbox.stripe.dataset import EVENT_RETENTION_SECONDS, Collection, StripeDataset

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from finfocus_sandbox.faults import Fault
    from finfocus_sandbox.stripe.dataset import AccountData

Obj = dict[str, Any]
Keep = Callable[[Obj], bool]

DOCS = "https://stripe.com/docs"
MISSING_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    f"{DOCS}/api#authentication for details, or we can help at https://support.stripe.com/."
)
PUBLISHABLE_KEY = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. "
    "You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)
RATE_LIMITED = f"Request rate limit exceeded. Learn more about rate limits here {DOCS}/rate-limits."
VERSION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
PAGING = frozenset({"limit", "starting_after", "ending_before", "expand"})


class StripeError(Exception):
    """An error answered with Stripe's body: {"error": {"type", "message", ...}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []
        self.error: Obj = {"message": message, "type": type_}
        if code is not None:
            self.error["code"] = code
            self.error["doc_url"] = f"{DOCS}/error-codes/{code.replace('_', '-')}"
        if param is not None:
            self.error["param"] = param


def mask_key(key: str) -> str:
    """Mask a key as Stripe does in errors: keep the prefix and the last four characters."""
    match = re.match(r"^((?:sk|rk|pk)_(?:test|live)_)(.*)$", key)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", key)
    shown = rest[-4:] if len(rest) > 4 else ""
    return prefix + "*" * (len(rest) - len(shown)) + shown


def unknown_parameter(name: str) -> StripeError:
    return StripeError(
        400, f"Received unknown parameter: {name}", code="parameter_unknown", param=name
    )


def invalid_integer(name: str, value: str) -> StripeError:
    return StripeError(
        400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=name
    )


def no_such(kind: str, id_: str, param: str, status: int = 404) -> StripeError:
    noun = kind.replace("_", " ")
    return StripeError(status, f"No such {noun}: '{id_}'", code="resource_missing", param=param)


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise invalid_integer(name, value) from None


# ------------------------------------------------------------------------ parameters
@dataclass
class Params:
    """A query string the way Stripe reads it: flat values, `a[b]` hashes, `a[]` arrays."""

    flat: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, dict[str, str]] = field(default_factory=dict)
    arrays: dict[str, list[str]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # every key as sent

    @classmethod
    def parse(cls, query: str) -> Params:
        params = cls()
        for key, value in parse_qsl(query, keep_blank_values=True):
            params.names.append(key)
            match = re.match(r"^([^\[\]]+)\[([^\[\]]*)\]$", key)
            if match is None:
                params.flat[key] = value
            elif match.group(2) == "" or match.group(2).isdigit():
                params.arrays.setdefault(match.group(1), []).append(value)
            else:
                params.hashes.setdefault(match.group(1), {})[match.group(2)] = value
        return params

    def top_level(self) -> list[tuple[str, str]]:
        """(top-level name, key as sent) pairs."""
        return [(name.split("[", 1)[0], name) for name in self.names]


def _range(params: Params, name: str) -> dict[str, int]:
    """`name=ts` or `name[gt|gte|lt|lte]=ts` as a dict of bounds."""
    bounds: dict[str, int] = {}
    if name in params.flat:
        exact = _int(name, params.flat[name])
        bounds = {"gte": exact, "lte": exact}
    for op, value in params.hashes.get(name, {}).items():
        if op not in ("gt", "gte", "lt", "lte"):
            raise unknown_parameter(f"{name}[{op}]")
        bounds[op] = _int(f"{name}[{op}]", value)
    return bounds


def _in_range(value: int | None, bounds: dict[str, int]) -> bool:
    if value is None:
        return False
    return (
        ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


# ------------------------------------------------------------------------ list endpoints
FilterBuilder = Callable[[Params, str, "AccountData"], Keep | None]


def eq(field_name: str) -> FilterBuilder:
    def build(params: Params, name: str, data: AccountData) -> Keep | None:
        wanted = params.flat.get(name)
        return None if wanted is None else (lambda obj: obj.get(field_name) == wanted)

    return build


def boolean(field_name: str) -> FilterBuilder:
    def build(params: Params, name: str, data: AccountData) -> Keep | None:
        raw = params.flat.get(name)
        if raw is None:
            return None
        if raw not in ("true", "false"):
            raise StripeError(400, f"Invalid boolean: {raw}", param=name)
        wanted = raw == "true"
        return lambda obj: obj.get(field_name) is wanted

    return build


def ranged(field_name: str) -> FilterBuilder:
    def build(params: Params, name: str, data: AccountData) -> Keep | None:
        bounds = _range(params, name)
        return (lambda obj: _in_range(obj.get(field_name), bounds)) if bounds else None

    return build


def payout_filter(params: Params, name: str, data: AccountData) -> Keep | None:
    payout = params.flat.get(name)
    if payout is None:
        return None
    if data.collections["payout"].get(payout) is None:
        raise no_such("payout", payout, name, status=400)
    return lambda txn: data.payout_of.get(txn["id"]) == payout


SUBSCRIPTION_STATUSES = {
    "active",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "trialing",
    "paused",
    "all",
    "ended",
}


def subscription_status(params: Params, name: str, data: AccountData) -> Keep | None:
    wanted = params.flat.get(name)
    if wanted is None:  # Stripe lists subscriptions that are not canceled by default
        return lambda sub: sub["status"] != "canceled"
    if wanted not in SUBSCRIPTION_STATUSES:
        raise StripeError(
            400,
            f"Invalid status: must be one of {', '.join(sorted(SUBSCRIPTION_STATUSES))}",
            param=name,
        )
    if wanted == "all":
        return None
    if wanted == "ended":
        return lambda sub: sub["status"] in ("canceled", "incomplete_expired")
    return lambda sub: sub["status"] == wanted


def subscription_price(params: Params, name: str, data: AccountData) -> Keep | None:
    price = params.flat.get(name)
    if price is None:
        return None
    return lambda sub: any(item["price"]["id"] == price for item in sub["items"]["data"])


def _type_matcher(pattern: str) -> Callable[[str], bool]:
    if "*" not in pattern:
        return lambda t: t == pattern
    regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
    return lambda t: regex.match(t) is not None


def event_type(params: Params, name: str, data: AccountData) -> Keep | None:
    single = params.flat.get("type")
    several = params.arrays.get("types")
    if single is not None and several is not None:
        raise StripeError(400, "You may pass either type or types, but not both.", param="types")
    if name == "types":
        if several is None:
            return None
        if len(several) > 20:
            raise StripeError(400, "You may pass at most 20 values for types.", param="types")
        wanted = set(several)
        return lambda evt: evt["type"] in wanted
    if single is None:
        return None
    match = _type_matcher(single)
    return lambda evt: match(evt["type"])


@dataclass(frozen=True)
class ListEndpoint:
    """A list endpoint: its object kind, its filters, and documented params it ignores."""

    kind: str
    filters: dict[str, FilterBuilder] = field(default_factory=dict)
    ignored: frozenset[str] = frozenset()
    created: bool = True


# Parameters per Stripe's API reference (stripe-python's *ListParams). Every list here
# takes `created`; the invoice lines endpoint does not.
LISTS: dict[str, ListEndpoint] = {
    "balance_transactions": ListEndpoint(
        "balance_transaction",
        {
            "currency": eq("currency"),
            "payout": payout_filter,
            "source": eq("source"),
            "type": eq("type"),
        },
    ),
    "charges": ListEndpoint(
        "charge",
        {
            "customer": eq("customer"),
            "payment_intent": eq("payment_intent"),
            "transfer_group": eq("transfer_group"),
        },
    ),
    "refunds": ListEndpoint(
        "refund",
        {"charge": eq("charge"), "payment_intent": eq("payment_intent")},
        frozenset({"payment_attempt_record", "payment_record"}),
    ),
    "disputes": ListEndpoint(
        "dispute", {"charge": eq("charge"), "payment_intent": eq("payment_intent")}
    ),
    "payouts": ListEndpoint(
        "payout",
        {
            "arrival_date": ranged("arrival_date"),
            "destination": eq("destination"),
            "status": eq("status"),
        },
    ),
    "invoices": ListEndpoint(
        "invoice",
        {
            "collection_method": eq("collection_method"),
            "customer": eq("customer"),
            "due_date": ranged("due_date"),
            "status": eq("status"),
            "subscription": eq("subscription"),
        },
        frozenset({"customer_account"}),
    ),
    "credit_notes": ListEndpoint(
        "credit_note",
        {"customer": eq("customer"), "invoice": eq("invoice")},
        frozenset({"customer_account"}),
    ),
    "customers": ListEndpoint("customer", {"email": eq("email")}, frozenset({"test_clock"})),
    "subscriptions": ListEndpoint(
        "subscription",
        {
            "collection_method": eq("collection_method"),
            "customer": eq("customer"),
            "price": subscription_price,
            "status": subscription_status,
            "current_period_end": ranged("current_period_end"),
            "current_period_start": ranged("current_period_start"),
        },
        frozenset({"automatic_tax", "test_clock", "customer_account"}),
    ),
    "products": ListEndpoint(
        "product",
        {"active": boolean("active"), "shippable": boolean("shippable"), "url": eq("url")},
        frozenset({"ids"}),
    ),
    "prices": ListEndpoint(
        "price",
        {
            "active": boolean("active"),
            "currency": eq("currency"),
            "product": eq("product"),
            "type": eq("type"),
        },
        frozenset({"lookup_keys", "recurring"}),
    ),
    "application_fees": ListEndpoint("application_fee", {"charge": eq("charge")}),
    "transfers": ListEndpoint(
        "transfer", {"destination": eq("destination"), "transfer_group": eq("transfer_group")}
    ),
    "events": ListEndpoint(
        "event", {"type": event_type, "types": event_type}, frozenset({"delivery_success"})
    ),
}
RETRIEVABLE = {name: spec.kind for name, spec in LISTS.items()}


def _check_params(params: Params, allowed: set[str] | frozenset[str]) -> None:
    for top, sent in params.top_level():
        if top not in allowed:
            raise unknown_parameter(sent)
    for name, value in params.flat.items():
        if value == "":
            raise StripeError(
                400,
                f"You passed an empty string for '{name}'. We assume empty values are an "
                f"attempt to unset a parameter; however '{name}' cannot be unset. You should "
                f"remove '{name}' from your request or supply a non-empty value.",
                code="parameter_invalid_empty",
                param=name,
            )


def _limit(params: Params) -> int:
    if "limit" not in params.flat:
        return 10
    limit = _int("limit", params.flat["limit"])
    if limit < 1:
        raise StripeError(400, "This value must be greater than or equal to 1.", param="limit")
    if limit > 100:
        raise StripeError(400, "This value must be less than or equal to 100.", param="limit")
    return limit


def _cursors(params: Params) -> tuple[str | None, str | None]:
    after, before = params.flat.get("starting_after"), params.flat.get("ending_before")
    if after is not None and before is not None:
        raise StripeError(
            400,
            "You may only specify one of these parameters: ending_before, starting_after.",
            param="ending_before",
        )
    return after, before


def paginate(
    items: list[Obj],
    lo: int,
    hi: int,
    keep: Keep | None,
    limit: int,
    after_at: int | None,
    before_at: int | None,
) -> tuple[list[Obj], bool]:
    """A page of items[lo:hi] read newest (high index) first. O(page) without filters."""
    out: list[Obj] = []
    if before_at is None:
        i = (hi if after_at is None else min(hi, after_at)) - 1
        while i >= lo and len(out) <= limit:
            if keep is None or keep(items[i]):
                out.append(items[i])
            i -= 1
        return out[:limit], len(out) > limit
    i = max(lo, before_at + 1)
    while i < hi and len(out) <= limit:
        if keep is None or keep(items[i]):
            out.append(items[i])
        i += 1
    page = out[:limit]
    page.reverse()
    return page, len(out) > limit


def _all(predicates: list[Keep]) -> Keep | None:
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]
    return lambda obj: all(p(obj) for p in predicates)


# ------------------------------------------------------------------------ the app
class StripeApp:
    """WSGI app answering like api.stripe.com for the objects of a StripeDataset."""

    def __init__(
        self,
        dataset: StripeDataset,
        api_keys: Iterable[str] = ("sk_test_finfocus",),
        api_version: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.api_keys = frozenset(api_keys)
        self.api_version = api_version or dataset.api_version
        self._rng = random.Random()
        self._rng_lock = threading.Lock()

    def request_id(self) -> str:
        with self._rng_lock:
            return "req_" + "".join(
                self._rng.choices(
                    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", k=14
                )
            )

    def version_for(self, environ: WSGIEnvironment) -> str:
        return environ.get("HTTP_STRIPE_VERSION") or self.api_version

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = self.request_id()
        version = self.version_for(environ)
        extra: list[tuple[str, str]] = []
        try:
            status, payload = self.handle(environ)
        except StripeError as err:
            status, payload, extra = err.status, {"error": err.error}, err.headers
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {_REASON.get(status, 'Error')}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-cache, no-store"),
                ("Request-Id", request_id),
                ("Stripe-Version", version),
                *extra,
            ],
        )
        return [body]

    # -------------------------------------------------------------------- request
    def handle(self, environ: WSGIEnvironment) -> tuple[int, Obj]:
        key = self.authenticate(environ)
        account = self.account_for(environ, key)
        requested = environ.get("HTTP_STRIPE_VERSION")
        if requested is not None and not VERSION_RE.match(requested):
            raise StripeError(400, f"Invalid Stripe API version: {requested}")
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        params = Params.parse(environ.get("QUERY_STRING", ""))
        parts = path.strip("/").split("/")
        if method != "GET" or len(parts) < 2 or parts[0] != "v1":
            raise self.unrecognized(method, path)
        with self.dataset.lock:
            return 200, self.route(parts[1:], params, account, method, path)

    def route(
        self, parts: list[str], params: Params, data: AccountData, method: str, path: str
    ) -> Obj:
        name = parts[0]
        if parts == ["account"]:
            _check_params(params, {"expand"})
            return data.account
        if len(parts) == 1 and name in LISTS:
            return self.list(name, params, data)
        if len(parts) == 2 and name in RETRIEVABLE:
            _check_params(params, {"expand"})
            return self.retrieve(RETRIEVABLE[name], parts[1], data)
        if len(parts) == 3 and name == "invoices" and parts[2] == "lines":
            return self.invoice_lines(parts[1], params, data)
        raise self.unrecognized(method, path)

    @staticmethod
    def unrecognized(method: str, path: str) -> StripeError:
        return StripeError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see {DOCS} or we can "
            "help at https://support.stripe.com/.",
        )

    def authenticate(self, environ: WSGIEnvironment) -> str:
        header = environ.get("HTTP_AUTHORIZATION", "")
        key = ""
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
        elif header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                decoded = ""
            key = decoded.split(":", 1)[0]
        if not key:
            raise StripeError(
                401, MISSING_KEY, headers=[("WWW-Authenticate", 'Basic realm="Stripe"')]
            )
        if key.startswith("pk_"):
            raise StripeError(401, PUBLISHABLE_KEY)
        if key not in self.api_keys:
            raise StripeError(
                401,
                f"Invalid API Key provided: {mask_key(key)}",
                headers=[("WWW-Authenticate", 'Basic realm="Stripe"')],
            )
        return key

    def account_for(self, environ: WSGIEnvironment, key: str) -> AccountData:
        wanted = environ.get("HTTP_STRIPE_ACCOUNT")
        if not wanted:
            return self.dataset.account()
        if not self.dataset.has_account(wanted):
            raise StripeError(
                403,
                f"The provided key '{mask_key(key)}' does not have access to account "
                f"'{wanted}' (or that account does not exist). Application access may have "
                "been revoked.",
                code="account_invalid",
            )
        return self.dataset.account(wanted)

    # -------------------------------------------------------------------- endpoints
    def retrieve(self, kind: str, id_: str, data: AccountData) -> Obj:
        obj = data.collections[kind].get(id_)
        if obj is None or (kind == "event" and obj["created"] < self.retention_cutoff()):
            raise no_such(kind, id_, "id")
        return obj

    def retention_cutoff(self) -> int:
        return self.dataset.now - EVENT_RETENTION_SECONDS

    def list(self, name: str, params: Params, data: AccountData) -> Obj:
        spec = LISTS[name]
        allowed = (
            PAGING | set(spec.filters) | spec.ignored | ({"created"} if spec.created else set())
        )
        _check_params(params, allowed)
        limit = _limit(params)
        after, before = _cursors(params)
        collection: Collection = data.collections[spec.kind]
        bounds = _range(params, "created")
        if spec.kind == "event":
            cutoff = self.retention_cutoff()
            bounds["gte"] = max(bounds.get("gte", cutoff), cutoff)
        lo, hi = collection.bounds(**bounds)
        predicates = []
        for param, build in spec.filters.items():
            predicate = build(params, param, data)
            if predicate is not None:
                predicates.append(predicate)
        after_at = self._cursor(collection, spec.kind, after, "starting_after")
        before_at = self._cursor(collection, spec.kind, before, "ending_before")
        page, has_more = paginate(
            collection.items, lo, hi, _all(predicates), limit, after_at, before_at
        )
        return {"object": "list", "data": page, "has_more": has_more, "url": f"/v1/{name}"}

    @staticmethod
    def _cursor(collection: Collection, kind: str, id_: str | None, param: str) -> int | None:
        if id_ is None:
            return None
        at = collection.index.get(id_)
        if at is None:
            raise no_such(kind, id_, param, status=400)
        return at

    def invoice_lines(self, invoice_id: str, params: Params, data: AccountData) -> Obj:
        if data.collections["invoice"].get(invoice_id) is None:
            raise no_such("invoice", invoice_id, "invoice")
        _check_params(params, PAGING)
        limit = _limit(params)
        after, before = _cursors(params)
        lines = data.lines[invoice_id]
        # lines read in the invoice's order: index 0 first, so walk a reversed view
        ordered = lines[::-1]
        positions = {line["id"]: i for i, line in enumerate(ordered)}
        cursor = {}
        for param, value in (("starting_after", after), ("ending_before", before)):
            if value is not None:
                if value not in positions:
                    raise StripeError(
                        400,
                        f"Invoice {invoice_id} does not have a line item {value}",
                        code="resource_missing",
                        param=param,
                    )
                cursor[param] = positions[value]
        page, has_more = paginate(
            ordered,
            0,
            len(ordered),
            None,
            limit,
            cursor.get("starting_after"),
            cursor.get("ending_before"),
        )
        return {
            "object": "list",
            "data": page,
            "has_more": has_more,
            "url": f"/v1/invoices/{invoice_id}/lines",
        }


_REASON = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Request Failed",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


# ------------------------------------------------------------------------ faults
class StripeFaultProfile(FaultProfile):
    """Stripe's own shapes for injected rate limits, server errors and empty pages."""

    def __init__(self, app: StripeApp) -> None:
        self.app = app

    def common_headers(self, environ: WSGIEnvironment) -> list[tuple[str, str]]:
        return [
            ("Request-Id", self.app.request_id()),
            ("Stripe-Version", self.app.version_for(environ)),
        ]

    @staticmethod
    def _retry_hint(fault: Fault) -> list[tuple[str, str]]:
        if fault.should_retry is None:
            return []
        return [("Stripe-Should-Retry", "true" if fault.should_retry else "false")]

    def rate_limit(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        err = StripeError(429, RATE_LIMITED, code="rate_limit")
        headers = [("Stripe-Rate-Limited-Reason", "global-rate"), *self._retry_hint(fault)]
        return json_reply(429, {"error": err.error}, headers)

    def server_error(self, fault: Fault, status: int, environ: WSGIEnvironment) -> Reply:
        err = StripeError(status, "An unknown error occurred", type_="api_error")
        return json_reply(status, {"error": err.error}, self._retry_hint(fault))

    def empty_page(self, fault: Fault, environ: WSGIEnvironment) -> Reply:
        url = environ.get("PATH_INFO", "")
        return json_reply(200, {"object": "list", "data": [], "has_more": True, "url": url})


class FakeStripe(BackgroundServer):
    """The fake Stripe API on 127.0.0.1, with fault injection and a request log.

    fake = FakeStripe(ds, api_keys={"sk_test_finfocus"})
    url = fake.start(); ...; fake.stop()      # or: with fake: ...
    """

    def __init__(
        self,
        dataset: StripeDataset,
        api_keys: Iterable[str] = ("sk_test_finfocus",),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_version: str | None = None,
        echo_requests: Any = None,
    ) -> None:
        self.dataset = dataset
        self.app = StripeApp(dataset, api_keys, api_version)
        self.faults = FaultSet()
        injector = FaultInjector(self.app, self.faults, StripeFaultProfile(self.app))
        super().__init__(
            injector,
            host=host,
            port=port,
            account_header="Stripe-Account",
            echo_requests=echo_requests,
        )

    def __enter__(self) -> FakeStripe:
        self.start()
        return self


__all__ = [
    "FakeStripe",
    "StripeApp",
    "StripeError",
    "StripeFaultProfile",
    "mask_key",
]
