"""AWS FOCUS 1.0 exports from the sandbox generator, read as tap-aws reads them, mapped.

The generator writes FOCUS_1_0_AWS deliveries to S3 (moto in server mode), with the gaps
AWS documents for that export (empty ListUnitPrice, ContractedUnitPrice, PricingUnit,
SkuId, SkuPriceId on commitment and upfront fees, negations and Marketplace usage), and
rows FOCUS 1.0 requires (Unused commitment rows, negations that price nothing). tap-aws'
own reader turns the files into records (Parquet doubles and CSV text to exact decimals),
the mapper maps them, and then:

- every row is valid FOCUS 1.2 and 1.3 after RowShaper, and no record is refused;
- BilledCost and EffectiveCost reconcile exactly with the delivery's totals, and no
  money column differs from the record's;
- every unit price the mapper fills prices its cost exactly, and each gap path actually
  ran (so a generator or mapper change that skips one fails here).

Records the rules cannot make valid honestly fail with a MappingError naming stream,
record and column; with `on_invalid: quarantine` the mapper quarantines them.
"""

from __future__ import annotations

import collections
import copy
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from finfocus_sandbox.aws import write_focus_export_delivery
from finfocus_sandbox.aws.server import moto_s3
from focus_spec import get_spec
from mapper_focus.mapper import ALL_SPEC_COLUMNS
from mapper_focus.providers.aws_focus import STREAM, map_focus_export
from mapper_focus.rows import MappingError, RowShaper
from tap_aws.client import S3Exports

FIXTURES = Path(__file__).parent / "fixtures" / "aws"
PERIOD = "2026-10"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MONEY = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
PRICES = (("ListUnitPrice", "ListCost"), ("ContractedUnitPrice", "ContractedCost"))
SHAPERS = {v: (get_spec(v), RowShaper(get_spec(v), ALL_SPEC_COLUMNS)) for v in ("1.2", "1.3")}


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as url:
        yield url


def tap_records(endpoint: str, bucket: str) -> list[dict]:
    """The delivery's rows as tap-aws emits them (its reader, its tap fields)."""
    exports = S3Exports(
        {"bucket": bucket, "prefix": "exports", "endpoint_url": endpoint, **CREDENTIALS}
    )
    out = []
    for delivery in exports.deliveries():
        assert delivery.export_kind == "focus"
        for key in delivery.files:
            for number, row in enumerate(exports.rows(delivery, key, 5000), start=1):
                row.update(
                    billing_period=delivery.billing_period,
                    delivery_id=delivery.delivery_id,
                    export_name=delivery.export_name,
                    source_file=key,
                    row_number=number,
                )
                out.append(row)
    return out


@pytest.mark.parametrize(
    ("seed", "rows", "fmt", "rows_per_file"),
    [
        (11, 2000, "parquet", None),
        (12, 2000, "parquet", None),
        (13, 2000, "parquet", None),
        (14, 2000, "csv", None),
        (15, 12_000, "parquet", 5000),
    ],
)
def test_generated_focus_export_maps_to_valid_focus_and_reconciles(
    s3_endpoint, seed, rows, fmt, rows_per_file
):
    bucket = f"focus-export-{seed}-{fmt}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    s3.create_bucket(Bucket=bucket)
    delivery = write_focus_export_delivery(
        s3, bucket, "exports", "focus", PERIOD, rows, seed, fmt, rows_per_file=rows_per_file
    )
    records = tap_records(s3_endpoint, bucket)
    assert len(records) == rows  # the export's rows (line items + Unused rows)

    pairs = []
    for record in records:
        mapped = list(map_focus_export(copy.deepcopy(record)))  # a MappingError fails here
        assert len(mapped) == 1
        pairs.append((record, mapped[0]))

    problems = []
    for _, row in pairs:
        for version, (spec, shape) in SHAPERS.items():
            for violation in spec.validate_row(shape(row, STREAM, "aws")):
                problems.append(f"{version} {row['x_SourceRecordId']}: {violation.message}")
    assert not problems, f"{len(problems)} violations, e.g.\n" + "\n".join(problems[:10])

    rows_out = [row for _, row in pairs]
    assert sum(r["BilledCost"] for r in rows_out) == delivery.totals.unblended_cost
    assert sum(r["EffectiveCost"] for r in rows_out) == delivery.totals.amortized_cost

    paths: collections.Counter[str] = collections.Counter()
    for record, row in pairs:
        for column in MONEY:  # money as exported, digit for digit
            assert str(row[column]) == str(record[column]), (row["x_SourceRecordId"], column)
        for price, cost in PRICES:
            if record[price] is None and row[price] is not None:
                paths[f"{price} filled"] += 1
                assert row[price] * row["PricingQuantity"] == row[cost], row["x_SourceRecordId"]
        # The issuer is named like the provider; AWS's legal entity is kept.
        assert row["InvoiceIssuerName"] == row["ProviderName"] == "AWS"
        assert row["x_AwsInvoicingEntity"] == record["InvoiceIssuerName"]
        if record["SkuPriceId"] is None and row["SkuPriceId"] is not None:
            paths["SkuPriceId = SkuId"] += 1
            assert row["SkuPriceId"] == row["SkuId"]
        if record["SkuId"] is None and row["SkuId"] is not None:
            paths["SkuId = x_UsageType"] += 1
            assert row["SkuId"] == record["x_UsageType"]
        if record["PricingUnit"] is None and row["PricingUnit"] == row["BillingCurrency"]:
            paths["priced in currency"] += 1
            assert row["PricingQuantity"] == row["ContractedCost"]
            assert row["ContractedUnitPrice"] == 1
        if row.get("CommitmentDiscountStatus") == "Unused":
            paths["unused commitment"] += 1
            assert row["ConsumedQuantity"] is None
            assert row["BilledCost"] == 0
        if row["ChargeCategory"] == "Usage" and row["BilledCost"] < 0:
            paths["negation"] += 1
            assert row["ListCost"] == row["ContractedCost"] == row["PricingQuantity"] == 0
        if record["ChargePeriodEnd"] == record["ChargePeriodStart"]:
            paths["instant charge period"] += 1
            assert row["ChargePeriodEnd"] > row["ChargePeriodStart"]
        if row["ChargeCategory"] == "Purchase" and row.get("CommitmentDiscountId"):
            assert row["EffectiveCost"] == 0
    assert set(paths) == {
        "ListUnitPrice filled",
        "ContractedUnitPrice filled",
        "SkuPriceId = SkuId",
        "SkuId = x_UsageType",
        "priced in currency",
        "unused commitment",
        "negation",
        "instant charge period",
    }, paths
    # One Unused row per partly unused recurring commitment fee line item.
    assert paths["unused commitment"] == rows - delivery.totals.rows > 0


# --- records the rules cannot make valid: MappingError, or quarantine -------------------


def fixture_input(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["input"]


@pytest.mark.parametrize(
    ("name", "change", "column", "reason"),
    [
        # ListUnitPrice empty and 0.2 / 3 does not terminate: no exact price to fill.
        (
            "focus_export_gap_pricing_unit_and_prices",
            {"PricingQuantity": "3", "ConsumedQuantity": "3", "ContractedCost": "0.3"},
            "ListUnitPrice",
            "not an exact",
        ),
        # Exact, but 2.5E-19 has more places than the dataset's decimal(38, 18).
        (
            "focus_export_gap_pricing_unit_and_prices",
            {"ListCost": "0.000000000000000001", "PricingQuantity": "4", "ConsumedQuantity": "4"},
            "ListUnitPrice",
            "at most 18 places",
        ),
        (
            "focus_export_usage",
            {"ContractedUnitPrice": "-0.096"},
            "ContractedUnitPrice",
            "negative",
        ),
        ("focus_export_usage", {"ListCost": "0.5"}, "ListCost", "is not ListUnitPrice x"),
        (
            "focus_export_usage",
            {"PricingUnit": None, "ConsumedUnit": None},
            "PricingUnit",
            "documented gap",
        ),
        (
            "focus_export_usage",
            {"PricingQuantity": None, "ConsumedQuantity": None},
            "PricingQuantity",
            "empty",
        ),
        (
            "focus_export_gap_entities",
            {"x_ServiceCode": "prod-6d2gkq7ffgvc4", "ServiceName": "Datadog Pro"},
            "PublisherName",
            "Marketplace seller",
        ),
        ("focus_export_gap_list_unit_price", {"EffectiveCost": "34.658"}, "EffectiveCost", "be 0"),
        (
            "focus_export_commitment_columns",
            {"ConsumedQuantity": None},
            "CommitmentDiscountStatus",
            "used or unused",
        ),
        (
            "focus_export_commitment_columns",
            {"CommitmentDiscountId": "arn:aws:example::111111111111:commitment/1"},
            "CommitmentDiscountType",
            "neither",
        ),
        (
            "focus_export_usage",
            {"CommitmentDiscountStatus": "Used"},
            "CommitmentDiscountStatus",
            "",
        ),
        ("focus_export_gap_upfront_fee", {"x_UsageType": None}, "SkuId", "x_UsageType"),
        ("focus_export_gap_upfront_fee", {"ConsumedQuantity": "1"}, "ConsumedQuantity", "null"),
        (
            "focus_export_usage",
            {"ChargeCategory": "Tax", "ConsumedQuantity": None, "ConsumedUnit": None},
            "ListUnitPrice",
            "Tax row",
        ),
        (
            "focus_export_usage",
            {"ChargePeriodEnd": "2026-01-05T09:00:00.000Z"},
            "ChargePeriodEnd",
            "before",
        ),
    ],
)
def test_rows_that_cannot_be_made_valid_name_stream_record_and_column(name, change, column, reason):
    record = {**fixture_input(name), **change}
    with pytest.raises(MappingError) as info:
        list(map_focus_export(record))
    error = info.value
    assert (error.stream, error.column) == (STREAM, column), str(error)
    assert error.record_id == f"{record['source_file']}:{record['row_number']}"
    assert reason in error.reason
    assert error.record_id in str(error)
    assert column in str(error)


def _schema(record: dict) -> dict:
    kinds = {str: "string", int: "integer", dict: "object"}
    return {
        "type": "object",
        "properties": {
            key: {"type": [kinds.get(type(value), "string"), "null"]}
            for key, value in record.items()
        },
    }


def test_an_unmappable_export_row_is_quarantined_with_its_column(tmp_path):
    good = fixture_input("focus_export_gap_upfront_fee")
    bad = {**fixture_input("focus_export_usage"), "ContractedUnitPrice": "-0.096"}
    messages = [
        {"type": "SCHEMA", "stream": STREAM, "schema": _schema(good), "key_properties": []},
        {"type": "RECORD", "stream": STREAM, "record": good},
        {"type": "RECORD", "stream": STREAM, "record": bad},
    ]
    config = tmp_path / "mapper.json"
    config.write_text(json.dumps({"on_invalid": "quarantine"}))
    result = subprocess.run(
        [sys.executable, "-m", "mapper_focus.mapper", "--config", str(config)],
        input="\n".join(json.dumps(m) for m in messages) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line, parse_float=Decimal) for line in result.stdout.splitlines() if line]
    by_stream = collections.defaultdict(list)
    for message in out:
        if message["type"] == "RECORD":
            by_stream[message["stream"]].append(message["record"])
    (row,) = by_stream["focus_cost_and_usage"]
    assert row["PricingUnit"] == "USD"
    assert row["BilledCost"] == Decimal("254.04")
    (quarantined,) = by_stream["focus_quarantine"]
    assert quarantined["column"] == "ContractedUnitPrice"
    assert quarantined["x_SourceRecordId"] == f"{bad['source_file']}:{bad['row_number']}"
    assert "2 records in, 1 mapped to 1 FOCUS rows, 1 quarantined" in result.stderr
