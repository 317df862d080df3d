"""The SDK's standard tap tests, against the fake Azure (cost details) and Azurite (exports)."""

from __future__ import annotations

import atexit

from azure.storage.blob import BlobServiceClient
from finfocus_sandbox.azure import Azurite, write_export_run
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_azure.tap import TapAzure
from tap_azure_testing import AZURITE_DIR, exports_config, make_dataset, start_fake, tap_config

# The standard test class is built at import time, so its fake and its Azurite start here.
_dataset = make_dataset(days=20, subscriptions=1, resources_per_subscription=6)
_fake = start_fake(_dataset)
atexit.register(_fake.stop)
_azurite = Azurite(AZURITE_DIR)
_azurite.start()
atexit.register(_azurite.stop)
_container = BlobServiceClient.from_connection_string(_azurite.connection_string).create_container(
    "standard-tests"
)
_period = _dataset.months()[-1]
for _kind in ("ActualCost", "AmortizedCost", "FocusCost"):
    write_export_run(_container, _dataset, f"monthly-{_kind.lower()}", _kind, _period)

TestTapAzure = get_tap_test_class(
    tap_class=TapAzure,
    config={
        **tap_config(_fake, _dataset, metrics=["actual"]),
        **exports_config(_azurite, "standard-tests"),
    },
    suite_config=SuiteConfig(max_records_limit=None),
)
