"""The Alertmanager config the monitoring stack renders, checked and routed by the real `amtool`,
and its inhibitions evaluated by the real Alertmanager."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from components.alerts import app_alert_groups
from components.slo import RatioSli, default_slos, slo_rule_groups
from components.testing import SynthResult
from tests._loopback import pages, spawner, start_alertmanager
from tests._tools import run
from tests.conftest import synth_stack


def alertmanager_config(result: SynthResult) -> dict[str, Any]:
    values = result.named("monitoring-kube-prometheus-stack")["inputs"]["values"]
    config: dict[str, Any] = values["alertmanager"]["config"]
    return config


def config_file(result: SynthResult, tmp_path: Path) -> Path:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(alertmanager_config(result)))
    return path


def receivers_for(config: Path, *labels: str) -> list[str]:
    """The receivers amtool routes an alert with these `name=value` labels to."""
    routed = run("amtool", "config", "routes", "test", f"--config.file={config}", *labels)
    assert routed.returncode in (0, 1), routed.stderr  # 1: the route matched no expected receiver
    return sorted(routed.stdout.strip().split(","))


def test_the_rendered_config_passes_amtool_check_config(synthesized, tmp_path):
    checked = run("amtool", "check-config", config_file(synthesized, tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_amtool_rejects_a_config_routing_to_an_undefined_receiver(synthesized, tmp_path):
    config = alertmanager_config(synthesized)
    broken = {**config, "route": {**config["route"], "receiver": "nobody"}}
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert run("amtool", "check-config", path).returncode != 0


@pytest.mark.parametrize(
    ("stack", "severity", "expected"),
    [
        ("production", "critical", ["chat", "pager"]),
        ("production", "warning", ["chat"]),
        ("staging", "critical", ["chat"]),
        ("staging", "warning", ["chat"]),
    ],
)
def test_routes_pages_only_production_criticals(stack, severity, expected, tmp_path):
    path = config_file(synth_stack(stack), tmp_path)
    labels = ("alertname=HighErrorRate", f"severity={severity}", f"environment={stack}", "namespace=lmagent")
    assert receivers_for(path, *labels) == expected


def test_an_apps_alert_with_its_signal_label_still_pages_and_posts_to_chat(tmp_path):
    path = config_file(synth_stack("production"), tmp_path)
    labels = ("alertname=HighErrorRate", "severity=critical", "environment=production", "signal=errors")
    assert receivers_for(path, *labels, "namespace=lmagent", "service=lmagent-api") == ["chat", "pager"]


def test_a_production_page_never_leaves_another_environment(tmp_path):
    path = config_file(synth_stack("production"), tmp_path)
    labels = ("alertname=HighErrorRate", "severity=critical", "environment=staging", "namespace=lmagent")
    assert receivers_for(path, *labels) == ["chat"]


@pytest.mark.parametrize("alertname", ["Watchdog", "InfoInhibitor"])
def test_the_charts_plumbing_alerts_go_nowhere(synthesized, tmp_path, alertname):
    path = config_file(synthesized, tmp_path)
    assert receivers_for(path, f"alertname={alertname}", "severity=none", "namespace=lmagent") == ["null"]


# ---------------------------------------------------------------------------------------------
# Inhibition, which amtool cannot evaluate offline (`amtool config routes test` routes one label
# set; inhibition needs the other alerts): the real Alertmanager from the same Debian package,
# on loopback, with the rendered config and its receivers emptied so nothing leaves the machine.

DEADLINE_SECONDS = 20  # a bound on waiting for Alertmanager's verdict, not a measurement
SPIKED = (("lmagent-api", "lmagent"), ("orders", "orders"))


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    with spawner(tmp_path) as start:
        yield start


def _start_alertmanager(tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]) -> str:
    return start_alertmanager(spawn, tmp_path, alertmanager_config(synth_stack("production")))


def _spike_alerts(service: str, namespace: str) -> list[dict[str, str]]:
    """Label sets of the alerts the rules fire on a sustained 5xx spike of one service: the
    runbook's HighErrorRate and the fast burn of every SLO counting errors (as Prometheus sends
    them, with its `environment` external label)."""
    counts_errors = {slo.name for slo in default_slos() if isinstance(slo.sli, RatioSli)}
    rules = [
        rule
        for group in app_alert_groups(
            service=service, namespace=namespace, runbook_base_url="https://runbooks.example.com"
        )
        + slo_rule_groups(service=service, namespace=namespace, slos=default_slos())
        for rule in group["rules"]
        if rule.get("alert") == "HighErrorRate"
        or (rule.get("alert") == "ErrorBudgetBurnFast" and rule["labels"]["slo"] in counts_errors)
    ]
    return [{**r["labels"], "alertname": r["alert"], "environment": "production"} for r in rules]


def _post(url: str, label_sets: list[dict[str, str]]) -> None:
    now = datetime.now(UTC)
    alerts = [
        {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}
        for labels in label_sets
    ]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()


def _settled(url: str, posted: int, want: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """Alertmanager's view of every posted alert, once `want` holds or the deadline passes (the
    inhibitor sees new alerts asynchronously); the caller asserts on what is returned."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        alerts: list[dict[str, Any]] = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
        if (len(alerts) == posted and want(alerts)) or time.monotonic() > deadline:
            return alerts
        time.sleep(0.2)


def _pages(alerts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter(pages(alerts))


def test_an_error_spike_pages_once_per_service(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    url = _start_alertmanager(tmp_path, spawn)
    posted = [labels for service, namespace in SPIKED for labels in _spike_alerts(service, namespace)]
    assert {a["alertname"] for a in posted} == {"HighErrorRate", "ErrorBudgetBurnFast"}
    _post(url, posted)

    def once_each(alerts: list[dict[str, Any]]) -> bool:
        return _pages(alerts) == Counter(SPIKED)

    alerts = _settled(url, len(posted), once_each)
    assert len(alerts) == len(posted)
    assert _pages(alerts) == Counter(SPIKED), [(a["labels"], a["status"]) for a in alerts]
    # The page is the SLO burn; HighErrorRate is held back by the burn of its own service.
    for alert in alerts:
        labels, status = alert["labels"], alert["status"]
        if labels["alertname"] == "HighErrorRate":
            assert status["state"] == "suppressed" and status["inhibitedBy"], labels
    # One pager group per service: whatever fires first opens the incident, the rest join it.
    groups = httpx.get(f"{url}/api/v2/alerts/groups", params={"receiver": "pager"}, timeout=5).json()
    assert sorted((g["labels"]["service"], g["labels"]["namespace"]) for g in groups) == sorted(SPIKED)


def test_a_latency_burn_does_not_hold_back_an_error_alert_but_shares_its_incident(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    url = _start_alertmanager(tmp_path, spawn)
    errors = [a for a in _spike_alerts("lmagent-api", "lmagent") if a["alertname"] == "HighErrorRate"]
    latency = {
        "alertname": "ErrorBudgetBurnFast",
        "slo": "latency",
        "service": "lmagent-api",
        "namespace": "lmagent",
        "severity": "critical",
        "signal": "latency",
        "environment": "production",
    }
    _post(url, [*errors, latency])
    alerts = _settled(url, 2, lambda alerts: _pages(alerts)[("lmagent-api", "lmagent")] == 2)
    assert _pages(alerts) == Counter({("lmagent-api", "lmagent"): 2}), [a["status"] for a in alerts]
    groups = httpx.get(f"{url}/api/v2/alerts/groups", params={"receiver": "pager"}, timeout=5).json()
    assert [len(g["alerts"]) for g in groups] == [2]


def test_info_alerts_stay_out_of_chat_while_the_charts_info_inhibitor_fires(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    url = _start_alertmanager(tmp_path, spawn)
    base = {"environment": "production", "namespace": "lmagent"}
    info = {**base, "alertname": "CPUThrottlingHigh", "severity": "info", "pod": "lmagent-api-0"}
    elsewhere = {**info, "namespace": "orders"}
    _post(url, [{**base, "alertname": "InfoInhibitor", "severity": "none"}, info, elsewhere])

    def held(alerts: list[dict[str, Any]]) -> bool:
        return any(a["labels"] == info and a["status"]["state"] == "suppressed" for a in alerts)

    alerts = _settled(url, 3, held)
    states = {(a["labels"]["alertname"], a["labels"]["namespace"]): a["status"]["state"] for a in alerts}
    assert states == {
        ("InfoInhibitor", "lmagent"): "active",  # routed to the null receiver
        ("CPUThrottlingHigh", "lmagent"): "suppressed",
        ("CPUThrottlingHigh", "orders"): "active",  # no InfoInhibitor in its namespace
    }
