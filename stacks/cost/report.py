"""The cost estimate as a table (text or Markdown), as JSON, and two estimates side by side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stacks.cost import Estimate

USAGE_MARK = "*"


def money(value: float) -> str:
    return f"${value:,.2f}"


def signed(value: float) -> str:
    if round(value, 2) == 0:
        return "$0.00"
    return ("+" if value > 0 else "-") + money(abs(value))


def qty(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def header(e: Estimate, usage_name: str) -> str:
    p = e.prices
    return (
        f"{e.project}-{e.stack}: {p.region}, {p.currency}, {p.hours_per_month:g} hours a month; "
        f"prices recorded {p.as_of} ({p.path.name}), usage from {usage_name}"
    )


def text_lines(e: Estimate, usage_name: str) -> Iterator[str]:
    """Infracost's table: each component, its resources and their cost components."""
    yield header(e, usage_name)
    yield ""
    width = 74
    yield f"{'Name':<{width}}{'Monthly qty':>12}  {'Unit':<12}{'Monthly cost':>13}"
    for component in e.components():
        yield ""
        yield component
        for r in (r for r in e.resources if r.component == component):
            yield f"  {r.name} ({r.type.rsplit(':', 1)[-1]})"
            for i, line in enumerate(r.lines):
                branch = "└─ " if i == len(r.lines) - 1 else "├─ "
                mark = f" {USAGE_MARK}" if line.usage else ""
                label = f"  {branch}{line.name}{mark}"
                if len(label) > width - 1:
                    label = label[: width - 2] + "…"
                yield f"{label:<{width}}{qty(line.quantity):>12}  {line.unit:<12}{money(line.monthly):>13}"
    yield ""
    yield from summary_lines(e)


def summary_lines(e: Estimate) -> Iterator[str]:
    width = 30
    yield f"{'Component':<{width}}{'Baseline':>12}{'Usage ' + USAGE_MARK:>12}{'Total':>12}"
    for component, (fixed, usage) in e.components().items():
        yield f"{component:<{width}}{money(fixed):>12}{money(usage):>12}{money(fixed + usage):>12}"
    yield f"{'Total':<{width}}{money(e.fixed):>12}{money(e.usage):>12}{money(e.total):>12}"
    yield ""
    # Counts of free resources are left out: they change with every IAM role or ConfigMap added,
    # which would make the README's generated figures stale without any cost changing.
    yield f"{USAGE_MARK} usage-based: figures from the usage file, not from what the stack declares."
    for typ, name in e.unpriced:
        yield f"unpriced: {typ} {name} (no entry in stacks/cost/registry.py)"


def markdown_lines(e: Estimate) -> Iterator[str]:
    yield "| Component | Baseline | Usage | Total |"
    yield "|---|---:|---:|---:|"
    for component, (fixed, usage) in e.components().items():
        yield f"| {component} | {money(fixed)} | {money(usage)} | {money(fixed + usage)} |"
    yield f"| **Total** | **{money(e.fixed)}** | **{money(e.usage)}** | **{money(e.total)}** |"


def as_json(e: Estimate, usage_name: str) -> dict[str, Any]:
    return {
        "project": e.project,
        "stack": e.stack,
        "region": e.prices.region,
        "currency": e.prices.currency,
        "hoursPerMonth": e.prices.hours_per_month,
        "pricesRecorded": e.prices.as_of,
        "usageFile": usage_name,
        "baseline": round(e.fixed, 2),
        "usage": round(e.usage, 2),
        "total": round(e.total, 2),
        "components": [
            {"name": c, "baseline": round(f, 2), "usage": round(u, 2), "total": round(f + u, 2)}
            for c, (f, u) in e.components().items()
        ],
        "resources": [
            {
                "component": r.component,
                "type": r.type,
                "name": r.name,
                "baseline": round(r.fixed, 2),
                "usage": round(r.usage, 2),
                "lines": [
                    {
                        "name": line.name,
                        "quantity": line.quantity,
                        "unit": line.unit,
                        "unitPrice": line.unit_price,
                        "priceKey": line.price_key,
                        "usageBased": line.usage,
                        "monthly": round(line.monthly, 4),
                    }
                    for line in r.lines
                ],
            }
            for r in e.resources
        ],
        "free": [{"type": t, "name": n} for t, n in e.free],
        "unpriced": [{"type": t, "name": n} for t, n in e.unpriced],
    }


# ---------------------------------------------------------------------------------------------
# Two estimates


def _rows(a: Estimate, b: Estimate) -> list[tuple[str, float, float]]:
    ca, cb = a.components(), b.components()
    names = list(ca) + [c for c in cb if c not in ca]
    return [(c, sum(ca.get(c, (0.0, 0.0))), sum(cb.get(c, (0.0, 0.0)))) for c in names]


def _ratio(a: float, b: float) -> str:
    return f"{b / a:.2f}x" if a else "new"


def diff_text(a: Estimate, b: Estimate, la: str, lb: str) -> Iterator[str]:
    """A bench-style comparison: each component in A and B, the change and the ratio."""
    yield f"Monthly cost, {la} -> {lb} ({a.prices.region}, {a.prices.currency})"
    yield ""
    w, n = 30, max(12, len(la) + 2, len(lb) + 2)
    yield f"{'Component':<{w}}{la:>{n}}{lb:>{n}}{'change':>12}{'ratio':>8}"
    for c, va, vb in _rows(a, b):
        yield f"{c:<{w}}{money(va):>{n}}{money(vb):>{n}}{signed(vb - va):>12}{_ratio(va, vb):>8}"
    for label, va, vb in (("Baseline", a.fixed, b.fixed), ("Usage " + USAGE_MARK, a.usage, b.usage),
                          ("Total", a.total, b.total)):  # fmt: skip
        yield f"{label:<{w}}{money(va):>{n}}{money(vb):>{n}}{signed(vb - va):>12}{_ratio(va, vb):>8}"
    changed = list(_changed_lines(a, b))
    if changed:
        yield ""
        yield "Resources whose cost differs (with the cost components of the second):"
        yield from changed


def _changed_lines(a: Estimate, b: Estimate) -> Iterator[str]:
    """Each resource whose monthly cost differs, with B's cost components."""
    ia = {(r.type, r.name): r for r in a.resources}
    ib = {(r.type, r.name): r for r in b.resources}
    for key in list(ia) + [k for k in ib if k not in ia]:
        ra, rb = ia.get(key), ib.get(key)
        va = ra.fixed + ra.usage if ra else None
        vb = rb.fixed + rb.usage if rb else None
        if va is not None and vb is not None and round(va, 2) == round(vb, 2):
            continue
        was = money(va) if va is not None else "-"
        now = money(vb) if vb is not None else "-"
        shown = rb or ra
        assert shown is not None
        yield f"  {shown.name} ({shown.type.rsplit(':', 1)[-1]}): {was} -> {now}"
        for line in rb.lines if rb else []:
            yield f"      {line.name}{' ' + USAGE_MARK if line.usage else ''}: {money(line.monthly)}"


def diff_markdown(a: Estimate, b: Estimate, la: str, lb: str) -> Iterator[str]:
    yield f"| Component | {la} | {lb} | change | ratio |"
    yield "|---|---:|---:|---:|---:|"
    for c, va, vb in _rows(a, b):
        yield f"| {c} | {money(va)} | {money(vb)} | {signed(vb - va)} | {_ratio(va, vb)} |"
    for label, va, vb in (
        ("Baseline (declared)", a.fixed, b.fixed),
        ("Usage (usage file)", a.usage, b.usage),
    ):
        yield f"| {label} | {money(va)} | {money(vb)} | {signed(vb - va)} | {_ratio(va, vb)} |"
    va, vb = a.total, b.total
    yield f"| **Total** | **{money(va)}** | **{money(vb)}** | **{signed(vb - va)}** | {_ratio(va, vb)} |"


def diff_json(a: Estimate, b: Estimate, la: str, lb: str, usage_name: str) -> dict[str, Any]:
    return {
        "a": {"label": la, **as_json(a, usage_name)},
        "b": {"label": lb, **as_json(b, usage_name)},
        "change": {
            "baseline": round(b.fixed - a.fixed, 2),
            "usage": round(b.usage - a.usage, 2),
            "total": round(b.total - a.total, 2),
        },
        "components": [
            {"name": c, "a": round(va, 2), "b": round(vb, 2), "change": round(vb - va, 2)}
            for c, va, vb in _rows(a, b)
        ],
    }
