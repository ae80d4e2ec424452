"""Checks on AWS resources: ECR scanning and immutability, EKS encryption, logs and endpoint, IMDSv2,
log group encryption."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policies._props import get, is_set, items, mapping

ECR_REPOSITORY = "aws:ecr/repository:Repository"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"


def check_ecr_scan_on_push(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The repository scans every pushed image."""
    value = get(props, "imageScanningConfiguration", "scanOnPush")
    if value is True:
        return []
    return [f"imageScanningConfiguration.scanOnPush is {value!r}; allowed: true"]


#: Tags an IMMUTABLE_WITH_EXCLUSION repository may leave mutable by default: the BuildKit
#: registry cache (components/image.py `CACHE_TAG`), which every build overwrites.
DEFAULT_MUTABLE_TAGS = ("cache",)


def check_ecr_immutable_tags(
    resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    """Tags are immutable, except the configured cache tags under IMMUTABLE_WITH_EXCLUSION."""
    # ECR's default when the field is unset is MUTABLE.
    mutability = props.get("imageTagMutability") or "MUTABLE"
    if mutability == "IMMUTABLE":
        return []
    allowed = list(config.get("allowedMutableTags", DEFAULT_MUTABLE_TAGS))
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        filters = [get(f, "filter") for f in items(props.get("imageTagMutabilityExclusionFilters"))]
        extra = [f for f in filters if f not in allowed]
        if not extra:
            return []
        return [
            f"imageTagMutabilityExclusionFilters {extra!r} leave tags mutable; allowed: only "
            f"{allowed!r} (policy config allowedMutableTags)"
        ]
    return [
        f"imageTagMutability is {mutability!r}; allowed: 'IMMUTABLE', or 'IMMUTABLE_WITH_EXCLUSION' "
        f"excluding only {allowed!r}"
    ]


def check_eks_secrets_encryption(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Kubernetes Secrets are envelope-encrypted with a KMS key."""
    if props.get("encryptionConfig") is None:
        return ["encryptionConfig is None; allowed: resources ['secrets'] with provider.keyArn a KMS key ARN"]
    resources = items(get(props, "encryptionConfig", "resources"))
    provider = get(props, "encryptionConfig", "provider")
    problems = []
    if "secrets" not in resources:
        problems.append(f"encryptionConfig.resources is {resources!r}; allowed: a list containing 'secrets'")
    if not is_set(provider, "keyArn"):
        key = get(provider, "keyArn")
        problems.append(f"encryptionConfig.provider.keyArn is {key!r}; allowed: a KMS key ARN")
    return problems


def check_eks_audit_logs(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The control plane sends audit logs to CloudWatch."""
    types = items(props.get("enabledClusterLogTypes"))
    if "audit" in types:
        return []
    return [f"enabledClusterLogTypes is {types!r}; allowed: a list containing 'audit'"]


def check_log_group_kms(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The log group is encrypted with a customer-managed KMS key (audit and flow logs included)."""
    if is_set(props, "kmsKeyId"):
        return []
    return [
        f"kmsKeyId is {props.get('kmsKeyId')!r}; allowed: the ARN of a KMS key whose policy lets "
        "CloudWatch Logs use it for this log group"
    ]


def _world_open(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        # Not a CIDR: AWS would reject it; not this policy's concern.
        return False


def check_eks_endpoint_not_world_open(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """A public API endpoint is limited to listed CIDRs, none of them the whole internet."""
    vpc = mapping(props.get("vpcConfig"))
    # EKS turns the public endpoint on when the field is unset, and opens it to 0.0.0.0/0 when
    # no CIDRs are given.
    public = vpc.get("endpointPublicAccess", True)
    if public is False:
        return []
    cidrs = items(vpc.get("publicAccessCidrs"))
    if not cidrs:
        return [
            f"vpcConfig.endpointPublicAccess is {public!r} with no publicAccessCidrs (EKS then "
            "allows 0.0.0.0/0); allowed: endpointPublicAccess false, or a list of your CIDRs"
        ]
    world = [c for c in cidrs if _world_open(c)]
    if world:
        return [
            f"vpcConfig.publicAccessCidrs contains {world!r}; allowed: specific CIDRs "
            "(office, VPN, CI egress), or endpointPublicAccess false"
        ]
    return []


def check_launch_template_imdsv2(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Instances launched from the template require IMDSv2 session tokens."""
    tokens = get(props, "metadataOptions", "httpTokens")
    if tokens == "required":
        return []
    return [
        f"metadataOptions.httpTokens is {tokens!r}; allowed: 'required' (IMDSv2 only: an SSRF "
        "cannot read the node role's credentials)"
    ]


def check_node_group_launch_template(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """A managed node group uses a launch template, the only place its IMDS options are set."""
    template = mapping(props.get("launchTemplate"))
    if is_set(template, "id") or is_set(template, "name"):
        return []
    return [
        f"launchTemplate is {dict(template) or None!r}; allowed: {{id or name, version}} of a "
        "launch template with metadataOptions.httpTokens 'required'"
    ]


RDS_INSTANCE = "aws:rds/instance:Instance"
BACKUP_SELECTION = "aws:backup/selection:Selection"


def check_rds_encrypted(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The instance's storage is encrypted with a customer-managed key (it cannot be added later)."""
    problems = []
    if get(props, "storageEncrypted") is not True:
        problems.append(f"storageEncrypted is {get(props, 'storageEncrypted')!r}; allowed: true")
    if not is_set(props, "kmsKeyId"):
        problems.append(
            f"kmsKeyId is {props.get('kmsKeyId')!r}; allowed: the ARN of a customer-managed KMS key "
            "(without one RDS uses the AWS-managed key, whose policy this account cannot change)"
        )
    return problems


def check_rds_not_public(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The instance has no public address."""
    if get(props, "publiclyAccessible") is True:
        return ["publiclyAccessible is True; allowed: false (reach it from the VPC only)"]
    return []


def check_rds_backed_up(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Automated backups are on (retention of at least one day; 0 turns them off)."""
    retention = get(props, "backupRetentionPeriod")
    if isinstance(retention, int | float) and retention >= 1:
        return []
    return [f"backupRetentionPeriod is {retention!r}; allowed: 1 to 35 days (0 or unset turns backups off)"]


def check_rds_in_backup_plan(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every RDS instance of the stack is selected by an AWS Backup plan the stack declares.

    The selection names the instance by ARN (`arn:...:db:<identifier>`), unknown in the preview
    that creates both: then the two are matched by the selection's `resources` depending on the
    instance."""
    selections = [r for r in args.resources if r.resource_type == BACKUP_SELECTION]
    for r in args.resources:
        if r.resource_type != RDS_INSTANCE:
            continue
        selected = any(
            any(dep.urn == r.urn for dep in s.property_dependencies.get("resources") or [])
            or _names_arn(s.props, r.props)
            for s in selections
        )
        if not selected:
            report_violation(
                f"RDS instance {r.name!r} is in no AWS Backup selection of this stack; allowed: an "
                "aws.backup.Selection whose resources name the instance (components/database does)",
                r.urn,
            )


def _names_arn(selection: Any, instance: Any) -> bool:
    """Whether the selection's resources name the instance's ARN (`...:db:<identifier>`)."""
    try:
        identifier = get(instance, "identifier")
        arns = [str(a) for a in items(get(selection, "resources"))]
    except (UnknownValueError, KeyError):
        return False
    return bool(identifier) and any(a.endswith(f":db:{identifier}") for a in arns)
