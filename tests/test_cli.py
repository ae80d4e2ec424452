"""The `python -m stacks` command line: synth output on disk, exit status 2 on bad config, diff."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from stacks.__main__ import main
from tests._tools import REPO, tool

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


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The environment `make synth` runs in, built by the same target (`make deps`) in a directory
    of its own: the runtime set of the lock, without the dev tools this test runs under."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    proc = subprocess.run(
        [tool("make"), "--no-print-directory", "deps", f"VENV={venv}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def installed(python: Path) -> dict[str, str]:
    """Every distribution installed in the environment of `python`, by canonical name."""
    code = (
        "import importlib.metadata as m, json\n"
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return {canonicalize_name(name): version for name, version in json.loads(proc.stdout).items()}


def test_the_runtime_environment_is_the_test_environment_less_the_dev_tools(runtime_env):
    runtime = installed(runtime_env / "bin" / "python")
    tests = installed(Path(sys.executable))
    assert {"pulumi", "pulumi-aws", "protobuf", "grpcio", "pydantic"} <= set(runtime)
    assert {
        name: (version, tests.get(name)) for name, version in runtime.items() if tests.get(name) != version
    } == {}
    assert not {"pytest", "ruff", "mypy", "pulumi-policy"} & set(runtime)


def test_synth_in_the_runtime_environment_is_byte_identical_across_processes(runtime_env, tmp_path):
    # Two fresh processes per stack, each with its own hash seed, in the environment `make synth`
    # builds: no byte of the output may depend on the process (map orders of the protobuf runtime
    # included), only on the program and its config.
    python = runtime_env / "bin" / "python"
    for stack in ("staging", "production"):
        runs = {
            seed: (
                tmp_path / f"{stack}-{seed}",
                subprocess.Popen(
                    [
                        python,
                        "-m",
                        "stacks",
                        "synth",
                        stack,
                        "--out",
                        tmp_path / f"{stack}-{seed}",
                        "--quiet",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=REPO,
                    env={**os.environ, "PYTHONHASHSEED": seed},
                ),
            )
            for seed in ("1", "2")
        }
        for _, proc in runs.values():
            err = proc.communicate(timeout=600)[1]
            assert proc.returncode == 0, err
        (a, _), (b, _) = runs.values()
        first, second = files_under(a), files_under(b)
        assert "resources.json" in first and any(name.startswith("manifests/") for name in first)
        differing = sorted(
            name for name in first.keys() | second.keys() if first.get(name) != second.get(name)
        )
        assert differing == [], f"{stack}: {len(differing)} of {len(first)} files differ between two runs"


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
