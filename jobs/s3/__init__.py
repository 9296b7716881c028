"""Running on S3: the DynamoDB commit LogStore build, Spark's s3a settings and incremental listing."""
