"""EKS managed add-ons at pinned versions, and the cluster's default encrypted gp3 StorageClass."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import versions

__all__ = ["BEFORE_NODES", "CONFIGURATION", "addons", "gp3_storage_class"]

#: DaemonSets nodes need to become Ready (pod networking, service routing, Pod Identity): these
#: are created before the node groups. The others run as Deployments and would report DEGRADED
#: (and time out) until nodes exist, so they wait for the node groups.
BEFORE_NODES = ("vpc-cni", "kube-proxy", "eks-pod-identity-agent")
AFTER_NODES = ("coredns", "aws-ebs-csi-driver", "metrics-server")

#: The add-ons that call AWS APIs, each with the service account it runs as and its managed policy.
_IRSA = {
    "vpc-cni": ("aws-node", "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"),
    "aws-ebs-csi-driver": (
        "ebs-csi-controller-sa",
        "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    ),
}

#: Add-on configuration (`aws eks describe-addon-configuration` schema). The VPC CNI enforces
#: NetworkPolicies only when asked: without this every policy the stack declares is inert. The
#: value is the string "true" (aws/amazon-vpc-cni-k8s v1.21.1, charts/aws-vpc-cni/values.yaml
#: `enableNetworkPolicy: "false"`, rendered into the aws-node ConfigMap and the node agent's
#: `--enable-network-policy` flag); EKS user guide, "cni-network-policy-configure".
CONFIGURATION: dict[str, dict[str, str]] = {"vpc-cni": {"enableNetworkPolicy": "true"}}

IrsaFactory = Callable[..., aws.iam.Role]


def addons(
    name: str,
    names: Sequence[str],
    *,
    cluster_name: pulumi.Input[str],
    irsa_role: IrsaFactory,
    tags: Mapping[str, str],
    depends_on: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> dict[str, aws.eks.Addon]:
    """One `aws.eks.Addon` per name, at the version pinned in `components.versions`."""
    out: dict[str, aws.eks.Addon] = {}
    for addon in names:
        role_arn: pulumi.Output[str] | None = None
        if addon in _IRSA:
            account, policy = _IRSA[addon]
            role_arn = irsa_role(addon, "kube-system", account, managed_policy_arns=[policy]).arn
        out[addon] = aws.eks.Addon(
            f"{name}-{addon}",
            aws.eks.AddonArgs(
                cluster_name=cluster_name,
                addon_name=addon,
                addon_version=versions.EKS_ADDONS[addon],
                service_account_role_arn=role_arn,
                configuration_values=(
                    json.dumps(CONFIGURATION[addon], sort_keys=True) if addon in CONFIGURATION else None
                ),
                # This program owns the add-ons' configuration: a hand edit on the cluster is
                # drift to revert, and PRESERVE would leave a version running other than the one
                # pinned here. On create, OVERWRITE adopts any self-managed copy.
                resolve_conflicts_on_create="OVERWRITE",
                resolve_conflicts_on_update="OVERWRITE",
                tags=dict(tags),
            ),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
        )
    return out


def gp3_storage_class(
    name: str,
    *,
    provider: k8s.Provider,
    depends_on: Sequence[pulumi.Resource],
    parent: pulumi.Resource,
) -> k8s.storage.v1.StorageClass:
    """The cluster's default StorageClass: encrypted gp3 through the EBS CSI driver."""
    return k8s.storage.v1.StorageClass(
        f"{name}-gp3",
        k8s.storage.v1.StorageClassInitArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="gp3",
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                labels={
                    "app.kubernetes.io/name": "gp3",
                    "app.kubernetes.io/instance": name,
                    "app.kubernetes.io/version": versions.EKS_ADDONS["aws-ebs-csi-driver"],
                    "app.kubernetes.io/component": "storage",
                    "app.kubernetes.io/part-of": "lmagent-infra",
                    "app.kubernetes.io/managed-by": "pulumi",
                },
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "fsType": "ext4"},
            # Bind where the pod is scheduled: an EBS volume lives in one AZ.
            volume_binding_mode="WaitForFirstConsumer",
            reclaim_policy="Delete",
            allow_volume_expansion=True,
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
