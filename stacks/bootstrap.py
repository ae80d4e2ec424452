"""The bootstrap composition: state backend, GitHub OIDC, pipeline roles, the runners' VPC and
runners, and the outputs the platform stacks and the workflow are configured from."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.bootstrap import GithubOidc, GithubRunners, PipelineRoles, StateBackend
from components.network import Network
from stacks.config import BootstrapSettings


def build(settings: BootstrapSettings) -> None:
    """Declare the account's bootstrap and export its contract (README, 'From an empty AWS account')."""
    cfg = settings.config
    tags = {"project": pulumi.get_project(), "stack": settings.stack, "managed-by": "pulumi", **cfg.tags}
    account = aws.get_caller_identity_output().account_id
    region = settings.region

    state = StateBackend("state", cfg.state, account=account, tags=tags)
    oidc = GithubOidc("github-oidc", tags=tags)
    roles = PipelineRoles(
        "pipeline",
        cfg.roles,
        github=cfg.github,
        environments=cfg.environments,
        oidc_provider_arn=oidc.provider_arn,
        state_bucket_arn=state.bucket_arn,
        state_key_arn=state.key_arn,
        account=account,
        region=region,
        tags=tags,
    )
    # The runners' own small VPC: no cluster lives here, so the EKS discovery tags Network puts on
    # subnets name a cluster that does not exist and match nothing.
    network = Network("runners-network", cfg.network, cluster_name="lmagent-infra-runners", tags=tags)
    runners = GithubRunners(
        "runners",
        cfg.runners,
        github=cfg.github,
        environments=cfg.environments,
        vpc_id=network.vpc_id,
        subnet_ids=network.private_subnet_ids,
        account=account,
        region=region,
        tags=tags,
    )

    pulumi.export("stateBucket", state.bucket)
    pulumi.export("backendUrl", state.bucket.apply(lambda b: f"s3://{b}?region={region}"))
    pulumi.export("secretsProvider", state.key_alias.apply(lambda a: f"awskms://{a}?region={region}"))
    pulumi.export("oidcProviderArn", oidc.provider_arn)
    pulumi.export("deployRoleArns", roles.deploy_role_arns)
    pulumi.export("readOnlyRoleArn", roles.readonly_role_arn)
    pulumi.export("runnerProjects", runners.project_names)
    pulumi.export("runnerEgressCidrs", network.nat_public_ips.apply(lambda ips: [f"{ip}/32" for ip in ips]))
    pulumi.export("githubConnectionArn", runners.connection_arn)
    pulumi.export("githubConnectionStatus", runners.connection_status)
    pulumi.export("region", region)
