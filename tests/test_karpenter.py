"""Karpenter in both stacks: releases, IAM, interruption queue, node access, node class and pools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import versions
from components.karpenter import KarpenterArgs
from components.karpenter._component import INTERRUPTION_EVENTS, SERVICE_ACCOUNT
from components.karpenter._dashboard import karpenter_dashboard
from components.karpenter._iam import POLICY_NAMES
from components.testing import SynthResult
from tests import _crds
from tests._tools import run
from tests.conftest import STACKS, config_problems, synth_stack, synth_with

#: IAM's limit on one managed policy document, whitespace not counted (IAM user guide,
#: reference_iam-quotas: "Managed policy size: 6,144 characters").
MANAGED_POLICY_LIMIT = 6144


def _inputs(result: SynthResult, name: str) -> dict[str, Any]:
    return dict(result.named(name)["inputs"])


def _of(result: SynthResult, typ: str) -> list[dict[str, Any]]:
    return [r for r in result.of_type(typ) if r["name"].startswith("karpenter-")]


@pytest.mark.parametrize("stack", STACKS)
def test_the_crds_and_the_controller_are_two_releases_at_the_pinned_version(stack: str) -> None:
    result = synth_stack(stack)
    crds, controller = _inputs(result, "karpenter-crd"), _inputs(result, "karpenter-controller")
    assert (crds["chart"], crds["version"]) == (
        f"{versions.KARPENTER_CRD[2]}/karpenter-crd",
        versions.KARPENTER_CRD[1],
    )
    assert (controller["chart"], controller["version"]) == (
        f"{versions.KARPENTER[2]}/karpenter",
        versions.KARPENTER[1],
    )
    # Helm never upgrades a chart's crds/: the CRD release owns them, the controller skips them.
    assert controller["skipCrds"] is True
    assert result.named("karpenter-crd")["urn"] in result.named("karpenter-controller")["dependencies"]
    values = controller["values"]
    assert values["replicas"] == 2
    assert values["serviceAccount"]["name"] == SERVICE_ACCOUNT
    queue = _inputs(result, "karpenter-interruption")
    assert values["settings"] == {"clusterName": f"lmagent-infra-{stack}", "interruptionQueue": queue["name"]}


@pytest.mark.parametrize("stack", STACKS)
def test_the_controller_is_scraped_without_waiting_for_the_monitoring_stack(stack: str) -> None:
    result = synth_stack(stack)
    controller = result.named("karpenter-controller")
    assert controller["inputs"]["values"]["serviceMonitor"] == {"enabled": False}
    monitoring = {r["urn"] for r in result.resources if r["name"].startswith("monitoring")}
    assert not set(controller["dependencies"]) & monitoring
    monitor = result.manifest("ServiceMonitor", "karpenter", "kube-system")
    # The chart's selector labels and metrics port (charts/karpenter/templates at v1.14.1).
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "karpenter",
        "app.kubernetes.io/instance": controller["inputs"]["name"],
    }
    assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"
    assert result.named("karpenter-servicemonitor")["urn"] not in controller["dependencies"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_controller_gets_its_role_through_pod_identity_before_it_starts(stack: str) -> None:
    result = synth_stack(stack)
    association = result.named("karpenter-pod-identity")
    assert association["inputs"]["namespace"] == "kube-system"
    assert association["inputs"]["serviceAccount"] == SERVICE_ACCOUNT
    role = _inputs(result, "karpenter-controller-role")
    assert association["inputs"]["roleArn"].endswith("/karpenter-controller-role")
    trust = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    waits = set(result.named("karpenter-controller")["dependencies"])
    assert {association["urn"], result.named("cluster-eks-pod-identity-agent")["urn"]} <= waits


def _policy(result: SynthResult, name: str) -> dict[str, Any]:
    (policy,) = [
        r for r in result.of_type("aws:iam/policy:Policy") if r["name"] == f"karpenter-controller-{name}"
    ]
    return dict(policy["inputs"])


def _policies(result: SynthResult) -> dict[str, dict[str, Any]]:
    return {name: json.loads(_policy(result, name)["policy"]) for name in POLICY_NAMES}


@pytest.mark.parametrize("stack", STACKS)
def test_the_controller_policies_are_split_to_fit_iams_size_limit(stack: str) -> None:
    result = synth_stack(stack)
    policies = _policies(result)
    sizes = {n: len(json.dumps(d, separators=(",", ":"))) for n, d in policies.items()}
    assert all(size <= MANAGED_POLICY_LIMIT for size in sizes.values()), sizes
    assert sum(sizes.values()) > MANAGED_POLICY_LIMIT  # why there are several
    attached = {
        r["inputs"]["policyArn"] for r in _of(result, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    }
    assert {f"arn:aws:iam::123456789012:policy/karpenter-controller-{n}" for n in POLICY_NAMES} <= attached


@pytest.mark.parametrize("stack", STACKS)
def test_the_controller_may_pass_only_its_node_role_and_read_only_its_queue(stack: str) -> None:
    result = synth_stack(stack)
    policies = _policies(result)
    (passing,) = [s for s in policies["iam-integration"]["Statement"] if s["Action"] == "iam:PassRole"]
    assert passing["Resource"] == "arn:aws:iam::123456789012:role/karpenter-node-role"
    (queue,) = policies["interruption"]["Statement"]
    assert queue["Resource"] == f"arn:aws:sqs:eu-west-1:123456789012:lmagent-infra-{stack}-karpenter"
    assert sorted(queue["Action"]) == ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"]
    # Launching and terminating is scoped to this cluster's tagged resources.
    cluster_tag = f"aws:ResourceTag/kubernetes.io/cluster/lmagent-infra-{stack}"
    deletion = [s for s in policies["node-lifecycle"]["Statement"] if s["Sid"] == "AllowScopedDeletion"]
    assert deletion[0]["Condition"]["StringEquals"] == {cluster_tag: "owned"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_interruption_queue_is_encrypted_tls_only_and_fed_by_the_releases_rules(stack: str) -> None:
    result = synth_stack(stack)
    queue = _inputs(result, "karpenter-interruption")
    assert queue["sqsManagedSseEnabled"] is True
    assert queue["messageRetentionSeconds"] == 300
    policy = json.loads(_inputs(result, "karpenter-interruption-policy")["policy"])["Statement"]
    deny = [s for s in policy if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Action"] == "sqs:*"
    patterns = sorted(
        (p["source"][0], p["detail-type"][0])
        for p in (
            json.loads(r["inputs"]["eventPattern"]) for r in _of(result, "aws:cloudwatch/eventRule:EventRule")
        )
    )
    assert patterns == sorted((source, detail) for _, source, detail in INTERRUPTION_EVENTS)
    targets = _of(result, "aws:cloudwatch/eventTarget:EventTarget")
    assert len(targets) == len(INTERRUPTION_EVENTS)
    assert {t["inputs"]["arn"] for t in targets} == {f"arn:aws:sqs:eu-west-1:123456789012:{queue['name']}"}


@pytest.mark.parametrize("stack", STACKS)
def test_karpenter_nodes_join_through_an_ec2_linux_access_entry(stack: str) -> None:
    result = synth_stack(stack)
    entry = _inputs(result, "karpenter-node-access")
    assert entry["type"] == "EC2_LINUX"
    assert entry["principalArn"] == "arn:aws:iam::123456789012:role/karpenter-node-role"
    # The only entry that is not a person's or a pipeline's.
    others = [
        e for e in result.of_type("aws:eks/accessEntry:AccessEntry") if e["inputs"]["type"] != "STANDARD"
    ]
    assert [e["name"] for e in others] == ["karpenter-node-access"]
    node_class = result.manifest("EC2NodeClass", "default")
    assert node_class["spec"]["role"] == "karpenter-node-role"


@pytest.mark.parametrize("stack", STACKS)
def test_the_node_class_is_hardened_and_finds_the_clusters_subnets_and_security_group(stack: str) -> None:
    spec = synth_stack(stack).manifest("EC2NodeClass", "default")["spec"]
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (disk,) = spec["blockDeviceMappings"]
    assert disk["ebs"] | {"volumeSize": None} == {
        "volumeSize": None,
        "volumeType": "gp3",
        "encrypted": True,
        "deleteOnTermination": True,
    }
    assert spec["amiSelectorTerms"] == [{"alias": versions.KARPENTER_AMI_ALIAS}]
    cluster = f"lmagent-infra-{stack}"
    # The same tags the network puts on the private subnets.
    private = [r for r in synth_stack(stack).of_type("aws:ec2/subnet:Subnet") if "private" in r["name"]]
    for term in spec["subnetSelectorTerms"]:
        assert private and all(term["tags"].items() <= r["inputs"]["tags"].items() for r in private)
    assert spec["securityGroupSelectorTerms"] == [
        {"tags": {f"kubernetes.io/cluster/{cluster}": "owned", "aws:eks:cluster-name": cluster}}
    ]


def _requirement(pool: dict[str, Any], key: str) -> list[str]:
    (req,) = [r for r in pool["spec"]["template"]["spec"]["requirements"] if r["key"] == key]
    return list(req["values"])


def test_staging_mixes_spot_and_on_demand_and_production_runs_on_demand() -> None:
    staging = synth_stack("staging").manifest("NodePool", "general")
    production = synth_stack("production").manifest("NodePool", "general")
    assert _requirement(staging, "karpenter.sh/capacity-type") == ["spot", "on-demand"]
    assert _requirement(production, "karpenter.sh/capacity-type") == ["on-demand"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_pool_is_capped_consolidated_and_expires_its_nodes(stack: str) -> None:
    pool = synth_stack(stack).manifest("NodePool", "general")
    assert pool["spec"]["limits"] == {"cpu": "32", "memory": "128Gi"}
    assert pool["spec"]["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "1m",
        "budgets": [{"nodes": "10%"}],
    }
    assert pool["spec"]["template"]["spec"]["expireAfter"] == "720h"
    assert _requirement(pool, "karpenter.k8s.aws/instance-generation") == ["5"]
    assert _requirement(pool, "karpenter.k8s.aws/instance-category") == ["c", "m", "r"]


@pytest.mark.parametrize("stack", STACKS)
def test_node_pools_and_the_node_class_pass_their_crds_and_wait_for_them(stack: str) -> None:
    result = synth_stack(stack)
    crd_release = result.named("karpenter-crd")["urn"]
    for name in ("karpenter-nodeclass", "karpenter-pool-general"):
        resource = result.named(name)
        assert _crds.problems(resource["inputs"]) == []
        assert crd_release in resource["dependencies"]


def _matches(terms: list[dict[str, Any]], labels: dict[str, str]) -> bool:
    """Whether a node with `labels` satisfies required node affinity `terms`: the terms are ORed,
    a term's expressions ANDed (Kubernetes API reference, NodeSelectorRequirement operators)."""

    def one(expr: dict[str, Any]) -> bool:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "Exists":
            return key in labels
        if op == "DoesNotExist":
            return key not in labels
        if op == "In":
            return labels.get(key) in values
        if op == "NotIn":
            return labels.get(key) not in values
        if op in ("Gt", "Lt") and key in labels:
            node, want = int(labels[key]), int(values[0])
            return node > want if op == "Gt" else node < want
        return False

    return any(all(one(e) for e in term.get("matchExpressions", [])) for term in terms)


def _karpenter_node_labels(pool: dict[str, Any]) -> dict[str, str]:
    """The labels of a node launched from `pool`: the template's labels, `karpenter.sh/nodepool`
    set to the pool's name, and one allowed value of each requirement
    (kubernetes-sigs/karpenter@v1.14.1: pkg/controllers/provisioning/scheduling/nodeclaimtemplate.go)."""
    labels = {**pool["spec"]["template"].get("metadata", {}).get("labels", {})}
    for req in pool["spec"]["template"]["spec"]["requirements"]:
        if req["operator"] == "In":
            labels[req["key"]] = req["values"][0]
        elif req["operator"] == "Gt":
            labels[req["key"]] = str(int(req["values"][0]) + 1)
    return {**labels, "karpenter.sh/nodepool": pool["metadata"]["name"]}


@pytest.mark.parametrize("stack", STACKS)
def test_app_pods_run_only_on_karpenter_nodes_and_tolerate_nothing(stack: str) -> None:
    result = synth_stack(stack)
    deployments = [m for m in result.manifests if m["kind"] == "Deployment"]
    pools = [m for m in result.manifests if m["kind"] == "NodePool"]
    assert deployments
    assert pools
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"
        ]
        assert "tolerations" not in pod
        assert "nodeSelector" not in pod
        # Every pool's nodes take the pods...
        for pool in pools:
            assert _matches(terms, _karpenter_node_labels(pool)), pool["metadata"]["name"]
            # ...nothing in the pool rules out the label the pods ask for (the NodePool CRD also
            # refuses it among the template's labels)...
            keys = [r["key"] for r in pool["spec"]["template"]["spec"]["requirements"]]
            assert "karpenter.sh/nodepool" not in keys
            # ...and the pools' nodes carry no taint an app would have to tolerate.
            assert "taints" not in pool["spec"]["template"]["spec"]
        # A managed node group's node, with the labels EKS and the group put on it, does not.
        for group in result.of_type("aws:eks/nodeGroup:NodeGroup"):
            node = {
                **(group["inputs"].get("labels") or {}),
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "eks.amazonaws.com/nodegroup": group["name"],
                "eks.amazonaws.com/capacityType": group["inputs"]["capacityType"],
            }
            assert not _matches(terms, node), group["name"]


def test_several_pools_from_config_each_become_a_node_pool() -> None:
    pools = {
        "general": {},
        "batch": {
            "architectures": ["arm64"],
            "capacityTypes": ["spot"],
            "cpuLimit": "64",
            "expireAfter": "Never",
        },
    }
    result = synth_with("production", {"karpenter": {"nodePools": pools}})
    batch = result.manifest("NodePool", "batch")
    assert _requirement(batch, "kubernetes.io/arch") == ["arm64"]
    assert batch["spec"]["template"]["spec"]["expireAfter"] == "Never"
    assert _crds.problems(batch) == []
    assert {m["metadata"]["name"] for m in result.manifests if m["kind"] == "NodePool"} == {
        "general",
        "batch",
    }


def test_karpenter_is_alerted_on() -> None:
    rules = synth_stack("production").manifest("PrometheusRule", "karpenter", "kube-system")
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "KarpenterControllerDown",
        "KarpenterNodeClaimsNotLaunching",
        "KarpenterNodePoolNearLimit",
    }
    assert alerts["KarpenterControllerDown"]["labels"]["severity"] == "critical"
    assert 'up{job="karpenter", namespace="kube-system"}' in alerts["KarpenterControllerDown"]["expr"]
    assert all(set(a["annotations"]) >= {"summary", "description", "runbook_url"} for a in alerts.values())


# ---------------------------------------------------------------------------------------------
# Bad input


def test_fails_when_a_pool_has_no_capacity_type() -> None:
    assert config_problems(
        "production", {"karpenter": {"nodePools": {"general": {"capacityTypes": []}}}}
    ) == [
        "Pulumi.production.yaml: lmagent-infra:karpenter.nodePools.general.capacityTypes: must list at "
        "least one; a pool with no capacity type launches nothing (got [])"
    ]


@pytest.mark.parametrize("key", ["cpuLimit", "memoryLimit"])
def test_fails_when_a_limit_is_zero(key: str) -> None:
    (problem,) = config_problems("production", {"karpenter": {"nodePools": {"general": {key: "0"}}}})
    assert problem.startswith(f"Pulumi.production.yaml: lmagent-infra:karpenter.nodePools.general.{key}: ")
    assert "must be greater than zero" in problem


def test_fails_on_an_unknown_instance_category() -> None:
    (problem,) = config_problems(
        "production", {"karpenter": {"nodePools": {"general": {"instanceCategories": ["c", "gpu"]}}}}
    )
    assert (
        "instanceCategories: unknown instance category ['gpu']; allowed: a, c, d, i, m, r, t, x, z" in problem
    )


def test_fails_when_production_does_not_pin_the_ami() -> None:
    (problem,) = config_problems("production", {"karpenter": {"amiAlias": "al2023@latest"}})
    assert "lmagent-infra:karpenter.amiAlias: production pins the AMI release" in problem
    # Staging may follow the latest release.
    staging = synth_with("staging", {"karpenter": {"amiAlias": "al2023@latest"}})
    assert staging.manifest("EC2NodeClass", "default")["spec"]["amiSelectorTerms"] == [
        {"alias": "al2023@latest"}
    ]


def test_fails_on_an_ami_alias_that_is_not_one() -> None:
    (problem,) = config_problems("staging", {"karpenter": {"amiAlias": "ami-0123456789abcdef0"}})
    assert "is not an AMI alias; allowed: al2023@<version> or bottlerocket@<version>" in problem


def test_production_runs_two_controllers_at_least() -> None:
    (problem,) = config_problems("production", {"karpenter": {"replicas": 1}})
    assert "lmagent-infra:karpenter.replicas: must be >= 2 in production" in problem


def test_a_budget_schedule_needs_its_duration() -> None:
    with pytest.raises(ValueError, match="schedule and duration go together"):
        KarpenterArgs.model_validate(
            {"nodePools": {"general": {"budgets": [{"nodes": "0", "schedule": "@daily"}]}}}
        )


# ---------------------------------------------------------------------------------------------
# Alerts and dashboard, run through promtool


def _rules_file(tmp_path: Path) -> Path:
    rules = synth_stack("production").manifest("PrometheusRule", "karpenter", "kube-system")
    path = tmp_path / "karpenter.rules.yml"
    path.write_text(yaml.safe_dump(rules["spec"]))
    return path


def test_the_alerts_fire_when_they_should_and_not_before(tmp_path: Path) -> None:
    rules = _rules_file(tmp_path)
    job = 'up{job="karpenter", namespace="kube-system", instance="a"}'
    usage = 'karpenter_nodepools_usage{nodepool="general", resource_type="cpu", job="karpenter"}'
    limit = 'karpenter_nodepools_limit{nodepool="general", resource_type="cpu", job="karpenter"}'
    launched = 'operator_nodeclaim_status_condition_count{type="Launched", status="False", job="karpenter"}'
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                # The controller answers for 10 minutes, then stops answering at all.
                "interval": "1m",
                "input_series": [{"series": job, "values": "1x10 0x20"}],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "KarpenterControllerDown", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "KarpenterControllerDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "critical"},
                                "exp_annotations": {
                                    "summary": "No Karpenter controller is up",
                                    "description": (
                                        "No Karpenter controller in kube-system has answered a scrape for 5 "
                                        "minutes: pending pods get no nodes and spot interruptions are not "
                                        "handled."
                                    ),
                                    "runbook_url": "https://karpenter.sh/docs/troubleshooting/",
                                },
                            }
                        ],
                    },
                ],
            },
            {
                # 30 of 32 vCPU for 20 minutes; one node claim stuck for 20 minutes.
                "interval": "1m",
                "input_series": [
                    {"series": usage, "values": "16x10 30x30"},
                    {"series": limit, "values": "32x40"},
                    {"series": launched, "values": "0x10 1x30"},
                    {"series": job, "values": "1x40"},
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "KarpenterNodePoolNearLimit", "exp_alerts": []},
                    {"eval_time": "20m", "alertname": "KarpenterNodePoolNearLimit", "exp_alerts": []},
                    {
                        "eval_time": "30m",
                        "alertname": "KarpenterNodePoolNearLimit",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "nodepool": "general",
                                    "resource_type": "cpu",
                                },
                                "exp_annotations": {
                                    "summary": "Node pool general is at over 90% of its cpu limit",
                                    "description": (
                                        "Karpenter launches nothing past a pool's limit; pods beyond it "
                                        "stay Pending. Raise the pool's limit or look for a runaway "
                                        "scale-up."
                                    ),
                                    "runbook_url": "https://karpenter.sh/docs/troubleshooting/",
                                },
                            }
                        ],
                    },
                    {"eval_time": "20m", "alertname": "KarpenterNodeClaimsNotLaunching", "exp_alerts": []},
                    {
                        "eval_time": "30m",
                        "alertname": "KarpenterNodeClaimsNotLaunching",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning"},
                                "exp_annotations": {
                                    "summary": "Karpenter node claims have failed to launch for 15 minutes",
                                    "description": (
                                        "1 node claims are not launched: EC2 capacity, quotas, the "
                                        "subnets or the node class may be refusing them "
                                        "(kubectl describe nodeclaims)."
                                    ),
                                    "runbook_url": "https://karpenter.sh/docs/troubleshooting/",
                                },
                            }
                        ],
                    },
                ],
            },
        ],
    }
    path = tmp_path / "karpenter.test.yml"
    path.write_text(yaml.safe_dump(tests))
    checked = run("promtool", "test", "rules", path, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_loads_the_karpenter_dashboard_and_its_queries_parse(stack: str, tmp_path: Path) -> None:
    config_map = synth_stack(stack).manifest("ConfigMap", "karpenter-dashboard", "kube-system")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map["data"]["karpenter.json"])
    assert board == karpenter_dashboard()
    exprs = [t["expr"].replace("$__rate_interval", "5m") for p in board["panels"] for t in p["targets"]]
    assert len(exprs) >= 4
    rules = [{"record": f"karpenter:dashboard:{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "q.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    checked = run("promtool", "check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
