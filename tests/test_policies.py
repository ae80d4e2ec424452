"""Tests for the CrossGuard policy pack: each rule fails a violating resource and passes a compliant one,
the per-stack configs, the pack served over the analyzer protocol, and both stacks' synthesis."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Mapping
from typing import Any

import grpc
import pulumi
import pulumi_kubernetes as k8s
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from components._secret_names import looks_secret
from components.testing import SynthResult, synth
from policies import rules
from policies._edge import INGRESS, INGRESS_CLASS_PARAMS, SERVICE
from tests._tools import REPO
from tests.conftest import STACKS, config_problems, synth_stack, synth_with

Policy = ResourceValidationPolicy | StackValidationPolicy

DIGEST_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/lmagent-api@sha256:" + "a" * 64
CONFIG_DIR = REPO / "policies" / "config"


def _opts() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def violations(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    config: Mapping[str, Any] | None = None,
) -> list[str]:
    """What `policy` reports for one resource, its props wrapped as the engine wraps them."""
    found: list[str] = []
    args = ResourceValidationArgs(
        resource_type,
        unknown_checking_proxy(copy.deepcopy(dict(props))),
        f"urn:pulumi:test::p::{resource_type}::r",
        "r",
        _opts(),
        None,
        config,
    )
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


# ---------------------------------------------------------------------------------------------
# Compliant resources, and variations that break one rule each


def container(**changes: Any) -> dict[str, Any]:
    """A container that satisfies every rule, with `changes` replacing top-level keys."""
    base: dict[str, Any] = {
        "name": "api",
        "image": DIGEST_IMAGE,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "api-secrets", "key": "db"}}},
            {"name": "KMS_KEY_ID", "value": "alias/app"},
        ],
    }
    return {**base, **changes}


def security(**changes: Any) -> dict[str, Any]:
    """The compliant securityContext with `changes`; a value of None removes the key."""
    sc = {**container()["securityContext"], **changes}
    return {k: v for k, v in sc.items() if v is not None}


def workload(
    resource_type: str = "kubernetes:apps/v1:Deployment",
    *containers: dict[str, Any],
    pod_security: dict[str, Any] | None = None,
    namespace: str = "lmagent",
) -> dict[str, Any]:
    """A workload of `resource_type` whose pod spec (at that kind's path) holds `containers`."""
    pod: dict[str, Any] = {"containers": list(containers) or [container()]}
    if pod_security is not None:
        pod["securityContext"] = pod_security
    path = rules.POD_SPEC_PATHS[resource_type]
    inner: dict[str, Any] = pod
    for key in reversed(path[1:]):
        inner = {key: inner}
    return {"metadata": {"name": "api", "namespace": namespace}, path[0]: inner}


def rds(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "engine": "postgres",
        "storageEncrypted": True,
        "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/abc",
        "publiclyAccessible": False,
        "backupRetentionPeriod": 7,
    }
    return {**base, **changes}


def cluster(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "lmagent",
        "vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True, "subnetIds": ["a", "b"]},
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "encryptionConfig": {
            "resources": ["secrets"],
            "provider": {"keyArn": "arn:aws:kms:eu-west-1:123456789012:key/abc"},
        },
    }
    return {**base, **changes}


def repository(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "lmagent-api",
        "imageTagMutability": "IMMUTABLE",
        "imageScanningConfiguration": {"scanOnPush": True},
    }
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


DEPLOYMENT = "kubernetes:apps/v1:Deployment"

TLS13 = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
WAF_ARN = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/acme/1"
CERT_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/1"


def params(**changes: Any) -> dict[str, Any]:
    spec = {
        "scheme": "internet-facing",
        "certificateArn": [CERT_ARN],
        "sslPolicy": TLS13,
        "wafv2AclArn": WAF_ARN,
        **changes,
    }
    return {"metadata": {"name": "public"}, "spec": {k: v for k, v in spec.items() if v is not None}}


def annotated_ingress(**changes: str | None) -> dict[str, Any]:
    prefix = "alb.ingress.kubernetes.io/"
    annotations = {
        "scheme": "internet-facing",
        "certificate-arn": CERT_ARN,
        "ssl-policy": TLS13,
        "wafv2-acl-arn": WAF_ARN,
        **changes,
    }
    return {
        "metadata": {
            "name": "web",
            "annotations": {prefix + k: v for k, v in annotations.items() if v is not None},
        },
        "spec": {"ingressClassName": "alb"},
    }


def lb_service(scheme: str | None) -> dict[str, Any]:
    annotations = {"service.beta.kubernetes.io/aws-load-balancer-scheme": scheme} if scheme else {}
    return {"metadata": {"name": "web", "annotations": annotations}, "spec": {"type": "LoadBalancer"}}


# (policy, resource type, violating props, the field its message must name)
VIOLATIONS: list[tuple[ResourceValidationPolicy, str, dict[str, Any], str]] = [
    (
        rules.INTERNET_FACING_LB_TLS_WAF,
        INGRESS_CLASS_PARAMS,
        params(certificateArn=[]),
        "certificate is None",
    ),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS_CLASS_PARAMS, params(sslPolicy=None), "sslPolicy is None"),
    (
        rules.INTERNET_FACING_LB_TLS_WAF,
        INGRESS_CLASS_PARAMS,
        params(sslPolicy="ELBSecurityPolicy-2016-08"),
        "sslPolicy is 'ELBSecurityPolicy-2016-08'",
    ),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS_CLASS_PARAMS, params(wafv2AclArn=None), "wafv2AclArn is None"),
    (
        rules.INTERNET_FACING_LB_TLS_WAF,
        INGRESS_CLASS_PARAMS,
        params(wafv2AclArn="none"),
        "wafv2AclArn is None",
    ),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS, annotated_ingress(**{"wafv2-acl-arn": None}), "wafv2AclArn"),
    (
        rules.INTERNET_FACING_LB_TLS_WAF,
        INGRESS,
        annotated_ingress(**{"ssl-policy": None}),
        "sslPolicy is None",
    ),
    (rules.NO_INTERNET_FACING_SERVICE_LB, SERVICE, lb_service("internet-facing"), "scheme internet-facing"),
    (rules.NO_INTERNET_FACING_SERVICE_LB, SERVICE, lb_service(None), "scheme unset"),
    (
        rules.RUN_AS_NON_ROOT,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(runAsNonRoot=None))),
        "runAsNonRoot is None",
    ),
    (
        rules.RUN_AS_NON_ROOT,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(runAsUser=0))),
        "runAsUser is 0",
    ),
    (
        rules.RUN_AS_NON_ROOT,
        DEPLOYMENT,
        workload(
            DEPLOYMENT,
            container(securityContext=security(runAsNonRoot=False)),
            pod_security={"runAsNonRoot": True},
        ),
        "runAsNonRoot is False",
    ),
    (
        rules.READ_ONLY_ROOT_FILESYSTEM,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(readOnlyRootFilesystem=False))),
        "readOnlyRootFilesystem is False",
    ),
    (
        rules.NOT_PRIVILEGED,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(privileged=True))),
        "privileged is true",
    ),
    (
        rules.NO_PRIVILEGE_ESCALATION,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(allowPrivilegeEscalation=None))),
        "allowPrivilegeEscalation is None",
    ),
    (
        rules.NO_PRIVILEGE_ESCALATION,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(allowPrivilegeEscalation=True))),
        "allowPrivilegeEscalation is True",
    ),
    (
        rules.RESOURCE_LIMITS,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(resources={"limits": {"cpu": "1"}})),
        "resources.limits has no memory",
    ),
    (
        rules.RESOURCE_LIMITS,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(resources={"requests": {"cpu": "1", "memory": "1Gi"}})),
        "no cpu and no memory",
    ),
    (
        rules.IMAGE_DIGEST,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(image="nginx:latest")),
        "moving tag 'latest'",
    ),
    (
        rules.IMAGE_DIGEST,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(image="registry.local:5000/nginx")),
        "moving tag 'latest'",
    ),
    (
        rules.IMAGE_DIGEST,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(image="ghcr.io/acme/api:1.4.2")),
        "by tag only ('1.4.2')",
    ),
    (
        rules.IMAGE_DIGEST,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(image="acme/api@sha256:abc")),
        "malformed digest",
    ),
    (
        rules.SECRET_ENV,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(env=[{"name": "DB_PASSWORD", "value": "hunter2"}])),
        "env 'DB_PASSWORD': a secret-looking name with a plaintext value",
    ),
    (
        rules.SECRET_ENV,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(env=[{"name": "GREETING", "value": "[secret]"}])),
        "env 'GREETING': value is a secret written as a plain literal",
    ),
    (
        rules.SECRET_ENV,
        DEPLOYMENT,
        workload(
            DEPLOYMENT,
            container(
                env=[{"name": "apiToken", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "t"}}}]
            ),
        ),
        "read from valueFrom ['configMapKeyRef']",
    ),
    (
        rules.CONFIG_MAP_SECRETS,
        rules.CONFIG_MAP,
        {"data": {"LOG_LEVEL": "info", "DB_PASSWORD": "x"}},
        "data.DB_PASSWORD: a secret-looking key",
    ),
    (rules.CONFIG_MAP_SECRETS, rules.CONFIG_MAP, {"data": {"tls.key": "-----BEGIN"}}, "data.tls.key"),
    (
        rules.CONFIG_MAP_SECRETS,
        rules.CONFIG_MAP,
        {"data": {"GREETING": "[secret]"}},
        "data.GREETING: the value is a secret",
    ),
    (
        rules.ECR_SCAN_ON_PUSH,
        rules.ECR_REPOSITORY,
        repository(imageScanningConfiguration={"scanOnPush": False}),
        "scanOnPush is False",
    ),
    (
        rules.ECR_SCAN_ON_PUSH,
        rules.ECR_REPOSITORY,
        repository(imageScanningConfiguration=None),
        "scanOnPush is None",
    ),
    (
        rules.ECR_IMMUTABLE_TAGS,
        rules.ECR_REPOSITORY,
        repository(imageTagMutability="MUTABLE"),
        "imageTagMutability is 'MUTABLE'",
    ),
    (
        rules.ECR_IMMUTABLE_TAGS,
        rules.ECR_REPOSITORY,
        repository(imageTagMutability=None),
        "imageTagMutability is 'MUTABLE'",
    ),
    (
        rules.ECR_IMMUTABLE_TAGS,
        rules.ECR_REPOSITORY,
        repository(
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[
                {"filter": "cache", "filterType": "WILDCARD"},
                {"filter": "*", "filterType": "WILDCARD"},
            ],
        ),
        "imageTagMutabilityExclusionFilters ['*'] leave tags mutable",
    ),
    (
        rules.EKS_SECRETS_ENCRYPTION,
        rules.EKS_CLUSTER,
        cluster(encryptionConfig=None),
        "encryptionConfig is None",
    ),
    (
        rules.EKS_SECRETS_ENCRYPTION,
        rules.EKS_CLUSTER,
        cluster(encryptionConfig={"resources": [], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}}),
        "encryptionConfig.resources is []",
    ),
    (
        rules.EKS_SECRETS_ENCRYPTION,
        rules.EKS_CLUSTER,
        cluster(encryptionConfig={"resources": ["secrets"], "provider": {}}),
        "keyArn is None",
    ),
    (
        rules.EKS_AUDIT_LOGS,
        rules.EKS_CLUSTER,
        cluster(enabledClusterLogTypes=["api", "authenticator"]),
        "enabledClusterLogTypes is ['api', 'authenticator']",
    ),
    (
        rules.EKS_AUDIT_LOGS,
        rules.EKS_CLUSTER,
        cluster(enabledClusterLogTypes=None),
        "enabledClusterLogTypes is []",
    ),
    (
        rules.LOG_GROUP_KMS,
        rules.LOG_GROUP,
        {"name": "/aws/eks/demo/cluster", "retentionInDays": 90},
        "kmsKeyId is None",
    ),
    (
        rules.LOG_GROUP_KMS,
        rules.LOG_GROUP,
        {"name": "/aws/eks/demo/cluster", "kmsKeyId": ""},
        "kmsKeyId is ''",
    ),
    (rules.RDS_ENCRYPTED, rules.RDS_INSTANCE, rds(storageEncrypted=False), "storageEncrypted is False"),
    (rules.RDS_ENCRYPTED, rules.RDS_INSTANCE, rds(kmsKeyId=None), "kmsKeyId is None"),
    (rules.RDS_NOT_PUBLIC, rules.RDS_INSTANCE, rds(publiclyAccessible=True), "publiclyAccessible is True"),
    (rules.RDS_BACKED_UP, rules.RDS_INSTANCE, rds(backupRetentionPeriod=0), "backupRetentionPeriod is 0"),
    (
        rules.RDS_BACKED_UP,
        rules.RDS_INSTANCE,
        rds(backupRetentionPeriod=None),
        "backupRetentionPeriod is None",
    ),
    (
        rules.EKS_ENDPOINT,
        rules.EKS_CLUSTER,
        cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}),
        "publicAccessCidrs contains ['0.0.0.0/0']",
    ),
    (
        rules.EKS_ENDPOINT,
        rules.EKS_CLUSTER,
        cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "::/0"]}),
        "contains ['::/0']",
    ),
    (
        rules.EKS_ENDPOINT,
        rules.EKS_CLUSTER,
        cluster(vpcConfig={"endpointPublicAccess": True}),
        "no publicAccessCidrs",
    ),
    (
        rules.EKS_ENDPOINT,
        rules.EKS_CLUSTER,
        cluster(vpcConfig={"subnetIds": ["a"]}),
        "endpointPublicAccess is True with no publicAccessCidrs",
    ),
    (
        rules.LAUNCH_TEMPLATE_IMDSV2,
        rules.LAUNCH_TEMPLATE,
        {"metadataOptions": {"httpTokens": "optional"}},
        "httpTokens is 'optional'",
    ),
    (rules.LAUNCH_TEMPLATE_IMDSV2, rules.LAUNCH_TEMPLATE, {"imageId": "ami-1"}, "httpTokens is None"),
    (
        rules.NODE_GROUP_LAUNCH_TEMPLATE,
        rules.NODE_GROUP,
        {"clusterName": "c", "amiType": "AL2023_x86_64_STANDARD"},
        "launchTemplate is None",
    ),
]

# (policy, resource type, compliant props): the same rules passing, including their edge cases.
COMPLIANT: list[tuple[ResourceValidationPolicy, str, dict[str, Any]]] = [
    (
        rules.RUN_AS_NON_ROOT,
        DEPLOYMENT,
        workload(
            DEPLOYMENT,
            container(securityContext=security(runAsNonRoot=None, runAsUser=None)),
            pod_security={"runAsNonRoot": True, "runAsUser": 10001},
        ),
    ),
    (rules.READ_ONLY_ROOT_FILESYSTEM, DEPLOYMENT, workload()),
    (
        rules.NOT_PRIVILEGED,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(securityContext=security(privileged=None))),
    ),
    (rules.NO_PRIVILEGE_ESCALATION, DEPLOYMENT, workload()),
    (rules.RESOURCE_LIMITS, DEPLOYMENT, workload()),
    (
        rules.IMAGE_DIGEST,
        DEPLOYMENT,
        workload(DEPLOYMENT, container(image="registry.local:5000/api@sha256:" + "0" * 64)),
    ),
    (rules.SECRET_ENV, DEPLOYMENT, workload()),
    (
        rules.CONFIG_MAP_SECRETS,
        rules.CONFIG_MAP,
        {"data": {"LOG_LEVEL": "info", "api-red.json": "{}", "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/t"}},
    ),
    (rules.ECR_SCAN_ON_PUSH, rules.ECR_REPOSITORY, repository()),
    (rules.ECR_IMMUTABLE_TAGS, rules.ECR_REPOSITORY, repository()),
    (
        rules.ECR_IMMUTABLE_TAGS,
        rules.ECR_REPOSITORY,
        repository(
            imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
            imageTagMutabilityExclusionFilters=[{"filter": "cache", "filterType": "WILDCARD"}],
        ),
    ),
    (rules.EKS_SECRETS_ENCRYPTION, rules.EKS_CLUSTER, cluster()),
    (rules.EKS_AUDIT_LOGS, rules.EKS_CLUSTER, cluster()),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS_CLASS_PARAMS, params()),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS_CLASS_PARAMS, params(scheme="internal", wafv2AclArn=None)),
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS, annotated_ingress()),
    # The scheme is the class params' to set, and checked there.
    (rules.INTERNET_FACING_LB_TLS_WAF, INGRESS, annotated_ingress(scheme=None, **{"wafv2-acl-arn": None})),
    (rules.NO_INTERNET_FACING_SERVICE_LB, SERVICE, lb_service("internal")),
    (
        rules.NO_INTERNET_FACING_SERVICE_LB,
        SERVICE,
        {"metadata": {"name": "web"}, "spec": {"type": "ClusterIP"}},
    ),
    (
        rules.LOG_GROUP_KMS,
        rules.LOG_GROUP,
        {"name": "/aws/eks/demo/cluster", "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/abc"},
    ),
    (rules.RDS_ENCRYPTED, rules.RDS_INSTANCE, rds()),
    (rules.RDS_NOT_PUBLIC, rules.RDS_INSTANCE, rds()),
    (rules.RDS_BACKED_UP, rules.RDS_INSTANCE, rds()),
    (rules.EKS_ENDPOINT, rules.EKS_CLUSTER, cluster()),
    (
        rules.EKS_ENDPOINT,
        rules.EKS_CLUSTER,
        cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}),
    ),
    (
        rules.LAUNCH_TEMPLATE_IMDSV2,
        rules.LAUNCH_TEMPLATE,
        {"metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1}},
    ),
    (rules.NODE_GROUP_LAUNCH_TEMPLATE, rules.NODE_GROUP, {"launchTemplate": {"id": "lt-1", "version": "1"}}),
    (
        rules.NODE_GROUP_LAUNCH_TEMPLATE,
        rules.NODE_GROUP,
        {"launchTemplate": {"name": "nodes", "version": "$Latest"}},
    ),
]


@pytest.mark.parametrize(
    ("policy", "resource_type", "props", "expected"),
    VIOLATIONS,
    ids=[f"{p.name}-{i}" for i, (p, *_) in enumerate(VIOLATIONS)],
)
def test_each_rule_reports_a_violating_resource_naming_field_and_value(
    policy: ResourceValidationPolicy, resource_type: str, props: dict[str, Any], expected: str
) -> None:
    found = violations(policy, resource_type, props)
    assert len(found) == 1, found
    assert expected in found[0]
    assert "allowed:" in found[0]


@pytest.mark.parametrize(
    ("policy", "resource_type", "props"),
    COMPLIANT,
    ids=[f"{p.name}-{i}" for i, (p, *_) in enumerate(COMPLIANT)],
)
def test_each_rule_passes_a_compliant_resource(
    policy: ResourceValidationPolicy, resource_type: str, props: dict[str, Any]
) -> None:
    assert violations(policy, resource_type, props) == []


def test_every_resource_policy_has_a_violating_and_a_compliant_case() -> None:
    resource_policies = {p.name for p in rules.ALL_POLICIES if isinstance(p, ResourceValidationPolicy)}
    assert {p.name for p, *_ in VIOLATIONS} == resource_policies
    assert {p.name for p, *_ in COMPLIANT} == resource_policies


@pytest.mark.parametrize("resource_type", rules.WORKLOADS)
def test_container_rules_find_the_pod_spec_of_every_workload_kind(resource_type: str) -> None:
    root = container(
        image="nginx",
        securityContext={"runAsUser": 0, "privileged": True},
        resources={},
        env=[{"name": "API_KEY", "value": "k"}],
    )
    props = workload(resource_type, root)
    path = ".".join(rules.POD_SPEC_PATHS[resource_type])
    for policy in (
        rules.RUN_AS_NON_ROOT,
        rules.READ_ONLY_ROOT_FILESYSTEM,
        rules.NOT_PRIVILEGED,
        rules.NO_PRIVILEGE_ESCALATION,
        rules.RESOURCE_LIMITS,
        rules.IMAGE_DIGEST,
        rules.SECRET_ENV,
    ):
        found = violations(policy, resource_type, props)
        assert len(found) == 1 and found[0].startswith(f"{path}.containers[0] ('api')"), (policy.name, found)
        assert violations(policy, resource_type, workload(resource_type)) == [], policy.name


def test_container_rules_check_init_containers_too() -> None:
    props = workload()
    props["spec"]["template"]["spec"]["initContainers"] = [container(name="migrate", image="migrate:v1")]
    found = violations(rules.IMAGE_DIGEST, DEPLOYMENT, props)
    assert found == [
        "spec.template.spec.initContainers[0] ('migrate'): image 'migrate:v1' is referenced by tag only "
        "('v1'); allowed: <repository>@sha256:<digest> (a tag can be re-pointed, a digest cannot)"
    ]


def test_each_violating_container_is_reported_separately() -> None:
    bad = container(securityContext=security(readOnlyRootFilesystem=None))
    props = workload(DEPLOYMENT, bad, container(name="sidecar", securityContext=bad["securityContext"]))
    found = violations(rules.READ_ONLY_ROOT_FILESYSTEM, DEPLOYMENT, props)
    assert [m.split(":")[0] for m in found] == [
        "spec.template.spec.containers[0] ('api')",
        "spec.template.spec.containers[1] ('sidecar')",
    ]


def test_a_policy_ignores_resource_types_it_does_not_govern() -> None:
    # A world-open endpoint on a resource that is not an EKS cluster is not this policy's business.
    assert violations(rules.EKS_ENDPOINT, rules.LAUNCH_TEMPLATE, {"vpcConfig": {}}) == []
    assert (
        violations(
            rules.RUN_AS_NON_ROOT, rules.CONFIG_MAP, workload(DEPLOYMENT, container(securityContext={}))
        )
        == []
    )


def test_ecr_mutable_tag_exclusions_follow_the_policy_config() -> None:
    props = repository(
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filter": "nightly-*", "filterType": "WILDCARD"}],
    )
    assert violations(rules.ECR_IMMUTABLE_TAGS, rules.ECR_REPOSITORY, props) != []
    config = {"allowedMutableTags": ["nightly-*"]}
    assert violations(rules.ECR_IMMUTABLE_TAGS, rules.ECR_REPOSITORY, props, config) == []


@pytest.mark.parametrize(
    ("policy", "resource_type", "props"),
    [
        (
            rules.NODE_GROUP_LAUNCH_TEMPLATE,
            rules.NODE_GROUP,
            {"launchTemplate": {"id": UNKNOWN_STRING_VALUE}},
        ),
        (
            rules.EKS_SECRETS_ENCRYPTION,
            rules.EKS_CLUSTER,
            cluster(
                encryptionConfig={"resources": ["secrets"], "provider": {"keyArn": UNKNOWN_STRING_VALUE}}
            ),
        ),
    ],
    ids=["launch-template-id", "kms-key-arn"],
)
def test_a_reference_to_a_resource_created_in_the_same_update_counts_as_set(
    policy: ResourceValidationPolicy, resource_type: str, props: dict[str, Any]
) -> None:
    # In the first preview of a new stack the template id and key ARN are unknown; only their
    # presence matters, so the check must still run (and pass) rather than be skipped.
    assert violations(policy, resource_type, props) == []


def test_a_value_unknown_during_preview_is_raised_to_the_engine_not_taken_as_compliant() -> None:
    # The engine turns UnknownValueError into "can't run policy during preview"; swallowing it
    # would let an unchecked image through.
    props = workload(DEPLOYMENT, container(image=UNKNOWN_STRING_VALUE))
    with pytest.raises(UnknownValueError):
        violations(rules.IMAGE_DIGEST, DEPLOYMENT, props)


@pytest.mark.parametrize(
    "name",
    [
        "DB_PASSWORD",
        "PASSWORD",
        "apiKey",
        "API_KEY",
        "APIKEY",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "SECRET_KEY_BASE",
        "tls.key",
        "DATABASE_URL",
        "REDIS_URL",
        "mongodb-uri",
        "SENTRY_DSN",
        "AZURE_CONNECTION_STRING",
        "SMTP_CREDENTIALS",
        "client-secret.txt",
    ],
)
def test_secret_looking_names_are_recognised(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "LOG_LEVEL",
        "OTEL_SERVICE_NAME",
        "KMS_KEY_ID",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "TOKEN_URL",
        "SECRET_NAME",
        "JWT_PUBLIC_KEY",
        "PWD",
        "KEYCLOAK_REALM",
        "api-red.json",
        "MONKEY_MODE",
        "",
    ],
)
def test_ordinary_setting_names_are_not_taken_for_secrets(name: str) -> None:
    assert not looks_secret(name)


# ---------------------------------------------------------------------------------------------
# The stack-level NetworkPolicy rule


def stack_resource(
    resource_type: str, name: str, props: Mapping[str, Any], provider: PolicyProviderResource | None = None
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        unknown_checking_proxy(copy.deepcopy(dict(props))),
        f"urn:pulumi:test::p::{resource_type}::{name}",
        name,
        _opts(),
        provider,
        None,
        [],
        {},
    )


def stack_violations(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    rules.NETWORK_POLICY_PER_NAMESPACE.validate(
        StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn))
    )
    return found


def netpol(namespace: str) -> PolicyResource:
    props = {"metadata": {"name": "deny-all", "namespace": namespace}, "spec": {"podSelector": {}}}
    return stack_resource(rules.NETWORK_POLICY, f"{namespace}-deny-all", props)


def test_fails_when_a_namespace_with_a_deployment_has_no_network_policy() -> None:
    api = stack_resource(DEPLOYMENT, "api", workload(namespace="lmagent"))
    found = stack_violations([api, netpol("monitoring")])
    assert found == [
        (
            "namespace 'lmagent' holds Deployment 'api' but no NetworkPolicy; allowed: a namespace "
            "with a NetworkPolicy (default-deny plus the allowed traffic)",
            api.urn,
        )
    ]


def test_a_namespace_with_a_network_policy_passes() -> None:
    api = stack_resource(DEPLOYMENT, "api", workload(namespace="lmagent"))
    job = stack_resource(
        "kubernetes:batch/v1:CronJob", "report", workload("kubernetes:batch/v1:CronJob", namespace="lmagent")
    )
    assert stack_violations([api, job, netpol("lmagent")]) == []


def test_fails_when_a_job_lands_in_its_providers_namespace_without_a_network_policy() -> None:
    provider = PolicyProviderResource(
        "pulumi:providers:kubernetes",
        {"namespace": "batch"},
        "urn:pulumi:test::p::pulumi:providers:kubernetes::k",
        "k",
    )
    props = workload("kubernetes:batch/v1:Job")
    del props["metadata"]["namespace"]
    job = stack_resource("kubernetes:batch/v1:Job", "migrate", props, provider)
    found = stack_violations([job, netpol("lmagent"), netpol("default")])
    assert [m for m, _ in found] == [
        "namespace 'batch' holds Job 'migrate' but no NetworkPolicy; allowed: a namespace with a "
        "NetworkPolicy (default-deny plus the allowed traffic)"
    ]
    assert stack_violations([job, netpol("batch")]) == []


# ---------------------------------------------------------------------------------------------
# The stack-level rule that NetworkPolicies are enforced by the VPC CNI


def enforcement_violations(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    rules.NETWORK_POLICY_ENFORCED.validate(
        StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn))
    )
    return found


def cni(configuration: Any = None, addon: str = "vpc-cni") -> PolicyResource:
    props: dict[str, Any] = {"addonName": addon, "clusterName": "demo", "addonVersion": "v1.21.1-eksbuild.1"}
    if configuration is not None:
        props["configurationValues"] = configuration
    return stack_resource(rules.EKS_ADDON, f"cluster-{addon}", props)


def test_fails_when_network_policies_meet_a_cni_that_does_not_enforce_them() -> None:
    addon = cni()
    assert enforcement_violations([addon, netpol("lmagent")]) == [
        (
            "the stack declares 1 NetworkPolicies but vpc-cni add-on 'cluster-vpc-cni' does not enforce "
            "them (configurationValues None); allowed: JSON configurationValues with "
            '"enableNetworkPolicy": "true"',
            addon.urn,
        )
    ]


@pytest.mark.parametrize(
    "configuration",
    [
        '{"enableNetworkPolicy": "false"}',
        '{"enableNetworkPolicy": true}',  # the schema's type is a string
        '{"env": {"ENABLE_PREFIX_DELEGATION": "true"}}',
        "enableNetworkPolicy: 'true'",  # YAML: not what this project writes, not guessed at
        "",
    ],
)
def test_fails_when_the_cni_configuration_does_not_turn_enforcement_on(configuration: str) -> None:
    assert len(enforcement_violations([cni(configuration), netpol("lmagent")])) == 1


def test_a_cni_that_enforces_network_policies_passes() -> None:
    config = '{"enableNetworkPolicy": "true", "env": {"ENABLE_PREFIX_DELEGATION": "true"}}'
    assert enforcement_violations([cni(config), netpol("lmagent"), netpol("monitoring")]) == []


def test_no_network_policy_or_no_vpc_cni_leaves_the_rule_nothing_to_say() -> None:
    assert enforcement_violations([cni()]) == []
    assert enforcement_violations([cni(addon="coredns"), netpol("lmagent")]) == []


def test_a_configuration_unknown_during_preview_is_judged_at_the_next_preview() -> None:
    assert enforcement_violations([cni(UNKNOWN_STRING_VALUE), netpol("lmagent")]) == []


def test_the_pack_refuses_a_stack_whose_cni_ignores_its_network_policies() -> None:
    def program() -> None:
        import pulumi_aws as aws

        provider = k8s.Provider("k8s", kubeconfig="{}")
        aws.eks.Addon(
            "vpc-cni", cluster_name="demo", addon_name="vpc-cni", addon_version="v1.21.1-eksbuild.1"
        )
        k8s.networking.v1.NetworkPolicy(
            "deny",
            metadata={"name": "default-deny", "namespace": "orders"},
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=pulumi.ResourceOptions(provider=provider),
        )

    found = pack_violations(synth(program, project="acme", stack="dev"))
    assert [line.split(":")[0] for line in found] == ["eks-network-policy-enforced"], found


# ---------------------------------------------------------------------------------------------
# The stack-level rule that every created namespace denies by default


def default_deny_violations(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    rules.NAMESPACE_DEFAULT_DENY.validate(
        StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn))
    )
    return found


def namespace(name: str) -> PolicyResource:
    return stack_resource(rules.NAMESPACE, f"{name}-namespace", {"metadata": {"name": name}})


def policy(namespace: str, spec: dict[str, Any], name: str = "p") -> PolicyResource:
    props = {"metadata": {"name": name, "namespace": namespace}, "spec": spec}
    return stack_resource(rules.NETWORK_POLICY, f"{namespace}-{name}", props)


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_fails_when_a_created_namespace_has_no_default_deny() -> None:
    orders = namespace("orders")
    app_only = policy(
        "orders", {"podSelector": {"matchLabels": {"app": "orders"}}, "policyTypes": ["Ingress", "Egress"]}
    )
    assert default_deny_violations([orders, app_only, policy("lmagent", DENY_ALL)]) == [
        (
            "namespace 'orders' has no default-deny NetworkPolicy; allowed: a NetworkPolicy in it with "
            "`podSelector: {}` and policyTypes [Ingress, Egress], plus policies allowing the traffic "
            "its pods need",
            orders.urn,
        )
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"podSelector": {}, "policyTypes": ["Ingress"]},  # egress left open
        {
            "podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
            "policyTypes": ["Ingress", "Egress"],
        },
    ],
)
def test_fails_when_the_deny_leaves_a_direction_or_a_pod_out(spec: dict[str, Any]) -> None:
    assert len(default_deny_violations([namespace("orders"), policy("orders", spec)])) == 1


def test_a_created_namespace_with_a_default_deny_passes() -> None:
    assert default_deny_violations([namespace("orders"), policy("orders", DENY_ALL)]) == []
    # Namespaces the stack does not create are not its to lock down.
    assert default_deny_violations([policy("orders", {"podSelector": {}, "policyTypes": ["Ingress"]})]) == []


# ---------------------------------------------------------------------------------------------
# Enforcement: the pack's default and the per-stack configs


def load_config(stack: str) -> dict[str, str]:
    return dict(json.loads((CONFIG_DIR / f"{stack}.json").read_text()))


# Where staging legitimately relaxes, and why (README.md in policies/ says the same).
STAGING_ADVISORY = {
    # components/cluster.py refuses a world-open public endpoint only in production; staging may
    # open its API to CI runners and developers without a fixed egress address.
    "eks-no-world-open-endpoint",
}


def test_policy_names_are_unique() -> None:
    names = [p.name for p in rules.ALL_POLICIES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_config_names_every_policy_and_nothing_else(stack: str) -> None:
    config = load_config(stack)
    assert sorted(config) == sorted(p.name for p in rules.ALL_POLICIES)
    assert set(config.values()) <= {"mandatory", "advisory"}


def test_production_makes_every_policy_mandatory() -> None:
    assert {name: level for name, level in load_config("production").items() if level != "mandatory"} == {}


def test_staging_relaxes_only_the_documented_policies() -> None:
    advisory = {name for name, level in load_config("staging").items() if level != "mandatory"}
    assert advisory == STAGING_ADVISORY
    readme = (REPO / "policies" / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in STAGING_ADVISORY)


# ---------------------------------------------------------------------------------------------
# The pack served over the analyzer protocol, as the Pulumi CLI runs it


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(value))
    return s


_LEVELS = {"mandatory": analyzer_pb2.MANDATORY, "advisory": analyzer_pb2.ADVISORY}


@pytest.fixture(scope="module")
def analyzer() -> Any:
    """The pack started the way the CLI's Python analyzer starts it: `-m pulumi.policy` on the
    directory, in the pack's own environment (.tools/policy, built from policies/uv.lock by
    `make test` as by the CLI). It prints its port, then serves until stopped."""
    python = REPO / ".tools" / "policy" / "bin" / "python"
    assert python.exists(), "the policy pack's environment is missing: run `make test`"
    process = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:0", str(REPO / "policies")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO / "policies",
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the policy pack did not start: {line!r} {err}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        process.kill()
        process.communicate()


def test_the_pack_serves_every_policy_mandatory_by_default(analyzer: Any) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "lmagent-security"
    assert [p.name for p in info.policies] == [p.name for p in rules.ALL_POLICIES]
    assert {p.name for p in info.policies if p.enforcementLevel != analyzer_pb2.MANDATORY} == set()
    stack_policies = [p.name for p in info.policies if p.policy_type == analyzer_pb2.POLICY_TYPE_STACK]
    assert stack_policies == [
        "k8s-network-policy-per-namespace",
        "eks-network-policy-enforced",
        "k8s-namespace-default-deny",
        "k8s-images-verified-at-admission",
        "rds-in-backup-plan",
    ]


@pytest.mark.parametrize(("stack", "expected_level"), [("production", "mandatory"), ("staging", "advisory")])
def test_a_world_open_endpoint_is_reported_at_the_stack_configs_level(
    analyzer: Any, stack: str, expected_level: str
) -> None:
    # What `--policy-pack-config policies/config/<stack>.json` makes the CLI send.
    request = analyzer_pb2.ConfigureAnalyzerRequest(
        policyConfig={
            name: analyzer_pb2.PolicyConfig(enforcementLevel=_LEVELS[level])
            for name, level in load_config(stack).items()
        }
    )
    analyzer.Configure(request)
    props = cluster(vpcConfig={"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
    response = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=rules.EKS_CLUSTER,
            name="lmagent",
            urn="urn:pulumi:s::lmagent-infra::aws:eks/cluster:Cluster::lmagent",
            properties=_struct(props),
        )
    )
    found = [(d.policyName, d.enforcementLevel) for d in response.diagnostics]
    assert found == [("eks-no-world-open-endpoint", _LEVELS[expected_level])]


def test_a_stack_without_network_or_admission_policies_fails_over_the_protocol(analyzer: Any) -> None:
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={}))
    deployment = analyzer_pb2.AnalyzerResource(
        type=DEPLOYMENT,
        name="api",
        urn="urn:pulumi:s::p::kubernetes:apps/v1:Deployment::api",
        properties=_struct(workload()),
    )
    response = analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[deployment]))
    assert [(d.policyName, d.urn, d.enforcementLevel) for d in response.diagnostics] == [
        ("k8s-network-policy-per-namespace", deployment.urn, analyzer_pb2.MANDATORY),
        ("k8s-images-verified-at-admission", deployment.urn, analyzer_pb2.MANDATORY),
    ]


# ---------------------------------------------------------------------------------------------
# The real stacks


def _policy_resources(result: SynthResult) -> list[PolicyResource]:
    """The synthesised resources as the engine hands them to a stack policy."""
    by_urn = {r["urn"]: r for r in result.resources}
    out = []
    for r in result.resources:
        p = by_urn.get(r["provider"] or "")
        provider = (
            PolicyProviderResource(p["type"], unknown_checking_proxy(p["inputs"]), p["urn"], p["name"])
            if p
            else None
        )
        props = unknown_checking_proxy(copy.deepcopy(r["inputs"]))
        out.append(PolicyResource(r["type"], props, r["urn"], r["name"], _opts(), provider, None, [], {}))
    return out


def pack_violations(result: SynthResult) -> list[str]:
    """`<policy>: <urn>: <message>` for everything the pack reports on a synthesised stack."""
    found: list[str] = []
    resources = _policy_resources(result)
    for policy in rules.ALL_POLICIES:
        if isinstance(policy, StackValidationPolicy):
            policy.validate(
                StackValidationArgs(resources),
                lambda m, urn=None, n=policy.name: found.append(f"{n}: {urn}: {m}"),
            )
            continue
        for r in resources:
            args = ResourceValidationArgs(r.resource_type, r.props, r.urn, r.name, r.opts, r.provider)
            policy.validate(args, lambda m, urn=None, n=policy.name, u=r.urn: found.append(f"{n}: {u}: {m}"))
    return found


def test_every_policy_passes_what_the_stack_declares(synthesized: SynthResult) -> None:
    """Every rule over every resource the stack declares, and the stack rule over all of them.

    Helm releases (`kubernetes:helm.sh/v3:Release`) render their charts inside the provider, so the
    objects a chart creates are invisible here exactly as they are to the real analyzer; the charts
    are held to the checklist by their values (components/monitoring.py and its tests).
    """
    assert pack_violations(synthesized) == []


def test_every_policy_has_something_to_check_in_each_stack(synthesized: SynthResult) -> None:
    # Without this, a stack that stopped declaring (or renamed) a resource type would pass the
    # test above by checking nothing.
    types = {r["type"] for r in synthesized.resources}
    idle = [p.name for p in rules.ALL_POLICIES if not types.intersection(rules.RESOURCE_TYPES[p.name])]
    assert idle == []


def test_fails_when_the_staging_config_opens_the_endpoint_to_the_world() -> None:
    result = synth_with(
        "staging", {"cluster": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]}}
    )
    found = pack_violations(result)
    assert [line.split(":")[0] for line in found] == ["eks-no-world-open-endpoint"], found
    assert "vpcConfig.publicAccessCidrs contains ['0.0.0.0/0']" in found[0]


def test_a_password_in_plain_env_is_refused_by_the_config_before_the_pack_sees_it() -> None:
    [line] = config_problems("staging", {"apps": {"lmagent-api": {"env": {"DB_PASSWORD": "hunter2"}}}})
    assert "lmagent-infra:apps.lmagent-api.env: DB_PASSWORD looks like a secret" in line


def test_the_pack_still_catches_a_secret_in_a_config_map_declared_outside_the_components() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        k8s.core.v1.ConfigMap(
            "settings",
            metadata={"name": "settings", "namespace": "orders"},
            data={"LOG_LEVEL": "info", "DB_PASSWORD": "hunter2"},
            opts=pulumi.ResourceOptions(provider=provider),
        )

    found = pack_violations(synth(program, project="acme", stack="dev"))
    assert any(
        line.startswith("k8s-no-secrets-in-config-maps") and "data.DB_PASSWORD" in line for line in found
    ), found


# ---------------------------------------------------------------------------------------------
# The stack-level rule that every app namespace is covered by the image-verifying admission policy


def admission_violations(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    rules.IMAGES_VERIFIED.validate(
        StackValidationArgs(resources), lambda message, urn=None: found.append((message, urn))
    )
    return found


def cluster_policy(rule: dict[str, Any]) -> PolicyResource:
    props = {"metadata": {"name": "verify-image-signatures"}, "spec": {"rules": [rule]}}
    return stack_resource("kubernetes:kyverno.io/v1:ClusterPolicy", "verify", props)


VERIFY = [
    {"imageReferences": ["*"], "attestors": [{"entries": [{"keyless": {"subject": "s", "issuer": "i"}}]}]}
]


def test_fails_when_an_app_namespace_is_not_matched_by_the_image_policy() -> None:
    api = stack_resource(DEPLOYMENT, "api", workload(namespace="lmagent"))
    orders = stack_resource(DEPLOYMENT, "orders", workload(namespace="orders"))
    covers_lmagent = cluster_policy(
        {
            "name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["lmagent"]}}]},
            "verifyImages": VERIFY,
        }
    )
    assert admission_violations([api, orders, covers_lmagent]) == [
        (
            "namespace 'orders' holds Deployment 'orders' but is not matched by every ClusterPolicy "
            "that verifies images; allowed: a namespace matched (kinds [Pod]) by a rule with "
            "verifyImages and not excluded (components/admission.py declares one for the apps)",
            orders.urn,
        )
    ]


def test_fails_when_an_app_namespace_is_excluded_or_the_rule_does_not_verify_pods() -> None:
    api = stack_resource(DEPLOYMENT, "api", workload(namespace="lmagent"))
    everywhere_but = cluster_policy(
        {
            "name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "exclude": {"any": [{"resources": {"namespaces": ["lmagent"]}}]},
            "verifyImages": VERIFY,
        }
    )
    [(message, _)] = admission_violations([api, everywhere_but])
    assert "is excluded from" in message
    no_verify = cluster_policy(
        {
            "name": "r",
            "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["lmagent"]}}]},
            "validate": {"pattern": {}},
        }
    )
    assert len(admission_violations([api, no_verify])) == 1
    services_only = cluster_policy(
        {
            "name": "r",
            "match": {"resources": {"kinds": ["Service"], "namespaces": ["lmagent"]}},
            "verifyImages": VERIFY,
        }
    )
    assert len(admission_violations([api, services_only])) == 1
    assert len(admission_violations([api])) == 1


def test_an_app_namespace_matched_by_the_image_policy_passes() -> None:
    api = stack_resource(DEPLOYMENT, "api", workload(namespace="lmagent"))
    legacy = cluster_policy(
        {
            "name": "r",
            "match": {"resources": {"kinds": ["Pod"], "namespaces": ["lmagent"]}},
            "verifyImages": VERIFY,
        }
    )
    everywhere = cluster_policy(
        {
            "name": "r",
            "match": {"all": [{"resources": {"kinds": ["Pod"]}}]},
            "exclude": {"any": [{"resources": {"namespaces": ["kube-system"]}}]},
            "verifyImages": VERIFY,
        }
    )
    assert admission_violations([api, legacy]) == []
    assert admission_violations([api, everywhere]) == []


PINNED = "docker.io/library/postgres:17.6-alpine@sha256:" + "a" * 64
EVERY_IMAGE = "{{ request.object.spec.[ephemeralContainers, initContainers, containers][].image }}"


def _allow_list(values: list[str], *, operator: str = "AnyNotIn", key: str | None = None) -> PolicyResource:
    return cluster_policy(
        {
            "name": "pinned",
            "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaces": ["database-admin"]}}]},
            "validate": {
                "failureAction": "Enforce",
                "deny": {
                    "conditions": {
                        "any": [
                            {
                                "key": key or EVERY_IMAGE,
                                "operator": operator,
                                "value": values,
                            }
                        ]
                    }
                },
            },
        }
    )


def test_a_namespace_admitting_only_images_pinned_by_digest_passes_and_a_weaker_list_does_not() -> None:
    job = stack_resource("kubernetes:batch/v1:Job", "users", workload(namespace="database-admin"))
    assert admission_violations([job, _allow_list([PINNED])]) == []
    # By tag only, the wrong operator, or containers alone (an init container would slip by): refused.
    assert len(admission_violations([job, _allow_list(["postgres:17.6-alpine"])])) == 1
    assert len(admission_violations([job, _allow_list([PINNED], operator="AnyIn")])) == 1
    only_containers = "{{ request.object.spec.containers[].image }}"
    assert len(admission_violations([job, _allow_list([PINNED], key=only_containers)])) == 1
    assert len(admission_violations([job, _allow_list([])])) == 1


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_stack_without_its_admission_policy_fails_the_pack(stack: str) -> None:
    result = synth_stack(stack)
    without = [
        r for r in _policy_resources(result) if r.resource_type != "kubernetes:kyverno.io/v1:ClusterPolicy"
    ]
    found = admission_violations(without)
    assert sorted(m.split(" but ")[0] for m, _ in found) == [
        "namespace 'database-admin' holds Job 'database-users-main-job'",
        "namespace 'lmagent' holds Deployment 'lmagent-api-deployment'",
    ]
    assert admission_violations(_policy_resources(result)) == []


def _backup_violations(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    rules.RDS_IN_BACKUP_PLAN.validate(
        StackValidationArgs(resources), lambda m, urn=None: found.append((m, urn))
    )
    return found


def test_fails_when_an_rds_instance_is_in_no_backup_selection() -> None:
    db = stack_resource(rules.RDS_INSTANCE, "db", rds(identifier="main"))
    other = stack_resource(
        "aws:backup/selection:Selection", "sel", {"resources": ["arn:aws:rds:eu-west-1:1:db:x"]}
    )
    assert _backup_violations([db, other]) == [
        (
            "RDS instance 'db' is in no AWS Backup selection of this stack; allowed: an aws.backup.Selection "
            "whose resources name the instance (components/database does)",
            db.urn,
        )
    ]


def test_a_selection_naming_the_instance_passes_by_arn_or_by_dependency() -> None:
    db = stack_resource(rules.RDS_INSTANCE, "db", rds(identifier="main"))
    by_arn = stack_resource(
        "aws:backup/selection:Selection", "sel", {"resources": ["arn:aws:rds:eu-west-1:1:db:main"]}
    )
    assert _backup_violations([db, by_arn]) == []
    by_dependency = PolicyResource(
        "aws:backup/selection:Selection", {"resources": []}, "urn:sel", "sel", _opts(), None, None, [db],
        {"resources": [db]},
    )  # fmt: skip
    assert _backup_violations([db, by_dependency]) == []
