"""`python -m stacks cost`: the registry against hand-computed figures, the stacks fully priced,
bad input as one clear line, budgets, diffs and the README's generated figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.testing import SynthResult
from stacks.cost import estimate, load_prices, load_usage, usage_schema
from stacks.cost.cli import Runner, main, render_readme
from stacks.cost.pricing import DEFAULT_USAGE, CostError, Usage, parse_budget
from stacks.cost.registry import CHARTS, FREE, REGISTRY
from tests._tools import REPO
from tests.conftest import STACKS, synth_stack

PRICES = load_prices("eu-west-1")


def resource(typ: str, name: str, inputs: dict[str, Any], deps: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:t::p::{typ}::{name}",
        "type": typ,
        "name": name,
        "parent": None,
        "custom": True,
        "provider": None,
        "inputs": inputs,
        "options": {},
        "dependencies": list(deps),
    }


GP3 = resource(
    "kubernetes:storage.k8s.io/v1:StorageClass",
    "gp3",
    {
        "kind": "StorageClass",
        "metadata": {"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "ebs.csi.aws.com",
        "parameters": {"type": "gp3"},
    },
)
LT = resource(
    "aws:ec2/launchTemplate:LaunchTemplate",
    "lt",
    {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": 50, "volumeType": "gp3"}}]},
)
LT_FAST = resource(
    "aws:ec2/launchTemplate:LaunchTemplate",
    "lt-fast",
    {
        "blockDeviceMappings": [
            {"ebs": {"volumeSize": 100, "volumeType": "gp3", "iops": 6000, "throughput": 250}}
        ]
    },
)


def price(*resources: dict[str, Any], usage: Usage | None = None) -> tuple[float, float, int]:
    """(baseline, usage, number of cost lines) a month of `resources` (the helpers above excluded)."""
    result = SynthResult("p", "t", [GP3, LT, LT_FAST, *resources])
    e = estimate(result, PRICES, usage or load_usage(DEFAULT_USAGE, usage_schema()))
    assert not e.unpriced
    priced = [r for r in e.resources if r.name not in ("gp3", "lt", "lt-fast")]
    return (sum(r.fixed for r in priced), sum(r.usage for r in priced), sum(len(r.lines) for r in priced))


def svc(kind: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": "web", "annotations": annotations or {}}
    return {"kind": "Service", "metadata": meta, "spec": {"type": kind}}


def ingress(cls: str, group: str | None = None) -> dict[str, Any]:
    ann = {"alb.ingress.kubernetes.io/group.name": group} if group else {}
    return {
        "kind": "Ingress",
        "metadata": {"name": "web", "annotations": ann},
        "spec": {"ingressClassName": cls},
    }


# Each case: the resources, then (baseline, usage, lines) worked out by hand from
# stacks/cost/prices/eu-west-1.yaml and stacks/cost/usage.yaml (730 hours a month).
CASES: list[tuple[str, list[dict[str, Any]], tuple[float, float, int]]] = [
    # 730 x 0.10
    ("eks control plane", [resource("aws:eks/cluster:Cluster", "c", {})], (73.00, 0, 1)),
    # 3 x 730 x 0.107 = 234.33; 3 x 50 GB x 0.088 = 13.20
    (
        "on-demand node group with its launch template",
        [
            resource(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 3, "minSize": 3}},
                deps=(LT["urn"],),
            )
        ],
        (247.53, 0, 2),
    ),
    # spot prices the dearer type: 2 x 730 x 0.0912 x (1 - 0.60) = 53.26; 2 x 50 x 0.088 = 8.80
    (
        "spot node group",
        [
            resource(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {
                    "capacityType": "SPOT",
                    "instanceTypes": ["t3a.large", "t3.large"],
                    "scalingConfig": {"desiredSize": 2},
                },
                deps=(LT["urn"],),
            )
        ],
        (62.06, 0, 2),
    ),
    # no types, no template: t3.medium 730 x 0.0456 = 33.29; 20 GB x 0.088 = 1.76
    (
        "node group with EKS defaults",
        [resource("aws:eks/nodeGroup:NodeGroup", "ng", {"scalingConfig": {"desiredSize": 1}})],
        (35.05, 0, 2),
    ),
    # 2 x 730 x 0.107 = 156.22; 2 x 100 x 0.088 = 17.60; 2 x 3000 IOPS x 0.0055 = 33.00;
    # 2 x 125 MB/s x 0.044 = 11.00
    (
        "node group with provisioned gp3 IOPS and throughput",
        [
            resource(
                "aws:eks/nodeGroup:NodeGroup",
                "ng",
                {"instanceTypes": ["m6i.large"], "scalingConfig": {"desiredSize": 2}},
                deps=(LT_FAST["urn"],),
            )
        ],
        (217.82, 0, 4),
    ),
    # 730 x 0.0912 = 66.58; 8 x 0.088 = 0.70
    (
        "ec2 instance",
        [resource("aws:ec2/instance:Instance", "i", {"instanceType": "t3.large"})],
        (67.28, 0, 2),
    ),
    # 730 x 0.048 = 35.04; usage 100 GB x 0.048 = 4.80
    ("nat gateway", [resource("aws:ec2/natGateway:NatGateway", "nat", {})], (35.04, 4.80, 2)),
    # 730 x 0.005
    ("public ipv4", [resource("aws:ec2/eip:Eip", "ip", {"domain": "vpc"})], (3.65, 0, 1)),
    # 2 AZs x 730 x 0.011 = 16.06; usage 10 GB x 0.01 = 0.10
    (
        "interface endpoint",
        [
            resource(
                "aws:ec2/vpcEndpoint:VpcEndpoint",
                "e",
                {"vpcEndpointType": "Interface", "subnetIds": ["a", "b"]},
            )
        ],
        (16.06, 0.10, 2),
    ),
    ("gateway endpoint is free", [resource("aws:ec2/vpcEndpoint:VpcEndpoint", "s3", {})], (0, 0, 0)),
    # usage 5 GB x 0.57 = 2.85; stored 5 x 90/30 = 15 GB-months x 0.03 = 0.45
    (
        "log group kept 90 days",
        [resource("aws:cloudwatch/logGroup:LogGroup", "lg", {"retentionInDays": 90})],
        (0, 3.30, 2),
    ),
    # never expiring: a year shown, 5 x 365/30 = 60.83 GB-months x 0.03 = 1.825
    ("log group never expiring", [resource("aws:cloudwatch/logGroup:LogGroup", "lg", {})], (0, 4.675, 2)),
    # 1.00; usage 20,000 requests = 2 x 0.03
    ("kms key", [resource("aws:kms/key:Key", "k", {})], (1.00, 0.06, 2)),
    # usage 5 GB x 0.10
    ("ecr repository", [resource("aws:ecr/repository:Repository", "r", {})], (0, 0.50, 1)),
    # usage 50 GB x 0.023 = 1.15; 1,000k PUT x 0.005 = 5.00; 1,000k GET x 0.0004 = 0.40
    ("s3 bucket", [resource("aws:s3/bucket:Bucket", "b", {})], (0, 6.55, 3)),
    ("s3 bucket v2", [resource("aws:s3/bucketV2:BucketV2", "b", {})], (0, 6.55, 3)),
    # 0.40; usage 10,000 calls = 1 x 0.05
    ("secret", [resource("aws:secretsmanager/secret:Secret", "s", {})], (0.40, 0.05, 2)),
    # usage 1M requests x 0.40 / x 0.50
    ("sqs standard", [resource("aws:sqs/queue:Queue", "q", {})], (0, 0.40, 1)),
    ("sqs fifo", [resource("aws:sqs/queue:Queue", "q", {"fifoQueue": True})], (0, 0.50, 1)),
    # usage 600 minutes x 0.01
    (
        "codebuild medium",
        [
            resource(
                "aws:codebuild/project:Project",
                "cb",
                {"environment": {"computeType": "BUILD_GENERAL1_MEDIUM"}},
            )
        ],
        (0, 6.00, 1),
    ),
    # 730 x 0.0252 = 18.40; usage 1 LCU x 730 x 0.008 = 5.84
    ("alb", [resource("aws:lb/loadBalancer:LoadBalancer", "lb", {})], (18.40, 5.84, 2)),
    # 18.40; usage 1 NLCU x 730 x 0.006 = 4.38
    (
        "nlb",
        [resource("aws:lb/loadBalancer:LoadBalancer", "lb", {"loadBalancerType": "network"})],
        (18.40, 4.38, 2),
    ),
    # 5.00 + 3 rules x 1.00; usage 10M x 0.60
    (
        "waf web acl",
        [resource("aws:wafv2/webAcl:WebAcl", "w", {"rules": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})],
        (8.00, 6.00, 3),
    ),
    # Multi-AZ doubles: 730 x 0.018 x 2 = 26.28; 20 GB x 0.127 x 2 = 5.08; usage 0
    (
        "rds postgres multi-az",
        [
            resource(
                "aws:rds/instance:Instance",
                "db",
                {
                    "engine": "postgres",
                    "instanceClass": "db.t4g.micro",
                    "multiAz": True,
                    "allocatedStorage": 20,
                    "storageType": "gp3",
                },
            )
        ],
        (31.36, 0, 3),
    ),
    ("route53 zone", [resource("aws:route53/zone:Zone", "z", {})], (0.50, 0, 1)),
    # the vault has no fixed charge; usage 50 GB x 0.095 = 4.75 plus 0 GB copied
    ("backup vault", [resource("aws:backup/vault:Vault", "v", {})], (0, 4.75, 2)),
    # one standard-resolution alarm: 0.10 a month
    ("metric alarm", [resource("aws:cloudwatch/metricAlarm:MetricAlarm", "a", {})], (0.10, 0, 1)),
    (
        "cluster-ip service is free",
        [resource("kubernetes:core/v1:Service", "s", svc("ClusterIP"))],
        (0, 0, 0),
    ),
    # classic: 730 x 0.028 = 20.44; usage 10 GB x 0.008 = 0.08
    (
        "in-tree load balancer service",
        [resource("kubernetes:core/v1:Service", "s", svc("LoadBalancer"))],
        (20.44, 0.08, 2),
    ),
    # NLB by the AWS Load Balancer Controller: 18.40; usage 4.38
    (
        "nlb service",
        [
            resource(
                "kubernetes:core/v1:Service",
                "s",
                svc("LoadBalancer", {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}),
            )
        ],
        (18.40, 4.38, 2),
    ),
    # two Ingresses of one group share an ALB: 18.40 + usage 5.84, once
    (
        "alb ingress group",
        [
            resource("kubernetes:networking.k8s.io/v1:Ingress", "a", ingress("alb", "shared")),
            resource("kubernetes:networking.k8s.io/v1:Ingress", "b", ingress("alb", "shared")),
        ],
        (18.40, 5.84, 2),
    ),
    # The edge's class: controller ingress.k8s.aws/alb, its params fix one group for every app.
    (
        "two ingresses of an alb class whose params fix the group: one alb",
        [
            resource(
                "kubernetes:networking.k8s.io/v1:IngressClass",
                "cls",
                {
                    "metadata": {"name": "public"},
                    "spec": {
                        "controller": "ingress.k8s.aws/alb",
                        "parameters": {"kind": "IngressClassParams", "name": "public"},
                    },
                },
            ),
            resource(
                "kubernetes:elbv2.k8s.aws/v1beta1:IngressClassParams",
                "params",
                {"metadata": {"name": "public"}, "spec": {"group": {"name": "acme-dev"}}},
            ),
            resource("kubernetes:networking.k8s.io/v1:Ingress", "a", ingress("public")),
            resource("kubernetes:networking.k8s.io/v1:Ingress", "b", ingress("public")),
        ],
        (18.40, 5.84, 2),
    ),
    (
        "nginx ingress",
        [resource("kubernetes:networking.k8s.io/v1:Ingress", "a", ingress("nginx"))],
        (0, 0, 0),
    ),
    # 10 GiB on the default class gp3: 10 x 0.088
    (
        "pvc",
        [
            resource(
                "kubernetes:core/v1:PersistentVolumeClaim",
                "pvc",
                {"kind": "PersistentVolumeClaim", "spec": {"resources": {"requests": {"storage": "10Gi"}}}},
            )
        ],
        (0.88, 0, 1),
    ),
    # 3 replicas x 20 GiB x 0.088 = 5.28
    (
        "statefulset claims",
        [
            resource(
                "kubernetes:apps/v1:StatefulSet",
                "sts",
                {
                    "kind": "StatefulSet",
                    "spec": {
                        "replicas": 3,
                        "volumeClaimTemplates": [
                            {
                                "metadata": {"name": "data"},
                                "spec": {"resources": {"requests": {"storage": "20Gi"}}},
                            }
                        ],
                    },
                },
            )
        ],
        (5.28, 0, 1),
    ),
    # Prometheus 2 x 100 GiB = 17.60; Alertmanager 2 x 2 GiB = 0.352; Grafana 10 GiB = 0.88
    (
        "kube-prometheus-stack",
        [
            resource(
                "kubernetes:helm.sh/v3:Release",
                "kps",
                {
                    "chart": "kube-prometheus-stack",
                    "values": {
                        "prometheus": {
                            "prometheusSpec": {
                                "replicas": 2,
                                "storageSpec": {
                                    "volumeClaimTemplate": {
                                        "spec": {"resources": {"requests": {"storage": "100Gi"}}}
                                    }
                                },
                            }
                        },
                        "alertmanager": {
                            "alertmanagerSpec": {
                                "replicas": 2,
                                "storage": {
                                    "volumeClaimTemplate": {
                                        "spec": {"resources": {"requests": {"storage": "2Gi"}}}
                                    }
                                },
                            }
                        },
                        "grafana": {"persistence": {"enabled": True, "size": "10Gi"}},
                    },
                },
            )
        ],
        (18.83, 0, 3),
    ),
    # 1 x 20 GiB x 0.088
    (
        "loki single binary",
        [
            resource(
                "kubernetes:helm.sh/v3:Release",
                "loki",
                {
                    "chart": "loki",
                    "values": {
                        "singleBinary": {"replicas": 1, "persistence": {"enabled": True, "size": "20Gi"}},
                        "write": {"replicas": 0},
                        "backend": {"replicas": 0},
                    },
                },
            )
        ],
        (1.76, 0, 1),
    ),
    (
        "stateless chart",
        [resource("kubernetes:helm.sh/v3:Release", "a", {"chart": "alloy", "values": {"alloy": {}}})],
        (0, 0, 0),
    ),
]


@pytest.mark.parametrize(("resources", "expected"), [(r, e) for _, r, e in CASES], ids=[c[0] for c in CASES])
def test_each_registry_entry_matches_the_hand_computed_figure(resources, expected):
    fixed, usage, lines = price(*resources)
    cent = 0.005
    assert (fixed, usage, lines) == (
        pytest.approx(expected[0], abs=cent), pytest.approx(expected[1], abs=cent), expected[2]
    )  # fmt: skip


def test_every_registry_entry_has_a_hand_computed_case():
    covered = {r["type"] for _, resources, _ in CASES for r in resources}
    assert set(REGISTRY) - covered == set()


def test_a_per_resource_usage_override_replaces_the_type_default():
    usage = Usage(defaults={"aws:ec2/natGateway:NatGateway": {"monthlyDataProcessedGb": 100}},
                  resources={"nat": {"monthlyDataProcessedGb": 1000}})  # fmt: skip
    # 1000 GB x 0.048
    fixed, used, _ = price(resource("aws:ec2/natGateway:NatGateway", "nat", {}), usage=usage)
    assert (round(fixed, 2), round(used, 2)) == (35.04, 48.00)


def test_the_price_table_cites_a_source_and_a_date_for_every_figure():
    assert PRICES.region == "eu-west-1" and PRICES.hours_per_month == 730
    for p in PRICES.prices.values():
        assert p.source.startswith("https://aws.amazon.com/"), p.key
        assert len(p.as_of) == 10 and p.as_of[4] == "-", p.key


@pytest.mark.parametrize("stack", [*STACKS, "bootstrap/main"])
def test_every_resource_type_the_stacks_declare_has_a_registry_entry(stack):
    result = synth_stack(stack) if stack in STACKS else Runner(REPO).synth(stack, ())
    types = {r["type"] for r in result.resources if r["custom"]}
    assert types - set(REGISTRY) - set(FREE) == set(), "add them to stacks/cost/registry.py"
    # An OCI reference (oci://<registry>/<path>/<chart>) is priced by its chart's name.
    charts = {
        r["inputs"]["chart"].rsplit("/", 1)[-1] for r in result.of_type("kubernetes:helm.sh/v3:Release")
    }
    assert charts - set(CHARTS) == set()
    e = estimate(result, PRICES, load_usage(DEFAULT_USAGE, usage_schema()))
    assert e.unpriced == []


def test_an_unknown_type_is_reported_unpriced_not_free():
    result = SynthResult("p", "t", [resource("aws:neptune/cluster:Cluster", "graph", {})])
    e = estimate(result, PRICES, Usage())
    assert e.unpriced == [("aws:neptune/cluster:Cluster", "graph")] and e.total == 0


def test_an_unknown_chart_is_reported_unpriced():
    release = resource("kubernetes:helm.sh/v3:Release", "r", {"chart": "postgresql", "values": {}})
    e = estimate(SynthResult("p", "t", [release]), PRICES, Usage())
    assert e.unpriced == [("kubernetes:helm.sh/v3:Release chart postgresql", "r")]


def test_a_stateless_chart_that_asks_for_volumes_is_an_error():
    release = resource(
        "kubernetes:helm.sh/v3:Release",
        "j",
        {"chart": "jaeger", "values": {"persistence": {"enabled": True}}},
    )
    with pytest.raises(CostError, match="jaeger: its values ask for persistent volumes"):
        estimate(SynthResult("p", "t", [release]), PRICES, Usage())


def test_an_instance_type_without_a_price_names_the_priced_ones():
    ng = resource("aws:eks/nodeGroup:NodeGroup", "ng", {"instanceTypes": ["m6i.large2"]})
    with pytest.raises(CostError) as caught:
        estimate(SynthResult("p", "t", [ng]), PRICES, Usage())
    assert "no price 'ec2.linux.m6i.large2' for eu-west-1; did you mean 'ec2.linux.m6i.large'?" in str(
        caught.value
    )


def test_staging_costs_less_than_production_by_its_nat_gateways_and_nodes():
    usage = load_usage(DEFAULT_USAGE, usage_schema())
    staging, production = (estimate(synth_stack(s), PRICES, usage) for s in STACKS)
    assert staging.fixed < production.fixed
    nodes = {e.stack: r for e in (staging, production) for r in e.resources if r.type.endswith("NodeGroup")}
    # staging: 2 x t3.large spot, 2 x 50 GB; production: 2 x m6i.large on-demand ($0.107 x 730 h),
    # 2 x 50 GB ($0.088 a GB-month)
    assert round(nodes["staging"].fixed, 2) == 62.06 and round(nodes["production"].fixed, 2) == 165.02
    nats = {
        e.stack: sum(1 for r in e.resources if r.type.endswith("NatGateway")) for e in (staging, production)
    }
    assert nats == {"staging": 1, "production": 3}


# ---------------------------------------------------------------------------------------------
# Usage file and budget: bad input is one line naming the key, the value and what is allowed


def write_usage(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "usage.yaml"
    path.write_text(text)
    return path


def test_fails_when_the_usage_file_has_an_unknown_key(tmp_path):
    path = write_usage(tmp_path, "defaults:\n  aws:ec2/natGateway:NatGateway: {monthlyDataProcesedGb: 5}\n")
    with pytest.raises(CostError) as caught:
        load_usage(path, usage_schema())
    assert str(caught.value) == (
        "usage.yaml: defaults.aws:ec2/natGateway:NatGateway.monthlyDataProcesedGb: unknown key; "
        "did you mean 'monthlyDataProcessedGb'? (allowed: monthlyDataProcessedGb)"
    )


def test_fails_when_the_usage_file_names_a_type_without_usage(tmp_path):
    path = write_usage(tmp_path, "defaults:\n  aws:eks/cluster:Cluster: {hours: 5}\n")
    with pytest.raises(
        CostError, match=r"defaults\.aws:eks/cluster:Cluster: no usage-based price .*types with usage: "
    ):
        load_usage(path, usage_schema())


def test_fails_when_a_usage_figure_is_not_a_number(tmp_path):
    path = write_usage(tmp_path, "resources:\n  cluster-logs: {monthlyIngestedGb: lots}\n")
    with pytest.raises(CostError) as caught:
        load_usage(path, usage_schema())
    assert (
        str(caught.value)
        == "usage.yaml: resources.cluster-logs.monthlyIngestedGb: must be a number >= 0 (got 'lots')"
    )


def test_fails_when_a_resource_override_uses_another_types_key():
    usage = Usage(resources={"nat": {"storageGb": 5.0}})
    with pytest.raises(CostError, match=r"resources\.nat\.storageGb: not a usage key of .*NatGateway"):
        estimate(SynthResult("p", "t", [resource("aws:ec2/natGateway:NatGateway", "nat", {})]), PRICES, usage)


@pytest.mark.parametrize("text", ["abc", "-5", "nan", "inf", ""])
def test_fails_when_the_budget_is_not_a_number(text):
    with pytest.raises(CostError) as caught:
        parse_budget(text)
    assert str(caught.value) == f"--max: must be a number of dollars a month, >= 0 (got {text!r})"


def test_fails_when_the_region_has_no_price_data():
    with pytest.raises(CostError) as caught:
        load_prices("eu-west-2")
    assert str(caught.value) == (
        "aws:region: no price data for 'eu-west-2'; did you mean 'eu-west-1'? "
        "(regions priced: eu-west-1; add eu-west-2.yaml under stacks/cost/prices/)"
    )


# ---------------------------------------------------------------------------------------------
# The command line


@pytest.fixture(scope="module")
def runner() -> Runner:
    r = Runner(REPO)
    for stack in STACKS:
        r.cache[(stack, ())] = synth_stack(stack)
    return r


def test_cost_prints_a_table_per_component_and_the_totals(runner, capsys):
    assert main(["staging"], REPO, runner) == 0
    out = capsys.readouterr().out
    assert "EksCluster cluster" in out and "Network network" in out
    assert "EKS control plane (standard support)" in out and "$73.00" in out
    total = [line for line in out.splitlines() if line.startswith("Total ")]
    assert len(total) == 1


def test_cost_json_adds_up(runner, capsys):
    assert main(["production", "--format", "json"], REPO, runner) == 0
    doc = json.loads(capsys.readouterr().out)
    lines = [line for r in doc["resources"] for line in r["lines"]]
    assert round(sum(line["monthly"] for line in lines if not line["usageBased"]), 2) == doc["baseline"]
    assert round(doc["baseline"] + doc["usage"], 2) == doc["total"]
    assert doc["unpriced"] == [] and doc["region"] == "eu-west-1"


def test_budget_exceeded_exits_1_and_within_exits_0(runner, capsys):
    assert main(["staging", "--max", "10"], REPO, runner) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is over the budget --max 10" in err[0]
    assert main(["staging", "--max", "100000"], REPO, runner) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["staging", "--max", "cheap"], "--max: must be a number of dollars a month, >= 0 (got 'cheap')"),
        (
            ["staging", "--set", "network.nat"],
            "--set: expected KEY=VALUE, e.g. network.nat=per-az (got 'network.nat')",
        ),
        (["staging", "--format", "csv"], "invalid choice: 'csv'"),
        (["nosuchstack"], "Pulumi.nosuchstack.yaml: no such stack file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(runner, capsys, argv, message):
    assert main(argv, REPO, runner) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_an_unknown_region_exits_2_naming_the_regions_priced(runner, capsys):
    assert main(["staging", "--set", "aws:region=ap-south-2"], REPO, runner) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("aws:region: no price data for 'ap-south-2'")


def test_diff_of_two_configs_shows_what_per_az_nat_costs(runner, capsys):
    assert (
        main(
            ["diff", "staging", "staging", "--set-b", "network.nat=per-az", "--format", "json"], REPO, runner
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    # staging has two AZs: one more NAT gateway (35.04), its address (3.65), its traffic (4.80)
    assert doc["change"] == {"baseline": 38.69, "usage": 4.80, "total": 43.49}


def test_readme_figures_are_the_ones_the_command_computes(runner):
    text = (REPO / "README.md").read_text()
    assert "<!-- python -m stacks cost" in text
    assert render_readme(text, runner) == text, "run `python -m stacks cost readme` and commit README.md"


def test_the_stacks_command_line_hands_cost_its_arguments(capsys):
    from stacks.__main__ import main as stacks_main

    assert stacks_main(["--project-dir", str(REPO), "cost", "staging", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| Component | Baseline | Usage | Total |") and "| **Total** |" in out
    with pytest.raises(SystemExit) as caught:
        stacks_main(["cost", "--help"])
    assert caught.value.code == 0 and "cost diff A B" in capsys.readouterr().out
