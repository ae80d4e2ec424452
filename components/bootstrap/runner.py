"""The deploy runners' way into the cluster: one CodeBuild project per environment that hosts the
GitHub Actions jobs of the `infra` workflow inside a VPC whose egress leaves by a fixed address.

The platform stacks allowlist exactly that address on their API server's public endpoint
(`runnerEgressCidrs`), so `pulumi up`, `--refresh` and the drift check reach Kubernetes while the
endpoint stays closed to the rest of the internet.

How a job gets a runner (CodeBuild user guide, "Tutorial: Configure a CodeBuild-hosted GitHub
Actions runner"): GitHub sends a `workflow_job` webhook when a job is queued; the project's webhook
filter `EVENT = WORKFLOW_JOB_QUEUED` starts a build, which registers an ephemeral runner labelled
`codebuild-<project>-<run_id>-<run_attempt>`; the job that asked for that label (`runs-on`) runs
there and the build ends with it. CodeBuild talks to GitHub through a CodeConnections connection
(source `auth.type = CODECONNECTIONS`); no GitHub token is stored in AWS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Literal

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components._log_key import log_group_key
from components._model import Model
from components.bootstrap._policies import codebuild_runner_policy
from components.bootstrap.github_oidc import GithubRepository
from components.network import check_retention
from components.versions import CODEBUILD_RUNNER_IMAGE

__all__ = ["GithubRunners", "RunnerArgs", "runner_label", "runner_project_name"]

#: CodeBuild compute types for Linux container builds (CodeBuild user guide, "Build environment
#: compute modes and types"); the price per build-minute rises with each step.
ComputeType = Literal["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"]


def runner_project_name(environment: str) -> str:
    """The CodeBuild project of one environment's runners; `runs-on` labels start with it."""
    return f"lmagent-infra-runner-{environment}"


def runner_label(environment: str) -> str:
    """The `runs-on` label a workflow job uses to run on this environment's runners."""
    return (
        f"codebuild-{runner_project_name(environment)}-${{{{ github.run_id }}}}-${{{{ github.run_attempt }}}}"
    )


class RunnerArgs(Model):
    """The `runners` section of the bootstrap stack file."""

    connection_ready: bool = Field(
        default=False,
        description=(
            "Whether the GitHub connection has been approved (status AVAILABLE). Default: false: "
            "the connection is created PENDING and the projects and webhooks wait, because "
            "CodeBuild creates the GitHub webhook through the connection. Approve it once in a "
            "browser (README, 'From an empty AWS account'), then set true and run `pulumi up` again."
        ),
    )
    compute_type: ComputeType = Field(
        default="BUILD_GENERAL1_SMALL",
        description=(
            "CodeBuild compute for each job: SMALL is 2 vCPU / 3 GB. Default: SMALL (a `pulumi up` "
            "mostly waits on AWS). MEDIUM (4 vCPU / 7 GB) builds the app image faster, at twice the "
            "per-minute price."
        ),
    )
    workflow_name: str = Field(
        default="infra",
        min_length=1,
        description=(
            "Only jobs of the workflow with this `name:` start a runner (webhook filter "
            "WORKFLOW_NAME). Default: `infra`, the deployment workflow; CI keeps GitHub's runners."
        ),
    )
    trusted_actor_ids: list[int] = Field(
        default=[],
        description=(
            "GitHub account IDs (numbers: `gh api users/<login> --jq .id`) whose queued jobs may start "
            "a runner (webhook filter ACTOR_ACCOUNT_ID on the event's sender). Default: none, and any "
            "queued `workflowName` job starts one: fine for a private repository; on a public one a "
            "fork's pull request could run on the runner, so list the maintainers (CodeBuild user "
            "guide, 'Best practices for using webhooks')."
        ),
    )
    build_timeout_minutes: int = Field(
        default=60,
        ge=5,
        le=480,
        description="CodeBuild stops a runner after this many minutes. Default: 60, the jobs' own timeout.",
    )
    log_retention_days: int = Field(
        default=30,
        description="How long the runners' build logs are kept in CloudWatch Logs. Default: 30 days.",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_valid(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("trusted_actor_ids")
    @classmethod
    def _actor_ids_are_ids(cls, value: list[int]) -> list[int]:
        bad = [v for v in value if v <= 0]
        if bad or len(set(value)) != len(value):
            raise ValueError(f"must be distinct positive GitHub account IDs (bad: {bad or 'a repeated id'})")
        return value


def actor_pattern(ids: list[int]) -> str | None:
    """The ACTOR_ACCOUNT_ID filter's regular expression matching exactly `ids`, or None for no filter."""
    return f"^({'|'.join(str(i) for i in sorted(ids))})$" if ids else None


class GithubRunners(pulumi.ComponentResource):
    """The GitHub connection, and per environment a CodeBuild runner project in `subnet_ids`.

    `project_names` maps each environment to its project, once `connectionReady` lets the
    projects exist; until then it is empty and only the connection, roles and logs are declared.
    """

    project_names: dict[str, str]
    connection_arn: pulumi.Output[str]
    connection_status: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: RunnerArgs,
        *,
        github: GithubRepository,
        environments: Sequence[str],
        vpc_id: pulumi.Input[str],
        subnet_ids: pulumi.Input[Sequence[str]],
        account: pulumi.Input[str],
        region: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("lmagent:components:GithubRunners", name, None, opts)
        tags = {**(tags or {}), "component": "github-runners"}
        child = pulumi.ResourceOptions(parent=self)

        # Created PENDING; only a person signed in to GitHub can finish the handshake (Developer
        # Tools console user guide, "Update a pending connection": there is no API for it).
        connection = aws.codeconnections.Connection(
            f"{name}-github",
            aws.codeconnections.ConnectionArgs(name=f"{name}-github", provider_type="GitHub", tags=tags),
            opts=child,
        )
        # Egress on 443 only: GitHub, the AWS APIs, the EKS endpoint, package registries are all
        # HTTPS. Nothing connects in: a runner polls GitHub for its job.
        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            aws.ec2.SecurityGroupArgs(
                vpc_id=vpc_id,
                description="GitHub Actions runners in CodeBuild: HTTPS out, nothing in",
                egress=[
                    aws.ec2.SecurityGroupEgressArgs(
                        protocol="tcp",
                        from_port=443,
                        to_port=443,
                        cidr_blocks=["0.0.0.0/0"],
                        description="HTTPS to GitHub, AWS APIs and the cluster endpoints",
                    )
                ],
                tags={**tags, "Name": f"{name}-sg"},
            ),
            opts=child,
        )
        group_name = f"/aws/codebuild/{name}"
        key = log_group_key(
            f"{name}-logs-key",
            account=account,
            region=region,
            log_group_name=group_name,
            purpose="GitHub Actions runner build logs",
            tags=tags,
            parent=self,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            aws.cloudwatch.LogGroupArgs(
                name=group_name,
                retention_in_days=args.log_retention_days,
                kms_key_id=key.arn,
                tags=tags,
            ),
            opts=child,
        )
        subnet_arns = pulumi.Output.all(region, account, subnet_ids).apply(
            lambda a: [f"arn:aws:ec2:{a[0]}:{a[1]}:subnet/{sid}" for sid in a[2]]
        )

        self.project_names = {}
        for env in environments:
            project_name = runner_project_name(env)
            role = aws.iam.Role(
                f"{name}-{env}-role",
                aws.iam.RoleArgs(
                    description=f"CodeBuild service role of the {env} GitHub Actions runners",
                    # aws:SourceAccount keeps another account's CodeBuild from using the role
                    # (CodeBuild user guide, "Cross-service confused deputy prevention").
                    assume_role_policy=pulumi.Output.from_input(account).apply(
                        lambda acct: json.dumps(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Principal": {"Service": "codebuild.amazonaws.com"},
                                        "Action": "sts:AssumeRole",
                                        "Condition": {"StringEquals": {"aws:SourceAccount": acct}},
                                    }
                                ],
                            },
                            sort_keys=True,
                        )
                    ),
                    tags={**tags, "environment": env},
                ),
                opts=child,
            )
            policy = aws.iam.RolePolicy(
                f"{name}-{env}-policy",
                aws.iam.RolePolicyArgs(
                    role=role.id,
                    policy=pulumi.Output.all(
                        region, account, log_group.arn, connection.arn, subnet_arns
                    ).apply(
                        lambda a: json.dumps(
                            codebuild_runner_policy(
                                region=a[0],
                                account=a[1],
                                log_group_arn=a[2],
                                connection_arn=a[3],
                                subnet_arns=a[4],
                            ),
                            sort_keys=True,
                        )
                    ),
                ),
                opts=child,
            )
            if not args.connection_ready:
                continue
            project = aws.codebuild.Project(
                f"{name}-{env}",
                aws.codebuild.ProjectArgs(
                    name=project_name,
                    description=f"GitHub Actions runners for the {env} jobs of {github.full_name}",
                    service_role=role.arn,
                    build_timeout=args.build_timeout_minutes,
                    source=aws.codebuild.ProjectSourceArgs(
                        type="GITHUB",
                        location=f"https://github.com/{github.full_name}.git",
                        auth=aws.codebuild.ProjectSourceAuthArgs(
                            type="CODECONNECTIONS", resource=connection.arn
                        ),
                    ),
                    artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
                    environment=aws.codebuild.ProjectEnvironmentArgs(
                        type="LINUX_CONTAINER",
                        compute_type=args.compute_type,
                        image=CODEBUILD_RUNNER_IMAGE,
                        image_pull_credentials_type="CODEBUILD",
                        # `pulumi up` builds the app image with BuildKit (components/image.py),
                        # which needs the Docker daemon CodeBuild runs only in privileged mode.
                        privileged_mode=True,
                    ),
                    vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                        vpc_id=vpc_id, subnets=subnet_ids, security_group_ids=[security_group.id]
                    ),
                    logs_config=aws.codebuild.ProjectLogsConfigArgs(
                        cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                            group_name=log_group.name, stream_name=env, status="ENABLED"
                        ),
                        s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
                    ),
                    tags={**tags, "environment": env},
                ),
                # The role must be able to create the VPC interface when the project is saved.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
            )
            aws.codebuild.Webhook(
                f"{name}-{env}-webhook",
                aws.codebuild.WebhookArgs(
                    project_name=project.name,
                    build_type="BUILD",
                    filter_groups=[
                        aws.codebuild.WebhookFilterGroupArgs(
                            filters=[
                                aws.codebuild.WebhookFilterGroupFilterArgs(
                                    type="EVENT", pattern="WORKFLOW_JOB_QUEUED"
                                ),
                                # A workflow job's workflow name, matched as a regular
                                # expression (CodeBuild user guide, "Filter GitHub webhook
                                # events (CloudFormation)", its fourth filter group).
                                aws.codebuild.WebhookFilterGroupFilterArgs(
                                    type="WORKFLOW_NAME", pattern=f"^{args.workflow_name}$"
                                ),
                                # Only these accounts' jobs (the payload's sender.id).
                                *(
                                    [
                                        aws.codebuild.WebhookFilterGroupFilterArgs(
                                            type="ACTOR_ACCOUNT_ID", pattern=pattern
                                        )
                                    ]
                                    if (pattern := actor_pattern(args.trusted_actor_ids))
                                    else []
                                ),
                            ]
                        )
                    ],
                ),
                opts=child,
            )
            self.project_names[env] = project_name

        self.connection_arn = connection.arn
        self.connection_status = connection.connection_status
        self.register_outputs(
            {
                "projectNames": self.project_names,
                "connectionArn": self.connection_arn,
                "connectionStatus": self.connection_status,
            }
        )
