"""Singer tap for Azure Cost Management (Cost Details API and exports in Blob Storage)."""
