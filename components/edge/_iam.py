"""IAM policies of the edge's two controllers: the AWS Load Balancer Controller and external-dns.

The controller's permissions are those its pinned release publishes
(kubernetes-sigs/aws-load-balancer-controller v3.5.0, `docs/install/iam_policy.json`), narrowed:

- Every condition that only checks that the `elbv2.k8s.aws/cluster` tag exists on a load balancer,
  target group or security group instead requires it to equal this cluster's name, so the
  controller of one cluster cannot modify or delete another cluster's load balancers.
- Security-group ingress changes are limited to security groups in this cluster's VPC.
- Registering targets requires the target group to carry this cluster's tag.
- WAF Classic (`waf-regional:*`), Shield Advanced (`shield:*`) and Cognito are dropped: the chart
  values turn the WAF Classic and Shield add-ons off (`enableWaf`, `enableShield`) and no Ingress
  authenticates through Cognito. WAFv2 association stays: the web ACL is attached through the
  controller.

What AWS requires on `Resource: "*"` with a write action, and stays so: creating a security group,
load balancer or target group (no ARN exists before the call; the create is conditioned on the
request carrying the cluster's tag instead), creating/deleting listeners and rules and modifying
listeners (their ARNs embed the load balancer's generated ID), and associating the web ACL.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CLUSTER_TAG", "external_dns_policy", "load_balancer_controller_policy"]

#: The tag the controller puts on everything it creates, valued with the cluster's name.
CLUSTER_TAG = "elbv2.k8s.aws/cluster"

_ELB = "elasticloadbalancing"
_LB_AND_TG = [
    "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*",
    "arn:aws:elasticloadbalancing:*:*:loadbalancer/app/*/*",
]
_LISTENERS = [
    "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener/app/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/net/*/*/*",
    "arn:aws:elasticloadbalancing:*:*:listener-rule/app/*/*/*",
]

_DESCRIBE = [
    *(
        f"ec2:{a}"
        for a in (
            "DescribeAccountAttributes",
            "DescribeAddresses",
            "DescribeAvailabilityZones",
            "DescribeInternetGateways",
            "DescribeVpcs",
            "DescribeVpcPeeringConnections",
            "DescribeSubnets",
            "DescribeSecurityGroups",
            "DescribeInstances",
            "DescribeNetworkInterfaces",
            "DescribeTags",
            "GetCoipPoolUsage",
            "DescribeCoipPools",
            "GetSecurityGroupsForVpc",
            "DescribeIpamPools",
            "DescribeRouteTables",
        )
    ),
    *(
        f"{_ELB}:{a}"
        for a in (
            "DescribeLoadBalancers",
            "DescribeLoadBalancerAttributes",
            "DescribeListeners",
            "DescribeListenerCertificates",
            "DescribeSSLPolicies",
            "DescribeRules",
            "DescribeTargetGroups",
            "DescribeTargetGroupAttributes",
            "DescribeTargetHealth",
            "DescribeTags",
            "DescribeTrustStores",
            "DescribeListenerAttributes",
            "DescribeCapacityReservation",
        )
    ),
    "acm:ListCertificates",
    "acm:DescribeCertificate",
    "iam:ListServerCertificates",
    "iam:GetServerCertificate",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
]


def load_balancer_controller_policy(*, cluster_name: str, vpc_arn: str) -> dict[str, Any]:
    """The controller's IAM policy for the cluster `cluster_name` in the VPC `vpc_arn`."""
    ours = {f"aws:ResourceTag/{CLUSTER_TAG}": cluster_name}
    tagging_ours = {f"aws:RequestTag/{CLUSTER_TAG}": cluster_name}
    untouched_tag = {"Null": {f"aws:RequestTag/{CLUSTER_TAG}": "true"}, "StringEquals": ours}

    def allow(sid: str, actions: list[str], resource: str | list[str], **condition: Any) -> dict[str, Any]:
        statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
        if condition:
            statement["Condition"] = condition
        return statement

    statements = [
        allow(
            "ServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            "*",
            StringEquals={"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"},
        ),
        allow("Read", _DESCRIBE, "*"),
        allow("AttachWebAcl", ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"], "*"),
        allow(
            "SecurityGroupRulesInThisVpc",
            ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
            "arn:aws:ec2:*:*:security-group/*",
            ArnEquals={"ec2:Vpc": vpc_arn},
        ),
        allow(
            "CreateSecurityGroupInThisVpc",
            ["ec2:CreateSecurityGroup"],
            ["arn:aws:ec2:*:*:security-group/*", vpc_arn],
        ),
        allow(
            "TagNewSecurityGroup",
            ["ec2:CreateTags"],
            "arn:aws:ec2:*:*:security-group/*",
            StringEquals={"ec2:CreateAction": "CreateSecurityGroup", **tagging_ours},
        ),
        allow(
            "RetagOwnSecurityGroups",
            ["ec2:CreateTags", "ec2:DeleteTags"],
            "arn:aws:ec2:*:*:security-group/*",
            **untouched_tag,
        ),
        allow(
            "ManageOwnSecurityGroups",
            [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "*",
            StringEquals=ours,
        ),
        allow(
            "CreateTaggedLoadBalancers",
            [f"{_ELB}:CreateLoadBalancer", f"{_ELB}:CreateTargetGroup"],
            "*",
            StringEquals=tagging_ours,
        ),
        allow(
            "ListenersAndRules",
            [f"{_ELB}:CreateListener", f"{_ELB}:DeleteListener", f"{_ELB}:CreateRule", f"{_ELB}:DeleteRule"],
            "*",
        ),
        allow(
            "RetagOwnLoadBalancers", [f"{_ELB}:AddTags", f"{_ELB}:RemoveTags"], _LB_AND_TG, **untouched_tag
        ),
        allow("TagListenersAndRules", [f"{_ELB}:AddTags", f"{_ELB}:RemoveTags"], _LISTENERS),
        allow(
            "ManageOwnLoadBalancers",
            [
                f"{_ELB}:{a}"
                for a in (
                    "ModifyLoadBalancerAttributes",
                    "SetIpAddressType",
                    "SetSecurityGroups",
                    "SetSubnets",
                    "DeleteLoadBalancer",
                    "ModifyTargetGroup",
                    "ModifyTargetGroupAttributes",
                    "DeleteTargetGroup",
                    "ModifyListenerAttributes",
                    "ModifyCapacityReservation",
                    "ModifyIpPools",
                )
            ],
            "*",
            StringEquals=ours,
        ),
        allow(
            "TagOnCreate",
            [f"{_ELB}:AddTags"],
            _LB_AND_TG,
            StringEquals={
                f"{_ELB}:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"],
                **tagging_ours,
            },
        ),
        allow(
            "RegisterTargetsOfOwnTargetGroups",
            [f"{_ELB}:RegisterTargets", f"{_ELB}:DeregisterTargets"],
            "arn:aws:elasticloadbalancing:*:*:targetgroup/*/*",
            StringEquals=ours,
        ),
        allow(
            "Listeners",
            [
                f"{_ELB}:{a}"
                for a in (
                    "SetWebAcl",
                    "ModifyListener",
                    "AddListenerCertificates",
                    "RemoveListenerCertificates",
                    "ModifyRule",
                    "SetRulePriorities",
                )
            ],
            "*",
        ),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def external_dns_policy(*, zone_id: str) -> dict[str, Any]:
    """external-dns' policy on one hosted zone (external-dns `docs/tutorials/aws.md`, narrowed from
    every zone to `zone_id`). Listing zones cannot be scoped: Route 53 has no resource for it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RecordsOfThisZone",
                "Effect": "Allow",
                "Action": [
                    "route53:ChangeResourceRecordSets",
                    "route53:ListResourceRecordSets",
                    "route53:ListTagsForResources",
                ],
                "Resource": [f"arn:aws:route53:::hostedzone/{zone_id}"],
            },
            {
                "Sid": "FindTheZone",
                "Effect": "Allow",
                "Action": ["route53:ListHostedZones"],
                "Resource": ["*"],
            },
        ],
    }


def dumps(document: dict[str, Any]) -> str:
    """A policy document as the compact JSON IAM stores."""
    return json.dumps(document, separators=(",", ":"))
