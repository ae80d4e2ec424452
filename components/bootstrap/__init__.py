"""What an AWS account needs once before the platform stacks can be deployed from GitHub Actions:
the state backend, GitHub's OIDC provider, the pipeline roles and the runners' way in."""

from components.bootstrap.github_oidc import GithubOidc, GithubRepository
from components.bootstrap.roles import PipelineRoles, PipelineRolesArgs
from components.bootstrap.runner import GithubRunners, RunnerArgs
from components.bootstrap.state import StateBackend, StateBackendArgs

__all__ = [
    "GithubOidc",
    "GithubRepository",
    "GithubRunners",
    "PipelineRoles",
    "PipelineRolesArgs",
    "RunnerArgs",
    "StateBackend",
    "StateBackendArgs",
]
