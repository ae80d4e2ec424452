"""Edge: the stack's public HTTPS entry, one internet-facing ALB shared by every public app.

What it declares (charts pinned in `components/versions.py`):

- The AWS Load Balancer Controller in `kube-system` (2 replicas, IRSA with the narrowed policy of
  `_iam.py`), which turns each public app's Ingress into rules on one shared ALB: the IngressClass
  `public` and its IngressClassParams fix what every such Ingress gets (internet-facing, IP
  targets, the TLS 1.3 policy, HTTP redirected to HTTPS, the certificate, the web ACL, one
  IngressGroup), so an app cannot opt out of them.
- An ACM certificate for the zone and `*.<zone>`, validated by DNS: its validation record is a
  resource of its own (so `preview` shows it) and the IngressClassParams take the ARN from the
  `CertificateValidation`, so no listener uses a certificate before it is issued. One wildcard
  certificate keeps adding an app from replacing a certificate the listener is using.
- external-dns in `kube-system`, writing the public hosts' records into the zone and nothing
  else (zone-scoped IAM, `domainFilters`, a per-stack `txtOwnerId`).
- A regional WAFv2 web ACL: a per-client-IP rate limit and AWS's common, known-bad-inputs and
  IP-reputation rule groups, logging to `aws-waf-logs-<owner>` (the prefix WAF requires) with
  retention and a KMS key, the Authorization and Cookie headers redacted.

The controller's admission webhook (port 9443) is reached by the control plane through the EKS
cluster security group, which the managed node groups keep (their launch template names no
security groups of its own; `tests/test_edge.py` holds that true).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import versions
from components._helm import pinned_release
from components._log_key import encrypted_log_group
from components.edge import _iam, _values
from components.edge._args import EdgeArgs, WafArgs
from components.monitoring import IrsaRoleFactory, irsa_role_arn

__all__ = ["INGRESS_CLASS", "Edge"]

#: The IngressClass every public app's Ingress names.
INGRESS_CLASS = "public"

#: AWS managed rule groups in the web ACL, in evaluation order after the rate limit (AWS WAF
#: developer guide, "AWS Managed Rules rule groups list"): the baseline group, requests known to
#: exploit vulnerabilities, and IP addresses Amazon threat intelligence marks as malicious.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
)


class Edge(pulumi.ComponentResource):
    """The load balancer controller, certificate, DNS and WAF behind every public app."""

    ingress_class_name: pulumi.Output[str]
    certificate_arn: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str]
    zone_name: str

    def __init__(
        self,
        name: str,
        args: EdgeArgs,
        *,
        cluster_name: pulumi.Input[str],
        vpc_id: pulumi.Input[str],
        region: str,
        owner_id: str,
        irsa: IrsaRoleFactory,
        cluster_dns: pulumi.Resource | None = None,
        tags: Mapping[str, str] | None = None,
        protect: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`owner_id` names this stack's DNS records, load balancer group and WAF resources (e.g.
        `<project>-<stack>`); `irsa` makes the controllers' IAM roles; `cluster_dns` (the coredns
        add-on) is what the controllers' pods need to become ready; the Kubernetes provider comes
        from `opts` (`provider` or `providers`) like any component's."""
        super().__init__("lmagent:components:Edge", name, None, opts)
        self._name = name
        self._tags = {**(tags or {}), "component": "edge"}
        self._dns = [cluster_dns] if cluster_dns is not None else []
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id

        vpc_arn = pulumi.Output.all(account, vpc_id).apply(
            lambda a: f"arn:aws:ec2:{region}:{a[0]}:vpc/{a[1]}"
        )
        controller_policy = pulumi.Output.all(cluster_name, vpc_arn).apply(
            lambda a: _iam.dumps(_iam.load_balancer_controller_policy(cluster_name=a[0], vpc_arn=a[1]))
        )
        where = f"Edge {name!r}"
        controller_role = irsa_role_arn(
            where,
            irsa(
                "load-balancer-controller",
                "kube-system",
                _values.CONTROLLER_SERVICE_ACCOUNT,
                controller_policy,
            ),
        )
        controller = self._release(
            "load-balancer-controller",
            versions.AWS_LOAD_BALANCER_CONTROLLER,
            _values.CONTROLLER_RELEASE,
            _values.controller_values(
                args, cluster_name=cluster_name, region=region, vpc_id=vpc_id, role_arn=controller_role
            ),
        )
        dns_role = irsa_role_arn(
            where,
            irsa(
                "external-dns",
                "kube-system",
                _values.EXTERNAL_DNS_SERVICE_ACCOUNT,
                _iam.dumps(_iam.external_dns_policy(zone_id=args.zone.id)),
            ),
        )
        self._release(
            "external-dns",
            versions.EXTERNAL_DNS,
            _values.EXTERNAL_DNS_RELEASE,
            _values.external_dns_values(
                args, owner_id=owner_id, region=region, role_arn=dns_role, ingress_class=INGRESS_CLASS
            ),
        )

        certificate_arn = self._certificate(args.zone.name, args.zone.id, protect)
        web_acl = self._web_acl(args, owner_id, account, region, protect)

        params = k8s.apiextensions.CustomResource(
            f"{name}-ingress-class-params",
            api_version="elbv2.k8s.aws/v1beta1",
            kind="IngressClassParams",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=INGRESS_CLASS, labels=self._labels()),
            spec={
                "scheme": "internet-facing",
                "targetType": "ip",
                "ipAddressType": "ipv4",
                # One load balancer for every public app of the stack.
                "group": {"name": owner_id},
                "certificateArn": [certificate_arn],
                "sslPolicy": args.tls_policy,
                "sslRedirectPort": "443",
                "wafv2AclArn": web_acl.arn,
                "loadBalancerAttributes": [
                    {"key": "deletion_protection.enabled", "value": "true" if protect else "false"},
                    # Requests with malformed headers are dropped rather than passed to the apps.
                    {"key": "routing.http.drop_invalid_header_fields.enabled", "value": "true"},
                ],
                "tags": [{"key": k, "value": v} for k, v in sorted(self._tags.items())],
            },
            # The IngressClassParams CRD ships with the controller's chart.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[controller]),
        )
        ingress_class = k8s.networking.v1.IngressClass(
            f"{name}-ingress-class",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=INGRESS_CLASS, labels=self._labels()),
            spec=k8s.networking.v1.IngressClassSpecArgs(
                controller="ingress.k8s.aws/alb",
                parameters=k8s.networking.v1.IngressClassParametersReferenceArgs(
                    api_group="elbv2.k8s.aws", kind="IngressClassParams", name=INGRESS_CLASS
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[params]),
        )

        self.ingress_class_name = ingress_class.metadata.apply(lambda m: str(m.name))
        self.certificate_arn = certificate_arn
        self.web_acl_arn = web_acl.arn
        self.zone_name = args.zone.name
        self.register_outputs(
            {
                "ingressClassName": self.ingress_class_name,
                "certificateArn": self.certificate_arn,
                "webAclArn": self.web_acl_arn,
                "zoneName": self.zone_name,
            }
        )

    # -----------------------------------------------------------------------------------------

    def _labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/name": "edge",
            "app.kubernetes.io/instance": self._name,
            "app.kubernetes.io/component": "ingress",
            "app.kubernetes.io/part-of": "lmagent-infra",
            "app.kubernetes.io/managed-by": "pulumi",
        }

    def _release(
        self, role: str, chart: tuple[str, str, str], release: str, chart_values: Mapping[str, Any]
    ) -> k8s.helm.v3.Release:
        return pinned_release(
            f"{self._name}-{role}",
            chart,
            release=release,
            namespace="kube-system",
            values=chart_values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._dns),
        )

    def _certificate(self, zone: str, zone_id: str, protect: bool) -> pulumi.Output[str]:
        """The zone's wildcard certificate, its DNS validation record and the awaited validation."""
        cert = aws.acm.Certificate(
            f"{self._name}-certificate",
            aws.acm.CertificateArgs(
                domain_name=zone,
                subject_alternative_names=[f"*.{zone}"],
                validation_method="DNS",
                key_algorithm="EC_prime256v1",
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )

        # `zone` and `*.zone` are validated by one and the same CNAME, so one record serves both.
        def option(field: str) -> pulumi.Output[str]:
            return cert.domain_validation_options.apply(
                lambda options: str(getattr(next(o for o in options if o.domain_name == zone), field))
            )

        record = aws.route53.Record(
            f"{self._name}-certificate-validation-record",
            aws.route53.RecordArgs(
                zone_id=zone_id,
                name=option("resource_record_name"),
                type=option("resource_record_type"),
                records=[option("resource_record_value")],
                ttl=300,
                # A record left by an earlier certificate for the same names is the same record.
                allow_overwrite=True,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        validation = aws.acm.CertificateValidation(
            f"{self._name}-certificate-validation",
            aws.acm.CertificateValidationArgs(
                certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return validation.certificate_arn

    def _web_acl(
        self,
        args: EdgeArgs,
        owner_id: str,
        account: pulumi.Input[str],
        region: str,
        protect: bool,
    ) -> aws.wafv2.WebAcl:
        waf = args.waf
        rules = [
            aws.wafv2.WebAclRuleArgs(
                name="rate-limit-per-ip",
                priority=0,
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        aggregate_key_type="IP",
                        limit=waf.rate_limit,
                        evaluation_window_sec=waf.rate_window_seconds,
                    )
                ),
                visibility_config=_rule_visibility("rate-limit-per-ip"),
            ),
            *(
                aws.wafv2.WebAclRuleArgs(
                    name=group,
                    priority=i,
                    override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                        none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
                    ),
                    statement=aws.wafv2.WebAclRuleStatementArgs(
                        managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                            vendor_name="AWS", name=group, rule_action_overrides=_overrides(group, waf)
                        )
                    ),
                    visibility_config=_rule_visibility(group),
                )
                for i, group in enumerate(MANAGED_RULE_GROUPS, start=1)
            ),
        ]
        acl = aws.wafv2.WebAcl(
            f"{self._name}-web-acl",
            aws.wafv2.WebAclArgs(
                name=owner_id,
                description=f"Public entry of {owner_id}: per-IP rate limit and AWS managed rules",
                scope="REGIONAL",
                default_action=aws.wafv2.WebAclDefaultActionArgs(
                    allow=aws.wafv2.WebAclDefaultActionAllowArgs()
                ),
                rules=rules,
                visibility_config=_visibility(owner_id),
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # WAF delivers logs only to log groups whose name starts with `aws-waf-logs-`.
        log_group_name = f"aws-waf-logs-{owner_id}"
        logs = encrypted_log_group(
            f"{self._name}-waf-logs",
            log_group_name=log_group_name,
            retention_days=waf.log_retention_days,
            account=account,
            region=region,
            purpose=f"WAF logs of {owner_id}",
            tags=self._tags,
            parent=self,
            protect=protect,
        )
        # A resource policy of this log group's own, rather than the account-wide `AWSWAF-LOGS`
        # policy WAF would otherwise grow on every web ACL (pulumi-aws WebAclLoggingConfiguration
        # docstring, its warning on that policy's size).
        delivery = aws.cloudwatch.LogResourcePolicy(
            f"{self._name}-waf-logs-delivery",
            aws.cloudwatch.LogResourcePolicyArgs(
                policy_name=f"{log_group_name}-delivery",
                policy_document=pulumi.Output.all(logs.arn, account).apply(
                    lambda a: json.dumps(_delivery_policy(a[0], a[1], region))
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{self._name}-waf-logging",
            aws.wafv2.WebAclLoggingConfigurationArgs(
                resource_arn=acl.arn,
                log_destination_configs=[logs.arn],
                redacted_fields=[
                    aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                        single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                            name=header
                        )
                    )
                    for header in ("authorization", "cookie")
                ],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )
        return acl


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


#: The common rule group's rule that blocks request bodies over 8 KB (AWS WAF developer guide,
#: "Core rule set (CRS) managed rule group").
LARGE_BODY_RULE = ("AWSManagedRulesCommonRuleSet", "SizeRestrictions_BODY")


def _overrides(
    group: str, waf: WafArgs
) -> list[aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs] | None:
    """Rules of `group` made to count instead of block, as the WAF settings ask."""
    if waf.block_large_bodies or group != LARGE_BODY_RULE[0]:
        return None
    count = aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
        count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
    )
    return [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=LARGE_BODY_RULE[1], action_to_use=count
        )
    ]


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _delivery_policy(log_group_arn: str, account: str, region: str) -> dict[str, Any]:
    """Let the log delivery service write this account's WAF logs into one log group (AWS WAF
    developer guide, "Sending web ACL traffic logs to an Amazon CloudWatch Logs log group")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "WafLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "delivery.logs.amazonaws.com"},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": [f"{log_group_arn}:*"],
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account}:*"},
                },
            }
        ],
    }


def public_subnet_sources(cidrs: Sequence[str]) -> list[str]:
    """The sources a public app's NetworkPolicy admits: the ALB's ENIs live in the public subnets,
    and with IP targets they connect to the pods from those addresses."""
    return sorted(cidrs)
