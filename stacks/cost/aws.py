"""Pricing functions of the AWS resource types (registered in stacks/cost/registry.py)."""

from __future__ import annotations

from typing import Any

from stacks.cost.lines import Context, Line, ebs_lines, lb_lines
from stacks.cost.pricing import CostError


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
    return lb_lines(ctx, kind)


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


def backup_vault(ctx: Context, r: dict[str, Any]) -> list[Line]:
    # AWS Backup bills what the vault holds (recovery points of RDS: snapshots and the continuous
    # backup's data) and cross-region copies; the vault itself has no charge.
    return [
        ctx.line("Recovery points (snapshots, continuous)", ctx.figure("storageGb"), "backup.rds.storage",
                 usage=True),
        ctx.line("Copies to a second region", ctx.figure("monthlyCopiedGb"), "backup.rds.copy", usage=True),
    ]  # fmt: skip


def metric_alarm(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [ctx.line("Alarm (standard resolution)", 1, "cloudwatch.alarm.standard")]


def hosted_zone(ctx: Context, r: dict[str, Any]) -> list[Line]:
    return [ctx.line("Hosted zone", 1, "route53.hosted-zone")]
