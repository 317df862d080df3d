"""AWS service codes -> FOCUS ServiceName, ServiceCategory and ServiceSubcategory.

The FinOps toolkit's Services.csv (the table finfocus takes service categories from) lists
Microsoft services only. This table applies the same vocabulary and the same choices to
AWS: each AWS service gets the category and subcategory the toolkit gives its Azure
counterpart (EC2 like Virtual Machines, S3 like Storage Accounts' blob storage, Route 53
like Azure DNS, Step Functions like Logic Apps, ...), with the FOCUS 1.2/1.3 allowed values
(`tests/test_aws_mapping.py` checks every pair against focus-spec). Keyed by the CUR's
`line_item_product_code` (AWS's FOCUS export calls it x_ServiceCode); a code that is not
here keeps the product name the CUR gives and is "Other" / "Other (Other)".

Shipped as code so the mapper never reads ../shared at run time.
"""

from __future__ import annotations

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
MO = "Mobile"
NW = "Networking"
SE = "Security"
ST = "Storage"
WE = "Web"

# product code: (ServiceName, ServiceCategory, ServiceSubcategory)
AWS_SERVICES: dict[str, tuple[str, str, str]] = {
    "AmazonEC2": ("Amazon Elastic Compute Cloud", CO, "Virtual Machines"),
    "AmazonLightsail": ("Amazon Lightsail", CO, "Virtual Machines"),
    "AWSLambda": ("AWS Lambda", CO, "Serverless Compute"),
    "AWSBatch": ("AWS Batch", CO, "Serverless Compute"),
    "AmazonECS": ("Amazon Elastic Container Service", CO, "Containers"),
    "AmazonEKS": ("Amazon Elastic Kubernetes Service", CO, "Containers"),
    "AmazonECR": ("Amazon Elastic Container Registry", CO, "Containers"),
    "AWSAppRunner": ("AWS App Runner", CO, "Containers"),
    "AmazonWorkSpaces": ("Amazon WorkSpaces", CO, "End User Computing"),
    "AmazonAppStream": ("Amazon AppStream 2.0", CO, "End User Computing"),
    "AmazonBraket": ("Amazon Braket", CO, "Quantum Compute"),
    "AWSOutposts": ("AWS Outposts", CO, "Other (Compute)"),
    "AmazonS3": ("Amazon Simple Storage Service", ST, "Object Storage"),
    "AmazonS3GlacierDeepArchive": ("Amazon S3 Glacier Deep Archive", ST, "Object Storage"),
    "AmazonGlacier": ("Amazon Glacier", ST, "Object Storage"),
    "AmazonEFS": ("Amazon Elastic File System", ST, "File Storage"),
    "AmazonFSx": ("Amazon FSx", ST, "File Storage"),
    "AWSBackup": ("AWS Backup", ST, "Backup Storage"),
    "AWSStorageGateway": ("AWS Storage Gateway", ST, "Storage Platforms"),
    "AmazonRDS": ("Amazon Relational Database Service", DB, "Relational Databases"),
    "AmazonAurora": ("Amazon Aurora", DB, "Relational Databases"),
    "AmazonDynamoDB": ("Amazon DynamoDB", DB, "NoSQL Databases"),
    "AmazonDocDB": ("Amazon DocumentDB", DB, "NoSQL Databases"),
    "AmazonKeyspaces": ("Amazon Keyspaces", DB, "NoSQL Databases"),
    "AmazonNeptune": ("Amazon Neptune", DB, "NoSQL Databases"),
    "AmazonElastiCache": ("Amazon ElastiCache", DB, "Caching"),
    "AmazonMemoryDB": ("Amazon MemoryDB", DB, "Caching"),
    "AmazonRedshift": ("Amazon Redshift", DB, "Data Warehouses"),
    "AmazonTimestream": ("Amazon Timestream", DB, "Time Series Databases"),
    "AmazonQLDB": ("Amazon Quantum Ledger Database", DB, "Ledger Databases"),
    "AmazonVPC": ("Amazon Virtual Private Cloud", NW, "Network Infrastructure"),
    "AWSDataTransfer": ("AWS Data Transfer", NW, "Network Connectivity"),
    "AmazonCloudFront": ("Amazon CloudFront", NW, "Content Delivery"),
    "AmazonRoute53": ("Amazon Route 53", NW, "Network Routing"),
    "AWSDirectConnect": ("AWS Direct Connect", NW, "Network Routing"),
    "AWSGlobalAccelerator": ("AWS Global Accelerator", NW, "Application Networking"),
    "AWSELB": ("Elastic Load Balancing", NW, "Application Networking"),
    "AmazonApiGateway": ("Amazon API Gateway", IN, "API Management"),
    "AWSAppSync": ("AWS AppSync", IN, "API Management"),
    "AWSNetworkFirewall": ("AWS Network Firewall", NW, "Network Security"),
    "AWSShield": ("AWS Shield", NW, "Network Security"),
    "awswaf": ("AWS WAF", NW, "Network Security"),
    "AWSWAF": ("AWS WAF", NW, "Network Security"),
    "AWSTransitGateway": ("AWS Transit Gateway", NW, "Network Routing"),
    "AmazonSNS": ("Amazon Simple Notification Service", IN, "Messaging"),
    "AWSQueueService": ("Amazon Simple Queue Service", IN, "Messaging"),
    "AmazonSQS": ("Amazon Simple Queue Service", IN, "Messaging"),
    "AmazonMQ": ("Amazon MQ", IN, "Messaging"),
    "AWSEvents": ("Amazon EventBridge", IN, "Messaging"),
    "AmazonMSK": ("Amazon Managed Streaming for Apache Kafka", AN, "Streaming Analytics"),
    "AmazonKinesis": ("Amazon Kinesis", AN, "Streaming Analytics"),
    "AmazonKinesisFirehose": ("Amazon Data Firehose", AN, "Streaming Analytics"),
    "AmazonKinesisAnalytics": (
        "Amazon Managed Service for Apache Flink",
        AN,
        "Streaming Analytics",
    ),
    "AmazonStates": ("AWS Step Functions", IN, "Workflow Orchestration"),
    "AmazonMWAA": ("Amazon Managed Workflows for Apache Airflow", IN, "Workflow Orchestration"),
    "AWSGlue": ("AWS Glue", AN, "Data Processing"),
    "AmazonAthena": ("Amazon Athena", AN, "Analytics Platforms"),
    "ElasticMapReduce": ("Amazon EMR", AN, "Data Processing"),
    "AmazonES": ("Amazon OpenSearch Service", AN, "Search"),
    "AmazonCloudSearch": ("Amazon CloudSearch", AN, "Search"),
    "AmazonQuickSight": ("Amazon QuickSight", AN, "Business Intelligence"),
    "AWSDataExchange": ("AWS Data Exchange", AN, "Other (Analytics)"),
    "AmazonSageMaker": ("Amazon SageMaker", AI, "Machine Learning"),
    "AmazonBedrock": ("Amazon Bedrock", AI, "Generative AI"),
    "AmazonQ": ("Amazon Q", AI, "Generative AI"),
    "AmazonRekognition": ("Amazon Rekognition", AI, "AI Platforms"),
    "AmazonTextract": ("Amazon Textract", AI, "AI Platforms"),
    "comprehend": ("Amazon Comprehend", AI, "Natural Language Processing"),
    "AmazonComprehend": ("Amazon Comprehend", AI, "Natural Language Processing"),
    "translate": ("Amazon Translate", AI, "Natural Language Processing"),
    "transcribe": ("Amazon Transcribe", AI, "Natural Language Processing"),
    "AmazonPolly": ("Amazon Polly", AI, "Natural Language Processing"),
    "AmazonLex": ("Amazon Lex", AI, "Bots"),
    "AmazonKendra": ("Amazon Kendra", AN, "Search"),
    "AmazonPersonalize": ("Amazon Personalize", AI, "Machine Learning"),
    "AmazonForecast": ("Amazon Forecast", AI, "Machine Learning"),
    "AmazonCloudWatch": ("Amazon CloudWatch", MG, "Observability"),
    "AWSXRay": ("AWS X-Ray", MG, "Observability"),
    "AWSCloudTrail": ("AWS CloudTrail", MG, "Observability"),
    "AWSConfig": ("AWS Config", MG, "Compliance"),
    "AWSSystemsManager": ("AWS Systems Manager", MG, "Endpoint Management"),
    "AWSCloudFormation": ("AWS CloudFormation", MG, "Other (Management and Governance)"),
    "AWSServiceCatalog": ("AWS Service Catalog", MG, "Other (Management and Governance)"),
    "AWSCostExplorer": ("AWS Cost Explorer", MG, "Cost Management"),
    "AWSBudgets": ("AWS Budgets", MG, "Cost Management"),
    "AWSSupportBusiness": ("AWS Support (Business)", MG, "Support"),
    "AWSSupportEnterprise": ("AWS Support (Enterprise)", MG, "Support"),
    "AWSDeveloperSupport": ("AWS Support (Developer)", MG, "Support"),
    "AWSSupportEnterpriseOnRamp": ("AWS Support (Enterprise On-Ramp)", MG, "Support"),
    "OCBPremiumSupport": ("AWS Premium Support", MG, "Support"),
    "AWSElasticDisasterRecovery": ("AWS Elastic Disaster Recovery", MG, "Disaster Recovery"),
    "AWSTrustedAdvisor": ("AWS Trusted Advisor", MG, "Architecture"),
    "AWSKMS": ("AWS Key Management Service", SE, "Secret Management"),
    "awskms": ("AWS Key Management Service", SE, "Secret Management"),
    "AWSSecretsManager": ("AWS Secrets Manager", SE, "Secret Management"),
    "AWSCertificateManager": ("AWS Certificate Manager", SE, "Secret Management"),
    "AWSCloudHSM": ("AWS CloudHSM", SE, "Secret Management"),
    "AmazonGuardDuty": ("Amazon GuardDuty", SE, "Threat Detection and Response"),
    "AmazonDetective": ("Amazon Detective", SE, "Threat Detection and Response"),
    "AmazonInspector": ("Amazon Inspector", SE, "Security Posture Management"),
    "AWSSecurityHub": ("AWS Security Hub", SE, "Security Posture Management"),
    "AmazonMacie": ("Amazon Macie", SE, "Security Posture Management"),
    "AWSDirectoryService": ("AWS Directory Service", ID, "Identity and Access Management"),
    "AmazonCognito": ("Amazon Cognito", ID, "Identity and Access Management"),
    "AWSIAMIdentityCenter": ("AWS IAM Identity Center", ID, "Identity and Access Management"),
    "AWSCodeBuild": ("AWS CodeBuild", DT, "Continuous Integration and Deployment"),
    "AWSCodePipeline": ("AWS CodePipeline", DT, "Continuous Integration and Deployment"),
    "AWSCodeDeploy": ("AWS CodeDeploy", DT, "Continuous Integration and Deployment"),
    "AWSCodeCommit": ("AWS CodeCommit", DT, "Source Code Management"),
    "AWSCodeArtifact": ("AWS CodeArtifact", DT, "Developer Platforms"),
    "AWSCloud9": ("AWS Cloud9", DT, "Development Environments"),
    "AWSDeviceFarm": ("AWS Device Farm", DT, "Quality Assurance"),
    "AWSAmplify": ("AWS Amplify", WE, "Application Platforms"),
    "AWSElasticBeanstalk": ("AWS Elastic Beanstalk", WE, "Application Platforms"),
    "AWSIoT": ("AWS IoT Core", IOT, "IoT Platforms"),
    "AWSIoTAnalytics": ("AWS IoT Analytics", IOT, "IoT Analytics"),
    "AWSGreengrass": ("AWS IoT Greengrass", IOT, "IoT Platforms"),
    "AWSDatabaseMigrationSvc": ("AWS Database Migration Service", MI, "Data Migration"),
    "AWSDataSync": ("AWS DataSync", MI, "Data Migration"),
    "AWSTransfer": ("AWS Transfer Family", MI, "Data Migration"),
    "AWSSnowball": ("AWS Snowball", MI, "Data Migration"),
    "AWSApplicationMigrationSvc": ("AWS Application Migration Service", MI, "Resource Migration"),
    "AmazonSES": ("Amazon Simple Email Service", BA, "Productivity and Collaboration"),
    "AmazonConnect": ("Amazon Connect", BA, "Other (Business Applications)"),
    "AmazonChime": ("Amazon Chime", BA, "Productivity and Collaboration"),
    "AmazonWorkMail": ("Amazon WorkMail", BA, "Productivity and Collaboration"),
    "AmazonWorkDocs": ("Amazon WorkDocs", BA, "Productivity and Collaboration"),
    "AmazonPinpoint": ("Amazon Pinpoint", MO, "Other (Mobile)"),
    "AWSElementalMediaConvert": ("AWS Elemental MediaConvert", ME, "Media Streaming"),
    "AWSElementalMediaLive": ("AWS Elemental MediaLive", ME, "Media Streaming"),
    "AmazonIVS": ("Amazon Interactive Video Service", ME, "Media Streaming"),
    "AmazonGameLift": ("Amazon GameLift", ME, "Gaming"),
    "AmazonRegistrar": ("Amazon Registrar", NW, "Network Routing"),
}

#: An AWS service that is not in the table.
OTHER: tuple[str, str] = ("Other", "Other (Other)")


def service_for(product_code: str | None, product_name: str | None) -> tuple[str, str, str]:
    """(ServiceName, ServiceCategory, ServiceSubcategory) of a CUR line item."""
    known = AWS_SERVICES.get(product_code or "")
    if known is not None:
        return known
    return (product_name or product_code or "AWS", *OTHER)


MAPPINGS: tuple[()] = ()  # a data module: no stream of its own
