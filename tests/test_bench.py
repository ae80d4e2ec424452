"""The benchmark's floor registers exactly what the synth declared (synth / floor compares like with
like), and its figures pair measurements taken in the same round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import Case, Sample, per_app
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


def _case(name: str, rounds: list[tuple[float, float]]) -> Case:
    """A case whose rounds took these (synth, floor) wall seconds."""
    case = Case(name, Path(f"Pulumi.{name}.yaml"))
    for synth_s, floor_s in rounds:
        case.synth.append(Sample(synth_s, synth_s, 1024))
        case.fresh.append(Sample(synth_s + 0.5, synth_s, 1024))
        case.floor.append(Sample(floor_s, floor_s, 1024))
        case.generic.append(Sample(floor_s / 2, floor_s / 2, 1024))
    return case


def test_ratios_pair_each_rounds_synth_with_that_rounds_floor():
    # Round 2 ran on a slow host: both sides took twice as long, and its ratio is unchanged.
    case = _case("staging", [(4.4, 4.0), (8.8, 8.0), (4.6, 4.0)])
    assert case.ratio == pytest.approx(1.1)  # median of 1.1, 1.1, 1.15
    assert case.synth_s == pytest.approx(4.6) and case.floor_s == pytest.approx(4.0)
    assert case.fresh_ratio == pytest.approx(4.9 / 4.0)  # median of 1.225, 1.1625, 1.275
    assert case.generic_ratio == pytest.approx(2.2)


def test_time_per_app_is_taken_within_each_round():
    slow = 1.5  # the second round ran 50% slower throughout
    cases = {
        "apps-1": _case("apps-1", [(4.0, 3.0), (4.0 * slow, 3.0), (4.0, 3.0)]),
        "apps-10": _case("apps-10", [(4.9, 4.0), (4.9 * slow, 4.0), (4.9, 4.0)]),
        "apps-50": _case("apps-50", [(8.9, 8.0), (8.9 * slow, 8.0), (9.7, 8.0)]),
    }
    low, high, growth = per_app(cases)
    assert low == pytest.approx(0.1)  # (4.9 - 4.0) / 9 in rounds 1 and 3; 0.15 in the slow round
    assert high == pytest.approx(0.12)  # (8.9 - 4.9) / 40 = 0.1, 0.15 slow, (9.7 - 4.9) / 40 = 0.12
    assert growth == pytest.approx(1.0)  # median of 1.0, 1.0 and 1.2: each round's own ratio
