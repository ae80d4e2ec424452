"""The admission controller: Kyverno's values, the image policy, and who it trusts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pydantic
import pytest
import yaml

from components import versions
from components.admission import (
    GITHUB_ISSUER,
    POLICY_NAME,
    AdmissionArgs,
    AdmissionController,
    SignerIdentity,
    chart_values,
    policy_document,
)
from components.testing import SynthResult, synth
from tests._chart_keys import CHARTS, unknown_keys
from tests.conftest import STACKS, synth_stack

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "infra.yml"


def _policy(stack: str) -> dict[str, Any]:
    [policy] = [m for m in synth_stack(stack).manifests if m["kind"] == "ClusterPolicy"]
    return policy


def _keyless(policy: dict[str, Any]) -> dict[str, Any]:
    [rule] = [r for r in policy["spec"]["rules"] if "verifyImages" in r]
    [verify] = rule["verifyImages"]
    [attestor] = verify["attestors"]
    [entry] = attestor["entries"]
    return dict(entry["keyless"])


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_install_kyverno_highly_available(stack: str) -> None:
    result = synth_stack(stack)
    [release] = [r for r in result.helm_releases if r["inputs"]["chart"] == "kyverno"]
    values = release["inputs"]["values"]["admissionController"]
    assert values["replicas"] == 3
    assert values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 2}
    assert values["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]


def test_production_fails_closed_and_staging_audits() -> None:
    production, staging = _policy("production"), _policy("staging")
    assert production["spec"]["failurePolicy"] == "Fail"
    assert production["spec"]["rules"][0]["verifyImages"][0]["failureAction"] == "Enforce"
    assert staging["spec"]["failurePolicy"] == "Ignore"
    assert staging["spec"]["rules"][0]["verifyImages"][0]["failureAction"] == "Audit"


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_covers_the_app_namespaces_and_excludes_the_system_ones(stack: str) -> None:
    policy = _policy(stack)
    rule, pinned = policy["spec"]["rules"]
    assert rule["match"]["any"][0]["resources"] == {"kinds": ["Pod"], "namespaces": ["lmagent"]}
    # The database-admin Job's namespace admits its one image, by digest, and nothing else.
    assert pinned["match"]["any"][0]["resources"] == {"kinds": ["Pod"], "namespaces": ["database-admin"]}
    (condition,) = pinned["validate"]["deny"]["conditions"]["any"]
    assert condition["operator"] == "AnyNotIn" and condition["value"] == [versions.POSTGRES_CLIENT_IMAGE]
    excluded = rule["exclude"]["any"][0]["resources"]["namespaces"]
    assert {"kube-system", "kyverno", "monitoring"} <= set(excluded)


def _denied(
    condition: dict[str, Any], request: dict[str, Any], rewrite: tuple[str, str] | None = None
) -> bool:
    """Whether the deny condition holds for an admission `request`, read the way Kyverno v1.19.0
    reads it: the key's `{{ }}` is a JMESPath (the `jmespath` package implements the same
    specification as Kyverno's go-jmespath fork) and AnyNotIn is true when some element of the
    key is not in the value (pkg/engine/variables/operator/anyin.go isAnyNotIn; no wildcard is in
    our values). `rewrite` is autogen's textual replacement for pod controllers
    (pkg/autogen/v1/rule.go podReplacementRules / cronJobReplacementRules)."""
    import jmespath  # type: ignore[import-untyped]  # locked (botocore's dependency), imported here: only this test uses it

    key = condition["key"]
    if rewrite is not None:
        key = key.replace(*rewrite)
    expression = key.removeprefix("{{").removesuffix("}}").strip()
    images = jmespath.search(expression, {"request": request})
    assert isinstance(images, list) and None not in images, images
    return any(image not in condition["value"] for image in images)


def test_the_pinned_image_rule_reads_every_container_kind_of_pods_and_of_their_controllers() -> None:
    (condition,) = _policy("production")["spec"]["rules"][1]["validate"]["deny"]["conditions"]["any"]
    [job] = [m for m in synth_stack("production").manifests if m["kind"] == "Job"]
    pod_spec = job["spec"]["template"]["spec"]
    # The Job's own pod has no init or ephemeral containers: the absent lists add nothing.
    assert "initContainers" not in pod_spec and "ephemeralContainers" not in pod_spec
    assert not _denied(condition, {"object": {"spec": pod_spec}})
    other = {"name": "x", "image": "docker.io/library/postgres:17.6-alpine"}  # a tag, no digest
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        extra = {**pod_spec, kind: [*pod_spec.get(kind, []), other]}
        assert _denied(condition, {"object": {"spec": extra}}), kind
    # Autogen copies the rule to Jobs (and the other controllers) and CronJobs, rewriting the path
    # into their pod template: the Job the stack declares passes, one with another image does not.
    to_template = ("request.object.spec", "request.object.spec.template.spec")
    assert not _denied(condition, {"object": job}, to_template)
    foreign = {**job, "spec": {**job["spec"], "template": {"spec": {**pod_spec, "initContainers": [other]}}}}
    assert _denied(condition, {"object": foreign}, to_template)
    cron = {"spec": {"jobTemplate": {"spec": foreign["spec"]}}}
    assert _denied(
        condition,
        {"object": cron},
        ("request.object.spec", "request.object.spec.jobTemplate.spec.template.spec"),
    )


def _signing_jobs() -> dict[str, tuple[str, str]]:
    """Each job of infra.yml that runs `cosign sign`: (the branch its `if` requires, the identity
    its verify step expects)."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    found: dict[str, tuple[str, str]] = {}
    for name, job in workflow["jobs"].items():
        runs = "\n".join(str(step.get("run", "")) for step in job.get("steps", []))
        if "cosign sign" not in runs:
            continue
        [ref] = re.findall(r"github\.ref == '(refs/heads/[^']+)'", job["if"])
        identity = " ".join(str(v) for v in (job.get("env") or {}).values())
        found[name] = (ref, identity)
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_trusts_exactly_the_workflow_run_that_signs_the_stack_s_image(stack: str) -> None:
    # The identity Fulcio certifies for a GitHub Actions run is the workflow file at the ref the
    # run started from (job_workflow_ref); the deploy job of this stack signs on its branch.
    keyless = _keyless(_policy(stack))
    assert keyless["issuer"] == GITHUB_ISSUER
    subject = keyless["subject"]
    match = re.fullmatch(
        r"https://github\.com/[^/]+/[^/]+/(\.github/workflows/[^@]+)@(refs/heads/.+)", subject
    )
    assert match, subject
    workflow_file, ref = match.groups()
    assert (REPO / workflow_file).resolve() == WORKFLOW.resolve()
    jobs = _signing_jobs()
    signing = [job for job, (job_ref, _) in jobs.items() if job_ref == ref]
    assert signing == [f"deploy-{stack}"], jobs
    # ...and the verify step before `pulumi up` checks the same identity pattern.
    assert "/.github/workflows/infra.yml@" + ref in jobs[signing[0]][1]


def test_the_signer_subject_is_the_workflow_ref_fulcio_certifies() -> None:
    signer = SignerIdentity(
        repository="acme/infra", workflow=".github/workflows/infra.yml", ref="refs/heads/main"
    )
    assert signer.subject == "https://github.com/acme/infra/.github/workflows/infra.yml@refs/heads/main"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "Audit", "must be 'Enforce' in production"),
        ("replicas", 2, "must be >= 3 in production"),
        ("excludedNamespaces", ["kube-system", "kube-system"], "twice"),
        ("excludedNamespaces", ["Kube_System"], "namespace names"),
        ("signer", {"ref": "main"}, "full git ref"),
        ("signer", {"repository": "just-a-name"}, "<owner>/<name>"),
        ("signer", {"workflow": "infra.yml"}, "workflow file path"),
    ],
)
def test_fails_when_the_admission_args_are_unsafe_or_malformed(field: str, value: Any, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=re.escape(message)):
        AdmissionArgs.model_validate({field: value}, context={"environment": "production"})


def test_staging_may_audit_with_one_replica() -> None:
    args = AdmissionArgs.model_validate({"mode": "Audit", "replicas": 1}, context={"environment": "staging"})
    assert chart_values(args, "arn")["admissionController"]["podDisruptionBudget"]["minAvailable"] == 1


def test_fails_when_an_app_namespace_is_excluded() -> None:
    with pytest.raises(ValueError, match=r"app namespaces \['monitoring'\] are in excludedNamespaces"):
        policy_document(AdmissionArgs(), ["lmagent", "monitoring"])


def test_the_policy_name_is_what_the_policy_pack_looks_for() -> None:
    assert policy_document(AdmissionArgs(), ["lmagent"])["metadata"]["name"] == POLICY_NAME


def _component(environment: str = "production", args: Any = None, **kwargs: Any) -> SynthResult:
    def program() -> None:
        k8s_provider = k8s.Provider("k8s", kubeconfig="{}")
        AdmissionController(
            "admission",
            args if args is not None else {},
            app_namespaces=["orders"],
            irsa=lambda name, namespace, sa, policy: f"arn:aws:iam::123456789012:role/{name}",
            repository_arns=["arn:aws:ecr:eu-west-1:123456789012:repository/orders"],
            environment=environment,  # type: ignore[arg-type]
            opts=pulumi.ResourceOptions(provider=k8s_provider),
            **kwargs,
        )

    return synth(program, project="consumer", stack="dev", config={"aws:region": "eu-west-1"})


def test_a_consumer_program_gets_the_policy_for_its_own_namespaces() -> None:
    result = _component()
    [policy] = [m for m in result.manifests if m["kind"] == "ClusterPolicy"]
    assert policy["spec"]["rules"][0]["match"]["any"][0]["resources"]["namespaces"] == ["orders"]
    [release] = result.helm_releases
    role = release["inputs"]["values"]["admissionController"]["rbac"]["serviceAccount"]["annotations"]
    assert role == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/kyverno"}


def test_the_component_holds_production_to_enforce() -> None:
    with pytest.raises(Exception, match="must be 'Enforce' in production"):
        _component("production", {"mode": "Audit"})
    _component("staging", {"mode": "Audit"})


def test_fails_rather_than_use_the_ambient_kubeconfig() -> None:
    def program() -> None:
        AdmissionController(
            "admission",
            AdmissionArgs(),
            app_namespaces=["orders"],
            irsa=lambda *a: "arn:aws:iam::123456789012:role/x",
            repository_arns=[],
        )

    with pytest.raises(Exception, match="no 'kubernetes' provider"):
        synth(program, project="consumer", stack="dev", config={"aws:region": "eu-west-1"})


# tests/charts/kyverno-<version>.values-keys.json is the key tree of kyverno/kyverno v1.19.0
# (commit ee97ce09538b09b6f1b03853cc41a62654d6a58f) charts/kyverno/values.yaml: a key whose
# default is a non-empty mapping holds its own keys, any other key is null. The chart ships no
# values.schema.json, so Helm would ignore a misspelt key without a word.


@pytest.mark.parametrize("stack", STACKS)
def test_the_kyverno_values_are_keys_of_the_pinned_chart(stack: str) -> None:
    _, version, _ = versions.KYVERNO
    known = json.loads((CHARTS / f"kyverno-{version}.values-keys.json").read_text())
    [release] = [r for r in synth_stack(stack).helm_releases if r["inputs"]["chart"] == "kyverno"]
    values = release["inputs"]["values"]
    assert unknown_keys(values, known) == []
    misspelt = {**values, "admissionControler": {}, "config": {"webhook": {}}}
    assert sorted(unknown_keys(misspelt, known)) == ["admissionControler", "config.webhook"]
    # The chart's default `config.webhooks` is one mapping (a list is read as named webhooks).
    assert isinstance(values["config"]["webhooks"], dict)
    expressions = values["config"]["webhooks"]["namespaceSelector"]["matchExpressions"]
    assert expressions[0]["operator"] == "NotIn"
    assert "kube-system" in expressions[0]["values"]


@pytest.mark.parametrize("job", ["deploy-staging", "deploy-production"])
def test_each_deploy_job_builds_scans_signs_attests_and_verifies_before_pulumi_up(job: str) -> None:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"][job]["steps"]

    def index(predicate: Any) -> int:
        [i] = [i for i, step in enumerate(steps) if predicate(step)]
        return i

    def uses(action: str) -> Any:
        return lambda step: str(step.get("uses", "")).startswith(action + "@")

    def runs(command: str) -> Any:
        return lambda step: command in str(step.get("run", ""))

    build = index(uses("docker/build-push-action"))
    assert steps[build]["with"]["sbom"] is True
    assert steps[build]["with"]["provenance"] == "mode=max"
    scan = index(uses("aquasecurity/trivy-action"))
    assert steps[scan]["with"]["severity"] == "CRITICAL,HIGH"
    assert steps[scan]["with"]["trivyignores"] == ".trivyignore"
    sign, attest = index(runs("cosign sign ")), index(runs("cosign attest "))
    verify = index(runs("cosign verify-attestation"))
    assert "cosign verify " in steps[verify]["run"]
    up = index(lambda step: (step.get("with") or {}).get("command") == "up")
    assert build < scan < sign < attest < verify < up
    assert steps[up]["env"]["IMAGE_DIGEST"] == "${{ steps.build.outputs.digest }}"
    for kind in ("spdxjson", "slsaprovenance02"):
        assert f"--type {kind}" in steps[attest]["run"]


def trivyignore_problems(text: str) -> list[str]:
    """Entries of a .trivyignore without a reason (a comment line above) or an expiry (`exp:`)."""
    lines = text.splitlines()
    problems = []
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            if not re.fullmatch(r"(CVE|GHSA|AVD)-[\w-]+ exp:\d{4}-\d{2}-\d{2}", line.strip()):
                problems.append(f"{line}: no exp:YYYY-MM-DD")
            if i == 0 or not lines[i - 1].startswith("#"):
                problems.append(f"{line}: no reason above it")
    return problems


def test_the_trivy_ignore_file_gives_a_reason_and_an_expiry_for_every_accepted_finding() -> None:
    assert trivyignore_problems((REPO / ".trivyignore").read_text()) == []
    assert trivyignore_problems("# why\nCVE-2026-1234 exp:2027-01-01\n") == []
    assert trivyignore_problems("CVE-2026-1234\n") == [
        "CVE-2026-1234: no exp:YYYY-MM-DD",
        "CVE-2026-1234: no reason above it",
    ]
