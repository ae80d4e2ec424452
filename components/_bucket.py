"""The settings every private S3 bucket of the project gets: SSE-KMS with a bucket key, public
access blocked, ACLs off (owner enforced) and a policy refusing requests not made over TLS."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

__all__ = ["private_bucket_settings", "tls_only_policy"]


def tls_only_policy(bucket_arn: str) -> str:
    """Bucket policy: refuse every request not made over TLS (S3 user guide, aws:SecureTransport)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        sort_keys=True,
    )


def private_bucket_settings(
    prefix: str, bucket: aws.s3.Bucket, *, key_arn: pulumi.Input[str], parent: pulumi.Resource
) -> None:
    """Declare `<prefix>-encryption`, `-public-access`, `-ownership` and `-policy` for `bucket`,
    children of `parent` (the names are the URNs callers already have: keep them)."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{prefix}-encryption",
        aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=key_arn
                    ),
                    # One data key per bucket instead of per object: far fewer KMS calls.
                    bucket_key_enabled=True,
                )
            ],
        ),
        opts=child,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{prefix}-public-access",
        aws.s3.BucketPublicAccessBlockArgs(
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        ),
        opts=child,
    )
    aws.s3.BucketOwnershipControls(
        f"{prefix}-ownership",
        aws.s3.BucketOwnershipControlsArgs(
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        ),
        opts=child,
    )
    aws.s3.BucketPolicy(
        f"{prefix}-policy",
        aws.s3.BucketPolicyArgs(bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy)),
        opts=child,
    )
