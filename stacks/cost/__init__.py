"""What a stack costs a month, computed from what its synth declares (`python -m stacks cost`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.testing import SynthResult
from stacks.cost.pricing import CostError, PriceTable, Usage, check_usage_for, load_prices, load_usage
from stacks.cost.registry import FREE, REGISTRY, Context, Line, UnpricedChartError, usage_schema

__all__ = [
    "CostError",
    "Estimate",
    "PricedResource",
    "estimate",
    "load_prices",
    "load_usage",
    "usage_schema",
]

STACK_COMPONENT = "(stack)"


@dataclass(frozen=True)
class PricedResource:
    component: str  # "<ComponentClass> <name>" of the nearest component parent, or "(stack)"
    type: str
    name: str
    lines: list[Line]

    @property
    def fixed(self) -> float:
        return sum(line.monthly for line in self.lines if not line.usage)

    @property
    def usage(self) -> float:
        return sum(line.monthly for line in self.lines if line.usage)


@dataclass(frozen=True)
class Estimate:
    stack: str
    project: str
    prices: PriceTable
    resources: list[PricedResource]
    free: list[tuple[str, str]] = field(default_factory=list)  # (type, name)
    unpriced: list[tuple[str, str]] = field(default_factory=list)  # (type or chart, name)

    @property
    def fixed(self) -> float:
        return sum(r.fixed for r in self.resources)

    @property
    def usage(self) -> float:
        return sum(r.usage for r in self.resources)

    @property
    def total(self) -> float:
        return self.fixed + self.usage

    def components(self) -> dict[str, tuple[float, float]]:
        """Component -> (fixed, usage) a month, in declaration order."""
        out: dict[str, tuple[float, float]] = {}
        for r in self.resources:
            fixed, usage = out.get(r.component, (0.0, 0.0))
            out[r.component] = (fixed + r.fixed, usage + r.usage)
        return out


def component_of(r: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> str:
    """The nearest ComponentResource above `r`, as "<Class> <name>"."""
    parent = by_urn.get(r["parent"] or "")
    while parent is not None and parent["custom"]:
        parent = by_urn.get(parent["parent"] or "")
    if parent is None:
        return STACK_COMPONENT
    return f"{parent['type'].rsplit(':', 1)[-1]} {parent['name']}"


def estimate(result: SynthResult, prices: PriceTable, usage: Usage) -> Estimate:
    """Price every resource `result` declares with the registry, the price table and the usage."""
    by_urn = {r["urn"]: r for r in result.resources}
    classes: dict[str, dict[str, Any]] = {}
    default_class = None
    for m in result.manifests:
        if m.get("kind") == "StorageClass":
            name = m["metadata"]["name"]
            classes[name] = m
            if (m["metadata"].get("annotations") or {}).get(
                "storageclass.kubernetes.io/is-default-class"
            ) == "true":
                default_class = name
    seen: set[str] = set()
    priced: list[PricedResource] = []
    free: list[tuple[str, str]] = []
    unpriced: list[tuple[str, str]] = []
    for r in result.resources:
        if not r["custom"]:
            continue  # a component groups resources; it is not billed itself
        entry = REGISTRY.get(r["type"])
        if entry is None:
            (free if r["type"] in FREE else unpriced).append((r["type"], r["name"]))
            continue
        check_usage_for(usage, r["type"], r["name"], entry.usage_keys)
        ctx = Context(prices, usage.of(r["type"], r["name"]), by_urn, classes, default_class, seen)
        try:
            lines = entry.price(ctx, r)
        except UnpricedChartError as chart:
            unpriced.append((f"{r['type']} chart {chart}", r["name"]))
            continue
        if not lines:
            free.append((r["type"], r["name"]))  # e.g. a ClusterIP Service, a gateway endpoint
            continue
        priced.append(PricedResource(component_of(r, by_urn), r["type"], r["name"], lines))
    return Estimate(result.stack, result.project, prices, priced, free, unpriced)
