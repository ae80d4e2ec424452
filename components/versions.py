"""Every pinned version in one place: Kubernetes, EKS add-ons, Helm charts and container images.

Each pin says where it comes from. Changing one is a deliberate upgrade: the golden snapshots in
tests/ show what it changes.
"""

from __future__ import annotations

# --- Kubernetes / EKS (issue: network and cluster) -------------------------------------------

#: EKS Kubernetes minor version (standard support; EKS user guide "Kubernetes versions").
KUBERNETES_VERSION = "1.34"

#: EKS managed add-on versions for Kubernetes 1.34. Re-check with
#: `aws eks describe-addon-versions --kubernetes-version 1.34 --addon-name <name>` before an
#: upgrade: a version must be listed as compatible with the cluster's Kubernetes version.
EKS_ADDONS: dict[str, str] = {
    # aws/eks-charts release v0.0.218 ships aws-vpc-cni v1.21.x; terraform-aws-eks users moved
    # to 1.21.1 to prepare 1.34 upgrades (cookpad/terraform-aws-eks#398, March 2026).
    "vpc-cni": "v1.21.1-eksbuild.1",
    # EKS Distro 1-34 releases ship CoreDNS v1.13.2 (eks-distro v1-34-eks-16/17).
    "coredns": "v1.13.2-eksbuild.1",
    # EKS user guide, managing-kube-proxy table: 1.34 -> v1.34.0-eksbuild.5.
    "kube-proxy": "v1.34.0-eksbuild.5",
    # Seen pinned for current clusters in public Terraform (describe-addon-versions 1.34).
    "eks-pod-identity-agent": "v1.3.9-eksbuild.3",
    # aws-ebs-csi-driver 1.56.0 (cookpad/terraform-aws-eks#398, the pre-1.34 upgrade set).
    "aws-ebs-csi-driver": "v1.56.0-eksbuild.1",
    # EKS community add-on `metrics-server` (upstream v0.8.0), needed by the HPA.
    "metrics-server": "v0.8.0-eksbuild.2",
}

# --- Container images (issue: image) ---------------------------------------------------------

# --- Helm charts (issue: monitoring) ---------------------------------------------------------
