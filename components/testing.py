"""The offline engine: run a Pulumi program under the SDK's mock engine and record what it declares.

`synth(program, project=, stack=, config=)` runs `program` exactly as `pulumi up` would run it (same
SDK, same registration path, `preview=False` so every `apply` runs), with a mock monitor that
records each registered resource: its type, name, parent, provider, inputs (camelCase wire names)
and options. Secret values are replaced by `"[secret]"` as they are recorded, so no consumer of the
result can leak one. Outputs of resources are fabricated from a table of the resource types and
invokes this library uses; an invoke the table does not know raises instead of returning `None`.

The SDK's own `pulumi.runtime.test` decorator and `MockMonitor` do the registration; this module
adds what they lack for reviewing infrastructure: options, parents, providers, secret redaction,
deterministic ordering and Kubernetes manifests. While a run lasts, what survives a full garbage
collection is frozen (`_freezing_survivors`), which keeps collections from re-walking the SDKs'
modules and the resources; the process's GC state is restored when the run ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import gc
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime.stack import run_pulumi_func

__all__ = [
    "ACCOUNT_ID",
    "SECRET",
    "Mocks",
    "StackSecret",
    "SynthResult",
    "UnknownInvokeError",
    "UnknownResourceError",
    "fresh_event_loop",
    "redact",
    "synth",
]

#: What every secret value becomes in recorded inputs, outputs, files and terminal lines.
SECRET = "[secret]"

#: The account every fabricated ARN belongs to.
ACCOUNT_ID = "123456789012"

_HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
_NOT_MANIFESTS = (_HELM_RELEASE, "pulumi:providers:kubernetes")


class UnknownInvokeError(LookupError):
    """The program called a provider function the offline engine has no fabricated answer for."""


class UnknownResourceError(LookupError):
    """The program declared a resource type whose outputs the offline engine cannot fabricate."""


#: What a caller adds: a fixed result, or a function of the invoke's arguments.
InvokeAnswer = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]
#: What a caller adds for a resource type: fixed outputs, or a function of (name, inputs).
ResourceAnswer = Mapping[str, Any] | Callable[[str, dict[str, Any]], Mapping[str, Any]]

#: AWS resource types whose outputs are answered: their inputs, `id`, `arn`, and the computed
#: outputs `_aws_outputs` adds. Any other AWS type has computed outputs (an RDS endpoint, say)
#: that would silently be None, so it raises unless the caller gives `resource_outputs`.
_ANSWERED_AWS = frozenset(
    {
        "aws:acm/certificate:Certificate",
        "aws:acm/certificateValidation:CertificateValidation",
        "aws:cloudwatch/logResourcePolicy:LogResourcePolicy",
        "aws:route53/record:Record",
        "aws:wafv2/webAcl:WebAcl",
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "aws:backup/plan:Plan",
        "aws:backup/selection:Selection",
        "aws:backup/vault:Vault",
        "aws:backup/vaultLockConfiguration:VaultLockConfiguration",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:codebuild/project:Project",
        "aws:codebuild/webhook:Webhook",
        "aws:codeconnections/connection:Connection",
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/eip:Eip",
        "aws:ec2/flowLog:FlowLog",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/route:Route",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/routeTableAssociation:RouteTableAssociation",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcEndpoint:VpcEndpoint",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        "aws:ecr/repository:Repository",
        "aws:ecr/repositoryPolicy:RepositoryPolicy",
        "aws:eks/accessEntry:AccessEntry",
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
        "aws:eks/addon:Addon",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:iam/policy:Policy",
        "aws:iam/role:Role",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:kms/alias:Alias",
        "aws:kms/key:Key",
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketV2:BucketV2",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:sqs/queue:Queue",
        "aws:sqs/queuePolicy:QueuePolicy",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    }
)


# ---------------------------------------------------------------------------------------------
# Values


def _digest(*parts: str, length: int = 17) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def redact(value: Any) -> Any:
    """Turn a deserialized property value into plain JSON data with secrets as `SECRET`.

    A secret map keeps its keys (names such as `DATABASE_URL` are structure, not secret) and has
    every leaf value replaced, so a Kubernetes Secret or Helm values stay schema-valid.
    """
    if _rpc.is_rpc_secret(value):
        return _blank(value["value"])
    if isinstance(value, Mapping):
        return _sorted_map(value, redact)
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        # The wire carries every number as a double; integral values are ints in what we write.
        return int(value)
    if isinstance(value, pulumi.Resource):
        return f"[resource {type(value).__name__}]"
    if isinstance(value, pulumi.Asset | pulumi.Archive):
        path = getattr(value, "path", None) or getattr(value, "uri", None)
        return {"asset": str(path)} if path is not None else {"asset": type(value).__name__}
    if value is _rpc.UNKNOWN:
        return "[unknown]"
    return value


def _blank(value: Any) -> Any:
    if _rpc.is_rpc_secret(value):
        return _blank(value["value"])
    if isinstance(value, Mapping):
        return _sorted_map(value, _blank)
    if isinstance(value, list | tuple):
        return [_blank(v) for v in value]
    return SECRET


def _sorted_map(value: Mapping[Any, Any], convert: Callable[[Any], Any]) -> dict[str, Any]:
    # Every recorded map gets its keys in sorted order: the order a map arrives in is the
    # protobuf runtime's (protobuf 6's upb hands a Struct's entries over in an order that varies
    # per process), and what synth writes must be a function of the program and its config alone.
    # Writers that want a conventional head (a Kubernetes object's apiVersion, kind, metadata,
    # spec) put it in front of this order.
    return {str(k): convert(value[k]) for k in sorted(value, key=str)}


# ---------------------------------------------------------------------------------------------
# Fabricated outputs


@dataclass
class _World:
    """What the fabricated outputs agree on: region, account, stack references."""

    region: str
    stack_references: Mapping[str, Mapping[str, Any]]

    def arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _aws_outputs(world: _World, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs AWS would compute for the resource types this library declares."""
    module = typ.split(":")[1].split("/")[0]  # "aws:eks/cluster:Cluster" -> "eks"
    physical = inputs.get("name") or name
    out: dict[str, Any] = {"arn": world.arn(module, f"{typ.rsplit(':', 1)[1].lower()}/{physical}")}
    if typ == "aws:eks/cluster:Cluster":
        cluster_id = _digest(name, length=32).upper()
        oidc = f"https://oidc.eks.{world.region}.amazonaws.com/id/{cluster_id}"
        out |= {
            "name": physical,
            "arn": world.arn("eks", f"cluster/{physical}"),
            "endpoint": f"https://{cluster_id}.gr7.{world.region}.eks.amazonaws.com",
            "certificateAuthority": {"data": _FAKE_CA},
            "identities": [{"oidcs": [{"issuer": oidc}]}],
            "status": "ACTIVE",
            "version": inputs.get("version"),
            "vpcConfig": {
                **dict(inputs.get("vpcConfig") or {}),
                "clusterSecurityGroupId": f"sg-{_digest(name, 'cluster')}",
            },
        }
    elif typ == "aws:iam/role:Role":
        out |= {"arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}", "name": physical}
    elif typ == "aws:iam/policy:Policy":
        out |= {"arn": f"arn:aws:iam::{ACCOUNT_ID}:policy/{physical}", "name": physical}
    elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
        host = str(inputs.get("url", "")).removeprefix("https://")
        out |= {"arn": f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{host}"}
    elif typ == "aws:kms/key:Key":
        key_id = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'k', length=12)}"
        out |= {"keyId": key_id, "arn": world.arn("kms", f"key/{key_id}")}
    elif typ == "aws:ecr/repository:Repository":
        out |= {
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{world.region}.amazonaws.com/{physical}",
            "registryId": ACCOUNT_ID,
            "name": physical,
        }
    elif typ == "aws:cloudwatch/logGroup:LogGroup":
        out |= {"arn": world.arn("logs", f"log-group:{physical}"), "name": physical}
    elif typ == "aws:s3/bucketV2:BucketV2" or typ == "aws:s3/bucket:Bucket":
        prefix = inputs.get("bucketPrefix")
        bucket = inputs.get("bucket") or (
            f"{prefix}{_digest(name, length=26)}" if prefix else f"{name}-{_digest(name, length=7)}"
        )
        out |= {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}
    elif typ == "aws:ec2/eip:Eip":
        # An address of the documentation range 203.0.113.0/24 (RFC 5737): never a real one.
        octet = int(_digest(name, length=4), 16) % 254 + 1
        out |= {"publicIp": f"203.0.113.{octet}", "allocationId": f"eipalloc-{_digest(name)}"}
    elif typ == "aws:codeconnections/connection:Connection":
        # A connection made by API starts PENDING until someone approves it in a browser.
        connection_id = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'c', length=12)}"
        out |= {
            "arn": world.arn("codeconnections", f"connection/{connection_id}"),
            "connectionStatus": "PENDING",
        }
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        out |= {"status": "ACTIVE", "resources": [{"autoscalingGroups": [{"name": f"eks-{name}"}]}]}
    elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
        out |= {"latestVersion": 1, "defaultVersion": 1}
    elif typ == "aws:ec2/securityGroup:SecurityGroup":
        out |= {"id": f"sg-{_digest(name)}", "arn": world.arn("ec2", f"security-group/sg-{_digest(name)}")}
    elif typ == "aws:rds/instance:Instance":
        physical = inputs.get("identifier") or physical
        # RDS names the endpoint <identifier>.<12 characters of the account and region>.<region>...;
        # with manage_master_user_password the secret is RDS's own `rds!db-<uuid>`.
        uid = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'db', length=12)}"
        address = f"{physical}.c{_digest(name, 'host', length=11)}.{world.region}.rds.amazonaws.com"
        port = int(inputs.get("port") or 5432)
        out |= {
            "arn": world.arn("rds", f"db:{physical}"),
            "identifier": inputs.get("identifier") or physical,
            "address": address,
            "endpoint": f"{address}:{port}",
            "port": port,
            "resourceId": f"db-{_digest(name, length=26).upper()}",
            "masterUserSecrets": [
                {
                    "secretArn": world.arn(
                        "secretsmanager", f"secret:rds!db-{uid}-{_digest(name, length=6)}"
                    ),
                    "kmsKeyId": inputs.get("masterUserSecretKmsKeyId"),
                    "secretStatus": "active",
                }
            ],
        }
    elif typ == "aws:backup/vault:Vault":
        out |= {"arn": world.arn("backup", f"backup-vault:{physical}"), "name": physical}
    elif typ == "aws:backup/plan:Plan":
        plan_id = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'p', length=12)}"
        out |= {"id": plan_id, "arn": world.arn("backup", f"backup-plan:{plan_id}")}
    elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
        out |= {"arn": world.arn("cloudwatch", f"alarm:{physical}"), "name": physical}

    elif typ == "aws:acm/certificate:Certificate":
        cert_id = f"{_digest(name, length=8)}-0000-4000-8000-{_digest(name, 'c', length=12)}"
        domains = [inputs.get("domainName"), *(inputs.get("subjectAlternativeNames") or [])]
        # ACM validates `example.com` and `*.example.com` with one and the same record.
        out |= {
            "arn": world.arn("acm", f"certificate/{cert_id}"),
            "status": "PENDING_VALIDATION",
            "domainValidationOptions": [
                {
                    "domainName": domain,
                    "resourceRecordName": f"_{_digest(base)}.{base}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{_digest('v', base)}.acm-validations.aws.",
                }
                for domain in domains
                if domain
                for base in [str(domain).removeprefix("*.")]
            ],
        }
    elif typ == "aws:route53/record:Record":
        out |= {"fqdn": str(inputs.get("name", name)).rstrip(".")}
    elif typ == "aws:cloudwatch/eventRule:EventRule":
        out |= {"arn": world.arn("events", f"rule/{physical}"), "name": physical}
    elif typ == "aws:sqs/queue:Queue":
        out |= {
            "arn": world.arn("sqs", physical),
            "url": f"https://sqs.{world.region}.amazonaws.com/{ACCOUNT_ID}/{physical}",
            "name": physical,
        }
    return out


def _image_outputs(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    digest = "sha256:" + hashlib.sha256(f"image/{name}".encode()).hexdigest()
    tags = inputs.get("tags") or []
    repo = str(tags[0]).rsplit(":", 1)[0] if tags else name
    return {"digest": digest, "ref": f"{repo}@{digest}"}


@dataclass(frozen=True)
class StackSecret:
    """An output of a referenced stack that the referenced stack exported as a secret."""

    value: Any


def _stack_reference_outputs(world: _World, name: str) -> dict[str, Any]:
    if name not in world.stack_references:
        raise UnknownInvokeError(
            f"StackReference {name!r} has no fabricated outputs: pass "
            f"stack_references={{{name!r}: {{...outputs...}}}} to synth()"
        )
    given = world.stack_references[name]
    outputs = {k: v.value if isinstance(v, StackSecret) else v for k, v in given.items()}
    secret = sorted(k for k, v in given.items() if isinstance(v, StackSecret))
    return {"name": name, "outputs": outputs, "secretOutputNames": secret}


_AZ_LETTERS = "abcdef"
#: base64 of a PEM-shaped placeholder: no real certificate is needed offline.
_FAKE_CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCm1vY2sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def _invoke(world: _World, token: str, args: dict[str, Any]) -> dict[str, Any]:
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{world.region}{letter}" for letter in _AZ_LETTERS]
        return {
            "id": world.region,
            "names": names,
            "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))],
            "groupNames": [world.region] * len(names),
            "state": args.get("state"),
        }
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "id": ACCOUNT_ID,
            "accountId": ACCOUNT_ID,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/synth",
            "userId": "AIDASYNTHMOCK",
        }
    if token == "aws:index/getRegion:getRegion":
        return {
            "id": world.region,
            "name": world.region,
            "region": world.region,
            "endpoint": f"ec2.{world.region}.amazonaws.com",
            "description": world.region,
        }
    if token == "aws:index/getPartition:getPartition":
        return {
            "id": "aws",
            "partition": "aws",
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }
    if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
        registry = args.get("registryId") or ACCOUNT_ID
        return {
            "id": world.region,
            "registryId": registry,
            "userName": "AWS",
            "password": "synth-ecr-password",
            "authorizationToken": "QVdTOnN5bnRoLWVjci1wYXNzd29yZA==",
            "proxyEndpoint": f"https://{registry}.dkr.ecr.{world.region}.amazonaws.com",
            "expiresAt": "2030-01-01T00:00:00Z",
        }
    raise UnknownInvokeError(
        f"the offline engine has no fabricated result for invoke {token!r}; pass "
        f"invokes={{{token!r}: {{...result...}}}} to synth() (or to Mocks()), so a test never "
        "silently receives None"
    )


# ---------------------------------------------------------------------------------------------
# Recording


class Mocks(_mocks.Mocks):
    """The offline engine's answers, for `synth` or for a plain `pulumi.runtime.set_mocks` test.

    Resources get their inputs back plus the outputs the cloud would compute for the types this
    library declares (ARNs, the cluster's endpoint and OIDC issuer, the image digest...); invokes
    get fabricated results (availability zones, caller identity, region, ECR token). A caller
    adds its own with `invokes` (token -> result, or a function of the invoke's arguments) and
    `resource_outputs` (type token -> outputs, or a function of name and inputs), which win over
    the built-in answers. Anything neither can answer raises `UnknownInvokeError` or
    `UnknownResourceError` instead of handing the program None::

        pulumi.runtime.set_mocks(Mocks(region="eu-west-1"), preview=False)
    """

    def __init__(
        self,
        region: str = "us-east-1",
        *,
        stack_references: Mapping[str, Mapping[str, Any]] | None = None,
        invokes: Mapping[str, InvokeAnswer] | None = None,
        resource_outputs: Mapping[str, ResourceAnswer] | None = None,
    ) -> None:
        self.world = _World(region=region, stack_references=dict(stack_references or {}))
        self.invokes = dict(invokes or {})
        self.resource_outputs = dict(resource_outputs or {})
        # The inputs the SDK's monitor just deserialized, per registering thread, so the recorder
        # need not deserialize the same request a second time.
        self.seen = threading.local()

    def new_resource(self, args: _mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """The ID and state (inputs and computed outputs) of a new resource; raise if unknown."""
        rid, state = self._answer(args)
        given = self.resource_outputs.get(args.typ)
        if given is not None:
            state = {**state, **(given(args.name, dict(args.inputs)) if callable(given) else given)}
        return rid, state

    def _answer(self, args: _mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        self.seen.inputs = args.inputs
        if typ.startswith("pulumi:providers:"):
            return f"{name}-provider-id", inputs
        if typ == "pulumi:pulumi:StackReference":
            # The engine reads the stack named by the `name` input (`stack_name=`), which defaults
            # to the resource's name.
            stack_name = str(inputs.get("name") or name)
            return stack_name, _stack_reference_outputs(self.world, stack_name)
        if not args.custom:
            return f"{name}-id", inputs  # a component: no outputs of its own to compute
        state = dict(inputs)
        if typ.startswith("aws:") and typ not in _ANSWERED_AWS and typ not in self.resource_outputs:
            raise UnknownResourceError(
                f"the offline engine cannot fabricate the outputs of {typ!r} (resource {name!r}): "
                f"pass resource_outputs={{{typ!r}: {{...outputs...}}}} (or a function of name and "
                "inputs) to synth() or Mocks(), so a test never silently reads None"
            )
        if typ.startswith("aws:"):
            state |= _aws_outputs(self.world, typ, name, inputs)
            rid = str(
                state.get("id")
                or state.get("bucket")
                or state.get("name")
                or f"{name}-{_digest(typ, name, length=8)}"
            )
            return rid, state
        if typ == "docker-build:index:Image":
            state |= _image_outputs(name, inputs)
            return state["ref"], state
        if typ == _HELM_RELEASE:
            release = inputs.get("name") or name
            state |= {
                "status": {
                    "name": release,
                    "namespace": inputs.get("namespace"),
                    "status": "deployed",
                }
            }
            return f"{inputs.get('namespace')}/{release}", state
        if typ == "kubernetes:networking.k8s.io/v1:Ingress":
            # The load balancer the controller provisions, as the Ingress status reports it: one per
            # stack, since the public apps share one IngressGroup.
            lb = _digest("alb", self.world.region, length=10)
            host = f"k8s-public-{lb}.{self.world.region}.elb.amazonaws.com"
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": host}]}}
        if typ.startswith("kubernetes:"):
            meta: dict[str, Any] = state.get("metadata") or {}
            ns = meta.get("namespace")
            return f"{ns}/{meta.get('name', name)}" if ns else str(meta.get("name", name)), state
        if typ in self.resource_outputs:
            return f"{name}-id", state
        raise UnknownResourceError(
            f"the offline engine cannot fabricate the outputs of {typ!r} (resource {name!r}): pass "
            f"resource_outputs={{{typ!r}: {{...outputs...}}}} (or a function of name and inputs) "
            "to synth() or Mocks(), so a test never silently reads None"
        )

    def call(self, args: _mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        """The result of an invoke: the caller's answer, else a fabricated one; raise if neither."""
        # A bare dict means "no check failures" to the SDK's mock monitor.
        given = self.invokes.get(args.token)
        if given is not None:
            return dict(given(dict(args.args)) if callable(given) else given)
        return _invoke(self.world, args.token, dict(args.args))


def _real_urn(urn: str) -> str:
    # The SDK's mock monitor qualifies top-level types with the stack's type
    # ("pulumi:pulumi:Stack$aws:..."); the real engine does not. Record the URN `pulumi up` makes.
    return urn.replace("::pulumi:pulumi:Stack$", "::")


class _RecordingMonitor(_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's parent, provider and options."""

    mocks: Mocks

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.records: dict[str, dict[str, Any]] = {}
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = self.mocks.seen.inputs  # set by Mocks.new_resource on this thread just now
        implied = {dep for deps in request.propertyDependencies.values() for dep in deps.urns}
        explicit = set(request.dependencies) - implied
        urn = _real_urn(response.urn)
        parent = _real_urn(request.parent) if request.parent else None
        record = {
            "urn": urn,
            "type": request.type,
            "name": request.name,
            # Resources parented to the stack itself are top-level: `parent` is null for them.
            "parent": None if parent and "::pulumi:pulumi:Stack::" in parent else parent,
            "custom": bool(request.custom),
            "provider": _real_urn(request.provider.rsplit("::", 1)[0]) if request.provider else None,
            "inputs": redact(inputs),
            "options": {
                "protect": bool(request.protect),
                "retainOnDelete": bool(request.retainOnDelete),
                # Explicit `depends_on` only: dependencies implied by an input are not options.
                "dependsOn": sorted(_real_urn(u) for u in explicit),
                "ignoreChanges": sorted(request.ignoreChanges),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            },
            # Every URN the engine makes this resource wait for: explicit `depends_on` and the
            # resources its inputs came from. Parent and provider are their own fields.
            "dependencies": sorted({_real_urn(u) for u in explicit | implied}),
        }
        with self._lock:
            if urn in self.records:
                # What the engine answers to a second registration of one URN (two resources of
                # one type and name under one parent): the program fails rather than lose one.
                # Message as the engine's (pulumi/pulumi diag/errors.go, GetDuplicateResourceURNError).
                raise ValueError(f"Duplicate resource URN '{urn}'; try giving it a unique name")
            self.records[urn] = record
        return response


# ---------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True)
class SynthResult:
    """What a program declared: resources (the `resources.json` schema) and stack outputs."""

    project: str
    stack: str
    resources: list[dict[str, Any]]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[dict[str, Any]]:
        """Every resource of this Pulumi type token, in URN order."""
        return [r for r in self.resources if r["type"] == type_token]

    def named(self, name: str) -> dict[str, Any]:
        """The one resource with this Pulumi name (raises KeyError if none or several)."""
        found = [r for r in self.resources if r["name"] == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources are named {name!r}")
        return found[0]

    def children_of(self, urn: str) -> list[dict[str, Any]]:
        """Direct children of the resource with this URN."""
        return [r for r in self.resources if r["parent"] == urn]

    @property
    def manifests(self) -> list[dict[str, Any]]:
        """Every Kubernetes object the program declares (custom resources included)."""
        return [
            r["inputs"]
            for r in self.resources
            if r["custom"] and r["type"].startswith("kubernetes:") and r["type"] not in _NOT_MANIFESTS
        ]

    def manifest(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The Kubernetes object of this kind and name (and namespace, when given)."""
        for m in self.manifests:
            meta = m.get("metadata", {})
            if (
                m.get("kind") == kind
                and meta.get("name") == name
                and (namespace is None or meta.get("namespace") == namespace)
            ):
                return m
        raise KeyError(f"no {kind} {namespace + '/' if namespace else ''}{name} was declared")

    @property
    def helm_releases(self) -> list[dict[str, Any]]:
        """Every Helm release (`kubernetes.helm.v3.Release`) with its chart, version and values."""
        return self.of_type(_HELM_RELEASE)

    def to_json(self) -> str:
        """The `resources.json` document: sorted keys, one resource per line, trailing newline.

        One line per resource keeps `grep` and `git diff` pointed at whole resources, and lets the
        json module's C encoder write it (with `indent`, it falls back to pure Python: 4x slower
        for the 4 MB of a 50-app stack).
        """
        resources = ",\n".join(json.dumps(r, sort_keys=True) for r in self.resources)
        return (
            "{\n"
            f'"outputs": {json.dumps(self.outputs, sort_keys=True)},\n'
            f'"project": {json.dumps(self.project)},\n'
            f'"resources": [\n{resources}\n],\n'
            f'"stack": {json.dumps(self.stack)}\n'
            "}\n"
        )


# ---------------------------------------------------------------------------------------------
# Running


def _current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set as current in this thread, or None, without making one.

    `get_event_loop()` makes and sets a loop when none is set (Python 3.11, main thread); that loop
    was never closed and, garbage-collected at exit, printed "Exception ignored in
    BaseEventLoop.__del__". The default policy keeps the current loop in `_local._loop` (CPython
    Lib/asyncio/events.py, BaseDefaultEventLoopPolicy) and has no public getter that does not
    create one; another policy falls back to `get_event_loop()`.
    """
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    if local is not None and hasattr(local, "_loop"):
        current: asyncio.AbstractEventLoop | None = local._loop
        return current
    try:
        return policy.get_event_loop()
    except RuntimeError:
        return None


class _LoopClosingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The run's thread pool, which the SDK's RPC calls go through (`run_in_executor`). The mock
    monitor gives the calling thread an event loop of its own (pulumi 3.272
    runtime/sync_await.py `_ensure_event_loop`) and never closes it; each call here closes the
    loop its thread was given, so no worker leaves an unclosed loop to be collected later."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                given = _current_loop()
                if given is not None and not given.is_running():
                    given.close()
                    asyncio.set_event_loop(None)

        return super().submit(run)


@contextlib.contextmanager
def fresh_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A new event loop for one mocked run, current while the block runs (what `synth` uses, and
    what a test calling `pulumi.runtime.set_mocks` itself wants around it).

    Leaves nothing open: the loop closes after its worker threads finish, and so do the loops the
    SDK's mock monitor gives those threads. Afterwards the caller's loop (if any) is current again;
    with none, the thread is as it was: no loop set, `get_event_loop()` makes one on demand.
    """
    policy = asyncio.get_event_loop_policy()
    previous = _current_loop()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_LoopClosingExecutor(thread_name_prefix="synth"))
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # The workers finish before the loop closes (close() would not wait for them).
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        if previous is None and type(policy) is asyncio.DefaultEventLoopPolicy:
            # set_event_loop(None) would make get_event_loop() raise from now on; a fresh
            # default policy is the state before the run.
            asyncio.set_event_loop_policy(None)
        else:
            asyncio.set_event_loop(previous)


@contextlib.contextmanager
def _freezing_survivors() -> Iterator[None]:
    """While a run lasts, what survives a full collection is frozen (`gc.freeze`); unfrozen after.

    A run's heap is nearly all live until it ends: the provider SDKs' modules (~300k objects), the
    resources, their Outputs and records. CPython walks the whole of it at every full collection,
    and runs one each time the heap grows by a quarter, so a stack of 50 apps spent a quarter of
    its time there and the time per app grew with the stack. Frozen, the survivors are left out of
    later collections, which then walk only what was allocated since: the same garbage is found
    (refcounting frees the rest as before), in time proportional to what the run allocates.
    `gc.unfreeze()` at the end hands everything back to the oldest generation, so a caller (a
    pytest session) keeps collecting it. A caller that froze objects itself (a pre-forking
    server, say) keeps its own GC state: nothing is frozen or unfrozen then.
    """
    if gc.get_freeze_count():
        yield
        return

    def after_full_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.callbacks.append(after_full_collection)
    try:
        yield
    finally:
        gc.callbacks.remove(after_full_collection)
        gc.unfreeze()


def _config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    # The engine hands every value to the language host as a string; objects as JSON.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def synth(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any] | None = None,
    secret_keys: Sequence[str] = (),
    stack_references: Mapping[str, Mapping[str, Any]] | None = None,
    invokes: Mapping[str, InvokeAnswer] | None = None,
    resource_outputs: Mapping[str, ResourceAnswer] | None = None,
) -> SynthResult:
    """Run `program` under the mock engine and return everything it declared.

    `invokes` and `resource_outputs` add answers the engine does not have, or replace its own
    (see `Mocks`); anything still unanswered raises `UnknownInvokeError` or
    `UnknownResourceError`. Two resources with the same URN raise, as the real engine refuses
    them. The run is isolated from the SDK's global state: a test that called
    `pulumi.runtime.set_mocks` before finds its own settings, root stack and event loop intact.

    `config` maps full keys (`"<project>:key"`, `"aws:region"`) to strings or JSON-able values, as
    a stack file would; keys in `secret_keys` are secret config. `stack_references` gives the
    outputs a `pulumi.StackReference` of that name returns; wrap a value in `StackSecret` where
    the referenced stack exports it as a secret (a kubeconfig, say). Exceptions raised by the program (bad
    config included) propagate unchanged.
    """
    config = dict(config or {})
    mocks = Mocks(
        str(config.get("aws:region", "us-east-1")),
        stack_references=stack_references,
        invokes=invokes,
        resource_outputs=resource_outputs,
    )
    # The SDK keeps its settings, config, root stack and more in context variables. A new, empty
    # context isolates this run both ways: it sees none of the caller's state (a root stack that
    # the caller's own `set_mocks` made on another event loop, say), and leaves nothing behind.
    return contextvars.Context().run(_synth, program, project, stack, config, list(secret_keys), mocks)


def _synth(
    program: Callable[[], Any],
    project: str,
    stack: str,
    config: dict[str, Any],
    secret_keys: list[str],
    mocks: Mocks,
) -> SynthResult:
    monitor = _RecordingMonitor(mocks)
    with _freezing_survivors(), fresh_event_loop() as loop:
        # The SDK's mock settings do not reset the set of pending outputs; a fresh one keeps a
        # failed earlier run's tasks (bound to a closed loop) out of this run.
        _settings.SETTINGS.outputs = set()
        _mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
        pulumi.runtime.set_all_config(_config_strings(config), secret_keys)
        loop.run_until_complete(run_pulumi_func(program))
        outputs = loop.run_until_complete(_stack_outputs())
    resources = sorted(monitor.records.values(), key=lambda r: r["urn"])
    return SynthResult(project=project, stack=stack, resources=resources, outputs=outputs)


async def _stack_outputs() -> dict[str, Any]:
    root = _settings.get_root_resource()
    exported: Mapping[str, Any] = getattr(root, "outputs", None) or {}
    result: dict[str, Any] = {}
    for key in sorted(exported):
        out = pulumi.Output.from_input(exported[key])
        value = await out.future()
        result[key] = _blank(value) if await out.is_secret() else redact(value)
    return result
