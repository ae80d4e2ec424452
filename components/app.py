"""AppService: one containerised service on the cluster, with everything production checkers ask for.

For one app it declares a Pod-Security-restricted Namespace (optional), a ServiceAccount (IRSA role
when given), a ConfigMap of plain env and a Secret of secret env, a hardened Deployment, a
ClusterIP Service, a HorizontalPodAutoscaler, a PodDisruptionBudget, default-deny plus allow
NetworkPolicies (the deny covers the whole namespace when the app creates it), a ServiceMonitor,
a PrometheusRule (the runbook alerts and SLO burn-rate rules) and Grafana dashboards as ConfigMaps.

How secret changes reach the pods: the Secret keeps a stable name and the container reads it
through `secretKeyRef`, which Kubernetes resolves only when a container starts. A checksum of the
Secret's content in the pod template would roll the pods automatically, but it would also publish
a hash of each secret in a readable object, where a short or guessable secret can be recovered by
brute force. So the pod template carries `secretsRevision` from config instead: whoever rotates a
secret bumps it, and the normal rolling update (`maxUnavailable: 0`) restarts the pods. Plain
config is not secret: its checksum is in the template and a change rolls the pods by itself.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as k8s

from components._app_args import AppServiceArgs, check_apps, check_image
from components._app_parts import (
    Autoscaling,
    DisruptionBudget,
    EgressRule,
    LivenessProbe,
    Probes,
    ReadinessProbe,
    ResourceLimits,
    ResourceRequests,
    Resources,
    StartupProbe,
)
from components._app_pod import DATABASE_DIR, AppDatabase, allow_policy_spec, deployment_spec
from components._model import Environment, as_args, check_later, for_environment, parse_quantity
from components._options import resolve_protect, resolve_provider
from components.alerts import app_alert_groups
from components.dashboards import red_dashboard, slo_dashboard
from components.edge._args import PublicArgs
from components.slo import slo_rule_groups
from components.versions import KUBERNETES_VERSION

__all__ = [
    "AppService",
    "AppServiceArgs",
    "Autoscaling",
    "DisruptionBudget",
    "EgressRule",
    "LivenessProbe",
    "Probes",
    "PublicEntry",
    "ReadinessProbe",
    "ResourceLimits",
    "ResourceRequests",
    "Resources",
    "StartupProbe",
    "check_apps",
    "parse_quantity",
]

T = TypeVar("T")

_meta = k8s.meta.v1
_core = k8s.core.v1

# Pod Security Admission: enforce `restricted` as the cluster's version defines it, and warn and
# audit against the newest definition, so a stricter future release shows up before an upgrade.
_PSA_VERSION = f"v{KUBERNETES_VERSION}"


def _version_label(image: str) -> str:
    """The image's tag, else `sha256-<12 hex>` of its digest: a valid label value either way."""
    reference, _, digest = image.partition("@")
    last = reference.rsplit("/", 1)[-1]
    if ":" in last:
        return last.split(":", 1)[1][:63].rstrip("-_.")
    if digest:
        return digest.replace(":", "-")[:19]
    return "unknown"


#: Namespaces an AppService created, by the cluster (provider) they are on: app name by namespace.
_CREATED: weakref.WeakKeyDictionary[pulumi.ProviderResource, dict[str, str]] = weakref.WeakKeyDictionary()


def _claim_namespace(name: str, args: AppServiceArgs, provider: pulumi.ProviderResource) -> None:
    """Refuse a second AppService creating the namespace another created on the same cluster.

    Two Namespace resources for one namespace would both manage it (server-side apply lets both
    succeed), and deleting either app would delete the namespace under the other.
    """
    if not args.create_namespace or not isinstance(args.namespace, str):
        return
    owners = _CREATED.setdefault(provider, {})
    if args.namespace in owners:
        raise ValueError(
            f"AppService {name!r}: namespace {args.namespace!r} is already created by AppService "
            f"{owners[args.namespace]!r} on this cluster; allowed: declare it once, e.g. "
            f"AppServiceArgs(namespace=<that app>.namespace, create_namespace=False)"
        )
    owners[args.namespace] = name


def _with_namespace(namespace: pulumi.Input[str], make: Callable[[str], T]) -> pulumi.Input[T]:
    """`make(namespace)`, once the namespace is known when it comes from another resource."""
    if isinstance(namespace, str):
        return make(namespace)
    return pulumi.Output.concat(namespace).apply(make)


def _dashboard_data(key: str, board: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, str]]:
    return lambda namespace: {key: json.dumps(board(namespace), indent=1, sort_keys=True)}


def _checksum(data: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()


#: Namespace label asking the AWS Load Balancer Controller to inject pod readiness gates: a pod is
#: ready only once healthy in the target group, so a rolling update never leaves a public app's
#: target group with only new (initial) and old (draining) targets (aws-load-balancer-controller
#: v3.5.0, docs/deploy/pod_readiness_gate.md). It acts on pods created once the Ingress exists.
_READINESS_GATES = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}

#: The Ingress action that answers 404 on the app's metrics path at the load balancer.
_NOT_PUBLIC = "metrics-not-public"


def _prefix_covers(prefix: str, path: str) -> bool:
    """Whether an Ingress `Prefix` path matches `path` (element-wise, as Kubernetes defines it)."""
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/")


@dataclass(frozen=True)
class PublicEntry:
    """What a public app needs of the stack's edge (`components.edge.Edge`): the IngressClass its
    Ingress names, and the CIDRs the load balancer connects from (the public subnets)."""

    ingress_class_name: pulumi.Input[str]
    source_cidrs: Sequence[str]


class AppService(pulumi.ComponentResource):
    """One service on Kubernetes: Deployment, Service, scaling, policies and its observability."""

    namespace: pulumi.Output[str]
    """Namespace the app runs in."""

    service_name: pulumi.Output[str]
    """Name of the ClusterIP Service (and of the Deployment, ServiceAccount, HPA...)."""

    url: pulumi.Output[str]
    """In-cluster URL of the Service: `http://<service>.<namespace>.svc.cluster.local`."""
    namespace_resource: k8s.core.v1.Namespace | None
    """The Namespace this app creates (None with `createNamespace: false`): other apps in the
    namespace wait for it, not for this whole app."""

    def __init__(
        self,
        name: str,
        args: AppServiceArgs,
        *,
        provider: k8s.Provider | None = None,
        image: pulumi.Input[str] | None = None,
        role_arn: pulumi.Input[str] | None = None,
        secrets: Mapping[str, pulumi.Input[str]] | None = None,
        otlp_endpoint: pulumi.Input[str] | None = None,
        crds: pulumi.Resource | None = None,
        cluster_dns: pulumi.Resource | None = None,
        admission: pulumi.Resource | None = None,
        public_entry: PublicEntry | None = None,
        karpenter_nodes: bool = False,
        protect: bool | None = None,
        environment: Environment = "production",
        database: AppDatabase | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the app `name` (its Pulumi name; the Kubernetes name is `args.name`, default
        `name` too) from `args`.

        The Kubernetes provider comes from `opts` as Pulumi resolves it (`provider`, `providers`
        by package, or the parent's); `provider=` is the same, given directly. There is no
        fallback to the ambient kubeconfig: without a Kubernetes provider this raises.

        `image` is used when `args.image` is unset; `role_arn` annotates the ServiceAccount for
        IRSA; `secrets` maps each secret config name in `args.secret_env` to its value (kept a
        Pulumi secret); `otlp_endpoint` is used when `args.otlp_endpoint` is unset; `protect`
        (or `opts.protect`; default on) guards the Namespace, whose deletion would delete
        everything in it. `environment` selects the guardrails `args` are checked against
        (default `production`: replicas >= 2, image by digest...).

        `crds` is what installs the ServiceMonitor and PrometheusRule CRDs (e.g.
        `MonitoringStack.crds`): those two wait for it and nothing else does. `cluster_dns` (the
        coredns add-on) is what the Deployment's pods need to become ready, and `admission` (e.g.
        `AdmissionController.policy`) the policy that must judge their image before any is
        admitted: the Deployment waits for both, and nothing else here does. Without them, only
        `opts.depends_on` orders the app.

        `karpenter_nodes` (default `False`: no node constraint, the pods run on any node) makes
        the pods run only on nodes Karpenter launched (required node affinity: label
        `karpenter.sh/nodepool` exists), keeping them off the managed node groups, which are then
        left to the system pods. Turn it on only where Karpenter runs with at least one NodePool
        (`components.Karpenter`): elsewhere the pods would stay Pending.
        `database` (from components.database `DatabaseUsers`) is the app's database: a Secret
        `<name>-database-access` holds its `DATABASE_URL` (the app's own role, no password) and the RDS
        CAs, mounted at `DATABASE_DIR` with `DATABASE_URL_FILE` naming the file; the
        NetworkPolicy gains the database's egress rules; the Deployment waits for `database.ready`.
        Default: none.
        """
        # Checked before the component registers, so a mistake leaves nothing half-declared.
        where = f"AppService {name!r}"
        args = for_environment(where, as_args(where, AppServiceArgs, args), environment)
        provider = resolve_provider(where, "kubernetes", k8s.Provider, provider, opts)
        protect = resolve_protect(where, protect, opts)
        image_ref = args.image if args.image is not None else image
        if image is not None and args.image is None:
            # The same rules as `args.image`, on what an Output resolves to as well.
            production = environment == "production"
            image_ref = check_later("image", image, lambda v: check_image(v, production=production))
        if image_ref is None:
            raise ValueError(
                f"image: app {name!r} has no image; set `image` in its args or pass image= "
                "(the platform passes the image the stack builds)"
            )
        if args.public is not None and public_entry is None:
            raise ValueError(
                f"public: app {name!r} sets `public` (host {args.public.host!r}) but no public_entry= was "
                "given; pass the stack's edge (PublicEntry(edge.ingress_class_name, public subnet CIDRs))"
            )
        secrets = dict(secrets or {})
        missing = sorted(f"{env} -> {key}" for env, key in args.secret_env.items() if key not in secrets)
        if missing:
            raise ValueError(
                f"secrets: app {name!r} names secret config keys with no value given ({', '.join(missing)}); "
                f"allowed: names among {sorted(secrets) or 'none'}, or set them with "
                "`pulumi config set --secret <name> <value>`"
            )
        _claim_namespace(name, args, provider)
        super().__init__("lmagent:components:AppService", name, None, opts)
        if database is not None:
            args = args.model_copy(update={"extra_egress": [*args.extra_egress, *database.egress]})
        self._name, self._args, self._provider = name, args, provider
        self._crds = [crds] if crds is not None else []
        # The Kubernetes name of the app's objects; children's Pulumi names keep the Pulumi name.
        kname = self._kname = args.name or name
        version: pulumi.Input[str] = args.version or pulumi.Output.from_input(image_ref).apply(_version_label)
        self._selector = {
            "app.kubernetes.io/name": kname,
            "app.kubernetes.io/instance": f"{kname}-{pulumi.get_stack()}",
        }
        self._labels: dict[str, pulumi.Input[str]] = {
            **self._selector,
            "app.kubernetes.io/version": version,
            "app.kubernetes.io/component": args.component,
            "app.kubernetes.io/part-of": args.part_of,
            "app.kubernetes.io/managed-by": "pulumi",
        }

        ns: pulumi.Input[str] = args.namespace
        if args.create_namespace:
            namespace = _core.Namespace(
                f"{name}-namespace",
                metadata=_meta.ObjectMetaArgs(
                    name=args.namespace,
                    labels={
                        **self._labels,
                        "pod-security.kubernetes.io/enforce": "restricted",
                        "pod-security.kubernetes.io/enforce-version": _PSA_VERSION,
                        "pod-security.kubernetes.io/warn": "restricted",
                        "pod-security.kubernetes.io/warn-version": "latest",
                        "pod-security.kubernetes.io/audit": "restricted",
                        "pod-security.kubernetes.io/audit-version": "latest",
                        **(_READINESS_GATES if args.public is not None else {}),
                    },
                ),
                opts=self._opts(protect=protect),
            )
            ns = namespace.metadata.name
        self.namespace_resource = namespace if args.create_namespace else None
        self._ns = ns

        account = _core.ServiceAccount(
            f"{name}-serviceaccount",
            metadata=self._metadata(
                kname, annotations={"eks.amazonaws.com/role-arn": role_arn} if role_arn is not None else None
            ),
            # The app does not call the Kubernetes API; an IRSA token is projected by EKS itself.
            automount_service_account_token=False,
            opts=self._opts(),
        )

        endpoint = args.otlp_endpoint if args.otlp_endpoint is not None else otlp_endpoint
        plain: dict[str, pulumi.Input[str]] = {"OTEL_SERVICE_NAME": kname, **args.env}
        if endpoint is not None:
            plain["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        config = _core.ConfigMap(
            f"{name}-config", metadata=self._metadata(f"{kname}-config"), data=plain, opts=self._opts()
        )
        config_checksum = pulumi.Output.all(**plain).apply(_checksum)

        env: list[_core.EnvVarArgs] = []
        if args.secret_env:
            secret = _core.Secret(
                f"{name}-secrets",
                _core.SecretInitArgs(
                    metadata=self._metadata(f"{kname}-secrets"),
                    type="Opaque",
                    # Output.secret keeps a value passed in as a plain string secret as well.
                    string_data={
                        env_name: pulumi.Output.secret(secrets[key])
                        for env_name, key in sorted(args.secret_env.items())
                    },
                ),
                opts=self._opts(),
            )
            env = [
                _core.EnvVarArgs(
                    name=env_name,
                    value_from=_core.EnvVarSourceArgs(
                        secret_key_ref=_core.SecretKeySelectorArgs(name=secret.metadata.name, key=env_name)
                    ),
                )
                for env_name in sorted(args.secret_env)
            ]
        database_files = None
        if database is not None:
            # A Secret, though nothing in it is secret today (the role has no password): apps and
            # the policy pack treat a DATABASE_URL as a credential wherever it appears. Not named
            # `<app>-database`: that name was the Secret an ExternalSecret owned before apps had
            # roles of their own, and the operator deletes it only after this one is created.
            database_files = _core.Secret(
                f"{name}-database-access",
                _core.SecretInitArgs(
                    metadata=self._metadata(f"{kname}-database-access"),
                    type="Opaque",
                    string_data=dict(database.files),
                ),
                opts=self._opts(),
            ).metadata.name
            # A file, not an env var: the kubelet updates mounted files in place, and the app
            # reads it afresh on each check (app/lmagent_api/settings.py).
            env.append(_core.EnvVarArgs(name="DATABASE_URL_FILE", value=f"{DATABASE_DIR}/DATABASE_URL"))

        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=self._metadata(kname),
            spec=deployment_spec(
                args,
                kname,
                selector=self._selector_args(),
                labels=self._labels,
                annotations={
                    "checksum/config": config_checksum,
                    "lmagent.dev/secrets-revision": args.secrets_revision,
                },
                image=image_ref,
                account=account.metadata.name,
                config=config.metadata.name,
                env=env,
                karpenter_nodes=karpenter_nodes,
                database_files=database_files,
            ),
            opts=pulumi.ResourceOptions.merge(
                self._opts(),
                pulumi.ResourceOptions(
                    depends_on=[
                        *(r for r in (cluster_dns, admission) if r is not None),
                        *(database.ready if database is not None else ()),
                    ]
                ),
            ),
        )
        service = _core.Service(
            f"{name}-service",
            metadata=self._metadata(kname),
            spec=_core.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector,
                ports=[_core.ServicePortArgs(name="http", port=80, target_port="http", protocol="TCP")],
            ),
            opts=self._opts(),
        )
        self._scaling(deployment)
        self._network_policies()
        self._observability()

        self.namespace = pulumi.Output.from_input(ns)
        self.service_name = service.metadata.name
        self.url = pulumi.Output.concat(
            "http://", self.service_name, ".", self.namespace, ".svc.cluster.local"
        )
        self.load_balancer_hostname: pulumi.Output[str] | None = None
        if args.public is not None and public_entry is not None:
            self.load_balancer_hostname = self._public(service, args.public, public_entry)
            self.url = pulumi.Output.concat("https://", args.public.host)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "serviceName": self.service_name,
                "url": self.url,
                "loadBalancerHostname": self.load_balancer_hostname,
            }
        )

    # -----------------------------------------------------------------------------------------

    def _opts(self, *, protect: bool = False) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=self._provider, protect=protect)

    def _crd_opts(self) -> pulumi.ResourceOptions:
        """Options of a custom resource: it waits for the release that installs its CRD."""
        return pulumi.ResourceOptions(parent=self, provider=self._provider, depends_on=self._crds)

    def _metadata(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, pulumi.Input[str]] | None = None,
    ) -> k8s.meta.v1.ObjectMetaArgs:
        return _meta.ObjectMetaArgs(
            name=name,
            namespace=self._ns,
            labels={**self._labels, **(labels or {})},
            annotations=annotations,
        )

    def _selector_args(self) -> k8s.meta.v1.LabelSelectorArgs:
        return _meta.LabelSelectorArgs(match_labels=self._selector)

    def _scaling(self, deployment: k8s.apps.v1.Deployment) -> None:
        args, name, kname = self._args, self._name, self._kname
        if args.autoscaling.enabled:
            auto = args.autoscaling

            def utilization(resource: str, percent: int) -> k8s.autoscaling.v2.MetricSpecArgs:
                return k8s.autoscaling.v2.MetricSpecArgs(
                    type="Resource",
                    resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                        name=resource,
                        target=k8s.autoscaling.v2.MetricTargetArgs(
                            type="Utilization", average_utilization=percent
                        ),
                    ),
                )

            k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa",
                metadata=self._metadata(kname),
                spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                    scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                        api_version="apps/v1", kind="Deployment", name=deployment.metadata.name
                    ),
                    min_replicas=auto.min_replicas,
                    max_replicas=auto.max_replicas,
                    metrics=[
                        utilization("cpu", auto.cpu_utilization),
                        utilization("memory", auto.memory_utilization),
                    ],
                ),
                opts=self._opts(),
            )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=self._metadata(kname),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=args.disruption_budget.max_unavailable,
                selector=self._selector_args(),
                # A crash-looping pod must not block node drains: it serves nothing anyway.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=self._opts(),
        )

    def _network_policies(self) -> None:
        name, kname, net = self._name, self._kname, k8s.networking.v1
        # The app that creates the namespace denies all traffic to and from every pod in it; an app
        # in a namespace it does not own denies only its own pods', leaving the owner's choices be.
        # The allow policy below (and each app's own) opens what is needed.
        whole = self._args.create_namespace
        net.NetworkPolicy(
            f"{name}-deny-all",
            metadata=self._metadata("default-deny" if whole else f"{kname}-default-deny"),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=_meta.LabelSelectorArgs() if whole else self._selector_args(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=self._opts(),
        )
        net.NetworkPolicy(
            f"{name}-allow",
            metadata=self._metadata(f"{kname}-allow"),
            spec=allow_policy_spec(self._args, self._selector_args()),
            opts=self._opts(),
        )

    def _public(self, service: Any, public: PublicArgs, entry: PublicEntry) -> pulumi.Output[str]:
        """The app's Ingress on the shared load balancer, and the policy admitting the balancer.

        Scheme, target type, TLS policy, certificate, redirect and WAF come from the IngressClass's
        params (`components.edge`), so no annotation here can weaken them.
        """
        name, kname, net = self._name, self._kname, k8s.networking.v1
        # With IP targets the load balancer connects to the pod from its own addresses, which lie
        # in the public subnets: admit those, on the app port only.
        net.NetworkPolicy(
            f"{name}-allow-load-balancer",
            metadata=self._metadata(f"{kname}-allow-load-balancer"),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=self._selector_args(),
                policy_types=["Ingress"],
                ingress=[
                    net.NetworkPolicyIngressRuleArgs(
                        from_=[
                            net.NetworkPolicyPeerArgs(ip_block=net.IPBlockArgs(cidr=cidr))
                            for cidr in sorted(entry.source_cidrs)
                        ],
                        ports=[net.NetworkPolicyPortArgs(port=self._args.port, protocol="TCP")],
                    )
                ],
            ),
            opts=self._opts(),
        )
        backend = net.IngressBackendArgs(
            service=net.IngressServiceBackendArgs(
                name=service.metadata.name, port=net.ServiceBackendPortArgs(name="http")
            )
        )
        paths = [
            net.HTTPIngressPathArgs(path=path, path_type="Prefix", backend=backend) for path in public.paths
        ]
        refused: dict[str, str] = {}
        metrics = self._args.metrics_path
        if any(_prefix_covers(path, metrics) for path in public.paths):
            # The metrics share the port the load balancer forwards to: answer 404 on them at the
            # load balancer. The controller puts Exact paths before Prefix ones, and a backend port
            # `use-annotation` takes the action of that name (aws-load-balancer-controller v3.5.0,
            # pkg/ingress/model_build_listener_rules.go; docs/guide/ingress/annotations.md, actions).
            refused[f"alb.ingress.kubernetes.io/actions.{_NOT_PUBLIC}"] = json.dumps(
                {
                    "type": "fixed-response",
                    "fixedResponseConfig": {"contentType": "text/plain", "statusCode": "404"},
                }
            )
            paths.insert(
                0,
                net.HTTPIngressPathArgs(
                    path=metrics,
                    path_type="Exact",
                    backend=net.IngressBackendArgs(
                        service=net.IngressServiceBackendArgs(
                            name=_NOT_PUBLIC, port=net.ServiceBackendPortArgs(name="use-annotation")
                        )
                    ),
                ),
            )
        ingress = net.Ingress(
            f"{name}-ingress",
            metadata=self._metadata(
                kname,
                annotations={
                    **refused,
                    # Health checks go to the readiness path: a pod that cannot serve leaves the
                    # target group as it leaves the Service.
                    "alb.ingress.kubernetes.io/healthcheck-path": self._args.probes.readiness.path,
                    "alb.ingress.kubernetes.io/success-codes": "200",
                    # HTTP exists only to redirect (the params' sslRedirectPort); rules serve HTTPS.
                    "alb.ingress.kubernetes.io/listen-ports": json.dumps([{"HTTP": 80}, {"HTTPS": 443}]),
                },
            ),
            spec=net.IngressSpecArgs(
                ingress_class_name=entry.ingress_class_name,
                tls=[net.IngressTLSArgs(hosts=[public.host])],
                rules=[
                    net.IngressRuleArgs(
                        host=public.host,
                        http=net.HTTPIngressRuleValueArgs(paths=paths),
                    )
                ],
            ),
            opts=self._opts(),
        )
        return ingress.status.apply(
            lambda status: (
                str(status.load_balancer.ingress[0].hostname)
                if status and status.load_balancer and status.load_balancer.ingress
                else ""
            )
        )

    def _observability(self) -> None:
        args, name, kname = self._args, self._name, self._kname
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(kname, labels=args.monitoring_labels),
            spec={
                # Series get job=<the Service's app.kubernetes.io/name> = the app's name, and the
                # namespace label: the contract the alert and SLO rules select on.
                "jobLabel": "app.kubernetes.io/name",
                "selector": {"matchLabels": self._selector},
                "namespaceSelector": {"matchNames": [self._ns]},
                "endpoints": [{"port": "http", "path": args.metrics_path, "interval": args.scrape_interval}],
            },
            opts=self._crd_opts(),
        )

        def rules(namespace: str) -> dict[str, Any]:
            return {
                "groups": app_alert_groups(
                    service=kname,
                    namespace=namespace,
                    thresholds=args.alerts,
                    runbook_base_url=args.runbook_base_url,
                )
                + slo_rule_groups(
                    service=kname, namespace=namespace, slos=args.slos, runbook_base_url=args.runbook_base_url
                )
            }

        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=self._metadata(kname, labels=args.monitoring_labels),
            spec=_with_namespace(args.namespace, rules),
            opts=self._crd_opts(),
        )
        if not args.dashboards:
            return
        boards: dict[str, Callable[[str], dict[str, Any]]] = {
            "red": lambda namespace: red_dashboard(service=kname, namespace=namespace),
            "slo": lambda namespace: slo_dashboard(service=kname, namespace=namespace, slos=args.slos),
        }
        for kind, board in boards.items():
            _core.ConfigMap(
                f"{name}-dashboard-{kind}",
                # Grafana's dashboard sidecar loads every ConfigMap with this label.
                metadata=self._metadata(f"{kname}-dashboard-{kind}", labels={"grafana_dashboard": "1"}),
                data=_with_namespace(args.namespace, _dashboard_data(f"{kname}-{kind}.json", board)),
                opts=self._opts(),
            )
