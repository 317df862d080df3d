"""A fake of Google Cloud Billing's BigQuery export: dataset, BigQuery REST API, token endpoint.

ds = GCPBillingDataset.generate(seed=7, days=45, projects=4)
with FakeGCP(ds) as fake:
    client = bigquery.Client(
        project="finfocus-billing",
        credentials=service_account.Credentials.from_service_account_info(
            fake.credentials_info(), scopes=["https://www.googleapis.com/auth/bigquery"]
        ),
        client_options={"api_endpoint": fake.api_url},
    )
    client.query_and_wait(f"SELECT * FROM `{fake.table_id('standard')}` WHERE ...")
"""

from finfocus_sandbox.faults import Fault
from finfocus_sandbox.gcp.app import (
    DEFAULT_ACCOUNT,
    BigQueryApp,
    BigQueryError,
    FakeGCP,
    GCPFaultProfile,
    QueryRecord,
    TableSpec,
)
from finfocus_sandbox.gcp.dataset import COST_TYPES, CREDIT_TYPES, GCPBillingDataset, Totals

__all__ = [
    "COST_TYPES",
    "CREDIT_TYPES",
    "DEFAULT_ACCOUNT",
    "BigQueryApp",
    "BigQueryError",
    "FakeGCP",
    "Fault",
    "GCPBillingDataset",
    "GCPFaultProfile",
    "QueryRecord",
    "TableSpec",
    "Totals",
]
