"""Checks on AWS resources: ECR scanning and immutability, EKS encryption, logs and endpoint, IMDSv2,
log group encryption."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

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
