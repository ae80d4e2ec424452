"""The Alertmanager config the monitoring stack renders, checked and routed by the real `amtool`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components.testing import SynthResult
from tests._tools import run


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
    from tests.conftest import synth_stack

    path = config_file(synth_stack(stack), tmp_path)
    labels = ("alertname=HighErrorRate", f"severity={severity}", f"environment={stack}", "namespace=lmagent")
    assert receivers_for(path, *labels) == expected


def test_a_production_page_never_leaves_another_environment(tmp_path):
    from tests.conftest import synth_stack

    path = config_file(synth_stack("production"), tmp_path)
    labels = ("alertname=HighErrorRate", "severity=critical", "environment=staging", "namespace=lmagent")
    assert receivers_for(path, *labels) == ["chat"]


def test_the_watchdog_goes_nowhere(synthesized, tmp_path):
    path = config_file(synthesized, tmp_path)
    assert receivers_for(path, "alertname=Watchdog", "severity=none") == ["null"]
