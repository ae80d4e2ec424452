"""The IAM policies of the Karpenter controller, as the pinned release documents them.

Source: aws/karpenter-provider-aws@v1.14.1,
website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml.
Together the statements are over the 6,144-character limit of one managed policy, so they are
split as that template splits them, by concern: node lifecycle (launch, tag, terminate), IAM
integration (pass the node role, manage instance profiles), EKS integration, the interruption
queue, zonal shift, and resource discovery. Each is a managed policy attached to the controller's
role; tests/test_karpenter.py checks each stays under the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["POLICY_NAMES", "Scope", "controller_policies"]


@dataclass(frozen=True)
class Scope:
    """What the policies are scoped to: one cluster in one region of one account."""

    partition: str
    region: str
    account: str
    cluster: str
    node_role_arn: str
    queue_arn: str


def _ec2(s: Scope, *kinds: str, account: str = "*") -> list[str]:
    return [f"arn:{s.partition}:ec2:{s.region}:{account}:{k}/*" for k in kinds]


def _node_lifecycle(s: Scope) -> list[dict[str, Any]]:
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{s.cluster}": "owned"}
    request_owned = {
        f"aws:RequestTag/kubernetes.io/cluster/{s.cluster}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": s.cluster,
    }
    launched = (
        "fleet",
        "instance",
        "volume",
        "network-interface",
        "launch-template",
        "spot-instances-request",
    )
    return [
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Resource": [
                *_ec2(s, "image", "snapshot", account=""),
                *_ec2(s, "security-group", "subnet", "capacity-reservation", "placement-group"),
            ],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Resource": _ec2(s, "launch-template")[0],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Resource": _ec2(s, *launched),
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Condition": {
                "StringEquals": request_owned,
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Resource": _ec2(s, *launched),
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": {
                    **request_owned,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Resource": _ec2(s, "instance")[0],
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": s.cluster},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Resource": _ec2(s, "instance", "launch-template"),
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            },
        },
    ]


def _iam_integration(s: Scope) -> list[dict[str, Any]]:
    profiles = f"arn:{s.partition}:iam::{s.account}:instance-profile/*"
    owned = {
        f"aws:ResourceTag/kubernetes.io/cluster/{s.cluster}": "owned",
        "aws:ResourceTag/topology.kubernetes.io/region": s.region,
    }
    request_owned = {
        f"aws:RequestTag/kubernetes.io/cluster/{s.cluster}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": s.cluster,
        "aws:RequestTag/topology.kubernetes.io/region": s.region,
    }
    return [
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Resource": s.node_role_arn,
            "Action": "iam:PassRole",
            "Condition": {
                "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:CreateInstanceProfile"],
            "Condition": {
                "StringEquals": request_owned,
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:TagInstanceProfile"],
            "Condition": {
                "StringEquals": {**owned, **request_owned},
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            "Condition": {
                "StringEquals": owned,
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
    ]


def _cluster_arn(s: Scope) -> str:
    return f"arn:{s.partition}:eks:{s.region}:{s.account}:cluster/{s.cluster}"


def _eks_integration(s: Scope) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AllowAPIServerEndpointDiscovery",
            "Effect": "Allow",
            "Resource": _cluster_arn(s),
            "Action": "eks:DescribeCluster",
        }
    ]


def _interruption(s: Scope) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Resource": s.queue_arn,
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        }
    ]


def _zonal_shift(s: Scope) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AllowZonalShiftStatusReadOnly",
            "Effect": "Allow",
            "Resource": "*",
            "Action": ["arc-zonal-shift:GetManagedResource"],
            "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": _cluster_arn(s)}},
        }
    ]


def _resource_discovery(s: Scope) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Condition": {"StringEquals": {"aws:RequestedRegion": s.region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Resource": f"arn:{s.partition}:ssm:{s.region}::parameter/aws/service/*",
            "Action": "ssm:GetParameter",
        },
        {
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": "pricing:GetProducts",
        },
        {
            "Sid": "AllowUnscopedInstanceProfileListAction",
            "Effect": "Allow",
            "Resource": "*",
            "Action": "iam:ListInstanceProfiles",
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Resource": f"arn:{s.partition}:iam::{s.account}:instance-profile/*",
            "Action": "iam:GetInstanceProfile",
        },
    ]


_POLICIES = {
    "node-lifecycle": _node_lifecycle,
    "iam-integration": _iam_integration,
    "eks-integration": _eks_integration,
    "interruption": _interruption,
    "zonal-shift": _zonal_shift,
    "resource-discovery": _resource_discovery,
}
#: The managed policies the controller's role gets, by the suffix of their resource name.
POLICY_NAMES = tuple(_POLICIES)


def controller_policies(scope: Scope) -> dict[str, dict[str, Any]]:
    """Each managed policy's document, by name."""
    return {name: {"Version": "2012-10-17", "Statement": make(scope)} for name, make in _POLICIES.items()}
