"""A fake Anthropic Admin API: a deterministic dataset and a local server that serves it.

ds = AnthropicDataset.generate(seed=7, days=60, workspaces=3)
with FakeAnthropic(ds, admin_keys={"sk-ant-admin01-finfocus"}) as fake:
    ...  # point the client at fake.url
"""

from finfocus_sandbox.anthropic.app import (
    DEFAULT_ADMIN_KEY,
    AnthropicApp,
    AnthropicError,
    FakeAnthropic,
    page_token,
)
from finfocus_sandbox.anthropic.dataset import MODELS, TOKEN_TYPES, AnthropicDataset
from finfocus_sandbox.faults import Fault

__all__ = [
    "DEFAULT_ADMIN_KEY",
    "MODELS",
    "TOKEN_TYPES",
    "AnthropicApp",
    "AnthropicDataset",
    "AnthropicError",
    "FakeAnthropic",
    "Fault",
    "page_token",
]
