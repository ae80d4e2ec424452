"""The parts of an app's settings: resource quantities, probes, autoscaling, disruption, egress."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from components._model import Model, Quantity, at_least_two_in_production, check_limit_covers_request
from components.alerts import check_name

__all__ = [
    "MANAGED_ENV",
    "Autoscaling",
    "DisruptionBudget",
    "EgressRule",
    "LivenessProbe",
    "ProbePath",
    "Probes",
    "ReadinessProbe",
    "ResourceLimits",
    "ResourceRequests",
    "Resources",
    "StartupProbe",
    "check_env_names",
    "default_egress",
]

# Portable environment variable names: what every shell and `envFrom` accept without warnings.
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names the component sets itself; a user value would silently fight it.
MANAGED_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME")


def check_env_names(names: Mapping[str, Any]) -> None:
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
            check_limit_covers_request(kind, getattr(self.requests, kind), getattr(self.limits, kind))
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

    _two_in_production = field_validator("min_replicas")(at_least_two_in_production)

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

    cidrs: list[str] = Field(default=[])
    """IP ranges allowed (e.g. the database subnet). Default: none; set this or `namespace`."""

    except_cidrs: list[str] = Field(default=[])
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


def default_egress() -> list[EgressRule]:
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
