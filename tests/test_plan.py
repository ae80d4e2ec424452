"""`python -m stacks plan`: the recorded graph as the engine orders it, its waves, its critical path."""

from __future__ import annotations

import html
import itertools
import json
import os
import random
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from bench.plan import BEGIN, END, GOAL, custom_waits, floor_graph, into, measure
from components.testing import synth
from stacks import durations
from stacks.__main__ import main
from stacks.durations import Estimate, UnknownDurationError, estimate
from stacks.plan import build_plan, critical_path_dot, duration, plan_lines, waits_for
from tests.conftest import synth_stack, synth_with


def _resource(
    urn: str, deps: Sequence[str] = (), *, parent: str | None = None, custom: bool = True, typ: str = "t:x:X"
) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": typ,
        "name": urn,
        "parent": parent,
        "custom": custom,
        "provider": None,
        "inputs": {},
        "dependencies": list(deps),
    }


def _seconds(table: Mapping[str, int]) -> Any:
    return lambda r: Estimate(table.get(r["urn"], 0), "test")


# --- how the engine orders: checked against the SDK itself -----------------------------------


class _Pair(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("test:index:Pair", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.first = aws.kms.Key(f"{name}-first", aws.kms.KeyArgs(description="a"), opts=child)
        inner = pulumi.ComponentResource("test:index:Inner", f"{name}-inner", None, child)
        self.second = aws.kms.Key(
            f"{name}-second", aws.kms.KeyArgs(description="b"), opts=pulumi.ResourceOptions(parent=inner)
        )
        self.grandchild = aws.kms.Alias(
            f"{name}-grandchild",
            aws.kms.AliasArgs(name="alias/x", target_key_id="k"),
            opts=pulumi.ResourceOptions(parent=self.first),
        )
        self.register_outputs({})


def test_the_sdk_records_a_dependency_on_a_component_as_one_on_its_descendants():
    def program() -> None:
        pair = _Pair("pair")
        aws.kms.Key("after", aws.kms.KeyArgs(description="c"), opts=pulumi.ResourceOptions(depends_on=[pair]))

    result = synth(program, project="acme", stack="dev", config={"aws:region": "eu-west-1"})
    after = result.named("after")
    # The component's custom children, through the nested component, but not a custom child's child.
    assert after["dependencies"] == sorted(
        [result.named("pair-first")["urn"], result.named("pair-second")["urn"]]
    )
    plan = build_plan(result.resources, durations=lambda r: Estimate(1 if r["custom"] else 0, "test"))
    assert plan.steps[result.named("pair-grandchild")["urn"]].finish == 2
    assert plan.steps[after["urn"]].start == 1  # the grandchild is not waited for


def test_recorded_dependencies_name_custom_resources_only(synthesized):
    components = {r["urn"] for r in synthesized.resources if not r["custom"]}
    assert components  # the stacks have components to expand
    for r in synthesized.resources:
        for dep in r["dependencies"]:
            # (a StackReference is read, not registered: its URN is no record's)
            assert dep not in components, (
                f"{r['name']} depends on component {dep}: the SDK expands components"
            )


def test_waits_for_expands_a_component_to_its_descendants_through_nested_components():
    resources = [
        _resource("comp", custom=False),
        _resource("a", parent="comp"),
        _resource("inner", parent="comp", custom=False),
        _resource("b", parent="inner"),
        _resource("a-child", parent="a"),
        _resource("user", ["comp"]),
    ]
    graph = waits_for(resources)
    assert graph["user"] == {"a", "b"}
    assert graph["b"] == {"inner"} and graph["inner"] == {"comp"}  # children wait for their parent


def test_children_of_a_component_wait_for_what_the_component_waits_for():
    resources = [
        _resource("slow"),
        _resource("comp", ["slow"], custom=False),
        _resource("child", parent="comp"),
    ]
    plan = build_plan(resources, durations=_seconds({"slow": 100, "child": 5}))
    assert plan.steps["child"].start == 100
    assert plan.total == 105
    assert plan.critical_path == ["slow", "child"]


def test_a_resource_waits_for_its_provider():
    resources = [_resource("cluster"), _resource("k8s"), _resource("ns")]
    resources[1]["dependencies"] = ["cluster"]
    resources[2]["provider"] = "k8s"
    plan = build_plan(resources, durations=_seconds({"cluster": 900, "ns": 2}))
    assert plan.steps["ns"].start == 900


# --- waves and the critical path ---------------------------------------------------------------


def test_waves_are_a_topological_order_of_the_recorded_graph(synthesized):
    plan = build_plan(synthesized.resources)
    where = {urn: i for i, wave in enumerate(plan.waves) for urn in wave}
    custom = [r["urn"] for r in synthesized.resources if r["custom"]]
    assert sorted(where) == sorted(custom)  # every resource to create, in exactly one wave
    assert sum(len(w) for w in plan.waves) == len(custom)
    waits = custom_waits(synthesized.resources)
    for urn, before in waits.items():
        for dep in before:
            assert where[dep] < where[urn], f"{urn} is in wave {where[urn] + 1}, {dep} in {where[dep] + 1}"
    for i, wave in enumerate(plan.waves[1:], 1):  # and as early as it can be: each waits on the wave before
        for urn in wave:
            assert any(where[d] == i - 1 for d in waits[urn])


def _longest_by_brute_force(edges: Mapping[str, set[str]], seconds: Mapping[str, int]) -> int:
    """Every path from every node, enumerated: exponential, fine for a dozen nodes."""

    def paths(node: str) -> list[list[str]]:
        if not edges[node]:
            return [[node]]
        return [[*p, node] for d in edges[node] for p in paths(d)]

    return max(sum(seconds[n] for n in p) for node in edges for p in paths(node))


@pytest.mark.parametrize("seed", range(20))
def test_the_critical_path_is_the_longest_path_of_a_random_graph(seed):
    rng = random.Random(seed)  # noqa: S311 - a reproducible test graph, not a secret
    names = [f"r{i:02d}" for i in range(12)]
    edges = {n: {d for d in names[:i] if rng.random() < 0.3} for i, n in enumerate(names)}
    seconds = {n: rng.randint(0, 300) for n in names}
    resources = [_resource(n, sorted(edges[n])) for n in names]
    plan = build_plan(resources, durations=_seconds(seconds))
    assert plan.total == _longest_by_brute_force(edges, seconds)
    path = plan.critical_path
    assert sum(seconds[n] for n in path) == plan.total
    for before, after in itertools.pairwise(path):
        assert before in edges[after]
    assert not edges[path[0]]  # it starts with something that waits for nothing


def _longest_by_relaxation(resources: Sequence[Mapping[str, Any]]) -> int:
    """Bellman-Ford style: relax every edge until nothing changes; no topological order needed."""
    graph = waits_for(resources)
    own = {r["urn"]: estimate(r).seconds for r in resources}
    finish = dict(own)
    changed = True
    while changed:
        changed = False
        for urn, deps in graph.items():
            best = max((finish[d] for d in deps), default=0) + own[urn]
            if best > finish[urn]:
                finish[urn], changed = best, True
    return max(finish.values())


def test_the_critical_path_of_each_stack_is_its_longest_by_the_table(synthesized):
    plan = build_plan(synthesized.resources)
    assert plan.total == _longest_by_relaxation(synthesized.resources)
    steps = plan.path_steps()
    assert sum(s.seconds for s in steps) == plan.total
    waits = custom_waits(synthesized.resources)
    for before, after in itertools.pairwise(plan.critical_path):
        assert before in waits[after]
    assert steps[0].start == 0 and steps[-1].finish == plan.total
    # The cluster sets most of the pace of a first deploy.
    assert "aws:eks/cluster:Cluster" in [s.type for s in steps]


def test_a_cycle_is_refused():
    resources = [_resource("a", ["b"]), _resource("b", ["a"])]
    with pytest.raises(Exception, match="cycle"):
        build_plan(resources, durations=_seconds({}))


# --- the table ---------------------------------------------------------------------------------


def test_every_resource_type_and_chart_the_stacks_declare_has_a_create_time(synthesized):
    for r in synthesized.resources:
        est = estimate(r)  # raises UnknownDurationError when the table lacks it
        assert est.seconds >= 0 and est.source


def test_every_figure_names_its_source_or_says_it_is_an_assumption():
    for key, est in {**durations.TYPES, **durations.CHARTS}.items():
        assert est.source.startswith(("assumption", "measured", "pulumi-", "a provider")), key
        if est.source.startswith("measured"):
            assert any(mark in est.source for mark in ("#", "https://")), key  # an issue or a URL


def test_fails_when_a_type_has_no_create_time():
    with pytest.raises(
        UnknownDurationError, match=r"no create time for resource type 'aws:rds/instance:Nope'"
    ):
        estimate({"name": "db", "type": "aws:rds/instance:Nope", "custom": True, "inputs": {}})


def test_fails_when_a_helm_chart_has_no_create_time():
    release = {"name": "x", "type": durations.HELM_RELEASE, "custom": True, "inputs": {"chart": "nginx"}}
    with pytest.raises(UnknownDurationError, match=r"Helm chart 'nginx'.*charts with one: alloy"):
        estimate(release)


# --- apps ------------------------------------------------------------------------------------


def _apps(n: int, namespace: str | None = None) -> dict[str, Any]:
    """`n` apps, each in its own namespace, or all in `namespace`, which the first creates."""
    return {
        f"svc-{i:02d}": {"namespace": namespace or f"svc-{i:02d}", "partOf": "bench"}
        | ({"createNamespace": False} if namespace and i else {})
        for i in range(n)
    }


def _app_chain(resources: Sequence[Mapping[str, Any]], app: str) -> int:
    """The longest chain among one app's own resources (its component's subtree), by the table."""
    by_parent: dict[str | None, list[str]] = {}
    for r in resources:
        by_parent.setdefault(r["parent"], []).append(r["urn"])
    root = next(
        r["urn"] for r in resources if r["name"] == app and r["type"] == "lmagent:components:AppService"
    )
    own, todo = {root}, [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            own.add(child)
            todo.append(child)
    mine = [r for r in resources if r["urn"] in own]
    graph = {u: {d for d in deps if d in own} for u, deps in waits_for(mine).items()}
    return build_plan(mine, graph=graph).total


@pytest.mark.parametrize("shared_namespace", [False, True], ids=["own-namespace", "shared-namespace"])
def test_adding_an_app_lengthens_the_critical_path_by_at_most_its_own_chain(shared_namespace):
    ns = "shared" if shared_namespace else None
    two = synth_with("production", {"apps": _apps(2, ns)})
    three = synth_with("production", {"apps": _apps(3, ns)})
    before = build_plan(two.resources).total
    after = build_plan(three.resources).total
    assert after - before <= _app_chain(three.resources, "svc-02")
    # Stronger, and what holds here: apps run side by side, each shorter than the path to the
    # CRDs its rules wait for, so one more app adds nothing at all.
    assert after == before


# --- the command -------------------------------------------------------------------------------


def test_plan_writes_the_synthesis_and_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out, dot = tmp_path / "staging", tmp_path / "path.dot"
    assert main(["plan", "staging", "--out", str(out), "--dot", str(dot)]) == 0
    printed = capsys.readouterr().out
    assert (out / "resources.json").is_file()
    data = json.loads((out / "plan.json").read_text())
    plan = build_plan(synth_stack("staging").resources, stack="staging")
    assert data["totals"]["criticalPathSeconds"] == plan.total
    assert [s["urn"] for s in data["criticalPath"]] == list(plan.critical_path)
    assert [[s["urn"] for s in wave] for wave in data["waves"]] == [list(w) for w in plan.waves]
    assert "Critical path" in printed and "Estimated first deploy" in printed
    assert dot.read_text() == critical_path_dot(plan)
    assert dot.read_text().count(" -> ") == len(plan.critical_path) - 1


README = Path(__file__).resolve().parent.parent / "README.md"
PICTURES = Path(__file__).resolve().parent.parent / "docs"
UPDATE = "review the change, then run UPDATE_GOLDEN=1 pytest tests/test_plan.py"


def test_the_readme_shows_each_stack_s_plan_as_the_command_prints_it(stack):
    """The README's `plan` output is the command's, like a golden file: regenerated on purpose."""
    plan = build_plan(synth_stack(stack).resources, stack=stack)
    printed = "\n".join(plan_lines(plan)) + "\n"
    text = README.read_text()
    marker = f"`python -m stacks plan {stack}`:\n\n```\n"
    start = text.index(marker) + len(marker)
    end = text.index("```", start)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        README.write_text(text[:start] + printed + text[end:])
        text = README.read_text()
        end = text.index("```", start)
    assert text[start:end] == printed, f"README's plan output for {stack} is stale; {UPDATE}"


def test_the_readme_pictures_show_each_stack_s_current_critical_path(stack):
    picture_file = PICTURES / f"critical-path-{stack}.svg"
    plan = build_plan(synth_stack(stack).resources, stack=stack)
    if os.environ.get("UPDATE_GOLDEN") == "1":  # as `make plan-pictures` draws it
        dot = subprocess.run(
            ["dot", "-Tsvg"], input=critical_path_dot(plan), capture_output=True, text=True, check=True
        )
        picture_file.write_text(dot.stdout)
    picture = html.unescape(picture_file.read_text())  # Graphviz writes "-" as "&#45;"
    names = [s.name for s in plan.path_steps()]
    drawn = [name for name in names if f">{name}</text>" in picture]
    assert drawn == names, f"docs/critical-path-{stack}.svg is out of date; {UPDATE} (needs Graphviz's dot)"
    assert f"first deploy about {duration(plan.total)}" in picture


# --- the benchmark's floor ----------------------------------------------------------------------


def _typed(urn: str, typ: str, deps: Sequence[str] = (), **inputs: Any) -> dict[str, Any]:
    r = _resource(urn, deps, typ=typ)
    r["inputs"] = inputs
    r["options"] = {"dependsOn": list(deps)}  # explicit, unless a test says otherwise
    return r


def test_the_floor_keeps_what_the_cloud_imposes_and_drops_what_it_does_not():
    cluster = _typed("cluster", "aws:eks/cluster:Cluster")
    nodes = _typed("nodes", "aws:eks/nodeGroup:NodeGroup", ["cluster"])
    nodes["options"]["dependsOn"] = []  # the cluster's name is an input
    provider = _typed("k8s", "pulumi:providers:kubernetes", ["cluster"])
    ns = _typed("ns", "kubernetes:core/v1:Namespace", metadata={"name": "monitoring"})
    kps = _typed("kps", durations.HELM_RELEASE, ["ns"], chart="kube-prometheus-stack", namespace="monitoring")
    loki = _typed("loki", durations.HELM_RELEASE, ["ns"], chart="loki", namespace="monitoring")
    rule = _typed(
        "rule",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
        ["loki"],
        metadata={"namespace": "monitoring"},
    )
    for r in (ns, kps, loki, rule):
        r["provider"] = "k8s"
    graph = floor_graph([cluster, nodes, provider, ns, kps, loki, rule])
    assert graph["nodes"] == {"cluster"}  # an input: the node group needs the cluster's name
    assert graph["k8s"] == {"cluster"}
    assert graph["kps"] == {"ns", "k8s", "nodes"}  # nodes: required though not declared
    assert graph["rule"] == {"k8s", "kps", "ns"}  # the CRD's release, not the unrelated one it declared
    assert graph["ns"] == {"k8s"}


def test_the_floor_is_never_longer_than_the_plan_once_every_required_wait_is_declared():
    cluster = _typed("cluster", "aws:eks/cluster:Cluster")
    nodes = _typed("nodes", "aws:eks/nodeGroup:NodeGroup", ["cluster"])
    release = _typed("release", durations.HELM_RELEASE, ["nodes", "cluster"], chart="loki")
    resources = [cluster, nodes, release]
    case = measure("t", resources)
    assert case.plan.total == case.floor.total == 900 + 180 + 120
    release["dependencies"] = ["cluster"]  # forgets the nodes: the plan is shorter than the cloud allows
    assert measure("t", resources).ratio < 1


def test_each_stack_waits_for_what_the_cloud_requires_and_little_more(synthesized):
    case = measure(synthesized.stack, synthesized.resources)
    # Below 1: something starts before what the cloud says it needs. Above the goal: the program
    # serialises work the cloud would run side by side.
    assert 1.0 <= case.ratio <= GOAL, (case.plan.total, case.floor.total)


def test_the_bench_replaces_only_the_figures_between_the_markers():
    document = f"# Before\nold account\n{BEGIN}\nold figures\n{END}\n\n## Why\nreasons\n"
    assert into(document, ["new", "figures"]) == (
        f"# Before\nold account\n{BEGIN}\nnew\nfigures\n{END}\n\n## Why\nreasons\n"
    )
    assert into("", ["x"]) == f"{BEGIN}\nx\n{END}\n"


def test_plan_stops_with_status_2_naming_a_type_without_a_create_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    table = {k: v for k, v in durations.TYPES.items() if k != "aws:eks/cluster:Cluster"}
    monkeypatch.setattr(durations, "TYPES", table)
    assert main(["plan", "staging", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cluster-eks: no create time for resource type 'aws:eks/cluster:Cluster'" in err
    assert not (tmp_path / "out" / "plan.json").exists()
