"""A deterministic Azure billing account and the costs Cost Management reports for it.

`AzureDataset.generate(seed, days, agreement, subscriptions, resources_per_subscription,
now)` builds one billing account, Enterprise Agreement (`agreement="EA"`: an enrollment
with departments and an enrollment account, billed in USD) or Microsoft Customer Agreement
(`"MCA"`: a billing account with one billing profile and invoice sections, priced in USD
and billed in EUR), its subscriptions, resource groups and resources (virtual machines,
managed disks, storage accounts, bandwidth, SQL databases, Functions), a one-year VM
reservation paid monthly, a compute savings plan paid monthly, spot VMs and a Marketplace
SaaS subscription. Every UTC day in `[today - days, today]` (today included, as Azure
shows the open day) each resource uses its meter; same seed and `now`: same data.

Every usage or purchase is a `Charge`, rendered three ways:

- ActualCost (`rows("ActualCost")`): usage at its effective price; usage a reservation or
  savings plan covers costs 0; commitment purchases appear in full on the 1st of the month.
- AmortizedCost: covered usage carries its share of the commitment; the unused part is a
  daily `UnusedReservation` / `UnusedSavingsPlan` row; commitment purchases are left out.
- FocusCost (`focus_rows()`): both at once (BilledCost = actual, EffectiveCost =
  amortized), FOCUS 1.0 columns as Microsoft's export writes them.

Amounts are exact Decimals (quantities prorated the way Azure prorates monthly meters,
1/31 of a disk-month, so costs have long fractions; MCA converts USD to EUR at a fixed
rate); the CSV text spells exactly the Decimal it stands for (tiny values in the .NET
exponent form Azure writes, `1.2345E-05`). `total(metric, start, end, scope)` is the exact
sum of the billing-currency cost of what those rows hold.

`restate(days=3)` raises the on-demand usage of the most recent days, as Azure revises
recent days until the month closes.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from finfocus_sandbox.azure.columns import COST_COLUMN, EA_COLUMNS, FOCUS_COLUMNS, MCA_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

AGREEMENTS = ("EA", "MCA")
METRICS = ("ActualCost", "AmortizedCost")
ZERO = Decimal(0)
_Q18 = Decimal("1E-18")
_Q15 = Decimal("1E-15")
_TINY = Decimal("0.0001")
_EXPONENT = re.compile(r"E([+-])(\d)$")
_NAMESPACE = uuid.UUID("8b0c5d4e-7a31-4f7e-9a41-3f5f0c2b9d10")


def dec_text(value: Decimal) -> str:
    """The text Azure writes for an amount: plain digits, tiny values as 1.2345E-05."""
    if value == 0:
        return "0"
    if abs(value) < _TINY:
        text = f"{value.normalize():E}"
        return _EXPONENT.sub(lambda m: f"E{m[1]}0{m[2]}", text)
    return f"{value.normalize():f}"


def us_date(day: dt.date) -> str:
    """MM/DD/YYYY, as cost and usage details files write dates."""
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def iso_day(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def stable_guid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(str(p) for p in parts)))


@dataclass(frozen=True)
class Meter:
    """A billing meter: what Azure charges for, its unit and its prices (USD)."""

    key: str
    service_family: str
    category: str
    subcategory: str
    name: str
    unit: str  # Azure's unit of measure, e.g. "1 Hour"
    focus_unit: str  # FOCUS PricingUnit
    product: str
    consumed_service: str
    resource_type: str  # ARM resource type
    resource_type_name: str  # FOCUS ResourceType (display name)
    service_name: str  # FOCUS ServiceName
    service_category: str  # FOCUS ServiceCategory
    payg_price: Decimal
    unit_price: Decimal  # negotiated (EA discount / MCA price)
    part_number: str
    product_id: str

    @property
    def meter_id(self) -> str:
        return stable_guid("meter", self.key)


def _meter(key: str, *fields: Any) -> Meter:
    return Meter(key, *fields)


METERS: dict[str, Meter] = {
    m.key: m
    for m in (
        _meter("vm_d2s", "Compute", "Virtual Machines", "Dsv3 Series", "D2s v3", "1 Hour",
               "Hours", "Virtual Machines Dsv3 Series", "Microsoft.Compute",
               "microsoft.compute/virtualmachines", "Virtual machine", "Virtual Machines",
               "Compute", Decimal("0.096"), Decimal("0.0816"), "AAF-12345", "DZH318Z0BQ4L/00F8"),
        _meter("vm_e4s", "Compute", "Virtual Machines", "Esv5 Series", "E4s v5", "1 Hour",
               "Hours", "Virtual Machines Esv5 Series", "Microsoft.Compute",
               "microsoft.compute/virtualmachines", "Virtual machine", "Virtual Machines",
               "Compute", Decimal("0.252"), Decimal("0.2142"), "AAF-23456", "DZH318Z0CSHK/0043"),
        _meter("vm_d4s_spot", "Compute", "Virtual Machines", "Dsv3 Series", "D4s v3 Spot",
               "1 Hour", "Hours", "Virtual Machines Dsv3 Series", "Microsoft.Compute",
               "microsoft.compute/virtualmachines", "Virtual machine", "Virtual Machines",
               "Compute", Decimal("0.0384"), Decimal("0.0384"), "AAF-34567", "DZH318Z0BQ4L/0217"),
        _meter("disk_p10", "Storage", "Storage", "Premium SSD Managed Disks", "P10 LRS Disk",
               "1/Month", "Disks/Month", "Premium SSD Managed Disks", "Microsoft.Compute",
               "microsoft.compute/disks", "Disk", "Storage Accounts", "Storage",
               Decimal("19.71"), Decimal("16.7535"), "AAD-45678", "DZH318Z0BP04/0076"),
        _meter("blob_hot", "Storage", "Storage", "General Block Blob v2",
               "Hot LRS Data Stored", "1 GB/Month", "GB/Month", "General Block Blob v2",
               "Microsoft.Storage", "microsoft.storage/storageaccounts", "Storage account",
               "Storage Accounts", "Storage", Decimal("0.0184"), Decimal("0.01564"),
               "AAD-56789", "DZH318Z0BPVW/00QB"),
        _meter("egress", "Networking", "Bandwidth", "Rtn Preference: MGN",
               "Standard Data Transfer Out", "1 GB", "GB", "Rtn Preference: MGN",
               "Microsoft.Network", "microsoft.network/publicipaddresses", "Public IP address",
               "Bandwidth", "Networking", Decimal("0.087"), Decimal("0.07395"), "AAA-67890",
               "DZH318Z0BNVX/003R"),
        _meter("sql_vcore", "Databases", "SQL Database", "General Purpose - Compute Gen5",
               "vCore", "1 Hour", "Hours", "SQL Database Single/Elastic Pool General Purpose",
               "Microsoft.Sql", "microsoft.sql/servers/databases", "SQL database",
               "Azure SQL Database", "Databases", Decimal("0.5044"), Decimal("0.42874"),
               "AAB-78901", "DZH318Z0BQ6K/001V"),
        _meter("functions", "Compute", "Functions", "", "Standard Execution Time",
               "10 GB Seconds", "GB Seconds", "Functions", "Microsoft.Web",
               "microsoft.web/sites", "App Service web app", "Azure Functions", "Compute",
               Decimal("0.00016"), Decimal("0.000136"), "AAC-89012", "DZH318Z0BPH7/000K"),
        _meter("saas", "Other", "SaaS", "", "Contoso Analytics Pro", "1/Month",
               "Units/Month", "Contoso Analytics Pro", "Microsoft.SaaS",
               "microsoft.saas/resources", "SaaS subscription", "Marketplace", "Other",
               Decimal("199"), Decimal("199"), "", "DZH318Z0BXYZ/0001"),
    )
}  # fmt: skip

KINDS = ("vm", "disk", "blob", "egress", "sql", "functions")
KIND_METER = {
    "vm": "vm_d2s",
    "disk": "disk_p10",
    "blob": "blob_hot",
    "egress": "egress",
    "sql": "sql_vcore",
    "functions": "functions",
}
RESOURCE_GROUPS = ("rg-web", "rg-data", "rg-shared")
REGIONS = (("eastus", "East US", "US East"), ("westeurope", "West Europe", "EU West"))
TAG_VALUES = {
    "env": ("prod", "staging", "dev"),
    "team": ("web", "data", "platform"),
    "costcenter": ("1001", "1002"),
}
RESERVATION_RATE = Decimal("0.0582")  # D2s v3, 1 year, per instance-hour
SAVINGS_PLAN_RATE = Decimal("0.1512")  # E4s v5 under the savings plan, per hour
SAVINGS_PLAN_COMMITMENT = Decimal("0.42")  # USD per hour
MCA_RATE = Decimal("0.9213")  # USD -> EUR
MARKETPLACE_PRICE = Decimal("199")


@dataclass
class Subscription:
    index: int
    id: str
    name: str
    section_id: str  # EA department / MCA invoice section
    section_name: str
    cost_center: str

    @property
    def resource_id(self) -> str:
        return f"/subscriptions/{self.id}"


@dataclass
class Resource:
    index: int
    subscription: Subscription
    resource_group: str
    kind: str
    name: str
    meter: Meter
    region: tuple[str, str, str]  # (id, display name, meter region)
    tags: dict[str, str]
    coverage: str | None = None  # "reservation" | "savings_plan" | "spot"
    tags_text: str | None = None  # a malformed tags string, written as is

    @property
    def resource_id(self) -> str:
        provider, _, rtype = self.meter.resource_type.partition("/")
        provider = {
            "microsoft.compute": "Microsoft.Compute",
            "microsoft.storage": "Microsoft.Storage",
            "microsoft.network": "Microsoft.Network",
            "microsoft.sql": "Microsoft.Sql",
            "microsoft.web": "Microsoft.Web",
        }.get(provider, provider)
        kind = {
            "virtualmachines": "virtualMachines",
            "disks": "disks",
            "storageaccounts": "storageAccounts",
            "publicipaddresses": "publicIPAddresses",
            "servers/databases": "servers/sql-main/databases",
            "sites": "sites",
        }.get(rtype, rtype)
        return (
            f"/subscriptions/{self.subscription.id}/resourceGroups/{self.resource_group}"
            f"/providers/{provider}/{kind}/{self.name}"
        )


@dataclass(frozen=True)
class Commitment:
    """A reservation or a savings plan, paid monthly over one year."""

    kind: str  # "reservation" | "savings_plan"
    order_id: str
    id: str
    name: str
    product: str
    capacity: int  # reservation: instances; savings plan: 1
    hourly: Decimal  # reservation: rate per instance-hour; savings plan: commitment

    @property
    def resource_id(self) -> str:
        if self.kind == "reservation":
            return (
                f"/providers/Microsoft.Capacity/reservationOrders/{self.order_id}"
                f"/reservations/{self.id}"
            )
        return (
            f"/providers/Microsoft.BillingBenefits/savingsPlanOrders/{self.order_id}"
            f"/savingsPlans/{self.id}"
        )

    def daily(self) -> Decimal:
        return self.hourly * 24 * self.capacity


@dataclass
class Charge:
    """One cost line before it is rendered as EA, MCA or FOCUS columns (USD amounts)."""

    day: dt.date
    subscription: Subscription
    meter: Meter
    resource: Resource | None
    charge_type: str  # Usage | Purchase | UnusedReservation | UnusedSavingsPlan
    frequency: str  # UsageBased | Recurring | OneTime
    pricing_model: str  # On Demand | Reservation | SavingsPlan | Spot
    quantity: Decimal
    actual_price: Decimal
    actual_cost: Decimal | None  # None: not in ActualCost
    amortized_price: Decimal
    amortized_cost: Decimal | None  # None: not in AmortizedCost
    commitment: Commitment | None = None
    marketplace: bool = False
    product: str = ""
    additional_info: str = ""
    term: str = ""
    service_period: tuple[dt.date, dt.date] | None = None

    def cost(self, metric: str) -> Decimal | None:
        return self.actual_cost if metric == "ActualCost" else self.amortized_cost

    def price(self, metric: str) -> Decimal:
        return self.actual_price if metric == "ActualCost" else self.amortized_price


class ScopeError(LookupError):
    """A scope that names nothing in the dataset: (code, message) as ARM answers 404."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class AzureDataset:
    """An Azure billing account (EA or MCA), its subscriptions, resources and charges."""

    seed: int
    days: int
    agreement: str
    now: int
    tenant_id: str
    tenant_name: str
    billing_account_id: str
    billing_account_name: str
    billing_profile_id: str
    billing_profile_name: str
    subscriptions: list[Subscription]
    resources: list[Resource]
    reservation: Commitment
    savings_plan: Commitment
    enrollment_account: dict[str, str] = field(default_factory=dict)
    restatements: dict[dt.date, int] = field(default_factory=dict)
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _cache: dict[dt.date, list[Charge]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(
        cls,
        seed: int = 1,
        days: int = 60,
        agreement: str = "EA",
        subscriptions: int = 3,
        resources_per_subscription: int = 8,
        now: int | None = None,
        malformed_tags: int = 0,
    ) -> AzureDataset:
        """Build the account. `malformed_tags` resources get a Tags string that is not JSON."""
        if agreement not in AGREEMENTS:
            raise ValueError(f"agreement must be one of {AGREEMENTS}, got {agreement!r}")
        if days < 1 or subscriptions < 1 or resources_per_subscription < 1:
            raise ValueError("days, subscriptions and resources_per_subscription must be >= 1")
        rng = random.Random(seed)
        now = int(time.time()) if now is None else int(now)

        def guid() -> str:
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))

        def code(groups: tuple[int, ...]) -> str:
            alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
            return "-".join("".join(rng.choices(alphabet, k=n)) for n in groups)

        tenant_id = guid()
        if agreement == "EA":
            account_id = str(rng.randint(60_000_000, 89_999_999))
            account_name = "Contoso Ltd"
            profile_id, profile_name = account_id, account_name
            sections = [(str(rng.randint(100_000, 999_999)), n) for n in ("Engineering", "Data")]
            enrollment = {
                "AccountId": str(rng.randint(100_000, 999_999)),
                "AccountName": "Contoso Cloud Platform",
                "AccountOwnerId": "cloud-billing@contoso.example",
            }
        else:
            account_id = f"{guid()}:{guid()}_2019-05-31"
            account_name = "Contoso Ltd"
            profile_id, profile_name = code((4, 4, 3, 3)), "Contoso Ltd Billing"
            sections = [(code((4, 4, 3, 3)), n) for n in ("Engineering", "Data")]
            enrollment = {}
        subs = []
        for index in range(subscriptions):
            section = sections[index % len(sections)]
            subs.append(
                Subscription(
                    index=index,
                    id=guid(),
                    name=f"contoso-{('prod', 'dev', 'data', 'shared', 'sandbox')[index % 5]}"
                    f"-{index + 1:02d}",
                    section_id=section[0],
                    section_name=section[1],
                    cost_center="" if index % 3 == 2 else f"CC-{1001 + index % 2}",
                )
            )
        resources: list[Resource] = []
        for sub in subs:
            for number in range(resources_per_subscription):
                kind = KINDS[number % len(KINDS)]
                rg = RESOURCE_GROUPS[number % len(RESOURCE_GROUPS)]
                region = REGIONS[0] if (sub.index + number) % 4 else REGIONS[1]
                tags = {}
                for key, values in TAG_VALUES.items():
                    if rng.random() < 0.75:
                        tags[key] = rng.choice(values)
                name = f"{kind}-{sub.index + 1:02d}-{number + 1:03d}"
                resources.append(
                    Resource(len(resources), sub, rg, kind, name, METERS[KIND_METER[kind]],
                             region, tags)
                )  # fmt: skip
        # Coverage: the first two VMs of the first subscription run under the reservation,
        # the next two (E4s v5) under the savings plan, one more VM is a spot VM.
        vms = [r for r in resources if r.kind == "vm"]
        for position, vm in enumerate(vms[:5]):
            if position < 2:
                vm.coverage = "reservation"
            elif position < 4:
                vm.coverage, vm.meter = "savings_plan", METERS["vm_e4s"]
            else:
                vm.coverage, vm.meter = "spot", METERS["vm_d4s_spot"]
        for resource in resources[len(resources) - malformed_tags :] if malformed_tags else []:
            resource.tags_text = '"owner": "o"neil","env": "prod"'
        reserved = sum(1 for r in resources if r.coverage == "reservation")
        reservation = Commitment(
            "reservation",
            guid(),
            guid(),
            "VM_RI_01-01-2025_09-00",
            "Reserved VM Instance, Standard_D2s_v3, US East, 1 Year",
            reserved + 1,  # one instance more than runs: some of it goes unused
            RESERVATION_RATE,
        )
        savings_plan = Commitment(
            "savings_plan",
            guid(),
            guid(),
            "SP_Compute_2025",
            "Compute Savings Plan, 1 Year",
            1,
            SAVINGS_PLAN_COMMITMENT,
        )
        return cls(
            seed=seed,
            days=days,
            agreement=agreement,
            now=now,
            tenant_id=tenant_id,
            tenant_name="Contoso",
            billing_account_id=account_id,
            billing_account_name=account_name,
            billing_profile_id=profile_id,
            billing_profile_name=profile_name,
            subscriptions=subs,
            resources=resources,
            reservation=reservation,
            savings_plan=savings_plan,
            enrollment_account=enrollment,
        )

    # ------------------------------------------------------------------ time
    @property
    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now, tz=dt.UTC).date()

    @property
    def first_day(self) -> dt.date:
        return self.today - dt.timedelta(days=self.days)

    def day_range(self, start: dt.date | None = None, end: dt.date | None = None) -> list[dt.date]:
        """The days with data in [start, end) (end exclusive), oldest first."""
        lower = max(start or self.first_day, self.first_day)
        upper = min(end or self.today + dt.timedelta(days=1), self.today + dt.timedelta(days=1))
        out = []
        day = lower
        while day < upper:
            out.append(day)
            day += dt.timedelta(days=1)
        return out

    def months(self) -> list[str]:
        """YYYY-MM of every month that holds data, oldest first."""
        seen: list[str] = []
        for day in self.day_range():
            key = f"{day.year:04d}-{day.month:02d}"
            if key not in seen:
                seen.append(key)
        return seen

    # ------------------------------------------------------------------ restatement
    def restate(self, days: int = 3) -> list[dt.date]:
        """Late usage for today and the `days - 1` days before: their on-demand usage grows."""
        with self.lock:
            touched = [self.today - dt.timedelta(days=n) for n in range(days)]
            for day in touched:
                self.restatements[day] = self.restatements.get(day, 0) + 1
                self._cache.pop(day, None)
            self.version += 1
            return sorted(touched)

    # ------------------------------------------------------------------ charges
    def charges(self, day: dt.date) -> list[Charge]:
        """Every charge of one day (cached; restate() drops the days it changes)."""
        with self.lock:
            cached = self._cache.get(day)
            if cached is None:
                cached = self._cache[day] = self._build_day(day)
            return cached

    def all_charges(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> Iterator[Charge]:
        for day in self.day_range(start, end):
            yield from self.charges(day)

    def _build_day(self, day: dt.date) -> list[Charge]:
        out: list[Charge] = []
        month_days = days_in_month(day)
        factor = 1 + Decimal("0.07") * self.restatements.get(day, 0)
        used_reserved_hours = ZERO
        used_plan_cost = ZERO
        host = self.subscriptions[0]
        for resource in self.resources:
            rng = random.Random(f"{self.seed}|{resource.index}|{day.isoformat()}")
            meter = resource.meter
            kind = resource.kind
            if kind == "vm":
                hours = (
                    Decimal(24) if rng.random() < 0.85 else Decimal(rng.choice(("13.5", "7.25")))
                )
                quantity = hours
            elif kind == "disk":
                quantity = (Decimal(1) / month_days).quantize(_Q15)
            elif kind == "blob":
                gb = Decimal(rng.randint(50_000, 900_000)) / 1000
                quantity = (gb / month_days).quantize(_Q15)
            elif kind == "egress":
                quantity = Decimal(rng.randint(1, 5_000_000)) / Decimal(100_000_000)
            elif kind == "sql":
                quantity = Decimal(48)
            else:
                quantity = Decimal(rng.randint(1, 50_000)) / 10
            info = ""
            if kind == "vm":
                size = {"vm_d2s": "Standard_D2s_v3", "vm_e4s": "Standard_E4s_v5"}.get(
                    meter.key, "Standard_D4s_v3"
                )
                info = json.dumps(
                    {"ServiceType": size, "VMName": "", "UsageType": "ComputeHR", "VCPUs": 2},
                    separators=(",", ":"),
                )
            coverage = resource.coverage
            if coverage == "reservation":
                used_reserved_hours += quantity
                out.append(
                    Charge(
                        day, resource.subscription, meter, resource, "Usage", "UsageBased",
                        "Reservation", quantity, ZERO, ZERO, RESERVATION_RATE,
                        quantity * RESERVATION_RATE, self.reservation,
                        product=meter.product, additional_info=info,
                    )
                )  # fmt: skip
                continue
            if coverage == "savings_plan":
                cost = quantity * SAVINGS_PLAN_RATE
                used_plan_cost += cost
                out.append(
                    Charge(
                        day, resource.subscription, meter, resource, "Usage", "UsageBased",
                        "SavingsPlan", quantity, ZERO, ZERO, SAVINGS_PLAN_RATE, cost,
                        self.savings_plan, product=meter.product, additional_info=info,
                    )
                )  # fmt: skip
                continue
            if kind not in ("disk", "sql"):  # late usage restates metered usage
                quantity = quantity * factor
                if kind in ("blob",):
                    quantity = quantity.quantize(_Q15)
            price = meter.unit_price
            cost = (quantity * price).quantize(_Q18).normalize()
            model = "Spot" if coverage == "spot" else "On Demand"
            out.append(
                Charge(
                    day, resource.subscription, meter, resource, "Usage", "UsageBased", model,
                    quantity, price, cost, price, cost, product=meter.product,
                    additional_info=info,
                )
            )  # fmt: skip
        # Commitments: unused parts (amortized only) every day, purchases on the 1st.
        reservation, plan = self.reservation, self.savings_plan
        unused_hours = reservation.capacity * 24 - used_reserved_hours
        if unused_hours > 0:
            out.append(
                Charge(
                    day, host, METERS["vm_d2s"], None, "UnusedReservation", "UsageBased",
                    "Reservation", unused_hours, ZERO, None, reservation.hourly,
                    unused_hours * reservation.hourly, reservation, product=reservation.product,
                )
            )  # fmt: skip
        unused_plan = plan.daily() - used_plan_cost
        if unused_plan > 0:
            out.append(
                Charge(
                    day, host, METERS["vm_e4s"], None, "UnusedSavingsPlan", "UsageBased",
                    "SavingsPlan", (unused_plan / plan.hourly).quantize(_Q15), ZERO, None,
                    plan.hourly, unused_plan, plan, product=plan.product,
                )
            )  # fmt: skip
        if day.day == 1:
            period = (day, next_month(day) - dt.timedelta(days=1))
            for commitment in (reservation, plan):
                amount = commitment.daily() * month_days
                out.append(
                    Charge(
                        day, host, METERS["vm_d2s" if commitment is reservation else "vm_e4s"],
                        None, "Purchase", "Recurring",
                        "Reservation" if commitment is reservation else "SavingsPlan",
                        Decimal(1), amount, amount, ZERO, None, commitment,
                        product=commitment.product, term="12", service_period=period,
                    )
                )  # fmt: skip
            saas = METERS["saas"]
            out.append(
                Charge(
                    day, self.subscriptions[-1], saas, None, "Purchase", "Recurring", "On Demand",
                    Decimal(1), MARKETPLACE_PRICE, MARKETPLACE_PRICE, MARKETPLACE_PRICE,
                    MARKETPLACE_PRICE, marketplace=True, product=saas.product, term="1",
                    service_period=period,
                )
            )  # fmt: skip
        return out

    # ------------------------------------------------------------------ currency
    @property
    def billing_currency(self) -> str:
        return "USD" if self.agreement == "EA" else "EUR"

    @property
    def exchange_rate(self) -> Decimal:
        return Decimal(1) if self.agreement == "EA" else MCA_RATE

    def billing(self, usd: Decimal) -> Decimal:
        """A USD amount in the billing currency, as the files write it (18 places at most)."""
        if self.agreement == "EA":
            return usd
        return (usd * MCA_RATE).quantize(_Q18).normalize()

    # ------------------------------------------------------------------ scopes
    @property
    def billing_account_scope(self) -> str:
        return f"/providers/Microsoft.Billing/billingAccounts/{self.billing_account_id}"

    @property
    def billing_profile_scope(self) -> str:
        return f"{self.billing_account_scope}/billingProfiles/{self.billing_profile_id}"

    @property
    def focus_billing_account_id(self) -> str:
        return self.billing_account_scope if self.agreement == "EA" else self.billing_profile_scope

    def scopes(self) -> list[str]:
        """Every scope the Cost Details API answers for this account."""
        found = [self.billing_account_scope]
        if self.agreement == "MCA":
            found.append(self.billing_profile_scope)
        for sub in self.subscriptions:
            found.append(sub.resource_id)
            found.extend(f"{sub.resource_id}/resourceGroups/{rg}" for rg in RESOURCE_GROUPS)
        return found

    def scope_filter(self, scope: str) -> Callable[[Charge], bool]:
        """The charges a scope covers; ScopeError for a scope naming nothing here."""
        parts = [p for p in scope.strip("/").split("/") if p]
        lower = [p.lower() for p in parts]
        if lower[:1] == ["subscriptions"] and len(parts) >= 2:
            sub = next((s for s in self.subscriptions if s.id.lower() == lower[1]), None)
            if sub is None:
                raise ScopeError(
                    "SubscriptionNotFound", f"The subscription '{parts[1]}' could not be found."
                )
            if len(parts) == 2:
                return lambda c: c.subscription is sub
            if len(parts) == 4 and lower[2] == "resourcegroups":
                rg = lower[3]
                if rg not in RESOURCE_GROUPS:
                    raise ScopeError(
                        "ResourceGroupNotFound", f"Resource group '{parts[3]}' could not be found."
                    )
                return lambda c: (
                    c.subscription is sub
                    and c.resource is not None
                    and c.resource.resource_group == rg
                )
        prefix = ["providers", "microsoft.billing", "billingaccounts"]
        if lower[:3] == prefix and len(parts) >= 4:
            if parts[3] != self.billing_account_id:
                raise ScopeError("NotFound", f"Billing account '{parts[3]}' was not found.")
            rest = lower[4:]
            if not rest:
                return lambda c: True
            if self.agreement == "EA" and len(rest) == 2 and rest[0] == "departments":
                section = parts[5]
                if section not in {s.section_id for s in self.subscriptions}:
                    raise ScopeError("NotFound", f"Department '{section}' was not found.")
                return lambda c: c.subscription.section_id == section
            if self.agreement == "MCA" and rest[:1] == ["billingprofiles"] and len(rest) >= 2:
                if parts[5] != self.billing_profile_id:
                    raise ScopeError("NotFound", f"Billing profile '{parts[5]}' was not found.")
                if len(rest) == 2:
                    return lambda c: True
                if len(rest) == 4 and rest[2] == "invoicesections":
                    section = parts[7]
                    if section not in {s.section_id for s in self.subscriptions}:
                        raise ScopeError("NotFound", f"Invoice section '{section}' was not found.")
                    return lambda c: c.subscription.section_id == section
        raise ScopeError("InvalidScope", f"The scope '{scope}' is not valid for Cost Management.")

    # ------------------------------------------------------------------ totals
    def total(
        self,
        metric: str = "ActualCost",
        start: dt.date | None = None,
        end: dt.date | None = None,
        scope: str | None = None,
    ) -> Decimal:
        """Exact sum of the billing-currency cost of `metric` rows with a date in [start, end)."""
        keep = self.scope_filter(scope) if scope else None
        total = ZERO
        for charge in self.all_charges(start, end):
            cost = charge.cost(metric)
            if cost is None or (keep is not None and not keep(charge)):
                continue
            total += self.billing(cost)
        return total

    def focus_totals(
        self, start: dt.date | None = None, end: dt.date | None = None, scope: str | None = None
    ) -> tuple[Decimal, Decimal]:
        """(sum of BilledCost, sum of EffectiveCost) of the FocusCost rows in [start, end)."""
        billed = effective = ZERO
        keep = self.scope_filter(scope) if scope else None
        for charge in self.all_charges(start, end):
            if keep is not None and not keep(charge):
                continue
            billed += self.billing(charge.actual_cost or ZERO)
            effective += self.billing(charge.amortized_cost or ZERO)
        return billed, effective

    # ------------------------------------------------------------------ rows
    @property
    def columns(self) -> tuple[str, ...]:
        return EA_COLUMNS if self.agreement == "EA" else MCA_COLUMNS

    @property
    def cost_column(self) -> str:
        return COST_COLUMN[self.agreement]

    def rows(
        self,
        metric: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        scope: str | None = None,
    ) -> Iterator[list[str]]:
        """Cost and usage details rows (EA or MCA columns) of `metric`, dates in [start, end)."""
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}")
        keep = self.scope_filter(scope) if scope else None
        render = self._ea_row if self.agreement == "EA" else self._mca_row
        for charge in self.all_charges(start, end):
            if charge.cost(metric) is None or (keep is not None and not keep(charge)):
                continue
            yield render(charge, metric)

    def focus_rows(
        self, start: dt.date | None = None, end: dt.date | None = None, scope: str | None = None
    ) -> Iterator[list[str]]:
        """FocusCost rows (FOCUS 1.0 columns), charge dates in [start, end)."""
        keep = self.scope_filter(scope) if scope else None
        for charge in self.all_charges(start, end):
            if keep is None or keep(charge):
                yield self._focus_row(charge)

    # --- shared facts
    def _tags_text(self, resource: Resource | None, *, braces: bool) -> str:
        if resource is None or not (resource.tags or resource.tags_text):
            return ""
        if resource.tags_text is not None:
            return "{" + resource.tags_text + "}" if braces else resource.tags_text
        body = ",".join(f'"{k}": "{v}"' for k, v in resource.tags.items())
        return "{" + body + "}" if braces else body

    def _common(self, charge: Charge) -> dict[str, str]:
        resource = charge.resource
        meter = charge.meter
        commitment = charge.commitment
        day = charge.day
        start = month_start(day)
        facts = {
            "date": us_date(day),
            "period_start": us_date(start),
            "period_end": us_date(next_month(start) - dt.timedelta(days=1)),
            "rg": resource.resource_group if resource else "",
            "resource_id": resource.resource_id if resource else "",
            "resource_name": resource.name if resource else "",
            "location": resource.region[0] if resource else "",
            "location_name": resource.region[1] if resource else "",
            "meter_region": resource.region[2] if resource else "",
            "reservation_id": "",
            "reservation_name": "",
            "benefit_id": "",
            "benefit_name": "",
            "order_id": "",
            "order_name": "",
        }
        if commitment is not None:
            if commitment.kind == "reservation":
                facts["reservation_id"] = commitment.id
                facts["reservation_name"] = commitment.name
            else:
                facts["benefit_id"] = commitment.resource_id
                facts["benefit_name"] = commitment.name
            facts["order_id"] = commitment.order_id
            facts["order_name"] = commitment.product
        if charge.marketplace:
            facts["meter_id"] = ""
        else:
            facts["meter_id"] = meter.meter_id
        return facts

    def _ea_row(self, charge: Charge, metric: str) -> list[str]:
        f = self._common(charge)
        sub = charge.subscription
        meter = charge.meter
        cost = charge.cost(metric)
        assert cost is not None
        market = charge.marketplace
        values = {
            "InvoiceSectionName": sub.section_name,
            "AccountName": self.enrollment_account["AccountName"],
            "AccountOwnerId": self.enrollment_account["AccountOwnerId"],
            "SubscriptionId": sub.id,
            "SubscriptionName": sub.name,
            "ResourceGroup": f["rg"],
            "ResourceLocation": f["location_name"].replace(" ", ""),
            "Date": f["date"],
            "ProductName": charge.product,
            "MeterCategory": meter.category,
            "MeterSubCategory": meter.subcategory,
            "MeterId": f["meter_id"],
            "MeterName": meter.name,
            "MeterRegion": f["meter_region"],
            "UnitOfMeasure": meter.unit,
            "Quantity": dec_text(charge.quantity),
            "EffectivePrice": dec_text(charge.price(metric)),
            "CostInBillingCurrency": dec_text(cost),
            "CostCenter": sub.cost_center,
            "ConsumedService": meter.consumed_service,
            "ResourceId": f["resource_id"],
            "Tags": self._tags_text(charge.resource, braces=False),
            "OfferId": "MS-AZR-0017P",
            "AdditionalInfo": charge.additional_info,
            "ResourceName": f["resource_name"],
            "ReservationId": f["reservation_id"],
            "ReservationName": f["reservation_name"],
            "UnitPrice": dec_text(meter.unit_price),
            "ProductOrderId": f["order_id"],
            "ProductOrderName": f["order_name"],
            "Term": charge.term,
            "PublisherType": "Marketplace" if market else "Azure",
            "PublisherName": "Contoso Software Inc." if market else "Microsoft",
            "ChargeType": charge.charge_type,
            "Frequency": charge.frequency,
            "PricingModel": charge.pricing_model,
            "BillingAccountId": self.billing_account_id,
            "BillingAccountName": self.billing_account_name,
            "BillingCurrencyCode": "USD",
            "BillingPeriodStartDate": f["period_start"],
            "BillingPeriodEndDate": f["period_end"],
            "BillingProfileId": self.billing_profile_id,
            "BillingProfileName": self.billing_profile_name,
            "InvoiceSectionId": sub.section_id,
            "IsAzureCreditEligible": "False" if market else "True",
            "PartNumber": meter.part_number,
            "PayGPrice": dec_text(meter.payg_price),
            "PlanName": "pro" if market else "",
            "ServiceFamily": meter.service_family,
            "benefitId": f["benefit_id"],
            "benefitName": f["benefit_name"],
            "AccountId": self.enrollment_account["AccountId"],
            "ResourceLocationNormalized": f["location_name"],
        }
        return [values.get(column, "") for column in EA_COLUMNS]

    def _invoice_id(self, day: dt.date) -> str:
        if month_start(day) >= month_start(self.today):
            return ""  # the open month has no invoice yet
        serial = int(stable_guid("invoice", self.billing_profile_id)[:5], 16) % 10**5
        return f"G0{day.year % 100:02d}{day.month:02d}{serial:05d}"

    def _mca_row(self, charge: Charge, metric: str) -> list[str]:
        f = self._common(charge)
        sub = charge.subscription
        meter = charge.meter
        cost_usd = charge.cost(metric)
        assert cost_usd is not None
        market = charge.marketplace
        payg_usd = (charge.quantity * meter.payg_price).quantize(_Q18).normalize()
        service = charge.service_period or (charge.day, charge.day)
        values = {
            "invoiceId": self._invoice_id(charge.day),
            "billingAccountId": self.billing_account_id,
            "billingAccountName": self.billing_account_name,
            "billingProfileId": self.billing_profile_id,
            "billingProfileName": self.billing_profile_name,
            "invoiceSectionId": sub.section_id,
            "invoiceSectionName": sub.section_name,
            "costCenter": sub.cost_center,
            "billingPeriodEndDate": f["period_end"],
            "billingPeriodStartDate": f["period_start"],
            "servicePeriodEndDate": us_date(service[1]),
            "servicePeriodStartDate": us_date(service[0]),
            "date": f["date"],
            "serviceFamily": meter.service_family,
            "productOrderId": f["order_id"] or stable_guid("azure-plan", sub.id),
            "productOrderName": f["order_name"] or "Azure plan",
            "consumedService": meter.consumed_service,
            "meterId": f["meter_id"],
            "meterName": meter.name,
            "meterCategory": meter.category,
            "meterSubCategory": meter.subcategory,
            "meterRegion": f["meter_region"],
            "ProductId": meter.product_id,
            "ProductName": charge.product,
            "SubscriptionId": sub.id,
            "subscriptionName": sub.name,
            "publisherType": "Marketplace" if market else "Microsoft",
            "publisherId": "contoso-software" if market else "",
            "publisherName": "Contoso Software Inc." if market else "Microsoft",
            "resourceGroupName": f["rg"],
            "ResourceId": f["resource_id"],
            "resourceLocation": f["location"],
            "location": f["meter_region"],
            "effectivePrice": dec_text(charge.price(metric)),
            "quantity": dec_text(charge.quantity),
            "unitOfMeasure": meter.unit,
            "chargeType": charge.charge_type,
            "billingCurrency": "EUR",
            "pricingCurrency": "USD",
            "costInBillingCurrency": dec_text(self.billing(cost_usd)),
            "costInPricingCurrency": dec_text(cost_usd),
            "costInUsd": dec_text(cost_usd),
            "paygCostInBillingCurrency": dec_text(self.billing(payg_usd)),
            "paygCostInUsd": dec_text(payg_usd),
            "exchangeRatePricingToBilling": dec_text(MCA_RATE),
            "exchangeRateDate": f["period_start"],
            "isAzureCreditEligible": "False" if market else "True",
            "additionalInfo": charge.additional_info,
            "tags": self._tags_text(charge.resource, braces=True),
            "PayGPrice": dec_text(meter.payg_price),
            "frequency": charge.frequency,
            "term": charge.term,
            "reservationId": f["reservation_id"],
            "reservationName": f["reservation_name"],
            "pricingModel": charge.pricing_model,
            "unitPrice": dec_text(meter.unit_price),
            "benefitId": f["benefit_id"],
            "benefitName": f["benefit_name"],
            "provider": "Azure",
        }
        return [values.get(column, "") for column in MCA_COLUMNS]

    def _focus_row(self, charge: Charge) -> list[str]:
        f = self._common(charge)
        sub = charge.subscription
        meter = charge.meter
        commitment = charge.commitment
        market = charge.marketplace
        day = charge.day
        billed_usd = charge.actual_cost or ZERO
        effective_usd = charge.amortized_cost or ZERO
        list_usd = (charge.quantity * meter.payg_price).quantize(_Q18).normalize()
        contracted_usd = (charge.quantity * meter.unit_price).quantize(_Q18).normalize()
        purchase = charge.charge_type == "Purchase"
        unused = charge.charge_type.startswith("Unused")
        if commitment is None:
            status = category = ctype = cid = cname = ""
        else:
            ctype = "Reservation" if commitment.kind == "reservation" else "Savings Plan"
            category = "Usage" if commitment.kind == "reservation" else "Spend"
            status = "" if purchase else ("Unused" if unused else "Used")
            cid, cname = commitment.resource_id, commitment.name
        if charge.pricing_model == "Spot":
            pricing_category = "Dynamic"
        elif commitment is not None and not purchase:
            pricing_category = "Committed"
        else:
            pricing_category = "Standard"
        start = month_start(day)
        period = charge.service_period
        charge_end = day + dt.timedelta(days=1)
        frequency = {"UsageBased": "Usage-Based", "Recurring": "Recurring"}.get(
            charge.frequency, "One-Time"
        )
        region = charge.resource.region if charge.resource else ("", "", "")
        values = {
            "BilledCost": dec_text(self.billing(billed_usd)),
            "BillingAccountId": self.focus_billing_account_id,
            "BillingAccountName": (
                self.billing_account_name if self.agreement == "EA" else self.billing_profile_name
            ),
            "BillingAccountType": "Billing Account"
            if self.agreement == "EA"
            else "Billing Profile",
            "BillingCurrency": self.billing_currency,
            "BillingPeriodEnd": iso_day(next_month(start)),
            "BillingPeriodStart": iso_day(start),
            "ChargeCategory": "Purchase" if purchase else "Usage",
            "ChargeDescription": charge.product,
            "ChargeFrequency": frequency,
            "ChargePeriodEnd": iso_day(charge_end),
            "ChargePeriodStart": iso_day(day),
            "CommitmentDiscountCategory": category,
            "CommitmentDiscountId": cid,
            "CommitmentDiscountName": cname,
            "CommitmentDiscountStatus": status,
            "CommitmentDiscountType": ctype,
            "ConsumedQuantity": "" if purchase else dec_text(charge.quantity),
            "ConsumedUnit": "" if purchase else meter.focus_unit,
            "ContractedCost": dec_text(self.billing(contracted_usd)),
            "ContractedUnitPrice": dec_text(self.billing(meter.unit_price)),
            "EffectiveCost": dec_text(self.billing(effective_usd)),
            "InvoiceIssuerName": "Microsoft",
            "ListCost": dec_text(self.billing(list_usd)),
            "ListUnitPrice": dec_text(self.billing(meter.payg_price)),
            "PricingCategory": pricing_category,
            "PricingQuantity": dec_text(charge.quantity),
            "PricingUnit": meter.focus_unit,
            "ProviderName": "Microsoft",
            "PublisherName": "Contoso Software Inc." if market else "Microsoft",
            "RegionId": region[0],
            "RegionName": region[1],
            "ResourceId": f["resource_id"],
            "ResourceName": f["resource_name"],
            "ResourceType": meter.resource_type_name if charge.resource else "",
            "ServiceCategory": meter.service_category,
            "ServiceName": meter.service_name,
            "SkuId": meter.product_id,
            "SkuPriceId": f"{meter.product_id}/{meter.part_number}" if meter.part_number else "",
            "SubAccountId": sub.resource_id,
            "SubAccountName": sub.name,
            "SubAccountType": "Subscription",
            "Tags": self._tags_text(charge.resource, braces=True) or "{}",
            "x_BilledCostInUsd": dec_text(billed_usd),
            "x_BilledUnitPrice": dec_text(charge.actual_price),
            "x_BillingAccountId": self.billing_account_id,
            "x_BillingAccountName": self.billing_account_name,
            "x_BillingExchangeRate": dec_text(self.exchange_rate),
            "x_BillingExchangeRateDate": iso_day(start),
            "x_BillingProfileId": self.billing_profile_id,
            "x_BillingProfileName": self.billing_profile_name,
            "x_ContractedCostInUsd": dec_text(contracted_usd),
            "x_CostCenter": sub.cost_center,
            "x_EffectiveCostInUsd": dec_text(effective_usd),
            "x_EffectiveUnitPrice": dec_text(charge.amortized_price),
            "x_InvoiceId": self._invoice_id(day) if self.agreement == "MCA" else "",
            "x_InvoiceSectionId": sub.section_id,
            "x_InvoiceSectionName": sub.section_name,
            "x_ListCostInUsd": dec_text(list_usd),
            "x_PricingBlockSize": "1",
            "x_PricingCurrency": "USD",
            "x_PricingUnitDescription": meter.unit,
            "x_PublisherCategory": "Vendor" if market else "Cloud Provider",
            "x_ResourceGroupName": f["rg"],
            "x_ResourceType": meter.resource_type if charge.resource else "",
            "x_ServicePeriodEnd": iso_day((period[1] if period else day) + dt.timedelta(days=1)),
            "x_ServicePeriodStart": iso_day(period[0] if period else day),
            "x_SkuDescription": f"{meter.name}",
            "x_SkuDetails": charge.additional_info,
            "x_SkuIsCreditEligible": "false" if market else "true",
            "x_SkuMeterCategory": meter.category,
            "x_SkuMeterId": f["meter_id"],
            "x_SkuMeterName": meter.name,
            "x_SkuMeterSubcategory": meter.subcategory,
            "x_SkuOfferId": "MS-AZR-0017P" if self.agreement == "EA" else "",
            "x_SkuOrderId": f["order_id"],
            "x_SkuOrderName": f["order_name"],
            "x_SkuPartNumber": meter.part_number,
            "x_SkuRegion": f["meter_region"],
            "x_SkuServiceFamily": meter.service_family,
            "x_SkuTerm": charge.term,
        }
        if self.agreement == "EA":
            values["x_AccountId"] = self.enrollment_account["AccountId"]
            values["x_AccountName"] = self.enrollment_account["AccountName"]
            values["x_AccountOwnerId"] = self.enrollment_account["AccountOwnerId"]
        return [values.get(column, "") for column in FOCUS_COLUMNS]


__all__ = [
    "AGREEMENTS",
    "METERS",
    "METRICS",
    "AzureDataset",
    "Charge",
    "Commitment",
    "Resource",
    "ScopeError",
    "Subscription",
    "dec_text",
    "month_start",
    "next_month",
]
