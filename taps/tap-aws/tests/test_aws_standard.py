"""The SDK's standard tap tests, against moto (server mode) holding every export kind."""

from __future__ import annotations

import atexit

import boto3
from finfocus_sandbox.aws import (
    write_cur2_delivery,
    write_focus_export_delivery,
    write_legacy_cur_delivery,
)
from moto.server import ThreadedMotoServer
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_aws.tap import TapAWS
from tap_aws_testing import KEY_ID, SECRET, tap_config

# The standard test class is built at import time, so its S3 starts here.
_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
_server.start()
atexit.register(_server.stop)
_host, _port = _server.get_host_and_port()
_URL = f"http://{_host}:{_port}"
_BUCKET = "finfocus-standard-tests"
_s3 = boto3.client(
    "s3",
    endpoint_url=_URL,
    region_name="us-east-1",
    aws_access_key_id=KEY_ID,
    aws_secret_access_key=SECRET,
)
_s3.create_bucket(Bucket=_BUCKET)
write_cur2_delivery(_s3, _BUCKET, "billing/exports", "acme-cur2", "2026-01", rows=60, seed=1)
write_cur2_delivery(
    _s3, _BUCKET, "billing/exports", "acme-cur2", "2026-02", rows=40, seed=1, fmt="csv"
)
write_legacy_cur_delivery(_s3, _BUCKET, "billing/exports", "acme-cur", "2026-01", rows=30, seed=2)
write_focus_export_delivery(
    _s3, _BUCKET, "billing/exports", "acme-focus", "2026-01", rows=30, seed=3
)

TestTapAWS = get_tap_test_class(
    tap_class=TapAWS,
    config=tap_config(_URL, _BUCKET),
    suite_config=SuiteConfig(max_records_limit=None),
)
