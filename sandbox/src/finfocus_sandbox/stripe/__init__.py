"""A fake Stripe API: a deterministic dataset and a local server that serves it.

ds = StripeDataset.generate(seed=7, days=120, balance_transactions=2000)
with FakeStripe(ds, api_keys={"sk_test_finfocus"}) as fake:
    ...  # point the client at fake.url
"""

from finfocus_sandbox.faults import Fault
from finfocus_sandbox.stripe.app import FakeStripe, StripeApp, StripeError
from finfocus_sandbox.stripe.dataset import DEFAULT_API_VERSION, KINDS, StripeDataset

__all__ = [
    "DEFAULT_API_VERSION",
    "KINDS",
    "FakeStripe",
    "Fault",
    "StripeApp",
    "StripeDataset",
    "StripeError",
]
