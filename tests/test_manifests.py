"""Every Kubernetes object both stacks declare passes kubernetes-validate and checkov; app golden files.

Custom resources are not in kubernetes-validate's schemas: tests/test_crds.py checks each against
the strict schema of its pinned CRD (and PrometheusRules also pass `promtool check rules` here).
Any other custom resource kind fails the test until its CRD is pinned in tests/_crds.py.

Golden files: `tests/golden/<stack>/` holds the rendered manifests of the stack's apps (what the
AppService components declare), one file per object as `python -m stacks synth` writes them. A
change to them is a change to the cluster; review it, then regenerate with
`UPDATE_GOLDEN=1 pytest tests/test_manifests.py`.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.testing import SynthResult
from components.versions import KUBERNETES_VERSION
from stacks._output import manifest_filename, write
from tests._crds import CRDS
from tests._tools import REPO, run
from tests.conftest import STACKS, synth_stack, synth_with

GOLDEN = Path(__file__).parent / "golden"
CHECKOV_CONFIG = REPO / ".checkov.yaml"
# Kinds outside the Kubernetes OpenAPI schemas: each is validated against its CRD in test_crds.py.
CUSTOM_KINDS = {kind for _, _, kind in CRDS}


def _write_manifests(result: SynthResult, out: Path) -> Path:
    write(result, out)
    manifests = out / "manifests"
    assert sorted(p.name for p in manifests.iterdir()), "the synthesis declared no Kubernetes objects"
    return manifests


def _validate(manifests: Path) -> list[str]:
    """Problems kubernetes-validate --strict finds; custom kinds without a schema are listed apart."""
    files = sorted(manifests.glob("*.yaml"))
    checked = run("kubernetes-validate", "--strict", "--quiet", "-k", f"{KUBERNETES_VERSION}.0", *files)
    lines = (checked.stdout + checked.stderr).splitlines()
    errors = [line for line in lines if not line.startswith("WARN ")]
    unschemed = {line.split()[1] for line in lines if "Couldn't find schema" in line}
    for path in map(Path, sorted(unschemed)):
        kind = yaml.safe_load(path.read_text())["kind"]
        if kind not in CUSTOM_KINDS:
            errors.append(f"{path.name}: kind {kind} has no schema and no other validator")
    if checked.returncode != 0 and not errors:
        errors.append(f"kubernetes-validate exited {checked.returncode}")
    return errors


def _checkov(manifests: Path) -> dict[str, Any]:
    checked = run(
        "checkov",
        "--framework",
        "kubernetes",
        "--directory",
        manifests,
        "--config-file",
        CHECKOV_CONFIG,
        "--output",
        "json",
        "--quiet",
        "--skip-download",
    )
    report = json.loads(checked.stdout)
    # One framework gives one report object; checkov wraps several in a list.
    report = report[0] if isinstance(report, list) else report
    assert "summary" in report, checked.stdout[:2000] + checked.stderr[-2000:]
    return dict(report)


def _failed(report: dict[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({c['file_path']})"
        for c in report.get("results", {}).get("failed_checks", [])
    ]


@pytest.fixture(scope="module", params=STACKS)
def stack_manifests(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stack = str(request.param)
    return _write_manifests(synth_stack(stack), tmp_path_factory.mktemp(stack) / "out")


def test_every_object_passes_kubernetes_validate_strict(stack_manifests: Path) -> None:
    assert _validate(stack_manifests) == []


def test_every_object_passes_checkov_with_no_failed_check(stack_manifests: Path) -> None:
    report = _checkov(stack_manifests)
    assert _failed(report) == []
    assert report["summary"]["passed"] > 0
    assert report["summary"]["parsing_errors"] == 0


def test_every_prometheus_rule_passes_promtool(stack_manifests: Path, tmp_path: Path) -> None:
    rules = [yaml.safe_load(p.read_text()) for p in sorted(stack_manifests.glob("*--PrometheusRule--*.yaml"))]
    assert rules
    for rule in rules:
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(rule["spec"]))
        checked = run("promtool", "check", "rules", path)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_app_with_secret_env_passes_both_validators(tmp_path: Path) -> None:
    result = synth_with(
        "production",
        {"apps": {"lmagent-api": {"secretEnv": {"DATABASE_URL": "lmagentApiDatabaseUrl"}}}},
        secrets={"lmagentApiDatabaseUrl": "postgresql://app:pw@db:5432/app"},
    )
    manifests = _write_manifests(result, tmp_path / "out")
    assert (manifests / "lmagent--Secret--lmagent-api-secrets.yaml").is_file()
    assert _validate(manifests) == []
    assert _failed(_checkov(manifests)) == []


def test_the_checkers_catch_a_weakened_deployment(tmp_path: Path) -> None:
    # Proves the two validators above can fail: the same Deployment, made unsafe and misspelt.
    deployment = copy.deepcopy(synth_stack("production").manifest("Deployment", "lmagent-api"))
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"]["privileged"] = True
    pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    pod["containers"][0]["resourcess"] = {}
    out = tmp_path / "manifests"
    out.mkdir()
    (out / manifest_filename(deployment)).write_text(yaml.safe_dump(deployment))
    assert any("resourcess" in line for line in _validate(out))
    failed = {line.split()[0] for line in _failed(_checkov(out))}
    # Privileged, writable root, and (alone in its directory) no NetworkPolicy selecting it.
    assert {"CKV_K8S_16", "CKV_K8S_22", "CKV2_K8S_6"} <= failed


def test_every_skipped_check_has_a_written_reason() -> None:
    lines = CHECKOV_CONFIG.read_text().splitlines()
    skips = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    assert len(skips) <= 3, "skips should stay very few"
    for check in skips:
        at = next(i for i, line in enumerate(lines) if line.strip() == f"- {check}")
        reason = [line for line in lines[:at] if line.strip().startswith("#")]
        assert any(check in line for line in reason), f"{check} has no comment above it"


# ---------------------------------------------------------------------------------------------
# Golden snapshots of the apps' objects


def _app_objects(result: SynthResult) -> set[str]:
    """Manifest file names of the objects the stack's AppService components declare."""
    apps = {r["urn"] for r in result.of_type("lmagent:components:AppService")}
    return {manifest_filename(r["inputs"]) for r in result.resources if r["parent"] in apps and r["custom"]}


@pytest.mark.parametrize("stack", STACKS)
def test_app_manifests_match_the_golden_files(stack: str, tmp_path: Path) -> None:
    result = synth_stack(stack)
    manifests = _write_manifests(result, tmp_path / "out")
    names = _app_objects(result)
    assert names, f"{stack} declares no app objects"
    golden = GOLDEN / stack
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        golden.mkdir(parents=True)
        for name in names:
            shutil.copyfile(manifests / name, golden / name)
    expected = {p.name for p in golden.glob("*.yaml")}
    assert sorted(names) == sorted(expected), (
        "the set of app objects changed; review, then run UPDATE_GOLDEN=1 pytest tests/test_manifests.py"
    )
    changed = [n for n in sorted(names) if (manifests / n).read_text() != (golden / n).read_text()]
    assert changed == [], (
        f"rendered manifests differ from tests/golden/{stack}; review the change, then run "
        "UPDATE_GOLDEN=1 pytest tests/test_manifests.py"
    )
