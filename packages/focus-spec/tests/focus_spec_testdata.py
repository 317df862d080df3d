"""Shared test data for the focus-spec tests: conforming FOCUS rows, fixture paths.

(A plain module rather than conftest.py: every package of the workspace has tests, and one
pytest run collects them all.)
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parents[1]
SHARED_FOCUS = REPO_ROOT.parent / "shared" / "focus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

NEW_IN_1_3 = (
    "AllocatedMethodDetails",
    "AllocatedMethodId",
    "AllocatedResourceId",
    "AllocatedResourceName",
    "AllocatedTags",
    "ContractApplied",
    "HostProviderName",
    "ServiceProviderName",
)


def usage_row_1_2() -> dict[str, Any]:
    """A conforming FOCUS 1.2 Usage row with every column (typed Python values)."""
    return {
        "AvailabilityZone": "us-east-1a",
        "BilledCost": Decimal("0.0832"),
        "BillingAccountId": "123456789012",
        "BillingAccountName": "Acme",
        "BillingAccountType": "Billing Account",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": datetime(2025, 2, 1, tzinfo=UTC),
        "BillingPeriodStart": datetime(2025, 1, 1, tzinfo=UTC),
        "CapacityReservationId": None,
        "CapacityReservationStatus": None,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": "t3.large On Demand Linux",
        "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": datetime(2025, 1, 1, 1, tzinfo=UTC),
        "ChargePeriodStart": datetime(2025, 1, 1, 0, tzinfo=UTC),
        "CommitmentDiscountCategory": None,
        "CommitmentDiscountId": None,
        "CommitmentDiscountName": None,
        "CommitmentDiscountQuantity": None,
        "CommitmentDiscountStatus": None,
        "CommitmentDiscountType": None,
        "CommitmentDiscountUnit": None,
        "ConsumedQuantity": Decimal("1"),
        "ConsumedUnit": "Hours",
        "ContractedCost": Decimal("0.0832"),
        "ContractedUnitPrice": Decimal("0.0832"),
        "EffectiveCost": Decimal("0.0832"),
        "InvoiceId": "INV-2025-01",
        "InvoiceIssuerName": "AWS",
        "ListCost": Decimal("0.0832"),
        "ListUnitPrice": Decimal("0.0832"),
        "PricingCategory": "Standard",
        "PricingCurrency": "USD",
        "PricingCurrencyContractedUnitPrice": Decimal("0.0832"),
        "PricingCurrencyEffectiveCost": Decimal("0.0832"),
        "PricingCurrencyListUnitPrice": Decimal("0.0832"),
        "PricingQuantity": Decimal("1"),
        "PricingUnit": "Hours",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "RegionId": "us-east-1",
        "RegionName": "US East (N. Virginia)",
        "ResourceId": "i-0abc",
        "ResourceName": "web-1",
        "ResourceType": "Virtual Machine",
        "ServiceCategory": "Compute",
        "ServiceName": "Amazon EC2",
        "ServiceSubcategory": "Virtual Machines",
        "SkuId": "SKU1",
        "SkuMeter": "Compute Usage",
        "SkuPriceDetails": {"InstanceType": "t3.large", "CoreCount": 2, "x_Tenancy": "Shared"},
        "SkuPriceId": "SKU1-OD",
        "SubAccountId": "123456789012",
        "SubAccountName": "dev",
        "SubAccountType": "Account",
        "Tags": {"env": "dev", "team": "web"},
        "x_RowKey": "b5b7c0c3",
        "x_SourceStream": "aws_cur",
    }


def usage_row_1_3() -> dict[str, Any]:
    """A conforming FOCUS 1.3 Usage row with every column."""
    row = usage_row_1_2()
    row.update(
        {
            "AllocatedMethodDetails": None,
            "AllocatedMethodId": None,
            "AllocatedResourceId": None,
            "AllocatedResourceName": None,
            "AllocatedTags": None,
            "ContractApplied": None,
            "HostProviderName": "AWS",
            "ServiceProviderName": "AWS",
        }
    )
    return row


def read_csv_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a FOCUS CSV file: every cell text, an empty cell is null."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            {name: (value if value != "" else None) for name, value in record.items()}
            for record in csv.DictReader(handle)
        ]
