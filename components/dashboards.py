"""Builds per-app Grafana dashboards (RED and SLO) as plain JSON-ready dicts.

Plain dicts rather than `grafana-foundation-sdk` (checked: the `1769699379!11.6.0` wheel is
pure Python, 329 kB, Python >= 3.11, typed). Its PyPI versions are `<build timestamp>!<Grafana
version>`, so the highest version pip picks is the build for the OLDEST Grafana
(`1769699998!10.1.0`), a consumer's version range cannot say "Grafana 11", each release publishes
one variant per Grafana minor, the newest Python build targets Grafana 11.6 whatever Grafana the
chart installs, and it is marked Alpha. The JSON these dashboards need is small; dicts keep the
library free of that dependency and the output diffable in the synthesised manifests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from components.alerts import SERVER_ERRORS, check_name, selector
from components.slo import Slo, burn_factors, error_ratio_record

__all__ = ["SCHEMA_VERSION", "dashboard_uid", "red_dashboard", "slo_dashboard"]

# Grafana 10.3+ reads schema 39 natively and migrates older dashboards forward, never backward:
# a lower version than the running Grafana's is the portable choice.
SCHEMA_VERSION = 39

# Panels point at the data source chosen in this variable, so one JSON works in every cluster.
_DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
_GRID_WIDTH = 24


def dashboard_uid(service: str, kind: str) -> str:
    """Stable uid `<service>-<kind>`; hashed when longer than Grafana's 40-character limit."""
    uid = f"{service}-{kind}"
    if len(uid) <= 40:
        return uid
    digest = hashlib.sha256(service.encode()).hexdigest()[:8]
    return f"{service[: 40 - len(kind) - 10]}-{digest}-{kind}"


def _target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": _DATASOURCE, "expr": expr, "legendFormat": legend}


def _panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    unit: str,
    *,
    description: str = "",
    **defaults: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit, **defaults}, "overrides": []},
        "options": {},
    }


def _dashboard(uid: str, title: str, tags: list[str], panels: list[dict[str, Any]]) -> dict[str, Any]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": tags,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "timezone": "browser",
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Data source",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                    "includeAll": False,
                    "multi": False,
                }
            ]
        },
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def red_dashboard(*, service: str, namespace: str) -> dict[str, Any]:
    """Rate, errors and duration of one app, overall and by route (uid `<service>-red`).

    Queries select `{job="<service>", namespace="<namespace>"}` and use `$__rate_interval`,
    which Grafana sizes to the scrape interval and the zoom level.
    """
    check_name("service", service)
    check_name("namespace", namespace)
    app = selector(service, namespace)
    bad = selector(service, namespace, SERVER_ERRORS)
    win = "[$__rate_interval]"

    def rate(sel: str, by: str = "") -> str:
        return f"sum{by}(rate(http_requests_total{sel}{win}))"

    def quantile(q: float, by: str) -> str:
        return (
            f"histogram_quantile({q:g}, sum by ({by}) (rate(http_request_duration_seconds_bucket{app}{win})))"
        )

    route = " by (route) "
    percent: dict[str, Any] = {"min": 0, "max": 1}
    panels = [
        _panel("stat", "Requests per second", [_target(rate(app), "requests/s")], (0, 0, 8, 4),
               "reqps"),
        _panel("stat", "Error ratio (5xx)",
               [_target(f"{rate(bad)} / ({rate(app)} > 0)", "5xx")], (8, 0, 8, 4),
               "percentunit", **percent),
        _panel("stat", "p95 duration", [_target(quantile(0.95, "le"), "p95")], (16, 0, 8, 4), "s"),
        _panel("timeseries", "Request rate by route",
               [_target(rate(app, route), "{{route}}")], (0, 4, 12, 8), "reqps"),
        _panel("timeseries", "Error ratio by route (5xx)",
               [_target(f"{rate(bad, route)} / ({rate(app, route)} > 0)", "{{route}}")],
               (12, 4, 12, 8), "percentunit", **percent),
        _panel("timeseries", "Request duration p50 / p95 / p99 by route",
               [_target(quantile(q, "le, route"), f"p{q * 100:g} {{{{route}}}}", ref)
                for q, ref in ((0.5, "A"), (0.95, "B"), (0.99, "C"))],
               (0, 12, 24, 8), "s"),
        _panel("timeseries", "Request rate by status",
               [_target(rate(app, " by (status) "), "{{status}}")], (0, 20, 24, 8), "reqps"),
    ]  # fmt: skip
    return _dashboard(
        dashboard_uid(service, "red"),
        f"{service} / RED ({namespace})",
        ["lmagent", service, "red"],
        panels,
    )


def slo_dashboard(*, service: str, namespace: str, slos: Sequence[Slo]) -> dict[str, Any]:
    """Objective, SLI, error budget left and burn rate per SLO (uid `<service>-slo`).

    Reads only the series that `components.slo.slo_rule_groups` records for the same `service`,
    `namespace` and `slos`, so the dashboard and the alerts can never disagree on the math.
    """
    check_name("service", service)
    check_name("namespace", namespace)
    panels: list[dict[str, Any]] = []
    y = 0
    for slo in slos:
        sel = f'{{slo="{slo.name}",service="{service}",namespace="{namespace}"}}'
        budget = f"{slo.error_budget:.10g}"
        page_fast = burn_factors(slo.window)["5m/1h"]
        ratio: dict[str, Any] = {"min": 0, "max": 1, "decimals": 3}
        burn_targets = [
            _target(f"slo:current_burn_rate:ratio{sel}", "5m", "A"),
            *(
                _target(f"{error_ratio_record(w)}{sel} / {budget}", w, ref)
                for w, ref in (("1h", "B"), ("6h", "C"), ("3d", "D"))
            ),
        ]
        steps = [{"color": "green", "value": None}, {"color": "red", "value": page_fast}]
        remaining_steps = [
            {"color": "red", "value": None},
            {"color": "orange", "value": 0},
            {"color": "green", "value": 0.25},
        ]
        panels += [
            {
                "type": "row",
                "title": f"{slo.name}: {slo.target:g}% over {slo.window}",
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": _GRID_WIDTH, "h": 1},
                "panels": [],
            },
            _panel("stat", "Objective", [_target(f"slo:objective:ratio{sel}", "objective")],
                   (0, y + 1, 4, 6), "percentunit", **ratio),
            _panel("stat", f"SLI over {slo.window}",
                   [_target(f"1 - {error_ratio_record(slo.window)}{sel}", "sli")],
                   (4, y + 1, 4, 6), "percentunit", **ratio),
            _panel("stat", "Error budget remaining",
                   [_target(f"slo:period_error_budget_remaining:ratio{sel}", "remaining")],
                   (8, y + 1, 4, 6), "percentunit", decimals=1,
                   thresholds={"mode": "absolute", "steps": remaining_steps}),
            _panel("timeseries", "Burn rate (1 = spends the budget exactly over the window)",
                   burn_targets, (12, y + 1, 12, 6), "suffix:x",
                   description=f"Pages above {page_fast:.3g}x over 5m and 1h.",
                   thresholds={"mode": "absolute", "steps": steps},
                   custom={"thresholdsStyle": {"mode": "line"}}),
        ]  # fmt: skip
        y += 7
    return _dashboard(
        dashboard_uid(service, "slo"),
        f"{service} / SLOs ({namespace})",
        ["lmagent", service, "slo"],
        panels,
    )
