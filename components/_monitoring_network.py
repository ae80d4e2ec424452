"""The NetworkPolicies of the monitoring namespace: deny everything, then allow what the stack uses.

What flows, and the rule that allows it (each policy is named for what it allows):

- `default-deny`: every pod of the namespace, both directions, no rule; what follows is additive.
- `allow-monitoring`: the charts' pods talk among themselves (Prometheus to Alertmanager and to
  every exporter here, Grafana to Prometheus, Loki and Jaeger, Alloy to Loki, the collector to
  Jaeger, Alertmanager and Loki peers gossiping), resolve names through kube-dns, and reach HTTPS
  anywhere but the node's metadata address: the API server (the operator, Prometheus' service
  discovery, kube-state-metrics, Grafana's dashboard sidecar and Alloy watch it), AWS APIs (Loki's
  S3 bucket and STS for its IRSA role) and the receivers Alertmanager notifies (Slack, PagerDuty).
- `allow-otlp`: apps in any namespace send traces to the collector on 4317 (gRPC) and 4318 (HTTP).
- `allow-operator-webhook`: the EKS control plane calls the prometheus-operator's admission webhook
  (PrometheusRule validation) on the operator's port 10250 (kube-prometheus-stack values,
  `prometheusOperator.tls.internalPort`). The control plane reaches pods from its network
  interfaces in the cluster's subnets, whose addresses this component does not know, hence any
  source on that one port of that one pod.
- `allow-prometheus-scrapes`: Prometheus scrapes pods in every namespace (apps on their own ports,
  CoreDNS on 9153) and, on the nodes' addresses, the kubelet (10250) and node-exporter (9100,
  host network).

Traffic to a Service's ClusterIP is allowed by the same rules: the VPC CNI's policy controller adds
the ClusterIP of every Service whose selector a rule's podSelector matches (an empty podSelector
matches them all) and skips headless Services, whose names resolve to pod addresses anyway
(aws/amazon-network-policy-controller-k8s, pkg/resolvers/endpoints.go,
getMatchingServiceClusterIPs). The API server's `kubernetes` Service has no selector: its
ClusterIP is inside the 0.0.0.0/0 rule on 443.

Kubelet probes need no rule: the VPC CNI's network policy agent always allows traffic from the
pod's own node (aws/aws-network-policy-agent#56, #65).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_kubernetes as k8s

from components._monitoring_values import COLLECTOR_RELEASE

__all__ = ["NETWORK_POLICIES", "OPERATOR_WEBHOOK_PORT", "network_policies"]

_net = k8s.networking.v1
_meta = k8s.meta.v1

#: kube-prometheus-stack 88.5.3 values.yaml, `prometheusOperator.tls.internalPort`.
OPERATOR_WEBHOOK_PORT = 10250
#: The instance metadata address: no pod here needs the node's credentials (IRSA instead).
IMDS = "169.254.169.254/32"

#: The Pod Security Admission labels of a namespace whose pods all meet the `restricted` profile
#: (Kubernetes docs, "Pod Security Admission": enforce, warn and audit at the same level).
RESTRICTED_NAMESPACE_LABELS = {
    f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")
}

#: Pod labels, as the charts set them: the operator (kube-prometheus-stack 88.5.3,
#: templates/prometheus-operator/_prometheus-operator.tpl), the Prometheus pods (the operator's
#: StatefulSet labels), the collector (opentelemetry-collector 0.170.0 selectorLabels).
OPERATOR_PODS = {"app.kubernetes.io/component": "prometheus-operator"}
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
COLLECTOR_PODS = {
    "app.kubernetes.io/name": "opentelemetry-collector",
    "app.kubernetes.io/instance": COLLECTOR_RELEASE,
}

#: The policies by resource role, with their Kubernetes names.
NETWORK_POLICIES = {
    "default-deny": "default-deny",
    "allow-monitoring": "allow-monitoring",
    "allow-otlp": "allow-otlp",
    "allow-operator-webhook": "allow-operator-webhook",
    "allow-prometheus-scrapes": "allow-prometheus-scrapes",
}


def _pods(labels: Mapping[str, str] | None = None) -> k8s.meta.v1.LabelSelectorArgs:
    return _meta.LabelSelectorArgs(match_labels=dict(labels) if labels else None)


def _ports(protocol: str, *ports: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [_net.NetworkPolicyPortArgs(port=p, protocol=protocol) for p in ports]


def _anywhere() -> k8s.networking.v1.NetworkPolicyPeerArgs:
    return _net.NetworkPolicyPeerArgs(ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0", except_=[IMDS]))


def webhook_controller_policies(
    allow_name: str, webhook_port: int
) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """The policies of a namespace holding one controller with an admission webhook (External
    Secrets, Kyverno): deny all; then name lookups, HTTPS out to anywhere but the metadata address
    (the API server, AWS APIs, the controller's own endpoints), and `webhook_port` in from any
    source, since the EKS control plane calls it from addresses in the cluster's subnets that no
    component here knows. `allow_name` names the allow policy."""
    everything = _meta.LabelSelectorArgs()
    return {
        "default-deny": _net.NetworkPolicySpecArgs(
            pod_selector=everything, policy_types=["Ingress", "Egress"]
        ),
        allow_name: _net.NetworkPolicySpecArgs(
            pod_selector=everything,
            policy_types=["Ingress", "Egress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_net.NetworkPolicyPeerArgs(ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0"))],
                    ports=[_net.NetworkPolicyPortArgs(port=webhook_port, protocol="TCP")],
                )
            ],
            egress=[
                dns_egress(),
                _net.NetworkPolicyEgressRuleArgs(
                    to=[
                        _net.NetworkPolicyPeerArgs(
                            ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0", except_=[IMDS])
                        )
                    ],
                    ports=[_net.NetworkPolicyPortArgs(port=443, protocol="TCP")],
                ),
            ],
        ),
    }


def dns_egress() -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
    """Name lookups to the cluster's CoreDNS (kube-system, `k8s-app: kube-dns`)."""
    return _net.NetworkPolicyEgressRuleArgs(
        to=[
            _net.NetworkPolicyPeerArgs(
                namespace_selector=_pods({"kubernetes.io/metadata.name": "kube-system"}),
                pod_selector=_pods({"k8s-app": "kube-dns"}),
            )
        ],
        ports=[*_ports("UDP", 53), *_ports("TCP", 53)],
    )


def network_policies() -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """The specs of the monitoring namespace's policies, by role (see the module docstring)."""
    same_namespace = _net.NetworkPolicyPeerArgs(pod_selector=_pods())
    every_namespace = _net.NetworkPolicyPeerArgs(namespace_selector=_pods())
    return {
        "default-deny": _net.NetworkPolicySpecArgs(pod_selector=_pods(), policy_types=["Ingress", "Egress"]),
        "allow-monitoring": _net.NetworkPolicySpecArgs(
            pod_selector=_pods(),
            policy_types=["Ingress", "Egress"],
            ingress=[_net.NetworkPolicyIngressRuleArgs(from_=[same_namespace])],
            egress=[
                _net.NetworkPolicyEgressRuleArgs(to=[same_namespace]),
                dns_egress(),
                _net.NetworkPolicyEgressRuleArgs(to=[_anywhere()], ports=_ports("TCP", 443)),
            ],
        ),
        "allow-otlp": _net.NetworkPolicySpecArgs(
            pod_selector=_pods(COLLECTOR_PODS),
            policy_types=["Ingress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(from_=[every_namespace], ports=_ports("TCP", 4317, 4318))
            ],
        ),
        "allow-operator-webhook": _net.NetworkPolicySpecArgs(
            pod_selector=_pods(OPERATOR_PODS),
            policy_types=["Ingress"],
            ingress=[
                _net.NetworkPolicyIngressRuleArgs(
                    from_=[_net.NetworkPolicyPeerArgs(ip_block=_net.IPBlockArgs(cidr="0.0.0.0/0"))],
                    ports=_ports("TCP", OPERATOR_WEBHOOK_PORT),
                )
            ],
        ),
        "allow-prometheus-scrapes": _net.NetworkPolicySpecArgs(
            pod_selector=_pods(PROMETHEUS_PODS),
            policy_types=["Egress"],
            egress=[
                _net.NetworkPolicyEgressRuleArgs(to=[every_namespace]),
                _net.NetworkPolicyEgressRuleArgs(to=[_anywhere()], ports=_ports("TCP", 9100, 10250)),
            ],
        ),
    }
