"""Checks on internet-facing load balancers declared through Kubernetes: TLS, a TLS 1.3 policy, a WAF.

The AWS Load Balancer Controller builds a load balancer from an Ingress's annotations, except where
its IngressClass's IngressClassParams set a field: then the controller ignores the matching
annotation (kubernetes-sigs/aws-load-balancer-controller v3.5.0, docs/guide/ingress/ingress_class.md,
sections spec.scheme, spec.certificateArn, spec.sslPolicy, spec.wafv2AclArn). So an internet-facing
load balancer is declared either by IngressClassParams with `scheme: internet-facing` (what
`components.edge` does) or by an Ingress annotated with that scheme; each must carry a certificate,
a TLS 1.3 security policy and a WAFv2 web ACL (`none` is the documented way to detach one). A Service of type
LoadBalancer that is internet-facing makes an NLB or a Classic Load Balancer, neither of which can
have a WAFv2 web ACL, so it is refused outright.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies._props import get, is_set, items, mapping

__all__ = [
    "INGRESS",
    "INGRESS_CLASS_PARAMS",
    "SERVICE",
    "check_edge",
    "check_ingress_class_params_edge",
    "check_ingress_edge",
    "check_service_not_internet_facing",
]

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
INGRESS_CLASS_PARAMS = "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams"
SERVICE = "kubernetes:core/v1:Service"

_TLS13 = "ELBSecurityPolicy-TLS13-"
_ALB = "alb.ingress.kubernetes.io/"
_SERVICE_SCHEME = "service.beta.kubernetes.io/aws-load-balancer-scheme"


def _problems(where: str, *, certificate: bool, policy: Any, waf: bool) -> list[str]:
    problems = []
    if not certificate:
        problems.append(
            f"{where}: certificate is None on an internet-facing load balancer; allowed: an ACM "
            "certificate ARN (certificateArn / the certificate-arn annotation)"
        )
    if not (isinstance(policy, str) and policy.startswith(_TLS13)):
        problems.append(
            f"{where}: sslPolicy is {policy!r}; allowed: an ELBSecurityPolicy-TLS13-* policy "
            "(e.g. ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09)"
        )
    if not waf:
        problems.append(
            f"{where}: wafv2AclArn is None on an internet-facing load balancer; allowed: a regional "
            "WAFv2 web ACL (wafv2AclArn / the wafv2-acl-arn annotation)"
        )
    return problems


def _waf(holder: Mapping[str, Any], *keys: str) -> bool:
    return any(is_set(holder, k) and get(holder, k) != "none" for k in keys)


def check_edge(resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The check of whichever of the two kinds `resource_type` is."""
    if resource_type == INGRESS_CLASS_PARAMS:
        return check_ingress_class_params_edge(resource_type, props, config)
    return check_ingress_edge(resource_type, props, config)


def check_ingress_class_params_edge(_: str, props: Mapping[str, Any], __: Mapping[str, Any]) -> list[str]:
    spec = mapping(get(props, "spec"))
    if get(spec, "scheme") != "internet-facing":
        return []
    name = get(props, "metadata", "name")
    return _problems(
        f"IngressClassParams {name}",
        certificate=bool(items(get(spec, "certificateArn"))),
        policy=get(spec, "sslPolicy"),
        waf=_waf(spec, "wafv2AclArn", "wafv2AclName"),
    )


def check_ingress_edge(_: str, props: Mapping[str, Any], __: Mapping[str, Any]) -> list[str]:
    annotations = mapping(get(props, "metadata", "annotations"))
    if annotations.get(f"{_ALB}scheme") != "internet-facing":
        return []  # the scheme comes from its class's params, checked there, or it is internal
    name = get(props, "metadata", "name")
    return _problems(
        f"Ingress {name}",
        certificate=is_set(annotations, f"{_ALB}certificate-arn") or bool(items(get(props, "spec", "tls"))),
        policy=annotations.get(f"{_ALB}ssl-policy"),
        waf=_waf(annotations, f"{_ALB}wafv2-acl-arn", f"{_ALB}wafv2-acl-name"),
    )


def check_service_not_internet_facing(_: str, props: Mapping[str, Any], __: Mapping[str, Any]) -> list[str]:
    if get(props, "spec", "type") != "LoadBalancer":
        return []
    scheme = mapping(get(props, "metadata", "annotations")).get(_SERVICE_SCHEME)
    if scheme == "internal":
        return []
    name = get(props, "metadata", "name")
    return [
        f"Service {name}: type LoadBalancer with scheme {scheme or 'unset (internet-facing on most setups)'} "
        "makes a load balancer no WAFv2 web ACL can protect; allowed: annotate "
        f"{_SERVICE_SCHEME}: internal, or serve it through an Ingress of the edge"
    ]
