"""A first deploy's plan: the dependency graph synth records, in waves, with its critical path.

How the engine orders a `pulumi up` (pulumi 3.272, Python SDK), which the graph here follows:

- A resource is registered only once every resource it waits for is created: its explicit
  `depends_on` and every resource an input came from (`prepare_resource` in
  pulumi/runtime/resource.py awaits their URNs, and a URN resolves when its create is done).
  `dependencies` in resources.json records exactly those URNs.
- It also waits for its parent (`parent_urn = await opts.parent.urn.future()`) and for its provider
  (`_create_provider_ref` awaits the provider's URN and ID). So a component's children start only
  once the component is registered, and a component is registered only once its own dependencies
  are created: `depends_on=[component]` on a component holds back every child.
- Depending on a local component means depending on each of its descendants, through nested
  components but not into custom resources' children (`_add_dependency` in pulumi/runtime/rpc.py).
  The SDK does that expansion itself before the engine sees the request, so the recorded
  `dependencies` name custom resources only (tests/test_plan.py checks); `waits_for` expands
  any component it meets the same way, for graphs written by hand. The SDK expands to the
  children the component has when the dependent registers: a child created later (inside an
  `apply`) would be missed, on a real deploy as here. The components create every child in their
  constructors.
- `pulumi up` runs every step whose dependencies are done at once: `--parallel` defaults to
  unbounded (https://www.pulumi.com/docs/iac/cli/commands/pulumi_up/).

So the earliest a resource can finish is its own create time (stacks/durations.py) after the
latest of what it waits for; the last finish is the first deploy's estimated length, and the chain
that sets it is the critical path.
"""

from __future__ import annotations

import graphlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stacks.durations import Estimate, estimate

Resource = Mapping[str, Any]


def waits_for(resources: Sequence[Resource]) -> dict[str, frozenset[str]]:
    """Each resource's URN mapped to the URNs it waits for: its dependencies, parent and provider.

    A dependency on a component stands for the component's descendants, as the SDK expands it.
    Parents and providers outside the list (the stack itself) are left out.
    """
    by_urn = {r["urn"]: r for r in resources}
    children: dict[str, list[str]] = {}
    for r in resources:
        if r["parent"] in by_urn:
            children.setdefault(r["parent"], []).append(r["urn"])

    def expand(urn: str) -> set[str]:
        if urn not in by_urn or by_urn[urn]["custom"]:
            return {urn}
        found: set[str] = set()
        todo = list(children.get(urn, []))
        while todo:  # a loop, as the SDK's own walk: deep component trees do not recurse
            child = todo.pop()
            if by_urn[child]["custom"]:
                found.add(child)
            else:
                todo.extend(children.get(child, []))
        return found

    graph: dict[str, frozenset[str]] = {}
    for r in resources:
        deps: set[str] = set()
        for dep in r["dependencies"]:
            deps |= expand(dep)
        deps |= {u for u in (r["parent"], r["provider"]) if u}
        graph[r["urn"]] = frozenset(d for d in deps if d in by_urn and d != r["urn"])
    return graph


@dataclass(frozen=True)
class Step:
    """One resource in the plan: when it can start and finish, counted from the deploy's start."""

    urn: str
    type: str
    name: str
    custom: bool
    seconds: int
    source: str
    start: int
    finish: int
    wave: int  # 1 for what starts at once; components share the wave of what they wait for

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "seconds": self.seconds,
            "start": self.start,
            "finish": self.finish,
            "source": self.source,
        }


@dataclass(frozen=True)
class Plan:
    """The deploy of one stack: every step, the waves of what can start together, the critical path."""

    project: str
    stack: str
    steps: Mapping[str, Step]
    waves: Sequence[Sequence[str]]  # URNs of custom resources, wave by wave
    critical_path: Sequence[str]  # URNs of custom resources, first to last
    total: int  # seconds from the first create to the last: the estimated first deploy
    work: int  # the sum of every create time: what a deploy with no parallelism would take

    def path_steps(self) -> list[Step]:
        return [self.steps[u] for u in self.critical_path]

    def to_json(self) -> dict[str, Any]:
        path = self.path_steps()
        return {
            "project": self.project,
            "stack": self.stack,
            "totals": {
                "resources": len(self.steps),
                "toCreate": sum(1 for s in self.steps.values() if s.custom),
                "waves": len(self.waves),
                "criticalPathSeconds": self.total,
                "workSeconds": self.work,
                "assumedSecondsOnCriticalPath": sum(
                    s.seconds for s in path if s.source.startswith("assumption")
                ),
            },
            "waves": [[self.steps[u].as_json() for u in wave] for wave in self.waves],
            "criticalPath": [s.as_json() for s in path],
        }


def build_plan(
    resources: Sequence[Resource],
    *,
    project: str = "",
    stack: str = "",
    durations: Callable[[Resource], Estimate] = estimate,
    graph: Mapping[str, Iterable[str]] | None = None,
) -> Plan:
    """Schedule `resources` as the engine would: each starts when all it waits for have finished.

    `graph` replaces the recorded dependencies (the benchmark's floor schedules the same resources
    over fewer edges). Raises graphlib.CycleError on a cycle, UnknownDurationError for a resource the
    table has no figure for.
    """
    by_urn = {r["urn"]: r for r in resources}
    edges = {u: frozenset(d) for u, d in (graph or waits_for(resources)).items()}
    order = list(graphlib.TopologicalSorter(edges).static_order())
    finish: dict[str, int] = {}
    wave: dict[str, int] = {}
    steps: dict[str, Step] = {}
    for urn in order:
        r = by_urn[urn]
        est = durations(r)
        deps = edges.get(urn, frozenset())
        start = max((finish[d] for d in deps), default=0)
        finish[urn] = start + est.seconds
        before = max((wave[d] for d in deps), default=0)
        wave[urn] = before + 1 if r["custom"] else before
        steps[urn] = Step(
            urn,
            r["type"],
            r["name"],
            bool(r["custom"]),
            est.seconds,
            est.source,
            start,
            finish[urn],
            wave[urn],
        )
    waves: dict[int, list[str]] = {}
    for urn, s in steps.items():
        if s.custom:
            waves.setdefault(s.wave, []).append(urn)
    ordered = [sorted(waves[w], key=lambda u: (-steps[u].seconds, u)) for w in sorted(waves)]
    return Plan(
        project=project,
        stack=stack,
        steps=dict(sorted(steps.items())),
        waves=ordered,
        critical_path=_critical_path(steps, edges),
        total=max(finish.values(), default=0),
        work=sum(s.seconds for s in steps.values()),
    )


def _critical_path(steps: Mapping[str, Step], edges: Mapping[str, frozenset[str]]) -> list[str]:
    """The chain that finishes last, walked back from its end; ties go to the lowest URN."""
    if not steps:
        return []
    urn: str | None = min(steps, key=lambda u: (-steps[u].finish, u))
    path: list[str] = []
    while urn is not None:
        path.append(urn)
        # The predecessor that finished last is the one this step waited for.
        before = [d for d in edges.get(urn, ()) if steps[d].finish == steps[urn].start]
        urn = min(before, key=lambda d: (-steps[d].seconds, d)) if before else None
    return [u for u in reversed(path) if steps[u].custom]


# ---------------------------------------------------------------------------------------------
# Terminal and files


def duration(seconds: int) -> str:
    """`1h 02m`, `15m 00s`, `45s`: as people read a deploy's length."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m {s:02d}s" if m else f"{s}s"


def _clock(seconds: int) -> str:
    m, s = divmod(seconds, 60)
    return f"+{m:d}:{s:02d}"


def _short_type(typ: str) -> str:
    if typ.startswith("pulumi:providers:"):
        return f"{typ.rsplit(':', 1)[-1]} provider"
    return typ.rsplit(":", 1)[-1]


def plan_lines(plan: Plan, width: int = 100) -> Iterator[str]:
    """What `python -m stacks plan` prints: the totals, the waves, the critical path."""
    creates = sum(1 for s in plan.steps.values() if s.custom)
    yield (
        f"Plan for {plan.stack}: {creates} resources to create "
        f"({len(plan.steps) - creates} components), in {len(plan.waves)} waves"
    )
    yield (
        f"Estimated first deploy: {duration(plan.total)} along the critical path "
        f"({duration(plan.work)} of create time in all, run side by side)"
    )
    yield ""
    yield "Waves (what can start together; each waits for something in the wave before it):"
    yield f"  {'wave':>4}  {'from':>6}  {'count':>5}  {'longest':>7}  resources"
    for number, wave in enumerate(plan.waves, 1):
        counts = Counter(_short_type(plan.steps[u].type) for u in wave)
        longest = plan.steps[wave[0]]
        first = min(plan.steps[u].start for u in wave)
        head = f"  {number:>4}  {_clock(first):>6}  {len(wave):>5}  {duration(longest.seconds):>7}  "
        kinds = ", ".join(
            f"{k} x{n}" if n > 1 else k for k, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        )
        room = width - len(head)
        yield head + (kinds if len(kinds) <= room else kinds[: room - 3] + "...")
    yield ""
    yield "Critical path (each step starts when the one above ends; * = assumed time):"
    path = plan.path_steps()
    type_width = max((len(s.type) for s in path), default=10)
    yield f"  {'start':>7}  {'takes':>7}  {'type':<{type_width}}  name"
    for s in path:
        mark = "*" if s.source.startswith("assumption") else " "
        yield f"  {_clock(s.start):>7}  {duration(s.seconds):>7}{mark} {s.type:<{type_width}}  {s.name}"
    yield f"  {_clock(plan.total):>7}  done: {duration(plan.total)}"
    assumed = sum(s.seconds for s in path if s.source.startswith("assumption"))
    yield ""
    yield (
        f"Times are typical create times from stacks/durations.py, each with its source; "
        f"{duration(assumed)} of the path is assumed."
    )


def plan_json(plan: Plan) -> str:
    return json.dumps(plan.to_json(), indent=2) + "\n"


def critical_path_dot(plan: Plan) -> str:
    """The critical path as a Graphviz graph (rendered by `dot`; see `make plan-pictures`)."""

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"digraph {quote(f'critical path of {plan.stack}')} {{",
        "  rankdir=TB;",  # a column: the path has a dozen steps, too many for one row
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
        f"  label={quote(f'{plan.stack}: first deploy about {duration(plan.total)} along this path')};",
        '  labelloc=t; fontname="Helvetica"; fontsize=13;',
    ]
    path = plan.path_steps()
    for i, s in enumerate(path):
        assumed = s.source.startswith("assumption")
        fill = ', fillcolor="#fdf1dc"' if assumed else ""
        takes = duration(s.seconds) + (" (assumed)" if assumed else "")
        parts = [s.name, _short_type(s.type), f"{_clock(s.start)}, takes {takes}"]
        label = "\\n".join(quote(part)[1:-1] for part in parts)  # \n: a line break inside a label
        lines.append(f'  n{i} [label="{label}"{fill}];')
    for i in range(1, len(path)):
        lines.append(f"  n{i - 1} -> n{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"
