"""Checks the CI/CD workflows with check-jsonschema, zizmor and the repository's own rules."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.bootstrap.roles import READONLY_ROLE_NAME
from components.bootstrap.runner import runner_label
from tests._tools import REPO, run

WORKFLOWS_DIR = REPO / ".github" / "workflows"
CI = WORKFLOWS_DIR / "ci.yml"
INFRA = WORKFLOWS_DIR / "infra.yml"
WORKFLOWS = [CI, INFRA]
STACKS = {"staging", "production"}

# `owner/repo[/path]@<40 hex>  # vX.Y.Z`: the SHA is what runs, the comment says which release
# it is so a reviewer (and Dependabot) can tell what an update changes.
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})"
    r"\s+#\s+v?\d+\.\d+\.\d+\s*$"
)
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s")


def load(path: Path) -> dict[str, Any]:
    """The workflow as data; YAML 1.1 reads the key `on` as True, so it is put back as "on"."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name}: not a mapping"
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The job's steps that run `action` (owner/repo), whatever SHA they are pinned to."""
    return [s for s in job.get("steps", []) if str(s.get("uses", "")).split("@")[0] == action]


def pulumi_runs(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The job's pulumi/actions steps that run a command (a step without one only installs the CLI)."""
    return [s for s in steps_using(job, "pulumi/actions") if "command" in (s.get("with") or {})]


def zizmor_findings(*paths: Path, persona: str = "auditor") -> list[dict[str, Any]]:
    """zizmor's findings, offline, as parsed JSON (the auditor persona reports the most)."""
    result = run("zizmor", "--offline", "--persona", persona, "--format", "json", "--no-progress", *paths)
    # Exit 0 is clean, 10-14 mean findings by highest severity; anything else is a tool failure.
    assert result.returncode in (0, 10, 11, 12, 13, 14), result.stderr
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def deploy_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Jobs that run `pulumi up`."""
    return {
        name: job
        for name, job in doc["jobs"].items()
        if any(s.get("with", {}).get("command") == "up" for s in steps_using(job, "pulumi/actions"))
    }


# --- the external checkers on the real workflows ---------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    result = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_zizmor_reports_no_finding_at_any_severity(workflow: Path) -> None:
    findings = zizmor_findings(workflow)
    assert findings == [], [
        (f["ident"], f["determinations"]["severity"], f["locations"][0]["symbolic"]["annotation"])
        for f in findings
    ]


def test_zizmor_reports_an_unpinned_action_and_missing_permissions(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "name: bad\n"
        "on: [push]\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: make test\n",
        encoding="utf-8",
    )
    idents = {f["ident"] for f in zizmor_findings(bad, persona="regular")}
    assert {"unpinned-uses", "excessive-permissions"} <= idents, idents


def test_zizmor_reports_an_expression_pasted_into_a_script(tmp_path: Path) -> None:
    bad = tmp_path / "injection.yml"
    bad.write_text(
        "name: injection\n"
        "on: [pull_request]\n"
        "permissions: {}\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-24.04\n"
        "    timeout-minutes: 5\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n',
        encoding="utf-8",
    )
    idents = {f["ident"] for f in zizmor_findings(bad, persona="regular")}
    assert "template-injection" in idents, idents


def test_check_jsonschema_fails_on_a_workflow_with_a_schema_error(tmp_path: Path) -> None:
    bad = tmp_path / "schema-error.yml"
    bad.write_text(
        "name: schema-error\n"
        "on: [push]\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    timeout-minutes: soon\n"
        "    steps:\n"
        "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8\n"
        "        wiht: {}\n",
        encoding="utf-8",
    )
    result = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", bad)
    assert result.returncode != 0
    assert "wiht" in result.stdout + result.stderr


# --- rules of this repository ------------------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_full_sha_with_its_release_in_a_comment(workflow: Path) -> None:
    lines = workflow.read_text(encoding="utf-8").splitlines()
    uses = [line for line in lines if USES_LINE.match(line)]
    assert uses, f"{workflow.name}: no `uses:` found, the check would pass vacuously"
    unpinned = [line.strip() for line in uses if not PINNED_USES.match(line)]
    assert unpinned == [], f"{workflow.name}: not pinned as `owner/repo@<sha> # vX.Y.Z`"


def test_an_action_is_pinned_to_the_same_sha_in_every_workflow() -> None:
    seen: dict[str, set[str]] = {}
    for workflow in WORKFLOWS:
        for line in workflow.read_text(encoding="utf-8").splitlines():
            if m := PINNED_USES.match(line):
                seen.setdefault(m["action"], set()).add(m["sha"])
    assert seen, "no pinned action found"
    assert {a: s for a, s in seen.items() if len(s) > 1} == {}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_grants_no_permission_by_default(workflow: Path) -> None:
    assert load(workflow).get("permissions") == {}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_declares_its_permissions_and_a_timeout(workflow: Path) -> None:
    jobs = load(workflow)["jobs"]
    assert jobs
    missing = {
        name: [k for k in ("permissions", "timeout-minutes") if k not in job] for name, job in jobs.items()
    }
    assert {n: m for n, m in missing.items() if m} == {}
    assert all(0 < job["timeout-minutes"] <= 60 for job in jobs.values())


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_checkout_leaves_no_credentials_behind(workflow: Path) -> None:
    checkouts = [
        step for job in load(workflow)["jobs"].values() for step in steps_using(job, "actions/checkout")
    ]
    assert checkouts
    assert all(step.get("with", {}).get("persist-credentials") is False for step in checkouts)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_script_pastes_an_expression_into_the_shell(workflow: Path) -> None:
    scripts = [
        step["run"]
        for job in load(workflow)["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]
    assert scripts
    assert [s for s in scripts if "${{" in s] == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_only_jobs_that_assume_an_aws_role_may_request_an_oidc_token(workflow: Path) -> None:
    for name, job in load(workflow)["jobs"].items():
        assumes_role = bool(steps_using(job, "aws-actions/configure-aws-credentials"))
        assert (job["permissions"].get("id-token") == "write") == assumes_role, name


def test_aws_access_is_by_oidc_role_from_a_variable_and_never_by_stored_keys() -> None:
    steps = [
        step
        for job in load(INFRA)["jobs"].values()
        for step in steps_using(job, "aws-actions/configure-aws-credentials")
    ]
    assert len(steps) == 4
    for step in steps:
        inputs = step["with"]
        assert re.fullmatch(r"\$\{\{ vars\.AWS_\w+_ROLE_ARN \}\}", inputs["role-to-assume"])
        assert not {"aws-access-key-id", "aws-secret-access-key"} & inputs.keys()
    assert "AWS_SECRET_ACCESS_KEY" not in INFRA.read_text(encoding="utf-8")


def test_ci_runs_on_push_and_pull_request_with_the_expected_jobs() -> None:
    doc = load(CI)
    assert {"push", "pull_request"} <= set(doc["on"])
    assert set(doc["jobs"]) == {"lint", "test", "synth", "hadolint", "image"}
    assert set(doc["jobs"]["synth"]["strategy"]["matrix"]["stack"]) == STACKS


def test_ci_uploads_coverage_and_both_syntheses_as_artifacts() -> None:
    jobs = load(CI)["jobs"]
    test_steps = jobs["test"]["steps"]
    cov = next(s for s in test_steps if "PYTEST_ADDOPTS" in s.get("env", {}))["env"]
    assert "--cov-report=xml:build/coverage/" in cov["PYTEST_ADDOPTS"]
    (upload,) = steps_using(jobs["test"], "actions/upload-artifact")
    assert upload["with"]["path"] == "build/coverage/"
    (synth_upload,) = steps_using(jobs["synth"], "actions/upload-artifact")
    assert synth_upload["with"]["path"] == "build/${{ matrix.stack }}/"


def test_ci_builds_the_app_image_with_buildx_and_fails_on_fixable_high_vulnerabilities() -> None:
    job = load(CI)["jobs"]["image"]
    assert steps_using(job, "docker/setup-buildx-action")
    (build,) = steps_using(job, "docker/build-push-action")
    assert (build["with"]["context"], build["with"]["file"]) == ("app", "app/Dockerfile")
    assert build["with"]["push"] is False
    (scan,) = steps_using(job, "aquasecurity/trivy-action")
    assert scan["with"]["image-ref"] == build["with"]["tags"]
    assert set(scan["with"]["severity"].split(",")) == {"CRITICAL", "HIGH"}
    assert str(scan["with"]["exit-code"]) == "1"
    assert scan["with"]["ignore-unfixed"] is True


def test_ci_lints_the_dockerfile_with_hadolint() -> None:
    scripts = [s.get("run", "") for s in load(CI)["jobs"]["hadolint"]["steps"]]
    assert "hadolint app/Dockerfile" in scripts


def test_pull_requests_preview_both_stacks_with_the_policy_pack_and_a_comment() -> None:
    job = load(INFRA)["jobs"]["preview"]
    assert "pull_request" in job["if"]
    assert set(job["strategy"]["matrix"]["stack"]) == STACKS
    assert job["permissions"]["pull-requests"] == "write"
    (pulumi,) = pulumi_runs(job)
    inputs = pulumi["with"]
    assert inputs["command"] == "preview"
    assert inputs["stack-name"] == "${{ matrix.stack }}"
    assert inputs["policyPacks"] == "policies"
    assert inputs["comment-on-pr"] is True
    assert inputs["diff"] is True


def test_every_policy_run_uses_its_stacks_enforcement_config() -> None:
    jobs = load(INFRA)["jobs"]
    expected = {
        "preview": "policies/config/${{ matrix.stack }}.json",
        "deploy-staging": "policies/config/staging.json",
        "deploy-production": "policies/config/production.json",
    }
    for job, config in expected.items():
        (pulumi,) = pulumi_runs(jobs[job])
        assert pulumi["with"]["policyPackConfigs"] == config, job
    for stack in STACKS:
        assert (REPO / "policies" / "config" / f"{stack}.json").is_file()


def test_dependabot_config_matches_its_schema_and_watches_the_actions() -> None:
    path = REPO / ".github" / "dependabot.yml"
    checked = run("check-jsonschema", "--builtin-schema", "vendor.dependabot", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ecosystems = {u["package-ecosystem"] for u in yaml.safe_load(path.read_text())["updates"]}
    assert {"github-actions", "uv"} <= ecosystems
    assert zizmor_findings(path) == []


def test_every_deployment_is_serialised_per_stack_behind_its_environment() -> None:
    jobs = deploy_jobs(load(INFRA))
    assert set(jobs) == {"deploy-staging", "deploy-production"}
    for name, job in jobs.items():
        (pulumi,) = pulumi_runs(job)
        stack = pulumi["with"]["stack-name"]
        assert job["environment"] == stack, name
        assert job["concurrency"]["group"].endswith(stack), name
        assert job["concurrency"]["cancel-in-progress"] is False, name
        assert pulumi["with"]["policyPacks"] == "policies", name
    groups = [job["concurrency"]["group"] for job in jobs.values()]
    assert len(set(groups)) == len(groups)


def test_production_is_deployed_only_from_main_and_staging_only_from_develop() -> None:
    doc = load(INFRA)
    assert set(doc["on"]["push"]["branches"]) == {"main", "develop"}
    jobs = deploy_jobs(doc)
    assert jobs["deploy-production"]["if"] == (
        "github.event_name == 'push' && github.ref == 'refs/heads/main'"
    )
    assert jobs["deploy-staging"]["if"] == (
        "github.event_name == 'push' && github.ref == 'refs/heads/develop'"
    )


def test_required_reviewers_on_production_are_documented_next_to_the_job() -> None:
    text = INFRA.read_text(encoding="utf-8")
    job_text = text[text.index("  deploy-production:") : text.index("  drift:")]
    assert "Required reviewers" in job_text
    assert "environment: production" in job_text


def test_a_daily_drift_check_previews_both_stacks_with_refresh_expecting_no_changes() -> None:
    doc = load(INFRA)
    (schedule,) = doc["on"]["schedule"]
    minute, hour, day, month, weekday = schedule["cron"].split()
    assert (day, month, weekday) == ("*", "*", "*")
    assert minute.isdigit()
    assert hour.isdigit()
    job = doc["jobs"]["drift"]
    assert "schedule" in job["if"]
    assert set(job["strategy"]["matrix"]["stack"]) == STACKS
    (pulumi,) = pulumi_runs(job)
    inputs = pulumi["with"]
    assert inputs["command"] == "preview"
    assert (inputs["refresh"], inputs["expect-no-changes"]) == (True, True)


def test_the_pulumi_cli_matches_the_pinned_pulumi_sdk() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    (sdk,) = [p["version"] for p in lock["package"] if p["name"] == "pulumi"]
    assert load(INFRA)["env"]["PULUMI_VERSION"] == sdk


def test_the_state_backend_comes_from_a_variable_in_every_pulumi_job() -> None:
    for name, job in load(INFRA)["jobs"].items():
        assert job["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}", name


# --- where the jobs run, and where the roles come from (the bootstrap project) ----------------


def test_every_job_that_reaches_a_cluster_runs_on_the_codebuild_runner_of_its_stack():
    jobs = load(INFRA)["jobs"]
    expected = {
        "preview": runner_label("${{ matrix.stack }}"),
        "deploy-staging": runner_label("staging"),
        "deploy-production": runner_label("production"),
        "drift": runner_label("${{ matrix.stack }}"),
    }
    assert set(jobs) == set(expected)
    assert {name: job["runs-on"] for name, job in jobs.items()} == expected
    # The label CodeBuild's webhook answers (CodeBuild user guide, "Tutorial: Configure a
    # CodeBuild-hosted GitHub Actions runner"): codebuild-<project>-<run id>-<run attempt>.
    assert runner_label("staging") == (
        "codebuild-lmagent-infra-runner-staging-${{ github.run_id }}-${{ github.run_attempt }}"
    )


def test_the_workflow_points_at_the_bootstrap_for_every_role_variable():
    header = INFRA.read_text(encoding="utf-8").split("\nname:", 1)[0]
    assert "bootstrap/" in header
    for variable, output in {
        "AWS_DEPLOY_ROLE_ARN": "deployRoleArns",
        "AWS_READONLY_ROLE_ARN": "readOnlyRoleArn",
        "PULUMI_BACKEND_URL": "backendUrl",
    }.items():
        described = header[header.index(f"vars.{variable}") :].split("\n#   vars.", 1)[0]
        assert f"`{output}" in described, variable
    for role in ("lmagent-infra-deploy-<environment>", READONLY_ROLE_NAME):
        assert role in header
