"""Helm values of the monitoring charts, built from the monitoring args as plain data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import versions
from components._monitoring_args import MonitoringArgs, Resources
from components.alerts import SIGNAL

#: Grafana's dashboard sidecar loads every ConfigMap carrying this label, in any namespace.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}

#: Secrets the component creates; Helm values only ever name them (values must stay free of
#: secrets: one secret inside makes Pulumi mark the whole values map secret).
GRAFANA_ADMIN_SECRET = "grafana-admin"
ALERTMANAGER_SECRET = "alertmanager-receivers"
SLACK_KEY = "slack-webhook-url"
PAGERDUTY_KEY = "pagerduty-routing-key"
# The operator mounts each secret listed in alertmanagerSpec.secrets here.
_AM_SECRETS_DIR = f"/etc/alertmanager/secrets/{ALERTMANAGER_SECRET}"

# Release names are part of every Service name below: changing one renames the services.
KPS_RELEASE = "kube-prometheus-stack"
LOKI_RELEASE = "loki"
ALLOY_RELEASE = "alloy"
COLLECTOR_RELEASE = "otel-collector"
JAEGER_RELEASE = "jaeger"
LOKI_SERVICE_ACCOUNT = "loki"


@dataclass(frozen=True)
class Endpoints:
    """In-cluster URLs of the monitoring services, all derived from the namespace."""

    namespace: str

    def _host(self, service: str) -> str:
        return f"{service}.{self.namespace}.svc.cluster.local"

    @property
    def prometheus(self) -> str:
        return f"http://{self._host(KPS_RELEASE + '-prometheus')}:9090"

    @property
    def grafana(self) -> str:
        return f"http://{self._host('grafana')}:80"

    @property
    def loki(self) -> str:
        return f"http://{self._host(LOKI_RELEASE)}:3100"

    @property
    def jaeger_query(self) -> str:
        return f"http://{self._host(JAEGER_RELEASE)}:16686"

    @property
    def jaeger_otlp_grpc(self) -> str:
        return f"{self._host(JAEGER_RELEASE)}:4317"

    @property
    def otlp_http(self) -> str:
        return f"http://{self._host(COLLECTOR_RELEASE)}:4318"


def resources(r: Resources) -> dict[str, Any]:
    """A Kubernetes resources block: requests, and limits with memory equal to its request."""
    return {
        "requests": {"cpu": r.cpu, "memory": r.memory},
        "limits": {"cpu": r.cpu_limit, "memory": r.memory},
    }


def _volume(storage_class: str, size_gi: int) -> dict[str, Any]:
    return {
        "spec": {
            "storageClassName": storage_class,
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{size_gi}Gi"}},
        }
    }


# ---------------------------------------------------------------------------------------------
# kube-prometheus-stack


#: Components kube-prometheus-stack scrapes by default that an EKS cluster does not let it reach,
#: each with the `defaultRules.rules` keys of the rule groups that read its job. Read from the chart
#: at the pinned version (prometheus-community/helm-charts@kube-prometheus-stack-88.5.3:
#: charts/kube-prometheus-stack/values.yaml and templates/exporters/<component>/,
#: templates/prometheus/rules-1.14/, templates/grafana/dashboards-1.14/): `<component>.enabled`
#: gates the Service, Endpoints, ServiceMonitor, dashboard and rule groups; the rule keys are
#: switched off as well so the `absent(up{job=...})` alerts stay off whatever else changes.
#:
#: - kube-controller-manager, kube-scheduler and etcd run in the EKS-managed control plane: the
#:   chart's jobs look for their pods in kube-system, find none, and the `*Down` alerts
#:   (`critical`) fire and page 15 minutes after install (prometheus-community/helm-charts#4106,
#:   aws/containers-roadmap#1298). EKS publishes some of their metrics only through CloudWatch and
#:   the API server's `metrics.eks.amazonaws.com` API, which these jobs do not read.
#: - kube-proxy runs on the nodes, but EKS's add-on binds its metrics to 127.0.0.1:10249. The
#:   add-on's configuration schema (`aws eks describe-addon-configuration --addon-name kube-proxy`)
#:   allows only `ipvs`, `mode`, `podAnnotations`, `podLabels` and `resources`, with
#:   `additionalProperties: false`, so `metricsBindAddress` cannot be set through the add-on;
#:   editing its ConfigMap by hand is undone by add-on updates (aws/containers-roadmap#657,
#:   eksctl-io/eksctl#4081). The job is off rather than down forever; node and Service health
#:   stay covered by kubelet, node-exporter and the apps' own alerts.
EKS_UNREACHABLE: dict[str, tuple[str, ...]] = {
    "kubeControllerManager": ("kubeControllerManager",),
    "kubeScheduler": ("kubeSchedulerAlerting", "kubeSchedulerRecording"),
    "kubeEtcd": ("etcd",),
    "kubeProxy": ("kubeProxy",),
}


def eks_scrape_targets() -> dict[str, Any]:
    """Values that switch off the chart's scrape jobs, rules and dashboards EKS cannot serve."""
    values: dict[str, Any] = {component: {"enabled": False} for component in EKS_UNREACHABLE}
    values["defaultRules"] = {
        "rules": {key: False for keys in EKS_UNREACHABLE.values() for key in keys},
    }
    return values


def alertmanager_config(args: MonitoringArgs, environment: str) -> dict[str, Any]:
    """Routes by severity and environment: everything to chat; listed severities also page.

    Prometheus stamps `environment` on every alert (external label), so a page only leaves the
    environment it is configured in, whatever rules another stack shares.

    One incident, one page. The apps' alerts carry a `signal` label (`errors`, `latency`,
    `restarts`) and, for SLO burns, `slo`. An error spike fires `HighErrorRate` and the fast burn
    of the SLO counting 5xx (the SLO rules already drop the burn alerts of another SLO on the same
    errors): the burn silences `HighErrorRate` of the same service and signal. Which of the two
    fires first depends on the spike's size, so the pager also groups an app's alerts by service:
    whichever comes first opens the incident and the other joins it instead of opening a second
    one (Alertmanager sends the group key's hash as PagerDuty's `dedup_key`:
    prometheus/alertmanager@v0.25.0, notify/pagerduty/pagerduty.go). Source and target matchers
    of that inhibition exclude each other (`slo` set or not): Alertmanager never lets an alert
    matching both sides of a rule inhibit another such alert (inhibit/inhibit.go).
    """
    am = args.alertmanager
    routes: list[dict[str, Any]] = [
        # The chart's always-firing Watchdog proves the pipeline works; nothing consumes it yet.
        {"receiver": "null", "matchers": ['alertname = "Watchdog"']},
        # The chart's InfoInhibitor (severity none) exists only to silence `info` alerts below.
        {"receiver": "null", "matchers": ['alertname = "InfoInhibitor"']},
    ]
    receivers: list[dict[str, Any]] = [
        {"name": "null"},
        {
            "name": "chat",
            "slack_configs": [
                {
                    "api_url_file": f"{_AM_SECRETS_DIR}/{SLACK_KEY}",
                    "channel": args.alertmanager.slack_channel,
                    "send_resolved": True,
                    "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.environment }}: "
                    "{{ .CommonLabels.alertname }}",
                    "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                    "{{ .Annotations.runbook_url }}\n{{ end }}",
                }
            ],
        },
    ]
    if am.page_severities:
        severities = "|".join(sorted(am.page_severities))
        routes.append(
            {
                "receiver": "pager",
                "matchers": [f'severity =~ "{severities}"', f'environment = "{environment}"'],
                # Paged alerts are also posted to chat, where the incident is discussed.
                "continue": True,
                # An app's alerts, one incident per service whatever their names.
                "routes": [{"matchers": [f'{SIGNAL} =~ ".+"'], "group_by": ["namespace", "service"]}],
            }
        )
        receivers.append(
            {
                "name": "pager",
                "pagerduty_configs": [
                    {
                        "routing_key_file": f"{_AM_SECRETS_DIR}/{PAGERDUTY_KEY}",
                        "severity": "{{ .CommonLabels.severity }}",
                        "send_resolved": True,
                    }
                ],
            }
        )
    # A route with `continue` falls through to its later siblings only, never back to the parent's
    # receiver: without this catch-all, paged alerts would not reach chat (found with `amtool
    # config routes test`).
    routes.append({"receiver": "chat"})
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "chat",
            "group_by": ["alertname", "namespace", "job"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": am.repeat_interval,
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # A critical alert silences the warnings of the same problem.
                "source_matchers": ['severity = "critical"'],
                "target_matchers": ['severity =~ "warning|info"'],
                "equal": ["alertname", "namespace", "job"],
            },
            {
                "source_matchers": ['severity = "warning"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["alertname", "namespace", "job"],
            },
            {
                # The chart's InfoInhibitor fires while a namespace has `info` alerts and nothing
                # worse: they stay out of chat until a warning or critical gives them context
                # (the chart's own default config at 88.5.3, values.yaml alertmanager.config).
                "source_matchers": ['alertname = "InfoInhibitor"'],
                "target_matchers": ['severity = "info"'],
                "equal": ["namespace"],
            },
            {
                # A fast burn (page) of an SLO silences the slow burn (ticket) of the same SLO.
                "source_matchers": ['severity = "critical"', 'slo =~ ".+"'],
                "target_matchers": ['severity = "warning"', 'slo =~ ".+"'],
                "equal": ["namespace", "service", "slo"],
            },
            {
                # A fast burn of an SLO silences the runbook's threshold alerts (no `slo` label)
                # on the same signal of the same service: HighErrorRate under an errors SLO's burn.
                "source_matchers": ['severity = "critical"', 'slo =~ ".+"', f'{SIGNAL} =~ ".+"'],
                "target_matchers": ['slo = ""', f'{SIGNAL} =~ ".+"'],
                "equal": ["namespace", "service", SIGNAL],
            },
        ],
        "receivers": receivers,
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def grafana_datasources(ep: Endpoints) -> list[dict[str, Any]]:
    """Loki and Jaeger, linked both ways by trace id (Prometheus is the chart's default source).

    `$$` is a literal `$` in Grafana provisioning files, which expand `$VAR` from the environment.
    """
    return [
        {
            "name": "Loki",
            "uid": "loki",
            "type": "loki",
            "access": "proxy",
            "url": ep.loki,
            "jsonData": {
                "derivedFields": [
                    {
                        # The services log JSON lines with "trace_id": "<32 hex>".
                        "name": "TraceID",
                        "matcherRegex": '"trace_id":\\s*"(\\w+)"',
                        "datasourceUid": "jaeger",
                        "url": "$${__value.raw}",
                        "urlDisplayLabel": "View trace",
                    }
                ]
            },
        },
        {
            "name": "Jaeger",
            "uid": "jaeger",
            "type": "jaeger",
            "access": "proxy",
            "url": ep.jaeger_query,
            "jsonData": {
                "tracesToLogsV2": {
                    "datasourceUid": "loki",
                    "spanStartTimeShift": "-5m",
                    "spanEndTimeShift": "5m",
                    "filterByTraceID": True,
                    "customQuery": True,
                    "query": '{namespace=~".+"} | json | trace_id="$${__trace.traceId}"',
                }
            },
        },
    ]


def kube_prometheus_stack(args: MonitoringArgs, environment: str, ep: Endpoints) -> dict[str, Any]:
    """Values of kube-prometheus-stack: Prometheus, Alertmanager, Grafana and the operator."""
    p, am, g = args.prometheus, args.alertmanager, args.grafana
    return eks_scrape_targets() | {
        "crds": {
            "enabled": True,
            # Helm installs CRDs once and never upgrades them; this pre-upgrade hook Job applies the
            # chart's CRDs server-side (they exceed the client-side apply annotation limit).
            "upgradeJob": {"enabled": True},
        },
        "prometheus": {
            "prometheusSpec": {
                "replicas": p.replicas,
                "retention": p.retention,
                # Prometheus' size units are powers of two: GB here is GiB, like the volume.
                "retentionSize": f"{p.storage_gi * 85 // 100}GB",
                "scrapeInterval": p.scrape_interval,
                "externalLabels": {"environment": environment},
                "resources": resources(p.resources),
                "storageSpec": {"volumeClaimTemplate": _volume(args.storage_class, p.storage_gi)},
                # Select every ServiceMonitor, PodMonitor, Probe and PrometheusRule in every
                # namespace, not only those labelled `release: kube-prometheus-stack`.
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "scrapeConfigSelectorNilUsesHelmValues": False,
            }
        },
        "alertmanager": {
            "config": alertmanager_config(args, environment),
            "alertmanagerSpec": {
                "replicas": am.replicas,
                "secrets": [ALERTMANAGER_SECRET],
                "storage": {"volumeClaimTemplate": _volume(args.storage_class, 2)},
                "resources": resources(Resources(cpu="50m", cpu_limit="500m", memory="256Mi")),
            },
        },
        "grafana": {
            "fullnameOverride": "grafana",
            "admin": {
                "existingSecret": GRAFANA_ADMIN_SECRET,
                "userKey": "admin-user",
                "passwordKey": "admin-password",
            },
            "persistence": {
                "enabled": True,
                "type": "pvc",
                "storageClassName": args.storage_class,
                "accessModes": ["ReadWriteOnce"],
                "size": f"{g.storage_gi}Gi",
            },
            # One ReadWriteOnce volume: the old pod must stop before the new one mounts it.
            "deploymentStrategy": {"type": "Recreate"},
            "resources": resources(g.resources),
            "sidecar": {
                "dashboards": {
                    "enabled": True,
                    "label": next(iter(DASHBOARD_LABEL)),
                    "labelValue": DASHBOARD_LABEL["grafana_dashboard"],
                    "searchNamespace": "ALL",
                },
            },
            "additionalDataSources": grafana_datasources(ep),
        },
    }


# ---------------------------------------------------------------------------------------------
# Loki and Alloy


def loki(
    args: MonitoringArgs,
    *,
    bucket: pulumi.Input[str] | None,
    region: str,
    role_arn: pulumi.Input[str] | None,
) -> dict[str, Any]:
    """Values of the loki chart in monolithic mode, on a volume or on S3 through IRSA."""
    logs = args.logs
    store = "s3" if logs.storage == "s3" else "filesystem"
    storage: dict[str, Any] = {"type": store}
    if logs.storage == "s3":
        storage |= {
            "bucketNames": {"chunks": bucket, "ruler": bucket, "admin": bucket},
            # No keys: the AWS SDK takes the IRSA web identity from the service account.
            "s3": {"region": region},
        }
    service_account: dict[str, Any] = {"create": True, "name": LOKI_SERVICE_ACCOUNT}
    if role_arn is not None:
        service_account["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": 1},
            "schemaConfig": {
                "configs": [
                    {
                        "from": "2024-04-01",
                        "store": "tsdb",
                        "object_store": store,
                        "schema": "v13",
                        "index": {"prefix": "loki_index_", "period": "24h"},
                    }
                ]
            },
            "storage": storage,
            "limits_config": {"retention_period": f"{logs.retention_days * 24}h"},
            "compactor": {"retention_enabled": True, "delete_request_store": store},
        },
        "singleBinary": {
            "replicas": 1,
            "persistence": {
                "enabled": True,
                "storageClass": args.storage_class,
                "size": f"{logs.storage_gi}Gi",
            },
            "resources": resources(logs.resources),
        },
        "serviceAccount": service_account,
        # Monolithic mode: the scalable targets, caches, gateway and test pods stay off.
        "backend": {"replicas": 0},
        "read": {"replicas": 0},
        "write": {"replicas": 0},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "gateway": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
    }


def alloy_config(ep: Endpoints) -> str:
    """Alloy configuration: tail this node's pod logs and push them with their pod labels."""
    return f"""\
// Pods on this node only: every Alloy pod of the DaemonSet tails its own node's files.
discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + coalesce(sys.env("HOSTNAME"), constants.hostname)
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pods" {{
  path_targets = discovery.relabel.pods.output
}}

loki.source.file "pods" {{
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}}

// Container runtimes write CRI lines (time, stream, flags, message): keep the message.
loki.process "pods" {{
  stage.cri {{}}
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{ep.loki}/loki/api/v1/push"
  }}
}}
"""


def alloy(ep: Endpoints) -> dict[str, Any]:
    """Values of the alloy chart: a DaemonSet reading /var/log from the node."""
    return {
        "controller": {"type": "daemonset"},
        "alloy": {
            "configMap": {"create": True, "content": alloy_config(ep)},
            # Mounts the node's /var/log read-only: the hostPath that needs a privileged namespace.
            "mounts": {"varlog": True},
            "resources": resources(Resources(cpu="100m", cpu_limit="500m", memory="256Mi")),
        },
    }


# ---------------------------------------------------------------------------------------------
# Tracing


def otel_collector(args: MonitoringArgs, ep: Endpoints) -> dict[str, Any]:
    """Values of the opentelemetry-collector chart: OTLP in (4317/4318), OTLP out to Jaeger."""
    t = args.tracing
    return {
        "mode": "deployment",
        "fullnameOverride": COLLECTOR_RELEASE,
        "image": {"repository": versions.OTEL_COLLECTOR_IMAGE},
        "replicaCount": t.collector_replicas,
        "resources": resources(t.resources),
        # Only OTLP is accepted: the Jaeger and Zipkin receivers (and their ports) are removed.
        "ports": {
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
        },
        "config": {
            "receivers": {
                "jaeger": None,
                "zipkin": None,
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": "${env:MY_POD_IP}:4317"},
                        "http": {"endpoint": "${env:MY_POD_IP}:4318"},
                    }
                },
            },
            "processors": {
                "memory_limiter": {
                    "check_interval": "5s",
                    "limit_percentage": 80,
                    "spike_limit_percentage": 25,
                },
                "batch": {},
            },
            "exporters": {
                "otlp/jaeger": {"endpoint": ep.jaeger_otlp_grpc, "tls": {"insecure": True}},
            },
            "service": {
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["memory_limiter", "batch"],
                        "exporters": ["otlp/jaeger"],
                    }
                }
            },
        },
    }


def jaeger_storage(args: MonitoringArgs) -> dict[str, Any]:
    """The Jaeger v2 `jaeger_storage` backend for the configured store."""
    t = args.tracing
    if t.storage == "opensearch":
        return {
            "opensearch": {
                "server_urls": [t.opensearch_url],
                "indices": {"index_prefix": "jaeger"},
            }
        }
    return {"memory": {"max_traces": t.max_traces}}


def jaeger(args: MonitoringArgs) -> dict[str, Any]:
    """Values of the jaeger chart (v2 all-in-one) with its whole configuration in `userconfig`."""
    return {
        "jaeger": {
            # A memory store cannot be shared: one pod holds the traces.
            "replicas": 1,
            "resources": resources(args.tracing.resources),
        },
        "userconfig": {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["batch"],
                        "exporters": ["jaeger_storage_exporter"],
                    }
                },
            },
            "extensions": {
                "healthcheckv2": {"use_v2": True, "http": {"endpoint": "0.0.0.0:13133"}},
                "jaeger_query": {"storage": {"traces": "primary"}},
                "jaeger_storage": {"backends": {"primary": jaeger_storage(args)}},
            },
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": "0.0.0.0:4317"},
                        "http": {"endpoint": "0.0.0.0:4318"},
                    }
                }
            },
            "processors": {"batch": {}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "primary"}},
        },
    }
