"""The Pulumi state backend of an account: a hardened, versioned S3 bucket and the KMS key that
encrypts it and every stack's secrets (`awskms://` secrets provider)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components._bucket import private_bucket_settings
from components._log_key import rotating_key
from components._model import Model
from components.bootstrap._policies import state_key_policy

__all__ = ["StateBackend", "StateBackendArgs"]

# S3 bucket naming rules (S3 user guide, "General purpose bucket naming rules"); the provider
# takes a `bucket_prefix` of at most 37 characters and appends its own unique suffix
# (pulumi_aws 7.51.1, s3/bucket.py, `bucket_prefix`).
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9-]{0,36}$")
_ALIAS = re.compile(r"^[A-Za-z0-9/_-]{1,250}$")


class StateBackendArgs(Model):
    """The `state` section of the bootstrap stack file."""

    bucket_prefix: str = Field(
        default="lmagent-infra-state-",
        description=(
            "Prefix of the state bucket's name; Pulumi appends a random suffix, so the name is "
            "unique worldwide. Default: `lmagent-infra-state-`. Changing it replaces the bucket: "
            "never change it once state lives there."
        ),
    )
    key_alias: str = Field(
        default="lmagent-infra-state",
        description=(
            "Alias of the KMS key (without `alias/`); the secrets provider is "
            "`awskms://alias/<keyAlias>`. Default: `lmagent-infra-state`."
        ),
    )
    noncurrent_version_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description=(
            "Days an overwritten or deleted state object's old version is kept before S3 "
            "expires it. Default: 90 (three months to roll back a bad update)."
        ),
    )

    @field_validator("bucket_prefix")
    @classmethod
    def _bucket_prefix_is_valid(cls, value: str) -> str:
        if not _BUCKET_PREFIX.match(value):
            raise ValueError(
                "must be 1-37 lowercase letters, digits and hyphens, starting with a letter or digit "
                "(S3 bucket naming rules; the provider appends a unique suffix)"
            )
        return value

    @field_validator("key_alias")
    @classmethod
    def _alias_is_valid(cls, value: str) -> str:
        if value.startswith(("alias/", "aws/")) or not _ALIAS.match(value):
            raise ValueError(
                "must be 1-250 letters, digits, '/', '_' or '-', without the `alias/` prefix and not "
                "starting with `aws/` (reserved for AWS managed keys)"
            )
        return value


class StateBackend(pulumi.ComponentResource):
    """The state bucket (versioned, SSE-KMS, TLS-only, private, owner-enforced) and its KMS key.

    Both are always protected and retained on delete: losing them loses every stack's state and
    secrets, so no `protect` switch is offered.
    """

    bucket: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    key_alias: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: StateBackendArgs,
        *,
        account: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("lmagent:components:StateBackend", name, None, opts)
        tags = {**(tags or {}), "component": "state-backend"}
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        child = pulumi.ResourceOptions(parent=self)

        key = rotating_key(
            f"{name}-key",
            description="Pulumi state bucket encryption and stack secrets (awskms secrets provider)",
            policy=pulumi.Output.from_input(account).apply(
                lambda acct: json.dumps(state_key_policy(account=acct), sort_keys=True)
            ),
            tags=tags,
            opts=keep,
        )
        alias = aws.kms.Alias(
            f"{name}-key-alias",
            aws.kms.AliasArgs(name=f"alias/{args.key_alias}", target_key_id=key.key_id),
            opts=child,
        )
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            aws.s3.BucketArgs(bucket_prefix=args.bucket_prefix, force_destroy=False, tags=tags),
            opts=keep,
        )
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            ),
            opts=child,
        )
        private_bucket_settings(name, bucket, key_arn=key.arn, parent=self)
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-old-state-versions",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        # Current state is never expired; only versions an update replaced.
                        noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                            noncurrent_days=args.noncurrent_version_days
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=1
                        ),
                    )
                ],
            ),
            opts=child,
        )

        self.bucket = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.key_alias = alias.name
        self.register_outputs(
            {
                "bucket": self.bucket,
                "bucketArn": self.bucket_arn,
                "keyArn": self.key_arn,
                "keyAlias": self.key_alias,
            }
        )
