"""The stacks of lmagent-infra: `build(stack_name)` composes what the stack file describes."""

from __future__ import annotations

from stacks import bootstrap, config, platform

__all__ = ["build", "build_bootstrap"]


def build(stack_name: str) -> None:
    """Validate the stack's configuration, then declare every resource of the platform.

    Config is validated completely before the first resource is registered, so a bad stack file
    never leaves a half-declared program behind.
    """
    settings = config.load(stack_name)
    platform.build(settings)


def build_bootstrap(stack_name: str) -> None:
    """Validate the bootstrap stack's configuration, then declare the account's bootstrap."""
    bootstrap.build(config.load_bootstrap(stack_name))
