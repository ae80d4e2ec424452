"""The security checklist as CrossGuard policies: plain check functions and the policy objects on them.

Every check takes a resource's properties in the engine's wire shape (camelCase, as `pulumi
preview` hands them to an analyzer and as `components.testing.synth` records them) and returns one
message per problem: the field, the value found and what is allowed. The policy objects only
select the resource types and report those messages, so the pack's behaviour is testable without
the gRPC server that `pulumi_policy.PolicyPack` starts (see `__main__.py`).

The engine wraps properties in read-only Mapping/Sequence proxies that raise `UnknownValueError`
on a value not known during preview; the helpers here only use the Mapping/Sequence protocols so
an unknown value reaches the engine (which reports "can't run during preview") instead of being
mistaken for a missing one.

Limitation: a `kubernetes:helm.sh/v3:Release` renders its chart inside the provider, so the
objects a chart creates never reach an analyzer; only the objects this program declares itself
(and the children of components that register them, such as `helm.v4.Chart` or `yaml.v2`) are
checked. Charts are held to the checklist by their values instead (components/monitoring.py).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies._secret_names import looks_secret

Check = Callable[[str, Mapping[str, Any], Mapping[str, Any]], list[str]]
"""(resource type, properties, policy config) -> one message per violation."""

#: What `components.testing` writes in place of a secret value: one in a plain field leaked.
SECRET_PLACEHOLDER = "[secret]"

# Where each workload kind keeps its pod spec. Patch kinds (`DeploymentPatch`...) are partial by
# design and are not checked.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOADS = tuple(POD_SPEC_PATHS)
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# ---------------------------------------------------------------------------------------------
# Reading properties


def _get(value: Any, *path: str) -> Any:
    """The value at `path`, or None where a level is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _items(value: Any) -> list[Any]:
    """A list property as a list (empty when absent); a string is not a list."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _where(resource_type: str) -> str:
    return ".".join(POD_SPEC_PATHS[resource_type])


def _containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`<pod spec path>.<list>[i] (<name>)`, container) for every container of a workload."""
    pod = _get(props, *POD_SPEC_PATHS[resource_type])
    for field in _CONTAINER_LISTS:
        for i, container in enumerate(_items(_get(pod, field))):
            name = _get(container, "name")
            yield f"{_where(resource_type)}.{field}[{i}] ({name!r})", _mapping(container)


def _pod_security(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_get(props, *POD_SPEC_PATHS[resource_type], "securityContext"))


# ---------------------------------------------------------------------------------------------
# Kubernetes workloads


def check_run_as_non_root(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Every container has `runAsNonRoot: true` (its own or the pod's) and no UID 0."""
    pod_sc = _pod_security(resource_type, props)
    problems = []
    for where, container in _containers(resource_type, props):
        sc = _mapping(container.get("securityContext"))
        # A container's own setting overrides the pod's, as the kubelet resolves it.
        non_root = sc["runAsNonRoot"] if "runAsNonRoot" in sc else pod_sc.get("runAsNonRoot")
        user = sc["runAsUser"] if "runAsUser" in sc else pod_sc.get("runAsUser")
        if user == 0:
            problems.append(f"{where}: runAsUser is 0 (root); allowed: a non-zero UID such as 10001")
        elif non_root is not True:
            problems.append(
                f"{where}: securityContext.runAsNonRoot is {non_root!r} (container, else pod); "
                "allowed: true, so the kubelet refuses to start the container as root"
            )
    return problems


def check_read_only_root_filesystem(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Every container has `readOnlyRootFilesystem: true`."""
    return [
        f"{where}: securityContext.readOnlyRootFilesystem is {value!r}; allowed: true "
        "(mount an emptyDir at the paths the process writes, such as /tmp)"
        for where, container in _containers(resource_type, props)
        if (value := _get(container, "securityContext", "readOnlyRootFilesystem")) is not True
    ]


def check_not_privileged(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """No container is privileged."""
    return [
        f"{where}: securityContext.privileged is true; allowed: false or unset"
        for where, container in _containers(resource_type, props)
        if _get(container, "securityContext", "privileged") is True
    ]


def check_no_privilege_escalation(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Every container sets `allowPrivilegeEscalation: false` (unset means allowed)."""
    return [
        f"{where}: securityContext.allowPrivilegeEscalation is {value!r}; allowed: false "
        "(unset lets setuid binaries gain privileges)"
        for where, container in _containers(resource_type, props)
        if (value := _get(container, "securityContext", "allowPrivilegeEscalation")) is not False
    ]


def check_resource_limits(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Every container has CPU and memory limits."""
    problems = []
    for where, container in _containers(resource_type, props):
        limits = _mapping(_get(container, "resources", "limits"))
        missing = [r for r in ("cpu", "memory") if limits.get(r) in (None, "", 0)]
        if missing:
            problems.append(
                f"{where}: resources.limits has no {' and no '.join(missing)} (got {dict(limits)!r}); "
                "allowed: both cpu and memory set"
            )
    return problems


def image_problem(image: Any) -> str | None:
    """Why `image` is not pinned by digest (`<repository>@sha256:<64 hex>`), or None if it is."""
    if not isinstance(image, str) or not image:
        return f"image is {image!r}; allowed: <repository>@sha256:<64 hex digits>"
    reference, at, digest = image.partition("@")
    if at:
        if _DIGEST.match(digest):
            return None
        return f"image {image!r} has the malformed digest {digest!r}; allowed: sha256:<64 hex digits>"
    last = reference.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else None
    if tag is None or tag == "latest":
        return (
            f"image {image!r} resolves to the moving tag 'latest'; "
            "allowed: <repository>@sha256:<digest>, the bytes that were built and scanned"
        )
    return (
        f"image {image!r} is referenced by tag only ({tag!r}); allowed: <repository>@sha256:<digest> "
        "(a tag can be re-pointed, a digest cannot)"
    )


def check_image_digest(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Every container's image is pinned by digest: no `latest`, no tag alone."""
    return [
        f"{where}: {problem}"
        for where, container in _containers(resource_type, props)
        if (problem := image_problem(container.get("image"))) is not None
    ]


def check_secret_env(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Env vars named like secrets come from `valueFrom.secretKeyRef`; no secret is an env literal."""
    problems = []
    for where, container in _containers(resource_type, props):
        for env in _items(container.get("env")):
            name = _get(env, "name")
            value = _get(env, "value")
            field = f"{where}.env {name!r}"
            if value == SECRET_PLACEHOLDER:
                problems.append(
                    f"{field}: value is a secret written as a plain literal; allowed: "
                    "valueFrom.secretKeyRef to a Kubernetes Secret"
                )
            elif isinstance(name, str) and looks_secret(name):
                if value is not None:
                    problems.append(
                        f"{field}: a secret-looking name with a plaintext value; allowed: "
                        "valueFrom.secretKeyRef to a Kubernetes Secret"
                    )
                elif _get(env, "valueFrom", "secretKeyRef") is None:
                    source = sorted(_mapping(_get(env, "valueFrom")))
                    problems.append(
                        f"{field}: a secret-looking name read from valueFrom {source!r}; "
                        "allowed: valueFrom.secretKeyRef to a Kubernetes Secret"
                    )
    return problems


def check_config_map_secrets(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """No ConfigMap key looks like a secret, and no value is a secret."""
    problems = []
    for field in ("data", "binaryData"):
        for key, value in _mapping(props.get(field)).items():
            if value == SECRET_PLACEHOLDER:
                problems.append(f"{field}.{key}: the value is a secret; allowed: a Kubernetes Secret")
            elif looks_secret(key):
                problems.append(
                    f"{field}.{key}: a secret-looking key in a ConfigMap (readable by anyone who "
                    "can read the namespace's config); allowed: a Kubernetes Secret"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# AWS


def check_ecr_scan_on_push(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The repository scans every pushed image."""
    value = _get(props, "imageScanningConfiguration", "scanOnPush")
    if value is True:
        return []
    return [f"imageScanningConfiguration.scanOnPush is {value!r}; allowed: true"]


#: Tags an IMMUTABLE_WITH_EXCLUSION repository may leave mutable by default: the BuildKit
#: registry cache (components/image.py `CACHE_TAG`), which every build overwrites.
DEFAULT_MUTABLE_TAGS = ("cache",)


def check_ecr_immutable_tags(
    resource_type: str, props: Mapping[str, Any], config: Mapping[str, Any]
) -> list[str]:
    """Tags are immutable, except the configured cache tags under IMMUTABLE_WITH_EXCLUSION."""
    # ECR's default when the field is unset is MUTABLE.
    mutability = props.get("imageTagMutability") or "MUTABLE"
    if mutability == "IMMUTABLE":
        return []
    allowed = list(config.get("allowedMutableTags", DEFAULT_MUTABLE_TAGS))
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        filters = [_get(f, "filter") for f in _items(props.get("imageTagMutabilityExclusionFilters"))]
        extra = [f for f in filters if f not in allowed]
        if not extra:
            return []
        return [
            f"imageTagMutabilityExclusionFilters {extra!r} leave tags mutable; allowed filters: "
            f"{allowed!r} (policy config allowedMutableTags)"
        ]
    return [
        f"imageTagMutability is {mutability!r}; allowed: 'IMMUTABLE', or 'IMMUTABLE_WITH_EXCLUSION' "
        f"excluding only {allowed!r}"
    ]


def check_eks_secrets_encryption(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Kubernetes Secrets are envelope-encrypted with a KMS key."""
    resources = _items(_get(props, "encryptionConfig", "resources"))
    key = _get(props, "encryptionConfig", "provider", "keyArn")
    problems = []
    if "secrets" not in resources:
        problems.append(f"encryptionConfig.resources is {resources!r}; allowed: a list containing 'secrets'")
    if not key:
        problems.append(f"encryptionConfig.provider.keyArn is {key!r}; allowed: a KMS key ARN")
    return problems


def check_eks_audit_logs(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """The control plane sends audit logs to CloudWatch."""
    types = _items(props.get("enabledClusterLogTypes"))
    if "audit" in types:
        return []
    return [f"enabledClusterLogTypes is {types!r}; allowed: a list containing 'audit'"]


def _world_open(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        # Not a CIDR: AWS would reject it; not this policy's concern.
        return False


def check_eks_endpoint_not_world_open(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """A public API endpoint is limited to listed CIDRs, none of them the whole internet."""
    vpc = _mapping(props.get("vpcConfig"))
    # EKS turns the public endpoint on when the field is unset, and opens it to 0.0.0.0/0 when
    # no CIDRs are given.
    public = vpc.get("endpointPublicAccess", True)
    if public is False:
        return []
    cidrs = _items(vpc.get("publicAccessCidrs"))
    if not cidrs:
        return [
            f"vpcConfig.endpointPublicAccess is {public!r} with no publicAccessCidrs (EKS then "
            "allows 0.0.0.0/0); allowed: endpointPublicAccess false, or a list of your CIDRs"
        ]
    world = [c for c in cidrs if _world_open(c)]
    if world:
        return [
            f"vpcConfig.publicAccessCidrs contains {world!r}; allowed: specific CIDRs "
            "(office, VPN, CI egress), or endpointPublicAccess false"
        ]
    return []


def check_launch_template_imdsv2(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Instances launched from the template require IMDSv2 session tokens."""
    tokens = _get(props, "metadataOptions", "httpTokens")
    if tokens == "required":
        return []
    return [
        f"metadataOptions.httpTokens is {tokens!r}; allowed: 'required' (IMDSv2 only: an SSRF "
        "cannot read the node role's credentials)"
    ]


def check_node_group_launch_template(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """A managed node group uses a launch template, the only place its IMDS options are set."""
    template = _mapping(props.get("launchTemplate"))
    if template.get("id") or template.get("name"):
        return []
    return [
        f"launchTemplate is {dict(template) or None!r}; allowed: {{id or name, version}} of a "
        "launch template with metadataOptions.httpTokens 'required'"
    ]


# ---------------------------------------------------------------------------------------------
# Stack-level


def namespace_of(props: Mapping[str, Any], provider_props: Mapping[str, Any] | None) -> str:
    """Where a namespaced object lands: its own namespace, else its provider's, else `default`."""
    return str(_get(props, "metadata", "namespace") or _get(provider_props, "namespace") or "default")


def check_network_policies(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every namespace that holds a workload also holds a NetworkPolicy."""
    covered = set()
    workloads = []
    for r in args.resources:
        provider_props = r.provider.props if r.provider is not None else None
        if r.resource_type == NETWORK_POLICY:
            covered.add(namespace_of(r.props, provider_props))
        elif r.resource_type in POD_SPEC_PATHS:
            workloads.append((r, namespace_of(r.props, provider_props)))
    for r, namespace in workloads:
        if namespace not in covered:
            kind = r.resource_type.rsplit(":", 1)[-1]
            report_violation(
                f"namespace {namespace!r} holds {kind} {r.name!r} but no NetworkPolicy; allowed: "
                "a namespace with a NetworkPolicy (default-deny plus the allowed traffic)",
                r.urn,
            )


# ---------------------------------------------------------------------------------------------
# The policies


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
    # Kept on the object so tests and docs can ask which resource types a policy reads.
    policy.resource_types = tuple(types)  # type: ignore[attr-defined]
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
NETWORK_POLICY_PER_NAMESPACE = StackValidationPolicy(
    name="k8s-network-policy-per-namespace",
    description="Every namespace holding a workload has a NetworkPolicy.",
    validate=check_network_policies,
    severity=_HIGH,
    remediation_steps="Declare a default-deny NetworkPolicy and the allowed traffic in the namespace.",
    tags=["security"],
)
NETWORK_POLICY_PER_NAMESPACE.resource_types = (*WORKLOADS, NETWORK_POLICY)  # type: ignore[attr-defined]

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
    ECR_SCAN_ON_PUSH,
    ECR_IMMUTABLE_TAGS,
    EKS_SECRETS_ENCRYPTION,
    EKS_AUDIT_LOGS,
    EKS_ENDPOINT,
    LAUNCH_TEMPLATE_IMDSV2,
    NODE_GROUP_LAUNCH_TEMPLATE,
]

#: The pack's enforcement when no config file says otherwise: a violation blocks the update.
DEFAULT_ENFORCEMENT = EnforcementLevel.MANDATORY
