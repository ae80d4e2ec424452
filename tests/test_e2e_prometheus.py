"""End to end: a real Prometheus scrapes the reference service and fires the generated rules."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from components.alerts import AlertThresholds, app_alert_groups
from components.slo import default_slos, slo_rule_groups
from tests._loopback import free_port, pages, spawner, start_alertmanager, wait_for
from tests._tools import REPO, tool
from tests.conftest import synth_stack

SERVICE, NAMESPACE = "lmagent-api", "lmagent"
DEADLINE_SECONDS = 60  # a bound on the whole test, not a measurement


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    with spawner(tmp_path) as start:
        yield start


def _write_prometheus_config(tmp_path: Path, app_port: int, alertmanager: str | None = None) -> Path:
    # `for: 1s` instead of the runbook's 5m so the alert leaves `inactive` within the test.
    fast = AlertThresholds(error_for="1s", latency_for="1s", crash_for="1s")
    alerts = app_alert_groups(
        service=SERVICE,
        namespace=NAMESPACE,
        runbook_base_url="https://runbooks.example.com",
        thresholds=fast,
    )
    slos = slo_rule_groups(service=SERVICE, namespace=NAMESPACE, slos=default_slos())
    (tmp_path / "alerts.rules.yml").write_text(yaml.safe_dump({"groups": alerts}))
    (tmp_path / "slo.rules.yml").write_text(yaml.safe_dump({"groups": slos}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.rules.yml", "slo.rules.yml"],
        "scrape_configs": [
            {
                "job_name": SERVICE,
                "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}],
                # What the ServiceMonitor does in the cluster: label series with the namespace.
                "relabel_configs": [{"target_label": "namespace", "replacement": NAMESPACE}],
            }
        ],
    }
    if alertmanager is not None:
        # As in the cluster: every alert leaves Prometheus with the stack's environment label.
        config["global"]["external_labels"] = {"environment": "production"}
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}]
        }
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _start(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]], alertmanager: str | None = None
) -> tuple[str, str]:
    """Start the reference service (with its fault endpoint) and a Prometheus scraping it; return
    both URLs."""
    app_port, prom_port = free_port(), free_port()
    env = {**os.environ, "LMAGENT_FAULT_ENDPOINT": "1"}
    argv = [sys.executable, "-m", "uvicorn", "lmagent_api.main:app", "--host", "127.0.0.1"]
    spawn("app", [*argv, "--port", str(app_port)], cwd=REPO / "app", env=env)
    config = _write_prometheus_config(tmp_path, app_port, alertmanager)
    spawn(
        "prometheus",
        [
            tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        cwd=tmp_path,
    )
    return f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{prom_port}"


def test_prometheus_fires_high_error_rate_and_the_burn_alert_on_a_failing_service(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    app_url, prom_url = _start(tmp_path, spawn)

    with httpx.Client(timeout=5) as client:

        def get(url: str, **params: str) -> Any:
            response = client.get(url, params=params)
            response.raise_for_status()
            return response.json()

        wait_for(lambda: get(f"{app_url}/health"), "the service to answer", deadline, tmp_path)
        groups = wait_for(
            lambda: get(f"{prom_url}/api/v1/rules")["data"]["groups"],
            "Prometheus to load the rules",
            deadline,
            tmp_path,
        )
        assert {g["name"] for g in groups} == {
            "lmagent-api-alerts",
            "lmagent-api-slo-availability",
            "lmagent-api-slo-latency",
            "lmagent-api-slo-error_rate",
        }

        def drive_and_read() -> dict[str, Any] | None:
            # Mostly failures with some successes: an 80% error ratio, above every threshold.
            for _ in range(8):
                assert client.get(f"{app_url}/fault/500").status_code == 500
            for _ in range(2):
                assert client.get(f"{app_url}/api/v1/items/1").status_code == 200
            ratio = get(
                f"{prom_url}/api/v1/query",
                query=f'slo:sli_error:ratio_rate5m{{slo="availability",service="{SERVICE}"}}',
            )["data"]["result"]
            alerts = get(f"{prom_url}/api/v1/alerts")["data"]["alerts"]
            names = {a["labels"]["alertname"] for a in alerts}
            paged = {a["labels"]["slo"] for a in alerts if a["labels"]["alertname"] == "ErrorBudgetBurnFast"}
            if (
                ratio
                and float(ratio[0]["value"][1]) > 0
                and "HighErrorRate" in names
                and "availability" in paged
            ):
                return {"ratio": ratio[0], "alerts": alerts}
            return None

        seen = wait_for(drive_and_read, "the error ratio and the alerts", deadline, tmp_path)

    assert seen["ratio"]["metric"] == {
        "__name__": "slo:sli_error:ratio_rate5m",
        "slo": "availability",
        "service": SERVICE,
        "namespace": NAMESPACE,
    }
    assert 0 < float(seen["ratio"]["value"][1]) <= 1
    by_name = {a["labels"]["alertname"]: a for a in seen["alerts"]}
    high = by_name["HighErrorRate"]
    assert high["state"] in {"pending", "firing"}
    assert high["labels"] == {
        "alertname": "HighErrorRate",
        "severity": "critical",
        "service": SERVICE,
        "namespace": NAMESPACE,
        "signal": "errors",
    }
    assert high["annotations"]["runbook_url"] == "https://runbooks.example.com/HighErrorRate"
    burn = [a for a in seen["alerts"] if a["labels"]["alertname"] == "ErrorBudgetBurnFast"]
    # error_rate counts the same 5xx with higher thresholds: availability's burn speaks for both.
    assert {a["labels"]["slo"] for a in burn} == {"availability"}
    assert all(a["labels"]["severity"] == "critical" for a in burn)
    # Latency is not degraded: its SLO must not page.
    assert "HighLatency" not in by_name


def test_a_failing_service_pages_once_through_the_real_alertmanager(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    """The generated rules in a real Prometheus, sending to the real Alertmanager with the
    production stack's routes and inhibitions: an error spike is one paging alert."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    config = synth_stack("production").named("monitoring-kube-prometheus-stack")["inputs"]["values"]
    am_url = start_alertmanager(spawn, tmp_path, config["alertmanager"]["config"])
    app_url, _ = _start(tmp_path, spawn, alertmanager=am_url)

    with httpx.Client(timeout=5) as client:
        wait_for(lambda: client.get(f"{app_url}/health").is_success, "the service", deadline, tmp_path)

        def drive_and_read() -> list[dict[str, Any]] | None:
            for _ in range(8):
                client.get(f"{app_url}/fault/500")
            for _ in range(2):
                client.get(f"{app_url}/api/v1/items/1")
            alerts: list[dict[str, Any]] = client.get(f"{am_url}/api/v2/alerts").json()
            names = {a["labels"]["alertname"] for a in alerts}
            # Both have reached Alertmanager and it has made up its mind about them.
            if {"HighErrorRate", "ErrorBudgetBurnFast"} <= names and pages(alerts) == {
                (SERVICE, NAMESPACE): 1
            }:
                return alerts
            return None

        alerts = wait_for(drive_and_read, "one page in Alertmanager", deadline, tmp_path)

    by_name = {
        a["labels"]["alertname"]: a for a in alerts if a["labels"]["alertname"] != "ErrorBudgetBurnFast"
    }
    assert by_name["HighErrorRate"]["status"]["state"] == "suppressed"
    burns = [a for a in alerts if a["labels"]["alertname"] == "ErrorBudgetBurnFast"]
    assert [(a["labels"]["slo"], a["status"]["state"]) for a in burns] == [("availability", "active")]
