"""Edge: the load balancer controller, certificate and its validation, external-dns, the WAF, the
IngressClass every public app uses, the IAM the controllers get, and the config errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pulumi
import pulumi_kubernetes as k8s
import pytest
from pydantic import ValidationError

from components import versions
from components.edge import MANAGED_RULE_GROUPS, TLS13_POLICY, Edge, EdgeArgs, PublicArgs, host_in_zone
from components.edge._iam import CLUSTER_TAG, external_dns_policy, load_balancer_controller_policy
from components.testing import SynthResult, synth
from tests._chart_keys import CHARTS, unknown_keys

ZONE = {"name": "example.com", "id": "Z0123456789ABCDEFGHIJ"}
VPC_ARN = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1"


def edge_program(args: dict[str, Any] | None = None, protect: bool = False) -> SynthResult:
    roles: list[tuple[str, str, str, Any]] = []

    def program() -> None:
        provider = k8s.Provider("k8s", k8s.ProviderArgs(kubeconfig="{}"))

        def irsa(name: str, namespace: str, sa: str, policy: Any) -> pulumi.Output[str]:
            roles.append((name, namespace, sa, policy))
            pulumi.export(f"policy-{name}", policy)
            return pulumi.Output.from_input(f"arn:aws:iam::123456789012:role/{name}")

        Edge(
            "edge",
            EdgeArgs.model_validate({"zone": ZONE, **(args or {})}),
            cluster_name="demo",
            vpc_id="vpc-1",
            region="eu-west-1",
            owner_id="acme-dev",
            irsa=irsa,
            protect=protect,
            opts=pulumi.ResourceOptions(providers={"kubernetes": provider}),
        )

    return synth(program, project="acme", stack="dev", config={"aws:region": "eu-west-1"})


@pytest.fixture(scope="module")
def edge() -> SynthResult:
    return edge_program()


def manifest(result: SynthResult, kind: str) -> dict[str, Any]:
    [found] = [m for m in result.manifests if m["kind"] == kind]
    return found


# ---------------------------------------------------------------------------------------------
# Controller and external-dns


def test_the_controller_chart_is_pinned_with_two_replicas_and_the_cluster_region_and_vpc(edge):
    release = edge.named("edge-load-balancer-controller")
    inputs = release["inputs"]
    chart, version, repo = versions.AWS_LOAD_BALANCER_CONTROLLER
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (chart, version, repo)
    assert inputs["namespace"] == "kube-system"
    values = inputs["values"]
    assert values["replicaCount"] == 2
    # IMDS is out of the pods' reach (hop limit 1): the controller cannot discover these itself.
    assert (values["clusterName"], values["region"], values["vpcId"]) == ("demo", "eu-west-1", "vpc-1")
    assert values["serviceAccount"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/load-balancer-controller"
    }
    assert values["defaultSSLPolicy"] == TLS13_POLICY
    assert values["defaultTargetType"] == "ip"
    assert (values["enableWaf"], values["enableShield"], values["enableWafv2"]) == (False, False, True)
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1}


def test_the_chart_s_own_ingress_class_is_off_so_no_ingress_can_bypass_the_params(edge):
    values = edge.named("edge-load-balancer-controller")["inputs"]["values"]
    assert values["createIngressClassResource"] is False
    assert values["ingressClassParams"] == {"create": False}


def test_external_dns_is_pinned_scoped_to_the_zone_and_owns_its_records_by_stack(edge):
    inputs = edge.named("edge-external-dns")["inputs"]
    chart, version, repo = versions.EXTERNAL_DNS
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (chart, version, repo)
    values = inputs["values"]
    assert values["policy"] == "upsert-only"
    assert values["txtOwnerId"] == "acme-dev"
    assert values["domainFilters"] == ["example.com"]
    assert "--zone-id-filter=Z0123456789ABCDEFGHIJ" in values["extraArgs"]
    assert values["sources"] == ["ingress"]


def test_external_dns_publishes_only_the_ingresses_of_the_public_class(edge):
    # Without it external-dns takes every Ingress of the cluster (its --ingress-class "defaults to
    # any class": kubernetes-sigs/external-dns v0.21.0, docs/flags.md), so an internal load
    # balancer's host would be published in the public zone.
    assert "--ingress-class=public" in edge.named("edge-external-dns")["inputs"]["values"]["extraArgs"]


def test_the_dns_policy_can_be_sync_but_only_from_the_allowed_values():
    assert (
        edge_program({"dnsPolicy": "sync"}).named("edge-external-dns")["inputs"]["values"]["policy"] == "sync"
    )
    with pytest.raises(ValidationError, match="upsert-only"):
        EdgeArgs.model_validate({"zone": ZONE, "dnsPolicy": "delete-everything"})


# ---------------------------------------------------------------------------------------------
# Certificate


def test_the_certificate_covers_the_zone_and_one_label_under_it_validated_by_dns(edge):
    cert = edge.of_type("aws:acm/certificate:Certificate")[0]["inputs"]
    assert cert["domainName"] == "example.com"
    assert cert["subjectAlternativeNames"] == ["*.example.com"]
    assert cert["validationMethod"] == "DNS"


def test_the_validation_record_is_a_declared_resource_in_the_zone_and_validation_waits_for_it(edge):
    [record] = edge.of_type("aws:route53/record:Record")
    assert record["inputs"]["zoneId"] == "Z0123456789ABCDEFGHIJ"
    assert record["inputs"]["type"] == "CNAME"
    assert record["inputs"]["name"].endswith(".example.com.")
    [validation] = edge.of_type("aws:acm/certificateValidation:CertificateValidation")
    cert = edge.of_type("aws:acm/certificate:Certificate")[0]
    assert record["urn"] in validation["dependencies"]
    assert cert["urn"] in validation["dependencies"]


def test_the_listener_gets_the_certificate_only_through_the_awaited_validation(edge):
    [validation] = edge.of_type("aws:acm/certificateValidation:CertificateValidation")
    params = edge.named("edge-ingress-class-params")
    assert validation["urn"] in params["dependencies"]
    assert params["inputs"]["spec"]["certificateArn"] == [validation["inputs"]["certificateArn"]]


# ---------------------------------------------------------------------------------------------
# WAF


def waf_rules(result: SynthResult) -> list[dict[str, Any]]:
    [acl] = result.of_type("aws:wafv2/webAcl:WebAcl")
    rules: list[dict[str, Any]] = acl["inputs"]["rules"]
    return rules


def test_the_web_acl_is_regional_and_starts_with_a_per_ip_rate_limit(edge):
    [acl] = edge.of_type("aws:wafv2/webAcl:WebAcl")
    assert acl["inputs"]["scope"] == "REGIONAL"
    rate = waf_rules(edge)[0]
    statement = rate["statement"]["rateBasedStatement"]
    assert statement == {"aggregateKeyType": "IP", "limit": 1000, "evaluationWindowSec": 300}
    assert "block" in rate["action"]


def test_the_rate_limit_and_window_come_from_config():
    result = edge_program({"waf": {"rateLimit": 200, "rateWindowSeconds": 60}})
    statement = waf_rules(result)[0]["statement"]["rateBasedStatement"]
    assert (statement["limit"], statement["evaluationWindowSec"]) == (200, 60)


def test_the_web_acl_runs_the_aws_managed_common_bad_inputs_and_ip_reputation_groups(edge):
    groups = [r["statement"]["managedRuleGroupStatement"] for r in waf_rules(edge)[1:]]
    assert {(g["vendorName"], g["name"]) for g in groups} == {("AWS", g) for g in MANAGED_RULE_GROUPS}
    assert set(MANAGED_RULE_GROUPS) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    priorities = [r["priority"] for r in waf_rules(edge)]
    assert len(set(priorities)) == len(priorities)


def test_waf_logs_go_to_an_encrypted_aws_waf_logs_group_with_retention(edge):
    [group] = edge.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group["inputs"]["name"] == "aws-waf-logs-acme-dev"  # WAF requires the prefix
    assert group["inputs"]["retentionInDays"] == 90
    assert group["inputs"]["kmsKeyId"].startswith("arn:aws:kms:")
    [logging] = edge.of_type("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging["inputs"]["logDestinationConfigs"] == [
        group["inputs"]["name"] and logging["inputs"]["logDestinationConfigs"][0]
    ]
    assert logging["inputs"]["logDestinationConfigs"][0].endswith(":log-group:aws-waf-logs-acme-dev")
    redacted = {f["singleHeader"]["name"] for f in logging["inputs"]["redactedFields"]}
    assert redacted == {"authorization", "cookie"}
    [policy] = edge.of_type("aws:cloudwatch/logResourcePolicy:LogResourcePolicy")
    assert policy["urn"] in logging["dependencies"]


@pytest.mark.parametrize("limit", [0, 9])
def test_fails_when_the_rate_limit_is_under_waf_s_minimum_of_10(limit):
    with pytest.raises(ValidationError, match="greater than or equal to 10"):
        EdgeArgs.model_validate({"zone": ZONE, "waf": {"rateLimit": limit}})


def test_fails_when_the_rate_window_is_not_one_waf_offers():
    with pytest.raises(ValidationError, match="60, 120, 300 or 600"):
        EdgeArgs.model_validate({"zone": ZONE, "waf": {"rateWindowSeconds": 30}})


# ---------------------------------------------------------------------------------------------
# IngressClass


def test_the_ingress_class_params_fix_scheme_targets_tls_redirect_certificate_waf_and_group(edge):
    params = manifest(edge, "IngressClassParams")
    assert params["apiVersion"] == "elbv2.k8s.aws/v1beta1"
    spec = params["spec"]
    assert spec["scheme"] == "internet-facing"
    assert spec["targetType"] == "ip"
    assert spec["sslPolicy"] == TLS13_POLICY
    assert spec["sslRedirectPort"] == "443"
    assert spec["wafv2AclArn"].startswith("arn:aws:wafv2:")
    assert spec["group"] == {"name": "acme-dev"}
    attributes = {a["key"]: a["value"] for a in spec["loadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "false"


def test_production_turns_on_the_load_balancer_s_deletion_protection():
    spec = manifest(edge_program(protect=True), "IngressClassParams")["spec"]
    attributes = {a["key"]: a["value"] for a in spec["loadBalancerAttributes"]}
    assert attributes["deletion_protection.enabled"] == "true"


def test_the_ingress_class_names_its_params_and_waits_for_the_controller_that_serves_its_crd(edge):
    ingress_class = manifest(edge, "IngressClass")
    assert ingress_class["spec"]["controller"] == "ingress.k8s.aws/alb"
    assert ingress_class["spec"]["parameters"] == {
        "apiGroup": "elbv2.k8s.aws",
        "kind": "IngressClassParams",
        "name": "public",
    }
    params = edge.named("edge-ingress-class-params")
    controller = edge.named("edge-load-balancer-controller")
    assert controller["urn"] in params["dependencies"]
    assert params["urn"] in edge.named("edge-ingress-class")["dependencies"]


def test_kubernetes_children_use_the_provider_given_in_opts(edge):
    provider = edge.named("k8s")["urn"]
    kube = [r for r in edge.resources if r["type"].startswith("kubernetes:")]
    assert kube and all(r["provider"] == provider for r in kube)


# ---------------------------------------------------------------------------------------------
# IAM


def controller_policy() -> dict[str, Any]:
    return load_balancer_controller_policy(cluster_name="demo", vpc_arn=VPC_ARN)


#: Writes AWS cannot scope to a resource ARN before it exists (or whose ARN embeds a generated ID);
#: each is still conditioned on this cluster's tag where the API allows it.
UNSCOPABLE_WRITES = {
    "iam:CreateServiceLinkedRole",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DeleteSecurityGroup",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:SetWebAcl",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:SetRulePriorities",
}


def _is_read(action: str) -> bool:
    verb = action.split(":", 1)[1]
    return verb.startswith(("Describe", "Get", "List"))


def test_the_controller_policy_has_no_wildcard_action_and_unscoped_writes_only_where_aws_requires(edge):
    for statement in controller_policy()["Statement"]:
        assert "*" not in statement["Action"]
        if statement["Resource"] == "*":
            writes = {a for a in statement["Action"] if not _is_read(a)}
            assert writes <= UNSCOPABLE_WRITES, statement["Sid"]


def test_every_condition_on_the_cluster_tag_names_this_cluster_not_any_cluster():
    conditions = [s.get("Condition", {}) for s in controller_policy()["Statement"]]
    tag_values = [
        value
        for condition in conditions
        for operator, pairs in condition.items()
        if operator == "StringEquals"
        for key, value in pairs.items()
        if key.endswith(CLUSTER_TAG)
    ]
    assert tag_values and set(tag_values) == {"demo"}
    # Deleting and modifying load balancers and security groups is limited to this cluster's.
    for statement in controller_policy()["Statement"]:
        if any(
            a.endswith((":DeleteLoadBalancer", ":DeleteSecurityGroup", ":DeleteTargetGroup"))
            for a in statement["Action"]
        ):
            assert statement["Condition"]["StringEquals"][f"aws:ResourceTag/{CLUSTER_TAG}"] == "demo"


def test_security_group_rules_the_controller_may_change_unconditionally_are_in_this_vpc_only():
    for statement in controller_policy()["Statement"]:
        if "ec2:AuthorizeSecurityGroupIngress" in statement["Action"] and "Condition" in statement:
            condition = statement["Condition"]
            assert condition.get("ArnEquals") == {
                "ec2:Vpc": VPC_ARN
            } or f"aws:ResourceTag/{CLUSTER_TAG}" in condition.get("StringEquals", {})


def test_the_controller_role_gets_the_policy_for_its_cluster_and_vpc(edge):
    policy = json.loads(edge.outputs["policy-load-balancer-controller"])
    assert policy == controller_policy()


def test_external_dns_may_change_records_of_its_zone_only():
    policy = external_dns_policy(zone_id="Z0123456789ABCDEFGHIJ")
    writes = [s for s in policy["Statement"] if "route53:ChangeResourceRecordSets" in s["Action"]]
    assert [s["Resource"] for s in writes] == [["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]]
    for statement in policy["Statement"]:
        if statement["Resource"] == ["*"]:
            assert all(_is_read(a) for a in statement["Action"])


# ---------------------------------------------------------------------------------------------
# Args


def test_hosts_in_the_zone_are_the_zone_and_one_label_under_it():
    assert host_in_zone("example.com", "example.com")
    assert host_in_zone("api.example.com", "example.com")
    assert not host_in_zone("a.b.example.com", "example.com")  # the wildcard covers one label
    assert not host_in_zone("api.example.org", "example.com")
    assert not host_in_zone("badexample.com", "example.com")


@pytest.mark.parametrize("path", ["api", "", "/a b"])
def test_fails_when_a_public_path_does_not_start_with_a_slash(path):
    with pytest.raises(ValidationError, match="must start with '/'"):
        PublicArgs.model_validate({"host": "api.example.com", "paths": [path]})


def test_fails_when_a_public_app_in_production_turns_tls_off():
    with pytest.raises(ValidationError, match="production serves public apps over HTTPS only"):
        PublicArgs.model_validate(
            {"host": "api.example.com", "tls": False}, context={"environment": "production"}
        )
    # Staging cannot either: the group's one redirect would make an HTTP-only app unreachable.
    with pytest.raises(ValidationError, match="redirects all HTTP to HTTPS: an HTTP-only"):
        PublicArgs.model_validate(
            {"host": "api.example.com", "tls": False}, context={"environment": "staging"}
        )


def test_fails_when_the_tls_policy_is_not_a_tls13_policy():
    with pytest.raises(ValidationError, match="TLS13"):
        EdgeArgs.model_validate({"zone": ZONE, "tlsPolicy": "ELBSecurityPolicy-2016-08"})


def test_fails_when_production_runs_one_controller_replica():
    with pytest.raises(ValidationError, match=">= 2 in production"):
        EdgeArgs.model_validate(
            {"zone": ZONE, "controllerReplicas": 1}, context={"environment": "production"}
        )


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ({"name": "Example.COM", "id": "Z0123456789ABCDEFGHIJ"}, "lowercase DNS domain"),
        ({"name": "example.com", "id": "zone-1"}, "hosted zone ID"),
    ],
)
def test_fails_when_the_zone_is_not_a_domain_and_a_zone_id(zone, message):
    with pytest.raises(ValidationError, match=message):
        EdgeArgs.model_validate({"zone": zone})


# ---------------------------------------------------------------------------------------------
# Chart values against the pinned charts
#
# tests/charts/ holds data read from the charts at the versions components/versions.py pins:
# - external-dns-<version>.values.schema.json: kubernetes-sigs/external-dns at tag
#   external-dns-helm-chart-1.21.1 (commit 9f26451346774099a8b3e3e5cc46a53bf2fd1461),
#   charts/external-dns/values.schema.json, with the `description` keys removed (they validate
#   nothing). Helm validates a release's values against it before rendering.
# - aws-load-balancer-controller-<version>.values-keys.json: the key tree of
#   kubernetes-sigs/aws-load-balancer-controller v3.5.0 (commit
#   11eb202c97e4ae2ee45e0658c4cde9a4b59f33d4) helm/aws-load-balancer-controller/values.yaml, a
#   key whose default is a non-empty mapping holding its own keys, any other key null. That chart
#   ships no values.schema.json, so a misspelt key would be ignored by Helm without a word.


def _schema_problems(values: dict[str, Any]) -> list[str]:
    _, version, _ = versions.EXTERNAL_DNS
    schema = json.loads((CHARTS / f"external-dns-{version}.values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    problems = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(values)]
    # The schema's top level admits unknown keys (additionalProperties: true): a misspelt key
    # would be ignored silently, so every key must be one the chart knows.
    problems += [f"{key}: not a value of the chart" for key in values if key not in schema["properties"]]
    return problems


def test_external_dns_values_are_valid_for_the_pinned_chart_s_schema(edge):
    values = edge.named("edge-external-dns")["inputs"]["values"]
    assert _schema_problems(values) == []
    # The same check refuses what the chart refuses.
    assert _schema_problems({**values, "policy": "delete-all"})
    assert _schema_problems({**values, "txtOwnerID": "x"})


def test_the_controller_values_are_keys_of_the_pinned_chart(edge):
    _, version, _ = versions.AWS_LOAD_BALANCER_CONTROLLER
    known = json.loads((CHARTS / f"aws-load-balancer-controller-{version}.values-keys.json").read_text())
    values = edge.named("edge-load-balancer-controller")["inputs"]["values"]
    assert unknown_keys(values, known) == []
    assert unknown_keys({**values, "enableWafV2": True, "serviceAccount": {"craete": True}}, known) == [
        "serviceAccount.craete",
        "enableWafV2",
    ]


def test_large_bodies_are_blocked_by_default_and_counted_when_the_config_says_so(edge):
    def common(result: SynthResult) -> dict[str, Any]:
        [rule] = [r for r in waf_rules(result) if r["name"] == "AWSManagedRulesCommonRuleSet"]
        statement: dict[str, Any] = rule["statement"]["managedRuleGroupStatement"]
        return statement

    assert "ruleActionOverrides" not in common(edge)
    relaxed = common(edge_program({"waf": {"blockLargeBodies": False}}))
    assert relaxed["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    # Only that rule of that group: the other managed groups are untouched.
    others = [r for r in waf_rules(edge_program({"waf": {"blockLargeBodies": False}}))[1:]]
    assert sum("ruleActionOverrides" in r["statement"]["managedRuleGroupStatement"] for r in others) == 1
