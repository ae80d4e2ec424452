"""Customer-managed KMS keys (`rotating_key`), and the one for each CloudWatch Logs log group.

CloudWatch Logs encrypts every log group at rest with a key AWS owns; a key of the account's own
adds what the security checklist asks of audit logs: key rotation, a key policy that names the one
log group allowed to use it, and CloudTrail records of every use. The policy follows the
CloudWatch Logs user guide ("Encrypt log data in CloudWatch Logs using AWS KMS"): the account
administers the key, and the regional Logs service may use it only for this log group's
encryption context, so no other log group (or service) can.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

__all__ = ["encrypted_log_group", "log_group_key", "log_key_policy", "rotating_key"]

#: What the Logs service needs of the key (the user guide's list, no more).
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


def log_key_policy(*, account: str, region: str, log_group_name: str) -> dict[str, Any]:
    """The key policy: account administers the key; Logs in `region` may use it for one log group."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministersTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptsThisLogGroup",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": LOGS_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:aws:logs:{region}:{account}:log-group:{log_group_name}"
                        )
                    }
                },
            },
        ],
    }


def log_group_key(
    name: str,
    *,
    account: pulumi.Input[str],
    region: pulumi.Input[str],
    log_group_name: pulumi.Input[str],
    purpose: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    protect: bool = True,
) -> aws.kms.Key:
    """A rotating KMS key that only the log group `log_group_name` of `account` in `region` can use
    (`purpose` describes it). The caller passes the account and region it already looked up.

    `protect` (default on): deleting the key makes every log it encrypted unreadable, so it is
    protected wherever its log group is."""
    policy = pulumi.Output.all(account, region, log_group_name).apply(
        lambda a: json.dumps(log_key_policy(account=a[0], region=a[1], log_group_name=a[2]))
    )
    return rotating_key(
        name,
        description=f"CloudWatch Logs encryption: {purpose}",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
        policy=policy,
    )


def rotating_key(
    name: str,
    *,
    description: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    policy: pulumi.Input[str] | None = None,
) -> aws.kms.Key:
    """A customer-managed KMS key as every key of the project is made: yearly rotation on, the
    longest deletion window (30 days) to undo a mistaken delete, and `policy` (default: the
    account's default key policy)."""
    return aws.kms.Key(
        name,
        aws.kms.KeyArgs(
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags=dict(tags),
        ),
        opts=opts,
    )


def encrypted_log_group(
    name: str,
    *,
    log_group_name: pulumi.Input[str],
    retention_days: int,
    account: pulumi.Input[str],
    region: pulumi.Input[str],
    purpose: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    protect: bool,
) -> aws.cloudwatch.LogGroup:
    """The log group `log_group_name` (resource `name`) with a retention and its own key
    (resource `<name>-key`, see `log_group_key`); both protected with `protect`. Declared before
    whatever writes to it, or the service creates the group itself, unencrypted and never expiring."""
    key = log_group_key(
        f"{name}-key",
        account=account,
        region=region,
        log_group_name=log_group_name,
        purpose=purpose,
        tags=tags,
        parent=parent,
        protect=protect,
    )
    return aws.cloudwatch.LogGroup(
        name,
        aws.cloudwatch.LogGroupArgs(
            name=log_group_name,
            retention_in_days=retention_days,
            kms_key_id=key.arn,
            tags=dict(tags),
        ),
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
