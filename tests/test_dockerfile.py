"""Checks the reference service's Dockerfile with hadolint and checkov, and its structure."""

from __future__ import annotations

import json
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests._tools import REPO, run

APP = REPO / "app"
DOCKERFILE = APP / "Dockerfile"


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", path.read_text())
    parsed = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            parsed.append((keyword.upper(), " ".join(rest.split())))
    return parsed


def final_stage() -> list[tuple[str, str]]:
    parsed = instructions(DOCKERFILE)
    last_from = max(i for i, (keyword, _) in enumerate(parsed) if keyword == "FROM")
    return parsed[last_from:]


def checkov(path: Path) -> dict[str, Any]:
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")
    os.environ.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    result = run("checkov", "-f", path, "--framework", "dockerfile", "--quiet", "--compact", "-o", "json")
    report = json.loads(result.stdout)
    # checkov prints one object for one framework and a list for several.
    report = report[0] if isinstance(report, list) else report
    assert isinstance(report, dict), result.stdout
    return report


def test_hadolint_finds_nothing() -> None:
    result = run("hadolint", DOCKERFILE)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_checkov_passes_every_dockerfile_check() -> None:
    report = checkov(DOCKERFILE)

    failed = [check["check_id"] for check in report["results"]["failed_checks"]]
    assert report["summary"]["failed"] == 0, f"checkov failed: {failed}"
    assert report["summary"]["passed"] > 0
    assert report["summary"]["parsing_errors"] == 0


def test_the_checkers_fail_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install -y curl\nCMD python -m http.server\n"
    )

    hadolint = run("hadolint", bad)
    failed = {check["check_id"] for check in checkov(bad)["results"]["failed_checks"]}

    assert hadolint.returncode != 0
    assert "DL3007" in hadolint.stdout, "`latest` tag must be reported"
    assert "DL3025" in hadolint.stdout, "shell-form CMD must be reported"
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"} <= failed, failed


def test_image_is_built_in_at_least_two_stages_from_one_exact_base() -> None:
    images = [args.split()[0] for keyword, args in instructions(DOCKERFILE) if keyword == "FROM"]

    assert len(images) >= 2
    for image in images:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", image), (
            f"FROM {image}: pin an exact patch release and Debian release, never `latest`"
        )
    # The virtualenv built in the first stage runs only on the interpreter it was built for.
    assert len(set(images)) == 1


def test_final_stage_runs_as_a_numeric_user_above_10000() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]

    assert users, "the final stage must set USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), f"USER {users[-1]}: the UID must be numeric for runAsNonRoot"
    assert int(uid) > 10000, f"USER {users[-1]}: the UID must be above 10000"
    assert gid.isdigit(), f"USER {users[-1]}: the GID must be numeric"
    assert int(gid) > 10000, f"USER {users[-1]}: the GID must be above 10000"


def test_final_stage_has_no_build_tools_and_installs_nothing() -> None:
    runs = " ".join(args for keyword, args in final_stage() if keyword == "RUN")

    assert not re.search(r"\b(gcc|build-essential|make|apt-get install|pip install)\b", runs)
    copies = [args for keyword, args in final_stage() if keyword == "COPY"]
    assert copies
    assert all(args.startswith("--from=builder ") for args in copies), copies


def test_healthcheck_probes_health_with_python_not_curl() -> None:
    (healthcheck,) = [args for keyword, args in final_stage() if keyword == "HEALTHCHECK"]

    assert '"python", "-c"' in healthcheck
    assert "http://127.0.0.1:8000/health" in healthcheck
    assert "curl" not in healthcheck
    assert "wget" not in healthcheck


def test_image_exposes_8000_and_starts_in_exec_form() -> None:
    stage = dict(final_stage())

    assert stage["EXPOSE"] == "8000"
    assert json.loads(stage["CMD"]) == ["python", "-m", "lmagent_api"]


def test_runtime_writes_no_bytecode_and_does_not_buffer_logs() -> None:
    env = " ".join(args for keyword, args in final_stage() if keyword == "ENV")

    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_build_context_admits_only_the_service_and_its_requirements() -> None:
    patterns = [
        line for line in (APP / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    ]

    assert patterns[0] == "*", "exclude everything, then admit what the build needs"
    admitted = [pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")]
    assert sorted(admitted) == ["constraints.txt", "lmagent_api", "requirements.txt"]
    for name in admitted:
        assert (APP / name).exists(), f".dockerignore admits {name}, which does not exist"


@pytest.fixture
def installed_closure() -> dict[str, str]:
    """Every package app/requirements.txt pulls in, with the version installed here."""
    roots = [
        Requirement(line).name
        for line in (APP / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    versions: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in versions:
            continue
        distribution = metadata.distribution(name)
        versions[name] = distribution.version
        for spec in distribution.requires or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return versions


def test_image_constraints_pin_the_versions_the_tests_ran_with(
    installed_closure: dict[str, str],
) -> None:
    pinned = {}
    for line in (APP / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = version

    assert pinned == installed_closure, (
        "app/constraints.txt must list exactly the service's installed dependency closure; "
        "regenerate it from the tested environment"
    )
