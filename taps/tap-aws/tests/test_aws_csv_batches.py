"""gzip CSV deliveries on the BATCH path: the column-wise reader (pyarrow's CSV reader and
Arrow kernels) gives exactly the row path's batches (csv.reader, the RECORD path's
converters, batches.rows_to_batch), and falls back to the row path where it cannot vouch
for that, with the same batches and the same one-line errors."""

from __future__ import annotations

import gzip
import json
import random

import pyarrow as pa
import pytest
from finfocus_common.errors import PermanentError
from finfocus_sandbox.aws import (
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from tap_aws import batches
from tap_aws.client import S3Exports, csv_converter, csv_kind
from tap_aws.streams import line_item_schema
from tap_aws_testing import tap_config

PREFIX = "billing/exports"
EXPORT = "hand-made"
COLUMNS = [
    ("line_item_unblended_cost", "double"),
    ("pricing_public_on_demand_rate", "string"),  # a CUR 2.0 rate: a number
    ("line_item_usage_start_date", "timestamp"),
    ("is_flagged", "boolean"),
    ("usage_count", "bigint"),
    ("usage_day", "date"),
    ("product", "map<string,string>"),
    ("line_item_line_item_description", "string"),
]
HEADER = ",".join(name for name, _ in COLUMNS)
# Every hard value of each column (cost, rate, timestamp, boolean, bigint, date, map, text).
HARD_ROWS = [
    '1.5,0.0464,2026-01-01T00:00:00Z,true,42,2026-01-15,"{""a"":""x""}",plain',
    ',,,,,,,"a, b"',
    '1E-5,1.0E-7,2026-01-01T00:00:00.000Z, TRUE ,-7,,,"say ""hi"""',
    '1e+16,2.5e-3,2026-01-01 00:00:00,False,007,2026-02-28,"{""k"":1.25}","line1\nline2"',
    "-0,-0.0,2026-01-01T05:30:00+05:30,yes,0,,,naïve \u2013 日本語 €",
    '0.1234567890123456789,+3,2026-01-31T23:59:59.9999Z,"\tTrue\n",,,,"  "',
    "123456789012345678901234567890123456789,12.50,2026-01-01T00:00:00.123456-02:00,,1,,,x",
    "99999999999999999999.999999999999999999,1.0000000000000000000,1969-12-31 23:59:59.9999,"
    "true,,,,last",
    '8771204466182873199529631.6,.5,2026-06-30T12:00:00-00:00,TRUE,,,"{}",big',
]


def _exports(moto_url: str, bucket: str) -> S3Exports:
    return S3Exports(tap_config(moto_url, bucket))


def _reader_args(exports: S3Exports, delivery, key: str, batch_rows: int):
    """Both readers' arguments for one file of a delivery."""
    properties = line_item_schema(delivery.columns)["properties"]
    fields = {
        "billing_period": delivery.billing_period,
        "delivery_id": delivery.delivery_id,
        "export_name": delivery.export_name,
        "source_file": key,
    }
    return (key, dict(delivery.columns), batch_rows, properties, fields)


def _assert_same_batches(exports: S3Exports, delivery, batch_rows: int) -> int:
    """The column-wise batches (which must not fall back) equal the row path's, batch by
    batch and as one table; arrow_batches, the BATCH path's entry, gives them too."""
    rows = batch_count = 0
    for key in delivery.files:
        args = _reader_args(exports, delivery, key, batch_rows)
        columnwise = list(exports.csv_batches_columnwise(*args))
        by_row = list(exports.csv_batches_by_row(*args))
        assert [b.num_rows for b in columnwise] == [b.num_rows for b in by_row]
        batch_count += len(by_row)
        for ours, theirs in zip(columnwise, by_row, strict=True):
            assert ours.schema == theirs.schema
            assert ours.equals(theirs)
        if len({b.schema for b in by_row}) == 1:
            assert pa.Table.from_batches(columnwise).equals(pa.Table.from_batches(by_row))
        entry = list(exports.arrow_batches(delivery, key, batch_rows, args[3]))
        assert len(entry) == len(by_row)
        assert all(a.equals(b) for a, b in zip(entry, by_row, strict=True))
        row_numbers = [n for b in columnwise for n in b.column("row_number").to_pylist()]
        assert row_numbers == list(range(1, len(row_numbers) + 1))
        rows += len(row_numbers)
    assert batch_count > len(delivery.files), "several batches in a file: boundaries compared"
    return rows


def _only(exports: S3Exports, name: str):
    [delivery] = [d for d in exports.deliveries() if d.export_name == name]
    return delivery


def _put_csv(s3, bucket: str, text: str, columns=COLUMNS, *, bom: bool = False) -> str:
    """A hand-made CUR 2.0 CSV delivery: its manifest and one gzip CSV file."""
    key = f"{PREFIX}/{EXPORT}/data/BILLING_PERIOD=2026-01/{EXPORT}-00001.csv.gz"
    data = ("\ufeff" if bom else "") + text
    s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(data.encode()))
    manifest = {
        "executionId": "hand-made-1",
        "queryStatement": "SELECT * FROM COST_AND_USAGE_REPORT",
        "dataFiles": [f"s3://{bucket}/{key}"],
        "columns": [{"name": name, "type": kind} for name, kind in columns],
    }
    s3.put_object(
        Bucket=bucket,
        Key=f"{PREFIX}/{EXPORT}/metadata/BILLING_PERIOD=2026-01/{EXPORT}-Manifest.json",
        Body=json.dumps(manifest).encode(),
    )
    return key


# --- generated deliveries -----------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_legacy_csv_months_match_the_row_path(moto_url, s3, bucket, seed):
    delivery = write_legacy_cur_delivery(
        s3, bucket, PREFIX, "legacy", "2026-02", rows=1500, seed=seed, fmt="csv"
    )
    exports = _exports(moto_url, bucket)
    rows = _assert_same_batches(exports, _only(exports, "legacy"), batch_rows=400)
    assert rows == delivery.totals.rows == 1500


def test_cur2_csv_month_matches_the_row_path(moto_url, s3, bucket):
    delivery = write_cur2_delivery(
        s3, bucket, PREFIX, "cur2", "2026-03", rows=1300, seed=5, fmt="csv", rows_per_file=600
    )
    assert len(delivery.files) == 3
    exports = _exports(moto_url, bucket)
    found = _only(exports, "cur2")
    assert _assert_same_batches(exports, found, batch_rows=250) == 1300
    batch = next(exports.csv_batches_columnwise(*_reader_args(exports, found, found.files[0], 250)))
    assert batch.schema.field("line_item_unblended_cost").type == batches.DECIMAL
    assert batch.schema.field("line_item_usage_start_date").type == pa.timestamp("ms", "UTC")


def test_focus_csv_month_matches_the_row_path(moto_url, s3, bucket):
    write_focus_export_delivery(s3, bucket, PREFIX, "focus", "2026-04", rows=900, seed=8, fmt="csv")
    exports = _exports(moto_url, bucket)
    assert _assert_same_batches(exports, _only(exports, "focus"), batch_rows=300) == 900


# --- hand-made files ----------------------------------------------------------------------


@pytest.mark.parametrize("batch_rows", [1, 2, 4, 100])
@pytest.mark.parametrize("bom", [False, True])
def test_hard_values_match_the_row_path(moto_url, s3, bucket, batch_rows, bom):
    _put_csv(s3, bucket, HEADER + "\r\n" + "\r\n".join(HARD_ROWS) + "\r\n", bom=bom)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    if batch_rows == 100:  # one batch: compare it directly
        args = _reader_args(exports, delivery, delivery.files[0], batch_rows)
        [ours] = exports.csv_batches_columnwise(*args)
        [theirs] = exports.csv_batches_by_row(*args)
        assert ours.equals(theirs)
        assert ours.schema == theirs.schema
        # 39 digits and 19 decimal places do not fit: the whole column is exact text.
        assert ours.column(0).type == pa.string()
        assert ours.column(0)[6].as_py() == "123456789012345678901234567890123456789"
        assert ours.column(0)[5].as_py() == "0.1234567890123456789"
        assert ours.column(1).type == batches.DECIMAL
        assert ours.column(7)[3].as_py() == "line1\nline2"
        assert ours.schema.names[0] == "line_item_unblended_cost"  # the BOM is not in it
    else:
        assert _assert_same_batches(exports, delivery, batch_rows) == len(HARD_ROWS)


def test_values_that_fit_stay_decimals(moto_url, s3, bucket):
    rows = ["1E-5,1e+16,2026-01-01T00:00:00Z", "-0,,2026-01-01 00:00:00+01:00", ",-1.5,"]
    columns = [("a_cost", "double"), ("b_rate", "string"), ("c_time", "timestamp")]
    _put_csv(s3, bucket, "a_cost,b_rate,c_time\n" + "\n".join(rows) + "\n", columns)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    args = _reader_args(exports, delivery, delivery.files[0], 10)
    [batch] = exports.csv_batches_columnwise(*args)
    assert batch.equals(next(exports.csv_batches_by_row(*args)))
    assert batch.schema.field("a_cost").type == batches.DECIMAL
    assert [str(v) for v in batch.column("a_cost").to_pylist()] == [
        "0.000010000000000000",
        "0E-18",
        "None",
    ]
    assert batch.column("b_rate").to_pylist()[0] == 10**16
    assert batch.column("c_time").cast(pa.int64()).to_pylist() == [
        1767225600000,
        1767222000000,
        None,
    ]


def test_number_texts_convert_as_the_row_path_does():
    """Arrow's own decimal cast reads "1e0x1" and wraps 8771204466182873199529631.6
    around silently: the converter must not trust it there."""
    python = csv_converter("double", "cost")
    convert = batches.csv_column_converter(csv_kind("double", "cost"), batches.DECIMAL, python)
    texts = [
        "8771204466182873199529631.6",
        "170141183460469231731.687303715884105727",
        "1e0x1",
        "1e+-1",
        "1E+19",
        "1e+20",
        "9.9e19",
        "0e-400",
        "1_000",
        " 1.5",
        "0x10",
        "١٢",
        "1.5e",
        ".",
        "+.5",
        "5.",
        "-0e-5",
    ]
    generator = random.Random(4)
    for _ in range(300):
        digits = "".join(generator.choice("0123456789") for _ in range(generator.randint(1, 30)))
        point = generator.randint(0, len(digits))
        exponent = generator.choice(["", "e5", "E-7", "e+19", "e-19", "e21", "E+0"])
        sign = generator.choice(["", "-", "+"])
        texts.append(f"{sign}{digits[:point]}.{digits[point:]}{exponent}")
    for text in texts:
        try:
            expected = batches.values_to_array([python(text)], batches.DECIMAL)
        except ValueError:
            with pytest.raises(ValueError, match="not a number"):
                convert(pa.array([text]))
            continue
        got = convert(pa.array([text]))
        assert got.type == expected.type, text
        assert got.equals(expected), text


# --- falling back to the row path ---------------------------------------------------------


def _errors(exports: S3Exports, delivery, batch_rows: int):
    """What each reader yields before it fails, and its error."""
    args = _reader_args(exports, delivery, delivery.files[0], batch_rows)
    outcomes = []
    for read in (
        lambda: exports.arrow_batches(delivery, args[0], batch_rows, args[3]),
        lambda: exports.csv_batches_by_row(*args),
    ):
        yielded: list[pa.RecordBatch] = []
        batches_read = read()
        with pytest.raises(PermanentError) as caught:
            yielded.extend(batches_read)
        outcomes.append((yielded, str(caught.value)))
    with pytest.raises((ValueError, pa.ArrowException)):  # the column-wise path gives up
        list(exports.csv_batches_columnwise(*args))
    return outcomes


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (
            "abc,1,2026-01-01T00:00:00Z",
            "line 6: column a_cost holds 'abc', not a number",
        ),
        ("NaN,1,2026-01-01T00:00:00Z", "line 6: column a_cost holds 'NaN', not a finite number"),
        ("1,Infinity,", "line 6: column b_rate holds 'Infinity', not a finite number"),
        ("1,2,yesterday", "line 6: 'yesterday' is not a timestamp"),
        ("1,2,3,4", "line 6 has 4 fields, its header 3"),
        ("1,2", "line 6 has 2 fields, its header 3"),
        ("", "line 6 has 0 fields, its header 3"),
    ],
)
def test_bad_values_give_the_row_paths_error(moto_url, s3, bucket, bad_row, message):
    good = ["1.5,0.1,2026-01-01T00:00:00Z"] * 4 + [bad_row] + ["2,0.2,2026-01-02T00:00:00Z"] * 3
    columns = [("a_cost", "double"), ("b_rate", "string"), ("c_time", "timestamp")]
    key = _put_csv(s3, bucket, "a_cost,b_rate,c_time\n" + "\n".join(good) + "\n", columns)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    (ours, our_error), (theirs, their_error) = _errors(exports, delivery, batch_rows=2)
    assert our_error == their_error == f"s3://{bucket}/{key} {message}"
    assert "\n" not in our_error
    assert [b.num_rows for b in ours] == [b.num_rows for b in theirs] == [2, 2]
    assert all(a.equals(b) for a, b in zip(ours, theirs, strict=True))


def test_fallback_mid_file_keeps_the_row_paths_batches(moto_url, s3, bucket):
    """A row of empty fields reads like a blank line to pyarrow: from its batch on, the
    row path takes over, and the file's batches are still exactly the row path's."""
    rows = ["1.5,0.1,2026-01-01T00:00:00Z"] * 5 + [",,"] + [" 2 ,0.2,2026-01-02 10:00:00"] * 3
    columns = [("a_cost", "double"), ("b_rate", "string"), ("c_time", "timestamp")]
    _put_csv(s3, bucket, "a_cost,b_rate,c_time\n" + "\n".join(rows) + "\n", columns)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    args = _reader_args(exports, delivery, delivery.files[0], 2)
    columnwise = exports.csv_batches_columnwise(*args)
    assert [next(columnwise).num_rows, next(columnwise).num_rows] == [2, 2]
    with pytest.raises(batches.NotColumnwiseError, match="empty fields"):
        next(columnwise)
    entry = list(exports.arrow_batches(delivery, args[0], 2, args[3]))
    by_row = list(exports.csv_batches_by_row(*args))
    assert [b.num_rows for b in entry] == [b.num_rows for b in by_row] == [2, 2, 2, 2, 1]
    assert all(a.equals(b) for a, b in zip(entry, by_row, strict=True))
    assert pa.Table.from_batches(entry).column("row_number").to_pylist() == list(range(1, 10))
    assert pa.Table.from_batches(entry).column("a_cost").to_pylist()[5] is None


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"])
def test_line_endings_match_the_row_path(moto_url, s3, bucket, ending):
    rows = ["1.5,0.1,2026-01-01T00:00:00Z", '2,"x\ry",2026-01-02T00:00:00Z'] * 3
    columns = [("a_cost", "double"), ("b_note", "string"), ("c_time", "timestamp")]
    _put_csv(s3, bucket, ending.join(["a_cost,b_note,c_time", *rows]) + ending, columns)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    args = _reader_args(exports, delivery, delivery.files[0], 4)
    by_row = list(exports.csv_batches_by_row(*args))
    entry = list(exports.arrow_batches(delivery, args[0], 4, args[3]))
    assert [b.num_rows for b in entry] == [b.num_rows for b in by_row] == [4, 2]
    assert all(a.equals(b) for a, b in zip(entry, by_row, strict=True))
    assert entry[0].column("b_note")[1].as_py() == "x\ry"


def test_blank_line_after_a_cr_header_gives_the_row_paths_error(moto_url, s3, bucket):
    """A header ending in CR, then CR LF: csv.reader reads a blank line there."""
    columns = [("a_cost", "double"), ("b_rate", "string"), ("c_time", "timestamp")]
    body = "a_cost,b_rate,c_time\r\r\n" + "1,2,2026-01-01T00:00:00Z\n" * 3
    key = _put_csv(s3, bucket, body, columns)
    exports = _exports(moto_url, bucket)
    delivery = _only(exports, EXPORT)
    (ours, our_error), (theirs, their_error) = _errors(exports, delivery, batch_rows=2)
    assert our_error == their_error == f"s3://{bucket}/{key} line 2 has 0 fields, its header 3"
    assert ours == theirs == []
