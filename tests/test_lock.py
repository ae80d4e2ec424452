"""The locked environments: the tests run the versions uv.lock pins, and the locks agree with each
other and with the files that name versions outside them (Pulumi's runtime options, the image's
requirements). `make lint` checks that each lock matches its pyproject.toml (`uv lock --check`)."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests._tools import REPO

LOCKS = {
    "project": REPO / "uv.lock",
    "policy pack": REPO / "policies" / "uv.lock",
    "checkov": REPO / "tools" / "checkov" / "uv.lock",
}


def locked(path: Path) -> dict[str, set[str]]:
    """Each package of a uv lock with its versions (one, unless they differ per Python version)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(path.read_text())["package"]:
        versions.setdefault(canonicalize_name(package["name"]), set()).add(package.get("version", ""))
    return versions


def pyproject(path: Path = REPO / "pyproject.toml") -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def test_every_package_the_tests_run_with_is_the_locked_version():
    lock = locked(LOCKS["project"])
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    assert "protobuf" in installed
    assert {
        name: version for name, version in installed.items() if version not in lock.get(name, set())
    } == {}


def test_the_policy_pack_locks_the_versions_the_project_locks():
    project, pack = locked(LOCKS["project"]), locked(LOCKS["policy pack"])
    shared = (set(project) & set(pack)) - {"lmagent-infra-policies"}
    assert {"pulumi", "pulumi-policy", "protobuf", "grpcio"} <= shared
    assert {name: (pack[name], project[name]) for name in shared if pack[name] != project[name]} == {}
    # Everything the pack installs is in the project's lock, so its tests ran every one of them.
    assert set(pack) - set(project) == {"lmagent-infra-policies"}


def test_the_dev_group_pins_the_services_own_requirements():
    pins = {
        canonicalize_name(r.name): str(r.specifier)
        for r in map(Requirement, pyproject()["dependency-groups"]["app"])
    }
    image = {
        canonicalize_name(r.name): str(r.specifier)
        for r in (
            Requirement(line)
            for line in (REPO / "app" / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        )
    }
    assert pins == image


def test_each_lock_is_for_its_own_pyproject():
    for name, lock in LOCKS.items():
        project = pyproject(lock.parent / "pyproject.toml")["project"]["name"]
        editable = [p for p in tomllib.loads(lock.read_text())["package"] if "editable" in p["source"]]
        virtual = [p for p in tomllib.loads(lock.read_text())["package"] if "virtual" in p["source"]]
        assert [p["name"] for p in editable + virtual] == [project], name


def test_pulumi_builds_the_environments_the_makefile_builds():
    # The CLI's uv toolchain runs `uv sync` where the lock is: with default-groups empty that is
    # the runtime set `make deps` installs, into the virtualenv Pulumi.yaml names.
    program = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]
    pack = yaml.safe_load((REPO / "policies" / "PulumiPolicy.yaml").read_text())["runtime"]
    assert program == {"name": "python", "options": {"toolchain": "uv", "virtualenv": ".venv"}}
    assert pack == {"name": "python", "options": {"toolchain": "uv", "virtualenv": "../.tools/policy"}}
    bootstrap = yaml.safe_load((REPO / "bootstrap" / "Pulumi.yaml").read_text())["runtime"]["options"]
    assert bootstrap["toolchain"] == "uv"
    assert (REPO / "bootstrap" / bootstrap["virtualenv"]).resolve() == REPO / ".venv"
    assert pyproject()["tool"]["uv"]["default-groups"] == []
    makefile = (REPO / "Makefile").read_text()
    assert "POLICY_VENV  := .tools/policy" in makefile and "VENV   := .venv" in makefile


def test_the_makefile_installs_the_uv_every_pyproject_requires():
    makefile = (REPO / "Makefile").read_text()
    (line,) = [line for line in makefile.splitlines() if line.startswith("UV_VERSION :=")]
    version = line.split(":=")[1].strip()
    for lock in LOCKS.values():
        assert pyproject(lock.parent / "pyproject.toml")["tool"]["uv"]["required-version"] == f"=={version}"
