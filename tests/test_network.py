"""Tests for Network: the subnet plan, NAT strategies, EKS tags, flow logs and the S3 endpoint."""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Literal

import pulumi
import pytest

from components.network import Network, NetworkArgs, SubnetPair, subnet_plan
from components.testing import ACCOUNT_ID, SynthResult, synth
from tests.conftest import config_problems, synth_stack

SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE = "aws:ec2/route:Route"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"

#: What each stack file asks for: AZs and NAT gateways.
EXPECTED = {"staging": (2, "single", 1), "production": (3, "per-az", 3)}


def network_alone(
    args: NetworkArgs,
    cluster_name: str = "demo",
    environment: Literal["staging", "production"] = "production",
) -> SynthResult:
    def program() -> None:
        net = Network("net", args, cluster_name=cluster_name, tags={"project": "p"}, environment=environment)
        pulumi.export("vpcId", net.vpc_id)
        pulumi.export("private", net.private_subnet_ids)
        pulumi.export("public", net.public_subnet_ids)
        pulumi.export("azs", net.availability_zones)

    return synth(program, project="p", stack="test")


def subnets(result: SynthResult, tier: str) -> list[dict[str, Any]]:
    return [r for r in result.of_type(SUBNET) if r["name"].startswith(f"network-{tier}-")]


def cidrs(result: SynthResult) -> dict[str, str]:
    return {r["name"]: r["inputs"]["cidrBlock"] for r in result.of_type(SUBNET)}


# --- defaults on both stacks -------------------------------------------------------------------


def test_each_stack_spreads_subnets_over_its_az_count(stack: str, synthesized: SynthResult) -> None:
    azs, _, _ = EXPECTED[stack]
    for tier in ("public", "private"):
        found = subnets(synthesized, tier)
        assert len(found) == azs
        assert len({s["inputs"]["availabilityZone"] for s in found}) == azs


def test_each_stack_has_the_nat_gateways_its_strategy_implies(stack: str, synthesized: SynthResult) -> None:
    azs, _, nats = EXPECTED[stack]
    assert len(synthesized.of_type(NAT)) == nats
    private_routes = [r for r in synthesized.of_type(ROUTE) if "private-default" in r["name"]]
    assert len(private_routes) == azs
    assert len({r["inputs"]["natGatewayId"] for r in private_routes}) == nats


def test_subnets_are_tagged_for_eks_load_balancers_and_discovery(
    stack: str, synthesized: SynthResult
) -> None:
    cluster = synthesized.outputs["clusterName"]
    for s in subnets(synthesized, "public"):
        assert s["inputs"]["tags"]["kubernetes.io/role/elb"] == "1"
        assert "kubernetes.io/role/internal-elb" not in s["inputs"]["tags"]
    for s in subnets(synthesized, "private"):
        assert s["inputs"]["tags"]["kubernetes.io/role/internal-elb"] == "1"
        assert "kubernetes.io/role/elb" not in s["inputs"]["tags"]
    for s in synthesized.of_type(SUBNET):
        assert s["inputs"]["tags"][f"kubernetes.io/cluster/{cluster}"] == "shared"
        assert s["inputs"]["mapPublicIpOnLaunch"] is False


def test_subnets_follow_the_fixed_slot_plan_inside_the_vpc(stack: str, synthesized: SynthResult) -> None:
    vpc = ipaddress.ip_network(synthesized.of_type("aws:ec2/vpc:Vpc")[0]["inputs"]["cidrBlock"])
    assert str(vpc) == "10.0.0.0/16"
    for name, cidr in cidrs(synthesized).items():
        index = int(name.rsplit("-", 1)[1])
        slot = index + (8 if "-public-" in name else 0)
        assert cidr == f"10.0.{slot * 16}.0/20"
        assert ipaddress.ip_network(cidr).subnet_of(vpc)


def test_vpc_flow_logs_go_to_a_log_group_with_retention(stack: str, synthesized: SynthResult) -> None:
    (flow,) = synthesized.of_type(FLOW_LOG)
    assert flow["inputs"]["trafficType"] == "ALL"
    assert flow["inputs"]["logDestinationType"] == "cloud-watch-logs"
    group = synthesized.named("network-flow-logs")
    assert flow["inputs"]["logDestination"].endswith(group["inputs"]["name"])
    assert group["inputs"]["retentionInDays"] == {"staging": 14, "production": 90}[stack]
    role = synthesized.named("network-flow-logs-role")
    trust = json.loads(role["inputs"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    policy = json.loads(synthesized.named("network-flow-logs-policy")["inputs"]["policy"])
    arn = f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:{group['inputs']['name']}"
    assert policy["Statement"][0]["Resource"] == [arn, f"{arn}:*"]


def test_an_s3_gateway_endpoint_serves_every_route_table(stack: str, synthesized: SynthResult) -> None:
    (endpoint,) = synthesized.of_type(ENDPOINT)
    assert endpoint["inputs"]["vpcEndpointType"] == "Gateway"
    assert endpoint["inputs"]["serviceName"] == "com.amazonaws.eu-west-1.s3"
    tables = synthesized.of_type("aws:ec2/routeTable:RouteTable")
    assert len(endpoint["inputs"]["routeTableIds"]) == len(tables)


def test_every_network_aws_resource_carries_the_base_tags(stack: str, synthesized: SynthResult) -> None:
    network = synthesized.named("network")
    tagged = [r for r in synthesized.children_of(network["urn"]) if "tags" in r["inputs"]]
    assert len(tagged) > 10
    for r in tagged:
        tags = r["inputs"]["tags"]
        assert {"project", "stack", "component", "managed-by"} <= set(tags), r["name"]
        assert tags["component"] == "network"
        assert tags["stack"] == stack


def test_the_default_security_group_is_emptied(stack: str, synthesized: SynthResult) -> None:
    (sg,) = synthesized.of_type("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert not sg["inputs"].get("ingress") and not sg["inputs"].get("egress")


# --- the CIDR plan -----------------------------------------------------------------------------


def test_going_from_two_to_three_azs_leaves_existing_subnet_cidrs_unchanged() -> None:
    two = {
        r["name"]: r["inputs"]["cidrBlock"] for r in network_alone(NetworkArgs(az_count=2)).of_type(SUBNET)
    }
    three = {
        r["name"]: r["inputs"]["cidrBlock"] for r in network_alone(NetworkArgs(az_count=3)).of_type(SUBNET)
    }
    assert len(two) == 4 and len(three) == 6
    assert {name: three[name] for name in two} == two


def test_an_explicit_subnet_plan_is_used_as_given() -> None:
    plan = [SubnetPair(private="10.1.0.0/24", public="10.1.100.0/24")]
    args = NetworkArgs(cidr="10.1.0.0/16", az_count=1, subnets=plan)
    assert subnet_plan(args) == plan
    # One AZ is a staging setting: production refuses it.
    assert sorted(cidrs(network_alone(args, environment="staging")).values()) == [
        "10.1.0.0/24",
        "10.1.100.0/24",
    ]


def test_no_nat_leaves_private_subnets_without_a_default_route() -> None:
    result = network_alone(NetworkArgs(nat="none", az_count=2))
    assert result.of_type(NAT) == []
    assert [r["name"] for r in result.of_type(ROUTE)] == ["net-public-default"]


def test_flow_logs_and_the_s3_endpoint_can_be_turned_off() -> None:
    result = network_alone(NetworkArgs(flow_logs=False, s3_endpoint=False))
    assert result.of_type(FLOW_LOG) == [] and result.of_type(ENDPOINT) == []
    assert result.of_type(LOG_GROUP) == []


def test_the_network_exports_vpc_subnets_and_azs() -> None:
    out = network_alone(NetworkArgs(az_count=2)).outputs
    assert out["vpcId"].startswith("net-vpc")
    assert len(out["private"]) == len(out["public"]) == 2
    assert out["azs"] == ["us-east-1a", "us-east-1b"]


# --- failures, in the stack file's words ---------------------------------------------------------


def test_fails_when_production_has_fewer_than_two_azs() -> None:
    problems = config_problems("production", {"network": {"azCount": 1}})
    assert any("lmagent-infra:network.azCount: must be >= 2 in production" in p for p in problems), problems


def test_staging_may_run_in_one_az() -> None:
    assert NetworkArgs.model_validate({"azCount": 1}, context={"environment": "staging"}).az_count == 1


def test_fails_when_the_vpc_cidr_is_not_a_cidr() -> None:
    problems = config_problems("staging", {"network": {"cidr": "10.0.0.300/16"}})
    assert any(
        "lmagent-infra:network.cidr: must be an IPv4 CIDR" in p and '"10.0.0.300/16"' in p for p in problems
    ), problems


def test_fails_when_the_vpc_cidr_has_host_bits_or_a_bad_size() -> None:
    assert any(
        "network.cidr: must be an IPv4 CIDR" in p
        for p in config_problems("staging", {"network": {"cidr": "10.0.0.1/16"}})
    )
    assert any(
        "network.cidr: must be a /16 to /20" in p
        for p in config_problems("staging", {"network": {"cidr": "10.0.0.0/24"}})
    )


def test_fails_when_explicit_subnets_overlap() -> None:
    plan = [
        {"private": "10.0.0.0/20", "public": "10.0.8.0/24"},
        {"private": "10.0.16.0/20", "public": "10.0.128.0/20"},
    ]
    problems = config_problems("staging", {"network": {"azCount": 2, "subnets": plan}})
    assert any(
        "lmagent-infra:network.subnets: subnets must not overlap: "
        "[0].private 10.0.0.0/20 overlaps [0].public 10.0.8.0/24" in p
        for p in problems
    ), problems


def test_fails_when_explicit_subnets_leave_the_vpc() -> None:
    plan = [
        {"private": "10.0.0.0/20", "public": "10.9.0.0/24"},
        {"private": "10.0.16.0/20", "public": "10.0.128.0/20"},
    ]
    problems = config_problems("staging", {"network": {"azCount": 2, "subnets": plan}})
    assert any(
        "network.subnets: subnets must lie inside the VPC CIDR 10.0.0.0/16: [0].public 10.9.0.0/24" in p
        for p in problems
    ), problems


def test_fails_when_explicit_subnets_cover_fewer_azs_than_az_count() -> None:
    problems = config_problems(
        "staging",
        {"network": {"azCount": 2, "subnets": [{"private": "10.0.0.0/20", "public": "10.0.128.0/20"}]}},
    )
    assert any("network.subnets: must have one entry per AZ: azCount is 2, 1 given" in p for p in problems), (
        problems
    )


def test_fails_when_a_subnet_entry_is_not_a_cidr() -> None:
    plan = [{"private": "nope", "public": "10.0.128.0/20"}] * 2
    problems = config_problems("staging", {"network": {"azCount": 2, "subnets": plan}})
    assert any("network.subnets[0].private: must be an IPv4 CIDR" in p for p in problems), problems


def test_fails_when_the_nat_strategy_is_unknown() -> None:
    problems = config_problems("staging", {"network": {"nat": "two"}})
    assert any(
        "lmagent-infra:network.nat: must be one of 'none', 'single' or 'per-az'" in p and '"two"' in p
        for p in problems
    ), problems


def test_fails_when_flow_log_retention_is_not_one_cloudwatch_accepts() -> None:
    problems = config_problems("staging", {"network": {"flowLogRetentionDays": 10}})
    assert any(
        "network.flowLogRetentionDays: must be one of the CloudWatch Logs retentions" in p for p in problems
    )


@pytest.mark.parametrize("stack_name", ["staging", "production"])
def test_no_subnet_cidrs_overlap_in_either_stack(stack_name: str) -> None:
    nets = [ipaddress.ip_network(c) for c in cidrs(synth_stack(stack_name)).values()]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
