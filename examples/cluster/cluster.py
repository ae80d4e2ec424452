"""A VPC and a hardened EKS cluster in a project of their own, from lmagent-infra's public API only.

Written as any Pulumi program would be: an explicit AWS provider for the region handed to both
components in `opts` (their children inherit it), `protect` in `opts`, the environment given once
per component. The cluster's name defaults to `<project>-<stack>-cluster`, so this project's stacks
and the platform's can share an account without colliding.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import EksCluster, EksClusterArgs, Network, NetworkArgs, default_cluster_name


def build() -> None:
    """Declare the network and the cluster; export what a workload project needs."""
    config = pulumi.Config()
    environment = config.get("environment") or "production"
    region = aws.Provider("region", region=config.require("region"))
    opts = pulumi.ResourceOptions(providers={"aws": region}, protect=config.get_bool("protect") is not False)

    # The subnets are tagged for the cluster by name, so the name is known before the cluster.
    name = default_cluster_name("cluster")
    network = Network(
        "network",
        # The stack file's `network` section, camelCase as in YAML; unknown keys get "did you mean".
        NetworkArgs.model_validate(config.get_object("network") or {}),
        cluster_name=name,
        environment=environment,
        opts=opts,
    )
    cluster = EksCluster(
        "cluster",
        EksClusterArgs(deploy_role_arn=config.require("deployRoleArn")),
        private_subnet_ids=network.private_subnet_ids,
        environment=environment,
        opts=opts,
    )
    pulumi.export("clusterName", cluster.cluster_name)
    pulumi.export("kubeconfig", cluster.kubeconfig)  # a secret
    pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
