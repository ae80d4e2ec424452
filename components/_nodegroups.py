"""Managed node groups of the EKS cluster: their settings model and their launch templates."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, ValidationInfo, field_validator

from components._model import Model

__all__ = ["NodeGroupArgs", "Taint", "node_groups", "node_role", "service_trust"]

_EKS_TAINT_EFFECTS = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


class Taint(Model):
    """A Kubernetes taint every node of the group carries."""

    key: str = Field(min_length=1, max_length=63, description="Taint key. Required.")
    value: str | None = Field(default=None, max_length=63, description="Taint value. Default: none.")
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = Field(
        default="NoSchedule",
        description="Kubernetes taint effect. Default: `NoSchedule` (only tolerating pods land here).",
    )


class NodeGroupArgs(Model):
    """One managed node group: instance types, capacity type, sizes, labels, taints and disk."""

    instance_types: list[str] = Field(
        default_factory=lambda: ["m6i.large"],
        min_length=1,
        description=(
            "EC2 instance types. Default: [m6i.large]. With SPOT give two or more of the same size "
            "so a reclaimed pool can be replaced from another."
        ),
    )
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(
        default="ON_DEMAND",
        description="Default: `ON_DEMAND`. `SPOT` costs ~60-70% less but nodes can be reclaimed.",
    )
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"] = Field(
        default="AL2023_x86_64_STANDARD",
        description="EKS-optimised AMI family. Default: Amazon Linux 2023 x86_64 (ARM for Graviton).",
    )
    # Sized for the system pods alone (the platform's apps run on Karpenter's nodes): Karpenter's
    # two controllers (500m/1Gi each, required on distinct nodes off Karpenter's own nodes by the
    # chart's anti-affinity), coredns (2 x 100m/70Mi), the load balancer controller (2 x 100m/128Mi),
    # external-dns and metrics-server: about 1.6 vCPU and 3 GiB, half of two m6i.large after the
    # DaemonSets. The monitoring pods (about 2.3 vCPU and 7 GiB in production) fill the rest and
    # overflow to Karpenter's nodes, which the controller can launch before they exist.
    min_size: int = Field(
        default=2,
        ge=0,
        le=1000,
        description=(
            "Fewest nodes. Default: 2 (spread over the AZs of the private subnets): room for the "
            "system pods, one Karpenter controller a node."
        ),
    )
    max_size: int = Field(
        default=3,
        ge=1,
        le=1000,
        description=(
            "Most nodes. Default: 3 (one spare). Nothing scales the group on its own (Karpenter "
            "launches nodes of its own); EKS raises the limit itself while replacing nodes in an update."
        ),
    )
    desired_size: int | None = Field(
        default=None,
        ge=0,
        le=1000,
        description=(
            "Nodes at creation. Default: `minSize`. Later changes are ignored so an autoscaler is "
            "not fought as drift."
        ),
    )
    disk_size_gib: int = Field(
        default=50,
        ge=20,
        le=16384,
        description="Encrypted gp3 root volume size in GiB. Default: 50 (room for image layers).",
    )
    labels: dict[str, str] = Field(default={}, description="Kubernetes labels on every node. Default: none.")
    taints: list[Taint] = Field(default=[], description="Kubernetes taints on every node. Default: none.")

    @field_validator("instance_types")
    @classmethod
    def _types_look_like_ec2(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if "." not in t or not t.replace(".", "").replace("-", "").isalnum()]
        if bad:
            raise ValueError(f"must be EC2 instance types such as m6i.large (bad: {bad})")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an instance type")
        return value

    @field_validator("max_size")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_size")
        if low is not None and value < low:
            raise ValueError(f"must be >= minSize ({low})")
        return value

    @field_validator("desired_size")
    @classmethod
    def _desired_within_bounds(cls, value: int | None, info: ValidationInfo) -> int | None:
        low, high = info.data.get("min_size"), info.data.get("max_size")
        if value is not None and low is not None and high is not None and not low <= value <= high:
            raise ValueError(f"must be between minSize ({low}) and maxSize ({high})")
        return value


#: The service principal of EKS Pod Identity, which assumes a role for a pod's ServiceAccount.
POD_IDENTITY_SERVICE = "pods.eks.amazonaws.com"


def service_trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    # EKS and EKS Pod Identity tag the sessions they start (EKS user guide, "Cluster
                    # IAM role" and "Create IAM role with trust policy required by EKS Pod Identity").
                    "Action": ["sts:AssumeRole", "sts:TagSession"]
                    if service in ("eks.amazonaws.com", POD_IDENTITY_SERVICE)
                    else "sts:AssumeRole",
                }
            ],
        }
    )


#: What nodes need from IAM. The CNI policy is not here: the vpc-cni add-on gets it through its
#: own IRSA role, so pods can never borrow the node's rights to rewrite network interfaces.
NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    # Pull-only (no ListImages/DescribeRepositories): the narrowest ECR policy that runs pods.
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
)


def node_role(
    name: str, tags: Mapping[str, str], parent: pulumi.Resource
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """The IAM role the nodes' instance profile uses, with the AWS managed policies EKS requires."""
    opts = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-node-role",
        aws.iam.RoleArgs(
            description="EKS managed node group instances",
            assume_role_policy=service_trust("ec2.amazonaws.com"),
            tags=dict(tags),
        ),
        opts=opts,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{arn.rsplit('/', 1)[1]}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=arn),
            opts=opts,
        )
        for arn in NODE_POLICIES
    ]
    return role, attachments


def node_groups(
    name: str,
    groups: Mapping[str, NodeGroupArgs],
    *,
    cluster_name: pulumi.Input[str],
    role: aws.iam.Role,
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    tags: Mapping[str, str],
    depends_on: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> dict[str, aws.eks.NodeGroup]:
    """One launch template and one managed node group per entry of `groups`."""
    out: dict[str, aws.eks.NodeGroup] = {}
    for group, ng in groups.items():
        gtags = {**tags, "node-group": group}
        template = aws.ec2.LaunchTemplate(
            f"{name}-{group}-lt",
            aws.ec2.LaunchTemplateArgs(
                description=f"EKS node group {group}: IMDSv2 only, encrypted gp3 root volume",
                # Hop limit 1: pods (one network hop further) cannot reach the instance metadata
                # service and so cannot take the node's role; AWS-calling pods use IRSA.
                metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=1,
                    instance_metadata_tags="disabled",
                ),
                block_device_mappings=[
                    aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                        device_name="/dev/xvda",  # the AL2023 root device
                        ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                            volume_size=ng.disk_size_gib,
                            volume_type="gp3",
                            encrypted="true",
                            delete_on_termination="true",
                        ),
                    )
                ],
                # Node groups only take tags onto the group itself: instances and volumes get
                # theirs from the template (cost allocation by project/stack).
                tag_specifications=[
                    aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=gtags)
                    for kind in ("instance", "volume")
                ],
                update_default_version=True,
                tags=gtags,
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        out[group] = aws.eks.NodeGroup(
            f"{name}-{group}",
            aws.eks.NodeGroupArgs(
                cluster_name=cluster_name,
                node_role_arn=role.arn,
                subnet_ids=subnet_ids,
                instance_types=ng.instance_types,
                capacity_type=ng.capacity_type,
                ami_type=ng.ami_type,
                scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                    min_size=ng.min_size,
                    max_size=ng.max_size,
                    desired_size=ng.desired_size if ng.desired_size is not None else ng.min_size,
                ),
                # disk_size is not set: EKS rejects it together with a launch template.
                launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                    id=template.id, version=template.latest_version.apply(str)
                ),
                labels=ng.labels or None,
                taints=[
                    aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value, effect=_EKS_TAINT_EFFECTS[t.effect])
                    for t in ng.taints
                ]
                or None,
                update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable_percentage=33),
                tags=gtags,
            ),
            opts=pulumi.ResourceOptions(
                parent=parent,
                depends_on=list(depends_on),
                # The wire path of scaling_config.desired_size: an autoscaler owns it after creation.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
    return out
