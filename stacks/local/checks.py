"""Offline checks of the local environment: the Compose specification schema, promtool, amtool,
and the structure of Grafana's provisioning files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in [Path(sys.executable).parent / name] if p.exists()), None
    )


def _run(name: str, *argv: str) -> str | None:
    """None when the tool accepts the file, else one line saying why."""
    exe = _tool(name)
    if exe is None:
        return f"{name}: not installed (make dev-deps installs it)"
    done = subprocess.run([exe, *argv], capture_output=True, text=True, check=False, timeout=300)
    if done.returncode == 0:
        return None
    detail = " ".join((done.stderr or done.stdout).split())[:400]
    return f"{name} {' '.join(argv)}: {detail}"


def check_grafana(out: Path) -> list[str]:
    """Structural checks of the provisioning files (Grafana publishes no schema for them): the
    fields Grafana requires, unique uids, links between sources that exist, dashboards that load."""
    problems = []
    ds_doc = yaml.safe_load((out / "grafana/provisioning/datasources/datasources.yaml").read_text())
    sources = ds_doc.get("datasources") or []
    if ds_doc.get("apiVersion") != 1:
        problems.append("datasources.yaml: apiVersion must be 1")
    uids = [s.get("uid") for s in sources]
    if len(set(uids)) != len(uids):
        problems.append(f"datasources.yaml: uids are not unique: {uids}")
    if sum(1 for s in sources if s.get("isDefault")) != 1:
        problems.append("datasources.yaml: exactly one data source must be the default")
    for s in sources:
        for key in ("name", "type", "uid", "url", "access"):
            if not s.get(key):
                problems.append(f"datasources.yaml: {s.get('name')}: {key} is required")
        links = json.dumps(s.get("jsonData", {}))
        for uid in {"loki", "jaeger", "prometheus"} - {s.get("uid")}:
            if f'"datasourceUid": "{uid}"' in links and uid not in uids:
                problems.append(f"datasources.yaml: {s['name']} links to {uid!r}, which is not provisioned")
    dash_doc = yaml.safe_load((out / "grafana/provisioning/dashboards/dashboards.yaml").read_text())
    for p in dash_doc.get("providers") or []:
        if p.get("type") != "file" or not str(p.get("options", {}).get("path", "")).startswith("/"):
            problems.append(f"dashboards.yaml: {p.get('name')}: needs type file and an absolute options.path")
    boards = sorted((out / "grafana/dashboards").glob("*.json"))
    if not boards:
        problems.append("grafana/dashboards: no dashboards")
    seen: set[str] = set()
    for path in boards:
        board = json.loads(path.read_text())
        if not board.get("uid") or not board.get("title") or not board.get("panels"):
            problems.append(f"{path.name}: a dashboard needs uid, title and panels")
        if board.get("uid") in seen:
            problems.append(f"{path.name}: uid {board.get('uid')!r} is used twice")
        seen.add(str(board.get("uid")))
    return problems


def check(out: Path, compose_file: Path) -> list[str]:
    """Every offline check of the local environment; one line per problem."""
    problems = [
        _run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(compose_file)),
        # promtool check config also checks every rule file the config loads.
        _run("promtool", "check", "config", str(out / "prometheus/prometheus.yml")),
        _run("amtool", "check-config", str(out / "alertmanager/alertmanager.yml")),
    ]
    return [p for p in problems if p] + check_grafana(out)
