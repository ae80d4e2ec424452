"""The permission documents of the bootstrap's roles other than the deploy policy (_deploy.py):
what GitHub OIDC tokens must prove, what a preview or drift check needs beyond ReadOnlyAccess, the
state key's key policy and what a runner needs; and the names both modules share.

Pure functions from names to IAM JSON (dicts), so tests read every statement without a cloud.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.bootstrap._iam import allow, document

__all__ = [
    "DEPLOY_POLICY_PARTS",
    "PLATFORM_MANAGED_POLICY_ARNS",
    "PLATFORM_POLICY_PREFIX",
    "PLATFORM_PROJECT",
    "PLATFORM_ROLE_PREFIXES",
    "codebuild_runner_policy",
    "github_trust_policy",
    "readonly_state_policy",
    "state_key_policy",
    "state_object_prefixes",
]

#: The Pulumi project whose stacks the deploy roles update (the repository's root Pulumi.yaml).
PLATFORM_PROJECT = "lmagent-infra"

#: This bootstrap's own Pulumi project (bootstrap/Pulumi.yaml).
BOOTSTRAP_PROJECT = "lmagent-infra-bootstrap"

#: Pulumi names of the components that create IAM roles: their roles are auto-named
#: `<component>-<role>-<random>` (components/cluster.py, components/network.py,
#: components/karpenter/, the databases' `database-<name>` components).
PLATFORM_ROLE_PREFIXES = ("cluster-", "network-", "karpenter-", "database-")

#: The customer managed policies the platform creates and attaches: the Karpenter controller's,
#: auto-named `karpenter-controller-<part>-<random>` (components/karpenter/_iam.py).
PLATFORM_POLICY_PREFIX = "karpenter-controller-"

#: The AWS managed policies the platform attaches to its roles (components/cluster.py). The deploy
#: role may attach these and no others (iam:PolicyARN condition), so it cannot attach
#: AdministratorAccess to a role it creates.
PLATFORM_MANAGED_POLICY_ARNS = (
    "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    # components/database: enhanced monitoring, and AWS Backup's service role.
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
)

#: The managed policies a deploy role is made of, in the order `deploy_policies` returns them.
DEPLOY_POLICY_PARTS = ("state", "network", "cluster", "iam", "data", "edge", "database")

#: GitHub's OIDC issuer (GitHub docs, "About security hardening with OpenID Connect").
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def github_trust_policy(provider_arn: str, subjects: Sequence[str]) -> dict[str, Any]:
    """Trust for GitHub Actions OIDC tokens whose `sub` is one of `subjects` and `aud` is STS.

    Both keys pinned, as the IAM user guide asks for GitHub ("Configuring a role for GitHub OIDC
    identity provider": a condition on `:sub` is required, `:aud` must be `sts.amazonaws.com`).
    `StringEquals`, not `StringLike`: no wildcard can widen a subject.
    """
    return document(
        [
            {
                "Sid": "GitHubActionsOfThisRepository",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com",
                        f"{GITHUB_OIDC_HOST}:sub": sorted(subjects),
                    }
                },
            }
        ]
    )


def state_object_prefixes(stack: str, project: str = PLATFORM_PROJECT) -> list[str]:
    """The keys one stack's update writes in a Pulumi DIY backend (project-scoped layout).

    From pulumi/pulumi pkg/backend/diy/store.go (`projectReferenceStore`: stacks, history,
    backups, journal under `.pulumi/<dir>/<project>/<stack>`) and lock.go (locks under
    `.pulumi/locks/<fully qualified name>/`, i.e. `organization/<project>/<stack>`).
    """
    return [
        f".pulumi/stacks/{project}/{stack}.json*",
        f".pulumi/history/{project}/{stack}/*",
        f".pulumi/backups/{project}/{stack}/*",
        f".pulumi/journal/{project}/{stack}/*",
        f".pulumi/locks/organization/{project}/{stack}/*",
    ]


def readonly_state_policy(*, state_key_arn: str) -> dict[str, Any]:
    """What a preview or drift check needs beyond AWS's ReadOnlyAccess: the stacks' secrets.

    ReadOnlyAccess reads the state objects but grants no kms:Decrypt, which both the SSE-KMS
    objects and the awskms:// secrets provider need. Nothing is written: the diy backend's
    Preview takes no lock (pulumi/pulumi pkg/backend/diy/backend.go, `Preview` calls
    `backend.Preview` while Update, Refresh, Destroy and Import call `b.Lock`), and
    `preview --refresh` refreshes inside that preview. A write on the lock prefix would only let a
    pull request's job delete the lock of a running `pulumi up`.
    """
    return document([allow("DecryptStateAndSecrets", ["kms:Decrypt", "kms:DescribeKey"], [state_key_arn])])


def state_key_policy(*, account: str) -> dict[str, Any]:
    """The state key's key policy: the account administers it and IAM policies grant its use.

    The root principal statement is the KMS default: it lets IAM policies (the deploy and
    read-only roles' `UseTheStateKey`) grant use of the key, instead of naming every role in the
    key policy (KMS developer guide, "Default key policy").
    """
    return document(
        [
            {
                "Sid": "AccountAdministersTheKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    )


def codebuild_runner_policy(
    *,
    region: str,
    account: str,
    log_group_arn: str,
    connection_arn: str,
    subnet_arns: Sequence[str],
) -> dict[str, Any]:
    """The runner project's service role: its logs, its network interface, the GitHub connection.

    No AWS permission of the deploy: the jobs assume the deploy or read-only role with their own
    GitHub OIDC token, so a runner's own role can do nothing to the platform.
    """
    return document(
        [
            allow(
                "WriteBuildLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [log_group_arn, f"{log_group_arn}:*"],
            ),
            # CodeBuild user guide, "Allow CodeBuild access to AWS services required to create a
            # VPC network interface": the reads and the interface itself on "*", the permission
            # to attach it limited to the runner subnets and to CodeBuild.
            allow(
                "DescribeTheVpc",
                [
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                "*",
            ),
            allow(
                "BuildNetworkInterface",
                ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
                "*",
            ),
            allow(
                "AttachTheInterfaceInTheRunnerSubnets",
                ["ec2:CreateNetworkInterfacePermission"],
                [f"arn:aws:ec2:{region}:{account}:network-interface/*"],
                {
                    "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                    "ArnEquals": {"ec2:Subnet": list(subnet_arns)},
                },
            ),
            # CodeBuild user guide, "GitHub App connections": the project's role uses the
            # connection to register the job's runner with GitHub.
            allow(
                "UseTheGitHubConnection",
                [
                    "codeconnections:GetConnection",
                    "codeconnections:GetConnectionToken",
                    "codeconnections:UseConnection",
                ],
                [connection_arn],
            ),
        ]
    )
