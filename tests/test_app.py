"""Tests of AppService: each default and override in the synthesised objects, and each failure."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pydantic import ValidationError

from components.app import AppService, AppServiceArgs, EgressRule, PublicEntry, parse_quantity
from components.testing import SECRET, SynthResult, synth
from tests._tools import run
from tests.conftest import config_problems, synth_with

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/lmagent-api@{DIGEST}"
LABEL_KEYS = {
    f"app.kubernetes.io/{k}" for k in ("name", "instance", "version", "component", "part-of", "managed-by")
}


def synth_app(
    args: AppServiceArgs | None = None,
    *,
    name: str = "lmagent-api",
    image: str | None = IMAGE,
    **keywords: Any,
) -> SynthResult:
    """Synthesise one AppService with an explicit Kubernetes provider, as a consumer would."""

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        AppService(name, args or AppServiceArgs(), provider=provider, image=image, **keywords)

    return synth(program, project="lmagent-infra", stack="staging")


@pytest.fixture(scope="module")
def default_app() -> SynthResult:
    return synth_app()


def pod_spec(result: SynthResult, name: str = "lmagent-api") -> dict[str, Any]:
    spec: dict[str, Any] = result.manifest("Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(result: SynthResult) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(result)["containers"]
    assert len(containers) == 1
    return containers[0]


def allow_policy(result: SynthResult) -> dict[str, Any]:
    spec: dict[str, Any] = result.manifest("NetworkPolicy", "lmagent-api-allow")["spec"]
    return spec


# ---------------------------------------------------------------------------------------------
# What it declares, and the contract of names


def test_declares_every_object_of_a_production_workload(default_app: SynthResult) -> None:
    kinds = sorted((m["kind"], m["metadata"]["name"]) for m in default_app.manifests)
    assert kinds == [
        ("ConfigMap", "lmagent-api-config"),
        ("ConfigMap", "lmagent-api-dashboard-red"),
        ("ConfigMap", "lmagent-api-dashboard-slo"),
        ("Deployment", "lmagent-api"),
        ("HorizontalPodAutoscaler", "lmagent-api"),
        ("Namespace", "lmagent"),
        ("NetworkPolicy", "default-deny"),
        ("NetworkPolicy", "lmagent-api-allow"),
        ("PodDisruptionBudget", "lmagent-api"),
        ("PrometheusRule", "lmagent-api"),
        ("Service", "lmagent-api"),
        ("ServiceAccount", "lmagent-api"),
        ("ServiceMonitor", "lmagent-api"),
    ]


def test_children_are_named_after_the_app_and_parented_to_it(default_app: SynthResult) -> None:
    (component,) = default_app.of_type("lmagent:components:AppService")
    children = {r["name"] for r in default_app.children_of(component["urn"])}
    assert children == {
        f"lmagent-api-{role}"
        for role in (
            "namespace",
            "serviceaccount",
            "config",
            "deployment",
            "service",
            "hpa",
            "pdb",
            "deny-all",
            "allow",
            "servicemonitor",
            "rules",
            "dashboard-red",
            "dashboard-slo",
        )
    }


def test_every_child_uses_the_given_kubernetes_provider(default_app: SynthResult) -> None:
    provider = default_app.named("k8s")["urn"]
    children = [r for r in default_app.resources if r["type"].startswith("kubernetes:") and r["custom"]]
    children = [r for r in children if not r["type"].startswith("pulumi:providers")]
    assert children
    assert {r["provider"] for r in children} == {provider}


def test_every_object_carries_the_recommended_labels_and_a_namespace(default_app: SynthResult) -> None:
    for m in default_app.manifests:
        labels = m["metadata"]["labels"]
        assert set(labels) >= LABEL_KEYS, m["kind"]
        assert labels["app.kubernetes.io/name"] == "lmagent-api"
        assert labels["app.kubernetes.io/instance"] == "lmagent-api-staging"
        assert labels["app.kubernetes.io/component"] == "api"
        assert labels["app.kubernetes.io/part-of"] == "lmagent"
        assert labels["app.kubernetes.io/managed-by"] == "pulumi"
        if m["kind"] != "Namespace":
            assert m["metadata"]["namespace"] == "lmagent", m["kind"]


def test_version_label_is_the_digest_prefix_for_an_image_by_digest_only(default_app: SynthResult) -> None:
    labels = default_app.manifest("Deployment", "lmagent-api")["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "sha256-abababababab"


def test_version_label_is_the_tag_when_the_image_has_one() -> None:
    result = synth_app(image=f"registry.example:5000/team/api:1.4.2@{DIGEST}")
    labels = result.manifest("Service", "lmagent-api")["metadata"]["labels"]
    assert labels["app.kubernetes.io/version"] == "1.4.2"


def test_label_overrides_reach_every_object() -> None:
    result = synth_app(AppServiceArgs(component="worker", part_of="billing", version="2026.11"))
    for m in result.manifests:
        labels = m["metadata"]["labels"]
        assert (labels["app.kubernetes.io/component"], labels["app.kubernetes.io/part-of"]) == (
            "worker",
            "billing",
        )
        assert labels["app.kubernetes.io/version"] == "2026.11"


# ---------------------------------------------------------------------------------------------
# Namespace and service account


def test_namespace_enforces_restricted_pod_security(default_app: SynthResult) -> None:
    labels = default_app.manifest("Namespace", "lmagent")["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.34"


def test_namespace_is_protected_by_default_and_not_when_asked(default_app: SynthResult) -> None:
    assert default_app.named("lmagent-api-namespace")["options"]["protect"] is True
    assert synth_app(protect=False).named("lmagent-api-namespace")["options"]["protect"] is False


def test_an_existing_namespace_is_used_when_create_namespace_is_false() -> None:
    result = synth_app(AppServiceArgs(namespace="shared", create_namespace=False))
    assert not [m for m in result.manifests if m["kind"] == "Namespace"]
    assert {m["metadata"]["namespace"] for m in result.manifests} == {"shared"}


def test_service_account_mounts_no_token_and_has_no_role_by_default(default_app: SynthResult) -> None:
    account = default_app.manifest("ServiceAccount", "lmagent-api")
    assert account["automountServiceAccountToken"] is False
    assert "annotations" not in account["metadata"]


def test_service_account_is_annotated_with_the_irsa_role_when_given() -> None:
    role = "arn:aws:iam::123456789012:role/lmagent-api"
    account = synth_app(role_arn=role).manifest("ServiceAccount", "lmagent-api")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}


# ---------------------------------------------------------------------------------------------
# Deployment


def test_deployment_runs_the_image_by_digest_and_always_pulls(default_app: SynthResult) -> None:
    c = container(default_app)
    assert c["image"] == IMAGE
    assert c["imagePullPolicy"] == "Always"


def test_image_in_args_wins_over_the_image_keyword() -> None:
    own = f"public.ecr.aws/team/other@{DIGEST}"
    assert container(synth_app(AppServiceArgs(image=own)))["image"] == own


def test_fails_when_no_image_is_given() -> None:
    with pytest.raises(ValueError, match=r"image: app 'lmagent-api' has no image"):
        synth_app(image=None)


def test_container_requests_and_limits_default_and_override(default_app: SynthResult) -> None:
    assert container(default_app)["resources"] == {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    args = AppServiceArgs.model_validate({"resources": {"limits": {"memory": "1Gi"}}})
    assert container(synth_app(args))["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}


def test_pod_and_container_are_hardened(default_app: SynthResult) -> None:
    pod = pod_spec(default_app)
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "lmagent-api"
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    sc = container(default_app)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["runAsNonRoot"] is True
    assert sc["runAsUser"] > 10000 and sc["runAsGroup"] > 10000
    assert sc["capabilities"] == {"drop": ["ALL"]}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(key)


def test_a_read_only_root_gets_a_writable_tmp(default_app: SynthResult) -> None:
    assert container(default_app)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod_spec(default_app)["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_probes_are_distinct_and_check_the_named_port(default_app: SynthResult) -> None:
    c = container(default_app)
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    startup, ready, live = c["startupProbe"], c["readinessProbe"], c["livenessProbe"]
    assert ready["httpGet"] == {"path": "/ready", "port": "http"}
    assert live["httpGet"] == {"path": "/health", "port": "http"}
    assert startup["httpGet"] == {"path": "/health", "port": "http"}
    assert ready != live
    # The startup probe gives the process a minute before liveness may restart it.
    assert startup["periodSeconds"] * startup["failureThreshold"] == 60


def test_probe_timings_and_paths_can_be_overridden() -> None:
    args = AppServiceArgs.model_validate(
        {"port": 9000, "probes": {"readiness": {"path": "/readyz", "periodSeconds": 3, "timeoutSeconds": 1}}}
    )
    c = container(synth_app(args))
    assert c["ports"][0]["containerPort"] == 9000
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert (c["readinessProbe"]["periodSeconds"], c["readinessProbe"]["timeoutSeconds"]) == (3, 1)
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"


def test_replicas_are_left_to_the_hpa_by_default(default_app: SynthResult) -> None:
    assert "replicas" not in default_app.manifest("Deployment", "lmagent-api")["spec"]


def test_replicas_are_set_and_no_hpa_exists_when_autoscaling_is_off() -> None:
    result = synth_app(AppServiceArgs.model_validate({"replicas": 3, "autoscaling": {"enabled": False}}))
    assert result.manifest("Deployment", "lmagent-api")["spec"]["replicas"] == 3
    assert not [m for m in result.manifests if m["kind"] == "HorizontalPodAutoscaler"]


def test_rolling_update_never_takes_a_pod_away_first(default_app: SynthResult) -> None:
    strategy = default_app.manifest("Deployment", "lmagent-api")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_pods_pause_before_sigterm_within_the_grace_period(default_app: SynthResult) -> None:
    assert container(default_app)["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    assert pod_spec(default_app)["terminationGracePeriodSeconds"] == 45


def test_no_pre_stop_pause_when_set_to_zero() -> None:
    result = synth_app(AppServiceArgs(pre_stop_sleep_seconds=0, termination_grace_period_seconds=20))
    assert "lifecycle" not in container(result)
    assert pod_spec(result)["terminationGracePeriodSeconds"] == 20


def test_pods_spread_over_zones_and_prefer_distinct_nodes(default_app: SynthResult) -> None:
    pod = pod_spec(default_app)
    selector = default_app.manifest("Deployment", "lmagent-api")["spec"]["selector"]
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"] == selector
    (anti,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert anti["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert anti["podAffinityTerm"]["labelSelector"] == selector


def test_pods_may_run_on_any_node_unless_asked_for_karpenter_nodes(default_app: SynthResult) -> None:
    # Default: no node constraint, so a cluster without Karpenter still schedules the pods.
    assert "nodeAffinity" not in pod_spec(default_app)["affinity"]
    assert "nodeSelector" not in pod_spec(default_app)
    pod = pod_spec(synth_app(karpenter_nodes=True))
    required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "karpenter.sh/nodepool", "operator": "Exists"}]}]
    }
    assert "tolerations" not in pod
    # The zone spread and the node anti-affinity stay as they were.
    assert pod["affinity"]["podAntiAffinity"] == pod_spec(default_app)["affinity"]["podAntiAffinity"]


def test_selector_leaves_out_labels_that_change_between_releases(default_app: SynthResult) -> None:
    selector = default_app.manifest("Deployment", "lmagent-api")["spec"]["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "lmagent-api",
        "app.kubernetes.io/instance": "lmagent-api-staging",
    }


# ---------------------------------------------------------------------------------------------
# Config and secrets


def test_plain_env_reaches_the_container_through_the_config_map() -> None:
    args = AppServiceArgs(env={"LOG_LEVEL": "debug"})
    result = synth_app(args, otlp_endpoint="http://collector.monitoring:4318")
    data = result.manifest("ConfigMap", "lmagent-api-config")["data"]
    assert data == {
        "LOG_LEVEL": "debug",
        "OTEL_SERVICE_NAME": "lmagent-api",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.monitoring:4318",
    }
    assert container(result)["envFrom"] == [{"configMapRef": {"name": "lmagent-api-config"}}]


def test_otlp_endpoint_in_args_wins_and_none_leaves_it_unset() -> None:
    args = AppServiceArgs(otlp_endpoint="http://otel.example:4318")
    data = synth_app(args, otlp_endpoint="http://ignored:4318").manifest("ConfigMap", "lmagent-api-config")
    assert data["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel.example:4318"
    bare = synth_app().manifest("ConfigMap", "lmagent-api-config")["data"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in bare


def test_a_config_change_changes_the_pod_template(default_app: SynthResult) -> None:
    def checksum(result: SynthResult) -> str:
        annotations = result.manifest("Deployment", "lmagent-api")["spec"]["template"]["metadata"]
        return str(annotations["annotations"]["checksum/config"])

    assert checksum(default_app) != checksum(synth_app(AppServiceArgs(env={"LOG_LEVEL": "debug"})))
    assert checksum(default_app) == checksum(synth_app())


def test_secrets_revision_is_a_pod_template_annotation() -> None:
    template = synth_app(AppServiceArgs(secrets_revision="2026-11-27")).manifest("Deployment", "lmagent-api")
    assert template["spec"]["template"]["metadata"]["annotations"]["lmagent.dev/secrets-revision"] == (
        "2026-11-27"
    )


def test_secret_env_goes_through_a_secret_and_never_as_plain_text() -> None:
    value = "postgresql://app:hunter2@db.internal:5432/app"
    args = AppServiceArgs(secret_env={"DATABASE_URL": "lmagentApiDatabaseUrl"})
    result = synth_app(args, secrets={"lmagentApiDatabaseUrl": value})
    secret = result.manifest("Secret", "lmagent-api-secrets")
    assert secret["stringData"] == {"DATABASE_URL": SECRET}
    assert container(result)["env"] == [
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": "lmagent-api-secrets", "key": "DATABASE_URL"}},
        }
    ]
    assert "hunter2" not in result.to_json()


def test_a_plain_string_secret_value_is_still_recorded_as_secret() -> None:
    # Whatever the caller passes, the component wraps it, so the engine never sees plain text.
    args = AppServiceArgs(secret_env={"API_KEY": "apiKey"})
    result = synth_app(args, secrets={"apiKey": pulumi.Output.from_input("plain-value")})
    assert result.manifest("Secret", "lmagent-api-secrets")["stringData"] == {"API_KEY": SECRET}


def test_no_secret_object_when_the_app_has_no_secret_env(default_app: SynthResult) -> None:
    assert not [m for m in default_app.manifests if m["kind"] == "Secret"]
    assert "env" not in container(default_app)


def test_fails_when_a_secret_value_is_missing() -> None:
    args = AppServiceArgs(secret_env={"DATABASE_URL": "lmagentApiDatabaseUrl"})
    with pytest.raises(ValueError, match=r"secrets: .*DATABASE_URL -> lmagentApiDatabaseUrl"):
        synth_app(args, secrets={"other": "x"})


@pytest.mark.parametrize(
    "keywords",
    [{"image": None}, {"secrets": {}}],
    ids=["no image", "missing secret"],
)
def test_a_rejected_app_registers_nothing(keywords: dict[str, Any]) -> None:
    args = AppServiceArgs(secret_env={"DATABASE_URL": "lmagentApiDatabaseUrl"})
    errors: list[Exception] = []

    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        try:
            AppService("lmagent-api", args, provider=provider, **{"image": IMAGE, **keywords})
        except ValueError as err:
            errors.append(err)

    result = synth(program, project="lmagent-infra", stack="staging")
    assert len(errors) == 1
    assert [r["type"] for r in result.resources] == ["pulumi:providers:kubernetes"]


# ---------------------------------------------------------------------------------------------
# Service, scaling and disruption


def test_service_maps_port_80_to_the_http_port(default_app: SynthResult) -> None:
    spec = default_app.manifest("Service", "lmagent-api")["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert (
        spec["selector"]
        == default_app.manifest("Deployment", "lmagent-api")["spec"]["selector"]["matchLabels"]
    )


def test_hpa_scales_the_deployment_on_cpu_and_memory(default_app: SynthResult) -> None:
    spec = default_app.manifest("HorizontalPodAutoscaler", "lmagent-api")["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "lmagent-api"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in spec["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }


def test_hpa_bounds_and_targets_can_be_overridden() -> None:
    args = AppServiceArgs.model_validate(
        {"autoscaling": {"minReplicas": 3, "maxReplicas": 12, "cpuUtilization": 60}}
    )
    spec = synth_app(args).manifest("HorizontalPodAutoscaler", "lmagent-api")["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 12)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


def test_pdb_lets_one_pod_go_and_never_waits_for_unhealthy_ones(default_app: SynthResult) -> None:
    spec = default_app.manifest("PodDisruptionBudget", "lmagent-api")["spec"]
    assert spec["maxUnavailable"] == 1
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert spec["selector"] == default_app.manifest("Deployment", "lmagent-api")["spec"]["selector"]


def test_disruption_budget_can_allow_more_pods_to_go() -> None:
    args = AppServiceArgs.model_validate(
        {"autoscaling": {"minReplicas": 4}, "disruptionBudget": {"maxUnavailable": 2}}
    )
    assert synth_app(args).manifest("PodDisruptionBudget", "lmagent-api")["spec"]["maxUnavailable"] == 2


# ---------------------------------------------------------------------------------------------
# Network policies


def test_every_pod_of_the_namespace_it_creates_is_denied_everything_not_allowed(
    default_app: SynthResult,
) -> None:
    deny = default_app.manifest("NetworkPolicy", "default-deny", "lmagent")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_in_a_namespace_it_does_not_create_only_its_own_pods_are_denied() -> None:
    result = synth_app(AppServiceArgs(create_namespace=False))
    deny = result.manifest("NetworkPolicy", "lmagent-api-default-deny")["spec"]
    selector = result.manifest("Deployment", "lmagent-api")["spec"]["selector"]
    assert deny == {"podSelector": selector, "policyTypes": ["Ingress", "Egress"]}
    assert not [m for m in result.manifests if m["metadata"]["name"] == "default-deny"]


def test_ingress_is_allowed_on_the_http_port_from_the_listed_namespaces(default_app: SynthResult) -> None:
    (rule,) = allow_policy(default_app)["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    sources = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in rule["from"]]
    # No `ingress-nginx`: nothing creates it; public apps admit their load balancer by address.
    assert sources == ["monitoring"]


def test_no_ingress_rule_when_no_namespace_may_call_in() -> None:
    spec = allow_policy(synth_app(AppServiceArgs(ingress_from=[])))
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert not spec.get("ingress")


def test_egress_allows_dns_the_collector_and_aws_apis_by_default(default_app: SynthResult) -> None:
    dns, otlp, https = allow_policy(default_app)["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert dns["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]
    assert otlp["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert [p["port"] for p in otlp["ports"]] == [4317, 4318]
    assert https["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]


def test_extra_egress_adds_a_database_to_the_defaults() -> None:
    args = AppServiceArgs.model_validate(
        {"extraEgress": [{"description": "database", "cidrs": ["10.0.64.0/20"], "ports": [5432]}]}
    )
    rules = allow_policy(synth_app(args))["egress"]
    assert len(rules) == 4
    assert rules[-1] == {
        "to": [{"ipBlock": {"cidr": "10.0.64.0/20"}}],
        "ports": [{"port": 5432, "protocol": "TCP"}],
    }


def test_egress_replaces_the_default_destinations() -> None:
    args = AppServiceArgs.model_validate({"egress": [{"namespace": "tracing", "ports": [4317]}]})
    dns, only = allow_policy(synth_app(args))["egress"]
    assert dns["ports"][0]["port"] == 53
    assert only["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "tracing"}


# ---------------------------------------------------------------------------------------------
# Observability


def test_service_monitor_scrapes_metrics_with_the_label_contract(default_app: SynthResult) -> None:
    monitor = default_app.manifest("ServiceMonitor", "lmagent-api")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    # No selector label by default: the platform's Prometheus selects in every namespace.
    assert "release" not in monitor["metadata"]["labels"]
    spec = monitor["spec"]
    service = default_app.manifest("Service", "lmagent-api")
    # job = the Service's app.kubernetes.io/name = the service name the rules select on.
    assert service["metadata"]["labels"][spec["jobLabel"]] == "lmagent-api"
    assert spec["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert spec["namespaceSelector"] == {"matchNames": ["lmagent"]}
    assert spec["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s"}]


def test_scrape_interval_and_metrics_path_can_be_overridden() -> None:
    args = AppServiceArgs(scrape_interval="15s", metrics_path="/internal/metrics")
    (endpoint,) = synth_app(args).manifest("ServiceMonitor", "lmagent-api")["spec"]["endpoints"]
    assert endpoint == {"port": "http", "path": "/internal/metrics", "interval": "15s"}


def test_monitoring_labels_are_added_to_the_monitoring_objects_only() -> None:
    args = AppServiceArgs(monitoring_labels={"release": "monitoring"})
    result = synth_app(args)
    for kind in ("ServiceMonitor", "PrometheusRule"):
        assert result.manifest(kind, "lmagent-api")["metadata"]["labels"]["release"] == "monitoring"
    assert "release" not in result.manifest("Deployment", "lmagent-api")["metadata"]["labels"]


def _rule_names(result: SynthResult) -> list[str]:
    groups = result.manifest("PrometheusRule", "lmagent-api")["spec"]["groups"]
    return [r.get("alert") or r["record"] for g in groups for r in g["rules"]]


def test_prometheus_rule_holds_the_runbook_alerts_and_slo_burn_rates(default_app: SynthResult) -> None:
    groups = default_app.manifest("PrometheusRule", "lmagent-api")["spec"]["groups"]
    assert [g["name"] for g in groups] == [
        "lmagent-api-alerts",
        "lmagent-api-slo-availability",
        "lmagent-api-slo-latency",
        "lmagent-api-slo-error_rate",
    ]
    names = _rule_names(default_app)
    for alert in ("HighErrorRate", "HighLatency", "PodCrashLooping", "ErrorBudgetBurnFast"):
        assert alert in names
    runbooks = {r["annotations"]["runbook_url"] for g in groups for r in g["rules"] if "alert" in r}
    assert "https://runbooks.example.com/lmagent/HighErrorRate" in runbooks


def test_slos_and_thresholds_come_from_the_args() -> None:
    args = AppServiceArgs.model_validate(
        {
            "slos": [{"name": "availability", "target": "99.5%", "sli": {"type": "ratio"}}],
            "alerts": {"errorRatio": 0.02},
            "runbookBaseUrl": "https://wiki.example.org/rb",
        }
    )
    groups = synth_app(args).manifest("PrometheusRule", "lmagent-api")["spec"]["groups"]
    assert [g["name"] for g in groups] == ["lmagent-api-alerts", "lmagent-api-slo-availability"]
    high = next(r for r in groups[0]["rules"] if r["alert"] == "HighErrorRate")
    assert high["expr"].endswith("> 0.02")
    assert high["annotations"]["runbook_url"] == "https://wiki.example.org/rb/HighErrorRate"


def test_prometheus_rules_pass_promtool(default_app: SynthResult, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(default_app.manifest("PrometheusRule", "lmagent-api")["spec"]))
    checked = run("promtool", "check", "rules", rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_dashboards_are_config_maps_grafana_picks_up(default_app: SynthResult) -> None:
    for kind in ("red", "slo"):
        board = default_app.manifest("ConfigMap", f"lmagent-api-dashboard-{kind}")
        assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
        (text,) = board["data"].values()
        assert json.loads(text)["uid"] == f"lmagent-api-{kind}"


def test_no_dashboards_when_turned_off() -> None:
    result = synth_app(AppServiceArgs(dashboards=False))
    assert not [m for m in result.manifests if "dashboard" in m["metadata"]["name"]]


# ---------------------------------------------------------------------------------------------
# Args validation (the same model validates the stack file; see the config tests below)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", "0.25"),
        ("1", "1"),
        ("1.5", "1.5"),
        ("256Mi", "268435456"),
        ("1Gi", "1073741824"),
        ("2k", "2000"),
        ("1e3", "1000"),
    ],
)
def test_quantities_are_read_as_kubernetes_reads_them(text: str, value: str) -> None:
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["lots", "1.2.3", "Mi", "10 Mi", "-", ""])
def test_fails_when_a_quantity_is_not_one(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_fails_when_a_quantity_is_zero() -> None:
    with pytest.raises(ValidationError, match="must be greater than zero"):
        AppServiceArgs.model_validate({"resources": {"requests": {"cpu": "0"}}})


def test_fails_when_an_egress_rule_names_both_or_neither_destination() -> None:
    with pytest.raises(ValidationError, match="set exactly one of `cidrs` and `namespace`"):
        EgressRule(cidrs=["10.0.0.0/8"], namespace="db", ports=[5432])
    with pytest.raises(ValidationError, match="set exactly one of `cidrs` and `namespace`"):
        EgressRule(ports=[5432])


def test_fails_when_an_egress_cidr_is_not_a_network() -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.1/16' is not a network in CIDR notation"):
        EgressRule(cidrs=["10.0.0.1/16"], ports=[5432])


def test_fails_when_an_egress_exception_is_outside_its_cidr() -> None:
    with pytest.raises(ValidationError, match=r"exceptCidrs '192\.168\.0\.0/24' is not inside any of cidrs"):
        EgressRule(cidrs=["10.0.0.0/8"], except_cidrs=["192.168.0.0/24"], ports=[443])


def test_production_rules_apply_only_with_the_production_context() -> None:
    tagged = {"image": "registry.example/app:1.0", "replicas": 1, "autoscaling": {"minReplicas": 1}}
    AppServiceArgs.model_validate(tagged)  # a consumer's dev program: accepted
    with pytest.raises(ValidationError) as caught:
        AppServiceArgs.model_validate(tagged, context={"environment": "production"})
    assert {e["loc"] for e in caught.value.errors()} == {
        ("image",),
        ("replicas",),
        ("autoscaling", "minReplicas"),
    }


# ---------------------------------------------------------------------------------------------
# Failures in the stack file's words


def _problems(app: Mapping[str, Any], stack: str = "production") -> list[str]:
    return config_problems(stack, {"apps": {"lmagent-api": dict(app)}})


def _one(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


PREFIX = "Pulumi.production.yaml: lmagent-infra:apps.lmagent-api"


def test_fails_when_a_quantity_is_invalid_in_the_stack_file() -> None:
    line = _one(_problems({"resources": {"requests": {"cpu": "lots"}}}))
    assert line.startswith(f"{PREFIX}.resources.requests.cpu: 'lots' is not a Kubernetes quantity")
    assert line.endswith('(got "lots")')


def test_fails_when_a_limit_is_below_its_request() -> None:
    line = _one(_problems({"resources": {"limits": {"memory": "128Mi"}}}))
    assert line.startswith(f"{PREFIX}.resources: limits.memory '128Mi' is below requests.memory '256Mi'")


def test_fails_when_replicas_are_below_two_in_production() -> None:
    line = _one(_problems({"replicas": 1, "autoscaling": {"enabled": False}}))
    assert line == f"{PREFIX}.replicas: must be >= 2 in production, so one pod can fail or be drained (got 1)"


def test_fails_when_the_hpa_minimum_is_below_two_in_production() -> None:
    line = _one(_problems({"autoscaling": {"minReplicas": 1}}))
    assert line == (
        f"{PREFIX}.autoscaling.minReplicas: must be >= 2 in production, so one pod can fail or be "
        "drained (got 1)"
    )


def test_staging_may_run_a_single_pod() -> None:
    problems = config_problems(
        "staging", {"apps": {"lmagent-api": {"autoscaling": {"minReplicas": 1, "maxReplicas": 0}}}}
    )
    # Only the impossible bound is reported: one pod is allowed outside production.
    assert problems == [
        "Pulumi.staging.yaml: lmagent-infra:apps.lmagent-api.autoscaling.maxReplicas: must be >= 1 (got 0)"
    ]


def test_fails_when_the_image_has_no_digest_in_production() -> None:
    line = _one(_problems({"image": "registry.example/lmagent-api:1.0"}))
    assert line.startswith(f"{PREFIX}.image: must be pinned by digest in production")
    assert line.endswith('(got "registry.example/lmagent-api:1.0")')


def test_fails_when_the_image_is_not_a_reference() -> None:
    line = _one(_problems({"image": "Not An Image"}, stack="staging"))
    assert "lmagent-infra:apps.lmagent-api.image: 'Not An Image' is not an image reference" in line


@pytest.mark.parametrize(("port", "message"), [(0, "must be >= 1"), (70000, "must be <= 65535")])
def test_fails_when_the_port_is_out_of_range(port: int, message: str) -> None:
    assert _one(_problems({"port": port})) == f"{PREFIX}.port: {message} (got {port})"


def test_fails_when_an_env_var_name_is_invalid() -> None:
    line = _one(_problems({"env": {"LOG-LEVEL": "debug"}}))
    assert line.startswith(f"{PREFIX}.env: 'LOG-LEVEL' is not a valid environment variable name")


def test_fails_when_env_sets_what_the_component_manages() -> None:
    line = _one(_problems({"env": {"OTEL_SERVICE_NAME": "x"}}))
    assert line.startswith(f"{PREFIX}.env: OTEL_SERVICE_NAME is set by the component")


def test_fails_when_a_secret_env_name_is_invalid() -> None:
    line = _one(_problems({"secretEnv": {"9LIVES": "catSecret"}}))
    assert line.startswith(f"{PREFIX}.secretEnv: '9LIVES' is not a valid environment variable name")


def test_fails_when_a_probe_path_does_not_start_with_a_slash() -> None:
    line = _one(_problems({"probes": {"liveness": {"path": "health"}}}))
    assert line.startswith(f"{PREFIX}.probes.liveness.path: 'health' is not an HTTP path")


def test_fails_when_the_hpa_maximum_is_below_its_minimum() -> None:
    line = _one(_problems({"autoscaling": {"minReplicas": 4, "maxReplicas": 3}}))
    assert line.startswith(f"{PREFIX}.autoscaling: maxReplicas 3 is below minReplicas 4")


def test_fails_when_the_disruption_budget_allows_every_pod_to_go() -> None:
    line = _one(_problems({"disruptionBudget": {"maxUnavailable": 2}}))
    assert "disruptionBudget.maxUnavailable 2 would let a drain evict all 2 pods" in line


def test_fails_when_the_pre_stop_pause_outlasts_the_grace_period() -> None:
    line = _one(_problems({"preStopSleepSeconds": 30, "terminationGracePeriodSeconds": 30}))
    assert (
        "preStopSleepSeconds 30 leaves no time to shut down within terminationGracePeriodSeconds 30" in line
    )


def test_fails_when_two_apps_create_the_same_namespace() -> None:
    problems = config_problems("staging", {"apps": {"api": {}, "worker": {}}})
    assert _one(problems).startswith(
        "Pulumi.staging.yaml: lmagent-infra:apps: apps 'api' and 'worker' both create namespace 'lmagent'"
    )


def test_fails_when_an_app_name_is_not_a_kubernetes_name() -> None:
    problems = config_problems("staging", {"apps": {"Lmagent_API": {}}})
    assert "lmagent-infra:apps: app name: 'Lmagent_API' is not a Kubernetes name" in _one(problems)


def test_fails_when_a_latency_slo_threshold_is_not_a_histogram_bucket() -> None:
    slo = {"name": "latency", "target": 95, "sli": {"type": "threshold", "threshold": 0.2}}
    line = _one(_problems({"slos": [slo]}))
    assert line.startswith(
        f"{PREFIX}.slos: slo 'latency': sli.threshold 0.2 is not a bucket of http_request_duration_seconds"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("scrapeInterval", "30", "'30' is not a scrape interval"),
        ("runbookBaseUrl", "runbooks/", "'runbooks/' is not an http(s) URL"),
        ("iamPolicyArns", ["AmazonS3ReadOnlyAccess"], "'AmazonS3ReadOnlyAccess' is not an IAM policy ARN"),
        ("namespace", "Team_A", "namespace: 'Team_A' is not a Kubernetes name"),
        ("version", "-1.0", "'-1.0' is not a label value"),
    ],
)
def test_fails_when_a_monitoring_or_identity_setting_is_malformed(key: str, value: Any, message: str) -> None:
    line = _one(_problems({key: value}))
    assert line.startswith(f"{PREFIX}.{key}: {message}"), line


def test_fails_when_a_key_is_misspelt() -> None:
    line = _one(_problems({"replica": 3}))
    assert line.startswith(f"{PREFIX}.replica: unknown key; did you mean 'replicas'?")


def test_fails_when_secret_env_names_a_secret_that_is_not_set() -> None:
    problems = config_problems(
        "production", {"apps": {"lmagent-api": {"secretEnv": {"DATABASE_URL": "dbUrl"}}}}
    )
    assert any(
        "lmagent-infra:apps.lmagent-api.secretEnv.DATABASE_URL: names secret 'dbUrl', which is not set" in p
        for p in problems
    ), problems


# ---------------------------------------------------------------------------------------------
# The app in both stacks (the `synthesized` fixture runs the real stack files)


def test_stacks_run_the_reference_app_with_every_default(synthesized: SynthResult) -> None:
    (app,) = synthesized.of_type("lmagent:components:AppService")
    assert app["name"] == "lmagent-api"
    c = container(synthesized)
    assert c["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert c["ports"][0]["containerPort"] == 8000
    hpa = synthesized.manifest("HorizontalPodAutoscaler", "lmagent-api", "lmagent")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert "replicas" not in synthesized.manifest("Deployment", "lmagent-api", "lmagent")["spec"]
    labels = synthesized.manifest("Namespace", "lmagent")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_stacks_deploy_the_image_they_build_by_digest(synthesized: SynthResult) -> None:
    image = container(synthesized)["image"]
    assert image == synthesized.outputs["imageRef"]
    assert re.search(r"\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/.+@sha256:[0-9a-f]{64}$", image)


def test_stacks_send_traces_to_the_monitoring_collector(synthesized: SynthResult) -> None:
    data = synthesized.manifest("ConfigMap", "lmagent-api-config", "lmagent")["data"]
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == synthesized.outputs["otlpEndpoint"]
    assert data["OTEL_SERVICE_NAME"] == "lmagent-api"


def test_stacks_put_the_app_on_the_cluster_with_only_its_custom_resources_after_the_crds(
    synthesized: SynthResult,
) -> None:
    assert synthesized.named("lmagent-api-deployment")["provider"] == synthesized.named("cluster-k8s")["urn"]
    (component,) = synthesized.of_type("lmagent:components:AppService")
    assert component["options"]["dependsOn"] == []  # nothing waits for the monitoring stack as a whole
    kps = synthesized.named("monitoring-kube-prometheus-stack")["urn"]
    for name in ("lmagent-api-servicemonitor", "lmagent-api-rules"):
        assert synthesized.named(name)["options"]["dependsOn"] == [kps]
    for name in ("lmagent-api-namespace", "lmagent-api-config", "lmagent-api-service"):
        assert kps not in synthesized.named(name)["dependencies"]


def test_stacks_protect_the_app_namespace_as_the_stack_says(stack: str, synthesized: SynthResult) -> None:
    assert synthesized.named("lmagent-api-namespace")["options"]["protect"] is (stack == "production")


def test_stacks_give_the_app_no_aws_role_but_its_database_role_unless_it_asks(
    synthesized: SynthResult,
) -> None:
    account = synthesized.manifest("ServiceAccount", "lmagent-api", "lmagent")
    assert "annotations" not in account["metadata"]
    # The reference app uses the database `main`: its one role may connect as its database role
    # (components/database/_users.py) and carries no other policy.
    (role,) = [r for r in synthesized.of_type("aws:iam/role:Role") if "lmagent-api" in r["name"]]
    assert role["name"] == "database-users-lmagent-api" and "managedPolicyArns" not in role["inputs"]
    without = synth_with("staging", {"apps": {"lmagent-api": {}}})
    assert not [r for r in without.of_type("aws:iam/role:Role") if "lmagent-api" in r["name"]]


def test_an_app_with_a_database_and_iam_policies_gets_one_pod_identity_role_with_both() -> None:
    policy = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    result = synth_with("staging", {"apps": {"lmagent-api": {"database": "main", "iamPolicyArns": [policy]}}})
    (role,) = [r for r in result.of_type("aws:iam/role:Role") if "lmagent-api" in r["name"]]
    assert role["name"] == "database-users-lmagent-api"
    assert role["inputs"]["managedPolicyArns"] == [policy]
    # Not IRSA as well: the SDKs' chain would pick the web identity first and miss the database.
    account = result.manifest("ServiceAccount", "lmagent-api", "lmagent")
    assert "annotations" not in account["metadata"]


def test_an_app_with_iam_policies_gets_an_irsa_role_on_its_service_account() -> None:
    policy = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    result = synth_with("staging", {"apps": {"lmagent-api": {"iamPolicyArns": [policy]}}})
    (role,) = [r for r in result.of_type("aws:iam/role:Role") if r["name"].endswith("irsa-lmagent-api")]
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:lmagent:lmagent-api" in condition.values()
    account = result.manifest("ServiceAccount", "lmagent-api", "lmagent")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].endswith(role["name"])


def test_stacks_pass_secret_env_values_from_secret_config() -> None:
    result = synth_with(
        "production",
        {"apps": {"lmagent-api": {"secretEnv": {"DATABASE_URL": "lmagentApiDatabaseUrl"}}}},
        secrets={"lmagentApiDatabaseUrl": "postgresql://app:s3cr3t-value@db:5432/app"},
    )
    assert result.manifest("Secret", "lmagent-api-secrets", "lmagent")["stringData"] == {
        "DATABASE_URL": SECRET
    }
    assert "s3cr3t-value" not in result.to_json()


def test_a_second_app_shares_the_namespace_the_first_creates() -> None:
    result = synth_with(
        "staging",
        {"apps": {"lmagent-api": {}, "worker": {"createNamespace": False, "component": "worker"}}},
    )
    worker = next(r for r in result.of_type("lmagent:components:AppService") if r["name"] == "worker")
    assert result.named("lmagent-api-namespace")["urn"] in worker["options"]["dependsOn"]
    assert result.manifest("Deployment", "worker", "lmagent")["metadata"]["labels"][
        "app.kubernetes.io/component"
    ] == ("worker")
    assert (
        len([m for m in result.manifests if m["kind"] == "Namespace" and m["metadata"]["name"] == "lmagent"])
        == 1
    )


def test_fails_when_plain_env_holds_a_secret_looking_name() -> None:
    with pytest.raises(ValueError, match=r"API_TOKEN looks like a secret; allowed: put it in `secretEnv`"):
        AppServiceArgs(env={"API_TOKEN": "abc", "LOG_LEVEL": "info"})


def test_plain_env_accepts_names_that_only_mention_a_secret() -> None:
    args = AppServiceArgs(env={"KMS_KEY_ID": "alias/app", "TOKEN_URL": "https://auth.example.com/token"})
    assert set(args.env) == {"KMS_KEY_ID", "TOKEN_URL"}


# ---------------------------------------------------------------------------------------------
# Public exposure (through the edge's shared load balancer)

PUBLIC_ENTRY = PublicEntry("public", ["10.0.128.0/20", "10.0.144.0/20"])


def synth_public(paths: list[str] | None = None, **args: Any) -> SynthResult:
    public: dict[str, Any] = {"host": "api.example.com", **({"paths": paths} if paths else {})}
    return synth_app(AppServiceArgs.model_validate({"public": public, **args}), public_entry=PUBLIC_ENTRY)


def test_a_public_app_s_namespace_asks_the_controller_for_pod_readiness_gates() -> None:
    # With IP targets, a rolling update can otherwise end old pods before the new ones are healthy
    # in the target group, leaving it only Initial or Draining targets: an outage on every deploy
    # (kubernetes-sigs/aws-load-balancer-controller v3.5.0, docs/deploy/pod_readiness_gate.md: the
    # controller injects the gates into pods of namespaces labelled as below).
    labels = synth_public().manifest("Namespace", "lmagent")["metadata"]["labels"]
    assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


def test_a_private_app_s_namespace_has_no_readiness_gate_label(default_app: SynthResult) -> None:
    labels = default_app.manifest("Namespace", "lmagent")["metadata"]["labels"]
    assert "elbv2.k8s.aws/pod-readiness-gate-inject" not in labels


def _routes(ingress: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            p["path"],
            p["pathType"],
            p["backend"]["service"]["name"],
            p["backend"]["service"]["port"].get("name", ""),
        )
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    ]


def test_the_public_entry_answers_404_on_the_metrics_path_under_a_public_prefix() -> None:
    # The app serves Prometheus metrics on the port the load balancer forwards to; a public `/`
    # would publish them. An Exact path comes before every Prefix path in the controller's rule
    # order (v3.5.0 pkg/ingress/model_build_listener_rules.go, sortIngressPaths), and a backend
    # whose port is `use-annotation` takes the action of that name (docs/guide/ingress/annotations.md,
    # "actions").
    ingress = synth_public().manifest("Ingress", "lmagent-api", "lmagent")
    assert _routes(ingress) == [
        ("/metrics", "Exact", "metrics-not-public", "use-annotation"),
        ("/", "Prefix", "lmagent-api", "http"),
    ]
    action = json.loads(
        ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/actions.metrics-not-public"]
    )
    assert action["type"] == "fixed-response"
    assert action["fixedResponseConfig"]["statusCode"] == "404"


def test_the_metrics_path_is_refused_only_where_a_public_prefix_covers_it() -> None:
    custom = synth_public(paths=["/api", "/internal"], metricsPath="/internal/metrics")
    assert [r[0] for r in _routes(custom.manifest("Ingress", "lmagent-api", "lmagent"))] == [
        "/internal/metrics",
        "/api",
        "/internal",
    ]
    narrow = synth_public(paths=["/api"]).manifest("Ingress", "lmagent-api", "lmagent")
    assert _routes(narrow) == [("/api", "Prefix", "lmagent-api", "http")]
    assert not any(
        k.startswith("alb.ingress.kubernetes.io/actions.") for k in narrow["metadata"]["annotations"]
    )
