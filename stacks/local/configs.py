"""What each local service is configured with, computed by the functions the stacks call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components._monitoring_values import Endpoints, alertmanager_config, grafana_datasources, otel_collector
from components.alerts import app_alert_groups
from components.dashboards import red_dashboard, slo_dashboard
from components.slo import slo_rule_groups
from stacks.config import StackConfig

OUT = Path("build/local")  # relative to the repository: compose.yaml mounts it as ./build/local
APP = "lmagent-api"  # the service built from app/Dockerfile
APP_UID = "10001:10001"  # the Dockerfile's USER
LOG_DIR = "/var/log/lmagent"


def rule_groups(cfg: StackConfig) -> list[dict[str, Any]]:
    """The reference app's alert and SLO rule groups, by the calls AppService makes."""
    args = cfg.apps[APP]
    namespace = str(args.namespace)  # a stack file holds names, never Outputs
    return app_alert_groups(
        service=APP, namespace=namespace, thresholds=args.alerts, runbook_base_url=args.runbook_base_url
    ) + slo_rule_groups(
        service=APP, namespace=namespace, slos=args.slos, runbook_base_url=args.runbook_base_url
    )


def dashboards(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    args = cfg.apps[APP]
    namespace = str(args.namespace)  # a stack file holds names, never Outputs
    return {
        f"{APP}-red.json": red_dashboard(service=APP, namespace=namespace),
        f"{APP}-slo.json": slo_dashboard(service=APP, namespace=namespace, slos=args.slos),
    }


LOCAL_URLS = {"loki": "http://loki:3100", "jaeger": "http://jaeger:16686"}


def datasources() -> dict[str, Any]:
    linked = grafana_datasources(Endpoints("monitoring"))
    for ds in linked:
        ds["url"] = LOCAL_URLS[ds["uid"]]  # the cluster's Service names -> the compose services
    prometheus = {
        "name": "Prometheus",
        "uid": "prometheus",
        "type": "prometheus",
        "access": "proxy",
        "url": "http://prometheus:9090",
        "isDefault": True,
    }
    return {"apiVersion": 1, "datasources": [prometheus, *linked]}


def prometheus_config(cfg: StackConfig, environment: str) -> dict[str, Any]:
    args = cfg.apps[APP]
    return {
        "global": {
            "scrape_interval": "15s",
            "evaluation_interval": "15s",
            "external_labels": {"environment": environment, "cluster": "local"},
        },
        "rule_files": ["rules/*.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
        "scrape_configs": [
            # The ServiceMonitor's contract: job = the app's name, namespace = its namespace. The
            # rules select on exactly these two labels, so they match here as in the cluster.
            {
                "job_name": APP,
                "metrics_path": args.metrics_path,
                "scrape_interval": args.scrape_interval,
                "static_configs": [
                    {
                        "targets": [f"{APP}:{args.port}"],
                        "labels": {"namespace": args.namespace, "pod": f"{APP}-local"},
                    }
                ],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
            {"job_name": "alertmanager", "static_configs": [{"targets": ["alertmanager:9093"]}]},
            {"job_name": "loki", "static_configs": [{"targets": ["loki:3100"]}]},
        ],
    }


def local_alertmanager(cfg: StackConfig, environment: str) -> dict[str, Any]:
    """The cluster's routes, grouping and inhibitions; every receiver without an integration, so
    nothing leaves the laptop (alerts are seen at http://localhost:9093)."""
    config = alertmanager_config(cfg.monitoring, environment)
    config["receivers"] = [{"name": r["name"]} for r in config["receivers"]]
    config.pop("templates", None)  # chat and pager message templates: no integration uses them
    return config


def alloy_config(cfg: StackConfig) -> str:
    ns = cfg.apps[APP].namespace
    return f"""\
// The service's log file, from the volume it shares read-only with this container. Labels as the
// cluster's Alloy gives pod logs: namespace, pod, container, app.
local.file_match "app" {{
  path_targets = [{{
    "__path__"  = "{LOG_DIR}/*.log",
    "namespace" = "{ns}",
    "pod"       = "{APP}-local",
    "container" = "{APP}",
    "app"       = "{APP}",
  }}]
}}

loki.source.file "app" {{
  targets    = local.file_match.app.targets
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "http://loki:3100/loki/api/v1/push"
  }}
}}
"""


def loki_config(cfg: StackConfig) -> dict[str, Any]:
    days = cfg.monitoring.logs.retention_days
    return {
        "auth_enabled": False,
        "server": {"http_listen_port": 3100, "grpc_listen_port": 9096},
        "common": {
            "instance_addr": "127.0.0.1",
            "path_prefix": "/loki",
            "replication_factor": 1,
            "ring": {"kvstore": {"store": "inmemory"}},
            "storage": {"filesystem": {"chunks_directory": "/loki/chunks", "rules_directory": "/loki/rules"}},
        },
        "schema_config": {
            "configs": [
                {
                    "from": "2024-04-01",
                    "store": "tsdb",
                    "object_store": "filesystem",
                    "schema": "v13",
                    "index": {"prefix": "loki_index_", "period": "24h"},
                }
            ]
        },
        "limits_config": {"retention_period": f"{days * 24}h", "allow_structured_metadata": True},
        "compactor": {
            "working_directory": "/loki/compactor",
            "retention_enabled": True,
            "delete_request_store": "filesystem",
        },
        "analytics": {"reporting_enabled": False},
    }


def collector_config(cfg: StackConfig) -> dict[str, Any]:
    """The cluster collector's pipeline, listening on every interface of its container and
    exporting to the compose service `jaeger`."""
    config: dict[str, Any] = otel_collector(cfg.monitoring, Endpoints("monitoring"))["config"]
    # `None` entries delete chart defaults in the cluster; there are no defaults here.
    config["receivers"] = {k: v for k, v in config["receivers"].items() if v is not None}
    config["receivers"]["otlp"]["protocols"] = {
        "grpc": {"endpoint": "0.0.0.0:4317"},
        "http": {"endpoint": "0.0.0.0:4318"},
    }
    config["exporters"]["otlp/jaeger"]["endpoint"] = "jaeger:4317"
    return config
