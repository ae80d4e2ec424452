"""MonitoringStack: metrics, alerts, dashboards, logs and traces for the cluster, as Helm releases.

What it declares, in the namespace `monitoring` (all charts pinned in `components/versions.py`):

- kube-prometheus-stack: the Prometheus Operator and its CRDs, Prometheus (retention by time and
  size, a gp3 volume per replica), Alertmanager (chat for everything, PagerDuty for the listed
  severities, criticals inhibit warnings) and Grafana (admin password from a secret, a volume, and
  Prometheus, Loki and Jaeger datasources linked by trace id). Prometheus selects every
  ServiceMonitor, PodMonitor and PrometheusRule in every namespace: apps need no `release` label.
  Grafana loads every ConfigMap labelled `grafana_dashboard: "1"` (output `dashboard_label`).
- CRDs: the chart's CRDs exceed the client-side apply annotation limit, so they are applied
  server-side (pulumi-kubernetes >= 4 applies server-side by default). Helm installs CRDs once and
  never upgrades them: the chart's `crds.upgradeJob` (a pre-upgrade hook Job) applies the new
  chart's CRDs server-side before the operator is upgraded.
- Loki in monolithic mode: on its gp3 volume (`storage: filesystem`, staging) or on an encrypted
  S3 bucket reached through an IRSA role with a policy limited to that bucket and its key
  (`storage: s3`, production). Retention by the compactor; the bucket's lifecycle rule is a
  backstop one day later.
- Grafana Alloy as a DaemonSet tailing `/var/log/pods` on each node into Loki, labelled with
  namespace, pod, container and app (Promtail reached end of life in March 2026).
- An OpenTelemetry Collector (OTLP on 4317/4318, output `otlp_endpoint` for apps'
  `OTEL_EXPORTER_OTLP_ENDPOINT`) exporting to Jaeger v2 over OTLP; Jaeger keeps traces in memory
  or in OpenSearch (see `TracingArgs.storage` for why not Badger).

Network: the namespace denies all traffic by default and allows what the stack uses (apps' OTLP to
the collector, Prometheus' scrapes, the operator's webhook, HTTPS to the API server and AWS; see
components/_monitoring_network.py); the cluster's VPC CNI enforces it.

Pod Security: the namespace enforces `privileged`, because Alloy mounts the node's `/var/log` as a
hostPath volume, which `baseline` forbids; `warn` and `audit` stay at `baseline` so anything else
that drifts from it is still reported. Logs could be tailed through the API server instead
(no hostPath), at the cost of load on the control plane for every log line.

Secrets are never put in Helm values (one secret inside makes Pulumi mark the whole values map
secret, hiding it from review): they become Kubernetes Secrets that the values name.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _monitoring_values as values
from components import versions
from components._bucket import private_bucket_settings
from components._helm import pinned_release
from components._log_key import rotating_key
from components._model import Environment, as_args, for_environment
from components._monitoring_args import (
    AlertmanagerArgs,
    GrafanaArgs,
    LogsArgs,
    MonitoringArgs,
    PrometheusArgs,
    Resources,
    TracingArgs,
)
from components._monitoring_network import NETWORK_POLICIES, network_policies
from components._options import resolve_protect, resolve_provider

__all__ = [
    "AlertmanagerArgs",
    "GrafanaArgs",
    "IrsaRoleFactory",
    "LogsArgs",
    "MonitoringArgs",
    "MonitoringStack",
    "PrometheusArgs",
    "Resources",
    "TracingArgs",
    "irsa_role_arn",
]


class IrsaRoleFactory(Protocol):
    """Makes an IAM role a service account can assume (IRSA) and returns its ARN.

    `EksCluster.irsa_role` has this shape: pass the bound method itself; a factory may return the
    role or its ARN.
    """

    def __call__(
        self, name: str, namespace: str, service_account: str, policy_json: pulumi.Input[str]
    ) -> pulumi.Input[str] | aws.iam.Role: ...


class MonitoringStack(pulumi.ComponentResource):
    """The monitoring namespace and its Helm releases; see the module docstring for the design."""

    namespace: pulumi.Output[str]
    """The namespace the monitoring stack runs in."""

    grafana_url: pulumi.Output[str]
    """Grafana's in-cluster URL."""

    prometheus_url: pulumi.Output[str]
    """Prometheus' in-cluster URL."""

    otlp_endpoint: pulumi.Output[str]
    """The OTLP/HTTP endpoint for apps' `OTEL_EXPORTER_OTLP_ENDPOINT`."""

    loki_url: pulumi.Output[str]
    """Loki's in-cluster URL."""

    jaeger_url: pulumi.Output[str]
    """Jaeger's query UI in-cluster URL."""

    dashboard_label: dict[str, str]
    """The label that makes Grafana load a ConfigMap as a dashboard."""

    logs_bucket: pulumi.Output[str] | None
    """The Loki S3 bucket's name, or None when logs stay on a volume."""

    crds: k8s.helm.v3.Release
    """The release that installs the Prometheus operator's CRDs (kube-prometheus-stack): a
    ServiceMonitor or PrometheusRule elsewhere waits for it, and for nothing else here."""

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        *,
        provider: k8s.Provider | None = None,
        environment: Environment = "production",
        region: str,
        secret: Callable[[str], pulumi.Input[str]],
        irsa: IrsaRoleFactory | None = None,
        tags: Mapping[str, str] | None = None,
        protect: bool | None = None,
        cluster_dns: pulumi.Resource | None = None,
        storage_class: pulumi.Resource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`secret(name)` returns the value of a secret config key named by `args` (a Pulumi
        secret); `irsa` is required when Loki stores logs in S3 (`EksCluster.irsa_role` itself
        will do); `protect` (or `opts.protect`; default on) protects and retains everything
        holding monitoring data (the namespace, the releases with volumes, the bucket).

        The Kubernetes provider comes from `opts` as Pulumi resolves it (`provider`, `providers`
        by package, or the parent's), or from `provider=`; without one this raises rather than
        use the ambient kubeconfig. `environment` (default `production`) selects the guardrails
        `args` are checked against and labels every alert.

        `cluster_dns` (the coredns add-on) is what every release's pods need to become ready, and
        `storage_class` (the StorageClass named by `args.storage_class`) what the releases with
        volumes need to bind them: each release waits for what it needs, and nothing else here
        does (the Loki bucket and key need neither).
        """
        where = f"MonitoringStack {name!r}"
        args = for_environment(where, as_args(where, MonitoringArgs, args), environment)
        provider = resolve_provider(where, "kubernetes", k8s.Provider, provider, opts)
        protect = resolve_protect(where, protect, opts)
        if irsa is not None and not callable(irsa):
            raise TypeError(
                f"{where}: irsa: must be a function (name, namespace, service_account, policy_json) "
                f"returning a role or its ARN, e.g. EksCluster.irsa_role (got {type(irsa).__name__})"
            )
        super().__init__("lmagent:components:MonitoringStack", name, None, opts)
        if args.logs.storage == "s3" and irsa is None:
            raise ValueError(
                "MonitoringStack: args.logs.storage is 's3' but no `irsa` role factory was given; "
                "pass one (e.g. from EksCluster.irsa_role) or use storage 'filesystem'"
            )
        self._name, self._args, self._provider = name, args, provider
        self._dns = [cluster_dns] if cluster_dns is not None else []
        self._storage = [storage_class] if storage_class is not None else []
        self._tags = {**(tags or {}), "component": "monitoring"}
        endpoints = values.Endpoints(args.namespace)
        keep = {"protect": protect, "retain_on_delete": protect}

        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.namespace,
                labels={
                    **self._labels("namespace"),
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/warn": "baseline",
                    "pod-security.kubernetes.io/audit": "baseline",
                },
            ),
            opts=self._k8s_opts(**keep),
        )
        namespace = ns.metadata.apply(lambda m: str(m.name))
        self._network_policies(namespace)
        secrets = self._secrets(namespace, secret)

        kps = self._release(
            "kube-prometheus-stack",
            versions.KUBE_PROMETHEUS_STACK,
            values.KPS_RELEASE,
            namespace,
            values.kube_prometheus_stack(args, environment, endpoints),
            depends_on=[*secrets, *self._storage],
            protect=protect,
            retain_on_delete=protect,
        )

        bucket: pulumi.Output[str] | None = None
        role_arn: pulumi.Input[str] | None = None
        if args.logs.storage == "s3":
            assert irsa is not None  # checked above
            bucket, bucket_arn, key_arn = self._logs_bucket(args.logs.retention_days, protect)
            role_arn = irsa_role_arn(
                where,
                irsa(
                    "loki",
                    args.namespace,
                    values.LOKI_SERVICE_ACCOUNT,
                    _loki_policy(bucket_arn, key_arn),
                ),
            )
        loki = self._release(
            "loki",
            versions.LOKI,
            values.LOKI_RELEASE,
            namespace,
            values.loki(args, bucket=bucket, region=region, role_arn=role_arn),
            depends_on=self._storage,
            protect=protect,
            retain_on_delete=protect,
        )
        # Alloy and the collector start beside Loki and Jaeger rather than after them: they reach
        # them by service name and retry until they answer, and neither's readiness waits for
        # its exporter, so waiting would only lengthen the deploy (issue "Deploy time"). Alloy is
        # ready "once it has loaded its initial configuration"
        # (https://grafana.com/docs/alloy/latest/reference/http/); the collector's OTLP exporter
        # queues and retries while Jaeger is not answering yet.
        self._release("alloy", versions.ALLOY, values.ALLOY_RELEASE, namespace, values.alloy(endpoints))
        jaeger = self._release(
            "jaeger", versions.JAEGER, values.JAEGER_RELEASE, namespace, values.jaeger(args)
        )
        self._release(
            "otel-collector",
            versions.OPENTELEMETRY_COLLECTOR,
            values.COLLECTOR_RELEASE,
            namespace,
            values.otel_collector(args, endpoints),
        )

        # Every URL waits for its release, so a consumer of an output waits for the service.
        self.namespace = namespace
        self.crds = kps
        self.prometheus_url = kps.status.apply(lambda _: endpoints.prometheus)
        self.grafana_url = kps.status.apply(lambda _: endpoints.grafana)
        self.loki_url = loki.status.apply(lambda _: endpoints.loki)
        self.jaeger_url = jaeger.status.apply(lambda _: endpoints.jaeger_query)
        self.otlp_endpoint = pulumi.Output.from_input(endpoints.otlp_http)
        self.dashboard_label = dict(values.DASHBOARD_LABEL)
        self.logs_bucket = bucket
        self.register_outputs(
            {
                "namespace": self.namespace,
                "grafanaUrl": self.grafana_url,
                "prometheusUrl": self.prometheus_url,
                "otlpEndpoint": self.otlp_endpoint,
                "lokiUrl": self.loki_url,
                "jaegerUrl": self.jaeger_url,
                "dashboardLabel": self.dashboard_label,
                "logsBucket": self.logs_bucket,
            }
        )

    # -----------------------------------------------------------------------------------------

    def _labels(self, component: str) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "monitoring",
            "app.kubernetes.io/instance": self._name,
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/part-of": "lmagent-infra",
            "app.kubernetes.io/managed-by": "pulumi",
        }

    def _k8s_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._provider, **kwargs)

    def _aws_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def _network_policies(self, namespace: pulumi.Input[str]) -> None:
        """Default deny for the whole namespace, plus what the stack's traffic needs
        (components/_monitoring_network.py says what and why)."""
        for role, spec in network_policies().items():
            k8s.networking.v1.NetworkPolicy(
                f"{self._name}-{role}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=NETWORK_POLICIES[role], namespace=namespace, labels=self._labels("network-policy")
                ),
                spec=spec,
                opts=self._k8s_opts(),
            )

    def _secrets(
        self, namespace: pulumi.Input[str], secret: Callable[[str], pulumi.Input[str]]
    ) -> list[pulumi.Resource]:
        """Kubernetes Secrets for Grafana's admin and Alertmanager's receivers."""
        am = self._args.alertmanager
        receivers: dict[str, pulumi.Input[str]] = {values.SLACK_KEY: secret(am.slack_webhook)}
        if am.pagerduty_routing_key is not None:
            receivers[values.PAGERDUTY_KEY] = secret(am.pagerduty_routing_key)
        made: list[pulumi.Resource] = []
        for role, secret_name, data in (
            (
                "grafana-admin",
                values.GRAFANA_ADMIN_SECRET,
                {
                    "admin-user": "admin",
                    "admin-password": secret(self._args.grafana.admin_password),
                },
            ),
            ("alertmanager-receivers", values.ALERTMANAGER_SECRET, receivers),
        ):
            made.append(
                k8s.core.v1.Secret(
                    f"{self._name}-{role}",
                    k8s.core.v1.SecretInitArgs(
                        metadata=k8s.meta.v1.ObjectMetaArgs(
                            name=secret_name, namespace=namespace, labels=self._labels(role)
                        ),
                        type="Opaque",
                        string_data={k: pulumi.Output.secret(v) for k, v in data.items()},
                    ),
                    opts=self._k8s_opts(),
                )
            )
        return made

    def _release(
        self,
        role: str,
        chart: tuple[str, str, str],
        release: str,
        namespace: pulumi.Input[str],
        chart_values: Mapping[str, Any],
        *,
        depends_on: list[pulumi.Resource] | None = None,
        protect: bool = False,
        retain_on_delete: bool = False,
    ) -> k8s.helm.v3.Release:
        return pinned_release(
            f"{self._name}-{role}",
            chart,
            release=release,
            namespace=namespace,
            values=chart_values,
            # kube-prometheus-stack's CRD job and first volume binds take minutes.
            timeout=900,
            opts=self._k8s_opts(
                # Every release runs pods that resolve service names before they are ready.
                depends_on=[*self._dns, *(depends_on or [])],
                protect=protect,
                retain_on_delete=retain_on_delete,
            ),
        )

    def _logs_bucket(
        self, retention_days: int, protect: bool
    ) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
        """An S3 bucket for Loki: SSE-KMS, private, TLS-only, expiring a day after retention."""
        name, keep = self._name, {"protect": protect, "retain_on_delete": protect}
        key = rotating_key(
            f"{name}-logs-key",
            description="Encrypts the Loki log bucket",
            tags=self._tags,
            opts=self._aws_opts(**keep),
        )
        bucket = aws.s3.Bucket(
            f"{name}-logs",
            aws.s3.BucketArgs(force_destroy=not protect, tags=self._tags),
            opts=self._aws_opts(**keep),
        )
        child = self._aws_opts()
        private_bucket_settings(f"{name}-logs", bucket, key_arn=key.arn, parent=self)
        # No versioning: Loki's compactor deletes expired chunks on purpose, and the lifecycle
        # rule is the retention backstop; old versions would only keep deleted logs around.
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-logs-lifecycle",
            aws.s3.BucketLifecycleConfigurationArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketLifecycleConfigurationRuleArgs(
                        id="expire-after-retention",
                        status="Enabled",
                        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                        # One day after Loki's own retention, so the compactor deletes first and
                        # the index never points at a chunk S3 already removed.
                        expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                            days=retention_days + 1
                        ),
                        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                            days_after_initiation=1
                        ),
                    )
                ],
            ),
            opts=child,
        )
        return bucket.bucket, bucket.arn, key.arn


def irsa_role_arn(where: str, made: object) -> pulumi.Input[str]:
    """The ARN an `irsa` factory returned: a role's `arn`, or the ARN itself."""
    if isinstance(made, aws.iam.Role):
        return made.arn
    if isinstance(made, str | pulumi.Output):
        return made
    raise TypeError(
        f"{where}: irsa: returned {type(made).__name__}; allowed: an aws.iam.Role or its ARN "
        "(a string or an Output of one)"
    )


def _loki_policy(bucket_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """Least privilege for Loki: list its bucket, read/write/delete its objects, use its key."""

    def document(arns: list[str]) -> str:
        bucket, key = arns
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ListBucket",
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [bucket],
                    },
                    {
                        "Sid": "Objects",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                        "Resource": [f"{bucket}/*"],
                    },
                    {
                        "Sid": "BucketKey",
                        "Effect": "Allow",
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                        "Resource": [key],
                    },
                ],
            }
        )

    return pulumi.Output.all(bucket_arn, key_arn).apply(document)
