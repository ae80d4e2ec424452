"""Tests for components.slo: the runbook format, the burn-rate math, and promtool's verdict."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.slo import (
    CONTRACT_BUCKETS,
    RatioSli,
    Slo,
    SloDocument,
    ThresholdSli,
    burn_factors,
    check_slos,
    default_slos,
    error_ratio_record,
    slo_rule_groups,
)
from tests._tools import run

PROMTOOL_DIR = Path(__file__).parent / "promtool"

# Copied from the source runbook; it must validate unchanged.
RUNBOOK_YAML = """
slos:
  - {name: availability, target: 99.9%, window: 30d, sli: {type: ratio, good: successful requests, total: all requests}}
  - {name: latency, target: 95%, window: 30d, sli: {type: threshold, metric: http_request_duration_seconds, threshold: 0.3, percentile: 95}}
  - {name: error_rate, target: 99%, window: 7d, sli: {type: ratio, good: non-5xx requests, total: all requests}}
"""  # noqa: E501

RECORDED_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def _slo(**kwargs: Any) -> Slo:
    data: dict[str, Any] = {
        "name": "availability",
        "target": "99.9%",
        "window": "30d",
        "sli": {"type": "ratio"},
    }
    return Slo.model_validate({**data, **kwargs})


def _groups(slos: list[Slo] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    return slo_rule_groups(
        service="lmagent-api",
        namespace="lmagent",
        slos=default_slos() if slos is None else slos,
        **kwargs,
    )


def _group(groups: list[dict[str, Any]], slo: str) -> list[dict[str, Any]]:
    (rules,) = [g["rules"] for g in groups if g["name"] == f"lmagent-api-slo-{slo}"]
    return rules


def _alert(groups: list[dict[str, Any]], slo: str, name: str) -> dict[str, Any]:
    (rule,) = [r for r in _group(groups, slo) if r.get("alert") == name]
    return rule


def _thresholds(expr: str) -> list[float]:
    return [float(x) for x in re.findall(r"> ([0-9.e-]+)", expr)]


def test_the_runbook_yaml_validates_as_is() -> None:
    doc = SloDocument.model_validate(yaml.safe_load(RUNBOOK_YAML))
    assert [(s.name, s.target, s.window) for s in doc.slos] == [
        ("availability", 99.9, "30d"),
        ("latency", 95.0, "30d"),
        ("error_rate", 99.0, "7d"),
    ]
    latency = doc.slos[1].sli
    assert isinstance(latency, ThresholdSli)
    assert (latency.metric, latency.threshold, latency.percentile) == (
        "http_request_duration_seconds",
        0.3,
        95,
    )


def test_default_slos_are_the_runbooks_three() -> None:
    assert default_slos() == SloDocument.model_validate(yaml.safe_load(RUNBOOK_YAML)).slos


def test_ratio_slis_count_server_errors_by_default() -> None:
    sli = default_slos()[0].sli
    assert isinstance(sli, RatioSli)
    assert sli.error_selector == 'status=~"5.."'


@pytest.mark.parametrize(("target", "expected"), [("99.9%", 99.9), (99.9, 99.9), ("95 %", 95.0)])
def test_target_accepts_a_percentage_or_a_number(target: object, expected: float) -> None:
    assert _slo(target=target).target == expected


@pytest.mark.parametrize("target", [0, 100, "100%", -1, "0%", 150])
def test_fails_when_target_is_not_strictly_between_0_and_100(target: object) -> None:
    with pytest.raises(ValidationError, match=r"target\n  Input should be"):
        _slo(target=target)


def test_fails_when_target_is_not_a_number() -> None:
    with pytest.raises(ValidationError, match=r"target: 'high%' is not a percentage"):
        _slo(target="high%")


@pytest.mark.parametrize("window", ["30", "720h", "30 d", "1m"])
def test_fails_when_window_is_not_days_or_weeks(window: str) -> None:
    with pytest.raises(ValidationError, match=rf"window: {window!r} is not a window in days"):
        _slo(window=window)


def test_fails_when_window_is_not_longer_than_the_longest_alert_window() -> None:
    with pytest.raises(ValidationError, match=r"window: '3d' is not longer than .* \(3d\)"):
        _slo(window="3d")


def test_window_accepts_weeks() -> None:
    assert _slo(window="4w").window == "4w"


def test_fails_when_percentile_contradicts_target() -> None:
    sli = {"type": "threshold", "threshold": 0.3, "percentile": 99}
    with pytest.raises(ValidationError, match=r"sli.percentile 99 contradicts target 95%"):
        _slo(name="latency", target=95, sli=sli)


def test_fails_when_sli_type_is_unknown() -> None:
    with pytest.raises(ValidationError, match="'ratio', 'threshold'"):
        _slo(sli={"type": "gauge"})


def test_fails_when_an_slo_key_is_misspelt() -> None:
    with pytest.raises(ValidationError, match="windw"):
        _slo(windw="30d")


def test_fails_when_error_selector_is_not_label_matchers() -> None:
    with pytest.raises(ValidationError, match=r"errorSelector: 'status=5..' is not a list"):
        _slo(sli={"type": "ratio", "errorSelector": "status=5.."})


def test_fails_when_slo_names_repeat() -> None:
    with pytest.raises(ValueError, match=r"names \['availability'\] appear more than once"):
        _groups([_slo(), _slo(target=99)])


def test_fails_when_latency_threshold_is_not_a_bucket() -> None:
    slo = _slo(name="latency", target=95, sli={"type": "threshold", "threshold": 0.2})
    with pytest.raises(ValueError, match=r"sli\.threshold") as err:
        _groups([slo])
    message = str(err.value)
    assert "slo 'latency': sli.threshold 0.2 is not a bucket" in message
    assert "allowed: 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5, 10" in message


def test_latency_threshold_is_checked_against_the_buckets_given() -> None:
    slo = _slo(name="latency", target=95, sli={"type": "threshold", "threshold": 0.2})
    rules = _group(_groups([slo], buckets=(0.1, 0.2, 0.4)), "latency")
    assert 'le="0.2"' in rules[0]["expr"]


def test_a_whole_second_threshold_matches_both_le_spellings() -> None:
    slo = _slo(name="latency", target=95, sli={"type": "threshold", "threshold": 1})
    assert 'le=~"1|1[.]0"' in _group(_groups([slo]), "latency")[0]["expr"]


def test_check_slos_rejects_a_non_bucket_threshold_before_any_rule_is_built() -> None:
    slo = _slo(name="latency", target=95, sli={"type": "threshold", "threshold": 0.3})
    check_slos([slo])
    with pytest.raises(ValueError, match=r"sli\.threshold 0\.3 is not a bucket .* allowed: 0\.25, 0\.5$"):
        check_slos([slo], buckets=(0.25, 0.5))


def test_fails_when_a_page_threshold_exceeds_every_possible_error_ratio() -> None:
    with pytest.raises(ValueError, match=r"slo 'availability': target 90% over 30d .* never"):
        _groups([_slo(target=90)])


def test_burn_factors_are_the_workbooks_for_30_days() -> None:
    assert burn_factors("30d") == pytest.approx({"5m/1h": 14.4, "30m/6h": 6, "2h/1d": 3, "6h/3d": 1})


def test_burn_factors_spend_the_same_budget_share_in_a_7_day_window_but_never_go_below_1() -> None:
    monthly, weekly = burn_factors("30d"), burn_factors("7d")
    # Scaled, the tickets would be 0.7 and 0.233: alerts while the objective is being met.
    assert weekly == pytest.approx({"5m/1h": 3.36, "30m/6h": 1.4, "2h/1d": 1, "6h/3d": 1})
    for pair, hours in {"5m/1h": 1, "30m/6h": 6}.items():
        # factor x long window / SLO window = share of the budget spent before alerting
        assert weekly[pair] * hours / (7 * 24) == pytest.approx(monthly[pair] * hours / (30 * 24))


@pytest.mark.parametrize("window", ["4d", "7d", "14d", "28d", "30d", "90d"])
def test_no_burn_rate_alert_fires_below_burn_rate_1(window: str) -> None:
    slo = _slo(window=window, target=99)
    for alert in ("ErrorBudgetBurnFast", "ErrorBudgetBurnSlow"):
        # threshold / budget is the burn rate each clause fires above
        burn_rates = [t / 0.01 for t in _thresholds(_alert(_groups([slo]), "availability", alert)["expr"])]
        assert min(burn_rates) >= 1 - 1e-9, (window, alert, burn_rates)


def test_each_slo_records_every_window_and_its_budget() -> None:
    groups = _groups()
    assert [g["name"] for g in groups] == [
        "lmagent-api-slo-availability",
        "lmagent-api-slo-latency",
        "lmagent-api-slo-error_rate",
    ]
    for slo in default_slos():
        records = [r["record"] for r in _group(groups, slo.name) if "record" in r]
        assert records == [
            *(error_ratio_record(w) for w in RECORDED_WINDOWS),
            error_ratio_record(slo.window),
            "slo:objective:ratio",
            "slo:error_budget:ratio",
            "slo:current_burn_rate:ratio",
            "slo:period_burn_rate:ratio",
            "slo:period_error_budget_remaining:ratio",
        ]


def test_recording_rules_carry_slo_service_and_namespace_labels() -> None:
    for group in _groups():
        for rule in group["rules"]:
            if "record" in rule:
                assert rule["labels"] == {
                    "slo": group["name"].removeprefix("lmagent-api-slo-"),
                    "service": "lmagent-api",
                    "namespace": "lmagent",
                }


def test_alerts_carry_slo_service_severity_and_signal_labels() -> None:
    groups = _groups(runbook_base_url="https://runbooks.example.com")
    for slo, signal in (("availability", "errors"), ("latency", "latency")):
        page = _alert(groups, slo, "ErrorBudgetBurnFast")
        ticket = _alert(groups, slo, "ErrorBudgetBurnSlow")
        assert page["labels"] == {
            "slo": slo,
            "service": "lmagent-api",
            "namespace": "lmagent",
            "severity": "critical",
            "signal": signal,
        }
        assert ticket["labels"]["severity"] == "warning"
        assert page["annotations"]["runbook_url"].endswith("/ErrorBudgetBurnFast")


def test_the_runbooks_error_rate_slo_adds_no_alert_to_availability_which_counts_the_same_errors() -> None:
    groups = _groups()
    assert [r["alert"] for r in _group(groups, "error_rate") if "alert" in r] == []
    # The alert that covers it says so.
    assert (
        "It also stands for SLO error_rate (99% over 7d)"
        in (_alert(groups, "availability", "ErrorBudgetBurnFast")["annotations"]["description"])
    )
    assert "stands for" not in _alert(groups, "latency", "ErrorBudgetBurnFast")["annotations"]["description"]
    # Its recordings stay: the SLO dashboard shows its budget.
    assert any(
        r.get("record") == "slo:period_error_budget_remaining:ratio" for r in _group(groups, "error_rate")
    )
    # Alone, it alerts.
    (alone,) = _groups([default_slos()[2]])
    assert [r["alert"] for r in alone["rules"] if "alert" in r] == [
        "ErrorBudgetBurnFast",
        "ErrorBudgetBurnSlow",
    ]


def test_slos_on_different_errors_or_with_a_lower_threshold_somewhere_keep_their_alerts() -> None:
    def alerts(slos: list[Slo]) -> dict[str, list[str]]:
        return {
            g["name"].removeprefix("lmagent-api-slo-"): [r["alert"] for r in g["rules"] if "alert" in r]
            for g in _groups(slos)
        }

    both = ["ErrorBudgetBurnFast", "ErrorBudgetBurnSlow"]
    strict = _slo(name="strict", target=99.9, window="30d")
    # Other errors: 429s count too.
    throttled = _slo(
        name="throttled", target=99, window="7d", sli={"type": "ratio", "errorSelector": 'status=~"5..|429"'}
    )
    assert alerts([strict, throttled]) == {"strict": both, "throttled": both}
    # Same errors over 4 days at 99.5%: its page thresholds (1.92 x 0.5% and 1 x 0.5%) are below
    # strict's (1.44% and 0.6%), its ticket thresholds (0.5%) above strict's (0.3% and 0.1%): each
    # keeps the alert the other does not cover.
    short = _slo(name="short", target=99.5, window="4d")
    assert alerts([strict, short]) == {"strict": ["ErrorBudgetBurnSlow"], "short": ["ErrorBudgetBurnFast"]}
    # Two identical SLOs: the first listed keeps its alerts.
    twin = _slo(name="twin", target=99.9, window="30d")
    assert alerts([strict, twin]) == {"strict": both, "twin": []}


def test_the_window_ratio_averages_the_5m_series() -> None:
    (rule,) = [r for r in _group(_groups(), "error_rate") if r.get("record", "").endswith("7d")]
    assert rule["expr"] == (
        "avg_over_time(slo:sli_error:ratio_rate5m"
        '{slo="error_rate",service="lmagent-api",namespace="lmagent"}[7d])'
    )


def test_burn_thresholds_are_factor_times_budget() -> None:
    groups = _groups()
    assert _thresholds(_alert(groups, "availability", "ErrorBudgetBurnFast")["expr"]) == [
        0.0144,
        0.0144,
        0.006,
        0.006,
    ]
    assert _thresholds(_alert(groups, "availability", "ErrorBudgetBurnSlow")["expr"]) == [
        0.003,
        0.003,
        0.001,
        0.001,
    ]
    weekly = _groups([default_slos()[2]])
    assert _thresholds(_alert(weekly, "error_rate", "ErrorBudgetBurnFast")["expr"]) == [
        0.0336,
        0.0336,
        0.014,
        0.014,
    ]
    slow_weekly = _thresholds(
        _alert(_groups([default_slos()[2]]), "error_rate", "ErrorBudgetBurnSlow")["expr"]
    )
    assert slow_weekly == pytest.approx([0.01, 0.01, 0.01, 0.01])


def test_burn_alerts_pair_the_workbooks_windows() -> None:
    expr = _alert(_groups(), "latency", "ErrorBudgetBurnFast")["expr"]
    windows = re.findall(r"ratio_rate(\w+)\{", expr)
    assert windows == ["5m", "1h", "30m", "6h"]
    expr = _alert(_groups(), "latency", "ErrorBudgetBurnSlow")["expr"]
    assert re.findall(r"ratio_rate(\w+)\{", expr) == ["2h", "1d", "6h", "3d"]


def test_sli_queries_select_the_app_and_guard_the_total() -> None:
    groups = _groups()
    for slo in ("availability", "latency", "error_rate"):
        for rule in _group(groups, slo)[: len(RECORDED_WINDOWS)]:
            assert '{job="lmagent-api",namespace="lmagent"' in rule["expr"]
            assert re.search(r"\[\w+\]\)\) > 0\)$", rule["expr"]), rule["expr"]
    availability = _group(groups, "availability")[0]["expr"]
    assert 'status=~"5.."}[5m]' in availability
    latency = _group(groups, "latency")[0]["expr"]
    assert 'http_request_duration_seconds_bucket{job="lmagent-api",namespace="lmagent",le="0.3"}' in (latency)


def test_an_error_selector_override_reaches_the_query() -> None:
    slo = _slo(sli={"type": "ratio", "errorSelector": 'status=~"5..|429"'})
    assert 'status=~"5..|429"}[5m]' in _group(_groups([slo]), "availability")[0]["expr"]


def test_promtool_accepts_the_generated_rules(tmp_path: Path) -> None:
    custom = [
        _slo(name="checkout", target=99.5, window="28d",
             sli={"type": "ratio", "errorSelector": 'status=~"5..|429",route!="/health"'}),
        _slo(name="fast", target=99, window="4w", sli={"type": "threshold", "threshold": 1}),
    ]  # fmt: skip
    groups = _groups() + slo_rule_groups(service="shop", namespace="prod", slos=custom)
    path = tmp_path / "slo.rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    result = run("promtool", "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups)} rules found" in result.stdout
    assert len(groups) == 5


def test_burn_alerts_page_on_outage_ticket_on_slow_burn_and_stay_silent_when_quiet(
    tmp_path: Path,
) -> None:
    groups = _groups(runbook_base_url="https://runbooks.example.com")
    (tmp_path / "slo.rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(PROMTOOL_DIR / "slo.test.yml", tmp_path / "slo.test.yml")
    result = run("promtool", "test", "rules", tmp_path / "slo.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_7_day_slo_is_silent_at_burn_rate_0_9_and_opens_a_ticket_at_1_1(tmp_path: Path) -> None:
    groups = _groups([default_slos()[2]])
    (tmp_path / "slo_week.rules.yml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    shutil.copy(PROMTOOL_DIR / "slo_week.test.yml", tmp_path / "slo_week.test.yml")
    result = run("promtool", "test", "rules", tmp_path / "slo_week.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_default_buckets_are_the_reference_services() -> None:
    from lmagent_api.metrics import LATENCY_BUCKETS

    assert tuple(map(float, CONTRACT_BUCKETS)) == LATENCY_BUCKETS
