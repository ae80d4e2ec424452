"""Turns SLOs in the runbook's format into Sloth-shaped recording rules and burn-rate alerts.

Error-ratio SLIs, recorded per SLO over 5m, 30m, 1h, 2h, 6h, 1d, 3d and the SLO window:

- ratio SLIs (`type: ratio`): `good`/`total` are descriptions; errors are the app's
  `http_requests_total` answers matching `errorSelector`, by default `status=~"5.."` (so the
  runbook's `availability` and `error_rate` SLOs both count 5xx as errors and differ only in
  target and window);
- threshold SLIs (`type: threshold`): errors are requests slower than `threshold`, i.e.
  `<metric>_count - <metric>_bucket{le="<threshold>"}`, so the threshold must be a bucket.

The window series (`slo:sli_error:ratio_rate30d`) is the average of the 5m series over the
window, as Sloth does: one cheap range read of a recorded series instead of a `rate()` over 30
days of raw samples at every evaluation. It weights every 5-minute slice alike rather than every
request, and slices without traffic are left out (the 5m ratio has no sample then), not counted
as perfect. It also needs Prometheus to retain the window: a 30d SLO on a 10d retention reports
on 10 days.

Burn-rate alerts (Google SRE workbook, multi-window multi-burn-rate): for a 30d window the
factors are page 14.4 (5m and 1h) and 6 (30m and 6h), ticket 3 (2h and 1d) and 1 (6h and 3d); a
factor `f` held for the long window `L` spends `f * L / 30d` of the budget (14.4 over 1h: 2%).
For another window `W` each factor is scaled to spend the same share of that window's budget,
`f_W = f_30d * W / 30d`, but never below 1: a burn rate under 1 meets the objective, so alerting
on it is noise (7d: page 3.36 and 1.4, ticket 1 and 1 where the scaling gives 0.7 and 0.233).
The alert threshold on the error ratio is `f_W * (1 - target)`.

One symptom, one alert: SLOs of a service that count the same events as errors (the runbook's
`availability` and `error_rate` both count 5xx) alert on the same error ratios. When every
threshold of one of them is at or above the matching threshold of another, its alert can only
fire while the other's already does, so it gets none (its recordings and dashboard stay). Every
burn alert carries a `signal` label (`errors` for ratio SLIs, `latency` for threshold SLIs), the
same the runbook's alerts carry, so Alertmanager can tell which alerts report one symptom.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, model_validator

from components._model import Model
from components.alerts import SERVER_ERRORS, SIGNAL, check_name, duration_seconds, selector

__all__ = [
    "CONTRACT_BUCKETS",
    "RatioSli",
    "Slo",
    "SloDocument",
    "ThresholdSli",
    "burn_factors",
    "check_slos",
    "default_slos",
    "error_ratio_record",
    "slo_rule_groups",
]

CONTRACT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5, 10)
"""Buckets of `http_request_duration_seconds` in the metric contract (DESIGN.md)."""

# The short windows of the burn-rate alerts, recorded for every SLO.
ALERT_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

_REFERENCE_DAYS = 30  # the window the SRE workbook's factors are defined for
_MIN_BURN = 1.0  # at or below this burn rate the objective is met: no alert
_PAGE = (("5m", "1h", 14.4), ("30m", "6h", 6.0))
_TICKET = (("2h", "1d", 3.0), ("6h", "3d", 1.0))

_MATCHER = r'\s*[a-zA-Z_]\w*\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*'
_MATCHERS = re.compile(rf"^{_MATCHER}(?:,{_MATCHER})*$")
_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

# The runbook's SLOs, verbatim: `default_slos()` validates this text, proving the format is read.
RUNBOOK_SLOS = """\
slos:
  - {name: availability, target: 99.9%, window: 30d, sli: {type: ratio, good: successful requests, total: all requests}}
  - {name: latency, target: 95%, window: 30d, sli: {type: threshold, metric: http_request_duration_seconds, threshold: 0.3, percentile: 95}}
  - {name: error_rate, target: 99%, window: 7d, sli: {type: ratio, good: non-5xx requests, total: all requests}}
"""  # noqa: E501


def _percent(value: object, info: ValidationInfo) -> object:
    """Accept `99.9%` as well as 99.9; the range check follows in the field's constraints."""
    if isinstance(value, str):
        text = value.strip().removesuffix("%").strip()
        try:
            return float(text)
        except ValueError:
            raise ValueError(
                f"{info.field_name}: {value!r} is not a percentage; allowed: a number strictly "
                "between 0 and 100, optionally with '%', e.g. 99.9%"
            ) from None
    return value


Percent = Annotated[float, BeforeValidator(_percent), Field(gt=0, lt=100)]


def _slo_window(value: str, info: ValidationInfo) -> str:
    if not re.match(r"^\d+[dw]$", value):
        raise ValueError(
            f"{info.field_name}: {value!r} is not a window in days or weeks; allowed: e.g. 30d, 28d, 7d, 4w"
        )
    if duration_seconds(value) <= duration_seconds(ALERT_WINDOWS[-1]):
        raise ValueError(
            f"{info.field_name}: {value!r} is not longer than the longest burn-rate window "
            f"({ALERT_WINDOWS[-1]}); allowed: 4d or more, e.g. 7d, 28d, 30d"
        )
    return value


class RatioSli(Model):
    """Errors over all requests, counted from `http_requests_total`."""

    type: Literal["ratio"]
    """Selects this SLI kind."""

    good: str = ""
    """What counts as good, for people (e.g. `successful requests`). Default: empty. The query
    is `errorSelector`, not this text."""

    total: str = ""
    """What is counted at all, for people (e.g. `all requests`). Default: empty."""

    error_selector: str = SERVER_ERRORS
    """Label matchers that pick the bad requests out of the app's `http_requests_total`.
    Default `status=~"5.."`: every server error, whatever `good` says. Set e.g.
    `status=~"5..|429"` to count throttling as failure too."""

    @model_validator(mode="after")
    def _matchers(self) -> RatioSli:
        if not _MATCHERS.match(self.error_selector):
            raise ValueError(
                f"errorSelector: {self.error_selector!r} is not a list of PromQL label matchers; "
                'allowed: e.g. status=~"5..", or status=~"5..",route!="/health"'
            )
        return self


class ThresholdSli(Model):
    """Requests slower than a histogram bucket bound are errors."""

    type: Literal["threshold"]
    """Selects this SLI kind."""

    metric: str = "http_request_duration_seconds"
    """Histogram (base name, without `_bucket`) of request durations. Default: the contract's
    `http_request_duration_seconds`."""

    threshold: float = Field(gt=0)
    """Seconds a good request takes at most; must be one of the histogram's bucket bounds
    (checked by `slo_rule_groups` against its `buckets`). Required."""

    percentile: float | None = Field(default=None, gt=0, lt=100)
    """The runbook's way of saying the target ("p95 under 0.3s"). Default: unset. When set it must
    equal the SLO's `target`, because a latency SLO has one number, not two."""

    @model_validator(mode="after")
    def _metric_name(self) -> ThresholdSli:
        if not _METRIC.match(self.metric):
            raise ValueError(
                f"metric: {self.metric!r} is not a Prometheus metric name; allowed: letters, "
                "digits, '_' and ':', not starting with a digit"
            )
        return self


class Slo(Model):
    """One service level objective: what is measured, the target and the window it holds over."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
    """Identifier used as the `slo` label and in rule-group names (`availability`). Required;
    lowercase letters, digits, `_` and `-`, up to 40 characters."""

    target: Percent
    """Share of good events to hold, in percent: `99.9%` or 99.9, strictly between 0 and 100.
    Required. The error budget is `1 - target/100`."""

    window: Annotated[str, AfterValidator(_slo_window)] = "30d"
    """Rolling window the target holds over, in days or weeks (`30d`, `7d`, `4w`). Default `30d`,
    the window the burn-rate factors are defined for; other windows scale them."""

    sli: Annotated[RatioSli | ThresholdSli, Field(discriminator="type")]
    """How good and bad events are counted. Required."""

    description: str = ""
    """Free text shown in alert descriptions. Default: empty."""

    @model_validator(mode="after")
    def _percentile_matches_target(self) -> Slo:
        sli = self.sli
        if isinstance(sli, ThresholdSli) and sli.percentile not in (None, self.target):
            raise ValueError(
                f"slo {self.name!r}: sli.percentile {sli.percentile:g} contradicts target "
                f"{self.target:g}%; allowed: percentile equal to target, or omitted"
            )
        return self

    @property
    def error_budget(self) -> float:
        """Allowed error ratio over the window, `1 - target/100`."""
        return (100.0 - self.target) / 100.0


class SloDocument(Model):
    """A YAML document with a top-level `slos:` list, as in the source runbook."""

    slos: list[Slo]
    """The SLOs of one service. Required; names must be unique."""

    @model_validator(mode="after")
    def _unique(self) -> SloDocument:
        _check_unique(self.slos)
        return self


def _check_unique(slos: Sequence[Slo]) -> None:
    names = [s.name for s in slos]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"slos: names {dupes} appear more than once; each SLO name must be unique")


def check_slos(slos: Sequence[Slo], buckets: Sequence[float] = CONTRACT_BUCKETS) -> None:
    """Raise ValueError for what one SLO alone cannot tell: repeated names, a latency threshold
    that is not one of the app's `buckets`, a target so low a burn alert could never fire.

    `slo_rule_groups` calls it; an args model can call it in a validator to fail at config time.
    """
    _check_unique(slos)
    for slo in slos:
        sli = slo.sli
        if isinstance(sli, ThresholdSli) and not any(abs(sli.threshold - b) < 1e-9 for b in buckets):
            raise ValueError(
                f"slo {slo.name!r}: sli.threshold {sli.threshold:g} is not a bucket of {sli.metric}; "
                f"allowed: {', '.join(f'{b:g}' for b in buckets)}"
            )
        for pair, factor in burn_factors(slo.window).items():
            # An error ratio cannot exceed 1: a threshold at or above it is an alert that never fires.
            if factor * slo.error_budget >= 1:
                raise ValueError(
                    f"slo {slo.name!r}: target {slo.target:g}% over {slo.window} needs an error ratio "
                    f"of {factor * slo.error_budget:.0%} to alert on {pair}, which can never happen; "
                    f"allowed: a target above {100 - 100 / factor:.4g}% for this window"
                )


def default_slos() -> list[Slo]:
    """The runbook's three SLOs: availability 99.9%/30d, latency p95<0.3s 95%/30d, errors 99%/7d."""
    return list(_runbook_slos())


@functools.cache
def _runbook_slos() -> tuple[Slo, ...]:
    # Parsed once: every app's default takes it, and the models are frozen, so sharing is safe.
    return tuple(SloDocument.model_validate(yaml.safe_load(RUNBOOK_SLOS)).slos)


def error_ratio_record(window: str) -> str:
    """Name of the recorded error ratio over `window`, e.g. `slo:sli_error:ratio_rate5m`."""
    return f"slo:sli_error:ratio_rate{window}"


def burn_factors(window: str) -> dict[str, float]:
    """Burn-rate factors per alert window pair, scaled to `window` (`f_30d * window / 30d`) and
    raised to 1 where the scaling would go below it."""
    return {f"{short}/{long}": _factor(f, window) for short, long, f in (*_PAGE, *_TICKET)}


def _factor(reference: float, window: str) -> float:
    scale = duration_seconds(window) / (_REFERENCE_DAYS * 86400)
    return max(reference * scale, _MIN_BURN)


def _thresholds(slo: Slo, tiers: tuple[tuple[str, str, float], ...]) -> list[float]:
    """The error ratios a burn alert of `slo` compares with, one per tier."""
    return [_factor(f, slo.window) * slo.error_budget for _, _, f in tiers]


def _signal(slo: Slo) -> str:
    return "errors" if isinstance(slo.sli, RatioSli) else "latency"


def _sli_identity(slo: Slo) -> tuple[object, ...]:
    """What an SLO counts as an error: equal identities mean equal error ratios."""
    sli = slo.sli
    if isinstance(sli, RatioSli):
        return ("ratio", re.sub(r"\s+", "", sli.error_selector))
    return ("threshold", sli.metric, round(sli.threshold, 9))


def _covered_by(slo: Slo, slos: Sequence[Slo], tiers: tuple[tuple[str, str, float], ...]) -> Slo | None:
    """An SLO of `slos` on the same errors whose alert on `tiers` fires whenever `slo`'s would:
    every threshold at or below `slo`'s (on a tie, the one listed first keeps its alert)."""
    mine = _thresholds(slo, tiers)
    names = [s.name for s in slos]
    for other in slos:
        if other.name == slo.name or _sli_identity(other) != _sli_identity(slo):
            continue
        theirs = _thresholds(other, tiers)
        if all(t <= m for t, m in zip(theirs, mine, strict=True)) and (
            theirs != mine or names.index(other.name) < names.index(slo.name)
        ):
            return other
    return None


def _num(value: float) -> str:
    # Ten significant digits hide binary noise such as 1 - 0.999 = 0.0010000000000000009.
    return f"{value:.10g}"


def _le_matcher(bound: float) -> str:
    # Python's client writes le="1.0", Go's le="1", Prometheus 3 normalises: match both spellings.
    spellings = sorted({repr(float(bound)), f"{float(bound):g}"})
    if len(spellings) == 1:
        return f'le="{spellings[0]}"'
    return 'le=~"' + "|".join(s.replace(".", "[.]") for s in spellings) + '"'


def _error_ratio_expr(slo: Slo, service: str, namespace: str, window: str) -> str:
    app = selector(service, namespace)
    sli = slo.sli
    if isinstance(sli, RatioSli):
        bad = selector(service, namespace, sli.error_selector)
        # No 5xx series yet means no errors (0), not an absent SLI; the `> 0` on the total keeps
        # a quiet service from producing 0/0 = NaN.
        return (
            f"(sum(rate(http_requests_total{bad}[{window}])) or vector(0))"
            f" / (sum(rate(http_requests_total{app}[{window}])) > 0)"
        )
    good = selector(service, namespace, _le_matcher(sli.threshold))
    count = f"sum(rate({sli.metric}_count{app}[{window}]))"
    return f"({count} - sum(rate({sli.metric}_bucket{good}[{window}]))) / ({count} > 0)"


def _burn_alert(
    name: str,
    severity: str,
    pairs: tuple[tuple[str, str, float], ...],
    slo: Slo,
    labels: dict[str, str],
    sel: str,
    runbook_base_url: str | None,
    covers: Sequence[Slo] = (),
) -> dict[str, Any]:
    budget = slo.error_budget
    clauses = []
    for (short, long, _), threshold in zip(pairs, _thresholds(slo, pairs), strict=True):
        clauses.append(
            f"({error_ratio_record(short)}{sel} > {_num(threshold)}"
            f" and {error_ratio_record(long)}{sel} > {_num(threshold)})"
        )
    speeds = ", or ".join(
        f"{_factor(f, slo.window):.3g}x over {short} and {long}" for short, long, f in pairs
    )
    # The SLOs whose alerts this one stands for are named, so their budgets are not forgotten.
    also = "".join(
        f" It also stands for SLO {c.name} ({c.target:g}% over {c.window}), which counts the same "
        "errors and would alert no sooner."
        for c in covers
    )
    annotations = {
        "summary": f"{labels['service']}: SLO {slo.name} is burning its error budget ({severity})",
        "description": (
            f"SLO {slo.name} ({slo.target:g}% over {slo.window}, error budget "
            f"{_num(budget * 100)}%): error ratio {{{{ $value | humanizePercentage }}}} over the "
            f"short window; fires when the budget burns faster than {speeds}.{also} {slo.description}"
        ).strip(),
    }
    if runbook_base_url:
        annotations["runbook_url"] = f"{runbook_base_url.rstrip('/')}/{name}"
    return {
        "alert": name,
        "expr": " or ".join(clauses),
        "labels": {**labels, "severity": severity, SIGNAL: _signal(slo)},
        "annotations": annotations,
    }


def slo_rule_groups(
    *,
    service: str,
    namespace: str,
    slos: Sequence[Slo],
    buckets: Sequence[float] = CONTRACT_BUCKETS,
    runbook_base_url: str | None = None,
) -> list[dict[str, Any]]:
    """One rule group per SLO: error-ratio recordings, budget recordings, then two alerts.

    Recording rules (labels `slo`, `service`, `namespace`): `slo:sli_error:ratio_rate<w>` for
    every alert window and the SLO window, `slo:objective:ratio`, `slo:error_budget:ratio`,
    `slo:current_burn_rate:ratio` (5m ratio / budget), `slo:period_burn_rate:ratio` and
    `slo:period_error_budget_remaining:ratio` (1 - period burn rate; negative when overspent).
    Alerts `ErrorBudgetBurnFast` (severity critical, page) and `ErrorBudgetBurnSlow` (warning,
    ticket), labelled `slo`, `service`, `namespace`, `severity` and `signal`; an SLO whose alert
    another SLO of the list on the same errors covers (see the module docstring) gets none.
    Rules of a group are evaluated in order, so each reads the ratios recorded in the same
    evaluation. `buckets` are the histogram's bounds that latency thresholds must be one of
    (default: the contract's).
    """
    check_name("service", service)
    check_name("namespace", namespace)
    check_slos(slos, buckets)
    groups = []
    for slo in slos:
        labels = {"slo": slo.name, "service": service, "namespace": namespace}
        sel = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
        budget = _num(slo.error_budget)
        rules: list[dict[str, Any]] = [
            {
                "record": error_ratio_record(w),
                "expr": _error_ratio_expr(slo, service, namespace, w),
            }
            for w in ALERT_WINDOWS
        ]
        period = error_ratio_record(slo.window)
        rules += [
            {
                "record": period,
                "expr": f"avg_over_time({error_ratio_record('5m')}{sel}[{slo.window}])",
            },
            {"record": "slo:objective:ratio", "expr": f"vector({_num(slo.target / 100)})"},
            {"record": "slo:error_budget:ratio", "expr": f"vector({budget})"},
            {
                "record": "slo:current_burn_rate:ratio",
                "expr": f"{error_ratio_record('5m')}{sel} / {budget}",
            },
            {"record": "slo:period_burn_rate:ratio", "expr": f"{period}{sel} / {budget}"},
            {
                "record": "slo:period_error_budget_remaining:ratio",
                "expr": f"1 - slo:period_burn_rate:ratio{sel}",
            },
        ]
        for rule in rules:
            rule["labels"] = dict(labels)
        for alert, severity, tiers in (
            ("ErrorBudgetBurnFast", "critical", _PAGE),
            ("ErrorBudgetBurnSlow", "warning", _TICKET),
        ):
            if _covered_by(slo, slos, tiers) is None:
                covers = [o for o in slos if getattr(_covered_by(o, slos, tiers), "name", None) == slo.name]
                rules.append(_burn_alert(alert, severity, tiers, slo, labels, sel, runbook_base_url, covers))
        groups.append({"name": f"{service}-slo-{slo.name}", "rules": rules})
    return groups
