"""The `python -m stacks` command line: synth output on disk, exit status 2 on bad config, diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.__main__ import main
from tests._tools import REPO

PLANTED = "v1:planted-ciphertext-93be"


def project_copy(tmp_path: Path, stack: str, extra: str = "") -> Path:
    """A project directory holding Pulumi.yaml and one stack file (with `extra` config lines)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    text = (REPO / f"Pulumi.{stack}.yaml").read_text()
    (root / f"Pulumi.{stack}.yaml").write_text(text + extra)
    return root


def files_under(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_synth_writes_resources_json_manifests_and_helm_values(stack, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["synth", stack, "--out", str(out)]) == 0
    doc = json.loads((out / "resources.json").read_text())
    assert (doc["project"], doc["stack"]) == ("lmagent-infra", stack)
    assert isinstance(doc["resources"], list)
    assert doc["outputs"]["environment"] == stack
    for r in doc["resources"]:
        assert set(r) == {
            "urn",
            "type",
            "name",
            "parent",
            "custom",
            "provider",
            "inputs",
            "options",
            "dependencies",
        }
    assert (out / "manifests").is_dir()
    assert (out / "helm").is_dir()
    manifests = sorted((out / "manifests").glob("*.yaml"))
    assert len(manifests) == sum(
        1
        for r in doc["resources"]
        if r["type"].startswith("kubernetes:")
        and r["custom"]
        and r["type"] not in ("kubernetes:helm.sh/v3:Release", "pulumi:providers:kubernetes")
    )
    printed = capsys.readouterr().out
    assert "pulumi:pulumi:Stack" in printed and f"lmagent-infra-{stack}" in printed
    assert f"Resources: {len(doc['resources'])} declared" in printed


def test_two_synth_runs_write_identical_files(tmp_path):
    assert main(["synth", "production", "--out", str(tmp_path / "a"), "--quiet"]) == 0
    # The second run in another process with another hash seed: no order may depend on either.
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "synth", "production", "--out", str(tmp_path / "b"), "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert proc.returncode == 0, proc.stderr
    a, b = files_under(tmp_path / "a"), files_under(tmp_path / "b")
    assert a == b
    assert "resources.json" in a


def test_fails_with_exit_status_2_one_line_per_mistake_and_no_output(tmp_path):
    root = project_copy(
        tmp_path,
        "staging",
        "  lmagent-infra:protecct: true\n"  # misspelt key
        "  lmagent-infra:protect: perhaps\n"  # wrong type
        "  lmagent-infra:environment: qa\n",  # outside the allowed set (overrides staging)
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "stacks", "--project-dir", str(root), "synth", "staging", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    assert len(lines) == 3, lines
    assert all(line.startswith("Pulumi.staging.yaml: lmagent-infra:") for line in lines)
    assert any("protecct: unknown key; did you mean 'protect'?" in line for line in lines)
    assert any('protect: must be true or false (got "perhaps")' in line for line in lines)
    assert any("environment: must be one of 'staging' or 'production' (got \"qa\")" in line for line in lines)
    assert not out.exists()


def test_a_secure_value_never_reaches_files_or_the_terminal(tmp_path, capsys):
    root = project_copy(tmp_path, "staging", f"  lmagent-infra:apiToken:\n    secure: {PLANTED}\n")
    out = tmp_path / "out"
    assert main(["--project-dir", str(root), "synth", "staging", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert PLANTED not in printed.out + printed.err
    for name, content in files_under(out).items():
        assert PLANTED.encode() not in content, name


def test_fails_with_the_line_when_the_stack_file_is_not_valid_yaml(tmp_path, capsys):
    root = project_copy(tmp_path, "staging", "  lmagent-infra:protect: [true\n")
    out = tmp_path / "out"
    assert main(["--project-dir", str(root), "synth", "staging", "--out", str(out)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("Pulumi.staging.yaml: line ")
    assert not out.exists()


def test_fails_when_the_stack_file_does_not_exist(capsys):
    assert main(["synth", "nonexistent"]) == 2
    assert "Pulumi.nonexistent.yaml: no such stack file" in capsys.readouterr().err


def test_diff_shows_what_differs_between_the_stacks(capsys):
    assert main(["diff", "staging", "production"]) == 0
    printed = capsys.readouterr().out
    assert '~ output environment: "staging" -> "production"' in printed


def test_diff_of_a_stack_with_itself_reports_no_difference(capsys):
    assert main(["diff", "staging", "staging"]) == 0
    assert "staging and staging declare the same resources" in capsys.readouterr().out
