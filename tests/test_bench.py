"""The benchmark's floor registers exactly what the synth declared (synth / floor compares like with
like), and its figures pair measurements taken in the same round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import (
    Case,
    Sample,
    growth_interval,
    median_interval,
    per_app,
    per_round,
    spread_lines,
)
from bench.floor import load_sdk_classes, program, provider_modules
from bench.instructions import Count, parse
from bench.instructions import per_app as instructions_per_app
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
    # Its inputs are plain values, so only explicit `dependsOn` edges survive: the dependencies the
    # synth's inputs carried are the one field the floor cannot reproduce.
    assert _without_dependencies(floor.resources) == _without_dependencies(declared["resources"])
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
    assert per_round(case.synth, case.floor) == pytest.approx([1.1, 1.1, 1.15])
    assert spread_lines({"staging": case})[2] == (
        "| staging | 1.10 | 1.10 - 1.15 | 1.10 - 1.15 | 1.23 | 1.16 - 1.27 | 1.16 - 1.27 |"
    )


def test_the_interval_of_a_median_takes_the_order_statistics_of_the_sign_test():
    values = [float(v) for v in range(1, 21)]
    assert median_interval(values) == (6.0, 15.0)  # 20 values: P(5 heads or fewer) = 2.1%
    assert median_interval([5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0, 6.0]) == (2.0, 8.0)  # 9: 96%
    assert median_interval(values[:7]) == (1.0, 7.0)  # 7 values: the 2nd would give only 87.5%
    assert median_interval([1.2]) == (1.2, 1.2)


def _apps(synth: dict[int, list[float]], floor_per_app: float = 0.1) -> dict[str, Case]:
    """Generated-stack cases whose rounds took these synth seconds (by app count); the floor grows
    by `floor_per_app` seconds per app in every round."""
    return {
        f"apps-{n}": _case(f"apps-{n}", [(t, 3.0 + floor_per_app * n) for t in times])
        for n, times in synth.items()
    }


def test_time_per_app_is_a_slope_taken_within_each_round():
    slow = 1.5  # the second round ran 50% slower throughout

    def linear(n: int) -> list[float]:
        return [3.5 + 0.12 * n, (3.5 + 0.12 * n) * slow, 3.5 + 0.12 * n]

    low, high, growth = per_app(_apps({n: linear(n) for n in (1, 10, 20, 40, 50, 60)}))
    assert low == pytest.approx(0.12) and high == pytest.approx(0.12)  # 0.18 in the slow round
    assert growth == pytest.approx(1.0)
    floor_low, floor_high, floor_growth = per_app(
        _apps({n: linear(n) for n in (1, 10, 20, 40, 50, 60)}, floor_per_app=0.08), "floor"
    )
    assert (floor_low, floor_high, floor_growth) == pytest.approx((0.08, 0.08, 1.0))


def test_the_growth_interval_spans_the_rounds_growths():
    # Three rounds whose time per app grows by 1.0, 1.5 and 2.0: with 3 rounds, lowest to highest.
    rounds = {
        n: [3.0 + 0.1 * n, 3.0 + (0.1 if n < 30 else 0.15) * n, 3.0 + (0.1 if n < 30 else 0.2) * n]
        for n in (1, 10, 20, 40, 50, 60)
    }
    assert growth_interval(_apps(rounds)) == pytest.approx((1.0, 2.0))


def test_time_per_app_fits_all_three_stacks_of_each_range():
    # A full collection lands between 10 and 20 apps: the slope through 1, 10 and 20 apps takes
    # it in part, where the difference 10 -> 20 alone (0.13) would take it whole.
    times = {1: 3.1, 10: 4.0, 20: 5.3, 40: 7.3, 50: 8.3, 60: 9.3}
    low, high, growth = per_app(_apps({n: [t] for n, t in times.items()}))
    assert low == pytest.approx(0.11605, rel=1e-3)  # least squares through (1, 3.1), (10, 4.0), (20, 5.3)
    assert high == pytest.approx(0.1)
    assert growth == pytest.approx(0.1 / 0.11605, rel=1e-3)


_PROFILE = (
    "# callgrind format\nversion: 1\ncmd: python -m stacks synth\nsummary: 9549584149\ntotals: 9549584149\n"
)
_ANNOTATED = """--------------------------------------------------------------------------------
Ir                      file:function
--------------------------------------------------------------------------------
9,549,584,149 (100.0%)  PROGRAM TOTALS
1,124,242,384 (11.77%)  /build/Python-3.11.7/Modules/gcmodule.c:gc_collect_main [/lib/libpython3.11.so.1.0]
  348,000,000 ( 3.64%)  /build/Python-3.11.7/Modules/gcmodule.c:_PyGC_CollectNoFail [/lib/libpython3.so]
"""


def test_instruction_counts_take_the_totals_and_the_collectors_inclusive_cost():
    count = parse(_PROFILE, _ANNOTATED)
    assert (count.total, count.gc, count.outside_gc) == (9549584149, 1124242384, 9549584149 - 1124242384)
    assert parse(_PROFILE, "no collection ran\n").gc == 0
    with pytest.raises(ValueError, match="summary or totals"):
        parse("# callgrind format\n", _ANNOTATED)


def test_instructions_per_app_are_differences_over_9_and_40_apps():
    counts = {1: Count(100, 10), 10: Count(1000, 10), 50: Count(5400, 410)}
    assert instructions_per_app(counts, "total") == pytest.approx((100, 110, 1.1))
    assert instructions_per_app(counts, "outside_gc") == pytest.approx((100, 100, 1.0))


def _without_dependencies(resources: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "dependencies"} for r in resources]
