"""The typed arguments of the monitoring stack: the `lmagent-infra:monitoring` section of a stack."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components._model import (
    Model,
    Quantity,
    SecretName,
    at_least_two_in_production,
    check_limit_covers_request,
    in_production,
)
from components.alerts import PromDuration, check_name

Severity = Literal["critical", "warning", "info"]


class Resources(Model):
    """CPU and memory for one workload: requests, with limits so one pod cannot starve a node."""

    cpu: Quantity = Field(default="250m", description="CPU request. Default: 250m.")
    cpu_limit: Quantity = Field(default="1", description="CPU limit, at least the request. Default: 1 core.")
    memory: Quantity = Field(
        default="512Mi",
        description="Memory request and limit (equal, so the pod is never OOM-killed for "
        "using what it was promised). Default: 512Mi.",
    )

    @model_validator(mode="after")
    def _limit_covers_request(self) -> Resources:
        check_limit_covers_request("cpu", self.cpu, self.cpu_limit)
        return self


class PrometheusArgs(Model):
    """Prometheus: how long and how much it keeps, where, and how many replicas."""

    replicas: int = Field(
        default=2,
        ge=1,
        description="Prometheus replicas, each scraping everything (HA pair). Default: 2; must be "
        ">= 2 in production. Staging runs 1.",
    )
    retention: PromDuration = Field(
        default="31d",
        description="How long samples are kept. Default: 31d, so the 30-day SLO windows' ratios and "
        "error budgets are computed over a full window (the chart's own default, 10d, would cover a "
        "third of it). Staging keeps 3d.",
    )
    storage_gi: int = Field(
        default=100,
        ge=5,
        description="Size of each replica's gp3 volume in GiB. Default: 100. Retention by size is "
        "set to 85% of it, so Prometheus drops old blocks before the disk fills.",
    )
    scrape_interval: PromDuration = Field(
        default="30s", description="Default scrape interval for every target. Default: 30s."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="500m", cpu_limit="2", memory="2Gi"),
        description="Per replica. Default: 500m CPU request, 2 cores limit, 2Gi memory.",
    )

    _replicas = field_validator("replicas")(at_least_two_in_production)


class AlertmanagerArgs(Model):
    """Alertmanager: where alerts go, by severity and environment."""

    replicas: int = Field(
        default=2,
        ge=1,
        description="Alertmanager replicas (they gossip so a page is sent once). Default: 2; must "
        "be >= 2 in production.",
    )
    slack_webhook: SecretName = Field(
        default=SecretName("alertmanagerSlackWebhook"),
        description="Name of the secret config key holding the Slack incoming-webhook URL every "
        "alert is posted to. Default: `alertmanagerSlackWebhook` (set it with `pulumi config set "
        "--secret alertmanagerSlackWebhook https://hooks.slack.com/...`).",
    )
    slack_channel: str = Field(
        default="#alerts", description="Slack channel the webhook posts to. Default: #alerts."
    )
    pagerduty_routing_key: SecretName | None = Field(
        default=SecretName("alertmanagerPagerdutyRoutingKey"),
        description="Name of the secret config key holding the PagerDuty Events v2 routing key. "
        "Default: `alertmanagerPagerdutyRoutingKey`. Set to null when nothing pages (staging).",
    )
    page_severities: list[Severity] = Field(
        default_factory=lambda: list[Severity](["critical"]),
        description="Severities that page (PagerDuty) in addition to chat. Default: [critical]. "
        "Staging sets [] so everything goes to chat only.",
    )
    repeat_interval: PromDuration = Field(
        default="4h", description="How often a still-firing alert is re-sent. Default: 4h."
    )

    _replicas = field_validator("replicas")(at_least_two_in_production)

    @field_validator("slack_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not re.match(r"^[#@][a-z0-9][a-z0-9._-]{0,79}$", value):
            raise ValueError("must be a Slack channel such as #alerts")
        return value

    @model_validator(mode="after")
    def _pages_need_a_key(self) -> AlertmanagerArgs:
        if self.page_severities and self.pagerduty_routing_key is None:
            raise ValueError(
                f"pageSeverities is {self.page_severities} but pagerdutyRoutingKey is null; name "
                "the PagerDuty routing-key secret, or set pageSeverities: [] to route to chat only"
            )
        return self


class GrafanaArgs(Model):
    """Grafana: admin credentials and persistence."""

    admin_password: SecretName = Field(
        default=SecretName("grafanaAdminPassword"),
        description="Name of the secret config key holding the Grafana admin password. Default: "
        "`grafanaAdminPassword`. There is never a default password.",
    )
    storage_gi: int = Field(
        default=10, ge=1, description="Grafana's gp3 volume (users, annotations) in GiB. Default: 10."
    )
    resources: Resources = Field(
        default_factory=Resources,
        description="Default: 250m CPU request, 1 core limit, 512Mi memory.",
    )


class LogsArgs(Model):
    """Loki (monolithic) and the Alloy log shipper."""

    storage: Literal["filesystem", "s3"] = Field(
        default="s3",
        description="Where Loki keeps chunks and index. Default: `s3` (an encrypted bucket reached "
        "through IRSA; required in production). Staging sets `filesystem`: one gp3 volume, lost "
        "with it.",
    )
    retention_days: int = Field(
        default=31,
        ge=1,
        le=3650,
        description="Days logs are kept (compactor retention; the bucket's lifecycle expiry is one "
        "day longer as a backstop). Default: 31.",
    )
    storage_gi: int = Field(
        default=20,
        ge=1,
        description="Loki's gp3 volume in GiB: all data with `filesystem`, the WAL and index cache "
        "with `s3`. Default: 20.",
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(cpu="250m", cpu_limit="2", memory="1Gi"),
        description="Loki. Default: 250m CPU request, 2 cores limit, 1Gi memory.",
    )

    @field_validator("storage")
    @classmethod
    def _s3_in_production(cls, value: str, info: ValidationInfo) -> str:
        if in_production(info) and value != "s3":
            raise ValueError("must be s3 in production: filesystem storage lives on one volume in one AZ")
        return value


class TracingArgs(Model):
    """The OpenTelemetry Collector apps send to, and Jaeger (v2) behind it."""

    collector_replicas: int = Field(
        default=2,
        ge=1,
        description="OpenTelemetry Collector replicas. Default: 2; must be >= 2 in production.",
    )
    storage: Literal["memory", "opensearch"] = Field(
        default="memory",
        description="Jaeger's trace store. Default: `memory` (bounded by maxTraces, lost on "
        "restart): the jaeger chart 4.x mounts no volume, so Badger on a PVC is not possible "
        "(jaegertracing/helm-charts#737). Set `opensearch` with opensearchUrl for durable traces.",
    )
    max_traces: int = Field(
        default=100_000, ge=1000, description="Traces kept by the memory store. Default: 100000."
    )
    opensearch_url: str | None = Field(
        default=None,
        description="HTTPS URL of an OpenSearch domain, required with storage `opensearch`. Default: none.",
    )
    resources: Resources = Field(
        default_factory=Resources,
        description="Per collector replica and for Jaeger. Default: 250m, 1 core limit, 512Mi.",
    )

    _replicas = field_validator("collector_replicas")(at_least_two_in_production)

    @field_validator("opensearch_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/?$", value):
            raise ValueError("must be an https:// URL of an OpenSearch endpoint")
        return value

    @model_validator(mode="after")
    def _opensearch_needs_url(self) -> TracingArgs:
        if self.storage == "opensearch" and self.opensearch_url is None:
            raise ValueError("storage is opensearch but opensearchUrl is not set")
        return self


class MonitoringArgs(Model):
    """Everything the monitoring stack needs from config; each section documents its defaults."""

    namespace: str = Field(
        default="monitoring", description="Namespace of every monitoring workload. Default: monitoring."
    )
    storage_class: str = Field(
        default="gp3",
        description="StorageClass of every monitoring volume (an encrypted EBS gp3 class). Default: gp3.",
    )
    prometheus: PrometheusArgs = Field(default_factory=PrometheusArgs, description="Prometheus.")
    alertmanager: AlertmanagerArgs = Field(default_factory=AlertmanagerArgs, description="Alert routing.")
    grafana: GrafanaArgs = Field(default_factory=GrafanaArgs, description="Grafana.")
    logs: LogsArgs = Field(default_factory=LogsArgs, description="Loki and Alloy.")
    tracing: TracingArgs = Field(default_factory=TracingArgs, description="Collector and Jaeger.")

    @field_validator("namespace", "storage_class")
    @classmethod
    def _dns_label(cls, value: str, info: ValidationInfo) -> str:
        return check_name(info.field_name or "name", value)
