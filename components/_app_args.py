"""The typed settings of one app (`AppServiceArgs`), validated in the caller's words."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components._app_parts import (
    Autoscaling,
    DisruptionBudget,
    EgressRule,
    ProbePath,
    Probes,
    Resources,
    check_env_names,
    default_egress,
)
from components._model import (
    InputStr,
    Model,
    SecretName,
    at_least_two_in_production,
    check_later,
    in_production,
)
from components._secret_names import looks_secret
from components.alerts import AlertThresholds, check_name
from components.edge._args import PublicArgs
from components.slo import Slo, check_slos, default_slos

__all__ = ["AppServiceArgs", "check_apps", "check_image"]

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(
    r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


class AppServiceArgs(Model):
    """One service on the cluster: the stack file's `apps.<name>` section and the Python args.

    Every field has a production-safe default; the reference service `lmagent-api` runs with none
    set except the image, which the platform passes when `image` is absent.
    """

    name: str | None = None
    """The Kubernetes name of the app's Deployment, Service, ServiceAccount and the rest, and its
    `app.kubernetes.io/name` (the `job` label its alerts select on). Default: the component's
    Pulumi name. Set it to run two apps of the same Kubernetes name in two namespaces: each gets
    its own Pulumi name (`AppService("orders-api", AppServiceArgs(name="api", ...))`), since
    two resources with one Pulumi name are one URN."""

    image: InputStr | None = None
    """Image reference to run, e.g. `<registry>/<repo>@sha256:<digest>`. Default: unset, and the
    platform passes the image the stack builds. Production requires a digest (`@sha256:` and 64
    hex digits): a tag can be moved, a digest cannot."""

    namespace: InputStr = "lmagent"
    """Namespace the app runs in. Default `lmagent`. May be an Output, such as another app's
    `namespace` (with `createNamespace: false`), so the app waits for that namespace."""

    create_namespace: bool = True
    """Create the namespace with Pod Security Admission `restricted` (enforce, warn, audit).
    Default: on. Off: the namespace must exist already (created by another app or by hand)."""

    component: str = "api"
    """The `app.kubernetes.io/component` label. Default `api`."""

    part_of: str = "lmagent"
    """The `app.kubernetes.io/part-of` label. Default `lmagent`."""

    version: str | None = None
    """The `app.kubernetes.io/version` label. Default: the image's tag, or `sha256-<first 12 hex
    of the digest>` for an image by digest only."""

    port: int = Field(default=8000, ge=1, le=65535)
    """Port the container listens on (named `http`; the Service maps port 80 to it). Default 8000,
    the reference service's port. It must match what the image listens on."""

    replicas: int = Field(default=2, ge=1)
    """Pods to run when `autoscaling.enabled` is false (ignored otherwise). Default 2; at least 2
    in production."""

    resources: Resources = Field(default_factory=Resources)
    """Default: requests 250m CPU / 256Mi, limits 1 CPU / 512Mi."""

    probes: Probes = Field(default_factory=Probes)
    """Default: startup and liveness on `/health`, readiness on `/ready`."""

    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    """Default: an HPA from 2 to 6 pods at 70% CPU / 80% memory of the requests."""

    disruption_budget: DisruptionBudget = Field(default_factory=DisruptionBudget)
    """Default: at most one pod evicted at a time."""

    termination_grace_period_seconds: int = Field(default=45, ge=1)
    """Seconds from the start of termination to SIGKILL. Default 45: the preStop pause (5 s), the
    reference service's drain (5 s) and graceful shutdown (20 s), with room to spare."""

    pre_stop_sleep_seconds: int = Field(default=5, ge=0)
    """Seconds the pod keeps serving before SIGTERM, while endpoints and load balancers drop it.
    Default 5. Uses the kubelet's `preStop.sleep` action (Kubernetes 1.30+), which needs no
    `sleep` binary in the image. 0: no pause."""

    env: dict[str, InputStr] = Field(default={})
    """Extra plain environment variables, put in the app's ConfigMap. Default: none (the component
    always sets `OTEL_SERVICE_NAME` and, when known, `OTEL_EXPORTER_OTLP_ENDPOINT`)."""

    secret_env: dict[str, SecretName] = Field(default={})
    """Environment variables whose values are secret config keys, e.g. `{DATABASE_URL:
    lmagentApiDatabaseUrl}`; the values go into the app's Kubernetes Secret and reach the
    container through `secretKeyRef`. Default: none."""

    database: str | None = None
    """The stack's database (a key of its `databases` section) the app uses: the platform makes
    the app's own PostgreSQL role (named after the app, hyphens made underscores; IAM
    authentication, no password), writes its `DATABASE_URL` (`sslmode=verify-full`) into a Secret
    mounted at `/var/run/secrets/lmagent/database` (`DATABASE_URL_FILE` names the file), gives its
    pods an EKS Pod Identity role allowed `rds-db:connect` as that role, and allows egress to
    PostgreSQL (5432) in the private subnets and to the Pod Identity agent only. Default: none."""

    secrets_revision: str = "1"
    """Bump this (any new string) after changing a secret's value: it is a pod-template annotation,
    so the change rolls the pods, which read secrets only at start. Default `1`."""

    otlp_endpoint: InputStr | None = None
    """`OTEL_EXPORTER_OTLP_ENDPOINT` of the app. Default: unset, and the platform passes the
    monitoring stack's collector endpoint; with neither the variable is not set."""

    ingress_from: list[str] = Field(default_factory=lambda: ["monitoring"])
    """Namespaces whose pods may reach the `http` port. Default: `monitoring` (Prometheus scrapes).
    A public app's load balancer is admitted by address instead (see `public`)."""

    public: PublicArgs | None = None
    """Serve the app on the internet at `https://<host>` through the stack's shared load balancer
    (the stack's `edge` section must be set). Its NetworkPolicy then admits the public subnets,
    where the load balancer's addresses are, on the app port. Default: unset, the app is reachable
    only inside the cluster."""

    egress: list[EgressRule] = Field(default_factory=default_egress)
    """Where the app may connect, besides DNS (always allowed to kube-system on 53 UDP/TCP).
    Default: the OTLP collector in `monitoring` (4317, 4318) and HTTPS to anywhere except the
    instance metadata address (AWS APIs). Setting it replaces the default list."""

    extra_egress: list[EgressRule] = Field(default=[])
    """Destinations added to `egress`, e.g. the database's CIDR and port. Default: none."""

    monitoring_labels: dict[str, str] = Field(default={})
    """Extra labels on the ServiceMonitor and PrometheusRule, for a Prometheus that selects them
    by label (e.g. `{release: monitoring}` for kube-prometheus-stack's default selectors). Default:
    none; the platform's Prometheus selects these objects in every namespace."""

    iam_policy_arns: list[InputStr] = Field(default=[])
    """Managed IAM policies the app's pods may use, through an IRSA role bound to its
    ServiceAccount (with `database` set, through its EKS Pod Identity role instead, which also
    holds `rds-db:connect`). Default: none, and no role: the pods have no AWS permissions."""

    scrape_interval: str = "30s"
    """How often Prometheus scrapes `/metrics`. Default `30s`."""

    metrics_path: ProbePath = "/metrics"
    """Path of the Prometheus metrics. Default `/metrics`."""

    slos: list[Slo] = Field(default_factory=default_slos)
    """The app's SLOs in the runbook's format. Default: the runbook's availability 99.9%/30d,
    latency p95 < 0.3 s 95%/30d and error rate 99%/7d."""

    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    """Thresholds of the runbook's alerts. Default: the runbook's values (5% errors, p95 0.5 s,
    any restart)."""

    runbook_base_url: str = "https://runbooks.example.com/lmagent"
    """Base of each alert's `runbook_url` (`<base>/<AlertName>`). Default: a placeholder site;
    set it to where the team's runbooks live."""

    dashboards: bool = True
    """Publish the RED and SLO dashboards as ConfigMaps labelled `grafana_dashboard: "1"` in the
    app's namespace. Default: on."""

    @field_validator("name")
    @classmethod
    def _kubernetes_name(cls, value: str | None) -> str | None:
        return None if value is None else check_name("name", value)

    @field_validator("namespace", "component", "part_of")
    @classmethod
    def _names(cls, value: Any, info: ValidationInfo) -> Any:
        field = info.field_name or "name"
        return check_later(field, value, lambda v: check_name(field, v))

    @field_validator("ingress_from")
    @classmethod
    def _namespaces(cls, values: list[str]) -> list[str]:
        for value in values:
            check_name("ingressFrom", value)
        return values

    @field_validator("iam_policy_arns")
    @classmethod
    def _policy_arns(cls, values: list[Any]) -> list[Any]:
        return [check_later("iam_policy_arns", value, _check_policy_arn) for value in values]

    @field_validator("slos")
    @classmethod
    def _slos(cls, slos: list[Slo]) -> list[Slo]:
        # At config time rather than when the rules are built: the stack file gets the error.
        check_slos(slos)
        return slos

    @field_validator("version")
    @classmethod
    def _label_value(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", value):
            raise ValueError(
                f"{value!r} is not a label value; allowed: up to 63 letters, digits, '-', '_' "
                "and '.', starting and ending with a letter or digit"
            )
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        production = in_production(info)
        return check_later("image", value, lambda v: check_image(v, production=production))

    _replicas = field_validator("replicas")(at_least_two_in_production)

    @field_validator("env", "secret_env")
    @classmethod
    def _env(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_env_names(value)
        return value

    @field_validator("env")
    @classmethod
    def _plain_env_holds_no_secret(cls, value: dict[str, str]) -> dict[str, str]:
        # Plain env lands in a ConfigMap, readable by anyone who can read the namespace. The policy
        # pack refuses it at preview too; refusing it here says so before anything is declared.
        secret = sorted(name for name in value if looks_secret(name))
        if secret:
            raise ValueError(
                f"{', '.join(secret)} looks like a secret; allowed: put it in `secretEnv` (a Kubernetes "
                "Secret, value set with `pulumi config set --secret`), or rename it if it is not one"
            )
        return value

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not re.match(r"^[1-9][0-9]*(s|m)$", value):
            raise ValueError(f"{value!r} is not a scrape interval; allowed: seconds or minutes, e.g. 30s, 1m")
        return value

    @field_validator("runbook_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL; allowed: e.g. https://runbooks.example.com")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AppServiceArgs:
        both = sorted(set(self.env) & set(self.secret_env))
        if both:
            raise ValueError(f"{', '.join(both)} is in both `env` and `secretEnv`; set it in one of them")
        taken = sorted({"DATABASE_URL", "DATABASE_URL_FILE"} & (set(self.env) | set(self.secret_env)))
        if self.database is not None and taken:
            raise ValueError(
                f"database {self.database!r} sets {', '.join(taken)} itself; remove it from `env`/`secretEnv`"
            )
        if self.pre_stop_sleep_seconds >= self.termination_grace_period_seconds:
            raise ValueError(
                f"preStopSleepSeconds {self.pre_stop_sleep_seconds} leaves no time to shut down "
                f"within terminationGracePeriodSeconds {self.termination_grace_period_seconds}; "
                "allowed: a pause shorter than the grace period"
            )
        minimum = self._minimum_pods()
        # A budget that lets every pod go at once protects nothing. A single pod (a relaxed
        # staging) is the exception: a budget of 0 would block every node drain instead.
        if minimum > 1 and self.disruption_budget.max_unavailable >= minimum:
            raise ValueError(
                f"disruptionBudget.maxUnavailable {self.disruption_budget.max_unavailable} would let "
                f"a drain evict all {minimum} pods; allowed: fewer than the minimum replica count"
            )
        return self

    def _minimum_pods(self) -> int:
        return self.autoscaling.min_replicas if self.autoscaling.enabled else self.replicas


def check_image(value: str, *, production: bool) -> str:
    """`value` if it is an image reference (by digest in production); ValueError saying why not."""
    if not isinstance(value, str) or not _IMAGE.match(value):
        raise ValueError(
            f"{value!r} is not an image reference; allowed: e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/lmagent-api@sha256:<64 hex>"
        )
    if production and not _DIGEST.search(value):
        raise ValueError(
            "must be pinned by digest in production (`<repository>@sha256:<64 hex digits>`); "
            "a tag can be moved to another image"
        )
    return value


def _check_policy_arn(value: str) -> str:
    if not isinstance(value, str) or not re.match(
        r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$", value
    ):
        raise ValueError(
            f"{value!r} is not an IAM policy ARN; allowed: e.g. "
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        )
    return value


def check_apps(apps: dict[str, AppServiceArgs]) -> dict[str, AppServiceArgs]:
    """Reject app names that are not Kubernetes names and namespaces created by two apps."""
    for name in apps:
        check_name("app name", name)
    creators: dict[object, str] = {}
    for name, app in apps.items():
        if app.create_namespace and app.namespace in creators:
            raise ValueError(
                f"apps {creators[app.namespace]!r} and {name!r} both create namespace "
                f"{app.namespace!r}; set `createNamespace: false` on all but one of them"
            )
        if app.create_namespace:
            creators[app.namespace] = name
    return apps
