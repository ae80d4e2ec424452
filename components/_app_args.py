"""The typed settings of one app (`AppServiceArgs` and its parts), validated in the caller's words."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from components._model import Model, SecretName, in_production
from components.alerts import AlertThresholds, check_name
from components.slo import Slo, check_slos, default_slos

__all__ = [
    "AppServiceArgs",
    "Autoscaling",
    "DisruptionBudget",
    "EgressRule",
    "LivenessProbe",
    "Probes",
    "ReadinessProbe",
    "ResourceLimits",
    "ResourceRequests",
    "Resources",
    "StartupProbe",
    "check_apps",
    "parse_quantity",
]

# Kubernetes' resource.Quantity grammar: a signed decimal number and one optional suffix.
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": "1e-9", "u": "1e-6", "m": "1e-3", "k": "1e3", "M": "1e6", "G": "1e9", "T": "1e12"}
_DECIMAL |= {"P": "1e15", "E": "1e18"}

# Portable environment variable names: what every shell and `envFrom` accept without warnings.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names the component sets itself; a user value would silently fight it.
MANAGED_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME")

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(
    r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
)


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity (`250m` -> 0.25, `1Gi` -> 1073741824); ValueError if none."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; allowed: a number with an optional suffix, "
            "e.g. 250m or 1 (CPU), 256Mi or 1Gi (memory)"
        )
    suffix = match.group(2) or ""
    value = Decimal(text.strip().removesuffix(suffix) if suffix else text.strip())
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * Decimal(_DECIMAL[suffix])
    if suffix:
        return value * Decimal(10) ** int(suffix[1:])
    return value


def _quantity(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
"""A positive Kubernetes quantity string such as `250m`, `1`, `256Mi` or `1Gi`."""


def _env_names(names: Mapping[str, Any]) -> None:
    bad = sorted(n for n in names if not _ENV_NAME.match(n))
    if bad:
        raise ValueError(
            f"{', '.join(repr(n) for n in bad)} is not a valid environment variable name; allowed: "
            "letters, digits and '_', not starting with a digit (e.g. DATABASE_URL)"
        )
    managed = sorted(set(names) & set(MANAGED_ENV))
    if managed:
        raise ValueError(
            f"{', '.join(managed)} is set by the component (from otlpEndpoint and the app's name); "
            "remove it here and set `otlpEndpoint` instead"
        )


class ResourceRequests(Model):
    """What the scheduler reserves for each pod."""

    cpu: Quantity = "250m"
    """CPU reserved per pod. Default `250m` (a quarter core): the reference service idles far
    below it, so the HPA's 70% target means real load."""

    memory: Quantity = "256Mi"
    """Memory reserved per pod. Default `256Mi`."""


class ResourceLimits(Model):
    """The most each pod may use: over the memory limit it is killed, over CPU it is throttled."""

    cpu: Quantity = "1"
    """CPU ceiling per pod. Default `1` core: room for bursts without one pod starving a node."""

    memory: Quantity = "512Mi"
    """Memory ceiling per pod. Default `512Mi`: twice the request, then the OOM killer."""


class Resources(Model):
    """Requests and limits of the app's container (every checker wants both)."""

    requests: ResourceRequests = Field(default_factory=ResourceRequests)
    """Default: 250m CPU, 256Mi memory."""

    limits: ResourceLimits = Field(default_factory=ResourceLimits)
    """Default: 1 CPU, 512Mi memory. Each must be at least its request."""

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                raise ValueError(
                    f"limits.{kind} {limit!r} is below requests.{kind} {request!r}; "
                    f"allowed: a limit at least as large as the request"
                )
        return self


def _probe_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an HTTP path; allowed: a path starting with '/', e.g. /health")
    return value


ProbePath = Annotated[str, AfterValidator(_probe_path)]


class _Probe(Model):
    path: ProbePath
    initial_delay_seconds: int = Field(default=0, ge=0)
    """Seconds before the first check. Default 0: the startup probe holds the others back."""

    period_seconds: int = Field(default=10, ge=1)
    """Seconds between checks. Default: see the probe."""

    timeout_seconds: int = Field(default=2, ge=1)
    """Seconds a check may take. Default 2: longer than the service's 1 s database check."""

    failure_threshold: int = Field(default=3, ge=1)
    """Consecutive failures that count. Default: see the probe."""


class StartupProbe(_Probe):
    """Holds readiness and liveness back until the process answers at all."""

    path: ProbePath = "/health"
    """Default `/health`: the process is up."""

    period_seconds: int = Field(default=2, ge=1)
    """Default 2 s, with 30 failures: up to 60 s to start before the container is restarted."""

    failure_threshold: int = Field(default=30, ge=1)
    """Default 30 (see `periodSeconds`)."""


class ReadinessProbe(_Probe):
    """Takes the pod out of the Service while it cannot serve (database down, draining)."""

    path: ProbePath = "/ready"
    """Default `/ready`: the reference service fails it while its dependencies are down and while
    it drains after SIGTERM."""

    period_seconds: int = Field(default=5, ge=1)
    """Default 5 s: a draining pod leaves the endpoints within about 15 s."""


class LivenessProbe(_Probe):
    """Restarts a process that is stuck; it must not depend on anything outside the process."""

    path: ProbePath = "/health"
    """Default `/health`: distinct from readiness, so a database outage does not restart pods."""

    period_seconds: int = Field(default=10, ge=1)
    """Default 10 s, with 3 failures: a hung process is restarted after about 30 s."""


class Probes(Model):
    """The three probes of the app's container; each can be tuned on its own."""

    startup: StartupProbe = Field(default_factory=StartupProbe)
    """Default: `/health` every 2 s, 30 failures allowed (60 s to start)."""

    readiness: ReadinessProbe = Field(default_factory=ReadinessProbe)
    """Default: `/ready` every 5 s, 3 failures."""

    liveness: LivenessProbe = Field(default_factory=LivenessProbe)
    """Default: `/health` every 10 s, 3 failures."""


class Autoscaling(Model):
    """The HorizontalPodAutoscaler (autoscaling/v2) that owns the replica count."""

    enabled: bool = True
    """Default on: the HPA scales between `minReplicas` and `maxReplicas` and the Deployment
    leaves `replicas` out. Off: the Deployment runs `replicas` pods and no HPA is created."""

    min_replicas: int = Field(default=2, ge=1)
    """Fewest pods. Default 2 (and at least 2 in production): one pod can be drained or crash
    while the other serves."""

    max_replicas: int = Field(default=6, ge=1)
    """Most pods. Default 6: a ceiling on cost if traffic (or a bug) drives CPU up."""

    cpu_utilization: int = Field(default=70, ge=1, le=1000)
    """Target average CPU use, in percent of the request. Default 70."""

    memory_utilization: int = Field(default=80, ge=1, le=1000)
    """Target average memory use, in percent of the request. Default 80."""

    @field_validator("min_replicas")
    @classmethod
    def _two_in_production(cls, value: int, info: ValidationInfo) -> int:
        if in_production(info) and value < 2:
            raise ValueError("must be >= 2 in production, so one pod can fail or be drained")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Autoscaling:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"maxReplicas {self.max_replicas} is below minReplicas {self.min_replicas}; "
                "allowed: maxReplicas >= minReplicas"
            )
        return self


class DisruptionBudget(Model):
    """The PodDisruptionBudget: how many pods voluntary evictions (node drains) may take at once."""

    max_unavailable: int = Field(default=1, ge=1)
    """Default 1: with at least 2 replicas a drain never takes the service down, and a budget in
    pods (not `minAvailable`) never blocks a drain when the HPA is at its minimum."""


class EgressRule(Model):
    """One allowed destination for the app's outgoing traffic (a NetworkPolicy egress rule)."""

    description: str = ""
    """What the destination is, for people reading the config. Default: empty."""

    cidrs: list[str] = Field(default_factory=list)
    """IP ranges allowed (e.g. the database subnet). Default: none; set this or `namespace`."""

    except_cidrs: list[str] = Field(default_factory=list)
    """Ranges carved out of `cidrs` (e.g. the instance metadata address). Default: none."""

    namespace: str | None = None
    """Namespace whose pods are allowed (e.g. the OTLP collector's). Default: unset; set this or
    `cidrs`."""

    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(min_length=1)
    """Destination ports. Required."""

    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    """Default TCP."""

    @field_validator("cidrs", "except_cidrs")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=True)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a network in CIDR notation; allowed: e.g. 10.0.0.0/16"
                ) from None
        return values

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return None if value is None else check_name("namespace", value)

    @model_validator(mode="after")
    def _one_destination(self) -> EgressRule:
        if bool(self.cidrs) == (self.namespace is not None):
            raise ValueError("set exactly one of `cidrs` and `namespace` per egress rule")
        outers = [ipaddress.ip_network(c) for c in self.cidrs]
        for text in self.except_cidrs:
            inner = ipaddress.ip_network(text)
            if not any(inner.version == o.version and inner.subnet_of(o) for o in outers):  # type: ignore[arg-type]
                raise ValueError(
                    f"exceptCidrs {text!r} is not inside any of cidrs {self.cidrs}; allowed: "
                    "ranges carved out of a listed CIDR"
                )
        return self


def _default_egress() -> list[EgressRule]:
    return [
        EgressRule(
            description="OTLP collector (gRPC 4317, HTTP 4318)",
            namespace="monitoring",
            ports=[4317, 4318],
        ),
        EgressRule(
            description="AWS APIs over HTTPS, never the node's instance metadata endpoint",
            cidrs=["0.0.0.0/0"],
            except_cidrs=["169.254.169.254/32"],
            ports=[443],
        ),
    ]


class AppServiceArgs(Model):
    """One service on the cluster: the stack file's `apps.<name>` section and the Python args.

    Every field has a production-safe default; the reference service `lmagent-api` runs with none
    set except the image, which the platform passes when `image` is absent.
    """

    image: str | None = None
    """Image reference to run, e.g. `<registry>/<repo>@sha256:<digest>`. Default: unset, and the
    platform passes the image the stack builds. Production requires a digest (`@sha256:` and 64
    hex digits): a tag can be moved, a digest cannot."""

    namespace: str = "lmagent"
    """Namespace the app runs in. Default `lmagent`."""

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

    env: dict[str, str] = Field(default_factory=dict)
    """Extra plain environment variables, put in the app's ConfigMap. Default: none (the component
    always sets `OTEL_SERVICE_NAME` and, when known, `OTEL_EXPORTER_OTLP_ENDPOINT`)."""

    secret_env: dict[str, SecretName] = Field(default_factory=dict)
    """Environment variables whose values are secret config keys, e.g. `{DATABASE_URL:
    lmagentApiDatabaseUrl}`; the values go into the app's Kubernetes Secret and reach the
    container through `secretKeyRef`. Default: none."""

    secrets_revision: str = "1"
    """Bump this (any new string) after changing a secret's value: it is a pod-template annotation,
    so the change rolls the pods, which read secrets only at start. Default `1`."""

    otlp_endpoint: str | None = None
    """`OTEL_EXPORTER_OTLP_ENDPOINT` of the app. Default: unset, and the platform passes the
    monitoring stack's collector endpoint; with neither the variable is not set."""

    ingress_from: list[str] = Field(default_factory=lambda: ["monitoring", "ingress-nginx"])
    """Namespaces whose pods may reach the `http` port. Default: `monitoring` (Prometheus scrapes)
    and `ingress-nginx` (the ingress controller)."""

    egress: list[EgressRule] = Field(default_factory=_default_egress)
    """Where the app may connect, besides DNS (always allowed to kube-system on 53 UDP/TCP).
    Default: the OTLP collector in `monitoring` (4317, 4318) and HTTPS to anywhere except the
    instance metadata address (AWS APIs). Setting it replaces the default list."""

    extra_egress: list[EgressRule] = Field(default_factory=list)
    """Destinations added to `egress`, e.g. the database's CIDR and port. Default: none."""

    monitoring_labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on the ServiceMonitor and PrometheusRule, for a Prometheus that selects them
    by label (e.g. `{release: monitoring}` for kube-prometheus-stack's default selectors). Default:
    none; the platform's Prometheus selects these objects in every namespace."""

    iam_policy_arns: list[str] = Field(default_factory=list)
    """Managed IAM policies the app's pods may use, through an IRSA role bound to its
    ServiceAccount. Default: none, and no role: the pods have no AWS permissions."""

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

    @field_validator("namespace", "component", "part_of")
    @classmethod
    def _names(cls, value: str, info: ValidationInfo) -> str:
        return check_name(info.field_name or "name", value)

    @field_validator("ingress_from")
    @classmethod
    def _namespaces(cls, values: list[str]) -> list[str]:
        for value in values:
            check_name("ingressFrom", value)
        return values

    @field_validator("iam_policy_arns")
    @classmethod
    def _policy_arns(cls, values: list[str]) -> list[str]:
        for value in values:
            if not re.match(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\w+=,.@/-]+$", value):
                raise ValueError(
                    f"{value!r} is not an IAM policy ARN; allowed: e.g. "
                    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
                )
        return values

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
    def _image(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not _IMAGE.match(value):
            raise ValueError(
                f"{value!r} is not an image reference; allowed: e.g. "
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/lmagent-api@sha256:<64 hex>"
            )
        if in_production(info) and not _DIGEST.search(value):
            raise ValueError(
                "must be pinned by digest in production (`<repository>@sha256:<64 hex digits>`); "
                "a tag can be moved to another image"
            )
        return value

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int, info: ValidationInfo) -> int:
        if in_production(info) and value < 2:
            raise ValueError("must be >= 2 in production, so one pod can fail or be drained")
        return value

    @field_validator("env", "secret_env")
    @classmethod
    def _env(cls, value: dict[str, Any]) -> dict[str, Any]:
        _env_names(value)
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


def check_apps(apps: dict[str, AppServiceArgs]) -> dict[str, AppServiceArgs]:
    """Reject app names that are not Kubernetes names and namespaces created by two apps."""
    for name in apps:
        check_name("app name", name)
    creators: dict[str, str] = {}
    for name, app in apps.items():
        if app.create_namespace and app.namespace in creators:
            raise ValueError(
                f"apps {creators[app.namespace]!r} and {name!r} both create namespace "
                f"{app.namespace!r}; set `createNamespace: false` on all but one of them"
            )
        if app.create_namespace:
            creators[app.namespace] = name
    return apps
