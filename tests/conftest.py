"""Shared fixtures: synthesise the real stacks (optionally with config overrides) under the mock engine."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from typing import Any

import pytest

import stacks
from components.testing import SynthResult, synth
from stacks.__main__ import offline_stack_references, read_stack_file, run_stack
from stacks.config import ConfigError

STACKS = ("staging", "production")


@functools.cache
def synth_stack(stack: str) -> SynthResult:
    """The synthesis of `Pulumi.<stack>.yaml`, computed once per test session (treat as read-only)."""
    return run_stack(stack)


def synth_with(
    stack: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    remove: tuple[str, ...] = (),
    secrets: Mapping[str, str] | None = None,
) -> SynthResult:
    """Synthesise `stack` with config keys replaced (`overrides`), deleted (`remove`) or added as
    secrets (`secrets`, full keys). Keys without a namespace get `lmagent-infra:`."""
    project, config, secret_keys = read_stack_file(stack)
    config = copy.deepcopy(config)

    def full(k: str) -> str:
        return k if ":" in k else f"{project}:{k}"

    for k in remove:
        config.pop(full(k), None)
    for k, v in (overrides or {}).items():
        config[full(k)] = v
    for k, v in (secrets or {}).items():
        config[full(k)] = v
        secret_keys = [*secret_keys, full(k)]
    return synth(
        lambda: stacks.build(stack),
        project=project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        stack_references=offline_stack_references(project, stack, config),
    )


def config_problems(
    stack: str, overrides: Mapping[str, Any] | None = None, *, remove: tuple[str, ...] = ()
) -> list[str]:
    """The problem lines bad config produces (fails the test if the config is accepted)."""
    with pytest.raises(ConfigError) as caught:
        synth_with(stack, overrides, remove=remove)
    return caught.value.problems


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    """Parametrises a test over both stacks."""
    return str(request.param)


@pytest.fixture
def synthesized(stack: str) -> SynthResult:
    """The synthesis of the parametrised stack."""
    return synth_stack(stack)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI a skipped test is a failure to deliver: turn any skip into a failing exit status.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
