"""A deterministic Google Cloud Billing export: one billing account, as BigQuery holds it.

Three tables share one set of facts:

- ``resource`` (detailed usage cost, ``gcp_billing_export_resource_v1_<ID>``): one row per
  resource, SKU and hour (daily SKUs: per day), with labels, system labels, project
  ancestry (project, folders, organization), location, ``price`` and credits of every
  type Google documents (committed use, dollar-based committed use, sustained use,
  promotion, free tier, discount, subscription benefit, reseller margin, fee utilization
  offset); tax, adjustment (with ``adjustment_info``) and rounding error rows.
- ``standard`` (``gcp_billing_export_v1_<ID>``): the same rows summed over resources, as
  Google's standard export has no resource columns.
- ``focus``: the detailed rows mapped as Google's FOCUS BigQuery view maps them.

**Append-only, like Google's export.** Every row has the ``export_time`` of the export
batch that appended it (batches every four hours, one to six hours after the usage
ended). Rows are never changed afterwards: a later re-rating of some usage is a *new*
row with the same usage identity, a later ``export_time`` and the difference in cost,
usage and credits (positive or negative), so that the sum of all rows is the corrected
amount — as Google's own invoice-total queries sum every row. Rows whose export time is
after the dataset clock ``now`` exist but are not yet visible (``advance`` exposes them);
``correct`` appends re-ratings exported at ``now``.

Money columns of the standard and detailed tables are binary floats (FLOAT64), rounded to
six decimal places as Google's export is; totals are exact: the Decimal each float's
shortest repr spells, summed. FOCUS amounts are NUMERIC: ``CAST(float AS NUMERIC)``, as
Google's view computes them.

Partitions: Google's billing tables are ingestion-time partitioned (``_PARTITIONTIME``),
and a day's partition holds what was exported that day (Pacific time): the fake puts each
row in the partition of ``DATE(export_time, "America/Los_Angeles")``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import random
import threading
import time
import zoneinfo
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

UTC = dt.UTC
PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")
SECOND = 1_000_000
HOUR = 3_600 * SECOND
DAY = 24 * HOUR
NUMERIC_SCALE = Decimal("1e-9")
BATCH_HOURS = (1, 5, 9, 13, 17, 21)  # export batches, UTC hours

CREDIT_TYPES = (
    "COMMITTED_USAGE_DISCOUNT",
    "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",
    "SUSTAINED_USAGE_DISCOUNT",
    "PROMOTION",
    "FREE_TIER",
    "DISCOUNT",
    "SUBSCRIPTION_BENEFIT",
    "RESELLER_MARGIN",
    "FEE_UTILIZATION_OFFSET",
)
CREDIT_CYCLE: tuple[str | None, ...] = (*CREDIT_TYPES, None, None)
COST_TYPES = ("regular", "tax", "adjustment", "rounding_error")
ADJUSTMENT_KINDS = (
    ("PARTIAL_CORRECTION", "USAGE_CORRECTION"),
    ("COMPLETE_NEGATION", "PRICE_CORRECTION"),
    ("MANUAL_ADJUSTMENT", "GOODWILL"),
    ("MANUAL_ADJUSTMENT", "SLA_VIOLATION"),
)

Row = dict[str, Any]


@dataclass(frozen=True)
class Sku:
    service_id: str
    service: str
    sku_id: str
    description: str
    unit: str
    pricing_unit: str
    per_pricing_unit: float  # usage units in one pricing unit
    price: Decimal  # list price per pricing unit, USD
    daily: bool
    resource_kind: str  # instances, disks, buckets, clusters, datasets, endpoints
    service_category: str
    machine: bool = False


SKUS: tuple[Sku, ...] = (
    Sku(
        "6F81-5844-456A",
        "Compute Engine",
        "CF4E-A0C7-E3BF",
        "E2 Instance Core running in Americas",
        "seconds",
        "hour",
        3600.0,
        Decimal("0.021811"),
        False,
        "instances",
        "Compute",
        True,
    ),
    Sku(
        "6F81-5844-456A",
        "Compute Engine",
        "F449-33EC-A5EF",
        "E2 Instance Ram running in Americas",
        "byte-seconds",
        "gibibyte hour",
        3600.0 * 2**30,
        Decimal("0.002923"),
        False,
        "instances",
        "Compute",
        True,
    ),
    Sku(
        "6F81-5844-456A",
        "Compute Engine",
        "6AE1-525F-8B80",
        "Balanced PD Capacity",
        "byte-seconds",
        "gibibyte month",
        2_592_000.0 * 2**30,
        Decimal("0.1"),
        False,
        "disks",
        "Storage",
    ),
    Sku(
        "6F81-5844-456A",
        "Compute Engine",
        "9DE9-9092-B3BC",
        "Network Internet Data Transfer Out from Americas to Americas",
        "bytes",
        "gibibyte",
        float(2**30),
        Decimal("0.12"),
        True,
        "instances",
        "Networking",
    ),
    Sku(
        "CCD8-9BF1-090E",
        "Kubernetes Engine",
        "B561-BFBD-1264",
        "Autopilot Pod mCPU Requests (us-central1)",
        "seconds",
        "hour",
        3_600_000.0,
        Decimal("0.0445"),
        False,
        "clusters",
        "Compute",
    ),
    Sku(
        "95FF-2EF5-5EA1",
        "Cloud Storage",
        "E5F0-6A5D-7BAD",
        "Standard Storage US Multi-region",
        "byte-seconds",
        "gibibyte month",
        2_592_000.0 * 2**30,
        Decimal("0.026"),
        True,
        "buckets",
        "Storage",
    ),
    Sku(
        "95FF-2EF5-5EA1",
        "Cloud Storage",
        "F17B-412E-CB64",
        "Multi-Region Standard Class A Operations",
        "requests",
        "count",
        10_000.0,
        Decimal("0.05"),
        True,
        "buckets",
        "Storage",
    ),
    Sku(
        "24E6-581D-38E5",
        "BigQuery",
        "3362-E469-6BEF",
        "Analysis",
        "bytes",
        "tebibyte",
        float(2**40),
        Decimal("6.25"),
        True,
        "datasets",
        "Analytics",
    ),
    Sku(
        "9662-B51E-5089",
        "Cloud SQL",
        "D9A8-3C1F-2B77",
        "Cloud SQL for PostgreSQL: Zonal - vCPU in Americas",
        "seconds",
        "hour",
        3600.0,
        Decimal("0.0413"),
        False,
        "instances",
        "Databases",
    ),
    Sku(
        "C7E2-9256-1C43",
        "Vertex AI",
        "A121-E2B5-1418",
        "Gemini 2.5 Flash Input Text",
        "count",
        "count",
        1_000_000.0,
        Decimal("0.3"),
        True,
        "endpoints",
        "AI and Machine Learning",
    ),
)
TAX_SKU = ("TAX-0000-0001", "US sales tax", "B7D9-FDCB-15D8", "Tax")

REGIONS = (
    ("us-central1", "us-central1-a", "US", "Iowa"),
    ("us-east1", "us-east1-b", "US", "South Carolina"),
    ("europe-west1", "europe-west1-b", "BE", "Belgium"),
    ("asia-northeast1", "asia-northeast1-a", "JP", "Tokyo"),
)
MULTI_REGION = ("us", None, "US", None)
TEAMS = ("payments", "search", "platform", "data")
ENVS = ("prod", "staging", "dev")


def micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * SECOND + moment.microsecond


def moment_of(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value // SECOND, tz=UTC).replace(microsecond=value % SECOND)


def iso(value: int) -> str:
    """ISO 8601 UTC with Z (microseconds when there are any)."""
    text = moment_of(value).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-7] if text.endswith(".000000") else text) + "Z"


def pacific_date(value: int) -> dt.date:
    return moment_of(value).astimezone(PACIFIC).date()


def partition_micros(day: dt.date) -> int:
    return micros(dt.datetime(day.year, day.month, day.day, tzinfo=UTC))


def exact(value: float | Decimal | None) -> Decimal:
    """The Decimal a FLOAT64's shortest repr spells (what a careful reader recovers)."""
    if value is None:
        return Decimal(0)
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value))


def to_numeric(value: float | Decimal | None) -> Decimal | None:
    """BigQuery's CAST(x AS NUMERIC): 9 decimal places, half away from zero."""
    if value is None:
        return None
    return exact(value).quantize(NUMERIC_SCALE, rounding=ROUND_HALF_UP).normalize() + 0


def _r6(value: float) -> float:
    return round(value, 6)


@dataclass
class Totals:
    """Exact sums over rows: ``cost`` (before credits), ``credits`` (negative), ``total``."""

    rows: int = 0
    cost: Decimal = Decimal(0)
    credits: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.cost + self.credits


@dataclass
class Project:
    id: str
    number: str
    name: str
    labels: list[dict[str, str]]
    ancestry_numbers: str
    ancestors: list[dict[str, str]]


@dataclass
class Series:
    """One resource's usage of one SKU: it yields a row per hour (or per day)."""

    project: Project
    sku: Sku
    region: tuple[str, str | None, str, str | None]
    resource_name: str
    global_name: str
    labels: list[dict[str, str]]
    system_labels: list[dict[str, str]]
    tags: list[dict[str, Any]]
    group: int  # resources of a group share SKU, location and labels
    base_amount: float

    def credit_type(self, start: int) -> str | None:
        """The credit this usage gets: it rotates by day so every type Google documents
        shows up; machines without one get the sustained use discount."""
        kind = CREDIT_CYCLE[(self.group + start // DAY) % len(CREDIT_CYCLE)]
        return "SUSTAINED_USAGE_DISCOUNT" if kind is None and self.sku.machine else kind

    def subscription(self, start: int) -> str | None:
        if self.credit_type(start) not in {
            "COMMITTED_USAGE_DISCOUNT",
            "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE",
        }:
            return None
        return (
            f"projects/{self.project.number}/regions/{self.region[0]}/commitments/"
            f"cud-{self.group:03d}"
        )


@dataclass
class GCPBillingDataset:
    """Rows of the three tables, visible up to the dataset clock ``now`` (unix seconds)."""

    seed: int
    billing_account_id: str
    currency: str
    currency_conversion_rate: float
    start: int  # micros: first usage hour
    end: int  # micros: usage ends here (the clock at generation)
    now: int  # unix seconds: rows exported after this are not visible yet
    projects: list[Project]
    organization: dict[str, str]
    folders: list[dict[str, str]]
    tables: dict[str, list[Row]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _export_index: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _corrections: int = 0
    _batch_cache: dict[int, list[int]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def generate(
        cls,
        *,
        seed: int = 1,
        days: int = 45,
        projects: int = 4,
        resources_per_project: int = 6,
        now: int | None = None,
        billing_account_id: str | None = None,
        currency: str = "USD",
        currency_conversion_rate: float = 1.0,
        correction_rate: float = 0.03,
    ) -> GCPBillingDataset:
        """Usage of the ``days`` complete UTC days before ``now`` (default: the wall clock).

        Rows per day are about ``projects * resources_per_project * 24`` in the detailed
        table. Same arguments (and ``now``), same rows, ids and amounts.
        """
        clock = int(time.time()) if now is None else int(now)
        rng = random.Random(seed)
        account = billing_account_id or "-".join(f"{rng.getrandbits(24):06X}" for _ in range(3))
        org_number = str(rng.randrange(10**11, 10**12))
        organization = {
            "resource_name": f"organizations/{org_number}",
            "display_name": "acme.example",
        }
        folders = [
            {"resource_name": f"folders/{rng.randrange(10**11, 10**12)}", "display_name": name}
            for name in ("Production", "Development")
        ]
        built = [
            _project(rng, index, org_number, organization, folders) for index in range(projects)
        ]
        end_day = dt.datetime.fromtimestamp(clock, tz=UTC).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        end = micros(end_day)
        start = end - days * DAY
        ds = cls(
            seed=seed,
            billing_account_id=account,
            currency=currency,
            currency_conversion_rate=currency_conversion_rate,
            start=start,
            end=end,
            now=clock,
            projects=built,
            organization=organization,
            folders=folders,
        )
        series = ds._series(rng, resources_per_project)
        detailed = ds._usage_rows(rng, series, correction_rate)
        detailed += ds._tax_rows(detailed)
        detailed += ds._adjustment_rows(rng, detailed)
        detailed += ds._rounding_rows(rng, detailed)
        ds._install(detailed)
        return ds

    def _series(self, rng: random.Random, per_project: int) -> list[Series]:
        """Resources come in pairs sharing SKU, location, labels and credits (the standard
        table sums such pairs into one row per hour)."""
        series: list[Series] = []
        group_number = 0
        for project in self.projects:
            org = self.organization["resource_name"].split("/")[1]
            for index in range(per_project):
                group = index // 2
                if index % 2 == 0:
                    group_number += 1
                sku = SKUS[(group_number * 7 + group) % len(SKUS)]
                region = (
                    MULTI_REGION
                    if sku.resource_kind in {"buckets", "datasets"}
                    else (REGIONS[(group_number + group) % len(REGIONS)])
                )
                name = f"{sku.resource_kind[:-1]}-{project.id.split('-')[1]}-{index:02d}"
                zone = region[1]
                where = f"zones/{zone}" if zone else f"locations/{region[0]}"
                global_name = (
                    f"//{_api_of(sku)}/projects/{project.number}/{where}/{sku.resource_kind}/"
                    f"{rng.randrange(10**18, 10**19)}"
                )
                team = TEAMS[(group_number + group) % len(TEAMS)]
                labels = [{"key": "team", "value": team}]
                if group % 2 == 0:
                    labels.append({"key": "app", "value": f"{team}-api"})
                if sku.resource_kind == "clusters":
                    labels.append({"key": "goog-k8s-cluster-name", "value": f"{team}-gke"})
                system_labels: list[dict[str, str]] = []
                if sku.machine:
                    machine = ("e2-standard-2", "e2-standard-4", "e2-highmem-2")[group % 3]
                    system_labels = [
                        {"key": "compute.googleapis.com/machine_spec", "value": machine},
                        {"key": "compute.googleapis.com/cores", "value": str(2 + 2 * (group % 2))},
                        {
                            "key": "compute.googleapis.com/memory",
                            "value": str(8192 * (1 + group % 2)),
                        },
                    ]
                tags = []
                if group % 3 == 0:
                    tags.append(
                        {
                            "key": f"{org}/cost-center",
                            "value": f"cc-{100 + group_number % 5}",
                            "inherited": group % 2 == 0,
                            "namespace": org,
                        }
                    )
                series.append(
                    Series(
                        project=project,
                        sku=sku,
                        region=region,
                        resource_name=name,
                        global_name=global_name,
                        labels=labels,
                        system_labels=system_labels,
                        tags=tags,
                        group=group_number,
                        base_amount=_base_amount(rng, sku),
                    )
                )
        return series

    def _usage_rows(
        self, rng: random.Random, series: list[Series], correction_rate: float
    ) -> list[Row]:
        rows: list[Row] = []
        for item in series:
            step = DAY if item.sku.daily else HOUR
            moment = self.start
            while moment < self.end:
                amount = float(round(item.base_amount * rng.uniform(0.6, 1.4)))
                row = self._usage_row(item, moment, moment + step, amount, rng)
                rows.append(row)
                if rng.random() < correction_rate:
                    delta = float(round(amount * rng.choice((-1, 1)) * rng.uniform(0.05, 0.2)))
                    if delta:
                        late = row["export_time"] + rng.randrange(1, 5) * DAY
                        rows.append(self._rerated(row, item, delta, self._batch_at_or_after(late)))
                moment += step
        return rows

    def _usage_row(
        self, item: Series, start: int, end: int, amount: float, rng: random.Random
    ) -> Row:
        sku = item.sku
        units = amount / sku.per_pricing_unit
        list_cost = float(sku.price) * units * self.currency_conversion_rate
        kind = item.credit_type(start)
        cost = _r6(list_cost * (0.9 if kind == "DISCOUNT" else 1.0))
        # the lag depends on project, SKU and hour: resources billed together export together
        lag = HOUR * (1 + (int(item.project.number) + hash_sku(sku) + start // HOUR) % 5)
        export = self._batch_at_or_after(end + lag)
        return {
            **self._identity(item, start, end),
            "export_time": export,
            "cost": cost,
            "currency": self.currency,
            "currency_conversion_rate": self.currency_conversion_rate,
            "usage": {
                "amount": amount,
                "unit": sku.unit,
                "amount_in_pricing_units": _r6(units),
                "pricing_unit": sku.pricing_unit,
            },
            "credits": self._credits(item, cost, kind),
            "cost_type": "regular",
            "adjustment_info": None,
            "cost_at_list": _r6(list_cost),
            "price": {
                "effective_price": to_numeric(cost / units) if units else Decimal(0),
                "tier_start_amount": Decimal(0),
                "unit": sku.pricing_unit,
                "pricing_unit_quantity": to_numeric(_r6(units)),
            },
        }

    def _identity(self, item: Series, start: int, end: int) -> Row:
        sku, project = item.sku, item.project
        region, zone, country, _ = item.region
        month = _invoice_month(start)
        return {
            "billing_account_id": self.billing_account_id,
            "service": {"id": sku.service_id, "description": sku.service},
            "sku": {"id": sku.sku_id, "description": sku.description},
            "usage_start_time": start,
            "usage_end_time": end,
            "project": _project_record(project),
            "labels": [dict(label) for label in item.labels],
            "system_labels": [dict(label) for label in item.system_labels],
            "location": {
                "location": zone or region,
                "country": country,
                "region": region if region != "us" else None,
                "zone": zone,
            },
            "resource": {"name": item.resource_name, "global_name": item.global_name},
            "tags": [dict(tag) for tag in item.tags],
            "transaction_type": "GOOGLE",
            "seller_name": "Google",
            "invoice": {"month": month, "publisher_type": "GOOGLE"},
            "subscription": (
                {"instance_id": item.subscription(start)} if item.subscription(start) else None
            ),
        }

    def _credits(self, item: Series, cost: float, kind: str | None) -> list[Row]:
        if kind is None or cost <= 0:
            return []
        share = {
            "COMMITTED_USAGE_DISCOUNT": 0.37,
            "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE": 0.28,
            "SUSTAINED_USAGE_DISCOUNT": 0.2,
            "PROMOTION": 1.0,
            "FREE_TIER": 0.5,
            "DISCOUNT": 0.05,
            "SUBSCRIPTION_BENEFIT": 0.15,
            "RESELLER_MARGIN": 0.03,
            "FEE_UTILIZATION_OFFSET": 0.1,
        }[kind]
        credits = [_credit(kind, item, -_r6(cost * share))]
        if kind == "COMMITTED_USAGE_DISCOUNT" and item.sku.machine:
            # committed and sustained use on the same line, as Compute Engine bills them
            credits.append(_credit("SUSTAINED_USAGE_DISCOUNT", item, -_r6(cost * 0.05)))
        return credits

    def _rerated(self, row: Row, item: Series, delta: float, export: int) -> Row:
        """A later row re-rating the same usage: the differences, appended, as Google does."""
        sku = item.sku
        units = delta / sku.per_pricing_unit
        list_cost = float(sku.price) * units * self.currency_conversion_rate
        kind = item.credit_type(row["usage_start_time"])
        cost = _r6(list_cost * (0.9 if kind == "DISCOUNT" else 1.0))
        credits = [
            {**credit, "amount": _r6(credit["amount"] * (cost / row["cost"]) if row["cost"] else 0)}
            for credit in row["credits"]
        ]
        return {
            **row,
            "export_time": export,
            "cost": cost,
            "usage": {
                **row["usage"],
                "amount": delta,
                "amount_in_pricing_units": _r6(units),
            },
            "credits": credits,
            "cost_at_list": _r6(list_cost),
            "price": {**row["price"], "pricing_unit_quantity": to_numeric(_r6(units))},
        }

    def _tax_rows(self, detailed: list[Row]) -> list[Row]:
        """One tax row per project and day: 8% of that day's regular cost after credits."""
        per_day: dict[tuple[str, int, str], float] = {}
        for row in detailed:
            day = row["usage_start_time"] - row["usage_start_time"] % DAY
            key = (row["project"]["id"], day, row["invoice"]["month"])
            net = row["cost"] + sum(c["amount"] for c in row["credits"])
            per_day[key] = per_day.get(key, 0.0) + net
        projects = {p.id: p for p in self.projects}
        rows = []
        for (project_id, day, month), net in sorted(per_day.items()):
            tax = _r6(net * 0.08)
            if not tax:
                continue
            project = projects[project_id]
            rows.append(self._charge_row(project, day, day + DAY, tax, "tax", month, TAX_SKU, None))
        return rows

    def _adjustment_rows(self, rng: random.Random, detailed: list[Row]) -> list[Row]:
        """A few adjustments per invoice month, exported days after the usage they fix."""
        rows = []
        months = sorted({row["invoice"]["month"] for row in detailed})
        for number, month in enumerate(months):
            for index, (mode, kind) in enumerate(ADJUSTMENT_KINDS):
                project = self.projects[(number + index) % len(self.projects)]
                day = (
                    self.start
                    + ((number * 11 + index * 5) % max(1, (self.end - self.start) // DAY)) * DAY
                )
                if _invoice_month(day) != month:
                    continue
                amount = -_r6(rng.uniform(0.5, 40.0))
                info = {
                    "id": f"{rng.getrandbits(64):016x}",
                    "description": f"{kind.replace('_', ' ').title()} for {project.name}",
                    "mode": mode,
                    "type": kind,
                }
                sku = ("5D1B-4A8C-9E0F", "Adjustment", SKUS[index].service_id, SKUS[index].service)
                rows.append(
                    self._charge_row(
                        project, day, day + DAY, amount, "adjustment", month, sku, info, late_days=3
                    )
                )
        return rows

    def _rounding_rows(self, rng: random.Random, detailed: list[Row]) -> list[Row]:
        rows = []
        for month in sorted({row["invoice"]["month"] for row in detailed}):
            first = [r for r in detailed if r["invoice"]["month"] == month]
            day = min(r["usage_start_time"] for r in first)
            day -= day % DAY
            amount = _r6(rng.choice((-1, 1)) * rng.uniform(0.000001, 0.004))
            sku = ("0000-0000-0000", "Rounding error", "", "")
            rows.append(
                self._charge_row(
                    self.projects[0],
                    day,
                    day + DAY,
                    amount,
                    "rounding_error",
                    month,
                    sku,
                    None,
                    late_days=1,
                )
            )
        return rows

    def _charge_row(
        self,
        project: Project,
        start: int,
        end: int,
        cost: float,
        cost_type: str,
        month: str,
        sku: tuple[str, str, str, str],
        adjustment: dict[str, str] | None,
        late_days: int = 0,
    ) -> Row:
        sku_id, sku_description, service_id, service = sku
        export = self._batch_at_or_after(end + 2 * HOUR + late_days * DAY)
        return {
            "billing_account_id": self.billing_account_id,
            "service": {"id": service_id or None, "description": service or None},
            "sku": {"id": sku_id, "description": sku_description},
            "usage_start_time": start,
            "usage_end_time": end,
            "project": _project_record(project),
            "labels": [],
            "system_labels": [],
            "location": {"location": None, "country": None, "region": None, "zone": None},
            "resource": {"name": None, "global_name": None},
            "tags": [],
            "transaction_type": "GOOGLE",
            "seller_name": "Google",
            "export_time": export,
            "cost": cost,
            "currency": self.currency,
            "currency_conversion_rate": self.currency_conversion_rate,
            "usage": {
                "amount": 0.0,
                "unit": None,
                "amount_in_pricing_units": 0.0,
                "pricing_unit": None,
            },
            "credits": [],
            "invoice": {"month": month, "publisher_type": "GOOGLE"},
            "cost_type": cost_type,
            "adjustment_info": adjustment,
            "cost_at_list": None,
            "price": None,
            "subscription": None,
        }

    # ------------------------------------------------------------------ export batches
    def _batch_at_or_after(self, moment: int) -> int:
        day = moment - moment % DAY
        while True:
            for batch in self._batches(day):
                if batch >= moment:
                    return batch
            day += DAY

    def _batches(self, day: int) -> list[int]:
        cached = self._batch_cache.get(day)
        if cached is None:
            rng = random.Random(self.seed * 1_000_003 + day // DAY)
            cached = [
                day + hour * HOUR + rng.randrange(0, 50) * 60 * SECOND + rng.randrange(60 * SECOND)
                for hour in BATCH_HOURS
            ]
            self._batch_cache[day] = cached
        return cached

    # ------------------------------------------------------------------ tables
    def _install(self, detailed: list[Row]) -> None:
        detailed.sort(key=lambda r: r["export_time"])
        for row in detailed:
            row["_PARTITIONTIME"] = partition_micros(pacific_date(row["export_time"]))
        self.tables = {
            "resource": detailed,
            "standard": _standard_rows(detailed),
            "focus": [_focus_row(row) for row in detailed],
        }
        self._reindex()

    def _reindex(self) -> None:
        for kind, rows in self.tables.items():
            column = "x_ExportTime" if kind == "focus" else "export_time"
            self._export_index[kind] = [row[column] for row in rows]

    def rows(self, kind: str) -> list[Row]:
        """The visible rows of a table (exported at or before ``now``), oldest export first."""
        with self.lock:
            cut = bisect.bisect_right(self._export_index[kind], self.now * SECOND)
            return self.tables[kind][:cut]

    def advance(self, *, hours: float = 0, days: float = 0) -> int:
        """Move the clock forward: later export batches (and re-ratings) become visible."""
        with self.lock:
            self.now += int(hours * 3600 + days * 86400)
            return self.now

    def correct(self, count: int = 3, *, factor: float = 0.25) -> list[tuple[Row, Row]]:
        """Re-rate ``count`` visible usage rows now: append rows exported at ``now`` that
        raise each one's cost, usage and credits by ``factor`` (the same identity, a later
        export_time). Returns (original, re-rating) pairs of the detailed table; the
        standard and FOCUS tables get the matching rows."""
        with self.lock:
            visible = [
                r for r in self.rows("resource") if r["cost_type"] == "regular" and r["cost"] > 0
            ]
            if not visible:
                return []
            rng = random.Random(self.seed * 7919 + self._corrections)
            self._corrections += 1
            export = self.now * SECOND  # visible now, later than everything before it
            chosen = rng.sample(visible, min(count, len(visible)))
            pairs = []
            for row in chosen:
                re_rated = {
                    **row,
                    "export_time": export,
                    "cost": _r6(row["cost"] * factor),
                    "cost_at_list": _r6((row["cost_at_list"] or 0.0) * factor),
                    "usage": {
                        **row["usage"],
                        "amount": float(round(row["usage"]["amount"] * factor)),
                        "amount_in_pricing_units": _r6(
                            row["usage"]["amount_in_pricing_units"] * factor
                        ),
                    },
                    "credits": [{**c, "amount": _r6(c["amount"] * factor)} for c in row["credits"]],
                    "_PARTITIONTIME": partition_micros(pacific_date(export)),
                }
                pairs.append((row, re_rated))
            added = [re for _, re in pairs]
            for kind, new in (
                ("resource", added),
                ("standard", _standard_rows(added)),
                ("focus", [_focus_row(r) for r in added]),
            ):
                self.tables[kind].extend(new)
                self.tables[kind].sort(
                    key=lambda r: r["x_ExportTime" if kind == "focus" else "export_time"]
                )
            self._reindex()
            return pairs

    # ------------------------------------------------------------------ totals
    def totals(
        self,
        kind: str = "standard",
        *,
        exported_from: dt.datetime | None = None,
        exported_before: dt.datetime | None = None,
    ) -> dict[str, dict[str, Totals]]:
        """Exact sums of visible rows by invoice month (``YYYYMM``) and cost type.

        Standard/detailed: ``cost`` is the sum of ``cost``, ``credits`` of every
        ``credits.amount``, ``total`` their sum (what the invoice charges). FOCUS: ``cost``
        sums ``ContractedCost``, ``credits`` the ``x_Credits`` amounts, ``total``
        ``BilledCost``; the month is ``BillingPeriodStart``'s, the type ``x_CostType``.
        """
        low = micros(exported_from) if exported_from else None
        high = micros(exported_before) if exported_before else None
        column = "x_ExportTime" if kind == "focus" else "export_time"
        result: dict[str, dict[str, Totals]] = {}
        for row in self.rows(kind):
            moment = row[column]
            if (low is not None and moment < low) or (high is not None and moment >= high):
                continue
            if kind == "focus":
                month = focus_invoice_month(row["BillingPeriodStart"])
                cost_type = row["x_CostType"]
                cost = row["ContractedCost"] or Decimal(0)
                credits = sum((c["Amount"] for c in row["x_Credits"]), Decimal(0))
            else:
                month = row["invoice"]["month"]
                cost_type = row["cost_type"]
                cost = exact(row["cost"])
                credits = sum((exact(c["amount"]) for c in row["credits"]), Decimal(0))
            bucket = result.setdefault(month, {}).setdefault(cost_type, Totals())
            bucket.rows += 1
            bucket.cost += cost
            bucket.credits += credits
        return result

    def month_totals(self, kind: str = "standard") -> dict[str, Decimal]:
        """Invoice month -> what it charges (cost + credits over every cost type)."""
        return {
            month: sum((t.total for t in by_type.values()), Decimal(0))
            for month, by_type in self.totals(kind).items()
        }

    def partitions(self, kind: str = "standard") -> list[str]:
        """The partition dates (YYYY-MM-DD) of the visible rows, in order."""
        column = "ChargePeriodStart" if kind == "focus" else "_PARTITIONTIME"
        days = {moment_of(row[column]).date().isoformat() for row in self.rows(kind)}
        return sorted(days)


# ---------------------------------------------------------------------- helpers
def hash_sku(sku: Sku) -> int:
    return int(sku.sku_id.replace("-", ""), 16) % 997


def _project(
    rng: random.Random,
    index: int,
    org_number: str,
    organization: dict[str, str],
    folders: list[dict[str, str]],
) -> Project:
    env = ENVS[index % len(ENVS)]
    team = TEAMS[index % len(TEAMS)]
    project_id = f"acme-{team}-{env}" + (f"-{index}" if index >= len(TEAMS) else "")
    number = str(rng.randrange(10**11, 10**12))
    ancestors = [{"resource_name": f"projects/{number}", "display_name": project_id}]
    path = [org_number]
    if index % 4 != 3:  # the fourth project sits directly under the organization
        folder = folders[0 if env == "prod" else 1]
        ancestors.append(dict(folder))
        path.append(folder["resource_name"].split("/")[1])
    ancestors.append(dict(organization))
    return Project(
        id=project_id,
        number=number,
        name=f"Acme {team.title()} {env.title()}",
        labels=[{"key": "env", "value": env}, {"key": "owner", "value": f"{team}-team"}],
        ancestry_numbers="/" + "/".join(path) + "/",
        ancestors=ancestors,
    )


def _project_record(project: Project) -> Row:
    return {
        "id": project.id,
        "number": project.number,
        "name": project.name,
        "labels": [dict(label) for label in project.labels],
        "ancestry_numbers": project.ancestry_numbers,
        "ancestors": [dict(a) for a in project.ancestors],
    }


def _api_of(sku: Sku) -> str:
    return {
        "Compute Engine": "compute.googleapis.com",
        "Kubernetes Engine": "container.googleapis.com",
        "Cloud Storage": "storage.googleapis.com",
        "BigQuery": "bigquery.googleapis.com",
        "Cloud SQL": "sqladmin.googleapis.com",
        "Vertex AI": "aiplatform.googleapis.com",
    }[sku.service]


def _base_amount(rng: random.Random, sku: Sku) -> float:
    """A typical hourly (daily) usage amount in the SKU's usage unit."""
    pricing_units = {
        "hour": rng.uniform(2, 8),
        "gibibyte hour": rng.uniform(8, 32),
        "gibibyte month": rng.uniform(50, 2000) / (720 if not sku.daily else 30),
        "gibibyte": rng.uniform(1, 80),
        "count": rng.uniform(5, 200),
        "tebibyte": rng.uniform(0.01, 0.8),
    }[sku.pricing_unit]
    return round(pricing_units * sku.per_pricing_unit)


def _credit(kind: str, item: Series, amount: float) -> Row:
    number = item.project.number
    names = {
        "COMMITTED_USAGE_DISCOUNT": (
            "Committed use discount: CPU",
            f"projects/{number}/regions/{item.region[0]}/commitments/cud-cpu",
            "Commitment - 1 year - CPU",
        ),
        "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE": (
            "Committed use discount - dollar based",
            f"billingAccounts/commitments/flex-{number[-4:]}",
            "Compute Flexible Committed Use Discount - 3 years",
        ),
        "SUSTAINED_USAGE_DISCOUNT": ("Sustained Usage Discount", f"projects/{number}/sud", None),
        "PROMOTION": ("Free trial credit", "promotions/free-trial-300", "Free Trial $300"),
        "FREE_TIER": ("Free tier", "free-tier/always-free", None),
        "DISCOUNT": ("Spending based discounts (contractual)", "discounts/contract-2026", None),
        "SUBSCRIPTION_BENEFIT": (
            "Subscription benefit",
            "subscriptions/security-command-center",
            "Security Command Center Premium",
        ),
        "RESELLER_MARGIN": ("Reseller margin", "reseller/margin-tier-1", None),
        "FEE_UTILIZATION_OFFSET": ("Fee utilization offset", "fees/offset-1", None),
    }
    name, credit_id, full_name = names[kind]
    return {"name": name, "amount": amount, "full_name": full_name, "id": credit_id, "type": kind}


def _invoice_month(start: int) -> str:
    """Google invoices usage by Pacific-time month; the last hour of a month goes on the
    next invoice (Google: usage at the very end of a month may be charged to the next)."""
    local = moment_of(start).astimezone(PACIFIC)
    following = (local + dt.timedelta(hours=1)).date()
    day = following if following.month != local.month and local.hour == 23 else local.date()
    return f"{day.year:04d}{day.month:02d}"


def _standard_identity(row: Row) -> str:
    keep = {
        k: v
        for k, v in row.items()
        if k
        not in {
            "resource",
            "price",
            "subscription",
            "cost",
            "usage",
            "credits",
            "cost_at_list",
            "_PARTITIONTIME",
        }
    }
    return json.dumps(keep, sort_keys=True, default=str)


def _standard_rows(detailed: list[Row]) -> list[Row]:
    """Detailed rows summed over resources, per identity and export batch."""
    grouped: dict[str, Row] = {}
    order: list[str] = []
    for row in detailed:
        key = _standard_identity(row)
        if key not in grouped:
            grouped[key] = {
                k: v for k, v in row.items() if k not in {"resource", "price", "subscription"}
            }
            grouped[key]["credits"] = [dict(c) for c in row["credits"]]
            grouped[key]["usage"] = dict(row["usage"])
            order.append(key)
            continue
        target = grouped[key]
        target["cost"] = _r6(target["cost"] + row["cost"])
        if row["cost_at_list"] is not None:
            target["cost_at_list"] = _r6((target["cost_at_list"] or 0.0) + row["cost_at_list"])
        for name in ("amount", "amount_in_pricing_units"):
            target["usage"][name] = _r6(target["usage"][name] + row["usage"][name])
        for credit in row["credits"]:
            for mine in target["credits"]:
                if (mine["type"], mine["id"], mine["name"]) == (
                    credit["type"],
                    credit["id"],
                    credit["name"],
                ):
                    mine["amount"] = _r6(mine["amount"] + credit["amount"])
                    break
            else:
                target["credits"].append(dict(credit))
    return [grouped[key] for key in order]


_REGION_NAMES = {region: name for region, _, _, name in REGIONS if name}


def _focus_row(row: Row) -> Row:
    """A detailed row as Google's FOCUS view maps it (FOCUS 1.0 values)."""
    credits = row["credits"]
    billed = (to_numeric(row["cost"]) or Decimal(0)) + sum(
        (to_numeric(c["amount"]) or Decimal(0) for c in credits), Decimal(0)
    )
    cost_type = row["cost_type"]
    regular = cost_type == "regular"
    cud = next(
        (
            c
            for c in credits
            if c["type"] in {"COMMITTED_USAGE_DISCOUNT", "COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE"}
        ),
        None,
    )
    month = row["invoice"]["month"]
    period_start = dt.datetime(int(month[:4]), int(month[4:]), 1, tzinfo=PACIFIC)
    following = (period_start + dt.timedelta(days=32)).replace(day=1)
    location = row["location"]
    price = row.get("price") or {}
    resource = row.get("resource") or {}
    global_name = resource.get("global_name")
    tags = (
        [
            {**lab, "x_type": "label", "x_inherited": False, "x_namespace": "n/a"}
            for lab in row["labels"]
        ]
        + [
            {**lab, "x_type": "system_label", "x_inherited": False, "x_namespace": "n/a"}
            for lab in row["system_labels"]
        ]
        + [
            {**lab, "x_type": "project_label", "x_inherited": True, "x_namespace": "n/a"}
            for lab in row["project"]["labels"]
        ]
        + [
            {
                "key": t["key"],
                "value": t["value"],
                "x_type": "tag",
                "x_inherited": t["inherited"],
                "x_namespace": t["namespace"],
            }
            for t in row["tags"]
        ]
    )
    return {
        "AvailabilityZone": location["zone"],
        "BilledCost": billed,
        "BillingAccountId": row["billing_account_id"],
        "BillingCurrency": row["currency"],
        "BillingPeriodStart": micros(period_start),
        "BillingPeriodEnd": micros(following),
        "ChargeCategory": {"regular": "Usage", "tax": "Tax"}.get(cost_type, "Adjustment"),
        "ChargeClass": "Correction" if row["adjustment_info"] else None,
        "ChargeDescription": row["sku"]["description"],
        "ChargePeriodStart": row["usage_start_time"],
        "ChargePeriodEnd": row["usage_end_time"],
        "CommitmentDiscountCategory": (
            None if cud is None else ("Spend" if cud["type"].endswith("DOLLAR_BASE") else "Usage")
        ),
        "CommitmentDiscountId": (row.get("subscription") or {}).get("instance_id"),
        "CommitmentDiscountName": cud["full_name"] if cud else None,
        "ConsumedQuantity": to_numeric(row["usage"]["amount"]) if regular else None,
        "ConsumedUnit": row["usage"]["unit"] if regular else None,
        "ContractedCost": to_numeric(row["cost"]),
        "ContractedUnitPrice": price.get("effective_price"),
        "EffectiveCost": billed,
        "ListCost": to_numeric(row["cost_at_list"]),
        "ListUnitPrice": _list_unit_price(row) if regular else None,
        "PricingCategory": (("Committed" if cud is not None else "Standard") if regular else None),
        "PricingQuantity": price.get("pricing_unit_quantity") if regular else None,
        "PricingUnit": price.get("unit") if regular else None,
        "ProviderName": "Google Cloud",
        "PublisherName": "Google Cloud",
        "RegionId": location["region"],
        "RegionName": _REGION_NAMES.get(location["region"] or ""),
        "ResourceId": global_name,
        "ResourceName": resource.get("name"),
        "ResourceType": _resource_type(global_name),
        "ServiceCategory": _service_category(row["service"]["id"]),
        "ServiceName": row["service"]["description"],
        "SkuId": row["sku"]["id"] if regular else None,
        "SkuPriceId": (
            f"Billing Account ID:{row['billing_account_id']}, SKU ID: {row['sku']['id']}, "
            f"Price Tier Start Amount: {price.get('tier_start_amount')}"
            if regular
            else None
        ),
        "SubAccountId": row["billing_account_id"],
        "Tags": tags,
        "x_Credits": [
            {
                "Name": c["name"],
                "Amount": to_numeric(c["amount"]),
                "FullName": c["full_name"],
                "Id": c["id"],
                "Type": c["type"],
            }
            for c in credits
        ],
        "x_CostType": cost_type,
        "x_CurrencyConversionRate": to_numeric(row["currency_conversion_rate"]),
        "x_ExportTime": row["export_time"],
        "x_Location": location["location"],
        "x_Project": {k: v for k, v in row["project"].items() if k != "labels"},
        "x_ServiceId": row["service"]["id"],
        "_PARTITIONTIME": row["_PARTITIONTIME"],
    }


def _list_unit_price(row: Row) -> Decimal | None:
    for sku in SKUS:
        if sku.sku_id == row["sku"]["id"]:
            return sku.price
    return None


def _service_category(service_id: str | None) -> str | None:
    for sku in SKUS:
        if sku.service_id == service_id:
            return sku.service_category
    return None


def _resource_type(global_name: str | None) -> str | None:
    if not global_name:
        return None
    parts = global_name.strip("/").split("/")
    return parts[-2] if len(parts) >= 2 else None


def focus_invoice_month(billing_period_start: int) -> str:
    local = moment_of(billing_period_start).astimezone(PACIFIC)
    return f"{local.year:04d}{local.month:02d}"


def row_digest(row: Row) -> str:
    """A short stable digest of a row (for tests that follow one row across tables)."""
    text = json.dumps(row, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
