"""The roles GitHub Actions assume: one deploy role per environment, and one read-only role for
pull-request previews and the drift check."""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components._model import Model
from components.bootstrap._deploy import deploy_policies
from components.bootstrap._policies import DEPLOY_POLICY_PARTS, github_trust_policy, readonly_state_policy
from components.bootstrap.github_oidc import GithubRepository

__all__ = ["READONLY_ROLE_NAME", "PipelineRoles", "PipelineRolesArgs", "deploy_role_name"]

#: AWS managed policy behind previews and drift checks: every service's Describe/Get/List.
READONLY_MANAGED_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
READONLY_ROLE_NAME = "lmagent-infra-readonly"
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$")


def deploy_role_name(environment: str) -> str:
    """The deploy role of one environment; the workflow and the README name it too."""
    return f"lmagent-infra-deploy-{environment}"


def _render_deploy_policies(stack: str, attachable: Sequence[str], resolved: list[Any]) -> dict[str, str]:
    """The deploy policy parts of `stack` as JSON, once account, region, bucket and key are known."""
    account, region, bucket_arn, key_arn = resolved
    parts = deploy_policies(
        stack=stack,
        account=account,
        region=region,
        state_bucket_arn=bucket_arn,
        state_key_arn=key_arn,
        attachable_policy_arns=attachable,
    )
    return {part: json.dumps(doc, sort_keys=True, separators=(",", ":")) for part, doc in parts.items()}


class PipelineRolesArgs(Model):
    """The `roles` section of the bootstrap stack file."""

    attachable_policy_arns: list[str] = Field(
        default=[],
        description=(
            "Managed policies the deploy roles may attach to platform roles, on top of the five the "
            "platform itself attaches (EKS cluster, worker node, CNI, ECR pull, EBS CSI). Default: "
            "none. Add here what an app's `iamPolicyArns` names, or its `pulumi up` is refused."
        ),
    )
    max_session_hours: int = Field(
        default=1,
        ge=1,
        le=12,
        description=(
            "How long an assumed role's credentials last. Default: 1 hour (the workflow's jobs "
            "time out at 60 minutes)."
        ),
    )

    @field_validator("attachable_policy_arns")
    @classmethod
    def _arns_are_policies(cls, value: list[str]) -> list[str]:
        bad = [arn for arn in value if not _POLICY_ARN.match(arn)]
        if bad:
            raise ValueError(f"must be IAM policy ARNs such as arn:aws:iam::aws:policy/Name (bad: {bad})")
        return value


class PipelineRoles(pulumi.ComponentResource):
    """`lmagent-infra-deploy-<environment>` per environment, and `lmagent-infra-readonly`.

    A deploy role trusts only jobs of `github` that run in the GitHub environment of the same name
    (where required reviewers and branch rules apply); the read-only role trusts only pull-request
    jobs and jobs on the default branch (the scheduled drift check) of that repository.
    """

    deploy_role_arns: dict[str, pulumi.Output[str]]
    readonly_role_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: PipelineRolesArgs,
        *,
        github: GithubRepository,
        environments: Sequence[str],
        oidc_provider_arn: pulumi.Input[str],
        state_bucket_arn: pulumi.Input[str],
        state_key_arn: pulumi.Input[str],
        account: pulumi.Input[str],
        region: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("lmagent:components:PipelineRoles", name, None, opts)
        tags = {**(tags or {}), "component": "pipeline-roles"}
        child = pulumi.ResourceOptions(parent=self)
        session = args.max_session_hours * 3600

        def trust(subjects: list[str]) -> pulumi.Output[str]:
            return pulumi.Output.from_input(oidc_provider_arn).apply(
                lambda arn: json.dumps(github_trust_policy(arn, subjects), sort_keys=True)
            )

        self.deploy_role_arns = {}
        for env in environments:
            role = aws.iam.Role(
                f"{name}-deploy-{env}",
                aws.iam.RoleArgs(
                    name=deploy_role_name(env),
                    description=f"pulumi up of the {env} stack, from GitHub environment {env} only",
                    assume_role_policy=trust([github.environment_subject(env)]),
                    max_session_duration=session,
                    tags={**tags, "environment": env},
                ),
                opts=child,
            )
            documents = pulumi.Output.all(account, region, state_bucket_arn, state_key_arn).apply(
                functools.partial(_render_deploy_policies, env, args.attachable_policy_arns)
            )
            for part in DEPLOY_POLICY_PARTS:
                policy = aws.iam.Policy(
                    f"{name}-deploy-{env}-{part}",
                    aws.iam.PolicyArgs(
                        name=f"{deploy_role_name(env)}-{part}",
                        description=f"pulumi up of the {env} stack: {part}",
                        policy=documents.apply(operator.itemgetter(part)),
                        tags={**tags, "environment": env},
                    ),
                    opts=child,
                )
                aws.iam.RolePolicyAttachment(
                    f"{name}-deploy-{env}-{part}",
                    aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy.arn),
                    opts=child,
                )
            self.deploy_role_arns[env] = role.arn

        readonly = aws.iam.Role(
            f"{name}-readonly",
            aws.iam.RoleArgs(
                name=READONLY_ROLE_NAME,
                description="pulumi preview of pull requests and the scheduled drift check; reads only",
                assume_role_policy=trust([github.pull_request_subject, github.default_branch_subject]),
                max_session_duration=session,
                tags=tags,
            ),
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-readonly-ReadOnlyAccess",
            aws.iam.RolePolicyAttachmentArgs(role=readonly.name, policy_arn=READONLY_MANAGED_POLICY),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-readonly-state-policy",
            aws.iam.RolePolicyArgs(
                role=readonly.id,
                policy=pulumi.Output.from_input(state_key_arn).apply(
                    lambda key: json.dumps(readonly_state_policy(state_key_arn=key), sort_keys=True)
                ),
            ),
            opts=child,
        )
        self.readonly_role_arn = readonly.arn
        self.register_outputs(
            {"deployRoleArns": self.deploy_role_arns, "readonlyRoleArn": self.readonly_role_arn}
        )
