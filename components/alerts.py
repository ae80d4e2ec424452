"""Builds the source runbook's per-app Prometheus alert rules as plain rule-group dicts."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo

from components._model import Model

__all__ = [
    "SERVER_ERRORS",
    "SIGNAL",
    "AlertThresholds",
    "PromDuration",
    "alert_rule",
    "app_alert_groups",
    "check_name",
    "duration_seconds",
    "selector",
]

# Prometheus' duration grammar (model.ParseDuration): units in descending order, each at most once.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNIT_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)

# Kubernetes object names (RFC 1123 labels): also safe to embed in PromQL strings and regexes.
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# The label naming an alert's symptom (`errors`, `latency`, `restarts`), shared by the runbook's
# alerts and the SLO burn alerts; Alertmanager's inhibitions and paging groups read it.
SIGNAL = "signal"

# Every 5xx answer is an error for the runbook's error-rate alert and the default ratio SLIs.
SERVER_ERRORS = 'status=~"5.."'


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as `90s`, `5m` or `1h30m`; ValueError otherwise."""
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(
            f"{text!r} is not a Prometheus duration; use digits and units in descending order "
            "(y, w, d, h, m, s, ms), e.g. 30s, 5m, 1h30m, 7d"
        )
    return sum(int(n) * unit for n, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if n)


def _positive_duration(value: str, info: ValidationInfo) -> str:
    field = info.field_name or "duration"
    try:
        seconds = duration_seconds(value)
    except ValueError as err:
        raise ValueError(f"{field}: {err}") from None
    if seconds <= 0:
        raise ValueError(f"{field}: {value!r} is zero; a positive duration is required, e.g. 5m")
    return value


PromDuration = Annotated[str, AfterValidator(_positive_duration)]
"""A positive Prometheus duration string (`5m`, `1h30m`, `7d`), validated with the field's name."""


def check_name(parameter: str, value: str) -> str:
    """Return `value` if it is a Kubernetes object name, else a ValueError naming `parameter`."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError(
            f"{parameter}: {value!r} is not a Kubernetes name; allowed: at most 63 lowercase "
            "letters, digits and '-', starting and ending with a letter or digit"
        )
    return value


def selector(service: str, namespace: str, *extra: str) -> str:
    """Label matchers that pick an app's series, as its ServiceMonitor labels them."""
    return "{" + ",".join([f'job="{service}"', f'namespace="{namespace}"', *extra]) + "}"


class AlertThresholds(Model):
    """When the runbook's alerts fire; the defaults are the source runbook's values."""

    error_ratio: float = Field(default=0.05, gt=0, lt=1)
    """Share of 5xx responses above which `HighErrorRate` fires. Default 0.05 (5%)."""

    error_for: PromDuration = "5m"
    """How long the error ratio must stay above `errorRatio` before paging. Default `5m`."""

    latency_seconds: float = Field(default=0.5, gt=0)
    """Seconds the latency quantile must exceed for `HighLatency` to fire. Default 0.5."""

    latency_quantile: float = Field(default=0.95, gt=0, lt=1)
    """Quantile of request durations compared with `latencySeconds`. Default 0.95 (p95)."""

    latency_for: PromDuration = "5m"
    """How long the quantile must stay above `latencySeconds` before warning. Default `5m`."""

    rate_window: PromDuration = "5m"
    """Range of the `rate()` behind the error ratio and the latency quantile. Default `5m`."""

    restarts: int = Field(default=0, ge=0)
    """`PodCrashLooping` fires when a container restarts more than this many times in
    `restartWindow`. Default 0: any restart."""

    restart_window: PromDuration = "15m"
    """Range over which container restarts are counted. Default `15m`."""

    crash_for: PromDuration = "15m"
    """How long restarts must keep appearing before `PodCrashLooping` fires. Default `15m`."""


def alert_rule(
    name: str,
    expr: str,
    for_: str,
    *,
    severity: str,
    service: str,
    namespace: str,
    signal: str,
    summary: str,
    description: str,
    runbook_url: str,
) -> dict[str, Any]:
    """One Prometheus alerting rule with the labels every alert of the project carries (`severity`,
    `service`, `namespace` and the signal), which Alertmanager's routes, grouping and inhibitions
    read."""
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "service": service, "namespace": namespace, SIGNAL: signal},
        "annotations": {"summary": summary, "description": description, "runbook_url": runbook_url},
    }


def app_alert_groups(
    *,
    service: str,
    namespace: str,
    runbook_base_url: str,
    thresholds: AlertThresholds | None = None,
) -> list[dict[str, Any]]:
    """The runbook's alerts for one app: `HighErrorRate`, `HighLatency` and `PodCrashLooping`.

    Returns one rule group (a `PrometheusRule`'s `spec.groups`, or a rule file's `groups`).
    Every alert carries `severity`, `service`, `namespace` and `signal` labels and `summary`,
    `description` and `runbook_url` (`<runbook_base_url>/<AlertName>`) annotations. `signal`
    (`errors`, `latency`, `restarts`) names the symptom, as the SLO burn alerts do, so that
    Alertmanager can keep one page per symptom of a service.
    A service with no traffic matches no alert: divisions are guarded by `> 0` totals.
    """
    check_name("service", service)
    check_name("namespace", namespace)
    if not re.match(r"^https?://[^\s/]+", runbook_base_url):
        raise ValueError(
            f"runbook_base_url: {runbook_base_url!r} is not an http(s) URL; "
            "allowed: e.g. https://runbooks.example.com/lmagent"
        )
    t = thresholds or AlertThresholds()
    base = runbook_base_url.rstrip("/")
    app = selector(service, namespace)
    errors = selector(service, namespace, SERVER_ERRORS)
    win = t.rate_window

    def alert(
        name: str, signal: str, expr: str, for_: str, severity: str, summary: str, description: str
    ) -> dict[str, Any]:
        return alert_rule(
            name,
            expr,
            for_,
            severity=severity,
            service=service,
            namespace=namespace,
            signal=signal,
            summary=summary,
            description=description,
            runbook_url=f"{base}/{name}",
        )

    # The denominator is filtered by `> 0`: with no requests the division has no sample at all,
    # instead of 0/0 = NaN reaching the comparison.
    error_ratio = (
        f"sum(rate(http_requests_total{errors}[{win}]))"
        f" / (sum(rate(http_requests_total{app}[{win}])) > 0)"
        f" > {t.error_ratio:g}"
    )
    # histogram_quantile over empty buckets is NaN; the `and` keeps only periods with traffic.
    latency = (
        f"histogram_quantile({t.latency_quantile:g}, "
        f"sum by (le) (rate(http_request_duration_seconds_bucket{app}[{win}])))"
        f" > {t.latency_seconds:g}"
        f" and on () (sum(rate(http_request_duration_seconds_count{app}[{win}])) > 0)"
    )
    # kube-state-metrics labels restarts with the pod's namespace. A Deployment's pods are named
    # `<deployment>-<template hash>-<suffix>`; matching exactly two more segments (PromQL regexes
    # are anchored) keeps out the pods of `<service>-worker` and other longer names.
    pods = f'{{namespace="{namespace}",pod=~"{service}-[a-z0-9]+-[a-z0-9]+"}}'
    restarts = f"increase(kube_pod_container_status_restarts_total{pods}[{t.restart_window}]) > {t.restarts}"
    quantile = f"p{t.latency_quantile * 100:g}"
    return [
        {
            "name": f"{service}-alerts",
            "rules": [
                alert(
                    "HighErrorRate",
                    "errors",
                    error_ratio,
                    t.error_for,
                    "critical",
                    f"{service}: more than {t.error_ratio * 100:g}% of requests fail",
                    f"{{{{ $value | humanizePercentage }}}} of {service} requests in {namespace} "
                    f"answered 5xx over the last {win} (threshold {t.error_ratio * 100:g}%).",
                ),
                alert(
                    "HighLatency",
                    "latency",
                    latency,
                    t.latency_for,
                    "warning",
                    f"{service}: {quantile} latency above {t.latency_seconds:g}s",
                    f"{quantile} request duration of {service} in {namespace} is "
                    f"{{{{ $value | humanizeDuration }}}} over the last {win} "
                    f"(threshold {t.latency_seconds:g}s).",
                ),
                alert(
                    "PodCrashLooping",
                    "restarts",
                    restarts,
                    t.crash_for,
                    "critical",
                    f"{service}: container {{{{ $labels.container }}}} keeps restarting",
                    f"Container {{{{ $labels.container }}}} of pod {{{{ $labels.pod }}}} in "
                    f'{namespace} restarted {{{{ $value | printf "%.0f" }}}} times in the '
                    f"last {t.restart_window}.",
                ),
            ],
        }
    ]
