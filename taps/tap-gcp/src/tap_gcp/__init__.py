"""tap-gcp: Google Cloud Billing exports (standard, detailed, FOCUS) from BigQuery."""
