"""Deterministic AWS line items for one billing period, in CUR 2.0 terms, streamed.

A line item is a dict keyed by CUR 2.0 column names with Python values (str, Decimal,
datetime, dict for the MAP columns); absent keys are null. Every money, rate and
quantity value is a Decimal of at most 10 fractional digits and 15 significant digits, so
it survives CSV text and Parquet DOUBLE exactly (the shortest repr of the double spells
it back).

Line item types and the columns AWS fills for each (CUR user guide: line item, reservation
and Savings Plans column pages; "Understanding your amortized reservation data"):

- Usage: on-demand usage; unblended = usage x rate; public on-demand cost = usage x public
  rate; with an EDP discount, net unblended cost = unblended less the discount, which also
  appears (negative) in the `discount` MAP and `discount_total_discount`.
- DiscountedUsage: usage covered by a Reserved Instance; unblended cost 0; the RI's
  amortized upfront and recurring fee for that usage in reservation_amortized_upfront_
  cost_for_usage / reservation_recurring_fee_for_usage, their sum in reservation_effective_cost.
- RIFee: the RI's recurring fee for the period (unblended), with the amortized upfront fee
  for the period, unused quantity, unused recurring fee and unused amortized upfront fee.
- Fee: a one-time upfront RI purchase (reservation_reservation_a_r_n set).
- SavingsPlanCoveredUsage: usage covered by a Savings Plan; unblended = on-demand cost;
  savings_plan_savings_plan_effective_cost = usage x SP rate.
- SavingsPlanNegation: cancels the covered usage's on-demand cost (negative unblended).
- SavingsPlanRecurringFee: hourly commitment billed; savings_plan_total_commitment_to_date
  and savings_plan_used_commitment (sum of the covered usage's effective cost).
- SavingsPlanUpfrontFee: one-time upfront Savings Plan purchase.
- Tax, Credit, Refund, BundledDiscount: amounts without usage; Credit, Refund and
  BundledDiscount are negative.
- AWS Marketplace usage: bill_billing_entity "AWS Marketplace", the seller as
  line_item_legal_entity, a marketplace product code and product name.

Amortized cost of a line item, as AWS's CUR query library computes it:
SavingsPlanCoveredUsage -> savings_plan_savings_plan_effective_cost; SavingsPlanRecurringFee ->
total_commitment_to_date - used_commitment; SavingsPlanNegation and SavingsPlanUpfrontFee
-> 0; DiscountedUsage -> reservation_effective_cost; RIFee -> unused amortized upfront fee
for the billing period + unused recurring fee; Fee with a reservation ARN -> 0; anything
else -> line_item_unblended_cost.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import random
import typing as t
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from finfocus_sandbox.aws.columns import DEFAULT_TAG_KEYS, snake

if t.TYPE_CHECKING:
    from collections.abc import Iterator

Row = dict[str, t.Any]

UTC = dt.UTC
Q10 = Decimal("1e-10")
ZERO = Decimal(0)
USD = "USD"
AWS_INC = "Amazon Web Services, Inc."
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RI_USAGE_DESCRIPTION = "USD 0.0 hourly fee per Linux/UNIX (Amazon VPC), m5.large instance"
RI_FEE_DESCRIPTION = "USD 0.033 hourly fee per Linux/UNIX (Amazon VPC), m5.large instance"


def q10(value: Decimal) -> Decimal:
    return value.quantize(Q10, rounding=ROUND_HALF_UP)


def amortized_cost(row: Row) -> Decimal:
    """A line item's amortized cost, per AWS's documented formula (module docstring)."""
    kind = row.get("line_item_line_item_type")
    if kind == "SavingsPlanCoveredUsage":
        return row.get("savings_plan_savings_plan_effective_cost") or ZERO
    if kind == "SavingsPlanRecurringFee":
        total = row.get("savings_plan_total_commitment_to_date") or ZERO
        return total - (row.get("savings_plan_used_commitment") or ZERO)
    if kind in {"SavingsPlanNegation", "SavingsPlanUpfrontFee"}:
        return ZERO
    if kind == "DiscountedUsage":
        return row.get("reservation_effective_cost") or ZERO
    if kind == "RIFee":
        return (row.get("reservation_unused_amortized_upfront_fee_for_billing_period") or ZERO) + (
            row.get("reservation_unused_recurring_fee") or ZERO
        )
    if kind == "Fee" and row.get("reservation_reservation_a_r_n"):
        return ZERO
    return row.get("line_item_unblended_cost") or ZERO


# --- the organisation and its price list ------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    edp: bool  # covered by the organisation's EDP discount


@dataclass(frozen=True)
class Region:
    code: str
    prefix: str  # usage type prefix: "" for us-east-1, "USW2-", ...
    location: str
    factor: Decimal  # price relative to us-east-1


REGIONS = [
    Region("us-east-1", "", "US East (N. Virginia)", Decimal("1")),
    Region("us-west-2", "USW2-", "US West (Oregon)", Decimal("1")),
    Region("eu-west-1", "EU-", "EU (Ireland)", Decimal("1.12")),
    Region("eu-central-1", "EUC1-", "EU (Frankfurt)", Decimal("1.15")),
    Region("ap-northeast-1", "APN1-", "Asia Pacific (Tokyo)", Decimal("1.29")),
]


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    usage_type: str  # without the region prefix
    operation: str
    unit: str
    rate: Decimal  # us-east-1 on-demand rate
    family: str
    described: str  # what one unit is, for the line item description
    resource: str  # how resource ids look: instance, volume, bucket, db, function, ...
    usage: tuple[str, str]  # range of usage per line item
    instance_type: str = ""
    attributes: tuple[tuple[str, str], ...] = ()  # extra product MAP entries


PRODUCTS = [
    Product(
        "AmazonEC2",
        "Amazon Elastic Compute Cloud",
        "BoxUsage:m5.large",
        "RunInstances",
        "Hrs",
        Decimal("0.096"),
        "Compute Instance",
        "On Demand Linux m5.large Instance Hour",
        "instance",
        ("1", "1"),
        "m5.large",
        (("vcpu", "2"), ("memory", "8 GiB"), ("operating_system", "Linux"), ("tenancy", "Shared")),
    ),
    Product(
        "AmazonEC2",
        "Amazon Elastic Compute Cloud",
        "BoxUsage:c6i.xlarge",
        "RunInstances",
        "Hrs",
        Decimal("0.17"),
        "Compute Instance",
        "On Demand Linux c6i.xlarge Instance Hour",
        "instance",
        ("1", "1"),
        "c6i.xlarge",
        (("vcpu", "4"), ("memory", "8 GiB"), ("operating_system", "Linux"), ("tenancy", "Shared")),
    ),
    Product(
        "AmazonEC2",
        "Amazon Elastic Compute Cloud",
        "EBS:VolumeUsage.gp3",
        "CreateVolume-Gp3",
        "GB-Mo",
        Decimal("0.08"),
        "Storage",
        "per GB-month of General Purpose (gp3) provisioned storage",
        "volume",
        ("0.0134408602", "2.6881720430"),
    ),
    Product(
        "AmazonEC2",
        "Amazon Elastic Compute Cloud",
        "DataTransfer-Out-Bytes",
        "RunInstances",
        "GB",
        Decimal("0.09"),
        "Data Transfer",
        "per GB - first 10 TB / month data transfer out",
        "instance",
        ("0.000001", "12.5"),
    ),
    Product(
        "AmazonS3",
        "Amazon Simple Storage Service",
        "TimedStorage-ByteHrs",
        "StandardStorage",
        "GB-Mo",
        Decimal("0.023"),
        "Storage",
        "per GB - first 50 TB / month of storage used",
        "bucket",
        ("0.00001", "95.5"),
    ),
    Product(
        "AmazonS3",
        "Amazon Simple Storage Service",
        "Requests-Tier1",
        "PutObject",
        "Requests",
        Decimal("0.000005"),
        "API Request",
        "per 1,000 PUT, COPY, POST, or LIST requests",
        "bucket",
        ("1", "25000"),
    ),
    Product(
        "AmazonRDS",
        "Amazon Relational Database Service",
        "InstanceUsage:db.r6g.large",
        "CreateDBInstance:0014",
        "Hrs",
        Decimal("0.225"),
        "Database Instance",
        "RDS db.r6g.large Single-AZ instance hour running PostgreSQL",
        "db",
        ("1", "1"),
        "db.r6g.large",
        (("vcpu", "2"), ("memory", "16 GiB")),
    ),
    Product(
        "AWSLambda",
        "AWS Lambda",
        "Lambda-GB-Second",
        "Invoke",
        "Lambda-GB-Second",
        Decimal("0.0000166667"),
        "Serverless",
        "AWS Lambda - Total Compute",
        "function",
        ("0.1", "36000"),
    ),
    Product(
        "AWSLambda",
        "AWS Lambda",
        "Request",
        "Invoke",
        "Requests",
        Decimal("0.0000002"),
        "Serverless",
        "AWS Lambda - Total Requests",
        "function",
        ("1", "500000"),
    ),
    Product(
        "AmazonDynamoDB",
        "Amazon DynamoDB",
        "TimedStorage-ByteHrs",
        "StandardStorage",
        "GB-Mo",
        Decimal("0.25"),
        "Database Storage",
        "per GB-Month of storage used",
        "table",
        ("0.00001", "40"),
    ),
    Product(
        "AmazonCloudWatch",
        "AmazonCloudWatch",
        "CW:MetricMonitorUsage",
        "MetricStorage",
        "Metrics",
        Decimal("0.3"),
        "Metric",
        "per metric-month for the first 10,000 metrics",
        "",
        ("0.0013440860", "1.5"),
    ),
    Product(
        "awskms",
        "AWS Key Management Service",
        "KMS-Keys",
        "CreateKey",
        "Keys",
        Decimal("1"),
        "Encryption Key",
        "per customer managed key per month",
        "key",
        ("0.0013440860", "0.0013440860"),
    ),
    Product(
        "AmazonCloudFront",
        "Amazon CloudFront",
        "US-DataTransfer-Out-Bytes",
        "GET",
        "GB",
        Decimal("0.085"),
        "Data Transfer",
        "per GB - first 10 TB / month data transfer out beyond the global free tier",
        "distribution",
        ("0.001", "30"),
    ),
]
EC2_INSTANCE = PRODUCTS[0]  # the RI and the Savings Plan cover m5.large in us-east-1

MARKETPLACE = [
    ("prod-6d2gkq7ffgvc4", "Datadog Pro", "Datadog, Inc.", Decimal("0.0195")),
    ("prod-4bplm5ybqrtzs", "CrowdStrike Falcon", "CrowdStrike, Inc.", Decimal("0.0575")),
]

TEAMS = ["platform", "data", "web", "ml", "finance"]
ENVIRONMENTS = ["prod", "staging", "dev"]
COST_CENTERS = ["CC-1001", "CC-2040", "CC-3300"]
BUSINESS_UNITS = ["Engineering", "Research", "Shared Services"]


# --- plan: exact row counts for a period ----------------------------------------------

# One cycle of variable rows: a covered-usage pair is two rows (covered usage + negation).
_CYCLE = ["pair", "ri", "marketplace", "usage", "pair", "ri", "pair", "ri", "pair", "ri", "ri"] + [
    "usage"
] * 39
FULL_MIX_MIN_ROWS = 16


@dataclass
class Plan:
    rows: int
    fixed: list[str]  # line item types written after the variable rows
    units: int  # variable units to draw
    covered: int
    discounted: int
    recurring_fee_rows: int
    taxes: int
    reserved: int = 0  # rows kept for the FOCUS export's Unused rows (not line items)

    @classmethod
    def for_rows(cls, rows: int, accounts: int, unused_rows: bool = False) -> Plan:
        """The line items of `rows` rows. With `unused_rows` (AWS's FOCUS export, where
        each recurring commitment fee also has an "Unused" row) one row per recurring fee
        (RIFee, SavingsPlanRecurringFee) is kept for it, so the export still has `rows`."""
        if rows < FULL_MIX_MIN_ROWS:
            return cls(rows, [], rows, 0, 0, 0, 0)
        recurring = min(31, max(1, rows // 5000))
        taxes = accounts if rows >= 1000 else 1
        fixed = (
            ["RIFee", "Fee", "SavingsPlanUpfrontFee", "Credit", "Refund", "BundledDiscount"]
            + ["Tax"] * taxes
            + ["SavingsPlanRecurringFee"] * recurring
        )
        reserved = 1 + recurring if unused_rows else 0
        left = rows - len(fixed) - reserved
        units = covered = discounted = 0
        while left > 0:
            kind = _CYCLE[units % len(_CYCLE)]
            if kind == "pair" and left >= 2:
                covered += 1
                left -= 2
            else:
                discounted += kind == "ri"
                left -= 1
            units += 1
        return cls(rows, fixed, units, covered, discounted, recurring, taxes, reserved)


# --- the generator ------------------------------------------------------------------


@dataclass
class Organisation:
    payer: Account
    linked: list[Account]

    @property
    def accounts(self) -> list[Account]:
        return [self.payer, *self.linked]

    @classmethod
    def generate(cls, seed: int, linked_accounts: int = 4) -> Organisation:
        rng = random.Random(f"org-{seed}")
        names = [
            "management",
            "prod-app",
            "data-platform",
            "sandbox-dev",
            "security",
            "ml-research",
        ]
        ids = [str(rng.randrange(10**11, 10**12)) for _ in range(linked_accounts + 1)]
        accounts = [
            Account(ids[i], f"finfocus-{names[i % len(names)]}", edp=i % 3 != 2)
            for i in range(linked_accounts + 1)
        ]
        return cls(accounts[0], accounts[1:])


def period_bounds(billing_period: str) -> tuple[dt.datetime, dt.datetime]:
    year, month = (int(part) for part in billing_period.split("-"))
    start = dt.datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    return start, start + dt.timedelta(days=days)


@dataclass
class LineItemGenerator:
    """Yields exactly `rows` line items for `billing_period`, deterministic from `seed`."""

    billing_period: str
    rows: int
    seed: int
    org: Organisation
    edp_rate: Decimal = Decimal("0.05")
    tag_keys: tuple[str, ...] = DEFAULT_TAG_KEYS
    version: int = 0  # a restated delivery of the same period changes a few amounts
    unused_rows: bool = False  # for AWS's FOCUS export: see Plan.for_rows
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.seed}-{self.billing_period}")
        self._restate_rng = random.Random(f"{self.seed}-{self.billing_period}-v{self.version}")
        self.start, self.end = period_bounds(self.billing_period)
        self.hours = int((self.end - self.start).total_seconds() // 3600)
        self.plan = Plan.for_rows(self.rows, len(self.org.accounts), self.unused_rows)
        payer = self.org.payer.id
        self.invoice_id = str(self._rng.randrange(10**9, 10**10))
        # A Reserved Instance with enough instances for every DiscountedUsage hour.
        self.ri_count = max(1, -(-self.plan.discounted * 5 // (self.hours * 4)))
        self.ri_arn = f"arn:aws:ec2:us-east-1:{payer}:reserved-instances/{self._uuid()}"
        self.ri_recurring_hourly = Decimal("0.0330")
        self.ri_upfront_hourly = Decimal("0.0290")
        self.ri_upfront_value = Decimal("254.04") * self.ri_count
        self.ri_used_hours = 0
        # A no-upfront Compute Savings Plan whose hourly commitment covers its usage.
        self.sp_arn = f"arn:aws:savingsplans::{payer}:savingsplan/{self._uuid()}"
        self.sp_rate = Decimal("0.0620")
        chunks = max(1, self.plan.recurring_fee_rows)
        per_chunk = -(-max(1, self.plan.covered) // chunks)
        chunk_hours = self.hours // chunks
        self.sp_commitment = max(
            Decimal("0.10"),
            (self.sp_rate * per_chunk * 5 / 4 / chunk_hours).quantize(Decimal("0.01")),
        )
        self.sp_used = [ZERO] * chunks
        self.covered_seen = 0
        self.usage_accounts = self.org.accounts

    # --- helpers ----------------------------------------------------------------

    def _uuid(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _line_item_id(self) -> str:
        return "".join(self._rng.choices(_ID_ALPHABET, k=52))

    def _hour(self) -> tuple[dt.datetime, dt.datetime]:
        start = self.start + dt.timedelta(hours=self._rng.randrange(self.hours))
        return start, start + dt.timedelta(hours=1)

    def _amount(self, low: str, high: str, places: int = 8) -> Decimal:
        lo, hi = Decimal(low), Decimal(high)
        if lo == hi:
            return lo
        scale = 10**places
        value = self._rng.randrange(int(lo * scale), int(hi * scale) + 1)
        return Decimal(value).scaleb(-places).normalize() or ZERO

    def _tags(self) -> dict[str, str]:
        rng = self._rng
        if rng.random() < 0.15:
            return {}
        values = {
            "user:Team": rng.choice(TEAMS),
            "user:Environment": rng.choice(ENVIRONMENTS),
            "user:CostCenter": rng.choice(COST_CENTERS),
            "aws:createdBy": f"IAMUser:AIDA{rng.getrandbits(40):010X}:deploy",
            "user:Project": rng.choice(["atlas", "borealis", "cirrus"]),
        }
        return {snake(k): values.get(k, "x") for k in self.tag_keys if rng.random() < 0.9}

    def _resource(self, product: Product, account: Account, region: Region) -> str | None:
        rng = self._rng
        n = rng.randrange(40)  # a few dozen resources per kind, reused across hours
        kind = product.resource
        if kind == "instance":
            return f"i-0{(n * 2654435761) % 16**16:016x}"
        if kind == "volume":
            return f"vol-0{(n * 40503) % 16**16:016x}"
        if kind == "bucket":
            return f"finfocus-{account.name.removeprefix('finfocus-')}-{n:02d}"
        if kind == "db":
            return f"arn:aws:rds:{region.code}:{account.id}:db:pg-{n:02d}"
        if kind == "function":
            return f"arn:aws:lambda:{region.code}:{account.id}:function:worker-{n:02d}"
        if kind == "table":
            return f"arn:aws:dynamodb:{region.code}:{account.id}:table/events-{n:02d}"
        if kind == "key":
            return f"arn:aws:kms:{region.code}:{account.id}:key/{n:08d}-0000-4000-8000-000000000000"
        if kind == "distribution":
            return f"arn:aws:cloudfront::{account.id}:distribution/E{n:012d}"
        return None

    def _base(self, account: Account, kind: str, start: dt.datetime, end: dt.datetime) -> Row:
        return {
            "identity_line_item_id": self._line_item_id(),
            "identity_time_interval": f"{_z(start)}/{_z(end)}",
            "bill_invoice_id": self.invoice_id,
            "bill_invoicing_entity": AWS_INC,
            "bill_billing_entity": "AWS",
            "bill_bill_type": "Anniversary",
            "bill_payer_account_id": self.org.payer.id,
            "bill_payer_account_name": self.org.payer.name,
            "bill_billing_period_start_date": self.start,
            "bill_billing_period_end_date": self.end,
            "line_item_usage_account_id": account.id,
            "line_item_usage_account_name": account.name,
            "line_item_line_item_type": kind,
            "line_item_usage_start_date": start,
            "line_item_usage_end_date": end,
            "line_item_currency_code": USD,
            "line_item_legal_entity": AWS_INC,
            "pricing_currency": USD,
            "cost_category": {"business_unit": BUSINESS_UNITS[int(account.id) % 3]},
        }

    def _product_columns(self, row: Row, product: Product, region: Region) -> None:
        usage_type = region.prefix + product.usage_type
        row.update(
            line_item_product_code=product.code,
            line_item_usage_type=usage_type,
            line_item_operation=product.operation,
            product_servicecode=product.code,
            product_product_family=product.family,
            product_region_code=region.code,
            product_location=region.location,
            product_location_type="AWS Region",
            product_usagetype=usage_type,
            product_operation=product.operation,
            product_sku=_sku(product.usage_type, region.code),
            product={"product_name": product.name, **dict(product.attributes)},
        )
        if product.instance_type:
            row["product_instance_type"] = product.instance_type
            row["product_instance_family"] = "General purpose"

    def _money(self, row: Row, account: Account, unblended: Decimal) -> None:
        """Unblended, blended, and (with EDP) net cost and the discount that makes it."""
        row["line_item_unblended_cost"] = unblended
        row["line_item_blended_cost"] = unblended
        discount = q10(-unblended * self.edp_rate) if account.edp and unblended > 0 else ZERO
        row["line_item_net_unblended_cost"] = unblended + discount
        if discount:
            row["discount"] = {"edp_discount": discount}
            row["discount_total_discount"] = discount

    # --- line item kinds --------------------------------------------------------

    def _usage(
        self,
        product: Product | None = None,
        region: Region | None = None,
        account: Account | None = None,
    ) -> Row:
        rng = self._rng
        product = product or rng.choice(PRODUCTS)
        region = region or rng.choice(REGIONS)
        account = account or rng.choice(self.usage_accounts)
        start, end = self._hour()
        row = self._base(account, "Usage", start, end)
        self._product_columns(row, product, region)
        amount = self._amount(*product.usage)
        rate = (product.rate * region.factor).normalize()
        cost = q10(amount * rate)
        row.update(
            line_item_usage_amount=amount,
            line_item_unblended_rate=rate,
            line_item_blended_rate=rate,
            line_item_line_item_description=f"${rate} {product.described}",
            line_item_resource_id=self._resource(product, account, region),
            line_item_availability_zone=f"{region.code}{'abc'[rng.randrange(3)]}"
            if product.code == "AmazonEC2"
            else None,
            pricing_public_on_demand_rate=rate,
            pricing_public_on_demand_cost=cost,
            pricing_term="OnDemand",
            pricing_unit=product.unit,
            pricing_rate_code=f"{row['product_sku']}.JRTCKXETXF.6YS6EN2CT7",
            pricing_rate_id=str(rng.randrange(10**9, 10**10)),
            resource_tags=self._tags(),
        )
        if product.instance_type.startswith(("m5", "c6i")):
            factor = Decimal(4) if product.instance_type.endswith(".large") else Decimal(8)
            row["line_item_normalization_factor"] = factor
            row["line_item_normalized_usage_amount"] = amount * factor
        self._money(row, account, cost)
        if rate:
            row["line_item_net_unblended_rate"] = (
                (rate * (1 - self.edp_rate)).normalize() if account.edp else rate
            )
        return row

    def _discounted(self) -> Row:
        region = REGIONS[0]
        row = self._usage(EC2_INSTANCE, region, self._rng.choice(self.usage_accounts))
        self.ri_used_hours += 1
        effective = self.ri_recurring_hourly + self.ri_upfront_hourly
        row.update(
            line_item_line_item_type="DiscountedUsage",
            line_item_unblended_rate=ZERO,
            line_item_blended_rate=ZERO,
            line_item_net_unblended_rate=ZERO,
            line_item_line_item_description=RI_USAGE_DESCRIPTION,
            pricing_term="Reserved",
            pricing_lease_contract_length="1yr",
            pricing_offering_class="standard",
            pricing_purchase_option="Partial Upfront",
            reservation_reservation_a_r_n=self.ri_arn,
            reservation_amortized_upfront_cost_for_usage=self.ri_upfront_hourly,
            reservation_recurring_fee_for_usage=self.ri_recurring_hourly,
            reservation_effective_cost=effective,
        )
        row.pop("discount", None)
        row.pop("discount_total_discount", None)
        self._money(row, self._account(row), ZERO)
        return row

    def _covered(self) -> tuple[Row, Row]:
        region = REGIONS[0]
        row = self._usage(EC2_INSTANCE, region)
        chunk = self.covered_seen % len(self.sp_used)
        self.covered_seen += 1
        chunk_hours = self.hours // len(self.sp_used)
        start = self.start + dt.timedelta(
            hours=chunk * chunk_hours + self._rng.randrange(chunk_hours)
        )
        end = start + dt.timedelta(hours=1)
        effective = q10(row["line_item_usage_amount"] * self.sp_rate)
        self.sp_used[chunk] += effective
        row.update(
            line_item_line_item_type="SavingsPlanCoveredUsage",
            line_item_usage_start_date=start,
            line_item_usage_end_date=end,
            identity_time_interval=f"{_z(start)}/{_z(end)}",
            savings_plan_savings_plan_a_r_n=self.sp_arn,
            savings_plan_savings_plan_rate=self.sp_rate,
            savings_plan_savings_plan_effective_cost=effective,
            line_item_line_item_description=(
                f"Savings Plans rate of {self.sp_rate} per hour for m5.large"
            ),
        )
        negation = {
            key: row.get(key)
            for key in row
            if key.startswith(
                (
                    "identity_",
                    "bill_",
                    "line_item_usage",
                    "line_item_product",
                    "line_item_operation",
                    "line_item_currency",
                    "line_item_legal",
                    "product",
                    "pricing_currency",
                    "pricing_unit",  # AWS repeats the covered line's pricing unit
                )
            )
        }
        negation.update(
            identity_line_item_id=self._line_item_id(),
            line_item_line_item_type="SavingsPlanNegation",
            line_item_line_item_description="SavingsPlanNegation used by AccountId : "
            f"{row['line_item_usage_account_id']} and UsageSku : {row['product_sku']}",
            line_item_resource_id=row.get("line_item_resource_id"),
            line_item_unblended_rate=-row["line_item_unblended_rate"],
            line_item_blended_rate=-row["line_item_unblended_rate"],
            savings_plan_savings_plan_a_r_n=self.sp_arn,
            cost_category=row["cost_category"],
        )
        negation["line_item_unblended_cost"] = -row["line_item_unblended_cost"]
        negation["line_item_blended_cost"] = -row["line_item_unblended_cost"]
        negation["line_item_net_unblended_cost"] = -row["line_item_net_unblended_cost"]
        if row.get("discount"):
            negation["discount"] = {"edp_discount": -row["discount"]["edp_discount"]}
            negation["discount_total_discount"] = -row["discount_total_discount"]
        return row, negation

    def _account(self, row: Row) -> Account:
        return next(a for a in self.org.accounts if a.id == row["line_item_usage_account_id"])

    def _marketplace(self) -> Row:
        rng = self._rng
        code, name, seller, rate = rng.choice(MARKETPLACE)
        account = rng.choice(self.usage_accounts)
        start, end = self._hour()
        row = self._base(account, "Usage", start, end)
        amount = self._amount("1", "24", 0)
        cost = q10(amount * rate)
        row.update(
            bill_billing_entity="AWS Marketplace",
            line_item_legal_entity=seller,
            line_item_product_code=code,
            line_item_usage_type="USE1-MP:Hrs",
            line_item_operation="Hourly",
            line_item_usage_amount=amount,
            line_item_unblended_rate=rate,
            line_item_blended_rate=rate,
            line_item_net_unblended_rate=rate,
            line_item_line_item_description=f"{name} - hourly usage fee",
            product={"product_name": name},
            product_product_family="SaaS",
            product_sku=f"{code}-hrs",
            product_servicecode=code,
            pricing_unit="Hrs",
            pricing_term="OnDemand",
            pricing_public_on_demand_rate=rate,
            pricing_public_on_demand_cost=cost,
            resource_tags=self._tags(),
        )
        row["line_item_unblended_cost"] = row["line_item_blended_cost"] = cost
        row["line_item_net_unblended_cost"] = cost
        return row

    def _fixed(self, kind: str, index: int) -> Row:
        rng = self._rng
        payer = self.org.payer
        if kind == "RIFee":
            row = self._base(payer, kind, self.start, self.end)
            self._product_columns(row, EC2_INSTANCE, REGIONS[0])
            reserved_hours = self.hours * self.ri_count
            unused = reserved_hours - self.ri_used_hours
            upfront_period = self.ri_upfront_hourly * reserved_hours
            row.update(
                line_item_usage_amount=Decimal(reserved_hours),
                line_item_unblended_rate=self.ri_recurring_hourly,
                line_item_blended_rate=self.ri_recurring_hourly,
                line_item_net_unblended_rate=self.ri_recurring_hourly,
                line_item_line_item_description=RI_FEE_DESCRIPTION,
                line_item_usage_type="HeavyUsage:m5.large",
                line_item_resource_id=None,
                pricing_term="Reserved",
                pricing_unit="Hrs",
                pricing_lease_contract_length="1yr",
                pricing_offering_class="standard",
                pricing_purchase_option="Partial Upfront",
                reservation_reservation_a_r_n=self.ri_arn,
                reservation_amortized_upfront_fee_for_billing_period=upfront_period,
                reservation_unused_quantity=Decimal(unused),
                reservation_unused_recurring_fee=self.ri_recurring_hourly * unused,
                reservation_unused_amortized_upfront_fee_for_billing_period=self.ri_upfront_hourly
                * unused,
                reservation_upfront_value=self.ri_upfront_value,
                reservation_number_of_reservations=str(self.ri_count),
                reservation_units_per_reservation=str(reserved_hours),
                reservation_start_time="2025-06-01T00:00:00.000Z",
                reservation_end_time="2026-06-01T00:00:00.000Z",
                reservation_subscription_id=str(rng.randrange(10**9, 10**10)),
                reservation_modification_status="Original",
            )
            self._money(row, payer, self.ri_recurring_hourly * reserved_hours)
            row.pop("discount", None)
            row.pop("discount_total_discount", None)
            row["line_item_net_unblended_cost"] = row["line_item_unblended_cost"]
            return row
        if kind == "Fee":
            start = self.start + dt.timedelta(days=rng.randrange(27), hours=rng.randrange(24))
            row = self._base(payer, kind, start, start)
            upfront = Decimal("254.04")
            row.update(
                bill_bill_type="Purchase",
                line_item_product_code="AmazonEC2",
                line_item_usage_type="HeavyUsage:m5.large",
                line_item_operation="RunInstances",
                line_item_usage_amount=Decimal(1),
                line_item_line_item_description="Sign up charge for subscription: "
                f"{rng.randrange(10**9, 10**10)}, planId: {rng.randrange(10**6, 10**7)}",
                reservation_reservation_a_r_n=f"arn:aws:ec2:us-east-1:{payer.id}:reserved-instances/{self._uuid()}",
                reservation_upfront_value=upfront,
            )
            self._money(row, payer, upfront)
            row["line_item_net_unblended_cost"] = upfront
            row.pop("discount", None)
            row.pop("discount_total_discount", None)
            return row
        if kind == "SavingsPlanRecurringFee":
            chunks = len(self.sp_used)
            chunk_hours = self.hours // chunks
            hours = chunk_hours if index < chunks - 1 else self.hours - chunk_hours * (chunks - 1)
            start = self.start + dt.timedelta(hours=index * chunk_hours)
            end = start + dt.timedelta(hours=hours)
            commitment = self.sp_commitment * hours
            row = self._base(payer, kind, start, end)
            row.update(
                line_item_product_code="ComputeSavingsPlans",
                line_item_usage_type="ComputeSP:1yrNoUpfront",
                line_item_operation="",
                line_item_usage_amount=Decimal(hours),
                line_item_unblended_rate=self.sp_commitment,
                line_item_blended_rate=self.sp_commitment,
                line_item_net_unblended_rate=self.sp_commitment,
                line_item_line_item_description="1 year No Upfront Compute Savings Plan with "
                f"{self.sp_commitment} USD hourly commitment",
                line_item_resource_id=self.sp_arn,
                savings_plan_savings_plan_a_r_n=self.sp_arn,
                savings_plan_total_commitment_to_date=commitment,
                savings_plan_used_commitment=self.sp_used[index],
                savings_plan_recurring_commitment_for_billing_period=self.sp_commitment
                * self.hours,
                savings_plan_amortized_upfront_commitment_for_billing_period=ZERO,
                savings_plan_start_time="2025-09-01T00:00:00.000Z",
                savings_plan_end_time="2026-09-01T00:00:00.000Z",
                savings_plan_offering_type="ComputeSavingsPlans",
                savings_plan_payment_option="No Upfront",
                savings_plan_purchase_term="1yr",
                savings_plan_region="Any",
            )
            row["line_item_unblended_cost"] = row["line_item_blended_cost"] = commitment
            row["line_item_net_unblended_cost"] = commitment
            return row
        if kind == "SavingsPlanUpfrontFee":
            start = self.start + dt.timedelta(days=rng.randrange(27))
            row = self._base(payer, kind, start, start)
            upfront = Decimal("4380.00")
            arn = f"arn:aws:savingsplans::{payer.id}:savingsplan/{self._uuid()}"
            row.update(
                bill_bill_type="Purchase",
                line_item_product_code="ComputeSavingsPlans",
                line_item_usage_type="ComputeSP:1yrAllUpfront",
                line_item_usage_amount=Decimal(1),
                line_item_line_item_description="1 year All Upfront Compute Savings Plan "
                "with 0.5 USD hourly commitment",
                line_item_resource_id=arn,
                savings_plan_savings_plan_a_r_n=arn,
                savings_plan_payment_option="All Upfront",
                savings_plan_purchase_term="1yr",
                savings_plan_offering_type="ComputeSavingsPlans",
            )
            row["line_item_unblended_cost"] = row["line_item_blended_cost"] = upfront
            row["line_item_net_unblended_cost"] = upfront
            return row
        account = (
            self.org.accounts[index % len(self.org.accounts)]
            if kind == "Tax"
            else rng.choice(self.org.accounts)
        )
        row = self._base(account, kind, self.start, self.end)
        amount = {
            "Tax": self._amount("1", "250", 2),
            "Credit": -self._amount("10", "500", 2),
            "Refund": -self._amount("1", "90", 2),
            "BundledDiscount": -self._amount("0.01", "20", 6),
        }[kind]
        code = {
            "Tax": "AmazonEC2",
            "Credit": "AmazonEC2",
            "Refund": "AmazonS3",
            "BundledDiscount": "AmazonCloudFront",
        }[kind]
        row.update(
            line_item_product_code=code,
            line_item_line_item_description={
                "Tax": "Tax for product code AmazonEC2",
                "Credit": "AWS Credit: Activate program",
                "Refund": "Refund for service outage (AmazonS3)",
                "BundledDiscount": "Free data transfer out bundled with Amazon CloudFront usage",
            }[kind],
        )
        if kind == "Tax":
            row.update(line_item_tax_type="Sales Tax", line_item_legal_entity=AWS_INC)
        if kind == "Refund":
            row["bill_bill_type"] = "Refund"
        if kind == "BundledDiscount":
            row["discount_bundled_discount"] = amount
            row["discount_total_discount"] = amount
            row["line_item_usage_type"] = "US-DataTransfer-Out-Bytes"
        row["line_item_unblended_cost"] = row["line_item_blended_cost"] = amount
        row["line_item_net_unblended_cost"] = amount
        return row

    # --- the stream -------------------------------------------------------------

    def __iter__(self) -> Iterator[Row]:
        plan = self.plan
        if plan.rows < FULL_MIX_MIN_ROWS:
            for _ in range(plan.rows):
                yield self._usage()
            return
        left = plan.rows - len(plan.fixed) - plan.reserved
        unit = 0
        while left > 0:
            kind = _CYCLE[unit % len(_CYCLE)]
            unit += 1
            if kind == "pair" and left >= 2:
                yield from self._covered()
                left -= 2
                continue
            left -= 1
            if kind == "ri":
                yield self._discounted()
            elif kind == "marketplace":
                yield self._marketplace()
            else:
                yield self._restated(self._usage())
        seen: dict[str, int] = {}
        for kind in plan.fixed:
            index = seen.get(kind, 0)
            seen[kind] = index + 1
            yield self._fixed(kind, index)

    def _restated(self, row: Row) -> Row:
        """A later version of the period re-rates a few usage lines (AWS restates until close)."""
        if self.version and self._restate_rng.random() < 0.05:
            account = self._account(row)
            cost = q10(row["line_item_unblended_cost"] * Decimal("1.1"))
            row.pop("discount", None)
            row.pop("discount_total_discount", None)
            self._money(row, account, cost)
        return row


def _z(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sku(usage_type: str, region: str) -> str:
    """A stable 16-character SKU like AWS's (deterministic, independent of PYTHONHASHSEED)."""
    return (
        hashlib.sha1(f"{usage_type}|{region}".encode(), usedforsecurity=False)
        .hexdigest()[:16]
        .upper()
    )
