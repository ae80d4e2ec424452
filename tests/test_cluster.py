"""Tests for EksCluster: control plane hardening, access, node groups, IRSA, add-ons, kubeconfig."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

import stacks
from components import versions
from components.cluster import (
    ADMIN_POLICY_ARN,
    READ_ONLY_POLICY_ARN,
    RUNNER_CIDRS_LATER,
    EksCluster,
    EksClusterArgs,
)
from components.testing import SECRET, SynthResult, synth
from stacks.__main__ import OFFLINE_RUNNER_CIDR, offline_stack_references, read_stack_file
from tests.conftest import config_problems, synth_with

CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
KEY = "aws:kms/key:Key"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"
DEPLOY = "arn:aws:iam::123456789012:role/deployer"
ENTRY = "aws:eks/accessEntry:AccessEntry"
ASSOCIATION = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"


def only(result: SynthResult, type_token: str) -> dict[str, Any]:
    found = result.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


def cluster_alone(
    args: EksClusterArgs, *, protect: bool = True, loki: bool = False, **access: Any
) -> SynthResult:
    access = {"deploy_role_arn": DEPLOY, **access}

    def program() -> None:
        cluster = EksCluster(
            "eks",
            args,
            private_subnet_ids=["subnet-a", "subnet-b"],
            cluster_name="demo",
            protect=protect,
            **access,
        )
        if loki:
            cluster.irsa_role(
                "loki",
                "monitoring",
                "loki",
                policy_json=json.dumps({"Version": "2012-10-17", "Statement": []}),
                managed_policy_arns=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            )
        # Unwrapped here so the test can read the document; the stack exports it as a secret.
        pulumi.export("kubeconfig", pulumi.Output.unsecret(cluster.kubeconfig))
        pulumi.export("issuer", cluster.oidc_issuer)
        pulumi.export("oidcArn", cluster.oidc_provider_arn)

    return synth(program, project="p", stack="test", config={"aws:region": "eu-west-1"})


def roles_with_policy(result: SynthResult, arn: str) -> set[str]:
    return {a["inputs"]["role"] for a in result.of_type(ATTACHMENT) if a["inputs"]["policyArn"] == arn}


# --- the control plane, on both stacks ------------------------------------------------------------


def test_the_api_endpoint_is_private_and_public_only_to_the_deploy_runners(synthesized: SynthResult) -> None:
    vpc = only(synthesized, CLUSTER)["inputs"]["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    # The runners' NAT address, as the bootstrap stack exports it (fabricated offline).
    assert vpc["endpointPublicAccess"] is True
    assert vpc["publicAccessCidrs"] == [OFFLINE_RUNNER_CIDR]


def test_the_endpoint_is_private_only_by_default() -> None:
    vpc = only(cluster_alone(EksClusterArgs()), CLUSTER)["inputs"]["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc


def test_the_cluster_runs_in_the_private_subnets(synthesized: SynthResult) -> None:
    subnet_ids = only(synthesized, CLUSTER)["inputs"]["vpcConfig"]["subnetIds"]
    assert subnet_ids and all("-private-" in s for s in subnet_ids)


def test_secrets_are_envelope_encrypted_with_a_rotating_key(stack: str, synthesized: SynthResult) -> None:
    encryption = only(synthesized, CLUSTER)["inputs"]["encryptionConfig"]
    key = synthesized.named("cluster-secrets-key")
    assert encryption["resources"] == ["secrets"]
    assert encryption["provider"]["keyArn"].startswith("arn:aws:kms:eu-west-1:")
    assert key["inputs"]["enableKeyRotation"] is True


def test_control_plane_logs_go_to_a_precreated_group_with_retention(
    stack: str, synthesized: SynthResult
) -> None:
    cluster = only(synthesized, CLUSTER)
    assert cluster["inputs"]["enabledClusterLogTypes"] == ["api", "audit", "authenticator"]
    group = synthesized.named("cluster-logs")
    assert group["inputs"]["name"] == f"/aws/eks/lmagent-infra-{stack}/cluster"
    assert group["inputs"]["retentionInDays"] == {"staging": 14, "production": 90}[stack]
    assert group["urn"] in cluster["options"]["dependsOn"]


def test_authentication_uses_access_entries_not_the_aws_auth_config_map(synthesized: SynthResult) -> None:
    access = only(synthesized, CLUSTER)["inputs"]["accessConfig"]
    assert access["authenticationMode"] == "API"
    config_maps = [m for m in synthesized.manifests if m.get("kind") == "ConfigMap"]
    assert not any(m["metadata"]["name"] == "aws-auth" for m in config_maps)


def test_the_cluster_runs_the_pinned_kubernetes_version(synthesized: SynthResult) -> None:
    assert only(synthesized, CLUSTER)["inputs"]["version"] == versions.KUBERNETES_VERSION


def test_production_protects_the_cluster_and_key_and_staging_does_not(
    stack: str, synthesized: SynthResult
) -> None:
    production = stack == "production"
    cluster, key = only(synthesized, CLUSTER), synthesized.named("cluster-secrets-key")
    assert cluster["options"]["protect"] is production
    assert cluster["inputs"]["deletionProtection"] is production
    assert key["options"]["protect"] is production


def test_the_cluster_role_has_only_the_eks_cluster_policy(synthesized: SynthResult) -> None:
    role = synthesized.named("cluster-cluster-role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    attached = [
        a["inputs"]["policyArn"]
        for a in synthesized.of_type(ATTACHMENT)
        if a["inputs"]["role"] == role["name"]
    ]
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]


# --- nodes ------------------------------------------------------------------------------------------


def test_node_groups_match_each_stacks_capacity_and_sizes(stack: str, synthesized: SynthResult) -> None:
    group = only(synthesized, NODE_GROUP)["inputs"]
    expected = {
        "staging": ("SPOT", ["t3.large", "t3a.large"], 2, 3),
        "production": ("ON_DEMAND", ["m6i.large"], 2, 3),
    }[stack]
    scaling = group["scalingConfig"]
    assert (group["capacityType"], group["instanceTypes"], scaling["minSize"], scaling["maxSize"]) == expected
    assert scaling["desiredSize"] == scaling["minSize"]
    assert all("-private-" in s for s in group["subnetIds"])


def test_desired_size_is_ignored_as_drift(synthesized: SynthResult) -> None:
    assert only(synthesized, NODE_GROUP)["options"]["ignoreChanges"] == ["scalingConfig.desiredSize"]


def test_nodes_require_imdsv2_with_hop_limit_one_and_an_encrypted_gp3_root(
    synthesized: SynthResult,
) -> None:
    template = only(synthesized, LAUNCH_TEMPLATE)["inputs"]
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (root,) = template["blockDeviceMappings"]
    assert root["ebs"] == {
        "volumeType": "gp3",
        "encrypted": "true",
        "volumeSize": 50,
        "deleteOnTermination": "true",
    }
    group = only(synthesized, NODE_GROUP)["inputs"]
    assert group["launchTemplate"]["version"] == "1"
    assert "diskSize" not in group  # EKS rejects diskSize together with a launch template


def test_the_node_role_gets_no_cni_rights_the_cni_gets_its_own_irsa_role(synthesized: SynthResult) -> None:
    node_policies = {
        a["inputs"]["policyArn"]
        for a in synthesized.of_type(ATTACHMENT)
        if a["inputs"]["role"] == "cluster-node-role"
    }
    assert node_policies == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }
    assert roles_with_policy(synthesized, "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy") == {
        "cluster-irsa-vpc-cni"
    }
    cni = synthesized.named("cluster-vpc-cni")["inputs"]
    assert cni["serviceAccountRoleArn"].endswith("role/cluster-irsa-vpc-cni")


# --- add-ons and storage -------------------------------------------------------------------------


def test_every_addon_is_pinned_and_overwrites_conflicts(synthesized: SynthResult) -> None:
    addons = {a["inputs"]["addonName"]: a["inputs"] for a in synthesized.of_type(ADDON)}
    assert {name: a["addonVersion"] for name, a in addons.items()} == versions.EKS_ADDONS
    for a in addons.values():
        assert a["resolveConflictsOnUpdate"] == "OVERWRITE"
        assert a["resolveConflictsOnCreate"] == "OVERWRITE"


def test_networking_addons_come_before_nodes_and_the_rest_after(synthesized: SynthResult) -> None:
    group = only(synthesized, NODE_GROUP)
    by_name = {a["inputs"]["addonName"]: a for a in synthesized.of_type(ADDON)}
    for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert by_name[early]["urn"] in group["options"]["dependsOn"]
    for late in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert group["urn"] in by_name[late]["options"]["dependsOn"]


def test_the_ebs_csi_driver_has_its_own_irsa_role(synthesized: SynthResult) -> None:
    role = synthesized.named("cluster-irsa-aws-ebs-csi-driver")
    condition = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in condition.values()
    policy = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"
    assert roles_with_policy(synthesized, policy) == {role["name"]}


def test_gp3_is_the_encrypted_default_storage_class(synthesized: SynthResult) -> None:
    sc = synthesized.manifest("StorageClass", "gp3")
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"]["type"] == "gp3" and sc["parameters"]["encrypted"] == "true"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    record = synthesized.named("cluster-gp3")
    assert record["provider"] == synthesized.named("cluster-k8s")["urn"]


# --- outputs and ambient credentials ------------------------------------------------------------------


def test_the_stack_exports_cluster_name_vpc_and_a_secret_kubeconfig(
    stack: str, synthesized: SynthResult
) -> None:
    assert synthesized.outputs["clusterName"] == f"lmagent-infra-{stack}"
    assert synthesized.outputs["vpcId"].startswith("network-vpc")
    assert synthesized.outputs["kubeconfig"] == SECRET


def test_the_kubernetes_provider_uses_only_the_clusters_kubeconfig(synthesized: SynthResult) -> None:
    provider = synthesized.named("cluster-k8s")
    assert provider["type"] == K8S_PROVIDER
    assert provider["inputs"]["kubeconfig"] == SECRET
    assert not {"context", "cluster", "namespace"} & set(provider["inputs"])


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_aws_resource_or_provider_takes_a_profile(synthesized: SynthResult) -> None:
    assert synthesized.of_type("pulumi:providers:aws") == []
    aws = [r for r in synthesized.resources if r["type"].startswith("aws:")]
    assert aws
    assert all("profile" not in _keys(r["inputs"]) for r in aws)


def test_the_kubeconfig_authenticates_with_aws_eks_get_token_only() -> None:
    result = cluster_alone(EksClusterArgs())
    doc = json.loads(result.outputs["kubeconfig"])
    (user,) = doc["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "aws"
    assert exec_["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "demo",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]
    assert "env" not in exec_  # no AWS_PROFILE: whoever runs it brings their own credentials
    assert set(user["user"]) == {"exec"}  # no token, no client certificate, no password
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"].startswith("https://")
    assert cluster["cluster"]["certificate-authority-data"]


def test_the_kubeconfig_output_is_a_secret_and_the_provider_never_sees_plaintext() -> None:
    def program() -> None:
        cluster = EksCluster(
            "eks", EksClusterArgs(), private_subnet_ids=["s"], cluster_name="demo", deploy_role_arn=DEPLOY
        )
        pulumi.export("kubeconfig", cluster.kubeconfig)

    result = synth(program, project="p", stack="test")
    assert result.outputs["kubeconfig"] == SECRET
    assert "get-token" not in result.to_json()


# --- IRSA ---------------------------------------------------------------------------------------------


def test_irsa_roles_trust_only_the_named_service_account_through_the_clusters_oidc() -> None:
    result = cluster_alone(EksClusterArgs(), loki=True)
    issuer = result.outputs["issuer"]
    host = issuer.removeprefix("https://")
    role = result.named("eks-irsa-loki")
    (statement,) = json.loads(role["inputs"]["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Federated": result.outputs["oidcArn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{host}:sub": "system:serviceaccount:monitoring:loki",
            f"{host}:aud": "sts.amazonaws.com",
        }
    }
    assert result.named("eks-irsa-loki-policy")["inputs"]["role"] == "eks-irsa-loki"
    assert roles_with_policy(result, "arn:aws:iam::aws:policy/ReadOnlyAccess") == {"eks-irsa-loki"}
    oidc = only(result, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")["inputs"]
    assert oidc == {"url": issuer, "clientIdLists": ["sts.amazonaws.com"], "tags": {"component": "cluster"}}


# --- options ------------------------------------------------------------------------------------------


def test_admin_principals_get_access_entries_with_the_cluster_admin_policy() -> None:
    result = cluster_alone(EksClusterArgs(admin_principal_arns=[ADMIN]))
    entry, association = result.named("eks-admin-0"), result.named("eks-admin-0-policy")
    assert entry["inputs"]["principalArn"] == ADMIN
    assert association["inputs"]["policyArn"] == ADMIN_POLICY_ARN
    assert association["inputs"]["accessScope"] == {"type": "cluster"}
    assert entry["urn"] in association["dependencies"]


def test_a_public_endpoint_takes_its_allowlist() -> None:
    args = EksClusterArgs(endpoint_public_access=True, public_access_cidrs=["203.0.113.0/24"])
    vpc = only(cluster_alone(args), CLUSTER)["inputs"]["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_a_given_kms_key_is_used_instead_of_creating_one() -> None:
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = cluster_alone(EksClusterArgs(kms_key_arn=arn))
    assert [k["name"] for k in result.of_type(KEY)] == ["eks-logs-key"]  # the log group's own
    assert only(result, CLUSTER)["inputs"]["encryptionConfig"]["provider"]["keyArn"] == arn


def test_taints_and_labels_reach_the_node_group() -> None:
    args = EksClusterArgs.model_validate(
        {
            "nodeGroups": {
                "batch": {"labels": {"pool": "batch"}, "taints": [{"key": "batch", "effect": "NoExecute"}]}
            }
        }
    )
    group = only(cluster_alone(args), NODE_GROUP)
    assert group["name"] == "eks-batch"
    assert group["inputs"]["labels"] == {"pool": "batch"}
    assert group["inputs"]["taints"] == [{"key": "batch", "effect": "NO_EXECUTE"}]


def test_unprotected_clusters_have_no_deletion_protection() -> None:
    result = cluster_alone(EksClusterArgs(), protect=False)
    assert only(result, CLUSTER)["inputs"]["deletionProtection"] is False
    assert only(result, CLUSTER)["options"]["protect"] is False


# --- failures, in the stack file's words -------------------------------------------------------------


def _problems(stack: str, cluster: dict[str, Any]) -> list[str]:
    return config_problems(stack, {"cluster": cluster})


def test_fails_when_min_size_exceeds_max_size() -> None:
    problems = _problems("production", {"nodeGroups": {"general": {"minSize": 5, "maxSize": 3}}})
    assert any(
        "lmagent-infra:cluster.nodeGroups.general.maxSize: must be >= minSize (5) (got 3)" in p
        for p in problems
    ), problems


def test_production_keeps_two_system_nodes_and_staging_may_run_one() -> None:
    one = {"nodeGroups": {"general": {"minSize": 1, "maxSize": 3}}}
    problems = _problems("production", one)
    assert any(
        "lmagent-infra:cluster.nodeGroups: production needs a node group with minSize >= 2" in p
        and "{'general': 1}" in p
        for p in problems
    ), problems
    # Staging accepts it (one node: the second controller stays Pending, which staging may live with).
    staging = synth_with("staging", {"cluster": one})
    (group,) = staging.of_type(NODE_GROUP)
    assert group["inputs"]["scalingConfig"]["minSize"] == 1


def test_fails_when_desired_size_is_outside_min_and_max() -> None:
    problems = _problems(
        "production", {"nodeGroups": {"general": {"minSize": 2, "maxSize": 3, "desiredSize": 9}}}
    )
    assert any(
        "cluster.nodeGroups.general.desiredSize: must be between minSize (2) and maxSize (3)" in p
        for p in problems
    )


def test_fails_when_the_instance_type_list_is_empty() -> None:
    problems = _problems("staging", {"nodeGroups": {"general": {"instanceTypes": []}}})
    assert any(
        "lmagent-infra:cluster.nodeGroups.general.instanceTypes: must have at least 1 item(s) (got [])" in p
        for p in problems
    ), problems


def test_fails_when_production_opens_the_public_endpoint_to_the_world() -> None:
    problems = _problems("production", {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
    assert any(
        "lmagent-infra:cluster.publicAccessCidrs: production refuses a public API endpoint open to the world"
        in p
        for p in problems
    ), problems


def test_staging_may_open_the_public_endpoint_to_the_world() -> None:
    args = EksClusterArgs.model_validate(
        {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}, context={"environment": "staging"}
    )
    assert args.public_access_cidrs == ["0.0.0.0/0"]


def test_fails_when_a_public_endpoint_has_no_allowlist_and_no_bootstrap_stack() -> None:
    problems = config_problems(
        "staging", {"cluster": {"endpointPublicAccess": True}}, remove=("bootstrapStack",)
    )
    assert any(
        "cluster.publicAccessCidrs: must list the CIDRs allowed to reach the public endpoint" in p
        for p in problems
    )


def test_fails_when_an_allowlist_is_given_for_a_private_endpoint() -> None:
    problems = _problems("staging", {"publicAccessCidrs": ["203.0.113.0/24"]})
    assert any("cluster.publicAccessCidrs: is set but endpointPublicAccess is false" in p for p in problems)


def test_fails_when_an_allowlist_entry_is_not_a_cidr() -> None:
    problems = _problems("staging", {"endpointPublicAccess": True, "publicAccessCidrs": ["office"]})
    assert any("cluster.publicAccessCidrs: 'office' is not a CIDR" in p for p in problems), problems


def test_fails_when_a_log_type_is_unknown() -> None:
    problems = _problems("staging", {"logTypes": ["api", "kubelet"]})
    assert any("lmagent-infra:cluster.logTypes[1]: must be one of 'api', 'audit'" in p for p in problems), (
        problems
    )


def test_fails_when_an_admin_principal_is_not_an_iam_arn() -> None:
    problems = _problems("staging", {"adminPrincipalArns": ["alice"]})
    assert any(
        "cluster.adminPrincipalArns: must be IAM role or user ARNs" in p and "alice" in p for p in problems
    )


def test_fails_when_there_is_no_node_group() -> None:
    problems = _problems("staging", {"nodeGroups": {}})
    assert any("lmagent-infra:cluster.nodeGroups: must have at least 1 item(s)" in p for p in problems), (
        problems
    )


@pytest.mark.parametrize("capacity", ["spot", "RESERVED"])
def test_fails_when_the_capacity_type_is_unknown(capacity: str) -> None:
    problems = _problems("staging", {"nodeGroups": {"general": {"capacityType": capacity}}})
    assert any(
        "cluster.nodeGroups.general.capacityType: must be one of 'ON_DEMAND' or 'SPOT'" in p for p in problems
    )


# --- who may use the cluster, and from where (issue #14) -----------------------------------------------

READ_ONLY = "arn:aws:iam::123456789012:role/previewer"


def access_of(result: SynthResult) -> dict[str, str]:
    """principal ARN -> the access policy associated with it, cluster-wide."""
    out: dict[str, str] = {}
    for association in result.of_type(ASSOCIATION):
        assert association["inputs"]["accessScope"] == {"type": "cluster"}
        out[association["inputs"]["principalArn"]] = association["inputs"]["policyArn"]
    # Node roles' entries (EC2_LINUX, e.g. Karpenter's) get no access policy: EKS maps them to nodes.
    people = [e for e in result.of_type(ENTRY) if e["inputs"]["type"] == "STANDARD"]
    assert {e["inputs"]["principalArn"] for e in people} == set(out)
    return out


def test_the_deploy_role_is_cluster_admin_and_the_read_only_role_views_everything(
    stack: str, synthesized: SynthResult
) -> None:
    role = "arn:aws:iam::123456789012:role/lmagent-infra"
    assert access_of(synthesized) == {
        f"{role}-deploy-{stack}": ADMIN_POLICY_ARN,
        f"{role}-readonly": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy",
    }


def test_no_hidden_admin_for_whoever_creates_the_cluster(synthesized: SynthResult) -> None:
    access = only(synthesized, CLUSTER)["inputs"]["accessConfig"]
    assert access["bootstrapClusterCreatorAdminPermissions"] is False


def test_the_creator_flag_is_off_by_default_and_says_it_replaces_the_cluster() -> None:
    field = EksClusterArgs.model_fields["bootstrap_creator_admin"]
    assert EksClusterArgs().bootstrap_creator_admin is False
    assert "REPLACES the cluster" in str(field.description)


def test_without_a_bootstrap_stack_the_roles_follow_the_bootstrap_naming_in_the_stacks_account(
    stack: str,
) -> None:
    result = synth_with(stack, remove=("bootstrapStack",), overrides={"cluster": {}})
    role = "arn:aws:iam::123456789012:role/lmagent-infra"  # the mock's caller identity
    assert set(access_of(result)) == {f"{role}-deploy-{stack}", f"{role}-readonly"}
    assert result.of_type("pulumi:pulumi:StackReference") == []


def test_explicit_role_arns_win_over_the_bootstrap_stack() -> None:
    result = synth_with(
        "staging",
        {"cluster": {"endpointPublicAccess": True, "deployRoleArn": DEPLOY, "readOnlyRoleArn": READ_ONLY}},
    )
    assert access_of(result) == {DEPLOY: ADMIN_POLICY_ARN, READ_ONLY: READ_ONLY_POLICY_ARN}


def test_break_glass_admins_come_from_config_next_to_the_deploy_role() -> None:
    result = synth_with(
        "production", {"cluster": {"endpointPublicAccess": True, "adminPrincipalArns": [ADMIN]}}
    )
    access = access_of(result)
    assert access[ADMIN] == ADMIN_POLICY_ARN
    assert len(access) == 3


def test_everything_on_the_cluster_waits_for_the_deploy_roles_access_and_the_nodes(
    synthesized: SynthResult,
) -> None:
    provider = only(synthesized, K8S_PROVIDER)
    assert synthesized.named("cluster-deploy-policy")["urn"] in provider["dependencies"]
    for group in synthesized.of_type(NODE_GROUP):
        assert group["urn"] in provider["dependencies"]


def test_the_runner_cidrs_join_the_configured_allowlist_once() -> None:
    args = EksClusterArgs(endpoint_public_access=True, public_access_cidrs=["198.51.100.0/24"])
    result = cluster_alone(args, runner_cidrs=["203.0.113.10/32", "198.51.100.0/24"])
    assert only(result, CLUSTER)["inputs"]["vpcConfig"]["publicAccessCidrs"] == [
        "198.51.100.0/24",
        "203.0.113.10/32",
    ]


def test_the_runner_cidrs_are_ignored_for_a_private_endpoint() -> None:
    vpc = only(cluster_alone(EksClusterArgs(), runner_cidrs=["203.0.113.10/32"]), CLUSTER)["inputs"][
        "vpcConfig"
    ]
    assert vpc["endpointPublicAccess"] is False and "publicAccessCidrs" not in vpc


@pytest.mark.parametrize(
    ("runners", "message"),
    [
        (["0.0.0.0/0"], "opens the API endpoint to the world"),
        (["runner"], "'runner' is not a CIDR"),
        ([], "no CIDR may reach it"),
    ],
)
def test_fails_when_the_runner_cidrs_would_open_the_endpoint(runners: list[str], message: str) -> None:
    args = EksClusterArgs.model_validate({"endpointPublicAccess": True}, context={RUNNER_CIDRS_LATER: True})
    with pytest.raises(ValueError, match=message):
        cluster_alone(args, runner_cidrs=runners)


def test_fails_when_nobody_could_use_the_cluster() -> None:
    with pytest.raises(ValueError, match="deployRoleArn is unset and bootstrapCreatorAdmin is false"):
        cluster_alone(EksClusterArgs(), deploy_role_arn=None)


def test_the_creator_alone_may_run_the_program_when_asked() -> None:
    result = cluster_alone(EksClusterArgs(bootstrap_creator_admin=True), deploy_role_arn=None)
    assert result.of_type(ENTRY) == []
    assert only(result, CLUSTER)["inputs"]["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is True


def test_fails_when_a_principal_is_listed_twice() -> None:
    problems = _problems("staging", {"deployRoleArn": ADMIN, "adminPrincipalArns": [ADMIN]})
    assert any(
        p.startswith("Pulumi.staging.yaml: lmagent-infra:cluster: adminPrincipalArns[0] repeats")
        and "(already deployRoleArn)" in p
        for p in problems
    ), problems


def test_fails_when_a_role_arn_is_not_a_role() -> None:
    problems = _problems("staging", {"deployRoleArn": "arn:aws:iam::123456789012:user/alice"})
    assert any("cluster.deployRoleArn" in p and "user/alice" in p for p in problems), problems


def test_fails_when_the_bootstrap_stack_has_no_role_for_the_environment() -> None:
    project, stack = "lmagent-infra", "staging"
    config = {**read_stack_file(stack)[1]}
    refs = offline_stack_references(project, stack, config)
    name = config[f"{project}:bootstrapStack"]
    refs[name] = {**refs[name], "deployRoleArns": {"production": DEPLOY}}
    with pytest.raises(ValueError, match=r"exports no deployRoleArns\['staging'\]"):
        synth(
            lambda: stacks.build(stack),
            project=project,
            stack=stack,
            config=config,
            secret_keys=[k for k in config if config[k] == SECRET],
            stack_references=refs,
        )


def test_fails_when_the_bootstrap_stack_is_not_a_full_stack_name() -> None:
    problems = config_problems("staging", {"bootstrapStack": "lmagent-infra-bootstrap"})
    assert any(
        "lmagent-infra:bootstrapStack: must name a stack fully as <organization>/<project>/<stack>" in p
        for p in problems
    ), problems


def test_fails_when_the_creator_flag_would_give_the_deploy_role_a_second_access_entry() -> None:
    # EKS creates an entry for the creator (the deploy role, in the pipeline), and allows one per
    # principal: the deploy role's own entry would fail on the real cluster.
    with pytest.raises(ValueError, match="bootstrapCreatorAdmin is true and a deploy role is set"):
        cluster_alone(EksClusterArgs(bootstrap_creator_admin=True))


def test_fails_when_a_stack_file_turns_the_creator_flag_on() -> None:
    problems = _problems("staging", {"endpointPublicAccess": True, "bootstrapCreatorAdmin": True})
    assert any(
        p.startswith("Pulumi.staging.yaml: lmagent-infra:cluster:") and "second EKS access entry" in p
        for p in problems
    ), problems
