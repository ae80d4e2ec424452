"""MonitoringStack: Helm values per stack, the log bucket and its IRSA role, secrets, config errors."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components import versions
from components.monitoring import MonitoringArgs, MonitoringStack
from components.testing import SynthResult, synth
from tests.conftest import config_problems, synth_stack, synth_with

RELEASES = {
    "monitoring-kube-prometheus-stack": versions.KUBE_PROMETHEUS_STACK,
    "monitoring-loki": versions.LOKI,
    "monitoring-alloy": versions.ALLOY,
    "monitoring-otel-collector": versions.OPENTELEMETRY_COLLECTOR,
    "monitoring-jaeger": versions.JAEGER,
}


def chart_values(result: SynthResult, release: str) -> dict[str, Any]:
    values: dict[str, Any] = result.named(f"monitoring-{release}")["inputs"]["values"]
    return values


def kps(result: SynthResult) -> dict[str, Any]:
    return chart_values(result, "kube-prometheus-stack")


def prometheus_spec(result: SynthResult) -> dict[str, Any]:
    spec: dict[str, Any] = kps(result)["prometheus"]["prometheusSpec"]
    return spec


def routes(result: SynthResult) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = kps(result)["alertmanager"]["config"]["route"]["routes"]
    return found


# ---------------------------------------------------------------------------------------------
# Charts


@pytest.mark.parametrize("release", sorted(RELEASES))
def test_every_chart_is_pinned_to_the_version_and_repository_in_versions(
    synthesized: SynthResult, release: str
) -> None:
    chart, version, repo = RELEASES[release]
    inputs = synthesized.named(release)["inputs"]
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (chart, version, repo)
    assert inputs["namespace"] == "monitoring"


def test_loki_and_its_charts_come_from_the_community_repository_they_moved_to() -> None:
    assert versions.LOKI[2] == "https://grafana-community.github.io/helm-charts"
    assert versions.JAEGER[1].startswith("4."), "jaeger chart 4.x is the one that deploys Jaeger v2"


def test_every_release_is_in_the_monitoring_namespace_with_privileged_enforcement_for_alloy(
    synthesized: SynthResult,
) -> None:
    ns = synthesized.manifest("Namespace", "monitoring")
    labels = ns["metadata"]["labels"]
    # Alloy's hostPath /var/log mount is forbidden by `baseline`.
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "baseline"
    assert chart_values(synthesized, "alloy")["alloy"]["mounts"]["varlog"] is True


# ---------------------------------------------------------------------------------------------
# Prometheus


@pytest.mark.parametrize(
    ("stack", "replicas", "retention", "size", "retention_size"),
    [("staging", 1, "3d", "10Gi", "8GB"), ("production", 2, "31d", "100Gi", "85GB")],
)
def test_prometheus_keeps_what_its_stack_says_on_a_gp3_volume(
    stack: str, replicas: int, retention: str, size: str, retention_size: str
) -> None:
    spec = prometheus_spec(synth_stack(stack))
    assert spec["replicas"] == replicas
    assert spec["retention"] == retention
    assert spec["retentionSize"] == retention_size
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "gp3"
    assert claim["resources"]["requests"]["storage"] == size
    assert spec["resources"]["requests"] == {"cpu": "500m", "memory": "2Gi"}
    assert spec["resources"]["limits"] == {"cpu": "2", "memory": "2Gi"}
    assert spec["externalLabels"] == {"environment": stack}


def test_prometheus_selects_every_servicemonitor_podmonitor_and_rule(synthesized: SynthResult) -> None:
    spec = prometheus_spec(synthesized)
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind


def test_crds_are_installed_and_upgraded_by_the_charts_job(synthesized: SynthResult) -> None:
    crds = kps(synthesized)["crds"]
    assert crds == {"enabled": True, "upgradeJob": {"enabled": True}}
    assert synthesized.named("monitoring-kube-prometheus-stack")["inputs"].get("skipCrds") in (None, False)


# What kube-prometheus-stack 88.5.3 scrapes by default, read from the chart
# (prometheus-community/helm-charts@kube-prometheus-stack-88.5.3: charts/kube-prometheus-stack/
# values.yaml, templates/exporters/*/servicemonitor.yaml, templates/prometheus/rules-1.14/*.yaml).
# Each scrape component's key, whether an EKS cluster lets Prometheus reach its target, and the
# `defaultRules.rules` keys of the rule groups built on its job. The chart gates each of these
# rule groups on both `<component>.enabled` and the rule key (e.g. kubernetes-system-scheduler.yaml:
# `.Values.kubeScheduler.enabled .Values.defaultRules.rules.kubeSchedulerAlerting`).
CHART_SCRAPE_VERSION = "88.5.3"
CHART_SCRAPE_COMPONENTS: dict[str, tuple[bool, tuple[str, ...]]] = {
    # The API server is scraped through the `kubernetes` Service, which EKS serves.
    "kubeApiServer": (True, ()),
    # Kubelets on the worker nodes, through the operator-managed kubelet Service.
    "kubelet": (True, ("kubelet",)),
    # CoreDNS (the EKS add-on) serves metrics on 9153 in its pods.
    "coreDns": (True, ()),
    "kubeStateMetrics": (True, ("kubeStateMetrics",)),
    "nodeExporter": (True, ("nodeExporterAlerting", "nodeExporterRecording")),
    # Managed control plane: no pods in kube-system to scrape.
    "kubeControllerManager": (False, ("kubeControllerManager",)),
    "kubeScheduler": (False, ("kubeSchedulerAlerting", "kubeSchedulerRecording")),
    "kubeEtcd": (False, ("etcd",)),
    # EKS's kube-proxy add-on binds metrics to 127.0.0.1:10249 and its schema cannot change that.
    "kubeProxy": (False, ("kubeProxy",)),
}


def test_the_scrape_table_describes_the_pinned_chart() -> None:
    # A chart upgrade must re-read the chart's components before this table is trusted again.
    assert versions.KUBE_PROMETHEUS_STACK[1] == CHART_SCRAPE_VERSION


def _enabled(values: dict[str, Any], *path: str) -> bool:
    """The chart's effective boolean at `path`: ours if set, else the chart default (true)."""
    node: Any = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return True
        node = node[key]
    return bool(node)


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_no_scrape_job_or_rule_targets_what_eks_does_not_expose(stack: str) -> None:
    values = kps(synth_stack(stack))
    reachable = []
    for component, (on_eks, rule_keys) in CHART_SCRAPE_COMPONENTS.items():
        if on_eks:
            reachable.append(component)
            continue
        assert not _enabled(values, component, "enabled"), f"{component} is scraped on EKS"
        for key in rule_keys:
            assert not _enabled(values, "defaultRules", "rules", key), f"defaultRules.rules.{key} is on"
    # What EKS does expose stays monitored, KubeAPIDown and the kubelet rules included.
    for component in reachable:
        assert _enabled(values, component, "enabled"), f"{component} was switched off"
        for key in CHART_SCRAPE_COMPONENTS[component][1]:
            assert _enabled(values, "defaultRules", "rules", key), key
    assert _enabled(values, "kubernetesServiceMonitors", "enabled")
    assert _enabled(values, "defaultRules", "create")


# ---------------------------------------------------------------------------------------------
# Alertmanager


def test_staging_routes_every_alert_to_chat_and_pages_nobody() -> None:
    config = kps(synth_stack("staging"))["alertmanager"]["config"]
    assert config["route"]["receiver"] == "chat"
    assert [r["receiver"] for r in config["route"]["routes"]] == ["null", "null", "chat"]
    assert {r["name"] for r in config["receivers"]} == {"null", "chat"}


def test_production_pages_on_critical_in_production_and_still_posts_to_chat() -> None:
    config = kps(synth_stack("production"))["alertmanager"]["config"]
    assert config["route"]["receiver"] == "chat"
    [pager] = [r for r in config["route"]["routes"] if r["receiver"] == "pager"]
    assert pager["matchers"] == ['severity =~ "critical"', 'environment = "production"']
    assert pager["continue"] is True
    [receiver] = [r for r in config["receivers"] if r["name"] == "pager"]
    assert receiver["pagerduty_configs"][0]["routing_key_file"] == (
        "/etc/alertmanager/secrets/alertmanager-receivers/pagerduty-routing-key"
    )


def test_criticals_inhibit_warnings_of_the_same_alert(synthesized: SynthResult) -> None:
    inhibit = kps(synthesized)["alertmanager"]["config"]["inhibit_rules"]
    assert {
        "source_matchers": ['severity = "critical"'],
        "target_matchers": ['severity =~ "warning|info"'],
        "equal": ["alertname", "namespace", "job"],
    } in inhibit


def test_a_fast_slo_burn_inhibits_the_slow_burn_of_the_same_slo(synthesized: SynthResult) -> None:
    inhibit = kps(synthesized)["alertmanager"]["config"]["inhibit_rules"]
    assert {
        "source_matchers": ['severity = "critical"', 'slo =~ ".+"'],
        "target_matchers": ['severity = "warning"', 'slo =~ ".+"'],
        "equal": ["namespace", "service", "slo"],
    } in inhibit


def test_receivers_read_their_secrets_from_files_of_a_mounted_kubernetes_secret(
    synthesized: SynthResult,
) -> None:
    am = kps(synthesized)["alertmanager"]
    assert am["alertmanagerSpec"]["secrets"] == ["alertmanager-receivers"]
    secret = synthesized.manifest("Secret", "alertmanager-receivers", "monitoring")
    for receiver in am["config"]["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack
            *_, name, key = slack["api_url_file"].split("/")
            assert name == "alertmanager-receivers" and key in secret["stringData"]
        for pd in receiver.get("pagerduty_configs", []):
            assert "routing_key" not in pd
            assert pd["routing_key_file"].rsplit("/", 1)[1] in secret["stringData"]


@pytest.mark.parametrize(("stack", "replicas"), [("staging", 1), ("production", 2)])
def test_alertmanager_replicas_follow_the_stack(stack: str, replicas: int) -> None:
    assert kps(synth_stack(stack))["alertmanager"]["alertmanagerSpec"]["replicas"] == replicas


# ---------------------------------------------------------------------------------------------
# Grafana


def test_grafana_takes_its_admin_password_from_a_secret_never_from_values(synthesized: SynthResult) -> None:
    grafana = kps(synthesized)["grafana"]
    assert "adminPassword" not in grafana
    admin = grafana["admin"]
    secret = synthesized.manifest("Secret", admin["existingSecret"], "monitoring")
    assert set(secret["stringData"]) == {admin["userKey"], admin["passwordKey"]}
    assert secret["stringData"][admin["passwordKey"]] == "[secret]"


def test_grafana_persists_on_gp3_and_loads_labelled_dashboards_from_every_namespace(
    synthesized: SynthResult,
) -> None:
    grafana = kps(synthesized)["grafana"]
    assert grafana["persistence"]["enabled"] is True
    assert grafana["persistence"]["storageClassName"] == "gp3"
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}
    dashboards = grafana["sidecar"]["dashboards"]
    assert (dashboards["label"], dashboards["labelValue"], dashboards["searchNamespace"]) == (
        "grafana_dashboard",
        "1",
        "ALL",
    )


def test_logs_link_to_traces_and_traces_link_to_logs_by_trace_id(synthesized: SynthResult) -> None:
    sources = {s["uid"]: s for s in kps(synthesized)["grafana"]["additionalDataSources"]}
    loki, jaeger = sources["loki"], sources["jaeger"]
    assert loki["url"] == "http://loki.monitoring.svc.cluster.local:3100"
    assert jaeger["url"] == "http://jaeger.monitoring.svc.cluster.local:16686"
    [derived] = loki["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == "jaeger"
    # The reference service's JSON log line shape (app/lmagent_api/logs.py).
    line = json.dumps({"msg": "request", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"})
    match = re.search(derived["matcherRegex"], line)
    assert match is not None and match.group(1) == "4bf92f3577b34da6a3ce929d0e0e4736"
    to_logs = jaeger["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki"
    assert "trace_id" in to_logs["query"] and "$${__trace.traceId}" in to_logs["query"]


# ---------------------------------------------------------------------------------------------
# Loki and Alloy


def test_staging_keeps_logs_on_a_volume_for_seven_days_without_a_bucket() -> None:
    result = synth_stack("staging")
    loki = chart_values(result, "loki")
    assert loki["deploymentMode"] == "Monolithic"
    assert loki["loki"]["storage"] == {"type": "filesystem"}
    assert loki["loki"]["limits_config"]["retention_period"] == "168h"
    assert loki["singleBinary"]["persistence"] == {"enabled": True, "storageClass": "gp3", "size": "10Gi"}
    assert not [r["name"] for r in result.resources if r["name"].startswith("monitoring-logs")]
    assert "annotations" not in loki["serviceAccount"]


def test_loki_uses_tsdb_v13_and_the_compactor_enforces_retention(synthesized: SynthResult) -> None:
    loki = chart_values(synthesized, "loki")["loki"]
    [schema] = loki["schemaConfig"]["configs"]
    assert (schema["store"], schema["schema"], schema["object_store"]) == (
        "tsdb",
        "v13",
        loki["storage"]["type"],
    )
    assert loki["compactor"]["retention_enabled"] is True


def test_production_keeps_logs_in_an_encrypted_private_tls_only_bucket_for_31_days() -> None:
    result = synth_stack("production")
    loki = chart_values(result, "loki")
    bucket = result.named("monitoring-logs")
    name = result.named("monitoring-logs-public-access")["inputs"]["bucket"]
    assert loki["loki"]["storage"]["type"] == "s3"
    assert loki["loki"]["storage"]["bucketNames"] == {"chunks": name, "ruler": name, "admin": name}
    assert loki["loki"]["storage"]["s3"] == {"region": "eu-west-1"}
    assert loki["loki"]["limits_config"]["retention_period"] == "744h"
    assert bucket["inputs"]["forceDestroy"] is False
    [rule] = result.named("monitoring-logs-encryption")["inputs"]["rules"]
    by_default = rule["applyServerSideEncryptionByDefault"]
    assert by_default["sseAlgorithm"] == "aws:kms"
    policy = json.loads(result.named("cluster-irsa-loki-policy")["inputs"]["policy"])
    [key_statement] = [st for st in policy["Statement"] if st["Sid"] == "BucketKey"]
    assert key_statement["Resource"] == [by_default["kmsMasterKeyId"]]
    assert by_default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert result.named("monitoring-logs-key")["inputs"]["enableKeyRotation"] is True
    block = result.named("monitoring-logs-public-access")["inputs"]
    assert all(
        block[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    [lifecycle] = result.named("monitoring-logs-lifecycle")["inputs"]["rules"]
    assert lifecycle["expiration"] == {"days": 32}
    [deny] = json.loads(result.named("monitoring-logs-policy")["inputs"]["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket["inputs"]["tags"]["component"] == "monitoring"


def test_loki_reaches_its_bucket_through_a_least_privilege_irsa_role() -> None:
    result = synth_stack("production")
    loki = chart_values(result, "loki")
    role = result.named("cluster-irsa-loki")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    conditions = trust["Statement"][0]["Condition"]["StringEquals"]
    [subject] = [v for k, v in conditions.items() if k.endswith(":sub")]
    assert subject == "system:serviceaccount:monitoring:loki"
    assert loki["serviceAccount"]["name"] == "loki"
    arn = loki["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == "arn:aws:iam::123456789012:role/cluster-irsa-loki"
    policy = json.loads(result.named("cluster-irsa-loki-policy")["inputs"]["policy"])
    name = result.named("monitoring-logs-public-access")["inputs"]["bucket"]
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert f"arn:aws:s3:::{name}" in resources and f"arn:aws:s3:::{name}/*" in resources
    assert not any(r == "*" or r.endswith(":*") for r in resources)
    assert actions == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }


def test_alloy_tails_pod_logs_on_every_node_into_loki_with_pod_labels(synthesized: SynthResult) -> None:
    alloy = chart_values(synthesized, "alloy")
    assert alloy["controller"]["type"] == "daemonset"
    content = alloy["alloy"]["configMap"]["content"]
    assert 'url = "http://loki.monitoring.svc.cluster.local:3100/loki/api/v1/push"' in content
    for label in ("namespace", "pod", "container"):
        assert f'target_label  = "{label}"' in content
    assert "/var/log/pods/" in content and "stage.cri" in content
    assert content.count("{") == content.count("}"), "unbalanced Alloy blocks"


# ---------------------------------------------------------------------------------------------
# Tracing


@pytest.mark.parametrize(("stack", "replicas"), [("staging", 1), ("production", 2)])
def test_the_collector_receives_otlp_and_exports_to_jaeger(stack: str, replicas: int) -> None:
    result = synth_stack(stack)
    collector = chart_values(result, "otel-collector")
    assert collector["mode"] == "deployment"
    assert collector["image"]["repository"] == versions.OTEL_COLLECTOR_IMAGE
    assert collector["replicaCount"] == replicas
    protocols = collector["config"]["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    traces = collector["config"]["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"] and traces["exporters"] == ["otlp/jaeger"]
    exporter = collector["config"]["exporters"]["otlp/jaeger"]
    assert exporter["endpoint"] == "jaeger.monitoring.svc.cluster.local:4317"
    assert result.outputs["otlpEndpoint"] == "http://otel-collector.monitoring.svc.cluster.local:4318"


def test_jaeger_v2_keeps_a_bounded_number_of_traces_in_memory_by_default(synthesized: SynthResult) -> None:
    config = chart_values(synthesized, "jaeger")["userconfig"]
    assert config["extensions"]["jaeger_storage"]["backends"]["primary"] == {"memory": {"max_traces": 100000}}
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"


def test_jaeger_stores_traces_in_opensearch_when_configured() -> None:
    url = "https://search-traces.eu-west-1.es.amazonaws.com"
    result = synth_with(
        "production", {"monitoring": {"tracing": {"storage": "opensearch", "opensearchUrl": url}}}
    )
    backend = chart_values(result, "jaeger")["userconfig"]["extensions"]["jaeger_storage"]["backends"][
        "primary"
    ]
    assert backend["opensearch"]["server_urls"] == [url]


# ---------------------------------------------------------------------------------------------
# Protection, outputs, secrets


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_what_holds_monitoring_data_is_protected_and_retained_in_production_only(stack: str) -> None:
    result = synth_stack(stack)
    keep = stack == "production"
    names = ["monitoring-namespace", "monitoring-kube-prometheus-stack", "monitoring-loki"]
    if keep:
        names += ["monitoring-logs", "monitoring-logs-key"]
    for name in names:
        options = result.named(name)["options"]
        assert (options["protect"], options["retainOnDelete"]) == (keep, keep), name


def test_grafana_prometheus_and_otlp_urls_are_exported(synthesized: SynthResult) -> None:
    assert synthesized.outputs["grafanaUrl"] == "http://grafana.monitoring.svc.cluster.local:80"
    assert synthesized.outputs["prometheusUrl"] == (
        "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
    )


def test_secret_values_appear_nowhere_in_what_synth_records(stack: str) -> None:
    planted = {
        "grafanaAdminPassword": "planted-grafana-4d1c",
        "alertmanagerSlackWebhook": "https://hooks.slack.com/services/planted-9e2b",
        "alertmanagerPagerdutyRoutingKey": "planted-pagerduty-77aa",
    }
    result = synth_with(stack, secrets=planted)
    text = result.to_json()
    for value in planted.values():
        assert value not in text
    # The values stayed reviewable: no chart's values were swallowed by a secret.
    for release in result.helm_releases:
        assert release["inputs"]["values"] != "[secret]", release["name"]


# ---------------------------------------------------------------------------------------------
# Config errors, in the stack file's words


def test_fails_when_production_runs_one_prometheus() -> None:
    problems = config_problems("production", {"monitoring": {"prometheus": {"replicas": 1}}})
    assert any(
        p.startswith(
            "Pulumi.production.yaml: lmagent-infra:monitoring.prometheus.replicas: must be >= 2 in production"
        )
        and p.endswith("(got 1)")
        for p in problems
    ), problems


def test_fails_when_production_keeps_logs_on_a_volume() -> None:
    problems = config_problems("production", {"monitoring": {"logs": {"storage": "filesystem"}}})
    assert any(
        "lmagent-infra:monitoring.logs.storage: must be s3 in production" in p and '(got "filesystem")' in p
        for p in problems
    ), problems


def test_fails_when_alerts_page_without_a_routing_key() -> None:
    problems = config_problems("production", {"monitoring": {"alertmanager": {"pagerdutyRoutingKey": None}}})
    assert any(
        "lmagent-infra:monitoring.alertmanager: pageSeverities is ['critical'] but "
        "pagerdutyRoutingKey is null" in p
        for p in problems
    ), problems


def test_fails_when_a_severity_is_unknown() -> None:
    problems = config_problems("staging", {"monitoring": {"alertmanager": {"pageSeverities": ["sev1"]}}})
    assert any(
        "lmagent-infra:monitoring.alertmanager.pageSeverities[0]: must be one of" in p for p in problems
    )


def test_fails_when_opensearch_storage_has_no_url() -> None:
    problems = config_problems("staging", {"monitoring": {"tracing": {"storage": "opensearch"}}})
    assert any(
        "lmagent-infra:monitoring.tracing: storage is opensearch but opensearchUrl is not set" in p
        for p in problems
    ), problems


def test_fails_when_a_cpu_quantity_is_malformed() -> None:
    problems = config_problems("staging", {"monitoring": {"grafana": {"resources": {"cpu": "lots"}}}})
    assert any(
        "lmagent-infra:monitoring.grafana.resources.cpu: 'lots' is not a Kubernetes quantity; allowed:" in p
        and '(got "lots")' in p
        for p in problems
    ), problems


def test_fails_when_a_cpu_limit_is_below_its_request() -> None:
    resources = {"cpu": "2", "cpuLimit": "500m"}
    problems = config_problems("staging", {"monitoring": {"logs": {"resources": resources}}})
    assert any(
        "lmagent-infra:monitoring.logs.resources: limits.cpu '500m' is below requests.cpu '2'; "
        "allowed: a limit at least as large as the request" in p
        for p in problems
    ), problems


def test_fails_when_a_monitoring_key_is_misspelt() -> None:
    problems = config_problems("staging", {"monitoring": {"prometheus": {"retension": "7d"}}})
    assert any(
        "lmagent-infra:monitoring.prometheus.retension: unknown key; did you mean 'retention'?" in p
        for p in problems
    ), problems


# ---------------------------------------------------------------------------------------------
# The component on its own


def _component(args: MonitoringArgs, *, irsa: bool, environment: str = "production") -> SynthResult:
    def program() -> None:
        provider = k8s.Provider("k8s", k8s.ProviderArgs(kubeconfig="apiVersion: v1"))

        def role(name: str, namespace: str, sa: str, policy: pulumi.Input[str]) -> pulumi.Input[str]:
            made = aws.iam.Role(
                f"test-{name}",
                aws.iam.RoleArgs(
                    assume_role_policy=json.dumps({"sa": f"{namespace}:{sa}"}),
                    inline_policies=[aws.iam.RoleInlinePolicyArgs(name="s3", policy=policy)],
                ),
            )
            return made.arn

        stack = MonitoringStack(
            "mon",
            args,
            provider=provider,
            environment=environment,
            region="us-east-1",
            secret=lambda name: pulumi.Output.secret(f"value-of-{name}"),
            irsa=role if irsa else None,
        )
        pulumi.export("grafana", stack.grafana_url)
        pulumi.export("labels", stack.dashboard_label)

    return synth(program, project="consumer", stack="dev")


def test_the_component_runs_on_its_own_with_an_injected_provider_and_role() -> None:
    result = _component(MonitoringArgs(), irsa=True)
    role = result.named("test-loki")
    assert json.loads(role["inputs"]["assumeRolePolicy"]) == {"sa": "monitoring:loki"}
    assert result.outputs["labels"] == {"grafana_dashboard": "1"}
    assert all(r["provider"] for r in result.resources if r["type"].startswith("kubernetes:") and r["custom"])
    assert "value-of-" not in result.to_json()


def test_fails_when_logs_go_to_s3_without_a_way_to_make_the_irsa_role() -> None:
    with pytest.raises(ValueError, match=r"args\.logs\.storage is 's3' but no `irsa` role factory"):
        _component(MonitoringArgs(), irsa=False)


def test_a_namespace_of_ones_own_renames_every_in_cluster_url() -> None:
    args = MonitoringArgs.model_validate({"namespace": "observability", "logs": {"storage": "filesystem"}})
    result = _component(args, irsa=False, environment="staging")  # production refuses filesystem logs
    assert result.outputs["grafana"] == "http://grafana.observability.svc.cluster.local:80"
    assert all(r["inputs"]["namespace"] == "observability" for r in result.helm_releases)


def test_fails_when_the_monitoring_namespace_is_not_a_kubernetes_name() -> None:
    problems = config_problems("staging", {"monitoring": {"namespace": "Monitoring_NS"}})
    assert any(
        "lmagent-infra:monitoring.namespace: namespace: 'Monitoring_NS' is not a Kubernetes name" in p
        for p in problems
    ), problems
