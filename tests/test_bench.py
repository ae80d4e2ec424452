"""The benchmark's floor registers exactly what the synth declared: synth / floor compares like with like."""

from __future__ import annotations

import json

import pytest

from bench.floor import load_sdk_classes, program, provider_modules
from components.testing import synth
from tests.conftest import synth_stack


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "generic"])
def test_the_floor_registers_the_same_resources_as_the_synth(stack, typed):
    declared = json.loads(synth_stack(stack).to_json())
    load_sdk_classes({r["type"] for r in declared["resources"]})
    counts: list[int] = []
    floor = synth(
        lambda: counts.append(program(declared["resources"], typed=typed)),
        project=declared["project"],
        stack=declared["stack"],
        config={"aws:region": "eu-west-1"},
    )
    assert floor.resources == declared["resources"]
    customs = sum(
        1 for r in declared["resources"] if r["custom"] and not r["type"].startswith("pulumi:providers:")
    )
    assert counts == [customs if typed else 0]


def test_maps_type_tokens_to_the_sdk_modules_that_define_them():
    assert provider_modules({"aws:ec2/vpc:Vpc", "kubernetes:networking.k8s.io/v1:NetworkPolicy"}) == [
        "pulumi_aws.ec2",
        "pulumi_kubernetes.networking.v1",
    ]
    assert provider_modules({"kubernetes:monitoring.coreos.com/v1:PrometheusRule"}) == [
        "pulumi_kubernetes.apiextensions"
    ]
