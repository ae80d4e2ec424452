"""Tests for components.alerts: the model's validation, the rules' shape, and promtool's verdict."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from components.alerts import AlertThresholds, app_alert_groups, duration_seconds
from tests._tools import run

PROMTOOL_DIR = Path(__file__).parent / "promtool"
RUNBOOKS = "https://runbooks.example.com"


def _groups(**kwargs: Any) -> list[dict[str, Any]]:
    args: dict[str, Any] = {
        "service": "lmagent-api",
        "namespace": "lmagent",
        "runbook_base_url": RUNBOOKS,
    }
    return app_alert_groups(**{**args, **kwargs})


def _rules(groups: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in groups for r in g["rules"]}


def _write_rules(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


def _promtool_test(tmp_path: Path, test_file: str) -> tuple[int, str]:
    """Copy a checked-in promtool test next to freshly generated rules and run it."""
    _write_rules(tmp_path / "alerts.rules.yml", _groups())
    shutil.copy(PROMTOOL_DIR / test_file, tmp_path / test_file)
    result = run("promtool", "test", "rules", tmp_path / test_file)
    return result.returncode, result.stdout + result.stderr


def test_default_thresholds_are_the_runbooks() -> None:
    t = AlertThresholds()
    assert (t.error_ratio, t.error_for) == (0.05, "5m")
    assert (t.latency_quantile, t.latency_seconds, t.latency_for) == (0.95, 0.5, "5m")
    assert (t.restarts, t.restart_window, t.crash_for) == (0, "15m", "15m")


def test_thresholds_read_camel_case_yaml_keys() -> None:
    t = AlertThresholds.model_validate({"errorRatio": 0.1, "errorFor": "10m"})
    assert (t.error_ratio, t.error_for) == (0.1, "10m")


@pytest.mark.parametrize("ratio", [0, 1, -0.1, 1.5])
def test_fails_when_error_ratio_is_outside_zero_and_one(ratio: float) -> None:
    with pytest.raises(ValidationError, match=r"error_ratio\n  Input should be"):
        AlertThresholds(error_ratio=ratio)


def test_fails_naming_the_yaml_key_when_yaml_gives_a_bad_ratio() -> None:
    with pytest.raises(ValidationError, match=r"errorRatio\n  Input should be less than 1"):
        AlertThresholds.model_validate({"errorRatio": 5})


@pytest.mark.parametrize("value", ["5 minutes", "5", "m5", "1m1h", ""])
def test_fails_when_a_duration_is_not_prometheus_syntax(value: str) -> None:
    with pytest.raises(ValidationError) as err:
        AlertThresholds(error_for=value)
    message = str(err.value)
    assert "error_for" in message
    assert repr(value) in message
    assert "e.g. 30s, 5m" in message


def test_fails_when_a_duration_is_zero() -> None:
    with pytest.raises(ValidationError, match=r"crash_for: '0s' is zero"):
        AlertThresholds(crash_for="0s")


def test_fails_when_a_threshold_field_is_unknown() -> None:
    with pytest.raises(ValidationError, match="errorRatioo"):
        AlertThresholds.model_validate({"errorRatioo": 0.1})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("500ms", 0.5)]
)
def test_duration_seconds_reads_prometheus_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == seconds


def test_the_group_holds_the_three_runbook_alerts_with_their_severities() -> None:
    groups = _groups()
    assert [g["name"] for g in groups] == ["lmagent-api-alerts"]
    rules = _rules(groups)
    assert {name: r["labels"]["severity"] for name, r in rules.items()} == {
        "HighErrorRate": "critical",
        "HighLatency": "warning",
        "PodCrashLooping": "critical",
    }
    assert {name: r["for"] for name, r in rules.items()} == {
        "HighErrorRate": "5m",
        "HighLatency": "5m",
        "PodCrashLooping": "15m",
    }


def test_every_alert_carries_service_namespace_labels_and_a_runbook_url() -> None:
    for name, rule in _rules(_groups(runbook_base_url=RUNBOOKS + "/")).items():
        assert rule["labels"]["service"] == "lmagent-api"
        assert rule["labels"]["namespace"] == "lmagent"
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == f"{RUNBOOKS}/{name}"


def test_request_alerts_select_the_app_by_job_and_namespace() -> None:
    rules = _rules(_groups(service="shop", namespace="prod"))
    for name in ("HighErrorRate", "HighLatency"):
        expr = rules[name]["expr"]
        assert expr.count('{job="shop",namespace="prod"') == 2, expr
    assert 'namespace="prod",pod=~"shop-[a-z0-9]+-[a-z0-9]+"' in rules["PodCrashLooping"]["expr"]


def test_thresholds_reach_the_expressions() -> None:
    t = AlertThresholds(
        error_ratio=0.02,
        error_for="2m",
        latency_seconds=1,
        latency_quantile=0.99,
        rate_window="10m",
        restarts=2,
        restart_window="30m",
    )
    rules = _rules(_groups(thresholds=t))
    assert rules["HighErrorRate"]["expr"].endswith("> 0.02")
    assert rules["HighErrorRate"]["for"] == "2m"
    assert "[10m]" in rules["HighErrorRate"]["expr"]
    assert rules["HighLatency"]["expr"].startswith("histogram_quantile(0.99,")
    assert "> 1 and on ()" in rules["HighLatency"]["expr"]
    assert rules["PodCrashLooping"]["expr"].endswith("[30m]) > 2")
    assert "p99" in rules["HighLatency"]["annotations"]["summary"]


def test_divisions_are_guarded_against_a_quiet_service() -> None:
    rules = _rules(_groups())
    assert "[5m])) > 0)" in rules["HighErrorRate"]["expr"]
    assert "_count{" in rules["HighLatency"]["expr"]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [("service", "LMAgent"), ("service", 'api"}'), ("namespace", "a_b"), ("namespace", "")],
)
def test_fails_when_a_name_is_not_a_kubernetes_name(parameter: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"{parameter}: {value!r} is not a Kubernetes name"):
        _groups(**{parameter: value})


def test_fails_when_the_runbook_base_url_is_not_http() -> None:
    with pytest.raises(ValueError, match=r"runbook_base_url: 'runbooks/' is not an http\(s\) URL"):
        _groups(runbook_base_url="runbooks/")


def test_promtool_accepts_the_generated_rules(tmp_path: Path) -> None:
    path = _write_rules(tmp_path / "rules.yml", _groups(thresholds=AlertThresholds(restarts=3)))
    result = run("promtool", "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


def test_promtool_check_rejects_a_broken_expression(tmp_path: Path) -> None:
    groups = _groups()
    groups[0]["rules"][0]["expr"] = "sum(rate(http_requests_total[5m])"
    result = run("promtool", "check", "rules", _write_rules(tmp_path / "rules.yml", groups))
    assert result.returncode != 0


def test_each_runbook_alert_fires_on_failure_and_stays_silent_when_healthy_or_quiet(
    tmp_path: Path,
) -> None:
    returncode, output = _promtool_test(tmp_path, "alerts.test.yml")
    assert returncode == 0, output
    assert "SUCCESS" in output


def test_promtool_reports_a_wrong_expectation_as_a_failure(tmp_path: Path) -> None:
    returncode, output = _promtool_test(tmp_path, "wrong_expectation.test.yml")
    assert returncode != 0
    assert "FAILED" in output
    assert "alertname: HighErrorRate" in output
