"""Helm values of the edge's charts (AWS Load Balancer Controller, external-dns), as plain data."""

from __future__ import annotations

from typing import Any

import pulumi

from components.edge._args import EdgeArgs

__all__ = [
    "CONTROLLER_RELEASE",
    "CONTROLLER_SERVICE_ACCOUNT",
    "EXTERNAL_DNS_RELEASE",
    "EXTERNAL_DNS_SERVICE_ACCOUNT",
    "controller_values",
    "external_dns_values",
]

CONTROLLER_RELEASE = "aws-load-balancer-controller"
CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"
EXTERNAL_DNS_RELEASE = "external-dns"
EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns"


def _spread(app: str) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
        }
    ]


def controller_values(
    args: EdgeArgs,
    *,
    cluster_name: pulumi.Input[str],
    region: pulumi.Input[str],
    vpc_id: pulumi.Input[str],
    role_arn: pulumi.Input[str],
) -> dict[str, Any]:
    """Values of chart aws-load-balancer-controller (keys as in its values.yaml at the pinned version).

    The region and VPC are set because the nodes' instance metadata is out of the pods' reach
    (IMDSv2 with a hop limit of 1), which is where the controller would otherwise look them up.
    """
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": args.controller_replicas,
        "serviceAccount": {
            "create": True,
            "name": CONTROLLER_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        # The edge declares its own IngressClass and IngressClassParams (one class, one shared
        # load balancer); the chart's empty-params `alb` class would let an Ingress bypass them.
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "defaultSSLPolicy": args.tls_policy,
        "defaultTargetType": "ip",
        # Only WAFv2 is used; the WAF Classic and Shield Advanced add-ons would need permissions
        # the IAM policy leaves out.
        "enableWaf": False,
        "enableWafv2": True,
        "enableShield": False,
        # Services of type LoadBalancer stay with whoever the Service names; no Service becomes an
        # NLB because this controller is installed.
        "enableServiceMutatorWebhook": False,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        # The chart renders the budget only with more than one replica.
        "podDisruptionBudget": {"maxUnavailable": 1},
        "topologySpreadConstraints": _spread("aws-load-balancer-controller"),
    }


def external_dns_values(
    args: EdgeArgs,
    *,
    owner_id: str,
    region: pulumi.Input[str],
    role_arn: pulumi.Input[str],
    ingress_class: str,
) -> dict[str, Any]:
    """Values of chart external-dns (tests/test_edge.py validates them against the pinned chart's
    values.schema.json)."""
    return {
        "provider": {"name": "aws"},
        "env": [{"name": "AWS_DEFAULT_REGION", "value": region}],
        "serviceAccount": {
            "create": True,
            "name": EXTERNAL_DNS_SERVICE_ACCOUNT,
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
        },
        # Records come from the public Ingresses only (the class below: external-dns otherwise
        # takes every Ingress of the cluster), and only in the edge's zone.
        "sources": ["ingress"],
        "policy": args.dns_policy,
        "registry": "txt",
        # Marks every record this stack owns, so two stacks sharing a zone never touch each
        # other's records.
        "txtOwnerId": owner_id,
        "domainFilters": [args.zone.name],
        "extraArgs": [
            f"--zone-id-filter={args.zone.id}",
            "--aws-zone-type=public",
            f"--ingress-class={ingress_class}",
        ],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
    }
