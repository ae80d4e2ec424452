"""Pricing functions of Kubernetes objects and Helm charts: what makes AWS create something
(load balancers, EBS volumes). Workloads run on the nodes, priced with the node group."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from stacks.cost.lines import Context, Line, claim_lines, lb_lines
from stacks.cost.pricing import CostError


def k8s_service(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    ann = (r["inputs"].get("metadata") or {}).get("annotations") or {}
    # The AWS Load Balancer Controller makes an NLB for `external`/`nlb-ip`; the in-tree cloud
    # provider an NLB for `nlb`, else a Classic Load Balancer.
    lb_type = ann.get("service.beta.kubernetes.io/aws-load-balancer-type", "")
    return lb_lines(ctx, "nlb" if lb_type in ("external", "nlb", "nlb-ip") else "clb")


def _alb_class_group(ctx: Context, cls: str) -> tuple[bool, str | None]:
    """Whether IngressClass `cls` is the AWS Load Balancer Controller's, and the IngressGroup its
    IngressClassParams fix (the edge's `public` class puts every Ingress in one group)."""

    def named(kind: str, name: str) -> dict[str, Any] | None:
        return next(
            (
                x["inputs"]
                for x in ctx.by_urn.values()
                if x["type"].endswith(f":{kind}") and (x["inputs"].get("metadata") or {}).get("name") == name
            ),
            None,
        )

    if cls == "alb":
        return True, None
    found = named("IngressClass", cls)
    spec = (found or {}).get("spec") or {}
    if spec.get("controller") != "ingress.k8s.aws/alb":
        return False, None
    params = named("IngressClassParams", (spec.get("parameters") or {}).get("name", ""))
    return True, (((params or {}).get("spec") or {}).get("group") or {}).get("name")


def k8s_ingress(ctx: Context, r: dict[str, Any]) -> list[Line]:
    manifest = r["inputs"]
    ann = (manifest.get("metadata") or {}).get("annotations") or {}
    cls = (manifest.get("spec") or {}).get("ingressClassName") or ann.get("kubernetes.io/ingress.class")
    is_alb, class_group = _alb_class_group(ctx, str(cls))
    if not is_alb:
        return []  # other controllers sit behind a Service of type LoadBalancer, priced there
    group = class_group or ann.get("alb.ingress.kubernetes.io/group.name")
    if group:
        if f"alb-group:{group}" in ctx.seen:
            return []  # Ingresses of one group share one ALB, priced with the first
        ctx.seen.add(f"alb-group:{group}")
    return lb_lines(ctx, "alb")


def k8s_pvc(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return claim_lines(ctx, "Volume", size, 1, spec.get("storageClassName"))


def k8s_statefulset(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    lines: list[Line] = []
    for tpl in spec.get("volumeClaimTemplates") or []:
        tspec = tpl.get("spec") or {}
        size = ((tspec.get("resources") or {}).get("requests") or {}).get("storage")
        what = f"Volumes {(tpl.get('metadata') or {}).get('name', '')}".strip()
        lines += claim_lines(ctx, what, size, float(spec.get("replicas", 1)), tspec.get("storageClassName"))
    return lines


# Helm charts: the volumes a chart's values make it claim. Charts not listed are unpriced.


def _get(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _claim_template(
    ctx: Context, values: Mapping[str, Any], what: str, path: str, replicas: float
) -> list[Line]:
    tpl = _get(values, path)
    if not tpl:
        return []  # no storage spec: the chart mounts an emptyDir
    spec = tpl.get("spec") or {}
    size = _get(spec, "resources.requests.storage")
    return claim_lines(ctx, what, size, replicas, spec.get("storageClassName"))


def _kube_prometheus_stack(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
    # Chart defaults (prometheus-community/helm-charts kube-prometheus-stack values.yaml): one
    # replica and one shard of each, no storage spec, Grafana persistence off.
    lines: list[Line] = []
    if _get(v, "prometheus.enabled", True):
        n = float(_get(v, "prometheus.prometheusSpec.replicas", 1)) * float(
            _get(v, "prometheus.prometheusSpec.shards", 1) or 1
        )
        lines += _claim_template(
            ctx, v, "Prometheus volumes", "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate", n
        )
    if _get(v, "alertmanager.enabled", True):
        n = float(_get(v, "alertmanager.alertmanagerSpec.replicas", 1))
        lines += _claim_template(
            ctx, v, "Alertmanager volumes", "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate", n
        )
    # The grafana subchart's defaults (grafana-community/helm-charts grafana values.yaml): one
    # replica, persistence off, type pvc, 10Gi.
    grafana_pvc = (
        _get(v, "grafana.persistence.enabled", False) and _get(v, "grafana.persistence.type", "pvc") == "pvc"
    )
    if _get(v, "grafana.enabled", True) and grafana_pvc:
        n = float(_get(v, "grafana.replicas", 1))
        lines += claim_lines(ctx, "Grafana volume", _get(v, "grafana.persistence.size", "10Gi"), n,
                             _get(v, "grafana.persistence.storageClassName"))  # fmt: skip
    return lines


def _loki(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
    lines: list[Line] = []
    for target in ("singleBinary", "write", "backend"):
        replicas = _get(v, f"{target}.replicas")
        if replicas == 0:
            continue
        persistence = _get(v, f"{target}.persistence") or {}
        enabled = persistence.get("enabled", persistence.get("volumeClaimsEnabled"))
        if replicas is None or enabled is None or (enabled and "size" not in persistence):
            # The chart's defaults for these moved between releases: price only what is explicit.
            raise CostError(
                f"loki: values {target}.replicas and {target}.persistence.enabled/size must be set "
                "explicitly to price its volumes"
            )
        if enabled:
            lines += claim_lines(ctx, f"Loki {target} volumes", persistence["size"], float(replicas),
                                 persistence.get("storageClass"))  # fmt: skip
    return lines


def _cloudwatch_exporter(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
    """The CloudWatch requests YACE makes: every `scraping-interval` seconds (default 300,
    cmd/yace/main.go at v0.67.0), one GetMetricStatistics per metric of each static job and
    region (pkg/job/static.go). A count the configuration fixes, so no usage figure is needed."""
    if any(_claims_storage(v)):
        raise CostError("prometheus-yet-another-cloudwatch-exporter: its values ask for volumes")
    config = yaml.safe_load(str(v.get("config") or "")) or {}
    if set(config) - {"apiVersion", "sts-region", "static"}:
        raise CostError(
            "prometheus-yet-another-cloudwatch-exporter: only static jobs are priced "
            f"(config has {sorted(set(config) - {'apiVersion', 'sts-region'})})"
        )
    per_round = sum(len(job.get("metrics") or []) * len(job.get("regions") or []) for job in config["static"])
    interval = float((_get(v, "extraArgs") or {}).get("scraping-interval", 300))
    requests = per_round * ctx.hours * 3600 / interval
    return [ctx.line("CloudWatch GetMetricStatistics requests", requests / 1000, "cloudwatch.api.requests")]


def _stateless(chart: str) -> Callable[[Context, Mapping[str, Any]], list[Line]]:
    def price(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
        if any(_claims_storage(v)):
            raise CostError(
                f"{chart}: its values ask for persistent volumes, which the registry does not price yet"
            )
        return []

    return price


def _claims_storage(node: Any) -> Iterator[bool]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            claims = key in ("volumeClaimTemplate", "volumeClaimTemplates") and bool(value)
            if claims or (key == "persistence" and isinstance(value, Mapping) and value.get("enabled")):
                yield True
            else:
                yield from _claims_storage(value)
    elif isinstance(node, list):
        for item in node:
            yield from _claims_storage(item)


CHARTS: dict[str, Callable[[Context, Mapping[str, Any]], list[Line]]] = {
    "kube-prometheus-stack": _kube_prometheus_stack,
    "loki": _loki,
    "alloy": _stateless("alloy"),
    "jaeger": _stateless("jaeger"),  # in-memory trace storage in these stacks
    "opentelemetry-collector": _stateless("opentelemetry-collector"),
    "aws-load-balancer-controller": _stateless("aws-load-balancer-controller"),
    "external-dns": _stateless("external-dns"),
    "metrics-server": _stateless("metrics-server"),
    "karpenter": _stateless("karpenter"),
    "karpenter-crd": _stateless("karpenter-crd"),
    "kyverno": _stateless("kyverno"),  # controllers only: policy reports live in etcd
    "external-secrets": _stateless("external-secrets"),
    "prometheus-yet-another-cloudwatch-exporter": _cloudwatch_exporter,
}


class UnpricedChartError(Exception):
    """A Helm chart with no entry in CHARTS."""


def helm_release(ctx: Context, r: dict[str, Any]) -> list[Line]:
    # An OCI reference (oci://public.ecr.aws/karpenter/karpenter) names the chart last.
    chart = str(r["inputs"].get("chart", "")).rsplit("/", 1)[-1]
    if chart not in CHARTS:
        raise UnpricedChartError(chart)
    return CHARTS[chart](ctx, r["inputs"].get("values") or {})
