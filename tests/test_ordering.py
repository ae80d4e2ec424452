"""What the engine makes each resource wait for, checked as a graph over both stacks' synth.

A resource waits for X when X is among its recorded `dependencies` (explicit `dependsOn` and the
resources its inputs come from), or among those of its parent or its provider, transitively: the
engine registers a child only once its parent's registration has completed (and a component's
completes after its dependencies), and a provider is configured only after what it depends on.
The rules are the ones a first `pulumi up` on an empty account needs (issue #14): nothing reaches
the cluster before nodes can run it and the deploy role may talk to it, nothing with a volume
before the StorageClass, no custom resource before the release that installs its CRD.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest

from components.testing import SynthResult
from tests.conftest import STACKS, synth_stack

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
#: Kinds whose pods must resolve names to become ready (Pulumi waits for their readiness).
WORKLOADS = {
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
}
#: The API group the kube-prometheus-stack chart's CRDs define.
OPERATOR_GROUP = "kubernetes:monitoring.coreos.com/"


class Graph:
    """The wait-for relation of one synthesis."""

    def __init__(self, result: SynthResult) -> None:
        self.result = result
        self.by_urn = {r["urn"]: r for r in result.resources}

    def direct(self, urn: str) -> set[str]:
        r = self.by_urn.get(urn)
        if r is None:  # read-only resources (a StackReference) are not registered as records
            return set()
        out = set(r["dependencies"])
        for edge in (r["parent"], r["provider"]):
            if edge:
                out.add(edge)
        return out

    @functools.cache  # noqa: B019 (one Graph per stack, kept for the session)
    def waits_for(self, urn: str) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(self.direct(urn))
        while todo:
            u = todo.pop()
            if u not in seen:
                seen.add(u)
                todo.extend(self.direct(u))
        return frozenset(seen)

    def named(self, name: str) -> str:
        return str(self.result.named(name)["urn"])

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [r for r in self.result.resources if r["type"] in types]


@functools.cache
def graph(stack: str) -> Graph:
    return Graph(synth_stack(stack))


def on_the_cluster(g: Graph) -> Iterator[dict[str, Any]]:
    """Every Kubernetes object and Helm release (not the provider itself)."""
    for r in g.result.resources:
        if r["custom"] and r["type"].startswith("kubernetes:"):
            yield r


def late(g: Graph, r: dict[str, Any], required: set[str]) -> list[str]:
    return sorted(u.rsplit("::", 1)[1] for u in required - g.waits_for(r["urn"]))


def with_volumes(values: Any) -> bool:
    """Whether Helm values ask for a PersistentVolumeClaim of some StorageClass."""
    if isinstance(values, dict):
        if values.get("storageClassName") or values.get("storageClass"):
            return True
        return any(with_volumes(v) for v in values.values())
    if isinstance(values, list):
        return any(with_volumes(v) for v in values)
    return False


@pytest.mark.parametrize("stack", STACKS)
def test_everything_on_the_cluster_waits_for_the_nodes_and_the_deploy_roles_access(stack: str) -> None:
    g = graph(stack)
    required = {r["urn"] for r in g.of(NODE_GROUP)} | {g.named("cluster-deploy-policy")}
    # The add-ons nodes need to become Ready come before the node groups.
    required |= {g.named(f"cluster-{a}") for a in ("vpc-cni", "kube-proxy")}
    objects = list(on_the_cluster(g))
    assert len(objects) > 20
    assert {r["name"]: late(g, r, required) for r in objects if late(g, r, required)} == {}


@pytest.mark.parametrize("stack", STACKS)
def test_releases_and_workloads_wait_for_cluster_dns(stack: str) -> None:
    g = graph(stack)
    required = {g.named("cluster-coredns")}
    pods = g.of(HELM_RELEASE, *WORKLOADS)
    assert {r["type"] for r in pods} >= {HELM_RELEASE, "kubernetes:apps/v1:Deployment"}
    assert {r["name"]: late(g, r, required) for r in pods if late(g, r, required)} == {}


@pytest.mark.parametrize("stack", STACKS)
def test_everything_with_a_volume_waits_for_the_storage_class(stack: str) -> None:
    g = graph(stack)
    required = {g.named("cluster-gp3")}
    volumes = [r for r in g.of(HELM_RELEASE) if with_volumes(r["inputs"].get("values"))]
    volumes += [r for r in on_the_cluster(g) if r["type"] == "kubernetes:core/v1:PersistentVolumeClaim"]
    assert {r["name"] for r in volumes} >= {"monitoring-kube-prometheus-stack", "monitoring-loki"}
    assert {r["name"]: late(g, r, required) for r in volumes if late(g, r, required)} == {}
    # ...and the StorageClass for the CSI driver that provisions its volumes.
    assert g.named("cluster-aws-ebs-csi-driver") in g.waits_for(g.named("cluster-gp3"))


#: The API group of each custom resource kind the stacks declare -> the release installing its CRDs.
CRD_RELEASES = {
    OPERATOR_GROUP: "monitoring-kube-prometheus-stack",
    "kubernetes:elbv2.k8s.aws/": "edge-load-balancer-controller",
    "kubernetes:karpenter.sh/": "karpenter-crd",
    "kubernetes:karpenter.k8s.aws/": "karpenter-crd",
    "kubernetes:kyverno.io/": "admission-kyverno",
    "kubernetes:external-secrets.io/": "external-secrets-release",
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_custom_resource_waits_for_the_release_that_installs_its_crd(stack: str) -> None:
    g = graph(stack)
    kinds = set()
    for group, release in CRD_RELEASES.items():
        required = {g.named(release)}
        custom = [r for r in on_the_cluster(g) if r["type"].startswith(group)]
        kinds |= {r["type"].rsplit(":", 1)[1] for r in custom}
        assert {r["name"]: late(g, r, required) for r in custom if late(g, r, required)} == {}
    assert kinds >= {"ServiceMonitor", "PrometheusRule", "IngressClassParams", "NodePool", "EC2NodeClass"}
    assert "ClusterPolicy" in kinds
    assert kinds >= {"ClusterSecretStore", "ExternalSecret"}
    # Every custom resource kind on the cluster is in the table above.
    groups = {r["type"].rsplit("/", 1)[0] + "/" for r in on_the_cluster(g) if r["custom"]}
    builtin = {"kubernetes:core/", "kubernetes:apps/", "kubernetes:networking.k8s.io/", "kubernetes:policy/"}
    builtin |= {"kubernetes:autoscaling/", "kubernetes:storage.k8s.io/", "kubernetes:helm.sh/"}
    builtin |= {"kubernetes:rbac.authorization.k8s.io/", "kubernetes:batch/"}
    assert groups - builtin <= set(CRD_RELEASES)


def test_the_graph_follows_parents_and_providers() -> None:
    # The relation itself: a Deployment records no dependency of its own on the node groups; it
    # waits for them through its provider.
    g = graph("staging")
    deployment = g.result.named("lmagent-api-deployment")
    nodes = g.named("cluster-general")
    assert nodes not in deployment["dependencies"]
    assert deployment["provider"] in g.waits_for(deployment["urn"])
    assert nodes in g.waits_for(deployment["urn"])


def test_what_does_not_run_on_the_cluster_does_not_wait_for_it() -> None:
    # Minimal ordering: Loki's bucket and key, the image and its repository start with the VPC,
    # not after nodes and DNS (a wait that is not needed only lengthens the first deploy).
    g = graph("production")
    cluster_side = {g.named(n) for n in ("cluster-general", "cluster-coredns", "cluster-deploy-policy")}
    for name in ("monitoring-logs", "monitoring-logs-key", "lmagent-api-repository"):
        assert g.waits_for(g.named(name)) & cluster_side == set(), name
