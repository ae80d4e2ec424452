"""`make bench`: synth wall time and peak memory per stack, against the SDK floor, side by side.

For staging, production and generated stacks with 1, 10 and 50 apps, each run in fresh processes:
the synth (`python -m stacks synth`) and the floor (`python -m bench.floor`, the same resources
registered straight through the SDK). Stacks with 20, 40 and 60 apps are synthesised too (synth
and floor only), so the time per app is a fitted slope, not the difference of two runs. Each round
runs every case once, back to back, so ratios and differences between cases are taken within a
round, where the host's slow spells cancel out. Prints the tables and writes bench/RESULTS.md.

    python -m bench [--runs 9] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
APP_COUNTS = (1, 10, 50)  # the generated stacks of the main table
# Time per app "at 10 apps" and "at 50 apps": least-squares slopes of synth time over these app
# counts. A slope through three stacks spanning 19-20 apps, not the difference between two: the
# cyclic GC runs a full collection (0.2-0.3 s on this heap) every ~70k surviving allocations, about
# every 10 apps, so whether one falls between two neighbouring stacks is a matter of phase, and a
# difference over 9 apps moves by 20-30 ms per app with it (the floor's own figure did: 0.77).
SCALING = {"at 10 apps": (1, 10, 20), "at 50 apps": (40, 50, 60)}
SCALING_COUNTS = tuple(sorted({n for ns in SCALING.values() for n in ns}))
SCALING_ONLY = tuple(n for n in SCALING_COUNTS if n not in APP_COUNTS)


@dataclass
class Case:
    name: str
    stack_file: Path
    scaling_only: bool = False  # run for the time-per-app fit: re-synth and floor only
    resources: int = 0
    synth: list[Sample] = field(default_factory=list)
    fresh: list[Sample] = field(default_factory=list)
    floor: list[Sample] = field(default_factory=list)
    generic: list[Sample] = field(default_factory=list)

    @property
    def synth_s(self) -> float:
        return _median_wall(self.synth)

    @property
    def fresh_s(self) -> float:
        return _median_wall(self.fresh)

    @property
    def floor_s(self) -> float:
        return _median_wall(self.floor)

    @property
    def generic_s(self) -> float:
        return _median_wall(self.generic)

    # Ratios are medians of per-round ratios: a round's synth and floor ran seconds apart, so a
    # slow spell of the host cancels out of their ratio instead of landing on one side.

    @property
    def ratio(self) -> float:
        return _paired(self.synth, self.floor)

    @property
    def fresh_ratio(self) -> float:
        return _paired(self.fresh, self.floor)

    @property
    def cpu_ratio(self) -> float:
        return _paired(self.synth, self.floor, cpu=True)

    @property
    def generic_ratio(self) -> float:
        return _paired(self.synth, self.generic)


def _median_wall(samples: list[Sample]) -> float:
    return statistics.median(s.wall_s for s in samples)


def _paired(a: list[Sample], b: list[Sample], *, cpu: bool = False) -> float:
    """The median over rounds of a's time / b's time in the same round (wall, or CPU)."""
    return statistics.median(per_round(a, b, cpu=cpu))


def per_round(a: list[Sample], b: list[Sample], *, cpu: bool = False) -> list[float]:
    """a's time / b's time in each round (wall, or CPU)."""
    return [(x.cpu_s / y.cpu_s) if cpu else (x.wall_s / y.wall_s) for x, y in zip(a, b, strict=True)]


def median_interval(values: list[float]) -> tuple[float, float]:
    """A distribution-free interval of at least 95% confidence for the median of `values` (from 6
    values up; with fewer, the lowest to the highest).

    The k-th lowest and k-th highest values, with k the largest for which a fair coin shows k - 1
    heads or fewer in len(values) tosses with probability at most 2.5% (the sign test's interval;
    9 rounds: 2nd lowest to 2nd highest, 96%). It assumes nothing of the noise's shape, which on
    this host is not normal (a round's process now and then runs 30% slow).
    """
    n, ordered = len(values), sorted(values)
    k, below = 0, 0.0  # below: P(heads < k + 1)
    while k < n // 2:
        below += math.comb(n, k) / 2**n
        if below > 0.025:
            break
        k += 1
    k = max(k, 1)
    return ordered[k - 1], ordered[n - k]


def _span(bounds: tuple[float, float]) -> str:
    """`1.05 - 1.26`: an interval, or a lowest and highest value, as the report prints them."""
    return f"{bounds[0]:.2f} - {bounds[1]:.2f}"


def spread_lines(cases: dict[str, Case]) -> list[str]:
    """Each case's median ratio with its 95% interval and its lowest and highest round."""
    lines = [
        "| case | synth / floor | 95% interval | rounds | new dir / floor | 95% interval | rounds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases.values():
        if c.scaling_only:
            continue
        cells = [c.name]
        for ratios in (per_round(c.synth, c.floor), per_round(c.fresh, c.floor)):
            cells += [
                f"{statistics.median(ratios):.2f}",
                _span(median_interval(ratios)),
                _span((min(ratios), max(ratios))),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def generated_stack(project: Path, apps: int) -> Path:
    """A production stack file whose `apps` map holds `apps` services, each in its own namespace."""
    doc = yaml.safe_load((ROOT / "Pulumi.production.yaml").read_text())
    doc["config"]["lmagent-infra:apps"] = {
        f"svc-{i:02d}": {"namespace": f"svc-{i:02d}", "partOf": "bench"} for i in range(apps)
    }
    path = project / f"Pulumi.apps-{apps}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def stack_name(stack_file: Path) -> str:
    """`Pulumi.apps-10.yaml` -> `apps-10`."""
    return stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")


def synth_argv(project: Path, stack: str, out: Path) -> list[str]:
    """`python -m` arguments of a quiet synth of `stack` from `project` into `out`."""
    return ["stacks", "--project-dir", str(project), "synth", stack, "--out", str(out), "--quiet"]


def compile_bytecode() -> None:
    """Compile our bytecode first, as an installed library runs.

    pip compiles a package's bytecode when it installs it, and so does Python on a first import
    unless PYTHONDONTWRITEBYTECODE is set (as it is on some CI images and containers). The synth
    and the floor both read these .pyc files.
    """
    subprocess.run([PYTHON, "-m", "compileall", "-q", "components", "stacks", "bench"], cwd=ROOT, check=True)


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float  # user + system time of the process: less sensitive to a busy host than wall time
    peak_kib: int


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str]) -> Sample:
    """Wall and CPU seconds of a fresh process, and its peak RSS (KiB) reported by bench/_measure.py."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        command = [PYTHON, "-m", "bench._measure", report.name, *argv]
        cpu = _cpu_of_children()
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        seconds = time.perf_counter() - start
        cpu = _cpu_of_children() - cpu
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout}\n{proc.stderr}")
        peak = json.loads(Path(report.name).read_text())["peak_kib"]
    return Sample(seconds, cpu, int(peak))


def import_time(runs: int) -> float:
    code = "import time; t = time.perf_counter(); import components; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


class Runner:
    """The commands of one case: re-synth, synth into a new directory, floor, generic floor."""

    def __init__(self, case: Case, project: Path, out: Path) -> None:
        self.case, self.project, self.out = case, project, out
        self.stack = stack_name(case.stack_file)

    def synth_cmd(self, directory: Path) -> list[str]:
        return synth_argv(self.project, self.stack, directory)

    def prepare(self) -> None:
        """Warm the file cache; write the output the re-synth updates and the floor reads."""
        timed(self.synth_cmd(self.out / self.stack))
        resources = json.loads((self.out / self.stack / "resources.json").read_text())["resources"]
        self.case.resources = len(resources)

    def round(self, number: int) -> None:
        """One of each, back to back: a re-synth into the case's output directory (the usual
        edit-synth loop: only changed files are rewritten), a synth into a new directory (every
        file created), the floor and the generic floor."""
        declared = str(self.out / self.stack / "resources.json")
        self.case.synth.append(timed(self.synth_cmd(self.out / self.stack)))
        if self.case.scaling_only:
            self.case.floor.append(timed(["bench.floor", declared, "typed"]))
            return
        fresh = self.out / f"{self.stack}-new-{number}"
        self.case.fresh.append(timed(self.synth_cmd(fresh)))
        shutil.rmtree(fresh)
        self.case.floor.append(timed(["bench.floor", declared, "typed"]))
        self.case.generic.append(timed(["bench.floor", declared, "generic"]))


def measure(cases: dict[str, Case], project: Path, out: Path, runs: int) -> None:
    """`runs` rounds; each round runs every case once, so all cases see the same spells of a busy
    host and differences between cases (the time per app) are taken within a round."""
    runners = [Runner(case, project, out) for case in cases.values()]
    for runner in runners:
        runner.prepare()
    for number in range(runs):
        print(f"round {number + 1} of {runs} ...", file=sys.stderr, flush=True)
        for runner in runners:
            runner.round(number)
    for case in cases.values():
        walls = {
            k: [round(s.wall_s, 2) for s in v] for k, v in (("synth", case.synth), ("new dir", case.fresh))
        }
        walls["floor"] = [round(s.wall_s, 2) for s in case.floor]
        print(f"  {case.name} wall s: {walls}", file=sys.stderr, flush=True)


def per_app(cases: dict[str, Case], side: str = "synth") -> tuple[float, float, float]:
    """Seconds per app at 10 and at 50 apps (least-squares slopes over the app counts in SCALING)
    and their ratio: medians of the per-round figures. `side` is "synth" or "floor"."""
    low, high, growth = _slopes(cases, side)
    return statistics.median(low), statistics.median(high), statistics.median(growth)


def growth_interval(cases: dict[str, Case], side: str = "synth") -> tuple[float, float]:
    """The 95% interval of the median growth `per_app` reports (see `median_interval`)."""
    return median_interval(_slopes(cases, side)[2])


def _slopes(cases: dict[str, Case], side: str) -> tuple[list[float], list[float], list[float]]:
    """Per round: the slope at 10 apps, at 50 apps, and their ratio."""
    low_counts, high_counts = SCALING.values()

    def slopes(counts: tuple[int, ...]) -> list[float]:
        runs = [getattr(cases[f"apps-{n}"], side) for n in counts]
        return [
            statistics.linear_regression(counts, [s.wall_s for s in samples]).slope
            for samples in zip(*runs, strict=True)
        ]

    low, high = slopes(low_counts), slopes(high_counts)
    return low, high, [h / lo for lo, h in zip(low, high, strict=True)]


def scaling_table(cases: dict[str, Case]) -> list[str]:
    """Synth and floor medians for every generated stack, the points the time per app is fitted to."""
    lines = [
        "| apps | resources | synth median (s) | floor median (s) | synth / floor |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in SCALING_COUNTS:
        c = cases[f"apps-{n}"]
        lines.append(f"| {n} | {c.resources} | {c.synth_s:.2f} | {c.floor_s:.2f} | {c.ratio:.2f} |")
    return lines


def table(cases: dict[str, Case]) -> list[str]:
    head = (
        "case",
        "resources",
        "synth median (s)",
        "floor median (s)",
        "synth / floor",
        "synth, new dir (s)",
        "new dir / floor",
        "CPU synth / floor",
        "synth peak (MiB)",
        "floor peak (MiB)",
        "generic floor (s)",
        "synth / generic",
    )
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for c in cases.values():
        if c.scaling_only:
            continue
        cells = (
            c.name,
            str(c.resources),
            f"{c.synth_s:.2f}",
            f"{c.floor_s:.2f}",
            f"{c.ratio:.2f}",
            f"{c.fresh_s:.2f}",
            f"{c.fresh_ratio:.2f}",
            f"{c.cpu_ratio:.2f}",
            f"{max(s.peak_kib for s in c.synth) / 1024:.0f}",
            f"{max(s.peak_kib for s in c.floor) / 1024:.0f}",
            f"{c.generic_s:.2f}",
            f"{c.generic_ratio:.2f}",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=9, help="rounds, each running every case once (default 9)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args()

    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="lmagent-bench-"))
    try:
        project = work / "project"
        project.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.production.yaml"):
            shutil.copy(ROOT / name, project / name)
        cases = {s: Case(s, project / f"Pulumi.{s}.yaml") for s in ("staging", "production")}
        for n in sorted({*APP_COUNTS, *SCALING_ONLY}):
            cases[f"apps-{n}"] = Case(
                f"apps-{n}", generated_stack(project, n), scaling_only=n in SCALING_ONLY
            )
        measure(cases, project, work / "out", args.runs)
        imports = import_time(args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    marginal_10, marginal_50, growth = per_app(cases)
    floor_10, floor_50, floor_growth = per_app(cases, "floor")
    main_cases = [c for c in cases.values() if not c.scaling_only]
    worst = max(main_cases, key=lambda c: c.ratio)
    worst_fresh = max(main_cases, key=lambda c: c.fresh_ratio)
    report = [
        "# Benchmark results",
        "",
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, "
        f"Python {platform.python_version()} ({platform.machine()}), {args.runs} rounds, each running "
        "every case's synth, floor and generic floor once, each in a fresh process; bytecode "
        "compiled beforehand (as `pip install` leaves a package). Times are medians over the rounds; "
        "ratios and times per app are medians of the per-round figures.",
        "",
        f"Reproduce: `make bench` (or `.venv/bin/python -m bench --runs {args.runs}`).",
        "",
        *table(cases),
        "",
        f"- Synth time per app: {marginal_10 * 1000:.0f} ms at 10 apps, {marginal_50 * 1000:.0f} ms at 50 "
        f"apps (ratio {growth:.2f}, 95% interval {_span(growth_interval(cases))}; "
        f"target 0.85 to 1.15). The floor's, fitted the same way: {floor_10 * 1000:.0f} ms and "
        f"{floor_50 * 1000:.0f} ms (ratio {floor_growth:.2f}, {_span(growth_interval(cases, 'floor'))}).",
        f"- Worst synth / floor ratio: {worst.ratio:.2f} ({worst.name}, 95% interval "
        f"{_span(median_interval(per_round(worst.synth, worst.floor)))}); into a new output directory: "
        f"{worst_fresh.fresh_ratio:.2f} ({worst_fresh.name}, "
        f"{_span(median_interval(per_round(worst_fresh.fresh, worst_fresh.floor)))}) (target at most 1.25).",
        f"- `import components` in a fresh interpreter: {imports * 1000:.0f} ms median "
        "(target under 500 ms).",
        "",
        "Time per app: the least-squares slope of each round's synth times over the stacks with "
        f"{', '.join(map(str, SCALING['at 10 apps']))} apps (at 10 apps) and with "
        f"{', '.join(map(str, SCALING['at 50 apps']))} apps (at 50 apps), then the median over rounds. "
        "A slope over three stacks rather than the difference of two: CPython's cyclic GC runs a "
        "full collection (0.2-0.3 s on this heap) about every ten apps' worth of allocations, and "
        "whether one falls between two neighbouring stacks is a matter of phase. The points:",
        "",
        *scaling_table(cases),
        "",
        "The per-round ratios behind the medians. One process's CPU time for the same work varies "
        "by +-15% here from run to run (wall time follows CPU time: the host takes no time away, it "
        "runs slower), so single rounds stray far. The 95% interval holds the true median ratio with "
        "95% confidence whatever the shape of that noise (the sign test's interval, "
        "`median_interval`); where it holds 1.25, this run cannot tell that case's ratio from the "
        "target.",
        "",
        *spread_lines(cases),
        "",
        "The floor (`python -m bench.floor`) registers the same resources, read back from each case's "
        "resources.json (types, names, parents, providers, options and inputs; tests/test_bench.py "
        "checks the records are identical), under the same mock engine with no library code: each "
        "custom resource through its typed SDK class, as any program declaring it must. The generic "
        "floor registers them as bare `pulumi.CustomResource`s instead, the cheapest path the SDK "
        "has, which no typed program can take. Wall time includes interpreter start-up for all three.",
        "",
        '"synth" re-synthesises into the directory the previous run wrote, as the edit-synth loop '
        'does: every file is rendered and compared, none has changed, none is rewritten. "new dir" '
        "synthesises into a directory that does not exist yet (a clean checkout, CI): every file is "
        'created (apps-50: 660 files, 5.8 MB, 0.06 s against 0.02 s to compare them). "CPU synth / floor" '
        "compares the processes' user + system time (medians), which a busy host disturbs less than "
        "wall time: it corroborates the wall-time ratio.",
    ]
    args.out.write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
