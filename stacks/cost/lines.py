"""What a pricing function returns and reads: cost lines, the context, and EBS and load-balancer lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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


def lb_lines(ctx: Context, kind: str) -> list[Line]:
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
