"""Every IAM document the bootstrap declares: no wildcard power, trust pinned to this repository,
and deploy permissions that cover what the platform stacks declare and nothing of the other stack."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from components.bootstrap._deploy import deploy_policies
from components.bootstrap._iam import WILDCARD_RESOURCE_EXCEPTIONS, is_read_only, wildcard_problems
from components.bootstrap._policies import (
    DEPLOY_POLICY_PARTS,
    PLATFORM_MANAGED_POLICY_ARNS,
    PLATFORM_POLICY_PREFIX,
    PLATFORM_ROLE_PREFIXES,
    state_object_prefixes,
)
from components.testing import SynthResult
from tests.conftest import STACKS, synth_stack
from tests.test_bootstrap import ready

GITHUB = "token.actions.githubusercontent.com"
REPO_SUB = "repo:your-github-org/lmagent-infra"

# IAM quotas (IAM user guide, "IAM and AWS STS quotas"): characters without whitespace.
MANAGED_POLICY_LIMIT = 6144
ROLE_INLINE_POLICIES_LIMIT = 10240


def documents(result: SynthResult) -> list[tuple[str, dict[str, Any], bool]]:
    """(resource name, policy document, is a key policy) for every IAM JSON the program declares."""
    found = []
    for r in result.resources:
        inputs = r["inputs"]
        for field in ("policy", "assumeRolePolicy"):
            if isinstance(inputs.get(field), str):
                found.append(
                    (f"{r['name']}.{field}", json.loads(inputs[field]), r["type"] == "aws:kms/key:Key")
                )
    return found


def test_every_document_of_the_bootstrap_is_found():
    names = {name for name, _, _ in documents(ready())}
    # 3 pipeline roles + 2 runner roles + flow logs role trust; 14 deploy parts, readonly, 2
    # runner policies, flow logs policy; 3 key policies; the bucket policy.
    assert len(names) == 6 + 18 + 3 + 1, sorted(names)


@pytest.mark.parametrize(
    ("name", "doc", "key_policy"), documents(ready()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_no_policy_grants_every_action_or_writes_on_every_resource_without_a_listed_reason(
    name, doc, key_policy
):
    assert wildcard_problems(doc, key_policy=key_policy) == []


def test_the_audit_fails_on_action_star_and_on_writes_to_resource_star():
    doc = {
        "Statement": [
            {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b"},
            {"Sid": "Write", "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "*"},
            {"Sid": "Read", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
            {"Sid": "Listed", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
            {"Sid": "Deny", "Effect": "Deny", "Action": "*", "Resource": "*"},
        ]
    }
    assert wildcard_problems(doc) == [
        "All: grants every action (Action '*' or NotAction)",
        "Write: write actions on Resource '*' without a listed exception: ['s3:PutObject']",
    ]
    # A key policy's "*" is the key itself; the action rule still holds.
    assert (
        wildcard_problems(
            {"Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}, key_policy=True
        )
        == []
    )


def test_read_only_means_list_and_read_verbs():
    assert (
        is_read_only("ec2:DescribeVpcs") and is_read_only("s3:GetObject") and is_read_only("eks:ListClusters")
    )
    assert not is_read_only("s3:PutObject") and not is_read_only("ec2:*") and not is_read_only("*")


def test_every_listed_exception_is_used_and_carries_a_reason():
    used = {
        action
        for _, doc, key_policy in documents(ready())
        if not key_policy
        for st in doc["Statement"]
        if st.get("Effect") == "Allow" and st.get("Resource") == "*"
        for action in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        if not is_read_only(action)
    }
    assert used == set(WILDCARD_RESOURCE_EXCEPTIONS)
    assert all(len(reason) > 20 for reason in WILDCARD_RESOURCE_EXCEPTIONS.values())


def test_resource_star_creates_are_conditioned_on_the_stack_tag():
    for name, doc, _ in documents(ready()):
        for st in doc["Statement"]:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if st.get("Resource") == "*" and "kms:CreateKey" in actions:
                assert st["Condition"]["StringEquals"]["aws:RequestTag/stack"] in STACKS, name


# --- trust -----------------------------------------------------------------------------------------


def trusts(result: SynthResult) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["name"]: json.loads(r["inputs"]["assumeRolePolicy"])
        for r in result.of_type("aws:iam/role:Role")
        if r["inputs"].get("name", "").startswith("lmagent-infra-")
    }


def test_every_github_trust_pins_the_subject_and_the_audience_exactly():
    found = trusts(ready())
    assert set(found) == {
        "lmagent-infra-deploy-staging",
        "lmagent-infra-deploy-production",
        "lmagent-infra-readonly",
    }
    for name, doc in found.items():
        (st,) = doc["Statement"]
        assert st["Action"] == "sts:AssumeRoleWithWebIdentity", name
        assert st["Principal"]["Federated"].endswith(f":oidc-provider/{GITHUB}"), name
        # StringEquals only: no StringLike wildcard can widen who is trusted.
        assert set(st["Condition"]) == {"StringEquals"}, name
        pinned = st["Condition"]["StringEquals"]
        assert pinned[f"{GITHUB}:aud"] == "sts.amazonaws.com", name
        assert pinned[f"{GITHUB}:sub"], name
        assert all("*" not in sub and "?" not in sub for sub in pinned[f"{GITHUB}:sub"]), name


def test_a_deploy_role_trusts_only_its_own_github_environment_of_this_repository():
    found = trusts(ready())
    for env in STACKS:
        sub = found[f"lmagent-infra-deploy-{env}"]["Statement"][0]["Condition"]["StringEquals"][
            f"{GITHUB}:sub"
        ]
        assert sub == [f"{REPO_SUB}:environment:{env}"]


def test_the_read_only_role_trusts_pull_requests_and_the_default_branch_only():
    sub = trusts(ready())["lmagent-infra-readonly"]["Statement"][0]["Condition"]["StringEquals"][
        f"{GITHUB}:sub"
    ]
    assert sub == [f"{REPO_SUB}:pull_request", f"{REPO_SUB}:ref:refs/heads/main"]


def test_the_read_only_role_writes_nothing_of_the_state():
    # Its trust admits every pull request: a write on the lock prefix would let one delete the
    # lock of a running `pulumi up`. The diy backend's Preview takes no lock (pulumi/pulumi
    # pkg/backend/diy/backend.go), so a preview needs none.
    (policy,) = [
        r
        for r in ready().of_type("aws:iam/rolePolicy:RolePolicy")
        if r["name"] == "pipeline-readonly-state-policy"
    ]
    actions = {
        action
        for st in json.loads(policy["inputs"]["policy"])["Statement"]
        if st["Effect"] == "Allow"
        for action in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert actions == {"kms:Decrypt", "kms:DescribeKey"}


def test_the_oidc_provider_is_githubs_with_the_sts_audience():
    (provider,) = ready().of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider["inputs"]["url"] == f"https://{GITHUB}"
    assert provider["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]


# --- the deploy policy against what the platform declares --------------------------------------


def deploy_statements(stack: str) -> list[dict[str, Any]]:
    parts = deploy_policies(
        stack=stack,
        account="123456789012",
        region="eu-west-1",
        state_bucket_arn="arn:aws:s3:::state",
        state_key_arn="arn:aws:kms:eu-west-1:123456789012:key/k",
    )
    assert tuple(parts) == DEPLOY_POLICY_PARTS
    return [st for doc in parts.values() for st in doc["Statement"]]


def test_each_deploy_policy_part_fits_a_managed_policy_and_the_role_holds_them_all():
    for stack in STACKS:
        sizes = {
            r["name"]: len(json.dumps(json.loads(r["inputs"]["policy"]), separators=(",", ":")))
            for r in ready().of_type("aws:iam/policy:Policy")
            if stack in r["name"]
        }
        assert len(sizes) == len(DEPLOY_POLICY_PARTS)
        assert max(sizes.values()) < MANAGED_POLICY_LIMIT, sizes
    attachments = [
        r
        for r in ready().of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "deploy" in r["name"]
    ]
    assert len(attachments) == len(DEPLOY_POLICY_PARTS) * len(STACKS)  # IAM allows 10 per role by default
    inline = [r for r in ready().of_type("aws:iam/rolePolicy:RolePolicy")]
    assert all(len(r["inputs"]["policy"]) < ROLE_INLINE_POLICIES_LIMIT for r in inline)


@pytest.mark.parametrize("stack", STACKS)
def test_every_platform_role_falls_under_the_deploy_policys_role_prefixes(stack):
    roles = synth_stack(stack).of_type("aws:iam/role:Role")
    assert roles
    # Auto-named roles take the Pulumi name as their prefix.
    assert [r["name"] for r in roles if not r["name"].startswith(PLATFORM_ROLE_PREFIXES)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_platform_attaches_only_the_managed_policies_the_deploy_role_may_attach(stack):
    attached = {
        r["inputs"]["policyArn"]
        for r in synth_stack(stack).of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert attached
    own = {a for a in attached if a.split(":policy/", 1)[1].startswith(PLATFORM_POLICY_PREFIX)}
    assert attached - own <= set(PLATFORM_MANAGED_POLICY_ARNS)
    assert all(a.startswith("arn:aws:iam::123456789012:policy/") for a in own)


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_platform_resource_carries_the_stack_tag_the_deploy_policy_conditions_on(stack):
    result = synth_stack(stack)
    # These types are created or changed under aws:RequestTag/aws:ResourceTag conditions.
    conditioned = re.compile(
        r"^aws:(ec2/(vpc|subnet|routeTable|internetGateway|natGateway|eip|vpcEndpoint|flowLog|launchTemplate)"
        r"|iam/(role|openIdConnectProvider)|kms/key|ecr/repository|cloudwatch/logGroup):"
    )
    found = [r for r in result.resources if conditioned.match(r["type"])]
    assert len(found) > 20
    assert [r["name"] for r in found if (r["inputs"].get("tags") or {}).get("stack") != stack] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_deploy_policy_names_the_platforms_cluster_log_groups_and_bucket(stack):
    result = synth_stack(stack)
    (cluster,) = result.of_type("aws:eks/cluster:Cluster")
    resources = [
        res
        for st in deploy_statements(stack)
        for res in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    ]
    arn = f"arn:aws:eks:eu-west-1:123456789012:cluster/{cluster['inputs']['name']}"
    assert any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources)
    for group in result.of_type("aws:cloudwatch/logGroup:LogGroup"):
        name = group["inputs"]["name"].replace("network-vpc-", "vpc-")
        group_arn = f"arn:aws:logs:eu-west-1:123456789012:log-group:{name}"
        assert any(fnmatch.fnmatchcase(group_arn, p) for p in resources), group_arn
    for bucket in result.of_type("aws:s3/bucket:Bucket"):
        assert any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket['name']}-0123456", p) for p in resources)


def test_a_deploy_role_cannot_write_the_other_stacks_state_or_the_bootstraps():
    for stack in STACKS:
        writes = [
            res for st in deploy_statements(stack) if "s3:PutObject" in st["Action"] for res in st["Resource"]
        ]
        others = [s for s in STACKS if s != stack]
        for other in others:
            for prefix in state_object_prefixes(other):
                key = "arn:aws:s3:::state/" + prefix.replace("*", "x")
                assert not any(fnmatch.fnmatchcase(key, w) for w in writes), (stack, key)
        key = "arn:aws:s3:::state/.pulumi/stacks/lmagent-infra-bootstrap/main.json"
        assert not any(fnmatch.fnmatchcase(key, w) for w in writes)
        own = "arn:aws:s3:::state/.pulumi/stacks/lmagent-infra/" + stack + ".json"
        assert any(fnmatch.fnmatchcase(own, w) for w in writes)


def test_tag_conditions_name_the_roles_own_stack_only():
    for stack in STACKS:
        values = {
            value
            for st in deploy_statements(stack)
            for key, value in st.get("Condition", {}).get("StringEquals", {}).items()
            if key.startswith("aws:") and "Tag/stack" in key
        }
        assert values == {stack}


def test_every_action_is_a_service_prefix_and_an_action_name():
    action = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]*\*?$|^[a-z0-9-]+:[A-Z][A-Za-z]*\*$")
    for _, doc, _ in documents(ready()):
        for st in doc["Statement"]:
            for a in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
                assert action.match(a) or a in ("s3:*", "kms:*"), a
