"""finfocus sandbox: local fakes of billing provider APIs, with reusable fault injection.

from finfocus_sandbox.stripe import StripeDataset, FakeStripe
from finfocus_sandbox.faults import Fault
"""

from finfocus_sandbox.faults import Fault, FaultInjector, FaultProfile, FaultSet
from finfocus_sandbox.server import BackgroundServer, RecordedRequest

__all__ = [
    "BackgroundServer",
    "Fault",
    "FaultInjector",
    "FaultProfile",
    "FaultSet",
    "RecordedRequest",
]
