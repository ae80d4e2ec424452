"""The bootstrap project: synth output, state backend, runners, the outputs' contract, config errors."""

from __future__ import annotations

import copy
import functools
import json
import runpy
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

import stacks
from components.bootstrap.runner import runner_project_name
from components.testing import SynthResult, synth
from stacks.__main__ import load_stack_file, main, offline_stack_references
from stacks.config import BOOTSTRAP_PROJECT, ConfigError
from tests._tools import REPO

BOOTSTRAP = REPO / "bootstrap"
CONTRACT = {
    "stateBucket",
    "backendUrl",
    "secretsProvider",
    "oidcProviderArn",
    "deployRoleArns",
    "readOnlyRoleArn",
    "runnerProjects",
    "runnerEgressCidrs",
}


def synth_bootstrap(overrides: Mapping[str, Any] | None = None) -> SynthResult:
    """The synthesis of bootstrap/Pulumi.main.yaml with config keys replaced."""
    found = load_stack_file("main", BOOTSTRAP)
    config = copy.deepcopy(found.config)
    for key, value in (overrides or {}).items():
        config[key if ":" in key else f"{BOOTSTRAP_PROJECT}:{key}"] = value
    return synth(
        lambda: stacks.build_bootstrap("main"),
        project=found.project,
        stack="main",
        config=config,
        secret_keys=found.secret_keys,
    )


@functools.cache
def committed() -> SynthResult:
    """The bootstrap as committed (connection not yet approved)."""
    return synth_bootstrap()


@functools.cache
def ready() -> SynthResult:
    """The bootstrap once the GitHub connection is approved: runners declared too."""
    return synth_bootstrap({"runners": {"connectionReady": True}})


def problems(overrides: Mapping[str, Any] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        synth_bootstrap(overrides)
    return caught.value.problems


# --- the project and the command line ----------------------------------------------------------


def test_the_bootstrap_is_its_own_pulumi_project_in_the_repositorys_environment():
    project = yaml.safe_load((BOOTSTRAP / "Pulumi.yaml").read_text())
    assert project["name"] == BOOTSTRAP_PROJECT == "lmagent-infra-bootstrap"
    assert project["runtime"]["name"] == "python"
    # Same environment as the platform: Pulumi resolves the path from bootstrap/.
    root = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert (BOOTSTRAP / project["runtime"]["options"]["virtualenv"]).resolve() == (
        REPO / root["runtime"]["options"]["virtualenv"]
    ).resolve()


def test_synth_of_the_bootstrap_writes_its_resources_and_outputs(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["synth", "bootstrap/main", "--out", str(out), "--quiet"]) == 0
    doc = json.loads((out / "resources.json").read_text())
    assert (doc["project"], doc["stack"]) == ("lmagent-infra-bootstrap", "main")
    types = {r["type"] for r in doc["resources"]}
    assert {
        "aws:s3/bucket:Bucket",
        "aws:kms/key:Key",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:codeconnections/connection:Connection",
        "aws:ec2/natGateway:NatGateway",
    } <= types
    assert set(doc["outputs"]) >= CONTRACT
    assert "Resources:" in capsys.readouterr().out


def test_synth_of_the_bootstrap_defaults_to_its_own_build_directory(tmp_path, monkeypatch):
    # The default output directory is build/bootstrap-<stack>, beside build/staging.
    root = tmp_path / "repo"
    (root / "bootstrap").mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.main.yaml"):
        (root / "bootstrap" / name).write_text((BOOTSTRAP / name).read_text())
    assert main(["--project-dir", str(root), "synth", "bootstrap/main", "--quiet"]) == 0
    assert (root / "build" / "bootstrap-main" / "resources.json").is_file()


def test_fails_with_exit_status_2_and_one_line_when_the_owner_is_missing(tmp_path, capsys):
    root = tmp_path / "repo"
    (root / "bootstrap").mkdir(parents=True)
    (root / "bootstrap" / "Pulumi.yaml").write_text((BOOTSTRAP / "Pulumi.yaml").read_text())
    doc = yaml.safe_load((BOOTSTRAP / "Pulumi.main.yaml").read_text())
    del doc["config"][f"{BOOTSTRAP_PROJECT}:github"]["owner"]
    (root / "bootstrap" / "Pulumi.main.yaml").write_text(yaml.safe_dump(doc))
    assert main(["--project-dir", str(root), "synth", "bootstrap/main"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["bootstrap/Pulumi.main.yaml: lmagent-infra-bootstrap:github.owner: is required"]
    assert not (root / "build").exists()


# --- outputs: the contract with the platform stacks and the workflow ---------------------------


def test_outputs_name_the_backend_the_secrets_provider_and_the_roles():
    out = ready().outputs
    bucket = out["stateBucket"]
    assert bucket.startswith("lmagent-infra-state-")
    assert out["backendUrl"] == f"s3://{bucket}?region=eu-west-1"
    assert out["secretsProvider"] == "awskms://alias/lmagent-infra-state?region=eu-west-1"
    assert out["oidcProviderArn"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    assert out["deployRoleArns"] == {
        env: f"arn:aws:iam::123456789012:role/lmagent-infra-deploy-{env}" for env in ("staging", "production")
    }
    assert out["readOnlyRoleArn"] == "arn:aws:iam::123456789012:role/lmagent-infra-readonly"
    assert out["runnerProjects"] == {env: runner_project_name(env) for env in ("staging", "production")}


def test_runner_egress_is_exactly_the_nat_gateways_elastic_ips():
    result = ready()
    eips = result.of_type("aws:ec2/eip:Eip")
    assert len(eips) == 1  # one NAT gateway: one fixed address for every runner
    (nat,) = result.of_type("aws:ec2/natGateway:NatGateway")
    assert nat["dependencies"]  # the gateway is built on that address
    cidrs = result.outputs["runnerEgressCidrs"]
    assert len(cidrs) == 1 and cidrs[0].endswith("/32")
    assert cidrs[0].startswith("203.0.113.")  # the offline engine's documentation address


def test_no_runner_project_exists_before_the_connection_is_approved():
    result = committed()
    assert result.of_type("aws:codebuild/project:Project") == []
    assert result.of_type("aws:codebuild/webhook:Webhook") == []
    assert result.outputs["runnerProjects"] == {}
    assert result.outputs["githubConnectionStatus"] == "PENDING"


# --- the state backend --------------------------------------------------------------------------


def one(result: SynthResult, typ: str) -> dict[str, Any]:
    (found,) = result.of_type(typ)
    return found


def test_the_state_bucket_is_versioned_encrypted_with_the_state_key_private_and_owner_enforced():
    result = committed()
    bucket = result.named("state-bucket")
    key = result.named("state-key")
    versioning = result.named("state-versioning")["inputs"]
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    (rule,) = result.named("state-encryption")["inputs"]["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"].startswith("arn:aws:kms:")
    assert key["urn"] in result.named("state-encryption")["dependencies"]
    block = result.named("state-public-access")["inputs"]
    assert all(
        block[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    assert result.named("state-ownership")["inputs"]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert bucket["inputs"]["forceDestroy"] is False
    for child in (
        "state-versioning",
        "state-encryption",
        "state-public-access",
        "state-ownership",
        "state-policy",
    ):
        assert bucket["urn"] in result.named(child)["dependencies"], child


def test_the_state_bucket_refuses_every_request_without_tls():
    policy = json.loads(committed().named("state-policy")["inputs"]["policy"])
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket_arn = deny["Resource"][0]
    assert deny["Resource"] == [bucket_arn, f"{bucket_arn}/*"]


def test_old_state_versions_expire_and_current_state_never_does():
    (rule,) = committed().named("state-lifecycle")["inputs"]["rules"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    assert "expiration" not in rule


def test_the_state_bucket_and_key_are_protected_and_retained():
    result = committed()
    for name in ("state-bucket", "state-key"):
        options = result.named(name)["options"]
        assert (options["protect"], options["retainOnDelete"]) == (True, True), name


def test_the_state_key_rotates_and_has_the_secrets_provider_alias():
    result = committed()
    key = result.named("state-key")["inputs"]
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    alias = result.named("state-key-alias")["inputs"]
    assert alias["name"] == "alias/lmagent-infra-state"


# --- the runners ---------------------------------------------------------------------------------


def test_each_environment_gets_a_runner_project_in_the_private_subnets_started_by_queued_jobs():
    result = ready()
    private = {r["urn"] for r in result.of_type("aws:ec2/subnet:Subnet") if "-private-" in r["name"]}
    projects = {r["inputs"]["name"]: r for r in result.of_type("aws:codebuild/project:Project")}
    assert set(projects) == {"lmagent-infra-runner-staging", "lmagent-infra-runner-production"}
    connection = one(result, "aws:codeconnections/connection:Connection")
    for name, project in projects.items():
        inputs = project["inputs"]
        assert inputs["source"]["type"] == "GITHUB"
        assert inputs["source"]["location"] == "https://github.com/your-github-org/lmagent-infra.git"
        assert inputs["source"]["auth"]["type"] == "CODECONNECTIONS"
        assert connection["urn"] in project["dependencies"]
        vpc = inputs["vpcConfig"]
        assert len(vpc["subnets"]) == 2 and len(vpc["securityGroupIds"]) == 1
        assert private <= set(project["dependencies"]), name
        assert inputs["environment"]["privilegedMode"] is True
    hooks = result.of_type("aws:codebuild/webhook:Webhook")
    assert len(hooks) == 2
    for hook in hooks:
        (group,) = hook["inputs"]["filterGroups"]
        filters = {f["type"]: f["pattern"] for f in group["filters"]}
        assert filters == {"EVENT": "WORKFLOW_JOB_QUEUED", "WORKFLOW_NAME": "^infra$"}


def test_the_runner_workflow_name_matches_the_deployment_workflow():
    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "infra.yml").read_text())
    hook = ready().of_type("aws:codebuild/webhook:Webhook")[0]
    patterns = [
        f["pattern"] for f in hook["inputs"]["filterGroups"][0]["filters"] if f["type"] == "WORKFLOW_NAME"
    ]
    assert patterns == [f"^{workflow['name']}$"]


def test_runners_only_send_https_and_accept_nothing():
    sg = one(ready(), "aws:ec2/securityGroup:SecurityGroup")["inputs"]
    assert sg.get("ingress", []) == []
    (egress,) = sg["egress"]
    assert (egress["protocol"], egress["fromPort"], egress["toPort"]) == ("tcp", 443, 443)


# --- config errors, in the stack file's words -------------------------------------------------


def test_fails_when_the_owner_is_not_a_github_name():
    lines = problems({"github": {"owner": "-bad owner", "repo": "lmagent-infra"}})
    assert len(lines) == 1
    assert lines[0].startswith(
        "bootstrap/Pulumi.main.yaml: lmagent-infra-bootstrap:github.owner: must be a GitHub"
    )
    assert "-bad owner" in lines[0]


def test_fails_when_the_runner_network_has_no_nat():
    (line,) = problems({"network": {"nat": "none"}})
    assert "lmagent-infra-bootstrap:network" in line and "nat must be `single` or `per-az`" in line


def test_fails_when_an_environment_is_listed_twice_or_badly_named():
    (line,) = problems({"environments": ["staging", "staging"]})
    assert "lmagent-infra-bootstrap:environments: " in line and "each once" in line
    (line,) = problems({"environments": ["Staging"]})
    assert "lowercase" in line and "Staging" in line


def test_fails_when_the_region_is_missing():
    found = load_stack_file("main", BOOTSTRAP)
    config = {k: v for k, v in found.config.items() if k != "aws:region"}
    with pytest.raises(ConfigError) as caught:
        synth(lambda: stacks.build_bootstrap("main"), project=found.project, stack="main", config=config)
    assert caught.value.problems == [
        "bootstrap/Pulumi.main.yaml: aws:region: is required (e.g. `pulumi config set aws:region us-east-1`)"
    ]


def test_fails_when_a_state_alias_is_reserved_by_aws():
    (line,) = problems({"state": {"keyAlias": "aws/s3"}})
    assert "lmagent-infra-bootstrap:state.keyAlias" in line and "aws/" in line


# --- the contract with the platform stacks ------------------------------------------------------


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_each_platform_stack_reads_this_accounts_bootstrap_stack_which_serves_its_environment(stack):
    found = load_stack_file(stack)
    organization, project, bootstrap_stack = found.config["lmagent-infra:bootstrapStack"].split("/")
    assert (organization, project) == ("organization", BOOTSTRAP_PROJECT)  # the S3 backend's naming
    # One bootstrap per account: a second would try to create a second GitHub OIDC provider.
    bootstrap = load_stack_file(bootstrap_stack, BOOTSTRAP)
    assert stack in bootstrap.config[f"{BOOTSTRAP_PROJECT}:environments"]


def test_what_synth_fabricates_for_the_bootstrap_matches_what_the_bootstrap_exports():
    found = load_stack_file("staging")
    fabricated = next(iter(offline_stack_references(found.project, "staging", found.config).values()))
    real = ready().outputs
    assert set(fabricated) <= set(real)
    assert fabricated["deployRoleArns"] == real["deployRoleArns"]
    assert fabricated["readOnlyRoleArn"] == real["readOnlyRoleArn"]
    assert [len(c.split(".")) for c in fabricated["runnerEgressCidrs"]] == [4] * len(
        real["runnerEgressCidrs"]
    )
    assert all(c.endswith("/32") for c in fabricated["runnerEgressCidrs"] + real["runnerEgressCidrs"])


def test_the_bootstrap_is_priced_by_the_cost_command_and_the_readme_quotes_its_baseline(capsys):
    assert main(["cost", "bootstrap/main", "--set", "runners.connectionReady=true", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["project"], doc["stack"]) == (BOOTSTRAP_PROJECT, "main")
    # Always on, whatever the usage: the NAT gateway, its public address and the three keys.
    assert doc["baseline"] == pytest.approx(0.048 * 730 + 0.005 * 730 + 3 * 1.0, abs=0.01)
    assert f"a baseline of ${doc['baseline']:.2f}" in (REPO / "README.md").read_text().replace("\n", " ")


def test_the_entry_point_pulumi_runs_from_bootstrap_declares_the_same_resources(monkeypatch):
    # `pulumi up -C bootstrap` runs bootstrap/__main__.py with bootstrap/ as the program
    # directory, where `stacks` is not importable until the entry point adds the repository root.
    # Nor through an editable install of the project, which an environment need not have.
    monkeypatch.setattr(sys, "path", [p for p in sys.path if Path(p or ".").resolve() != REPO])
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if "__editable__" not in repr(f)])
    for name in [m for m in sys.modules if m == "stacks" or m.startswith("stacks.")]:
        monkeypatch.delitem(sys.modules, name)
    found = load_stack_file("main", BOOTSTRAP)
    result = synth(
        lambda: runpy.run_path(str(BOOTSTRAP / "__main__.py"), run_name="__main__"),
        project=found.project,
        stack="main",
        config=found.config,
    )
    assert [r["urn"] for r in result.resources] == [r["urn"] for r in committed().resources]
    assert result.outputs == committed().outputs


def test_only_the_trusted_accounts_jobs_start_a_runner_when_they_are_listed():
    # CodeBuild user guide, "Best practices for using webhooks": ACTOR_ACCOUNT_ID on public repos.
    result = synth_bootstrap({"runners": {"connectionReady": True, "trustedActorIds": [583231, 9919]}})
    for hook in result.of_type("aws:codebuild/webhook:Webhook"):
        (group,) = hook["inputs"]["filterGroups"]
        filters = {f["type"]: f["pattern"] for f in group["filters"]}
        assert filters["ACTOR_ACCOUNT_ID"] == "^(9919|583231)$"  # sorted, so the pattern is stable
        assert filters["EVENT"] == "WORKFLOW_JOB_QUEUED"


@pytest.mark.parametrize("ids", [[0], [5, 5], ["octocat"]])
def test_fails_when_a_trusted_actor_is_not_a_github_account_id(ids):
    lines = problems({"runners": {"connectionReady": True, "trustedActorIds": ids}})
    assert any("runners.trustedActorIds" in line for line in lines), lines
