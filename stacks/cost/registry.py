"""The cost registry: for each resource type a stack can declare, the priced components it costs.

Shaped as Infracost shapes its resource registry (infracost/infracost `internal/resources/aws/*.go`
and `internal/providers/terraform/aws/registry.go`): one entry per resource type with a function
that turns the resource's declared inputs into cost components (a name, a monthly quantity, a unit,
a price from the region's table), the usage keys it reads (Infracost's `UsageSchema`), and a list of
types that cost nothing on their own (Infracost's `FreeResources`). Fixed components come from what
the stack declares; usage components (marked `usage`) from the usage file.

A type in neither `REGISTRY` nor `FREE` is reported as unpriced, and a test fails on any that
the stacks declare. Entries for types the stacks do not declare yet (load balancers, WAF, RDS,
SQS, CodeBuild, Secrets Manager, Route 53) are here so new components are priced when they land.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stacks.cost.pricing import CostError, PriceTable


@dataclass(frozen=True)
class Line:
    """One cost component: `quantity` units a month at `unit_price` each."""

    name: str
    quantity: float
    unit: str
    unit_price: float
    price_key: str
    usage: bool = False

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass
class Context:
    """What a pricing function may read: the price table, the resource's usage figures, and the
    stack's other resources (a node group's launch template, the StorageClasses)."""

    prices: PriceTable
    usage: Mapping[str, float]
    by_urn: Mapping[str, dict[str, Any]]
    storage_classes: Mapping[str, dict[str, Any]]
    default_storage_class: str | None
    seen: set[str] = field(default_factory=set)  # shared across a stack: ALB groups priced once

    @property
    def hours(self) -> float:
        return self.prices.hours_per_month

    def line(self, name: str, quantity: float, key: str, *, usage: bool = False, factor: float = 1.0) -> Line:
        price = self.prices[key]
        return Line(name, quantity, price.unit, price.price * factor, key, usage)

    def figure(self, key: str) -> float:
        return float(self.usage.get(key, 0.0))


Pricer = Callable[[Context, dict[str, Any]], list[Line]]


@dataclass(frozen=True)
class Entry:
    price: Pricer
    usage_keys: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Sizes and volumes

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?\s*$")
_GIB = {
    "Ki": 2**-20,
    "Mi": 2**-10,
    "Gi": 1,
    "Ti": 2**10,
    "K": 1e3 / 2**30,
    "M": 1e6 / 2**30,
    "G": 1e9 / 2**30,
}
_GIB["T"] = 1e12 / 2**30


def gib(quantity: Any, where: str) -> float:
    """A Kubernetes storage quantity (`10Gi`, `500Mi`) in GiB, the unit EBS bills as "GB"."""
    m = _SIZE.match(str(quantity))
    if not m:
        raise CostError(f"{where}: cannot read the storage size {quantity!r} (expected e.g. 10Gi)")
    return float(m.group(1)) * (_GIB[m.group(2)] if m.group(2) else 2**-30)


def ebs_lines(
    ctx: Context, what: str, size_gb: float, count: float, volume_type: str,
    iops: float | None = None, throughput: float | None = None,
) -> list[Line]:  # fmt: skip
    """EBS storage for `count` volumes; gp3 IOPS and throughput above the included baseline."""
    vtype = volume_type or "gp3"
    plural = "s" if count != 1 else ""
    lines = [
        ctx.line(
            f"{what}: {count:g} {vtype} volume{plural} of {size_gb:g} GB",
            count * size_gb,
            f"ebs.{vtype}.storage",
        )
    ]
    if vtype == "gp3":
        # https://aws.amazon.com/ebs/pricing/: 3,000 IOPS and 125 MB/s are included per volume.
        if iops and iops > 3000:
            lines.append(ctx.line(f"{what}: IOPS above 3000", count * (iops - 3000), "ebs.gp3.iops"))
        if throughput and throughput > 125:
            lines.append(
                ctx.line(f"{what}: MB/s above 125", count * (throughput - 125), "ebs.gp3.throughput")
            )
    return lines


def claim_lines(ctx: Context, what: str, size: Any, count: float, class_name: str | None) -> list[Line]:
    """A PersistentVolumeClaim (or `count` of them) bound by the EBS CSI driver."""
    name = class_name or ctx.default_storage_class
    sc = ctx.storage_classes.get(name or "")
    if sc is None:
        # Not declared by this stack: EKS clusters created at 1.30 or later have no default
        # StorageClass, older ones a gp2 one (EKS user guide, "Storage classes").
        params: dict[str, Any] = {"type": "gp2"}
    else:
        params = sc.get("parameters") or {}
        if sc.get("provisioner") not in ("ebs.csi.aws.com", "kubernetes.io/aws-ebs"):
            raise CostError(
                f"{what}: StorageClass {name!r} uses {sc.get('provisioner')!r}, which is not priced"
            )
    vtype = str(params.get("type", "gp3"))
    iops, tput = params.get("iops"), params.get("throughput")
    return ebs_lines(ctx, what, gib(size, what), count, vtype, float(iops) if iops else None,
                     float(tput) if tput else None)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# AWS


def eks_cluster(ctx: Context, r: dict[str, Any]) -> list[Line]:
    # EXTENDED support (the default upgrade policy) costs $0.60/h only once the Kubernetes version
    # leaves standard support; a cluster on a supported version pays the standard rate.
    return [ctx.line("EKS control plane (standard support)", ctx.hours, "eks.cluster.standard")]


def _launch_template(ctx: Context, r: dict[str, Any]) -> dict[str, Any] | None:
    for urn in r.get("dependencies") or []:
        dep = ctx.by_urn.get(urn)
        if dep and dep["type"] == "aws:ec2/launchTemplate:LaunchTemplate":
            inputs: dict[str, Any] = dep["inputs"]
            return inputs
    return None


def instance_lines(ctx: Context, what: str, types: list[str], count: float, capacity: str) -> list[Line]:
    if capacity == "SPOT":
        # A Spot node group launches whichever listed type has capacity: price the dearest.
        key = max((f"ec2.linux.{t}" for t in types), key=lambda k: ctx.prices[k].price)
        discount = ctx.prices["ec2.spot.discount"].price
        line = ctx.line(
            f"{what}: {count:g} x {key.removeprefix('ec2.linux.')} spot ({discount:.0%} below on-demand)",
            count * ctx.hours, key, factor=1 - discount,
        )  # fmt: skip
        return [
            Line(line.name, line.quantity, line.unit, line.unit_price, f"{key} x (1 - ec2.spot.discount)")
        ]
    # On-demand managed node groups use the first listed type (the others are fallbacks).
    return [ctx.line(f"{what}: {count:g} x {types[0]} on-demand", count * ctx.hours, f"ec2.linux.{types[0]}")]


def eks_node_group(ctx: Context, r: dict[str, Any]) -> list[Line]:
    inputs = r["inputs"]
    scaling = inputs.get("scalingConfig") or {}
    count = float(scaling.get("desiredSize", scaling.get("minSize", 1)))
    lt = _launch_template(ctx, r) or {}
    # Neither on the node group nor in its template: EKS launches t3.medium (EKS API, CreateNodegroup).
    types = list(inputs.get("instanceTypes") or [lt.get("instanceType") or "t3.medium"])
    lines = instance_lines(ctx, "Nodes", types, count, str(inputs.get("capacityType", "ON_DEMAND")))
    disks = lt.get("blockDeviceMappings") or []
    if disks:
        for disk in disks:
            ebs = disk.get("ebs") or {}
            what = f"Root volumes ({disk.get('deviceName', 'root')})"
            lines += ebs_lines(
                ctx, what, float(ebs.get("volumeSize", 20)), count,
                str(ebs.get("volumeType", "gp3")), ebs.get("iops"), ebs.get("throughput"),
            )  # fmt: skip
    else:
        # No launch template: EKS gives each node a `diskSize` GiB root volume (default 20).
        lines += ebs_lines(ctx, "Root volumes", float(inputs.get("diskSize", 20)), count, "gp3")
    return lines


def ec2_instance(ctx: Context, r: dict[str, Any]) -> list[Line]:
    inputs = r["inputs"]
    lines = instance_lines(ctx, "Instance", [str(inputs.get("instanceType"))], 1, "ON_DEMAND")
    root = inputs.get("rootBlockDevice") or {}
    lines += ebs_lines(
        ctx, "Root volume", float(root.get("volumeSize", 8)), 1, str(root.get("volumeType", "gp3"))
    )
    return lines


def nat_gateway(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [
        ctx.line("NAT gateway", ctx.hours, "vpc.nat.hour"),
        ctx.line("Data processed", ctx.figure("monthlyDataProcessedGb"), "vpc.nat.processed", usage=True),
    ]


def eip(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [ctx.line("Public IPv4 address", ctx.hours, "vpc.public-ipv4")]


def vpc_endpoint(ctx: Context, r: dict[str, Any]) -> list[Line]:
    inputs = r["inputs"]
    if inputs.get("vpcEndpointType", "Gateway") == "Gateway":
        return []  # gateway endpoints (S3, DynamoDB) are free: https://aws.amazon.com/vpc/pricing/
    azs = len(inputs.get("subnetIds") or [None])
    return [
        ctx.line(f"Interface endpoint in {azs} AZ(s)", azs * ctx.hours, "vpc.interface-endpoint.hour"),
        ctx.line(
            "Data processed",
            ctx.figure("monthlyDataProcessedGb"),
            "vpc.interface-endpoint.processed",
            usage=True,
        ),
    ]


def log_group(ctx: Context, r: dict[str, Any]) -> list[Line]:
    ingested = ctx.figure("monthlyIngestedGb")
    days = r["inputs"].get("retentionInDays") or 0
    # Kept for `days` (never expiring: a year is shown), the store holds about days/30 months of logs.
    months = (days or 365) / 30
    kept = f"{days} days" if days else "never expires: a year shown"
    return [
        ctx.line("Logs ingested", ingested, "logs.ingest", usage=True),
        ctx.line(f"Logs stored ({kept})", ingested * months, "logs.storage", usage=True),
    ]


def kms_key(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [
        ctx.line("Customer managed key", 1, "kms.key"),
        ctx.line("Requests", ctx.figure("monthlyRequests") / 10_000, "kms.requests", usage=True),
    ]


def ecr_repository(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [ctx.line("Image storage", ctx.figure("storageGb"), "ecr.storage", usage=True)]


def s3_bucket(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [
        ctx.line("Standard storage", ctx.figure("storageGb"), "s3.standard.storage", usage=True),
        ctx.line(
            "PUT, COPY, POST, LIST requests",
            ctx.figure("monthlyPutRequests") / 1000,
            "s3.standard.put",
            usage=True,
        ),
        ctx.line(
            "GET and other requests", ctx.figure("monthlyGetRequests") / 1000, "s3.standard.get", usage=True
        ),
    ]


def secret(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [
        ctx.line("Secret", 1, "secretsmanager.secret"),
        ctx.line("API calls", ctx.figure("monthlyApiCalls") / 10_000, "secretsmanager.api", usage=True),
    ]


def sqs_queue(ctx: Context, r: dict[str, Any]) -> list[Line]:
    kind = "fifo" if r["inputs"].get("fifoQueue") else "standard"
    return [ctx.line(f"Requests ({kind})", ctx.figure("monthlyRequests") / 1e6, f"sqs.{kind}", usage=True)]


def codebuild_project(ctx: Context, r: dict[str, Any]) -> list[Line]:
    compute = (r["inputs"].get("environment") or {}).get("computeType", "BUILD_GENERAL1_SMALL")
    return [
        ctx.line(
            f"Build minutes ({compute})",
            ctx.figure("monthlyBuildMinutes"),
            f"codebuild.{compute}",
            usage=True,
        )
    ]


def load_balancer(ctx: Context, r: dict[str, Any]) -> list[Line]:
    kind = {"application": "alb", "network": "nlb"}.get(r["inputs"].get("loadBalancerType", "application"))
    if kind is None:
        raise CostError(
            f"{r['name']}: loadBalancerType {r['inputs'].get('loadBalancerType')!r} is not priced"
        )
    return _lb_lines(ctx, kind)


def _lb_lines(ctx: Context, kind: str) -> list[Line]:
    label = {"alb": "Application", "nlb": "Network", "clb": "Classic"}[kind]
    lines = [ctx.line(f"{label} load balancer", ctx.hours, f"elb.{kind}.hour")]
    if kind == "clb":
        lines.append(
            ctx.line("Data processed", ctx.figure("monthlyDataProcessedGb"), "elb.clb.processed", usage=True)
        )
    else:
        lines.append(
            ctx.line("Capacity units", ctx.figure("lcuPerHour") * ctx.hours, f"elb.{kind}.lcu", usage=True)
        )
    return lines


def web_acl(ctx: Context, r: dict[str, Any]) -> list[Line]:
    rules = len(r["inputs"].get("rules") or [])
    return [
        ctx.line("Web ACL", 1, "waf.web-acl"),
        ctx.line(f"Rules and rule groups ({rules})", rules, "waf.rule"),
        ctx.line("Requests", ctx.figure("monthlyRequestsMillions"), "waf.requests", usage=True),
    ]


def rds_instance(ctx: Context, r: dict[str, Any]) -> list[Line]:
    inputs = r["inputs"]
    engine = str(inputs.get("engine", ""))
    if engine != "postgres":
        raise CostError(f"{r['name']}: engine {engine!r} is not priced (priced: postgres)")
    copies = 2 if inputs.get("multiAz") else 1  # Multi-AZ: a standby billed like the primary
    az = "Multi-AZ" if copies == 2 else "single-AZ"
    storage = str(inputs.get("storageType", "gp2"))
    size = float(inputs.get("allocatedStorage", 0))
    cls = inputs.get("instanceClass")
    return [
        ctx.line(f"Database instance ({cls}, {az})", ctx.hours, f"rds.postgres.{cls}", factor=copies),
        ctx.line(f"Storage ({storage}, {az})", size, f"rds.storage.{storage}", factor=copies),
        ctx.line("Backup storage beyond the free allowance", ctx.figure("backupStorageGb"), "rds.backup",
                 usage=True),
    ]  # fmt: skip


def hosted_zone(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [ctx.line("Hosted zone", 1, "route53.hosted-zone")]


# ---------------------------------------------------------------------------------------------
# Kubernetes: workloads run on the nodes priced above; what costs on its own is what makes AWS
# create something (load balancers, EBS volumes).


def k8s_service(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    ann = (r["inputs"].get("metadata") or {}).get("annotations") or {}
    # The AWS Load Balancer Controller makes an NLB for `external`/`nlb-ip`; the in-tree cloud
    # provider an NLB for `nlb`, else a Classic Load Balancer.
    lb_type = ann.get("service.beta.kubernetes.io/aws-load-balancer-type", "")
    return _lb_lines(ctx, "nlb" if lb_type in ("external", "nlb", "nlb-ip") else "clb")


def k8s_ingress(ctx: Context, r: dict[str, Any]) -> list[Line]:
    manifest = r["inputs"]
    ann = (manifest.get("metadata") or {}).get("annotations") or {}
    cls = (manifest.get("spec") or {}).get("ingressClassName") or ann.get("kubernetes.io/ingress.class")
    if cls != "alb":
        return []  # other controllers sit behind a Service of type LoadBalancer, priced there
    group = ann.get("alb.ingress.kubernetes.io/group.name")
    if group:
        if f"alb-group:{group}" in ctx.seen:
            return []  # Ingresses of one group share one ALB, priced with the first
        ctx.seen.add(f"alb-group:{group}")
    return _lb_lines(ctx, "alb")


def k8s_pvc(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    return claim_lines(ctx, "Volume", size, 1, spec.get("storageClassName"))


def k8s_statefulset(ctx: Context, r: dict[str, Any]) -> list[Line]:
    spec = r["inputs"].get("spec") or {}
    lines: list[Line] = []
    for tpl in spec.get("volumeClaimTemplates") or []:
        tspec = tpl.get("spec") or {}
        size = ((tspec.get("resources") or {}).get("requests") or {}).get("storage")
        what = f"Volumes {(tpl.get('metadata') or {}).get('name', '')}".strip()
        lines += claim_lines(ctx, what, size, float(spec.get("replicas", 1)), tspec.get("storageClassName"))
    return lines


# Helm charts: the volumes a chart's values make it claim. Charts not listed are unpriced.


def _get(values: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = values
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _claim_template(
    ctx: Context, values: Mapping[str, Any], what: str, path: str, replicas: float
) -> list[Line]:
    tpl = _get(values, path)
    if not tpl:
        return []  # no storage spec: the chart mounts an emptyDir
    spec = tpl.get("spec") or {}
    size = _get(spec, "resources.requests.storage")
    return claim_lines(ctx, what, size, replicas, spec.get("storageClassName"))


def _kube_prometheus_stack(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
    # Chart defaults (prometheus-community/helm-charts kube-prometheus-stack values.yaml): one
    # replica and one shard of each, no storage spec, Grafana persistence off.
    lines: list[Line] = []
    if _get(v, "prometheus.enabled", True):
        n = float(_get(v, "prometheus.prometheusSpec.replicas", 1)) * float(
            _get(v, "prometheus.prometheusSpec.shards", 1) or 1
        )
        lines += _claim_template(
            ctx, v, "Prometheus volumes", "prometheus.prometheusSpec.storageSpec.volumeClaimTemplate", n
        )
    if _get(v, "alertmanager.enabled", True):
        n = float(_get(v, "alertmanager.alertmanagerSpec.replicas", 1))
        lines += _claim_template(
            ctx, v, "Alertmanager volumes", "alertmanager.alertmanagerSpec.storage.volumeClaimTemplate", n
        )
    # The grafana subchart's defaults (grafana-community/helm-charts grafana values.yaml): one
    # replica, persistence off, type pvc, 10Gi.
    grafana_pvc = (
        _get(v, "grafana.persistence.enabled", False) and _get(v, "grafana.persistence.type", "pvc") == "pvc"
    )
    if _get(v, "grafana.enabled", True) and grafana_pvc:
        n = float(_get(v, "grafana.replicas", 1))
        lines += claim_lines(ctx, "Grafana volume", _get(v, "grafana.persistence.size", "10Gi"), n,
                             _get(v, "grafana.persistence.storageClassName"))  # fmt: skip
    return lines


def _loki(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
    lines: list[Line] = []
    for target in ("singleBinary", "write", "backend"):
        replicas = _get(v, f"{target}.replicas")
        if replicas == 0:
            continue
        persistence = _get(v, f"{target}.persistence") or {}
        enabled = persistence.get("enabled", persistence.get("volumeClaimsEnabled"))
        if replicas is None or enabled is None or (enabled and "size" not in persistence):
            # The chart's defaults for these moved between releases: price only what is explicit.
            raise CostError(
                f"loki: values {target}.replicas and {target}.persistence.enabled/size must be set "
                "explicitly to price its volumes"
            )
        if enabled:
            lines += claim_lines(ctx, f"Loki {target} volumes", persistence["size"], float(replicas),
                                 persistence.get("storageClass"))  # fmt: skip
    return lines


def _stateless(chart: str) -> Callable[[Context, Mapping[str, Any]], list[Line]]:
    def price(ctx: Context, v: Mapping[str, Any]) -> list[Line]:
        if any(_claims_storage(v)):
            raise CostError(
                f"{chart}: its values ask for persistent volumes, which the registry does not price yet"
            )
        return []

    return price


def _claims_storage(node: Any) -> Iterator[bool]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            claims = key in ("volumeClaimTemplate", "volumeClaimTemplates") and bool(value)
            if claims or (key == "persistence" and isinstance(value, Mapping) and value.get("enabled")):
                yield True
            else:
                yield from _claims_storage(value)
    elif isinstance(node, list):
        for item in node:
            yield from _claims_storage(item)


CHARTS: dict[str, Callable[[Context, Mapping[str, Any]], list[Line]]] = {
    "kube-prometheus-stack": _kube_prometheus_stack,
    "loki": _loki,
    "alloy": _stateless("alloy"),
    "jaeger": _stateless("jaeger"),  # in-memory trace storage in these stacks
    "opentelemetry-collector": _stateless("opentelemetry-collector"),
    "aws-load-balancer-controller": _stateless("aws-load-balancer-controller"),
    "metrics-server": _stateless("metrics-server"),
    "karpenter": _stateless("karpenter"),
}


class UnpricedChartError(Exception):
    """A Helm chart with no entry in CHARTS."""


def helm_release(ctx: Context, r: dict[str, Any]) -> list[Line]:
    chart = str(r["inputs"].get("chart", ""))
    if chart not in CHARTS:
        raise UnpricedChartError(chart)
    return CHARTS[chart](ctx, r["inputs"].get("values") or {})


# ---------------------------------------------------------------------------------------------
# The registry

REGISTRY: dict[str, Entry] = {
    "aws:eks/cluster:Cluster": Entry(eks_cluster),
    "aws:eks/nodeGroup:NodeGroup": Entry(eks_node_group),
    "aws:ec2/instance:Instance": Entry(ec2_instance),
    "aws:ec2/natGateway:NatGateway": Entry(nat_gateway, ("monthlyDataProcessedGb",)),
    "aws:ec2/eip:Eip": Entry(eip),
    "aws:ec2/vpcEndpoint:VpcEndpoint": Entry(vpc_endpoint, ("monthlyDataProcessedGb",)),
    "aws:cloudwatch/logGroup:LogGroup": Entry(log_group, ("monthlyIngestedGb",)),
    "aws:kms/key:Key": Entry(kms_key, ("monthlyRequests",)),
    "aws:ecr/repository:Repository": Entry(ecr_repository, ("storageGb",)),
    "aws:s3/bucket:Bucket": Entry(s3_bucket, ("storageGb", "monthlyPutRequests", "monthlyGetRequests")),
    "aws:s3/bucketV2:BucketV2": Entry(s3_bucket, ("storageGb", "monthlyPutRequests", "monthlyGetRequests")),
    "aws:secretsmanager/secret:Secret": Entry(secret, ("monthlyApiCalls",)),
    "aws:sqs/queue:Queue": Entry(sqs_queue, ("monthlyRequests",)),
    "aws:codebuild/project:Project": Entry(codebuild_project, ("monthlyBuildMinutes",)),
    "aws:lb/loadBalancer:LoadBalancer": Entry(load_balancer, ("lcuPerHour",)),
    "aws:wafv2/webAcl:WebAcl": Entry(web_acl, ("monthlyRequestsMillions",)),
    "aws:rds/instance:Instance": Entry(rds_instance, ("backupStorageGb",)),
    "aws:route53/zone:Zone": Entry(hosted_zone),
    "kubernetes:core/v1:Service": Entry(k8s_service, ("lcuPerHour", "monthlyDataProcessedGb")),
    "kubernetes:networking.k8s.io/v1:Ingress": Entry(k8s_ingress, ("lcuPerHour",)),
    "kubernetes:core/v1:PersistentVolumeClaim": Entry(k8s_pvc),
    "kubernetes:apps/v1:StatefulSet": Entry(k8s_statefulset),
    "kubernetes:helm.sh/v3:Release": Entry(helm_release),
}

_ON_NODES = "runs on the nodes, priced with the node group"
_CONTROL = "configuration, no charge of its own"

# Types that cost nothing by themselves, with the reason (Infracost's FreeResources).
FREE: dict[str, str] = {
    "aws:ec2/vpc:Vpc": _CONTROL,
    "aws:ec2/subnet:Subnet": _CONTROL,
    "aws:ec2/routeTable:RouteTable": _CONTROL,
    "aws:ec2/route:Route": _CONTROL,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _CONTROL,
    "aws:ec2/internetGateway:InternetGateway": "no charge; data transfer out is billed per GB, not estimated",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": _CONTROL,
    "aws:ec2/securityGroup:SecurityGroup": _CONTROL,
    "aws:ec2/securityGroupRule:SecurityGroupRule": _CONTROL,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _CONTROL,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _CONTROL,
    "aws:ec2/flowLog:FlowLog": "delivery is priced as ingestion into its log group",
    "aws:ec2/launchTemplate:LaunchTemplate": "priced with the node group or instance that launches it",
    "aws:eks/addon:Addon": "EKS add-ons have no charge; their pods run on the nodes",
    "aws:eks/accessEntry:AccessEntry": _CONTROL,
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": _CONTROL,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _CONTROL,
    "aws:iam/role:Role": "IAM has no charge",
    "aws:iam/policy:Policy": "IAM has no charge",
    "aws:iam/rolePolicy:RolePolicy": "IAM has no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM has no charge",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "IAM has no charge",
    "aws:kms/alias:Alias": "aliases have no charge",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _CONTROL,
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _CONTROL,
    "aws:s3/bucketPolicy:BucketPolicy": _CONTROL,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _CONTROL,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _CONTROL,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "SSE-KMS requests are priced as the key's requests"
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _CONTROL,
    "aws:s3/bucketVersioning:BucketVersioning": "old versions are priced as the bucket's storage",
    "aws:secretsmanager/secretVersion:SecretVersion": "priced with its secret",
    "aws:sqs/queuePolicy:QueuePolicy": _CONTROL,
    "aws:codebuild/webhook:Webhook": _CONTROL,
    "aws:codebuild/sourceCredential:SourceCredential": _CONTROL,
    "aws:lb/targetGroup:TargetGroup": "priced with its load balancer",
    "aws:lb/listener:Listener": "priced with its load balancer",
    "aws:lb/listenerRule:ListenerRule": "priced with its load balancer",
    "aws:wafv2/webAclAssociation:WebAclAssociation": "priced with its web ACL",
    "aws:rds/subnetGroup:SubnetGroup": _CONTROL,
    "aws:rds/parameterGroup:ParameterGroup": _CONTROL,
    "aws:acm/certificate:Certificate": "public ACM certificates have no charge",
    "aws:acm/certificateValidation:CertificateValidation": _CONTROL,
    "aws:route53/record:Record": "standard queries are priced per million, not estimated",
    "docker-build:index:Image": "built where Pulumi runs; its storage is priced in ECR",
    "pulumi:providers:aws": "a provider, not a resource",
    "pulumi:providers:kubernetes": "a provider, not a resource",
    "kubernetes:core/v1:Namespace": _CONTROL,
    "kubernetes:core/v1:ConfigMap": _CONTROL,
    "kubernetes:core/v1:Secret": _CONTROL,
    "kubernetes:core/v1:ServiceAccount": _CONTROL,
    "kubernetes:apps/v1:Deployment": _ON_NODES,
    "kubernetes:apps/v1:DaemonSet": _ON_NODES,
    "kubernetes:batch/v1:Job": _ON_NODES,
    "kubernetes:batch/v1:CronJob": _ON_NODES,
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": _CONTROL,
    "kubernetes:policy/v1:PodDisruptionBudget": _CONTROL,
    "kubernetes:networking.k8s.io/v1:NetworkPolicy": _CONTROL,
    "kubernetes:storage.k8s.io/v1:StorageClass": "volumes are priced with the claims that use the class",
    "kubernetes:rbac.authorization.k8s.io/v1:Role": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": _CONTROL,
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:PrometheusRule": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": _CONTROL,
    "kubernetes:monitoring.coreos.com/v1:PodMonitor": _CONTROL,
}


def usage_schema() -> dict[str, tuple[str, ...]]:
    """Type -> the usage keys its entry reads (what the usage file may set)."""
    return {t: e.usage_keys for t, e in REGISTRY.items()}
