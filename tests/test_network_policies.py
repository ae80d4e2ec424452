"""NetworkPolicies over both stacks: enforced by the CNI, a default deny in every namespace the stack
creates, and the traffic the stack needs still flowing.

The flows are checked by evaluating the declared policies with the NetworkPolicy semantics of the
Kubernetes API reference (networking.k8s.io/v1): a pod selected by no policy of a direction is
open in that direction; a selected pod accepts only what one rule of one selecting policy allows
(peer and port). Pod labels are the charts' own (see components/_monitoring_network.py); an
`ipBlock` is taken to match addresses outside the pod network only (the API server, nodes, AWS),
which is the conservative reading.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from components._monitoring_network import COLLECTOR_PODS, OPERATOR_PODS, PROMETHEUS_PODS
from components.database._exporter import EXPORTER_POD_LABELS
from components.testing import SynthResult

ADDON = "aws:eks/addon:Addon"


@dataclass(frozen=True)
class Peer:
    """A pod (namespace and labels) or, with `ip`, an address outside the pod network."""

    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    assert not (selector or {}).get("matchExpressions"), "the evaluator reads matchLabels only"
    return all(labels.get(k) == v for k, v in ((selector or {}).get("matchLabels") or {}).items())


def _peer_matches(rule_peer: dict[str, Any], policy_namespace: str, other: Peer) -> bool:
    if "ipBlock" in rule_peer:
        if other.ip is None:
            return False
        block = rule_peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        carved = any(address in ipaddress.ip_network(e) for e in block.get("except") or [])
        return address in ipaddress.ip_network(block["cidr"]) and not carved
    if other.namespace is None:
        return False
    if "namespaceSelector" in rule_peer:
        ns_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not _selects(rule_peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return _selects(rule_peer.get("podSelector"), other.labels)


def _port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    return not ports or any(
        p.get("port") in (None, port) and p.get("protocol", "TCP") == protocol for p in ports
    )


def allowed(result: SynthResult, src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> bool:
    policies = [m for m in result.manifests if m["kind"] == "NetworkPolicy"]

    def side(pod: Peer, other: Peer, direction: str) -> bool:
        if pod.namespace is None:  # outside the cluster: no NetworkPolicy applies
            return True
        selecting = [
            p
            for p in policies
            if p["metadata"]["namespace"] == pod.namespace
            and direction in p["spec"]["policyTypes"]
            and _selects(p["spec"]["podSelector"], pod.labels)
        ]
        if not selecting:
            return True
        key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        return any(
            _port_matches(rule.get("ports"), port, protocol)
            and (not rule.get(peers) or any(_peer_matches(q, pod.namespace, other) for q in rule[peers]))
            for p in selecting
            for rule in p["spec"].get(key) or []
        )

    return side(src, dst, "Egress") and side(dst, src, "Ingress")


APP = Peer(
    "lmagent", {"app.kubernetes.io/name": "lmagent-api", "app.kubernetes.io/instance": "lmagent-api-{stack}"}
)
DNS = Peer("kube-system", {"k8s-app": "kube-dns"})
PROMETHEUS = Peer("monitoring", {**PROMETHEUS_PODS, "prometheus": "kube-prometheus-stack-prometheus"})
OPERATOR = Peer("monitoring", {**OPERATOR_PODS, "app": "kube-prometheus-stack-operator"})
COLLECTOR = Peer("monitoring", dict(COLLECTOR_PODS))
GRAFANA = Peer("monitoring", {"app.kubernetes.io/name": "grafana"})
LOKI = Peer("monitoring", {"app.kubernetes.io/name": "loki"})
ALLOY = Peer("monitoring", {"app.kubernetes.io/name": "alloy"})
JAEGER = Peer("monitoring", {"app.kubernetes.io/name": "jaeger"})
ALERTMANAGER = Peer("monitoring", {"app.kubernetes.io/name": "alertmanager"})
CLOUDWATCH_EXPORTER = Peer("monitoring", dict(EXPORTER_POD_LABELS))
STRANGER = Peer("sandbox", {"app.kubernetes.io/name": "whatever"})
CONTROL_PLANE = Peer(ip="10.0.1.25")  # an EKS control-plane interface in a private subnet
NODE = Peer(ip="10.0.2.40")
INTERNET = Peer(ip="52.95.150.10")  # an S3 address
IMDS = Peer(ip="169.254.169.254")
POD_IDENTITY_AGENT = Peer(ip="169.254.170.23")  # EKS Pod Identity's agent on every node
DATABASE = Peer(ip="10.0.17.9")  # an RDS interface in a private subnet (10.0.16.0/20)
DB_USERS_JOB = Peer(
    "database-admin", {"app.kubernetes.io/name": "database-users", "lmagent.dev/database": "main"}
)


def app(stack: str) -> Peer:
    return Peer(APP.namespace, {k: v.format(stack=stack) for k, v in APP.labels.items()})


def test_the_vpc_cni_enforces_network_policies(synthesized: SynthResult) -> None:
    (cni,) = [a for a in synthesized.of_type(ADDON) if a["inputs"]["addonName"] == "vpc-cni"]
    # A string, as the add-on's configuration schema and the chart's values.yaml have it.
    assert json.loads(cni["inputs"]["configurationValues"]) == {"enableNetworkPolicy": "true"}


def test_every_namespace_the_stack_creates_denies_all_traffic_by_default(synthesized: SynthResult) -> None:
    created = {m["metadata"]["name"] for m in synthesized.manifests if m["kind"] == "Namespace"}
    denied = {
        m["metadata"]["namespace"]
        for m in synthesized.manifests
        if m["kind"] == "NetworkPolicy"
        and m["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    }
    assert created >= {"lmagent", "monitoring"}
    assert created - denied == set()


@pytest.mark.parametrize(
    ("src", "dst", "port", "protocol"),
    [
        pytest.param("app", COLLECTOR, 4318, "TCP", id="app sends OTLP/HTTP to the collector"),
        pytest.param("app", COLLECTOR, 4317, "TCP", id="app sends OTLP/gRPC to the collector"),
        pytest.param("app", DNS, 53, "UDP", id="app resolves names"),
        pytest.param("app", INTERNET, 443, "TCP", id="app calls AWS APIs"),
        pytest.param(PROMETHEUS, "app", 8000, "TCP", id="Prometheus scrapes the app"),
        pytest.param(PROMETHEUS, DNS, 9153, "TCP", id="Prometheus scrapes CoreDNS"),
        pytest.param(PROMETHEUS, NODE, 10250, "TCP", id="Prometheus scrapes the kubelet"),
        pytest.param(PROMETHEUS, NODE, 9100, "TCP", id="Prometheus scrapes node-exporter"),
        pytest.param(PROMETHEUS, ALERTMANAGER, 9093, "TCP", id="Prometheus sends alerts"),
        pytest.param(PROMETHEUS, LOKI, 3100, "TCP", id="Prometheus scrapes Loki"),
        pytest.param(PROMETHEUS, CONTROL_PLANE, 443, "TCP", id="Prometheus discovers targets"),
        pytest.param(GRAFANA, PROMETHEUS, 9090, "TCP", id="Grafana queries Prometheus"),
        pytest.param(GRAFANA, LOKI, 3100, "TCP", id="Grafana queries Loki"),
        pytest.param(GRAFANA, JAEGER, 16686, "TCP", id="Grafana queries Jaeger"),
        pytest.param(GRAFANA, CONTROL_PLANE, 443, "TCP", id="Grafana's sidecar watches dashboards"),
        pytest.param(ALLOY, LOKI, 3100, "TCP", id="Alloy ships logs to Loki"),
        pytest.param(ALLOY, CONTROL_PLANE, 443, "TCP", id="Alloy discovers pods"),
        pytest.param(COLLECTOR, JAEGER, 4317, "TCP", id="the collector exports to Jaeger"),
        pytest.param(LOKI, INTERNET, 443, "TCP", id="Loki writes its S3 bucket"),
        pytest.param(ALERTMANAGER, INTERNET, 443, "TCP", id="Alertmanager notifies Slack and PagerDuty"),
        pytest.param(ALERTMANAGER, ALERTMANAGER, 9094, "TCP", id="Alertmanager replicas gossip"),
        pytest.param(OPERATOR, CONTROL_PLANE, 443, "TCP", id="the operator watches its resources"),
        pytest.param(CONTROL_PLANE, OPERATOR, 10250, "TCP", id="the API server calls the operator's webhook"),
        pytest.param(LOKI, DNS, 53, "UDP", id="monitoring resolves names"),
        pytest.param(
            PROMETHEUS, CLOUDWATCH_EXPORTER, 5000, "TCP", id="Prometheus scrapes the CloudWatch exporter"
        ),
        pytest.param(CLOUDWATCH_EXPORTER, INTERNET, 443, "TCP", id="the exporter calls CloudWatch and STS"),
        pytest.param(CLOUDWATCH_EXPORTER, DNS, 53, "UDP", id="the exporter resolves AWS endpoints"),
        pytest.param("app", DATABASE, 5432, "TCP", id="app connects to its database"),
        pytest.param("app", POD_IDENTITY_AGENT, 80, "TCP", id="app gets its IAM token's credentials"),
        pytest.param(DB_USERS_JOB, DATABASE, 5432, "TCP", id="the database-users Job reaches the database"),
        pytest.param(DB_USERS_JOB, DNS, 53, "UDP", id="the database-users Job resolves names"),
    ],
)
def test_the_traffic_the_stack_needs_flows(
    synthesized: SynthResult, src: Peer | str, dst: Peer | str, port: int, protocol: str
) -> None:
    def peer(p: Peer | str) -> Peer:
        return app(synthesized.stack) if p == "app" else p  # type: ignore[return-value]

    assert allowed(synthesized, peer(src), peer(dst), port, protocol)


@pytest.mark.parametrize(
    ("src", "dst", "port"),
    [
        pytest.param(STRANGER, "app", 8000, id="another namespace calls the app"),
        pytest.param("app", PROMETHEUS, 9090, id="the app queries Prometheus"),
        pytest.param("app", GRAFANA, 3000, id="the app calls Grafana"),
        pytest.param(STRANGER, LOKI, 3100, id="another namespace pushes logs to Loki"),
        pytest.param(CONTROL_PLANE, GRAFANA, 3000, id="the network reaches Grafana"),
        pytest.param("app", IMDS, 80, id="the app asks for the node's credentials"),
        pytest.param(LOKI, IMDS, 80, id="Loki asks for the node's credentials"),
        pytest.param(PROMETHEUS, IMDS, 80, id="Prometheus asks for the node's credentials"),
        pytest.param(CLOUDWATCH_EXPORTER, IMDS, 80, id="the exporter asks for the node's credentials"),
        pytest.param(STRANGER, CLOUDWATCH_EXPORTER, 5000, id="another namespace scrapes the exporter"),
        pytest.param(GRAFANA, INTERNET, 80, id="monitoring speaks plain HTTP to the internet"),
        pytest.param(DB_USERS_JOB, INTERNET, 443, id="the database-users Job calls out"),
        pytest.param(DB_USERS_JOB, IMDS, 80, id="the database-users Job asks for the node's credentials"),
        pytest.param(
            DB_USERS_JOB, POD_IDENTITY_AGENT, 80, id="the database-users Job asks for AWS credentials"
        ),
        pytest.param(STRANGER, DB_USERS_JOB, 5432, id="another namespace reaches the database-users Job"),
    ],
)
def test_everything_else_is_denied(
    synthesized: SynthResult, src: Peer | str, dst: Peer | str, port: int
) -> None:
    def peer(p: Peer | str) -> Peer:
        return app(synthesized.stack) if p == "app" else p  # type: ignore[return-value]

    assert not allowed(synthesized, peer(src), peer(dst), port)
