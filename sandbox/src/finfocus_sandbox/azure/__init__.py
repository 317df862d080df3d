"""A fake Azure for Cost Management: Entra ID, the Cost Details API and exports to Blob Storage.

ds = AzureDataset.generate(seed=7, days=60, agreement="EA")      # or "MCA"
with FakeAzure(ds, client_id="...", client_secret="...") as fake:
    ...  # tap login_url and api_url at fake.url
write_export_run(container_client, ds, "daily-focus", "FocusCost", "2026-01")  # Azurite
"""

from finfocus_sandbox.azure.app import (
    QPU_RETRY_AFTER,
    AzureApp,
    AzureFaultProfile,
    Event,
    FakeAzure,
)
from finfocus_sandbox.azure.azurite import (
    DEV_ACCOUNT,
    Azurite,
    dev_connection_string,
    ensure_installed,
)
from finfocus_sandbox.azure.columns import EA_COLUMNS, FOCUS_COLUMNS, MCA_COLUMNS
from finfocus_sandbox.azure.dataset import METRICS, AzureDataset, ScopeError, dec_text
from finfocus_sandbox.azure.exports import EXPORT_TYPES, ExportRun, write_export_run
from finfocus_sandbox.faults import Fault

__all__ = [
    "DEV_ACCOUNT",
    "EA_COLUMNS",
    "EXPORT_TYPES",
    "FOCUS_COLUMNS",
    "MCA_COLUMNS",
    "METRICS",
    "QPU_RETRY_AFTER",
    "AzureApp",
    "AzureDataset",
    "AzureFaultProfile",
    "Azurite",
    "Event",
    "ExportRun",
    "FakeAzure",
    "Fault",
    "ScopeError",
    "dec_text",
    "dev_connection_string",
    "ensure_installed",
    "write_export_run",
]
