"""DatabaseAlerts: a CloudWatch exporter that Prometheus scrapes, and the database alerts on its series."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components import versions
from components._helm import pinned_release
from components._monitoring_values import DASHBOARD_LABEL
from components.database._alerts import (
    EXPORTER_JOB,
    SCRAPING_INTERVAL_SECONDS,
    MonitoredDatabase,
    database_alert_groups,
    exporter_config,
    exporter_policy,
)
from components.database._dashboard import database_dashboard
from components.monitoring import IrsaRoleFactory, irsa_role_arn

__all__ = ["EXPORTER_POD_LABELS", "EXPORTER_SERVICE_ACCOUNT", "DatabaseAlerts"]

#: The release, its fullname (`fullnameOverride`: the Deployment, Service and ServiceAccount are
#: all named so) and the service account its IRSA role trusts.
_RELEASE = EXPORTER_JOB
EXPORTER_SERVICE_ACCOUNT = EXPORTER_JOB
#: The chart's selector labels (templates/_helpers.tpl at prometheus-yet-another-cloudwatch-exporter
#: 0.47.0: the chart's name, not the fullname, and the release).
EXPORTER_POD_LABELS = {
    "app.kubernetes.io/name": versions.CLOUDWATCH_EXPORTER[0],
    "app.kubernetes.io/instance": _RELEASE,
}
#: The image runs as `nobody` (YACE Dockerfile at v0.67.0: `USER nobody`, busybox's 65534).
_NOBODY = 65534


class DatabaseAlerts(pulumi.ComponentResource):
    """The databases' alerts, evaluated by the monitoring stack's Prometheus and routed by its
    Alertmanager like every other alert.

    RDS publishes its metrics to CloudWatch only. A YACE exporter (one replica) in the monitoring
    namespace reads the AWS/RDS metrics of exactly these instances (static jobs, by
    `DBInstanceIdentifier`) every minute through an IRSA role that may only call
    GetMetricStatistics in the stack's region; a ServiceMonitor has Prometheus scrape it and a
    PrometheusRule alerts on the series (components/database/_alerts.py); a dashboard ConfigMap
    shows them in Grafana (components/database/_dashboard.py). The monitoring
    namespace's NetworkPolicies already allow both flows (Prometheus to a pod of its namespace;
    the exporter to HTTPS and DNS).
    """

    role_arn: pulumi.Output[str]
    """ARN of the exporter's IAM role (IRSA)."""

    def __init__(
        self,
        name: str,
        databases: Sequence[MonitoredDatabase],
        *,
        namespace: str,
        namespace_ready: pulumi.Input[str],
        crds: pulumi.Resource,
        region: str,
        irsa: IrsaRoleFactory,
        provider: k8s.Provider,
        cluster_dns: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`namespace` is the monitoring stack's namespace by name (rules and the IRSA trust name
        it), `namespace_ready` the same name as an Output of the Namespace resource (the release
        waits for it); `crds` is the release that installs the prometheus-operator CRDs (the
        ServiceMonitor and PrometheusRule wait for it, the exporter does not); `irsa` makes the
        exporter's role (`EksCluster.irsa_role`); `cluster_dns` is what the exporter's pod needs
        to resolve AWS endpoints."""
        where = f"DatabaseAlerts {name!r}"
        if not databases:
            raise ValueError(f"{where}: databases: empty; allowed: at least one database to watch")
        if not callable(irsa):
            raise TypeError(
                f"{where}: irsa: must be a function (name, namespace, service_account, policy_json) "
                f"returning a role or its ARN, e.g. EksCluster.irsa_role (got {type(irsa).__name__})"
            )
        super().__init__("lmagent:components:DatabaseAlerts", name, None, opts)
        self._name = name

        def k8s_opts(depends_on: list[pulumi.Resource]) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, provider=provider, depends_on=depends_on)

        role_arn = irsa_role_arn(
            where,
            irsa(
                "cloudwatch-exporter",
                namespace,
                EXPORTER_SERVICE_ACCOUNT,
                json.dumps(exporter_policy(region), sort_keys=True),
            ),
        )
        release = pinned_release(
            f"{name}-exporter",
            versions.CLOUDWATCH_EXPORTER,
            release=_RELEASE,
            namespace=namespace_ready,
            values=exporter_values(region, databases, role_arn),
            opts=k8s_opts([cluster_dns] if cluster_dns is not None else []),
        )
        # Declared here rather than by the chart (`serviceMonitor.enabled`), so the release does
        # not need the CRD and the scrape is labelled as this project's other targets are.
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(EXPORTER_JOB, namespace),
            spec={
                # The chart's Service (templates/service.yaml at 0.47.0): the fullname, the
                # selector labels, port `http` (values `portName`). Prometheus labels the series
                # job="<Service name>" and namespace="<its namespace>".
                "selector": {"matchLabels": dict(EXPORTER_POD_LABELS)},
                "namespaceSelector": {"matchNames": [namespace]},
                "endpoints": [
                    {"port": "http", "path": "/metrics", "interval": f"{SCRAPING_INTERVAL_SECONDS}s"}
                ],
            },
            opts=k8s_opts([crds, release]),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=self._metadata("database-alerts", namespace),
            spec={"groups": database_alert_groups(databases, namespace=namespace)},
            opts=k8s_opts([crds]),
        )
        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            # Grafana's dashboard sidecar loads every ConfigMap with this label, in any namespace.
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="database-dashboard",
                namespace=namespace_ready,
                labels={**self._metadata("database-dashboard", namespace)["labels"], **DASHBOARD_LABEL},
            ),
            data={"databases.json": json.dumps(database_dashboard(namespace), indent=1, sort_keys=True)},
            opts=k8s_opts([]),
        )
        self.role_arn = pulumi.Output.from_input(role_arn)
        self.register_outputs({"roleArn": self.role_arn})

    def _metadata(self, name: str, namespace: str) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "database-alerts",
                "app.kubernetes.io/instance": self._name,
                "app.kubernetes.io/version": versions.CLOUDWATCH_EXPORTER_APP_VERSION,
                "app.kubernetes.io/component": "alerts",
                "app.kubernetes.io/part-of": "lmagent-infra",
                "app.kubernetes.io/managed-by": "pulumi",
            },
        }


def exporter_values(
    region: str, databases: Sequence[MonitoredDatabase], role_arn: pulumi.Input[str]
) -> dict[str, Any]:
    """Values of the prometheus-yet-another-cloudwatch-exporter chart (keys as its values.yaml
    at 0.47.0 names them)."""
    return {
        "fullnameOverride": _RELEASE,
        # One replica: two would double the CloudWatch requests (each replica asks for everything),
        # and a lost pod is rescheduled within minutes, well inside CloudWatchExporterDown's 10.
        "replicaCount": 1,
        "serviceAccount": {
            "create": True,
            "name": EXPORTER_SERVICE_ACCOUNT,
            # IRSA: EKS's pod identity webhook gives the pod a web identity token for this role.
            "annotations": {"eks.amazonaws.com/role-arn": role_arn},
            # YACE never calls the Kubernetes API, and the chart mounts an API token by default
            # (values.yaml at 0.47.0: true; templates/serviceaccount.yaml). The web identity
            # token is a projected volume of its own that the webhook adds whatever this says
            # (aws/amazon-eks-pod-identity-webhook pkg/handler/handler.go reads no automount).
            "automountServiceAccountToken": False,
        },
        # The chart's flags (`--<key>=<value>`, templates/deployment.yaml).
        "extraArgs": {"scraping-interval": SCRAPING_INTERVAL_SECONDS},
        # The SDK would otherwise try the node's metadata service, which the hop limit and the
        # namespace's policies block anyway (YACE README, "Authentication").
        "extraEnv": [{"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}],
        "podSecurityContext": {
            "runAsNonRoot": True,
            "runAsUser": _NOBODY,
            "runAsGroup": _NOBODY,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        # The chart's `helm test` pod runs an unpinned busybox; Pulumi never runs it, and it is off.
        "testConnection": False,
        "serviceMonitor": {"enabled": False},
        "prometheusRule": {"enabled": False},
        # The chart renders this string through `tpl`: it holds no `{{`.
        "config": yaml.safe_dump(exporter_config(region, databases), sort_keys=False),
    }
