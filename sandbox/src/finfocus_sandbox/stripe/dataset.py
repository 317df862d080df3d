"""A deterministic, Stripe-shaped dataset: a platform account and its connected accounts.

`StripeDataset.generate(seed, days, balance_transactions, connected_accounts, now)` builds,
per account, exactly `balance_transactions` balance transactions spread over
[now - days, now) plus everything they come from: customers, products, prices,
subscriptions, invoices (and their line items), charges, refunds, disputes, payouts,
Stripe fee transactions, credit notes, and for a platform with connected accounts the
application fees it collects and the transfers it sends. Events exist for what happened
in the last 30 days, as Stripe keeps events 30 days. Same seed and same `now`: same data
and same ids.

Money is in integer minor units of each currency (JPY has none). A charge presented in
another currency than the account's settles through a balance transaction in the
account's currency with `exchange_rate` set, as Stripe does.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from finfocus_sandbox.stripe import objects as o

Obj = dict[str, Any]

DAY = 86_400
EVENT_RETENTION_SECONDS = 30 * DAY
DEFAULT_API_VERSION = "2025-03-31.basil"

KINDS = (
    "balance_transaction",
    "charge",
    "refund",
    "dispute",
    "payout",
    "invoice",
    "line_item",
    "credit_note",
    "customer",
    "subscription",
    "product",
    "price",
    "application_fee",
    "transfer",
    "event",
)

EXPONENT = {"usd": 2, "eur": 2, "gbp": 2, "cad": 2, "jpy": 0}
USD_PER_UNIT = {"usd": 1.0, "eur": 1.085, "gbp": 1.27, "cad": 0.735, "jpy": 0.0067}
#: what one USD of list price costs in each currency's major unit (prices, amounts)
PRICE_SCALE = {"usd": 1, "eur": 1, "gbp": 1, "cad": 1.3, "jpy": 150}
#: card processing fee per settlement currency: (percent, fixed minor units)
CARD_FEE = {
    "usd": (Decimal("0.029"), 30),
    "cad": (Decimal("0.029"), 30),
    "eur": (Decimal("0.015"), 25),
    "gbp": (Decimal("0.015"), 20),
    "jpy": (Decimal("0.036"), 0),
}
FX_FEE_RATE = Decimal("0.01")  # extra percentage on charges converted to the account currency
VAT_ON_FEES = {"eur": Decimal("0.19")}  # accounts whose Stripe fees carry a tax fee detail
DISPUTE_FEE = {"usd": 1500, "cad": 1500, "eur": 2000, "gbp": 2000, "jpy": 1500}
RADAR_FEE_PER_CHARGE = {"usd": 5, "cad": 5, "eur": 5, "gbp": 5, "jpy": 8}
SYMBOL = {"usd": "$", "cad": "CA$", "eur": "€", "gbp": "£", "jpy": "¥"}
#: (currency, country, name) of connected accounts, in the order they are given
CONNECTED_PROFILES = [
    ("jpy", "JP", "Sakura Goods KK"),
    ("eur", "DE", "Berliner Werkstatt GmbH"),
    ("gbp", "GB", "Thames Digital Ltd"),
    ("usd", "US", "Prairie Tools LLC"),
    ("cad", "CA", "Maple Analytics Inc"),
]
#: presentment currencies other than the account's that customers sometimes pay in
FOREIGN = {
    "usd": ["eur", "gbp", "cad"],
    "jpy": ["usd"],
    "eur": ["gbp", "usd"],
    "gbp": ["eur"],
    "cad": ["usd"],
}
#: (name, description, USD list price, interval or None, unit label)
CATALOG = [
    ("Starter", "Starter plan", 29, "month", None),
    ("Growth", "Growth plan", 99, "month", None),
    ("Scale", "Scale plan", 499, "month", None),
    ("Seats", "Additional seats", 12, "month", "seat"),
    ("Priority support", "Priority support add-on", 199, "month", None),
    ("Onboarding package", "One-time onboarding", 1500, None, None),
    ("Consulting hour", "Consulting, per hour", 180, None, "hour"),
    ("Data export", "Data export add-on", 49, None, None),
]
FIRST = ("Ada", "Alan", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Frances", "Donald", "John")
LAST = ("Lovelace", "Turing", "Hopper", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Knuth")
CARD_BRANDS = [("visa", "US"), ("mastercard", "US"), ("amex", "US"), ("visa", "GB")]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BYTE_TO_ALNUM = bytes(ord(ALPHABET[i % len(ALPHABET)]) for i in range(256))
UPDATE_EVENT = {
    "subscription": "customer.subscription.updated",
    "dispute": "charge.dispute.updated",
}


class Collection:
    """One kind of object in one account: sorted by (created, id) ascending, ids indexed."""

    def __init__(self) -> None:
        self.items: list[Obj] = []
        self.keys: list[tuple[int, str]] = []
        self.index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, obj: Obj) -> None:
        key = (obj["created"], obj["id"])
        if not self.keys or key > self.keys[-1]:
            self.index[obj["id"]] = len(self.items)
            self.items.append(obj)
            self.keys.append(key)
            return
        at = bisect.bisect_left(self.keys, key)
        self.items.insert(at, obj)
        self.keys.insert(at, key)
        self._reindex()

    def load(self, objs: list[Obj]) -> None:
        self.items = sorted(objs, key=lambda obj: (obj["created"], obj["id"]))
        self.keys = [(obj["created"], obj["id"]) for obj in self.items]
        self._reindex()

    def _reindex(self) -> None:
        self.index = {obj["id"]: i for i, obj in enumerate(self.items)}

    def get(self, id_: str) -> Obj | None:
        at = self.index.get(id_)
        return None if at is None else self.items[at]

    def bounds(
        self,
        gt: int | None = None,
        gte: int | None = None,
        lt: int | None = None,
        lte: int | None = None,
    ) -> tuple[int, int]:
        """Index range [lo, hi) of objects whose `created` satisfies the bounds."""
        lo, hi = 0, len(self.keys)
        if gte is not None:
            lo = max(lo, bisect.bisect_left(self.keys, (gte, "")))
        if gt is not None:
            lo = max(lo, bisect.bisect_left(self.keys, (gt + 1, "")))
        if lte is not None:
            hi = min(hi, bisect.bisect_left(self.keys, (lte + 1, "")))
        if lt is not None:
            hi = min(hi, bisect.bisect_left(self.keys, (lt, "")))
        return lo, max(lo, hi)


@dataclass
class AccountData:
    """Everything one account holds. `payout_of` maps balance transactions to payouts."""

    id: str
    currency: str
    country: str
    name: str
    account: Obj
    collections: dict[str, Collection]
    lines: dict[str, list[Obj]] = field(default_factory=dict)
    payout_of: dict[str, str] = field(default_factory=dict)
    builder: _AccountBuilder | None = None

    def newest_created(self) -> int:
        return max((c.keys[-1][0] for c in self.collections.values() if c.keys), default=0)


class _Ids:
    """Stripe-looking ids from a seeded RNG; long ids embed the account's 10-char tag."""

    def __init__(self, rng: random.Random, tag: str) -> None:
        self.rng = rng
        self.tag = tag
        self.seen: set[str] = set()

    def rand(self, n: int) -> str:
        return self.rng.randbytes(n).translate(_BYTE_TO_ALNUM).decode()

    def _unique(self, value: str) -> bool:
        if value in self.seen:
            return False
        self.seen.add(value)
        return True

    def long(self, prefix: str) -> str:
        while True:
            r = self.rand(13)
            value = f"{prefix}_1{r[:5]}{self.tag}{r[5:]}"
            if self._unique(value):
                return value

    def short(self, prefix: str) -> str:
        while True:
            value = f"{prefix}_{self.rand(14)}"
            if self._unique(value):
                return value

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _tag_of(account_id: str) -> str:
    raw = "".join(ch for ch in account_id.removeprefix("acct_") if ch.isalnum()) or "0"
    return (raw * 10)[-10:]


def _day_floor(ts: int) -> int:
    return ts - ts % DAY


def _add_month(ts: int) -> int:
    d = datetime.fromtimestamp(ts, UTC)
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    for day in (d.day, 30, 29, 28):
        try:
            return int(d.replace(year=year, month=month, day=day).timestamp())
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def convert(amount: int, src: str, dst: str, rate: float) -> int:
    """Minor units of `src` to minor units of `dst`: major(src) x rate = major(dst)."""
    shift = Decimal(10) ** (EXPONENT[dst] - EXPONENT[src])
    return _round(Decimal(amount) * Decimal(repr(rate)) * shift)


def format_money(amount: int, currency: str) -> str:
    exp = EXPONENT[currency]
    major = f"{amount / 10**exp:,.{exp}f}"
    return f"{SYMBOL[currency]}{major}"


def _month_periods(start: int, now: int) -> list[tuple[int, int]]:
    """Calendar months [first day, first day of next month) that end inside (start, now]."""
    d = datetime.fromtimestamp(start, UTC).replace(day=1, hour=0, minute=0, second=0)
    periods = []
    begin = int(d.timestamp())
    while True:
        end = _add_month(begin)
        if end > now:
            break
        if end > start:
            periods.append((begin, end))
        begin = end
    return periods


@dataclass
class _Plan:
    charges: int
    refunds: int
    disputes: int
    payouts: int
    fees: int
    app_fees: int
    app_fee_refunds: int
    transfers: int

    @classmethod
    def for_total(
        cls, n: int, days: int, fee_items: int, app_fees: int, has_connected: bool
    ) -> _Plan:
        payouts = min(max(days, 1), n // 25)
        fees = min(fee_items, n // 25)
        app_fee_refunds = app_fees // 8
        transfers = n // 40 if has_connected else 0
        rest = n - payouts - fees - app_fees - app_fee_refunds - transfers
        assert rest >= 0, "the plan's fractions always leave room for charges"
        disputes = rest // 200
        refunds = rest // 12
        return cls(
            charges=rest - refunds - disputes,
            refunds=refunds,
            disputes=disputes,
            payouts=payouts,
            fees=fees,
            app_fees=app_fees,
            app_fee_refunds=app_fee_refunds,
            transfers=transfers,
        )


@dataclass(frozen=True)
class _FeeItem:
    """A monthly Stripe fee transaction for the period [begin, end)."""

    created: int
    type: str
    description: str
    what: str
    begin: int
    end: int


@dataclass
class _Customer:
    obj: Obj
    billing_details: Obj
    payment_method: str
    card: dict[str, Any]


@dataclass
class _Marked:
    """A connected account's charge that pays the platform an application fee."""

    account: str
    charge: Obj
    fee_id: str


class _AccountBuilder:
    """Generates one account's objects (and later `advance()`s it)."""

    def __init__(
        self,
        *,
        data: AccountData,
        rng: random.Random,
        ids: _Ids,
        now: int,
        days: int,
        api_version: str,
        is_connected: bool,
    ) -> None:
        self.data = data
        self.rng = rng
        self.ids = ids
        self.now = now
        self.start = now - days * DAY
        self.days = days
        self.api_version = api_version
        self.is_connected = is_connected
        self.currency = data.currency
        self.staged: dict[str, list[Obj]] = {kind: [] for kind in KINDS}
        self.customers: list[_Customer] = []
        self.customer_by_id: dict[str, _Customer] = {}
        self.customer_created: list[int] = []
        self.guests: list[_Customer] = []
        self.prices: dict[str, Obj] = {}
        self.products: dict[str, Obj] = {}
        self.bt_of: dict[str, Obj] = {}  # charge id -> its balance transaction
        self.bt_fees: dict[str, int] = {}  # charge id -> stripe fee part of its transaction
        self.invoice_seq: dict[str, int] = {}
        self.bank_account = ids.long("ba")

    # ---------------------------------------------------------------- helpers
    def when(self, lo: int, hi: int | None = None) -> int:
        hi = self.now if hi is None else hi
        return lo if hi <= lo + 1 else self.rng.randrange(lo, hi)

    def after(self, ts: int, lo: int, hi: int) -> int:
        """A time lo..hi seconds after ts, squeezed into [ts, now - 1] near the window's end."""
        upper = max(ts, min(ts + hi, self.now - 1))
        lower = min(ts + lo, upper)
        return self.rng.randint(lower, upper)

    def minor(self, usd_major: float, currency: str | None = None) -> int:
        cur = currency or self.currency
        return max(1, round(usd_major * PRICE_SCALE[cur])) * 10 ** EXPONENT[cur]

    def rate(self, src: str, dst: str) -> float:
        raw = USD_PER_UNIT[src] / USD_PER_UNIT[dst] * (1 + self.rng.uniform(-0.02, 0.02))
        if self.rng.random() < 0.05:  # now and then a long binary-float rendering
            return raw
        return float(f"{raw:.6g}")

    def emit(
        self,
        type_: str,
        obj: Obj,
        created: int,
        *,
        previous: Obj | None = None,
        automatic: bool = False,
    ) -> Obj | None:
        if created < self.now - EVENT_RETENTION_SECONDS or created > self.now:
            return None
        evt = self.make_event(type_, obj, created, previous=previous, automatic=automatic)
        self.staged["event"].append(evt)
        return evt

    def make_event(
        self,
        type_: str,
        obj: Obj,
        created: int,
        *,
        previous: Obj | None = None,
        automatic: bool = False,
    ) -> Obj:
        return o.event(
            id=self.ids.long("evt"),
            account=self.data.id if self.is_connected else None,
            api_version=self.api_version,
            created=created,
            obj=dict(obj),
            previous_attributes=previous,
            request_id=None if automatic else f"req_{self.ids.rand(14)}",
            idempotency_key=None if automatic else self.ids.uuid(),
            type=type_,
        )

    def bt(
        self,
        *,
        amount: int,
        created: int,
        type_: str,
        category: str,
        source: str | None,
        description: str | None,
        fee_details: list[Obj] | None = None,
        exchange_rate: float | None = None,
        available_on: int | None = None,
    ) -> Obj:
        details = fee_details or []
        avail = created if available_on is None else available_on
        txn = o.balance_transaction(
            id=self.ids.long("txn"),
            amount=amount,
            available_on=avail,
            created=created,
            currency=self.currency,
            description=description,
            exchange_rate=exchange_rate,
            fee=sum(d["amount"] for d in details),
            fee_details=details,
            reporting_category=category,
            source=source,
            status="available" if avail <= self.now else "pending",
            type=type_,
        )
        self.staged["balance_transaction"].append(txn)
        return txn

    # ---------------------------------------------------------------- catalog and people
    def build_catalog(self) -> None:
        created = self.start + 60
        for name, description, usd, interval, unit in CATALOG:
            prod_id = self.ids.short("prod")
            price_id = self.ids.long("price")
            amount = self.minor(usd)
            p = o.price(
                id=price_id,
                created=created,
                currency=self.currency,
                product=prod_id,
                unit_amount=amount,
                nickname=f"{name} {'monthly' if interval else 'one-time'}",
                interval=interval,
                lookup_key=name.lower().replace(" ", "_"),
            )
            prod = o.product(
                id=prod_id,
                created=created,
                name=name,
                description=description,
                default_price=price_id,
                unit_label=unit,
            )
            self.prices[name], self.products[name] = p, prod
            self.staged["product"].append(prod)
            self.staged["price"].append(p)
            self.emit("product.created", prod, created)
            self.emit("price.created", p, created)
            created += 1

    def _card(self) -> dict[str, Any]:
        brand, country = self.rng.choice(CARD_BRANDS)
        return {
            "brand": brand,
            "country": country,
            "exp_month": self.rng.randint(1, 12),
            "exp_year": self.rng.randint(2027, 2032),
            "fingerprint": self.ids.rand(16),
            "funding": self.rng.choice(["credit", "credit", "debit"]),
            "last4": self.rng.choice(["4242", "4444", "0005", "1881", "5556"]),
        }

    def _person(self, n: int) -> tuple[str, str]:
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        email = f"{name.lower().replace(' ', '.')}.{n}@example.com"
        return name, email

    def build_customers(self, count: int) -> None:
        times = sorted(
            self.when(self.start, max(self.start + 1, self.now - 3600)) for _ in range(count)
        )
        for n, created in enumerate(times):
            name, email = self._person(n)
            cus = o.customer(
                id=self.ids.short("cus"),
                created=created,
                currency=self.currency,
                email=email,
                name=name,
                invoice_prefix=self.ids.rand(8).upper(),
                address=o.EMPTY_ADDRESS,
                phone=None,
            )
            billing = {
                "address": o.EMPTY_ADDRESS,
                "email": email,
                "name": name,
                "phone": None,
                "tax_id": None,
            }
            payer = _Customer(cus, billing, self.ids.long("pm"), self._card())
            self.customers.append(payer)
            self.customer_by_id[cus["id"]] = payer
            self.customer_created.append(created)
            self.staged["customer"].append(cus)
            self.emit("customer.created", cus, created)
        for n in range(20):
            name, email = self._person(1000 + n)
            billing = {
                "address": o.EMPTY_ADDRESS,
                "email": email,
                "name": name,
                "phone": None,
                "tax_id": None,
            }
            self.guests.append(_Customer({}, billing, self.ids.long("pm"), self._card()))

    def customer_before(self, ts: int) -> _Customer | None:
        known = bisect.bisect_right(self.customer_created, ts)
        return self.customers[self.rng.randrange(known)] if known else None

    # ---------------------------------------------------------------- invoices
    def _invoice_urls(self) -> tuple[str, str]:
        token = f"test_{self.ids.rand(40)}"
        return (
            f"https://invoice.stripe.com/i/{self.data.id}/{token}?s=ap",
            f"https://pay.stripe.com/invoice/{self.data.id}/{token}/pdf?s=ap",
        )

    def _sub_line(self, invoice_id: str, item: Obj, sub_id: str, start: int, end: int) -> Obj:
        price = item["price"]
        qty = item["quantity"]
        product = next(n for n, p in self.prices.items() if p["id"] == price["id"])
        unit = format_money(price["unit_amount"], self.currency)
        return o.line_item(
            id=self.ids.long("il"),
            amount=price["unit_amount"] * qty,
            currency=self.currency,
            description=f"{qty} \u00d7 {product} (at {unit} / month)",
            invoice=invoice_id,
            period_start=start,
            period_end=end,
            quantity=qty,
            price=price["id"],
            product=price["product"],
            unit_amount=price["unit_amount"],
            subscription=sub_id,
            subscription_item=item["id"],
            invoice_item=None,
        )

    def _invoice(
        self,
        *,
        cus: _Customer,
        created: int,
        lines: list[Obj],
        invoice_id: str,
        status: str,
        billing_reason: str,
        subscription: str | None,
        period: tuple[int, int],
        collection_method: str = "charge_automatically",
        finalize_after: int = 3600,
    ) -> Obj:
        finalized = None if status == "draft" else created + finalize_after
        paid_at = finalized + 2 if status == "paid" and finalized is not None else None
        hosted, pdf = self._invoice_urls() if finalized else (None, None)
        inv = o.invoice(
            id=invoice_id,
            account_country=self.data.country,
            account_name=self.data.name,
            billing_reason=billing_reason,
            collection_method=collection_method,
            created=created,
            currency=self.currency,
            customer=cus.obj,
            lines=lines,
            number=None,
            period_start=period[0],
            period_end=period[1],
            status=status,
            subscription=subscription,
            finalized_at=finalized,
            paid_at=paid_at,
            voided_at=finalized + DAY if status == "void" and finalized else None,
            uncollectible_at=finalized + 7 * DAY
            if status == "uncollectible" and finalized
            else None,
            due_date=created + 30 * DAY if collection_method == "send_invoice" else None,
            hosted_url=hosted,
            pdf_url=pdf,
        )
        self.data.lines[invoice_id] = lines
        self.staged["invoice"].append(inv)
        self.staged["line_item"].extend(lines)
        return inv

    def _cycle_status(self, created: int, first: bool, last: bool, sub_status: str) -> str:
        if not first and created + 3600 + 60 > self.now:  # not finalized yet
            return "draft"
        if last and sub_status == "past_due":
            return "open"
        roll = self.rng.random()
        if roll < 0.02:
            return "void"
        if roll < 0.03 and created + 8 * DAY < self.now:
            return "uncollectible"
        return "paid"

    def build_subscriptions(self, count: int) -> None:
        plans = ["Starter", "Growth", "Growth", "Scale"]
        for _ in range(count):
            cus = self.customer_before(self.now - 3600) or self.customers[0]
            created = self.when(cus.obj["created"], max(cus.obj["created"] + 1, self.now - 3600))
            sub_id = self.ids.long("sub")
            roll = self.rng.random()
            trialing = roll < 0.06 and created > self.now - 14 * DAY
            if trialing:
                status = "trialing"
            elif roll < 0.18:
                status = "canceled"
            elif roll < 0.23:
                status = "past_due"
            else:
                status = "active"
            names = [self.rng.choice(plans)]
            if self.rng.random() < 0.35:
                names.append(self.rng.choice(["Seats", "Priority support"]))
            ended = None
            if status == "canceled":
                ended = self.when(created + 1, max(created + 2, self.now - 60))
            cycle_end = ended if ended is not None else self.now
            # billing cycles: the first at creation, then monthly
            cycles = [created]
            if not trialing:
                while (nxt := _add_month(cycles[-1])) < cycle_end:
                    cycles.append(nxt)
            last_start = cycles[-1]
            last_end = created + 14 * DAY if trialing else _add_month(last_start)
            items = []
            for name in names:
                price = self.prices[name]
                items.append(
                    o.subscription_item(
                        id=self.ids.short("si"),
                        created=created,
                        price=price,
                        plan=o.plan_from_price(price),
                        quantity=self.rng.randint(2, 25) if name == "Seats" else 1,
                        subscription=sub_id,
                        period_start=last_start,
                        period_end=last_end,
                    )
                )
            latest = None
            for k, start in enumerate(cycles):
                invoice_id = self.ids.long("in")
                end = created + 14 * DAY if trialing else _add_month(start)
                lines = [self._sub_line(invoice_id, it, sub_id, start, end) for it in items]
                if trialing:
                    lines = [
                        dict(line, amount=0, subtotal=0, description=f"Trial period for {name}")
                        for line, name in zip(lines, names, strict=True)
                    ]
                last = k == len(cycles) - 1
                inv_status = "paid" if trialing else self._cycle_status(start, k == 0, last, status)
                inv = self._invoice(
                    cus=cus,
                    created=start,
                    lines=lines,
                    invoice_id=invoice_id,
                    status=inv_status,
                    billing_reason="subscription_create" if k == 0 else "subscription_cycle",
                    subscription=sub_id,
                    period=(start, start) if k == 0 else (cycles[k - 1], start),
                    finalize_after=0 if k == 0 else 3600,
                )
                latest = inv["id"]
            sub = o.subscription(
                id=sub_id,
                created=created,
                currency=self.currency,
                customer=cus.obj["id"],
                items=items,
                status=status,
                canceled_at=ended,
                ended_at=ended,
                latest_invoice=latest,
                trial_start=created if trialing else None,
                trial_end=created + 14 * DAY if trialing else None,
                cancellation_reason="cancellation_requested" if ended else None,
            )
            self.staged["subscription"].append(sub)
            first_status = "trialing" if trialing else "active"
            self.emit(
                "customer.subscription.created",
                dict(sub, status=first_status, canceled_at=None, ended_at=None),
                created,
            )
            if ended is not None:
                self.emit("customer.subscription.deleted", sub, ended, automatic=True)

    def build_manual_invoices(self, count: int) -> None:
        one_time = [name for name, _, _, interval, _ in CATALOG if interval is None]
        for _ in range(count):
            cus = self.customer_before(self.now - 7200) or self.customers[0]
            created = self.when(cus.obj["created"], max(cus.obj["created"] + 1, self.now - 7200))
            invoice_id = self.ids.long("in")
            lines = []
            for n in range(self.rng.randint(25, 40)):
                name = self.rng.choice(one_time)
                price = self.prices[name]
                qty = self.rng.randint(1, 8)
                day = datetime.fromtimestamp(created - n * DAY, UTC).strftime("%Y-%m-%d")
                lines.append(
                    o.line_item(
                        id=self.ids.long("il"),
                        amount=price["unit_amount"] * qty,
                        currency=self.currency,
                        description=f"{name} ({day})",
                        invoice=invoice_id,
                        period_start=created - n * DAY,
                        period_end=created - n * DAY,
                        quantity=qty,
                        price=price["id"],
                        product=price["product"],
                        unit_amount=price["unit_amount"],
                        subscription=None,
                        subscription_item=None,
                        invoice_item=self.ids.long("ii"),
                    )
                )
            roll = self.rng.random()
            status = "paid" if roll < 0.6 else "open" if roll < 0.9 else "draft"
            self._invoice(
                cus=cus,
                created=created,
                lines=lines,
                invoice_id=invoice_id,
                status=status,
                billing_reason="manual",
                subscription=None,
                period=(created, created),
                collection_method="send_invoice",
                finalize_after=600,
            )

    def number_invoices(self, max_paid: int) -> list[Obj]:
        """Give finalized invoices their numbers; return paid invoices that need a charge."""
        invoices = sorted(self.staged["invoice"], key=lambda inv: (inv["created"], inv["id"]))
        payable = [inv for inv in invoices if inv["status"] == "paid" and inv["total"] > 0]
        # an account with fewer charges than paid invoices leaves the newest ones open
        for inv in payable[max_paid:]:
            self._reopen(inv)
        for inv in invoices:
            if inv["status_transitions"]["finalized_at"] is None:
                continue
            cus_id = inv["customer"]
            seq = self.invoice_seq.get(cus_id, 0) + 1
            self.invoice_seq[cus_id] = seq
            prefix = self.customer_by_id[cus_id].obj["invoice_prefix"]
            inv["number"] = f"{prefix}-{seq:04d}"
        for cus in self.customers:
            cus.obj["next_invoice_sequence"] = self.invoice_seq.get(cus.obj["id"], 0) + 1
        return payable[:max_paid]

    def _reopen(self, inv: Obj) -> None:
        inv["status"] = "open"
        inv["amount_paid"], inv["amount_remaining"] = 0, inv["total"]
        inv["status_transitions"] = dict(inv["status_transitions"], paid_at=None)

    def emit_invoice_events(self) -> None:
        for inv in self.staged["invoice"]:
            created, transitions = inv["created"], inv["status_transitions"]
            draft = dict(inv, status="draft", number=None, amount_paid=0)
            draft["status_transitions"] = dict.fromkeys(transitions)
            self.emit("invoice.created", draft, created, automatic=True)
            if transitions["finalized_at"] is not None:
                self.emit("invoice.finalized", inv, transitions["finalized_at"], automatic=True)
            if transitions["paid_at"] is not None:
                self.emit("invoice.paid", inv, transitions["paid_at"], automatic=True)
            if transitions["voided_at"] is not None:
                self.emit("invoice.voided", inv, transitions["voided_at"])
            if transitions["marked_uncollectible_at"] is not None:
                self.emit(
                    "invoice.marked_uncollectible", inv, transitions["marked_uncollectible_at"]
                )

    # ---------------------------------------------------------------- charges
    def stripe_fee(self, amount: int, fx: bool) -> list[Obj]:
        pct, fixed = CARD_FEE[self.currency]
        fee = _round(Decimal(amount) * (pct + (FX_FEE_RATE if fx else 0))) + fixed
        details = [o.fee_detail(fee, self.currency, "Stripe processing fees", "stripe_fee")]
        vat = VAT_ON_FEES.get(self.currency)
        if vat is not None:
            details.append(o.fee_detail(_round(fee * vat), self.currency, "VAT", "tax"))
        return details

    def make_charge(
        self,
        *,
        created: int,
        amount: int,
        currency: str,
        cus: _Customer,
        customer_id: str | None,
        description: str | None,
    ) -> tuple[Obj, Obj]:
        charge_id = self.ids.long("ch")
        fx = currency != self.currency
        rate = self.rate(currency, self.currency) if fx else None
        settled = convert(amount, currency, self.currency, rate) if rate else amount
        details = self.stripe_fee(settled, fx)
        txn = self.bt(
            amount=settled,
            created=created,
            type_="charge",
            category="charge",
            source=charge_id,
            description=description,
            fee_details=details,
            exchange_rate=rate,
            available_on=_day_floor(created) + 2 * DAY,
        )
        card = o.card_details(amount=amount, **cus.card)
        ch = o.charge(
            id=charge_id,
            amount=amount,
            balance_transaction=txn["id"],
            billing_details=cus.billing_details,
            created=created,
            currency=currency,
            customer=customer_id,
            description=description,
            payment_intent=self.ids.long("pi"),
            payment_method=cus.payment_method,
            payment_method_details=card,
            receipt_url=f"https://pay.stripe.com/receipts/payment/{self.ids.rand(48)}",
            receipt_email=cus.billing_details["email"],
            statement_descriptor=self.data.name.upper()[:22],
        )
        self.staged["charge"].append(ch)
        self.bt_of[charge_id] = txn
        self.bt_fees[charge_id] = details[0]["amount"]
        return ch, txn

    def one_off_charge(self, created: int) -> tuple[Obj, Obj]:
        cus = self.customer_before(created) if self.rng.random() < 0.7 else None
        currency = self.currency
        if self.rng.random() < (0.12 if self.currency == "usd" else 0.08):
            currency = self.rng.choice(FOREIGN[self.currency])
        usd = min(5000.0, max(1.0, math.exp(self.rng.gauss(3.7, 1.0))))
        amount = max(1, round(usd * PRICE_SCALE[currency] * 10 ** EXPONENT[currency]))
        if EXPONENT[currency] == 0:
            amount = max(50, amount)
        description = (
            f"Order #{self.rng.randint(10000, 99999)}"
            if self.rng.random() < 0.6
            else self.rng.choice(["Consulting hour", "Onboarding package", "Data export"])
        )
        payer = cus or self.rng.choice(self.guests)
        return self.make_charge(
            created=created,
            amount=amount,
            currency=currency,
            cus=payer,
            customer_id=cus.obj["id"] if cus else None,
            description=description,
        )

    def build_charges(self, plan: _Plan, payable: list[Obj]) -> None:
        """Charges for paid invoices, then one-off charges up to the plan's count."""
        for inv in payable:
            cus = self.customer_by_id[inv["customer"]]
            paid_at = inv["status_transitions"]["paid_at"]
            description = {
                "subscription_create": "Subscription creation",
                "subscription_cycle": "Subscription update",
            }.get(inv["billing_reason"], "Payment for Invoice")
            self.make_charge(
                created=paid_at - 1,
                amount=inv["total"],
                currency=self.currency,
                cus=cus,
                customer_id=cus.obj["id"],
                description=description,
            )
        for _ in range(plan.charges - len(payable)):
            self.one_off_charge(self.when(self.start))

    def add_application_fee(self, ch: Obj, fee_id: str, application: str) -> None:
        """Make a connected account's charge pay the platform an application fee."""
        fee_amount = max(1, round(ch["amount"] * 0.05))
        txn = self.bt_of[ch["id"]]
        settled_fee = fee_amount
        if txn["exchange_rate"] is not None:
            settled_fee = convert(fee_amount, ch["currency"], self.currency, txn["exchange_rate"])
        details = [
            *txn["fee_details"],
            o.fee_detail(
                settled_fee, self.currency, "Application fee", "application_fee", application
            ),
        ]
        fee = sum(d["amount"] for d in details)
        txn.update(fee_details=details, fee=fee, net=txn["amount"] - fee)
        ch.update(
            application=application, application_fee=fee_id, application_fee_amount=fee_amount
        )

    def emit_charge_events(self) -> None:
        for ch in self.staged["charge"]:
            self.emit("charge.succeeded", ch, ch["created"])

    def build_refunds(self, count: int) -> None:
        for ch in self.rng.sample(self.staged["charge"], min(count, len(self.staged["charge"]))):
            created = self.after(ch["created"], 3600, 15 * DAY)
            full = self.rng.random() < 0.7
            amount = (
                ch["amount"] if full else max(1, int(ch["amount"] * self.rng.uniform(0.1, 0.9)))
            )
            charge_txn = self.bt_of[ch["id"]]
            rate = charge_txn["exchange_rate"]
            settled = convert(amount, ch["currency"], self.currency, rate) if rate else amount
            details = []
            if self.rng.random() < 0.25:  # Stripe returns the fee on this refund
                back = _round(Decimal(self.bt_fees[ch["id"]]) * amount / ch["amount"])
                if back:
                    details.append(
                        o.fee_detail(-back, self.currency, "Stripe processing fees", "stripe_fee")
                    )
            refund_id = self.ids.long("re")
            txn = self.bt(
                amount=-settled,
                created=created,
                type_="refund",
                category="refund",
                source=refund_id,
                description=f"REFUND FOR CHARGE ({ch['description'] or 'Payment'})",
                fee_details=details,
                exchange_rate=rate,
            )
            re = o.refund(
                id=refund_id,
                amount=amount,
                balance_transaction=txn["id"],
                charge=ch["id"],
                created=created,
                currency=ch["currency"],
                payment_intent=ch["payment_intent"],
                reason=self.rng.choice([None, "requested_by_customer", "duplicate"]),
                customer=ch["customer"],
                payment_method=ch["payment_method"],
            )
            self.staged["refund"].append(re)
            previous = {"amount_refunded": 0, "refunded": False}
            ch.update(
                amount_refunded=amount,
                refunded=full,
                refunds=o.list_of([re], f"/v1/charges/{ch['id']}/refunds"),
            )
            self.emit("refund.created", re, created)
            self.emit("charge.refunded", ch, created, previous=previous)

    def build_disputes(self, count: int) -> None:
        candidates = [ch for ch in self.staged["charge"] if not ch["amount_refunded"]]
        for ch in self.rng.sample(candidates, min(count, len(candidates))):
            created = self.after(ch["created"], DAY, 30 * DAY)
            dispute_id = self.ids.long("dp")
            rate = self.bt_of[ch["id"]]["exchange_rate"]
            settled = (
                convert(ch["amount"], ch["currency"], self.currency, rate) if rate else ch["amount"]
            )
            fee = o.fee_detail(
                DISPUTE_FEE[self.currency], self.currency, "Dispute fee", "stripe_fee"
            )
            txn = self.bt(
                amount=-settled,
                created=created,
                type_="adjustment",
                category="dispute",
                source=dispute_id,
                description=f"Chargeback withdrawal for {ch['id']}",
                fee_details=[fee],
                exchange_rate=rate,
            )
            reason, code = self.rng.choice(
                [("fraudulent", "10.4"), ("product_not_received", "13.1"), ("general", "13.7")]
            )
            status = (
                "lost"
                if created < self.now - 21 * DAY
                else self.rng.choice(["needs_response", "under_review"])
            )
            dp = o.dispute(
                id=dispute_id,
                amount=ch["amount"],
                balance_transactions=[txn],
                charge=ch["id"],
                created=created,
                currency=ch["currency"],
                due_by=_day_floor(created) + 21 * DAY - 1,
                payment_intent=ch["payment_intent"],
                brand=ch["payment_method_details"]["card"]["brand"],
                reason=reason,
                reason_code=code,
                status=status,
            )
            self.staged["dispute"].append(dp)
            ch.update(disputed=True)
            self.emit("charge.dispute.created", dp, created)
            self.emit("charge.dispute.funds_withdrawn", dp, created, automatic=True)

    # ---------------------------------------------------------------- platform money
    def build_application_fees(self, marked: list[_Marked], refunds: int, application: str) -> None:
        fees = []
        for m in marked:
            ch = m.charge
            created = ch["created"]
            amount = ch["application_fee_amount"]
            fx = ch["currency"] != self.currency
            rate = self.rate(ch["currency"], self.currency) if fx else None
            settled = convert(amount, ch["currency"], self.currency, rate) if rate else amount
            txn = self.bt(
                amount=settled,
                created=created,
                type_="application_fee",
                category="platform_earning",
                source=m.fee_id,
                description="Application fee",
                exchange_rate=rate,
                available_on=_day_floor(created) + 2 * DAY,
            )
            fee = o.application_fee(
                id=m.fee_id,
                account=m.account,
                amount=amount,
                application=application,
                balance_transaction=txn["id"],
                charge=ch["id"],
                created=created,
                currency=ch["currency"],
            )
            fees.append((fee, rate))
            self.staged["application_fee"].append(fee)
            self.emit("application_fee.created", fee, created)
        for fee, rate in self.rng.sample(fees, min(refunds, len(fees))):
            created = self.after(fee["created"], 3600, 10 * DAY)
            amount = fee["amount"]
            settled = convert(amount, fee["currency"], self.currency, rate) if rate else amount
            fr_id = self.ids.long("fr")
            txn = self.bt(
                amount=-settled,
                created=created,
                type_="application_fee_refund",
                category="platform_earning_refund",
                source=fr_id,
                description="Application fee refund",
                exchange_rate=rate,
            )
            fr = o.fee_refund(
                id=fr_id,
                amount=amount,
                balance_transaction=txn["id"],
                created=created,
                currency=fee["currency"],
                fee=fee["id"],
            )
            fee.update(
                amount_refunded=amount,
                refunded=True,
                refunds=o.list_of([fr], f"/v1/application_fees/{fee['id']}/refunds"),
            )
            self.emit(
                "application_fee.refunded",
                fee,
                created,
                previous={"amount_refunded": 0, "refunded": False},
            )

    def build_transfers(self, count: int, destinations: list[str]) -> None:
        for _ in range(count if destinations else 0):
            created = self.when(self.start)
            amount = self.minor(self.rng.randint(50, 5000))
            tr_id = self.ids.long("tr")
            txn = self.bt(
                amount=-amount,
                created=created,
                type_="transfer",
                category="transfer",
                source=tr_id,
                description=None,
            )
            tr = o.transfer(
                id=tr_id,
                amount=amount,
                balance_transaction=txn["id"],
                created=created,
                currency=self.currency,
                destination=self.rng.choice(destinations),
                destination_payment=self.ids.long("py"),
                description=None,
                transfer_group=None,
            )
            self.staged["transfer"].append(tr)
            self.emit("transfer.created", tr, created)

    # ---------------------------------------------------------------- Stripe's own fees
    def fee_items(self, with_connect: bool, with_fx: bool) -> list[_FeeItem]:
        """Monthly Stripe fee transactions, created a day after each month ends."""
        items = []
        for begin, end in _month_periods(self.start, self.now):
            span = (
                f"{datetime.fromtimestamp(begin, UTC):%Y-%m-%d} - "
                f"{datetime.fromtimestamp(end - DAY, UTC):%Y-%m-%d}"
            )
            created = end + DAY + 3 * 3600
            if not self.start <= created < self.now:
                continue
            kinds = [
                ("stripe_fee", f"Billing - Usage Fee ({span})", "billing"),
                ("stripe_fee", f"Radar ({span}): Radar for Fraud Teams", "radar"),
            ]
            if with_connect:
                kinds.append(("stripe_fee", f"Connect ({span}): Active Account Billing", "active"))
                kinds.append(("stripe_fee", f"Connect ({span}): Account Volume Billing", "volume"))
            if with_fx:
                kinds.append(("stripe_fx_fee", f"Currency conversion fees ({span})", "fx"))
            for k, (type_, description, what) in enumerate(kinds):
                items.append(_FeeItem(created + 60 * k, type_, description, what, begin, end))
        return items

    def build_fee_transactions(self, items: list[_FeeItem], connected: int) -> None:
        charges = self.staged["charge"]
        invoices = self.staged["invoice"]
        transfers = self.staged["transfer"]
        for item in items:
            begin, end = item.begin, item.end
            if item.what == "billing":
                volume = sum(i["amount_paid"] for i in invoices if begin <= i["created"] < end)
                amount = _round(Decimal(volume) * Decimal("0.007"))
            elif item.what == "radar":
                count = sum(1 for ch in charges if begin <= ch["created"] < end)
                amount = RADAR_FEE_PER_CHARGE[self.currency] * count
            elif item.what == "active":
                amount = self.minor(2) * connected
            elif item.what == "volume":
                volume = sum(t["amount"] for t in transfers if begin <= t["created"] < end)
                amount = _round(Decimal(volume) * Decimal("0.0025"))
            else:
                volume = sum(
                    txn["amount"]
                    for ch in charges
                    if begin <= ch["created"] < end
                    and (txn := self.bt_of[ch["id"]])["exchange_rate"] is not None
                )
                amount = _round(Decimal(volume) * Decimal("0.01"))
            self.bt(
                amount=-max(1, amount),
                created=item.created,
                type_=item.type,
                category="fee",
                source=None,
                description=item.description,
            )

    # ---------------------------------------------------------------- payouts
    def build_payouts(self, count: int) -> None:
        if count <= 0:
            return
        pending = sorted(
            self.staged["balance_transaction"], key=lambda t: (t["available_on"], t["id"])
        )
        span = self.now - self.start
        at = 0
        for j in range(count):
            created = self.start + (j + 1) * span // (count + 1)
            included = []
            while at < len(pending) and pending[at]["available_on"] <= created:
                included.append(pending[at])
                at += 1
            total = sum(t["net"] for t in included)
            automatic = total > 0
            amount = total if automatic else self.minor(self.rng.randint(10, 100))
            payout_id = self.ids.long("po")
            arrival = _day_floor(created) + 2 * DAY
            status = "paid" if arrival <= self.now else "in_transit"
            txn = self.bt(
                amount=-amount,
                created=created,
                type_="payout",
                category="payout",
                source=payout_id,
                description="STRIPE PAYOUT",
            )
            po = o.payout(
                id=payout_id,
                amount=amount,
                arrival_date=arrival,
                automatic=automatic,
                balance_transaction=txn["id"],
                created=created,
                currency=self.currency,
                destination=self.bank_account,
                status=status,
            )
            if automatic:
                for t in (*included, txn):
                    self.data.payout_of[t["id"]] = payout_id
            self.staged["payout"].append(po)
            self.emit("payout.created", dict(po, status="pending"), created, automatic=True)
            if status == "paid":
                self.emit("payout.paid", po, arrival, automatic=True)

    # ---------------------------------------------------------------- credit notes
    def build_credit_notes(self) -> None:
        paid = [i for i in self.staged["invoice"] if i["status"] == "paid" and i["total"] > 0]
        count = min(500, max(1 if paid else 0, len(paid) // 20))
        for inv in self.rng.sample(paid, count):
            created = self.after(inv["status_transitions"]["paid_at"], DAY, 10 * DAY)
            line = self.data.lines[inv["id"]][0]
            amount = line["amount"] if self.rng.random() < 0.5 else max(1, line["amount"] // 2)
            cn_id = self.ids.long("cn")
            cn_line = o.credit_note_line(
                id=self.ids.long("cnli"),
                amount=amount,
                description=line["description"],
                invoice_line_item=line["id"],
                quantity=line["quantity"],
            )
            cn = o.credit_note(
                id=cn_id,
                amount=amount,
                created=created,
                currency=self.currency,
                customer=inv["customer"],
                customer_balance_transaction=self.ids.long("cbtxn"),
                invoice=inv["id"],
                lines=[cn_line],
                number=f"{inv['number']}-CN-01",
                pdf=f"https://pay.stripe.com/credit_notes/{self.data.id}/test_{self.ids.rand(24)}/pdf?s=ap",
                reason=self.rng.choice(["product_unsatisfactory", "order_change", "duplicate"]),
                memo=None,
            )
            inv["post_payment_credit_notes_amount"] = amount
            self.staged["credit_note"].append(cn)
            self.emit("credit_note.created", cn, created)

    # ---------------------------------------------------------------- finish
    def finalize(self) -> None:
        for kind, staged in self.staged.items():
            if kind != "line_item":
                self.data.collections[kind].load(staged)
        self.staged = {kind: [] for kind in KINDS}


class StripeDataset:
    """Objects of a platform account and its connected accounts, as Stripe would hold them.

    Lists are kept sorted by (created, id); use `objects()` to read them (newest first, as
    the API lists them), `update()` to change an object the way an API call would (with
    its event), and `advance()` to create new charges after everything else.
    """

    def __init__(
        self,
        *,
        seed: int,
        days: int,
        now: int,
        api_version: str,
        platform: AccountData,
        connected: list[AccountData],
        application: str,
    ) -> None:
        self.seed = seed
        self.days = days
        self.now = now
        self.api_version = api_version
        self.application = application
        self.lock = threading.RLock()
        self._accounts: dict[str, AccountData] = {platform.id: platform}
        self._accounts.update((acct.id, acct) for acct in connected)
        self.platform_id = platform.id

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(
        cls,
        seed: int = 0,
        days: int = 120,
        balance_transactions: int = 2000,
        connected_accounts: list[str] | tuple[str, ...] | None = None,
        now: int | None = None,
        api_version: str = DEFAULT_API_VERSION,
    ) -> StripeDataset:
        """Build a dataset; every account gets exactly `balance_transactions` transactions."""
        if days < 1 or balance_transactions < 0:
            raise ValueError("days must be >= 1 and balance_transactions >= 0")
        now = int(time.time()) if now is None else int(now)
        connected_ids = list(connected_accounts or [])
        if len(set(connected_ids)) != len(connected_ids):
            raise ValueError("connected account ids must be unique")
        platform_rng = random.Random(f"finfocus-sandbox:{seed}:platform")
        platform_id = "acct_1" + "".join(platform_rng.choices(ALPHABET, k=15))
        if platform_id in connected_ids:
            raise ValueError("a connected account id collides with the platform id")
        platform_ids = _Ids(platform_rng, _tag_of(platform_id))
        application = f"ca_{platform_ids.rand(32)}"
        n = balance_transactions

        def new_account(account_id: str, profile: tuple[str, str, str], ctl: str) -> AccountData:
            currency, country, name = profile
            acct_obj = o.account(
                id=account_id,
                country=country,
                created=now - (days + 30) * DAY,
                default_currency=currency,
                email=f"billing@{name.split()[0].lower()}.example.com",
                name=name,
                type="standard" if ctl == "account" else "express",
                controller=ctl,
            )
            return AccountData(
                id=account_id,
                currency=currency,
                country=country,
                name=name,
                account=acct_obj,
                collections={kind: Collection() for kind in KINDS if kind != "line_item"},
            )

        def builder_for(data: AccountData, rng: random.Random, ids: _Ids) -> _AccountBuilder:
            data.builder = _AccountBuilder(
                data=data,
                rng=rng,
                ids=ids,
                now=now,
                days=days,
                api_version=api_version,
                is_connected=data.id != platform_id,
            )
            return data.builder

        # Connected accounts first: the platform's application fees come from their charges.
        fee_target = n // 15 if connected_ids else 0
        share, extra = divmod(fee_target, max(1, len(connected_ids)))
        marked: list[_Marked] = []
        connected: list[AccountData] = []
        for i, account_id in enumerate(connected_ids):
            profile = CONNECTED_PROFILES[i % len(CONNECTED_PROFILES)]
            data = new_account(account_id, profile, "application")
            rng = random.Random(f"finfocus-sandbox:{seed}:{account_id}")
            b = builder_for(data, rng, _Ids(rng, _tag_of(account_id)))
            wanted = share + (1 if i < extra else 0)
            marked += _build_account(
                b, n, application=application, fees_wanted=wanted, fee_ids=platform_ids
            )
            connected.append(data)

        platform = new_account(platform_id, ("usd", "US", "FinFocus Demo Platform"), "account")
        pb = builder_for(platform, platform_rng, platform_ids)
        _build_account(
            pb, n, application=application, connect_destinations=connected_ids, marked=marked
        )
        return cls(
            seed=seed,
            days=days,
            now=now,
            api_version=api_version,
            platform=platform,
            connected=connected,
            application=application,
        )

    # ------------------------------------------------------------------ reading
    @property
    def account_ids(self) -> list[str]:
        return list(self._accounts)

    def account(self, account: str | None = None) -> AccountData:
        """The account's data; None means the platform. KeyError if unknown."""
        return self._accounts[account or self.platform_id]

    def has_account(self, account: str) -> bool:
        return account in self._accounts

    def currency(self, account: str | None = None) -> str:
        return self.account(account).currency

    def objects(self, kind: str, account: str | None = None) -> list[Obj]:
        """All objects of a kind in an account, newest first (the order lists use).

        These are the live objects: read them, change them only through update().
        """
        data = self._data_for(kind, account)
        with self.lock:
            if kind == "line_item":
                invoices = data.collections["invoice"].items
                return [line for inv in reversed(invoices) for line in data.lines[inv["id"]]]
            return list(reversed(data.collections[kind].items))

    def get(self, kind: str, id_: str, account: str | None = None) -> Obj | None:
        data = self._data_for(kind, account)
        with self.lock:
            if kind == "line_item":
                for lines in data.lines.values():
                    for line in lines:
                        if line["id"] == id_:
                            return line
                return None
            return data.collections[kind].get(id_)

    def _data_for(self, kind: str, account: str | None) -> AccountData:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
        return self.account(account)

    # ------------------------------------------------------------------ changing
    def _clock(self) -> int:
        return max(int(time.time()), self.now)

    def update(
        self,
        kind: str,
        id_: str,
        changes: dict[str, Any],
        event_type: str | None = None,
        account: str | None = None,
        emit_event: bool = True,
    ) -> Obj | None:
        """Change an object like an API update would, and record its event.

        The event (`event_type`, default `<kind>.updated`, Stripe's name for
        subscriptions and disputes) is created now, carries the full object after the
        change and `previous_attributes` with the old values; it is returned.
        """
        with self.lock:
            obj = self.get(kind, id_, account)
            if obj is None:
                raise KeyError(f"no {kind} {id_!r} in account {account or self.platform_id}")
            previous = {key: obj.get(key) for key in changes}
            obj.update(changes)
            if not emit_event:
                return None
            data = self.account(account)
            builder = data.builder
            assert builder is not None
            created = max(self._clock(), data.newest_created())
            evt = builder.make_event(
                event_type or UPDATE_EVENT.get(kind, f"{kind}.updated"),
                obj,
                created,
                previous=previous,
            )
            data.collections["event"].add(evt)
            self.now = max(self.now, created)
            return evt

    def advance(self, new_charges: int = 1, account: str | None = None) -> list[Obj]:
        """Create charges newer than everything in the account (and not in the future).

        Each comes with its balance transaction (fees included) and its charge.succeeded
        event. Waits (without blocking the server) for the clock to tick if the account
        already holds an object created this second. Returns the new objects.
        """
        data = self.account(account)
        builder = data.builder
        assert builder is not None
        while True:
            with self.lock:
                first = data.newest_created() + 1
                wall = int(time.time())
                if wall >= first or first > wall + 2:  # ahead-of-wall clocks: no waiting
                    return self._add_charges(data, builder, first, max(wall, first), new_charges)
            time.sleep(0.05)

    def _add_charges(
        self, data: AccountData, builder: _AccountBuilder, first: int, last: int, count: int
    ) -> list[Obj]:
        builder.now = max(builder.now, last)
        created_objects: list[Obj] = []
        for i in range(count):
            created = min(first + i, last)
            ch, txn = builder.one_off_charge(created)
            evt = builder.make_event("charge.succeeded", ch, created)
            for kind, obj in (("charge", ch), ("balance_transaction", txn), ("event", evt)):
                data.collections[kind].add(obj)
                created_objects.append(obj)
        builder.staged = {kind: [] for kind in KINDS}
        self.now = max(self.now, last)
        return created_objects


def _build_account(
    b: _AccountBuilder,
    n: int,
    *,
    application: str,
    connect_destinations: list[str] | None = None,
    marked: list[_Marked] | None = None,
    fees_wanted: int = 0,
    fee_ids: _Ids | None = None,
) -> list[_Marked]:
    """Generate one account with exactly n balance transactions.

    A connected account gets `fees_wanted` charges that pay the platform an application
    fee (ids from the platform's `fee_ids`); they are returned. The platform gets the
    `marked` charges of its connected accounts as application fees.
    """
    destinations = connect_destinations or []
    marked = marked or []
    fee_items = b.fee_items(with_connect=bool(destinations), with_fx=b.currency == "usd")
    plan = _Plan.for_total(n, b.days, len(fee_items), len(marked), bool(destinations))
    b.build_catalog()
    b.build_customers(max(3, min(5000, plan.charges // 8)))
    months = b.days / 30
    subs = min(3 * len(b.customers), round((plan.charges / 5) / (1 + months / 2)))
    b.build_subscriptions(subs)
    b.build_manual_invoices(max(1, subs // 10) if plan.charges >= 20 else 0)
    payable = b.number_invoices(max_paid=plan.charges)
    b.emit_invoice_events()
    b.build_charges(plan, payable)
    paying: list[_Marked] = []
    if fees_wanted and fee_ids is not None:
        charges = b.staged["charge"]
        for ch in b.rng.sample(charges, min(fees_wanted, len(charges))):
            fee_id = fee_ids.long("fee")
            b.add_application_fee(ch, fee_id, application)
            paying.append(_Marked(b.data.id, ch, fee_id))
    b.emit_charge_events()
    b.build_refunds(plan.refunds)
    b.build_disputes(plan.disputes)
    if destinations:
        b.build_application_fees(marked, plan.app_fee_refunds, application)
        b.build_transfers(plan.transfers, destinations)
    spread = sorted(b.rng.sample(range(len(fee_items)), plan.fees)) if plan.fees else []
    b.build_fee_transactions([fee_items[i] for i in spread], len(destinations))
    b.build_payouts(plan.payouts)
    b.build_credit_notes()
    b.finalize()
    return paying
