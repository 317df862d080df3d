"""A fake OpenAI admin API (costs, usage, projects, API keys): dataset and local server.

ds = OpenAIDataset.generate(seed=7, days=90, projects=4)
with FakeOpenAI(ds, admin_keys={"sk-admin-finfocus"}) as fake:
    ...  # point the client at fake.url (the API lives under /v1)
"""

from finfocus_sandbox.faults import Fault
from finfocus_sandbox.openai.app import FakeOpenAI, OpenAIApp, OpenAIError, mask_key
from finfocus_sandbox.openai.dataset import USAGE_KINDS, OpenAIDataset

__all__ = [
    "USAGE_KINDS",
    "FakeOpenAI",
    "Fault",
    "OpenAIApp",
    "OpenAIDataset",
    "OpenAIError",
    "mask_key",
]
