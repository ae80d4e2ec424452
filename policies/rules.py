"""The security checklist as CrossGuard policies: plain check functions and the policy objects on them.

Every check takes a resource's properties in the engine's wire shape (camelCase, as `pulumi
preview` hands them to an analyzer and as `components.testing.synth` records them) and returns one
message per problem: the field, the value found and what is allowed. The policy objects only
select the resource types and report those messages, so the pack's behaviour is testable without
the gRPC server that `pulumi_policy.PolicyPack` starts (see `__main__.py`).

The checks live in `_kubernetes.py` and `_aws.py`; see `_props.py` for how properties are read.

Limitation: a `kubernetes:helm.sh/v3:Release` renders its chart inside the provider, so the
objects a chart creates never reach an analyzer; only the objects this program declares itself
(and the children of components that register them, such as `helm.v4.Chart` or `yaml.v2`) are
checked. Charts are held to the checklist by their values instead (components/monitoring.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from policies._aws import (
    BACKUP_SELECTION,
    DEFAULT_MUTABLE_TAGS,
    ECR_REPOSITORY,
    EKS_CLUSTER,
    LAUNCH_TEMPLATE,
    LOG_GROUP,
    NODE_GROUP,
    RDS_INSTANCE,
    check_ecr_immutable_tags,
    check_ecr_scan_on_push,
    check_eks_audit_logs,
    check_eks_endpoint_not_world_open,
    check_eks_secrets_encryption,
    check_launch_template_imdsv2,
    check_log_group_kms,
    check_node_group_launch_template,
    check_rds_backed_up,
    check_rds_encrypted,
    check_rds_in_backup_plan,
    check_rds_not_public,
)
from policies._edge import (
    INGRESS,
    INGRESS_CLASS_PARAMS,
    SERVICE,
    check_edge,
    check_service_not_internet_facing,
)
from policies._kubernetes import (
    CLUSTER_POLICY,
    CONFIG_MAP,
    EKS_ADDON,
    NAMESPACE,
    NETWORK_POLICY,
    POD_SPEC_PATHS,
    SECRET_PLACEHOLDER,
    WORKLOADS,
    check_config_map_secrets,
    check_image_digest,
    check_images_verified_at_admission,
    check_namespace_default_deny,
    check_network_policies,
    check_network_policy_enforced,
    check_no_privilege_escalation,
    check_not_privileged,
    check_read_only_root_filesystem,
    check_resource_limits,
    check_run_as_non_root,
    check_secret_env,
    image_problem,
)

__all__ = [
    "ALL_POLICIES",
    "CONFIG_MAP",
    "DEFAULT_ENFORCEMENT",
    "ECR_REPOSITORY",
    "EKS_ADDON",
    "EKS_CLUSTER",
    "LAUNCH_TEMPLATE",
    "LOG_GROUP",
    "NAMESPACE",
    "NETWORK_POLICY",
    "NODE_GROUP",
    "POD_SPEC_PATHS",
    "RDS_INSTANCE",
    "RESOURCE_TYPES",
    "SECRET_PLACEHOLDER",
    "WORKLOADS",
    "image_problem",
]

Check = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]
"""(resource type, properties, policy config) -> one message per violation."""


#: Policy name -> the resource types it reads (so tests can prove each one has work in a stack).
RESOURCE_TYPES: dict[str, tuple[str, ...]] = {}


def _resource_policy(
    name: str,
    description: str,
    types: Sequence[str],
    check: Check,
    *,
    severity: Severity,
    remediation: str,
    config_schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        for message in check(args.resource_type, args.props, args.get_config()):
            report_violation(message, None)

    policy = ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        severity=severity,
        remediation_steps=remediation,
        config_schema=config_schema,
        tags=["security"],
    )
    RESOURCE_TYPES[name] = tuple(types)
    return policy


_HIGH, _CRITICAL, _MEDIUM = Severity.HIGH, Severity.CRITICAL, Severity.MEDIUM

RUN_AS_NON_ROOT = _resource_policy(
    "k8s-run-as-non-root",
    "Containers run as a non-root user (runAsNonRoot true, UID not 0).",
    WORKLOADS,
    check_run_as_non_root,
    severity=_HIGH,
    remediation="Set securityContext.runAsNonRoot: true and runAsUser to the image's UID (e.g. 10001).",
)
READ_ONLY_ROOT_FILESYSTEM = _resource_policy(
    "k8s-read-only-root-filesystem",
    "Containers have a read-only root filesystem.",
    WORKLOADS,
    check_read_only_root_filesystem,
    severity=_MEDIUM,
    remediation="Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir at /tmp.",
)
NOT_PRIVILEGED = _resource_policy(
    "k8s-no-privileged-containers",
    "No container runs privileged.",
    WORKLOADS,
    check_not_privileged,
    severity=_CRITICAL,
    remediation="Remove securityContext.privileged (or set it false).",
)
NO_PRIVILEGE_ESCALATION = _resource_policy(
    "k8s-no-privilege-escalation",
    "Containers set allowPrivilegeEscalation false.",
    WORKLOADS,
    check_no_privilege_escalation,
    severity=_HIGH,
    remediation="Set securityContext.allowPrivilegeEscalation: false.",
)
RESOURCE_LIMITS = _resource_policy(
    "k8s-resource-limits",
    "Containers set CPU and memory limits.",
    WORKLOADS,
    check_resource_limits,
    severity=_MEDIUM,
    remediation="Set resources.limits.cpu and resources.limits.memory on every container.",
)
IMAGE_DIGEST = _resource_policy(
    "k8s-image-by-digest",
    "Container images are pinned by digest: no `latest`, no tag alone.",
    WORKLOADS,
    check_image_digest,
    severity=_HIGH,
    remediation="Deploy `<repository>@sha256:<digest>` (ContainerImage.image_ref does).",
)
SECRET_ENV = _resource_policy(
    "k8s-no-plaintext-secret-env",
    "Secret-looking env vars come from a Secret (valueFrom.secretKeyRef), never a literal.",
    WORKLOADS,
    check_secret_env,
    severity=_CRITICAL,
    remediation="Put the value in a Kubernetes Secret and reference it with valueFrom.secretKeyRef.",
)
CONFIG_MAP_SECRETS = _resource_policy(
    "k8s-no-secrets-in-config-maps",
    "ConfigMaps hold no secret-looking keys or secret values.",
    (CONFIG_MAP,),
    check_config_map_secrets,
    severity=_CRITICAL,
    remediation="Move the key to a Kubernetes Secret (AppService `secretEnv` does this).",
)
ECR_SCAN_ON_PUSH = _resource_policy(
    "ecr-scan-on-push",
    "ECR repositories scan images on push.",
    (ECR_REPOSITORY,),
    check_ecr_scan_on_push,
    severity=_HIGH,
    remediation="Set image_scanning_configuration.scan_on_push=True.",
)
ECR_IMMUTABLE_TAGS = _resource_policy(
    "ecr-immutable-tags",
    "ECR repositories have immutable tags (a build cache tag may be excluded).",
    (ECR_REPOSITORY,),
    check_ecr_immutable_tags,
    severity=_HIGH,
    remediation="Set image_tag_mutability='IMMUTABLE' (or IMMUTABLE_WITH_EXCLUSION for the cache tag).",
    config_schema=PolicyConfigSchema(
        properties={
            "allowedMutableTags": {
                "type": "array",
                "items": {"type": "string"},
                "default": list(DEFAULT_MUTABLE_TAGS),
            }
        }
    ),
)
EKS_SECRETS_ENCRYPTION = _resource_policy(
    "eks-secrets-encryption",
    "EKS clusters envelope-encrypt Kubernetes Secrets with KMS.",
    (EKS_CLUSTER,),
    check_eks_secrets_encryption,
    severity=_HIGH,
    remediation="Set encryption_config with resources=['secrets'] and a KMS key ARN.",
)
EKS_AUDIT_LOGS = _resource_policy(
    "eks-audit-logs",
    "EKS clusters send audit logs to CloudWatch.",
    (EKS_CLUSTER,),
    check_eks_audit_logs,
    severity=_HIGH,
    remediation="Include 'audit' in enabled_cluster_log_types.",
)
EKS_ENDPOINT = _resource_policy(
    "eks-no-world-open-endpoint",
    "An EKS public API endpoint is never open to the whole internet.",
    (EKS_CLUSTER,),
    check_eks_endpoint_not_world_open,
    severity=_CRITICAL,
    remediation="Set endpoint_public_access=False, or public_access_cidrs to your own CIDRs.",
)
LAUNCH_TEMPLATE_IMDSV2 = _resource_policy(
    "ec2-launch-template-imdsv2",
    "Launch templates require IMDSv2 (metadataOptions.httpTokens 'required').",
    (LAUNCH_TEMPLATE,),
    check_launch_template_imdsv2,
    severity=_HIGH,
    remediation="Set metadata_options.http_tokens='required' and http_put_response_hop_limit=1.",
)
NODE_GROUP_LAUNCH_TEMPLATE = _resource_policy(
    "eks-node-group-launch-template",
    "EKS managed node groups use a launch template (where IMDSv2 is enforced).",
    (NODE_GROUP,),
    check_node_group_launch_template,
    severity=_HIGH,
    remediation="Give the node group launch_template={id, version} of an IMDSv2-only template.",
)
LOG_GROUP_KMS = _resource_policy(
    "cloudwatch-log-group-kms",
    "CloudWatch log groups (control plane audit logs, VPC flow logs) are encrypted with a KMS key.",
    (LOG_GROUP,),
    check_log_group_kms,
    severity=_MEDIUM,
    remediation="Set kms_key_id to a key whose policy allows logs.<region>.amazonaws.com for this "
    "log group (components/_log_key.py makes one).",
)
INTERNET_FACING_LB_TLS_WAF = _resource_policy(
    "internet-facing-lb-tls-waf",
    "An internet-facing load balancer has a TLS certificate, a TLS 1.3 security policy and a WAFv2 web ACL.",
    (INGRESS_CLASS_PARAMS, INGRESS),
    check_edge,
    severity=_CRITICAL,
    remediation="Expose apps with `public` in their config: the edge's IngressClassParams set the "
    "certificate, ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09 and the web ACL.",
)
NO_INTERNET_FACING_SERVICE_LB = _resource_policy(
    "no-internet-facing-service-load-balancer",
    "No Service of type LoadBalancer faces the internet (an NLB or CLB cannot have a WAFv2 web ACL).",
    (SERVICE,),
    check_service_not_internet_facing,
    severity=_HIGH,
    remediation="Annotate service.beta.kubernetes.io/aws-load-balancer-scheme: internal, or use an Ingress.",
)
RDS_ENCRYPTED = _resource_policy(
    "rds-storage-encrypted",
    "RDS storage (and so its snapshots and backups) is encrypted with a customer-managed KMS key.",
    (RDS_INSTANCE,),
    check_rds_encrypted,
    severity=_HIGH,
    remediation="Set storage_encrypted=True and kms_key_id to a customer-managed key at creation "
    "(components/database does; encryption cannot be added to an existing instance).",
)
RDS_NOT_PUBLIC = _resource_policy(
    "rds-not-publicly-accessible",
    "RDS instances have no public address.",
    (RDS_INSTANCE,),
    check_rds_not_public,
    severity=_CRITICAL,
    remediation="Set publicly_accessible=False and place the instance in private subnets.",
)
RDS_BACKED_UP = _resource_policy(
    "rds-automated-backups",
    "RDS automated backups are on.",
    (RDS_INSTANCE,),
    check_rds_backed_up,
    severity=_HIGH,
    remediation="Set backup_retention_period to 1-35 days (at least 7 in production).",
)
RDS_IN_BACKUP_PLAN = StackValidationPolicy(
    name="rds-in-backup-plan",
    description="Every RDS instance is selected by an AWS Backup plan of the stack.",
    validate=check_rds_in_backup_plan,
    severity=_HIGH,
    remediation_steps="Declare an aws.backup.Selection naming the instance's ARN (components/database does).",
    tags=["security"],
)
RESOURCE_TYPES[RDS_IN_BACKUP_PLAN.name] = (RDS_INSTANCE, BACKUP_SELECTION)
NETWORK_POLICY_PER_NAMESPACE = StackValidationPolicy(
    name="k8s-network-policy-per-namespace",
    description="Every namespace holding a workload has a NetworkPolicy.",
    validate=check_network_policies,
    severity=_HIGH,
    remediation_steps="Declare a default-deny NetworkPolicy and the allowed traffic in the namespace.",
    tags=["security"],
)
RESOURCE_TYPES[NETWORK_POLICY_PER_NAMESPACE.name] = (*WORKLOADS, NETWORK_POLICY)
NETWORK_POLICY_ENFORCED = StackValidationPolicy(
    name="eks-network-policy-enforced",
    description="NetworkPolicies are declared only on a VPC CNI add-on that enforces them.",
    validate=check_network_policy_enforced,
    severity=_HIGH,
    remediation_steps='Set the vpc-cni add-on\'s configurationValues to {"enableNetworkPolicy": "true"} '
    "(components/_addons.py does).",
    tags=["security"],
)
RESOURCE_TYPES[NETWORK_POLICY_ENFORCED.name] = (EKS_ADDON, NETWORK_POLICY)
NAMESPACE_DEFAULT_DENY = StackValidationPolicy(
    name="k8s-namespace-default-deny",
    description="Every namespace the stack creates denies all traffic its policies do not allow.",
    validate=check_namespace_default_deny,
    severity=_HIGH,
    remediation_steps="Declare a NetworkPolicy with `podSelector: {}` and policyTypes [Ingress, Egress] "
    "in the namespace, and allow policies for what its pods need.",
    tags=["security"],
)
RESOURCE_TYPES[NAMESPACE_DEFAULT_DENY.name] = (NAMESPACE, NETWORK_POLICY)

IMAGES_VERIFIED = StackValidationPolicy(
    name="k8s-images-verified-at-admission",
    description="Every namespace with a workload of the stack is covered by an image-verifying "
    "admission policy.",
    validate=check_images_verified_at_admission,
    severity=_HIGH,
    remediation_steps="Match the namespace in the Kyverno ClusterPolicy's verifyImages rule and keep it "
    "out of its exclude list (lmagent-infra:admission.excludedNamespaces).",
    tags=["security", "supply-chain"],
)
RESOURCE_TYPES[IMAGES_VERIFIED.name] = (*WORKLOADS, CLUSTER_POLICY)

ALL_POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    RUN_AS_NON_ROOT,
    READ_ONLY_ROOT_FILESYSTEM,
    NOT_PRIVILEGED,
    NO_PRIVILEGE_ESCALATION,
    RESOURCE_LIMITS,
    IMAGE_DIGEST,
    SECRET_ENV,
    CONFIG_MAP_SECRETS,
    NETWORK_POLICY_PER_NAMESPACE,
    NETWORK_POLICY_ENFORCED,
    NAMESPACE_DEFAULT_DENY,
    IMAGES_VERIFIED,
    ECR_SCAN_ON_PUSH,
    ECR_IMMUTABLE_TAGS,
    EKS_SECRETS_ENCRYPTION,
    EKS_AUDIT_LOGS,
    EKS_ENDPOINT,
    LAUNCH_TEMPLATE_IMDSV2,
    NODE_GROUP_LAUNCH_TEMPLATE,
    LOG_GROUP_KMS,
    INTERNET_FACING_LB_TLS_WAF,
    NO_INTERNET_FACING_SERVICE_LB,
    RDS_ENCRYPTED,
    RDS_NOT_PUBLIC,
    RDS_BACKED_UP,
    RDS_IN_BACKUP_PLAN,
]

#: The pack's enforcement when no config file says otherwise: a violation blocks the update.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
