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
    """Declare the orders service and its worker, and export their in-cluster URLs."""
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
    # A worker beside it, in the same namespace: the namespace is declared once (by `orders`) and
    # referenced here as an Output, so the worker waits for it; env values may be Outputs of
    # other resources too (the API's URL, the platform's cluster name).
    worker = AppService(
        "orders-worker",
        AppServiceArgs(
            image=config.require("image"),
            namespace=orders.namespace,
            create_namespace=False,
            component="worker",
            part_of="orders",
            env={"ORDERS_API_URL": orders.url, "PLATFORM_CLUSTER": platform.require_output("clusterName")},
            runbook_base_url="https://runbooks.example.com/orders",
        ),
        otlp_endpoint=platform.get_output("otlpEndpoint"),
        environment=environment,
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster}),
    )
    pulumi.export("url", orders.url)
    pulumi.export("workerUrl", worker.url)
