"""GitHub Actions as an identity AWS trusts: the account's OIDC provider for
token.actions.githubusercontent.com, and the repository those tokens must come from."""

from __future__ import annotations

import re
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws
from pydantic import Field, field_validator

from components._model import Model
from components.bootstrap._policies import GITHUB_OIDC_HOST

__all__ = ["GithubOidc", "GithubRepository"]

# GitHub's rules: an owner (user or organisation) is 1-39 alphanumerics or single hyphens, not at
# either end; a repository name is 1-100 of letters, digits, '.', '_' and '-'.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)[A-Za-z0-9._/-]+(?<![/.])$")


class GithubRepository(Model):
    """The `github` section of the bootstrap stack file: which repository may deploy."""

    owner: str = Field(
        description=(
            "GitHub user or organisation owning the repository. Required: the trust policies "
            "name `repo:<owner>/<repo>:...`, so only this repository's workflows get AWS roles."
        )
    )
    repo: str = Field(
        default="lmagent-infra",
        description="Repository name. Default: `lmagent-infra`.",
    )
    default_branch: str = Field(
        default="main",
        description=(
            "The branch scheduled workflows run on: the drift check's token says "
            "`repo:<owner>/<repo>:ref:refs/heads/<defaultBranch>`, which the read-only role trusts. "
            "Default: `main`."
        ),
    )

    @field_validator("owner")
    @classmethod
    def _owner_is_valid(cls, value: str) -> str:
        if not _OWNER.match(value):
            raise ValueError(
                "must be a GitHub user or organisation name: 1-39 letters, digits or single hyphens, "
                "not starting or ending with a hyphen"
            )
        return value

    @field_validator("repo")
    @classmethod
    def _repo_is_valid(cls, value: str) -> str:
        if value in (".", "..") or not _REPO.match(value):
            raise ValueError("must be a GitHub repository name: 1-100 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("default_branch")
    @classmethod
    def _branch_is_valid(cls, value: str) -> str:
        if not _BRANCH.match(value):
            raise ValueError("must be a branch name such as main (letters, digits, '.', '_', '-', '/')")
        return value

    @property
    def full_name(self) -> str:
        """`owner/repo`, as GitHub's `sub` claims spell it."""
        return f"{self.owner}/{self.repo}"

    def environment_subject(self, environment: str) -> str:
        """The `sub` of a job that runs in a GitHub environment (GitHub docs, OIDC "Example
        subject claims": environment-bound jobs carry `repo:<o>/<r>:environment:<name>`)."""
        return f"repo:{self.full_name}:environment:{environment}"

    @property
    def pull_request_subject(self) -> str:
        """The `sub` of a job triggered by a pull request without an environment."""
        return f"repo:{self.full_name}:pull_request"

    @property
    def default_branch_subject(self) -> str:
        """The `sub` of a job on the default branch without an environment (schedule, dispatch)."""
        return f"repo:{self.full_name}:ref:refs/heads/{self.default_branch}"


class GithubOidc(pulumi.ComponentResource):
    """The IAM OIDC provider for GitHub Actions tokens, audience `sts.amazonaws.com`.

    One per account and issuer URL (IAM refuses a second provider with the same URL). No
    thumbprint is given: for GitHub's issuer IAM verifies the TLS certificate against its own
    trusted CAs, and the thumbprint list is optional since provider 5.x (IAM user guide, "Create
    an OpenID Connect (OIDC) identity provider in IAM"; pulumi_aws 7.51.1 `thumbprint_lists`).
    """

    provider_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("lmagent:components:GithubOidc", name, None, opts)
        provider = aws.iam.OpenIdConnectProvider(
            f"{name}-provider",
            aws.iam.OpenIdConnectProviderArgs(
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=["sts.amazonaws.com"],
                tags={**(tags or {}), "component": "github-oidc"},
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.provider_arn = provider.arn
        self.register_outputs({"providerArn": self.provider_arn})
