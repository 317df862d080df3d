"""tap-aws: AWS billing exports (CUR 2.0, legacy CUR, FOCUS) from S3, and Cost Explorer."""
