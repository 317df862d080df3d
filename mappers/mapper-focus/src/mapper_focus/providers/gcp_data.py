"""Lookup tables of the Google Cloud mappings: services, regions and units.

A data module: it declares no stream. Shipped as code so the mapper never reads ../shared
at run time.

- **Services.** The FinOps toolkit's Services.csv has no Google Cloud rows, so this table
  gives the common Google Cloud services (by `service.description`, the name Google's
  exports and its own FOCUS view use as ServiceName) a FOCUS ServiceCategory and
  ServiceSubcategory, choosing as the toolkit does for the Azure counterpart and as
  `aws_services.py` does for AWS (Compute Engine like Virtual Machines, Cloud Run like
  Container Apps, BigQuery like a data warehouse, ...). Every pair is an allowed FOCUS 1.2
  and 1.3 pair (`tests/test_gcp_mapping.py` checks them against focus-spec). A service that
  is not here keeps its own name and is "Other" / "Other (Other)".
- **Regions.** Google's region ids with their display names (the city or area Google's
  location list names), and the multi-regions; "global" is no region.
- **Units.** Google's unit descriptions (`usage.unit`, `usage.pricing_unit`, `price.unit`:
  "byte-seconds", "gibibyte month", "hour", "requests", ...) in FOCUS unit format
  ("B-Seconds", "GiB-Months", "Hours", "Requests"). A rename only, never a rescaling, so
  quantities and prices keep Google's exact digits.
"""

from __future__ import annotations

from functools import lru_cache

AI = "AI and Machine Learning"
AN = "Analytics"
BA = "Business Applications"
CO = "Compute"
DB = "Databases"
DT = "Developer Tools"
ID = "Identity"
IN = "Integration"
IOT = "Internet of Things"
MG = "Management and Governance"
ME = "Media"
MI = "Migration"
NW = "Networking"
SE = "Security"
ST = "Storage"
WE = "Web"

#: service.description -> (ServiceCategory, ServiceSubcategory). Looked up case-insensitively.
GCP_SERVICES: dict[str, tuple[str, str]] = {
    # Compute
    "Compute Engine": (CO, "Virtual Machines"),
    "VMware Engine": (CO, "Virtual Machines"),
    "Google Cloud VMware Engine": (CO, "Virtual Machines"),
    "Bare Metal Solution": (CO, "Virtual Machines"),
    "Kubernetes Engine": (CO, "Containers"),
    "Google Kubernetes Engine": (CO, "Containers"),
    "GKE Enterprise": (CO, "Containers"),
    "Anthos": (CO, "Containers"),
    "Artifact Registry": (CO, "Containers"),
    "Container Registry": (CO, "Containers"),
    "Container Registry Vulnerability Scanning": (SE, "Security Posture Management"),
    "Cloud Run": (CO, "Containers"),
    "Cloud Run Functions": (CO, "Serverless Compute"),
    "Cloud Functions": (CO, "Serverless Compute"),
    "Batch": (CO, "Serverless Compute"),
    "Cloud Workstations": (CO, "End User Computing"),
    # Web
    "App Engine": (WE, "Application Platforms"),
    "Firebase Hosting": (WE, "Application Platforms"),
    # Storage
    "Cloud Storage": (ST, "Object Storage"),
    "Filestore": (ST, "File Storage"),
    "Cloud Filestore": (ST, "File Storage"),
    "NetApp Volumes": (ST, "File Storage"),
    "Backup and DR Service": (ST, "Backup Storage"),
    "Backup for GKE": (ST, "Backup Storage"),
    # Databases
    "Cloud SQL": (DB, "Relational Databases"),
    "AlloyDB": (DB, "Relational Databases"),
    "AlloyDB for PostgreSQL": (DB, "Relational Databases"),
    "Cloud Spanner": (DB, "Relational Databases"),
    "Spanner": (DB, "Relational Databases"),
    "Cloud Bigtable": (DB, "NoSQL Databases"),
    "Bigtable": (DB, "NoSQL Databases"),
    "Cloud Firestore": (DB, "NoSQL Databases"),
    "Firestore": (DB, "NoSQL Databases"),
    "Cloud Datastore": (DB, "NoSQL Databases"),
    "Firebase Realtime Database": (DB, "NoSQL Databases"),
    "Cloud Memorystore for Redis": (DB, "Caching"),
    "Memorystore for Redis": (DB, "Caching"),
    "Memorystore for Redis Cluster": (DB, "Caching"),
    "Memorystore for Memcached": (DB, "Caching"),
    "Memorystore for Valkey": (DB, "Caching"),
    "BigQuery": (DB, "Data Warehouses"),
    "BigQuery Reservation API": (DB, "Data Warehouses"),
    "BigQuery Storage API": (DB, "Data Warehouses"),
    "BigQuery BI Engine": (AN, "Business Intelligence"),
    "BigQuery Data Transfer Service": (MI, "Data Migration"),
    # Analytics
    "Dataflow": (AN, "Data Processing"),
    "Cloud Dataflow": (AN, "Data Processing"),
    "Dataproc": (AN, "Data Processing"),
    "Cloud Dataproc": (AN, "Data Processing"),
    "Dataproc Metastore": (AN, "Data Processing"),
    "Cloud Data Fusion": (AN, "Data Processing"),
    "Dataplex": (MG, "Data Governance"),
    "Data Catalog": (MG, "Data Governance"),
    "Datastream": (AN, "Streaming Analytics"),
    "Cloud Pub/Sub": (IN, "Messaging"),
    "Pub/Sub": (IN, "Messaging"),
    "Pub/Sub Lite": (IN, "Messaging"),
    "Looker": (AN, "Business Intelligence"),
    "Looker Studio": (AN, "Business Intelligence"),
    "Cloud Composer": (IN, "Workflow Orchestration"),
    # Integration
    "Workflows": (IN, "Workflow Orchestration"),
    "Cloud Scheduler": (IN, "Workflow Orchestration"),
    "Cloud Tasks": (IN, "Messaging"),
    "Eventarc": (IN, "Messaging"),
    "Apigee": (IN, "API Management"),
    "API Gateway": (IN, "API Management"),
    "Cloud Endpoints": (IN, "API Management"),
    "Application Integration": (IN, "Other (Integration)"),
    # Networking
    "Networking": (NW, "Network Infrastructure"),
    "Cloud DNS": (NW, "Network Routing"),
    "Cloud Domains": (NW, "Network Routing"),
    "Cloud CDN": (NW, "Content Delivery"),
    "Cloud Load Balancing": (NW, "Application Networking"),
    "Cloud NAT": (NW, "Network Connectivity"),
    "Cloud VPN": (NW, "Network Connectivity"),
    "Cloud Interconnect": (NW, "Network Connectivity"),
    "Network Connectivity Center": (NW, "Network Connectivity"),
    "Network Intelligence Center": (NW, "Other (Networking)"),
    "Cloud Armor": (NW, "Network Security"),
    "Cloud IDS": (NW, "Network Security"),
    "Cloud Next Generation Firewall": (NW, "Network Security"),
    "Network Service Tiers": (NW, "Network Connectivity"),
    # AI and Machine Learning
    "Vertex AI": (AI, "Machine Learning"),
    "Gemini API": (AI, "Generative AI"),
    "Generative Language API": (AI, "Generative AI"),
    "Gemini Code Assist": (AI, "Generative AI"),
    "Gemini for Google Cloud": (AI, "Generative AI"),
    "Cloud Vision API": (AI, "AI Platforms"),
    "Cloud Video Intelligence API": (AI, "AI Platforms"),
    "Document AI": (AI, "AI Platforms"),
    "Cloud Natural Language API": (AI, "Natural Language Processing"),
    "Cloud Translation": (AI, "Natural Language Processing"),
    "Cloud Translation API": (AI, "Natural Language Processing"),
    "Cloud Speech API": (AI, "Natural Language Processing"),
    "Speech-to-Text": (AI, "Natural Language Processing"),
    "Cloud Text-to-Speech API": (AI, "Natural Language Processing"),
    "Text-to-Speech": (AI, "Natural Language Processing"),
    "Dialogflow": (AI, "Bots"),
    "Contact Center AI": (AI, "Bots"),
    "Recommendations AI": (AI, "Machine Learning"),
    "Cloud TPU": (AI, "Machine Learning"),
    # Management and Governance
    "Cloud Logging": (MG, "Observability"),
    "Cloud Monitoring": (MG, "Observability"),
    "Cloud Trace": (MG, "Observability"),
    "Cloud Profiler": (MG, "Observability"),
    "Stackdriver Logging": (MG, "Observability"),
    "Stackdriver Monitoring": (MG, "Observability"),
    "Support": (MG, "Support"),
    "Cloud Support": (MG, "Support"),
    "Invoice": (MG, "Cost Management"),
    "Cloud Asset Inventory": (MG, "Compliance"),
    "Config Management": (MG, "Other (Management and Governance)"),
    "Cloud Deployment Manager": (MG, "Other (Management and Governance)"),
    "Infrastructure Manager": (MG, "Other (Management and Governance)"),
    # Security and Identity
    "Secret Manager": (SE, "Secret Management"),
    "Cloud Key Management Service (KMS)": (SE, "Secret Management"),
    "Cloud KMS": (SE, "Secret Management"),
    "Certificate Manager": (SE, "Secret Management"),
    "Certificate Authority Service": (SE, "Secret Management"),
    "Security Command Center": (SE, "Security Posture Management"),
    "Web Security Scanner": (SE, "Security Posture Management"),
    "reCAPTCHA Enterprise": (SE, "Threat Detection and Response"),
    "Google Security Operations": (SE, "Threat Detection and Response"),
    "Cloud Data Loss Prevention": (SE, "Other (Security)"),
    "Sensitive Data Protection": (SE, "Other (Security)"),
    "Identity Platform": (ID, "Identity and Access Management"),
    "Cloud Identity": (ID, "Identity and Access Management"),
    "Identity-Aware Proxy": (ID, "Identity and Access Management"),
    "Managed Service for Microsoft Active Directory": (ID, "Identity and Access Management"),
    "Managed Microsoft AD": (ID, "Identity and Access Management"),
    # Developer Tools
    "Cloud Build": (DT, "Continuous Integration and Deployment"),
    "Cloud Deploy": (DT, "Continuous Integration and Deployment"),
    "Cloud Source Repositories": (DT, "Source Code Management"),
    "Secure Source Manager": (DT, "Source Code Management"),
    "Firebase Test Lab": (DT, "Quality Assurance"),
    "Cloud Shell": (DT, "Development Environments"),
    # Migration
    "Database Migration Service": (MI, "Data Migration"),
    "Storage Transfer Service": (MI, "Data Migration"),
    "Transfer Appliance": (MI, "Data Migration"),
    "Migrate to Virtual Machines": (MI, "Resource Migration"),
    # Internet of Things, Media, Business Applications
    "Cloud IoT Core": (IOT, "IoT Platforms"),
    "Transcoder API": (ME, "Media Streaming"),
    "Live Stream API": (ME, "Media Streaming"),
    "Google Maps Platform": (BA, "Other (Business Applications)"),
    "Maps API": (BA, "Other (Business Applications)"),
    "Google Workspace": (BA, "Productivity and Collaboration"),
    "Cloud Healthcare": (AN, "Data Processing"),
}

#: A service that is not in the table.
OTHER: tuple[str, str] = ("Other", "Other (Other)")
_SERVICES_FOLDED = {name.casefold(): pair for name, pair in GCP_SERVICES.items()}


@lru_cache(maxsize=4096)
def service_category(description: str | None) -> tuple[str, str]:
    """(ServiceCategory, ServiceSubcategory) of a Google Cloud service description."""
    if not description:
        return OTHER
    return _SERVICES_FOLDED.get(description.strip().casefold(), OTHER)


#: Google Cloud region id -> display name. Multi-regions and dual-regions included;
#: "global" is not a region (RegionId is null for it).
GCP_REGIONS: dict[str, str] = {
    "africa-south1": "Johannesburg",
    "asia-east1": "Taiwan",
    "asia-east2": "Hong Kong",
    "asia-northeast1": "Tokyo",
    "asia-northeast2": "Osaka",
    "asia-northeast3": "Seoul",
    "asia-south1": "Mumbai",
    "asia-south2": "Delhi",
    "asia-southeast1": "Singapore",
    "asia-southeast2": "Jakarta",
    "australia-southeast1": "Sydney",
    "australia-southeast2": "Melbourne",
    "europe-central2": "Warsaw",
    "europe-north1": "Finland",
    "europe-north2": "Stockholm",
    "europe-southwest1": "Madrid",
    "europe-west1": "Belgium",
    "europe-west2": "London",
    "europe-west3": "Frankfurt",
    "europe-west4": "Netherlands",
    "europe-west6": "Zurich",
    "europe-west8": "Milan",
    "europe-west9": "Paris",
    "europe-west10": "Berlin",
    "europe-west12": "Turin",
    "me-central1": "Doha",
    "me-central2": "Dammam",
    "me-west1": "Tel Aviv",
    "northamerica-northeast1": "Montréal",
    "northamerica-northeast2": "Toronto",
    "northamerica-south1": "Querétaro",
    "southamerica-east1": "São Paulo",
    "southamerica-west1": "Santiago",
    "us-central1": "Iowa",
    "us-east1": "South Carolina",
    "us-east4": "Northern Virginia",
    "us-east5": "Columbus",
    "us-south1": "Dallas",
    "us-west1": "Oregon",
    "us-west2": "Los Angeles",
    "us-west3": "Salt Lake City",
    "us-west4": "Las Vegas",
    "us": "United States (multi-region)",
    "eu": "European Union (multi-region)",
    "asia": "Asia (multi-region)",
    "nam4": "Iowa and South Carolina (dual-region)",
    "eur4": "Netherlands and Finland (dual-region)",
    "asia1": "Tokyo and Osaka (dual-region)",
}
#: Locations that are not regions.
NOT_REGIONS = frozenset({"global", ""})


def region_name(region_id: str) -> str:
    """Display name of a region id (the id itself when the table does not know it)."""
    return GCP_REGIONS.get(region_id.lower(), region_id)


# --- units -------------------------------------------------------------------------------

_DATA = {
    "bit": "b",
    "bits": "b",
    "byte": "B",
    "bytes": "B",
    "kilobyte": "KB",
    "kilobytes": "KB",
    "megabyte": "MB",
    "megabytes": "MB",
    "gigabyte": "GB",
    "gigabytes": "GB",
    "terabyte": "TB",
    "terabytes": "TB",
    "petabyte": "PB",
    "petabytes": "PB",
    "kibibyte": "KiB",
    "kibibytes": "KiB",
    "mebibyte": "MiB",
    "mebibytes": "MiB",
    "gibibyte": "GiB",
    "gibibytes": "GiB",
    "tebibyte": "TiB",
    "tebibytes": "TiB",
    "pebibyte": "PiB",
    "pebibytes": "PiB",
}
_TIME = {
    "second": "Seconds",
    "seconds": "Seconds",
    "minute": "Minutes",
    "minutes": "Minutes",
    "hour": "Hours",
    "hours": "Hours",
    "day": "Days",
    "days": "Days",
    "month": "Months",
    "months": "Months",
    "year": "Years",
    "years": "Years",
}
_COUNTS = {
    "count": "Count",
    "counts": "Count",
    "request": "Requests",
    "requests": "Requests",
    "call": "Calls",
    "calls": "Calls",
    "character": "Characters",
    "characters": "Characters",
    "token": "Tokens",
    "tokens": "Tokens",
    "image": "Images",
    "images": "Images",
    "page": "Pages",
    "pages": "Pages",
    "unit": "Units",
    "units": "Units",
    "node": "Nodes",
    "nodes": "Nodes",
    "instance": "Instances",
    "instances": "Instances",
    "core": "Cores",
    "cores": "Cores",
}


@lru_cache(maxsize=1024)
def focus_unit(unit: str | None) -> str | None:
    """A Google unit description in FOCUS unit format ("gibibyte month" -> "GiB-Months",
    "byte-seconds" -> "B-Seconds", "hour" -> "Hours", "requests" -> "Requests"). A unit
    this does not know keeps Google's text (FOCUS unit format is a recommendation)."""
    if unit is None:
        return None
    text = unit.strip()
    folded = text.lower()
    for table in (_TIME, _DATA, _COUNTS):
        if folded in table:
            return table[folded]
    parts = folded.replace("-", " ").split()
    if len(parts) == 2:
        first, second = parts
        if second in _TIME:
            base = _DATA.get(first) or _COUNTS.get(first)
            if base is not None:
                return f"{base}-{_TIME[second]}"
    return text or None


MAPPINGS: tuple[()] = ()  # a data module: no stream of its own
