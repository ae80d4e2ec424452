"""Tests for components.dashboards: structure, selectors, and that every query parses and answers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dashboards import SCHEMA_VERSION, dashboard_uid, red_dashboard, slo_dashboard
from components.slo import default_slos, slo_rule_groups
from tests._tools import run

APP = '{job="lmagent-api",namespace="lmagent"'


def _red() -> dict[str, Any]:
    return red_dashboard(service="lmagent-api", namespace="lmagent")


def _slo() -> dict[str, Any]:
    return slo_dashboard(service="lmagent-api", namespace="lmagent", slos=default_slos())


def _queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def _as_promql(expr: str) -> str:
    """Replace Grafana's interval variable as Grafana would, so Prometheus tools can read it."""
    promql = expr.replace("$__rate_interval", "5m")
    assert "$" not in promql, f"unexpected Grafana variable left in {expr}"
    return promql


def _rule_file(path: Path, exprs: list[str]) -> Path:
    rules = [{"record": f"dashboard:query:{i}", "expr": _as_promql(e)} for i, e in enumerate(exprs)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return path


@pytest.mark.parametrize("build", [_red, _slo])
def test_dashboards_are_json_with_schema_version_and_a_datasource_variable(build: Any) -> None:
    dashboard = build()
    assert json.loads(json.dumps(dashboard)) == dashboard
    assert dashboard["schemaVersion"] == SCHEMA_VERSION
    (variable,) = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


@pytest.mark.parametrize("build", [_red, _slo])
def test_panels_have_unique_ids_and_do_not_overlap(build: Any) -> None:
    panels = build()["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_uids_are_stable_and_distinct_per_service_and_kind() -> None:
    assert _red()["uid"] == "lmagent-api-red" == _red()["uid"]
    assert _slo()["uid"] == "lmagent-api-slo"
    other = red_dashboard(service="billing", namespace="lmagent")["uid"]
    assert other == "billing-red"


def test_uids_of_long_service_names_fit_grafanas_limit_and_stay_distinct() -> None:
    a, b = "a" * 60 + "-one", "a" * 60 + "-two"
    assert len(dashboard_uid(a, "red")) <= 40
    assert dashboard_uid(a, "red") != dashboard_uid(b, "red")
    assert dashboard_uid(a, "red") == dashboard_uid(a, "red")
    assert re.fullmatch(r"[a-z0-9-]+", dashboard_uid(a, "slo"))


def test_red_dashboard_shows_rate_errors_and_duration_by_route() -> None:
    panels = {p["title"]: p for p in _red()["panels"]}
    assert "by (route)" in panels["Request rate by route"]["targets"][0]["expr"]
    errors = panels["Error ratio by route (5xx)"]["targets"][0]["expr"]
    assert 'status=~"5.."' in errors
    assert "> 0)" in errors
    duration = panels["Request duration p50 / p95 / p99 by route"]["targets"]
    assert [t["expr"].split(",")[0] for t in duration] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]
    assert all("by (le, route)" in t["expr"] for t in duration)
    assert [t["legendFormat"] for t in duration] == ["p50 {{route}}", "p95 {{route}}", "p99 {{route}}"]


def test_every_red_query_selects_the_apps_job_and_namespace() -> None:
    dashboard = red_dashboard(service="shop", namespace="prod")
    for expr in _queries(dashboard):
        selectors = re.findall(r"\{[^}]*\}", expr)
        assert selectors, expr
        assert all(s.startswith('{job="shop",namespace="prod"') for s in selectors), expr


def test_slo_dashboard_has_a_row_and_four_panels_per_slo() -> None:
    panels = _slo()["panels"]
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["availability: 99.9% over 30d", "latency: 95% over 30d", "error_rate: 99% over 7d"]
    titles = [p["title"] for p in panels[1:5]]
    assert titles[:3] == ["Objective", "SLI over 30d", "Error budget remaining"]
    assert titles[3].startswith("Burn rate")
    assert panels[-3]["title"] == "SLI over 7d"


def test_slo_queries_read_only_series_the_slo_rules_record() -> None:
    groups = slo_rule_groups(service="lmagent-api", namespace="lmagent", slos=default_slos())
    recorded = {(r["record"], r["labels"]["slo"]) for g in groups for r in g["rules"] if "record" in r}
    queries = _queries(_slo())
    assert queries
    for expr in queries:
        for name, labels in re.findall(r"(slo:[a-z_:0-9]+)(\{[^}]*\})", expr):
            slo = re.search(r'slo="([^"]+)"', labels)
            assert slo, expr
            assert (name, slo.group(1)) in recorded, expr
            assert 'service="lmagent-api",namespace="lmagent"' in labels


def test_burn_rate_panel_marks_the_scaled_page_factor() -> None:
    burn = [p for p in _slo()["panels"] if p["title"].startswith("Burn rate")]
    steps = [p["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"] for p in burn]
    assert steps == pytest.approx([14.4, 14.4, 14.4 * 7 / 30])


def test_fails_when_service_is_not_a_kubernetes_name() -> None:
    with pytest.raises(ValueError, match=r"service: 'Shop' is not a Kubernetes name"):
        red_dashboard(service="Shop", namespace="prod")


@pytest.mark.parametrize("build", [_red, _slo])
def test_every_query_parses_with_promtool(build: Any, tmp_path: Path) -> None:
    queries = _queries(build())
    result = run("promtool", "check", "rules", _rule_file(tmp_path / "q.yml", queries))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_rejects_a_query_that_does_not_parse(tmp_path: Path) -> None:
    broken = [*_queries(_red()), "sum by (route (rate(http_requests_total[5m]))"]
    result = run("promtool", "check", "rules", _rule_file(tmp_path / "q.yml", broken))
    assert result.returncode != 0


def test_every_query_returns_data_for_a_serving_app(tmp_path: Path) -> None:
    """Each query, run by promtool against one busy route and the SLO rules, yields a series."""
    labels = 'job="lmagent-api",namespace="lmagent",method="GET",route="/items"'
    series = [
        (f'http_requests_total{{{labels},status="200"}}', "0+95x180"),
        (f'http_requests_total{{{labels},status="500"}}', "0+5x180"),
        *(
            (f'http_request_duration_seconds_bucket{{{labels},le="{le}"}}', f"0+{n}x180")
            for le, n in (("0.1", 60), ("0.3", 90), ("1.0", 99), ("+Inf", 100))
        ),
        (f"http_request_duration_seconds_count{{{labels}}}", "0+100x180"),
    ]
    rules = slo_rule_groups(service="lmagent-api", namespace="lmagent", slos=default_slos())
    (tmp_path / "slo.rules.yml").write_text(yaml.safe_dump({"groups": rules}))
    queries = _queries(_red()) + _queries(_slo())
    test = {
        "rule_files": ["slo.rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in series],
                "promql_expr_test": [
                    {
                        "expr": f"count({_as_promql(q)}) > bool 0",
                        "eval_time": "2h",
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                    for q in queries
                ],
            }
        ],
    }
    path = tmp_path / "dashboards.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = run("promtool", "test", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
