"""The SDK's standard tap tests, against the fake Stripe API."""

from __future__ import annotations

import atexit

from finfocus_sandbox.stripe import FakeStripe
from singer_sdk.testing import SuiteConfig, get_tap_test_class
from tap_stripe.tap import TapStripe
from tap_stripe_testing import API_KEY, make_dataset, tap_config

# The standard test class is built at import time, so its fake API starts here.
_dataset = make_dataset()
_fake = FakeStripe(_dataset, api_keys={API_KEY})
_fake.start()
atexit.register(_fake.stop)

TestTapStripe = get_tap_test_class(
    tap_class=TapStripe,
    config=tap_config(_fake.url, _dataset),
    suite_config=SuiteConfig(max_records_limit=None),
)
