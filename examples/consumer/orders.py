"""The orders service: deployed onto the platform's existing cluster with lmagent-infra's public API only.

Everything comes from `components` (no internals): `AppService` for the hardened workload, `Slo`
and `AlertThresholds` for its alerting, and the platform stack's outputs (kubeconfig, OTLP
endpoint) through a `StackReference`.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import AlertThresholds, AppService, AppServiceArgs, Slo

#: The orders team's objectives, in the runbook's format: stricter latency than the default.
SLOS = [
    {
        "name": "availability",
        "target": "99.5%",
        "window": "30d",
        "sli": {"type": "ratio", "good": "non-5xx requests", "total": "all requests"},
    },
    {
        "name": "latency",
        "target": "99%",
        "window": "30d",
        "sli": {"type": "threshold", "metric": "http_request_duration_seconds", "threshold": 0.5},
    },
]


def build() -> None:
    """Declare the orders service and export its in-cluster URL."""
    config = pulumi.Config()
    environment = config.get("environment") or "production"
    platform = pulumi.StackReference(config.require("platformStack"))

    # The platform's cluster, reached with the kubeconfig it exports (exec auth through
    # `aws eks get-token`: whoever runs `pulumi up` needs AWS credentials, not a kubeconfig file).
    cluster = k8s.Provider(
        "platform-cluster",
        k8s.ProviderArgs(kubeconfig=platform.require_output("kubeconfig"), enable_server_side_apply=True),
    )

    args = AppServiceArgs.model_validate(
        {
            "image": config.require("image"),
            "namespace": "orders",
            "component": "api",
            "partOf": "orders",
            "env": {"ORDERS_CURRENCY": "EUR"},
            "secretEnv": {"DATABASE_URL": "ordersDatabaseUrl"},
            "slos": [Slo.model_validate(s) for s in SLOS],
            "alerts": AlertThresholds(error_ratio=0.02, latency_seconds=0.4),
            "runbookBaseUrl": "https://runbooks.example.com/orders",
        },
    )
    orders = AppService(
        "orders",
        args,
        secrets={"ordersDatabaseUrl": config.require_secret("ordersDatabaseUrl")},
        otlp_endpoint=platform.get_output("otlpEndpoint"),
        # The platform's guardrails for that environment (production: replicas >= 2, image by digest...).
        environment=environment,
        # The Kubernetes provider by package, as for any Pulumi component; `protect` guards the
        # namespace (deleting it deletes everything in it). Default on; dev turns it off.
        opts=pulumi.ResourceOptions(
            providers={"kubernetes": cluster}, protect=config.get_bool("protect") is not False
        ),
    )
    pulumi.export("url", orders.url)
