"""The local environment (`python -m stacks local`, compose.yaml): what the cluster runs, offline-
checked by the Compose specification schema, promtool, amtool and Grafana's provisioning rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from components._monitoring_values import alertmanager_config
from stacks.local import APP, NO_HEALTHCHECK, check, main, render, stack_config, write
from tests._tools import REPO
from tests.conftest import STACKS, synth_stack


@pytest.fixture(scope="module")
def staging() -> tuple[dict[str, Any], dict[str, str]]:
    text, files = render("staging")
    return yaml.safe_load(text), files


def test_local_check_runs_every_validator_and_passes(tmp_path, capsys):
    # What `make local-check` runs: writes build/local, then check-jsonschema (Compose spec),
    # promtool check config (and the rules it loads), amtool check-config, Grafana structure.
    assert main(["--check", "--out", str(tmp_path / "local")], REPO) == 0, capsys.readouterr()
    assert capsys.readouterr().out.strip() == "local environment: every check passed"


def test_the_committed_compose_yaml_is_the_generated_one():
    text, _ = render("staging")
    assert (REPO / "compose.yaml").read_text() == text, "run `python -m stacks local` and commit compose.yaml"


@pytest.mark.parametrize("stack", STACKS)
def test_rules_loaded_locally_are_the_groups_of_the_stacks_prometheusrule(stack):
    from stacks.local import rule_groups

    rule = synth_stack(stack).manifest("PrometheusRule", APP)
    assert rule_groups(stack_config(stack)) == rule["spec"]["groups"]


def test_the_rule_file_prometheus_mounts_holds_the_staging_groups(staging):
    _, files = staging
    loaded = yaml.safe_load(files[f"prometheus/rules/{APP}.rules.yml"])
    assert loaded == {"groups": synth_stack("staging").manifest("PrometheusRule", APP)["spec"]["groups"]}
    prom = yaml.safe_load(files["prometheus/prometheus.yml"])
    assert prom["rule_files"] == ["rules/*.yml"]
    # The labels the rules select on (the ServiceMonitor's contract): job and namespace.
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == APP)
    assert job["static_configs"][0]["labels"]["namespace"] == "lmagent"


def test_grafana_gets_the_stacks_dashboards_and_linked_sources(staging):
    _, files = staging
    result = synth_stack("staging")
    for kind in ("red", "slo"):
        cm = result.manifest("ConfigMap", f"{APP}-dashboard-{kind}")
        (cluster_json,) = cm["data"].values()
        assert json.loads(files[f"grafana/dashboards/{APP}-{kind}.json"]) == json.loads(cluster_json)
    sources = yaml.safe_load(files["grafana/provisioning/datasources/datasources.yaml"])["datasources"]
    assert {s["uid"]: s["url"] for s in sources} == {
        "prometheus": "http://prometheus:9090",
        "loki": "http://loki:3100",
        "jaeger": "http://jaeger:16686",
    }


def test_alertmanager_keeps_the_cluster_routes_and_sends_nothing(staging):
    _, files = staging
    local = yaml.safe_load(files["alertmanager/alertmanager.yml"])
    cluster = alertmanager_config(stack_config("staging").monitoring, "staging")
    assert local["route"] == cluster["route"] and local["inhibit_rules"] == cluster["inhibit_rules"]
    assert [r["name"] for r in local["receivers"]] == [r["name"] for r in cluster["receivers"]]
    assert all(set(r) == {"name"} for r in local["receivers"])


def test_every_service_is_hardened_and_pinned(staging):
    doc, _ = staging
    pinned = set(versions.LOCAL_IMAGES.values())
    for name, svc in doc["services"].items():
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc.get("privileged") is not True, name
        if name == "log-dir":  # root with CHOWN only, to hand the log volume to the app's user
            assert svc["user"] == "0:0" and svc["cap_add"] == ["CHOWN"] and svc["network_mode"] == "none"
        else:
            assert svc["user"].split(":")[0] not in ("0", "root"), name
            assert "cap_add" not in svc, name
        assert svc["image"] in pinned or (name == APP and svc["build"] == {"context": "./app"}), name
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_no_container_reaches_the_docker_engine(staging):
    doc, _ = staging
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes", []):
            assert "docker.sock" not in volume and "/var/lib/docker" not in volume, name


def test_services_wait_for_healthy_dependencies(staging):
    doc, _ = staging
    services = doc["services"]
    for name, svc in services.items():
        if name not in NO_HEALTHCHECK and name != "log-dir":
            assert svc["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        for dep, cond in svc.get("depends_on", {}).items():
            if dep == "log-dir":
                assert cond == {"condition": "service_completed_successfully"}
            elif dep in NO_HEALTHCHECK:
                assert cond == {"condition": "service_started"}
            else:
                assert cond == {"condition": "service_healthy"}, f"{name} -> {dep}"
    assert set(services[APP]["depends_on"]) == {"log-dir", "postgres", "otel-collector"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus", "loki", "jaeger"}


def test_alloy_tails_the_file_the_app_writes(staging):
    doc, files = staging
    app, alloy = doc["services"][APP], doc["services"]["alloy"]
    assert "tee -a /var/log/lmagent/lmagent-api.log" in app["command"][-1]
    assert (
        "app-logs:/var/log/lmagent" in app["volumes"] and "app-logs:/var/log/lmagent:ro" in alloy["volumes"]
    )
    assert '"__path__"  = "/var/log/lmagent/*.log"' in files["alloy/config.alloy"]


# Each validator must be able to fail: break one file at a time and see `check` name it.


def _written(tmp_path: Path) -> Path:
    out = tmp_path / "local"
    write("staging", out, REPO)
    return out


def test_check_fails_on_a_compose_file_outside_the_specification(tmp_path):
    out = _written(tmp_path)
    doc = yaml.safe_load((out / "compose.yaml").read_text())
    doc["services"]["postgres"]["restart_policy"] = "always"  # not a Compose key (it is `restart`)
    (out / "compose.yaml").write_text(yaml.safe_dump(doc))
    problems = check(out, out / "compose.yaml")
    assert len(problems) == 1 and problems[0].startswith("check-jsonschema")


def test_check_fails_on_a_rule_promtool_rejects(tmp_path):
    out = _written(tmp_path)
    rules = out / f"prometheus/rules/{APP}.rules.yml"
    doc = yaml.safe_load(rules.read_text())
    doc["groups"][0]["rules"][0]["expr"] = "sum(rate(http_requests_total[5m]) by"
    rules.write_text(yaml.safe_dump(doc))
    problems = check(out, out / "compose.yaml")
    assert len(problems) == 1 and problems[0].startswith("promtool check config")


def test_check_fails_on_a_route_to_a_missing_receiver(tmp_path):
    out = _written(tmp_path)
    path = out / "alertmanager/alertmanager.yml"
    doc = yaml.safe_load(path.read_text())
    doc["route"]["receiver"] = "pager-nobody-defined"
    path.write_text(yaml.safe_dump(doc))
    problems = check(out, out / "compose.yaml")
    assert len(problems) == 1 and problems[0].startswith("amtool check-config")


def test_check_fails_on_grafana_sources_linking_to_a_missing_one(tmp_path):
    out = _written(tmp_path)
    path = out / "grafana/provisioning/datasources/datasources.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["datasources"] = [s for s in doc["datasources"] if s["uid"] != "jaeger"]
    path.write_text(yaml.safe_dump(doc))
    assert check(out, out / "compose.yaml") == [
        "datasources.yaml: Loki links to 'jaeger', which is not provisioned"
    ]


def test_the_stacks_command_line_hands_local_its_arguments(tmp_path, capsys):
    from stacks.__main__ import main as stacks_main

    assert stacks_main(["local", "--out", str(tmp_path / "local")]) == 0
    assert (tmp_path / "local/prometheus/prometheus.yml").is_file()
    assert "Wrote compose.yaml" in capsys.readouterr().out


def test_a_real_prometheus_loads_the_local_config_with_the_stacks_groups(tmp_path):
    # Debian's Prometheus server (the one `make test` installs) started on the generated files:
    # what it reports loaded is the PrometheusRule's groups, rule for rule.
    import time

    import httpx

    from tests._loopback import STARTUP_SECONDS, free_port, spawner, wait_for
    from tests._tools import tool

    out = _written(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    with spawner(logs) as start:
        start(
            "prometheus",
            [
                tool("prometheus"),
                f"--config.file={out / 'prometheus/prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            cwd=tmp_path,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        wait_for(lambda: httpx.get(f"{url}/-/ready").is_success, "Prometheus to start", deadline, logs)
        loaded = httpx.get(f"{url}/api/v1/rules").json()["data"]["groups"]
    expected = synth_stack("staging").manifest("PrometheusRule", APP)["spec"]["groups"]
    # The API lists groups in its own order; each group's rules keep theirs.
    assert sorted((g["name"], [r["name"] for r in g["rules"]]) for g in loaded) == sorted(
        (g["name"], [r.get("alert") or r["record"] for r in g["rules"]]) for g in expected
    )
