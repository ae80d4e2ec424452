"""The standalone cluster example, under components.testing.synth and under plain set_mocks."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import settings

from components.testing import Mocks, SynthResult, fresh_event_loop, synth

HERE = Path(__file__).resolve().parent.parent


def load_build() -> Any:
    spec = importlib.util.spec_from_file_location("cluster_program", HERE / "cluster.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def stack_config(**overrides: Any) -> dict[str, Any]:
    return {**yaml.safe_load((HERE / "Pulumi.dev.yaml").read_text())["config"], **overrides}


def synth_cluster(stack: str = "dev", **overrides: Any) -> SynthResult:
    return synth(load_build(), project="lmagent-cluster", stack=stack, config=stack_config(**overrides))


def test_every_aws_resource_uses_the_regional_provider_from_opts():
    result = synth_cluster()
    [provider] = result.of_type("pulumi:providers:aws")
    aws_resources = [r for r in result.resources if r["custom"] and r["type"].startswith("aws:")]
    assert aws_resources
    assert {r["provider"] for r in aws_resources} == {provider["urn"]}


def test_the_cluster_name_is_unique_per_project_and_stack():
    names = {stack: synth_cluster(stack).named("cluster-eks")["inputs"]["name"] for stack in ("dev", "test")}
    assert names == {"dev": "lmagent-cluster-dev-cluster", "test": "lmagent-cluster-test-cluster"}


def test_the_subnets_are_tagged_for_that_cluster():
    result = synth_cluster()
    for subnet in result.of_type("aws:ec2/subnet:Subnet"):
        assert subnet["inputs"]["tags"]["kubernetes.io/cluster/lmagent-cluster-dev-cluster"] == "shared"


def test_protect_false_in_opts_leaves_the_cluster_unprotected():
    cluster = synth_cluster().named("cluster-eks")
    assert cluster["options"]["protect"] is False
    assert cluster["inputs"]["deletionProtection"] is False


def test_production_protects_the_cluster_its_key_and_flow_logs():
    result = synth_cluster(**{"lmagent-cluster:environment": "production", "lmagent-cluster:protect": True})
    for name in ("cluster-eks", "cluster-secrets-key", "network-flow-logs"):
        assert result.named(name)["options"]["protect"] is True, name


@pytest.fixture
def plain_mocks() -> Iterator[dict[str, Any]]:
    """Pulumi's documented pattern: set_mocks and config for one test, on its own event loop."""
    created: dict[str, Any] = {}

    class Recording(Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            created[args.name] = dict(args.inputs)
            return super().new_resource(args)

    # A loop of its own, closed afterwards with the ones the SDK's mock monitor gives its threads.
    with fresh_event_loop():
        settings.reset_options()
        pulumi.runtime.set_mocks(
            Recording(region="eu-west-1"), project="lmagent-cluster", stack="dev", preview=False
        )
        pulumi.runtime.set_all_config(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config().items()}
        )
        yield created
        settings.reset_options()


def test_the_program_runs_under_plain_set_mocks(plain_mocks: dict[str, Any]):
    @pulumi.runtime.test
    def run() -> pulumi.Output[None]:
        load_build()()
        return pulumi.Output.from_input(None)

    run()
    assert plain_mocks["cluster-eks"]["name"] == "lmagent-cluster-dev-cluster"
    assert plain_mocks["cluster-eks"]["accessConfig"]["authenticationMode"] == "API"
