"""`python -m bench.plan`: each stack's critical path against its floor path, written to bench/PLAN.md.

The floor path is the longest chain of the dependencies no program can avoid: the ones the cloud
imposes (a node group needs its cluster, an add-on whose pods run needs nodes, a Helm release needs
nodes and the deployer's access, a custom resource needs the release that installs its CRD...),
each listed in `RULES` with its reason. It is scheduled over the same resources with the same
create times (stacks/durations.py) as the plan, over only those edges. critical / floor is how much
longer the program's ordering makes a first deploy than the cloud makes it: 1.00 means every wait
on the critical path is one the cloud imposes. Below 1.00 the program misses an ordering the cloud
requires (something would start before what it needs and fail or hang on a real deploy).

For staging, production and the generated stacks with 1, 10 and 50 apps (bench's own, each app in
its own namespace). It synthesises in-process; it measures no time of this machine.

    python -m bench.plan [--out bench/PLAN.md]   # replaces the figures between PLAN.md's markers
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.__main__ import APP_COUNTS, ROOT, generated_stack
from stacks.__main__ import run_stack
from stacks.plan import Plan, build_plan, duration, waits_for

Resource = Mapping[str, Any]
Match = Callable[[Resource, Resource], bool]

GOAL = 1.05  # issue "Deploy time": critical / floor at most this


def _always(_waiter: Resource, _needed: Resource) -> bool:
    return True


def _namespace_of(r: Resource) -> str | None:
    inputs = r["inputs"]
    if r["type"] == "kubernetes:helm.sh/v3:Release":
        return inputs.get("namespace")
    return (inputs.get("metadata") or {}).get("namespace")


def _its_namespace(waiter: Resource, needed: Resource) -> bool:
    return _namespace_of(waiter) == (needed["inputs"].get("metadata") or {}).get("name")


def _same_namespace(waiter: Resource, needed: Resource) -> bool:
    return _namespace_of(waiter) is not None and _namespace_of(waiter) == _namespace_of(needed)


def _values_name(value: Any, keys: tuple[str, ...]) -> set[str]:
    """Every string under one of `keys` anywhere in a Helm release's values."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys and isinstance(v, str):
                found.add(v)
            found |= _values_name(v, keys)
    elif isinstance(value, list):
        for v in value:
            found |= _values_name(v, keys)
    return found


def _claims_from(waiter: Resource, needed: Resource) -> bool:
    """The release asks for volumes of this StorageClass."""
    name = (needed["inputs"].get("metadata") or {}).get("name")
    return name in _values_name(waiter["inputs"].get("values"), ("storageClassName", "storageClass"))


def _has_volumes(waiter: Resource, _needed: Resource) -> bool:
    return bool(_values_name(waiter["inputs"].get("values"), ("storageClassName", "storageClass")))


def _installs_crd_group(group_to_chart: Mapping[str, str]) -> Match:
    def match(waiter: Resource, needed: Resource) -> bool:
        group = waiter["type"].split(":")[1].split("/")[0]
        # An OCI reference (oci://public.ecr.aws/karpenter/karpenter-crd) names the chart last.
        return group_to_chart.get(group) == str(needed["inputs"].get("chart", "")).rsplit("/", 1)[-1]

    return match


def _addon(*names: str) -> Match:
    return lambda _w, needed: needed["inputs"].get("addonName") in names


def _addon_with_pods(waiter: Resource, _needed: Resource) -> bool:
    # DaemonSet-only add-ons are ACTIVE with no nodes; these run Deployments, which need one.
    return waiter["inputs"].get("addonName") in {"coredns", "aws-ebs-csi-driver", "metrics-server"}


def _carried_by_input(waiter: Resource, needed: Resource) -> bool:
    return needed["urn"] in waiter["dependencies"] and needed["urn"] not in waiter["options"]["dependsOn"]


@dataclass(frozen=True)
class Rule:
    """`waiter` cannot be created before `needs` (fnmatch patterns of type tokens), and why.

    `declared`: the edge counts only where the program declares it (directly or through a
    component), because the rule cannot tell which of several candidates is meant. Otherwise the
    cloud imposes it between every matching pair, declared or not.
    """

    waiter: str
    needs: str
    reason: str
    match: Match = _always
    declared: bool = True


#: The chart whose release installs each API group's CRDs.
CRD_CHARTS = {
    "monitoring.coreos.com": "kube-prometheus-stack",
    "karpenter.sh": "karpenter-crd",
    "karpenter.k8s.aws": "karpenter-crd",
    "external-secrets.io": "external-secrets",
    "kyverno.io": "kyverno",
}

_PODS = ("kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service")

RULES: tuple[Rule, ...] = (
    # AWS: an ID or ARN exists only once its resource is created.
    Rule("aws:*", "aws:*", "takes the other's ID or ARN as an input", _carried_by_input),
    Rule("docker-build:*", "aws:ecr/*", "pushes to the repository, which must exist", _carried_by_input),
    Rule(
        "aws:eks/*", "aws:eks/cluster:Cluster", "node groups, add-ons and access entries belong to a cluster"
    ),
    Rule(
        "aws:eks/cluster:Cluster",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "EKS checks the cluster role's AmazonEKSClusterPolicy when it creates the control plane",
    ),
    Rule(
        "aws:eks/cluster:Cluster",
        "aws:cloudwatch/logGroup:LogGroup",
        "EKS creates the log group itself (unencrypted, kept forever) if it does not exist yet",
    ),
    Rule(
        "aws:eks/nodeGroup:NodeGroup",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "nodes join only with the worker-node and registry policies on their role",
    ),
    Rule(
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/addon:Addon",
        "a node is Ready only with a CNI, and aws-node reaches the API through kube-proxy's rules",
        _addon("vpc-cni", "kube-proxy"),
    ),
    Rule(
        "aws:eks/addon:Addon",
        "aws:eks/nodeGroup:NodeGroup",
        "an add-on is ACTIVE once its pods run, and a Deployment's pods need a node",
        _addon_with_pods,
    ),
    # Kubernetes: the API server, access to it, namespaces, nodes, CRDs, volumes.
    Rule(
        "pulumi:providers:kubernetes",
        "aws:eks/cluster:Cluster",
        "the kubeconfig needs the cluster's endpoint and certificate",
    ),
    Rule("kubernetes:*", "pulumi:providers:kubernetes", "every object is sent to the cluster's API server"),
    Rule(
        "kubernetes:*",
        "aws:eks/access*",
        "the deployer's requests are refused until its access entry and policy exist",
        declared=False,
    ),
    Rule(
        "kubernetes:*",
        "kubernetes:core/v1:Namespace",
        "a namespaced object is refused until its namespace exists",
        _its_namespace,
        declared=False,
    ),
    *(
        Rule(pods, needs, f"pods using a {kind} start only once it exists", _same_namespace)
        for pods in _PODS
        for needs, kind in (
            ("kubernetes:core/v1:Secret", "Secret"),
            ("kubernetes:core/v1:ConfigMap", "ConfigMap"),
            ("kubernetes:core/v1:ServiceAccount", "ServiceAccount"),
        )
    ),
    Rule("kubernetes:apps/v1:Deployment", "docker-build:*", "the pod template names the image by digest"),
    Rule(
        "kubernetes:apps/v1:Deployment",
        "kubernetes:kyverno.io/v1:ClusterPolicy",
        "pods admitted before the policy verifying their image is in force would run unverified",
    ),
    *(
        Rule(
            user,
            "aws:iam/role:Role",
            "its service account is annotated with the role's ARN",
            _carried_by_input,
        )
        for user in ("kubernetes:core/v1:ServiceAccount", "kubernetes:helm.sh/v3:Release")
    ),
    *(
        Rule(
            pods,
            "aws:eks/nodeGroup:NodeGroup",
            "pods need a node; the provider waits for them",
            declared=False,
        )
        for pods in _PODS
    ),
    *(
        Rule(
            pods,
            "aws:eks/addon:Addon",
            "pods that resolve service names become ready only once cluster DNS runs",
            _addon("coredns"),
            declared=False,
        )
        for pods in ("kubernetes:helm.sh/v3:Release", "kubernetes:apps/v1:Deployment")
    ),
    Rule(
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:storage.k8s.io/v1:StorageClass",
        "its volume claims name the StorageClass",
        _claims_from,
        declared=False,
    ),
    Rule(
        "kubernetes:helm.sh/v3:Release",
        "aws:eks/addon:Addon",
        "its volumes are provisioned by the EBS CSI driver",
        lambda w, d: _has_volumes(w, d) and d["inputs"].get("addonName") == "aws-ebs-csi-driver",
        declared=False,
    ),
    Rule(
        "kubernetes:*",
        "kubernetes:helm.sh/v3:Release",
        "a custom resource is refused until the release installing its CRD is done",
        _installs_crd_group(CRD_CHARTS),
        declared=False,
    ),
)


def _matches(rule: Rule, waiter: Resource, needed: Resource) -> bool:
    return (
        fnmatch.fnmatchcase(waiter["type"], rule.waiter)
        and fnmatch.fnmatchcase(needed["type"], rule.needs)
        and rule.match(waiter, needed)
    )


def custom_waits(resources: Sequence[Resource]) -> dict[str, set[str]]:
    """Each custom resource's custom predecessors, looking through components and parents."""
    graph = waits_for(resources)
    custom = {r["urn"] for r in resources if r["custom"]}
    out: dict[str, set[str]] = {}
    for urn in custom:
        found: set[str] = set()
        seen: set[str] = set()
        todo = list(graph[urn])
        while todo:
            d = todo.pop()
            if d in seen:
                continue
            seen.add(d)
            if d in custom:
                found.add(d)
            else:
                todo.extend(graph[d])
        out[urn] = found
    return out


def floor_graph(resources: Sequence[Resource], rules: Sequence[Rule] = RULES) -> dict[str, set[str]]:
    """The unavoidable edges among `resources`: the declared ones a rule explains, and every pair
    an undeclared rule requires."""
    by_urn = {r["urn"]: r for r in resources}
    declared = custom_waits(resources)
    customs = [r for r in resources if r["custom"]]
    graph: dict[str, set[str]] = {r["urn"]: set() for r in resources}
    for r in customs:
        for dep in declared[r["urn"]]:
            if any(rule.declared and _matches(rule, r, by_urn[dep]) for rule in rules):
                graph[r["urn"]].add(dep)
        for rule in rules:
            if not rule.declared:
                graph[r["urn"]] |= {d["urn"] for d in customs if d is not r and _matches(rule, r, d)}
    return graph


@dataclass(frozen=True)
class Case:
    name: str
    plan: Plan
    floor: Plan

    @property
    def ratio(self) -> float:
        return self.plan.total / self.floor.total


def measure(name: str, resources: Sequence[Resource]) -> Case:
    return Case(
        name,
        build_plan(resources, stack=name),
        build_plan(resources, stack=name, graph=floor_graph(resources)),
    )


def apps_ready(plan: Plan) -> int:
    """When the last app's Deployment is ready: when every service can take traffic."""
    return max(
        (s.finish for s in plan.steps.values() if s.type == "kubernetes:apps/v1:Deployment"), default=0
    )


def _chain(plan: Plan) -> str:
    return " -> ".join(f"{s.name} ({duration(s.seconds)})" for s in plan.path_steps())


def report(cases: Sequence[Case]) -> Iterator[str]:
    yield "| stack | resources | critical path | floor path | critical / floor | apps ready (floor) | waves |"
    yield "|---|---:|---:|---:|---:|---:|---:|"
    for c in cases:
        yield (
            f"| {c.name} | {sum(1 for s in c.plan.steps.values() if s.custom)} | {duration(c.plan.total)} | "
            f"{duration(c.floor.total)} | {c.ratio:.2f} | {duration(apps_ready(c.plan))} "
            f"({duration(apps_ready(c.floor))}) | {len(c.plan.waves)} |"
        )
    for c in cases:
        yield ""
        yield f"- {c.name}, critical path: {_chain(c.plan)}"
        yield f"- {c.name}, floor path: {_chain(c.floor)}"


def run() -> list[Case]:
    cases: list[Case] = []
    work = Path(tempfile.mkdtemp(prefix="lmagent-plan-"))
    try:
        for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml"):
            shutil.copy(ROOT / name, work / name)
        stacks = ["staging", "production"]
        for n in APP_COUNTS:
            generated_stack(work, n)
            stacks.append(f"apps-{n}")
        for stack in stacks:
            cases.append(measure(stack, run_stack(stack, work).resources))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return cases


BEGIN, END = "<!-- python -m bench.plan: begin -->", "<!-- python -m bench.plan: end -->"


def into(document: str, lines: Sequence[str]) -> str:
    """`document` with what lies between the markers replaced by `lines` (the whole of it if it
    has no markers): PLAN.md keeps its before-and-after account around the latest figures."""
    body = "\n".join([BEGIN, *lines, END])
    if BEGIN in document and END in document:
        head, rest = document.split(BEGIN, 1)
        return head + body + rest.split(END, 1)[1]
    return body + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plan", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "PLAN.md")
    args = parser.parse_args()
    lines = list(report(run()))
    print("\n".join(lines))
    args.out.write_text(into(args.out.read_text() if args.out.exists() else "", lines))


if __name__ == "__main__":
    main()
