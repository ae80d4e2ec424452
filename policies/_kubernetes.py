"""Checks on Kubernetes objects: hardened containers, digests, no plaintext secrets, NetworkPolicies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from components._secret_names import looks_secret
from policies._props import get, items, mapping

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
EKS_ADDON = "aws:eks/addon:Addon"
NAMESPACE = "kubernetes:core/v1:Namespace"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _where(resource_type: str) -> str:
    return ".".join(POD_SPEC_PATHS[resource_type])


def _containers(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`<pod spec path>.<list>[i] (<name>)`, container) for every container of a workload."""
    pod = get(props, *POD_SPEC_PATHS[resource_type])
    for field in _CONTAINER_LISTS:
        for i, container in enumerate(items(get(pod, field))):
            name = get(container, "name")
            yield f"{_where(resource_type)}.{field}[{i}] ({name!r})", mapping(container)


def _pod_security(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(get(props, *POD_SPEC_PATHS[resource_type], "securityContext"))


# ---------------------------------------------------------------------------------------------
# Kubernetes workloads


def check_run_as_non_root(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Every container has `runAsNonRoot: true` (its own or the pod's) and no UID 0."""
    pod_sc = _pod_security(resource_type, props)
    problems = []
    for where, container in _containers(resource_type, props):
        sc = mapping(container.get("securityContext"))
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
        if (value := get(container, "securityContext", "readOnlyRootFilesystem")) is not True
    ]


def check_not_privileged(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """No container is privileged."""
    return [
        f"{where}: securityContext.privileged is true; allowed: false or unset"
        for where, container in _containers(resource_type, props)
        if get(container, "securityContext", "privileged") is True
    ]


def check_no_privilege_escalation(
    resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]
) -> list[str]:
    """Every container sets `allowPrivilegeEscalation: false` (unset means allowed)."""
    return [
        f"{where}: securityContext.allowPrivilegeEscalation is {value!r}; allowed: false "
        "(unset lets setuid binaries gain privileges)"
        for where, container in _containers(resource_type, props)
        if (value := get(container, "securityContext", "allowPrivilegeEscalation")) is not False
    ]


def check_resource_limits(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """Every container has CPU and memory limits."""
    problems = []
    for where, container in _containers(resource_type, props):
        limits = mapping(get(container, "resources", "limits"))
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
        for env in items(container.get("env")):
            name = get(env, "name")
            value = get(env, "value")
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
                elif get(env, "valueFrom", "secretKeyRef") is None:
                    source = sorted(mapping(get(env, "valueFrom")))
                    problems.append(
                        f"{field}: a secret-looking name read from valueFrom {source!r}; "
                        "allowed: valueFrom.secretKeyRef to a Kubernetes Secret"
                    )
    return problems


def check_config_map_secrets(resource_type: str, props: Mapping[str, Any], _: Mapping[str, Any]) -> list[str]:
    """No ConfigMap key looks like a secret, and no value is a secret."""
    problems = []
    for field in ("data", "binaryData"):
        for key, value in mapping(props.get(field)).items():
            if value == SECRET_PLACEHOLDER:
                problems.append(f"{field}.{key}: the value is a secret; allowed: a Kubernetes Secret")
            elif looks_secret(key):
                problems.append(
                    f"{field}.{key}: a secret-looking key in a ConfigMap (readable by anyone who "
                    "can read the namespace's config); allowed: a Kubernetes Secret"
                )
    return problems


# ---------------------------------------------------------------------------------------------
# Stack-level


def namespace_of(props: Mapping[str, Any], provider_props: Mapping[str, Any] | None) -> str:
    """Where a namespaced object lands: its own namespace, else its provider's, else `default`."""
    return str(get(props, "metadata", "namespace") or get(provider_props, "namespace") or "default")


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


def _cni_enforces(configuration: Any) -> bool:
    """Whether a vpc-cni add-on's `configurationValues` turn network policy on.

    Read as JSON, the form this project writes (EKS also takes YAML: written so, it is refused
    here rather than guessed at). The add-on schema's type for the key is a string: "true".
    """
    if not isinstance(configuration, str) or not configuration:
        return False
    try:
        values = json.loads(configuration)
    except json.JSONDecodeError:
        return False
    return isinstance(values, Mapping) and values.get("enableNetworkPolicy") == "true"


def check_network_policy_enforced(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A stack that declares NetworkPolicies on an EKS cluster whose VPC CNI add-on does not
    enforce them: every policy would be inert (EKS user guide, "cni-network-policy-configure")."""
    policies = [r for r in args.resources if r.resource_type == NETWORK_POLICY]
    if not policies:
        return
    for r in args.resources:
        if r.resource_type != EKS_ADDON or get(r.props, "addonName") != "vpc-cni":
            continue
        try:
            configuration = get(r.props, "configurationValues")
        except UnknownValueError:
            continue  # computed in this update: known, and checked, at the next preview
        if not _cni_enforces(configuration):
            report_violation(
                f"the stack declares {len(policies)} NetworkPolicies but vpc-cni add-on {r.name!r} does "
                f"not enforce them (configurationValues {configuration!r}); allowed: JSON "
                'configurationValues with "enableNetworkPolicy": "true"',
                r.urn,
            )


def _denies_all(props: Any) -> bool:
    """A NetworkPolicy selecting every pod of its namespace for both directions."""
    try:
        selector = mapping(get(props, "spec", "podSelector"))
        types = set(items(get(props, "spec", "policyTypes")))
    except UnknownValueError:
        return True  # computed in this update: judged at the next preview
    empty = not mapping(get(selector, "matchLabels")) and not items(get(selector, "matchExpressions"))
    return empty and {"Ingress", "Egress"} <= types


def check_namespace_default_deny(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every namespace the stack creates has a default deny for all its pods, both directions."""
    denied = set()
    created = []
    for r in args.resources:
        provider_props = r.provider.props if r.provider is not None else None
        if r.resource_type == NETWORK_POLICY and _denies_all(r.props):
            denied.add(namespace_of(r.props, provider_props))
        elif r.resource_type == NAMESPACE:
            created.append(r)
    for r in created:
        name = get(r.props, "metadata", "name")
        if name not in denied:
            report_violation(
                f"namespace {name!r} has no default-deny NetworkPolicy; allowed: a NetworkPolicy in it "
                "with `podSelector: {}` and policyTypes [Ingress, Egress], plus policies allowing "
                "the traffic its pods need",
                r.urn,
            )


CLUSTER_POLICY = "kubernetes:kyverno.io/v1:ClusterPolicy"


def _resource_filters(block: Any) -> list[Mapping[str, Any]]:
    """The `resources` filters of a Kyverno match/exclude block: its legacy `resources`, and those
    of each `any` and `all` entry (kyverno.io/v1 MatchResources)."""
    block = mapping(block)
    found = [mapping(get(block, "resources"))] if get(block, "resources") else []
    for key in ("any", "all"):
        found += [mapping(get(entry, "resources")) for entry in items(get(block, key))]
    return found


def _digest_allow_list(rule: Any) -> bool:
    """A rule that denies any pod with an image outside a list of images pinned by digest (what
    components/admission.py declares for third-party images nobody signed for this project)."""
    conditions = items(get(rule, "validate", "deny", "conditions", "any"))
    if get(rule, "validate", "failureAction") not in ("Enforce", "Audit") or len(conditions) != 1:
        return False
    (condition,) = conditions
    key, values = get(condition, "key"), items(get(condition, "value"))
    every_container = (
        isinstance(key, str)
        and all(kind in key for kind in ("containers", "initContainers", "ephemeralContainers"))
        and key.rstrip(" }").endswith(".image")
    )
    return (
        every_container
        and get(condition, "operator") == "AnyNotIn"
        and bool(values)
        and all(image_problem(v) is None for v in values)
    )


def verified_namespaces(props: Mapping[str, Any]) -> tuple[set[str], bool, set[str]]:
    """What a ClusterPolicy's image-verifying rules cover (signature verification, or an allow-list
    of images pinned by digest): (namespaces named, whether one rule
    matches pods in every namespace, namespaces excluded by any of those rules)."""
    named: set[str] = set()
    everywhere = False
    excluded: set[str] = set()
    for rule in items(get(props, "spec", "rules")):
        if not items(get(rule, "verifyImages")) and not _digest_allow_list(rule):
            continue
        for filt in _resource_filters(get(rule, "match")):
            if not {"Pod", "*"} & set(items(get(filt, "kinds"))):
                continue
            namespaces = [str(n) for n in items(get(filt, "namespaces"))]
            named |= set(namespaces)
            everywhere = everywhere or not namespaces
        for filt in _resource_filters(get(rule, "exclude")):
            excluded |= {str(n) for n in items(get(filt, "namespaces"))}
    return named, everywhere, excluded


def check_images_verified_at_admission(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every namespace holding a workload the stack declares (its apps; the platform's charts are
    Helm releases) is covered by a Kyverno ClusterPolicy verifying pod images, and not excluded."""
    named: set[str] = set()
    everywhere = False
    excluded: set[str] = set()
    workloads = []
    for r in args.resources:
        provider_props = r.provider.props if r.provider is not None else None
        if r.resource_type == CLUSTER_POLICY:
            try:
                n, e, x = verified_namespaces(r.props)
            except UnknownValueError:
                return  # computed in this update: judged at the next preview
            named, everywhere, excluded = named | n, everywhere or e, excluded | x
        elif r.resource_type in POD_SPEC_PATHS:
            workloads.append((r, namespace_of(r.props, provider_props)))
    for r, namespace in workloads:
        covered = (namespace in named or everywhere) and namespace not in excluded
        if not covered:
            kind = r.resource_type.rsplit(":", 1)[-1]
            why = "excluded from" if namespace in excluded else "not matched by"
            report_violation(
                f"namespace {namespace!r} holds {kind} {r.name!r} but is {why} every ClusterPolicy "
                "that verifies images; allowed: a namespace matched (kinds [Pod]) by a rule with "
                "verifyImages and not excluded (components/admission.py declares one for the apps)",
                r.urn,
            )
