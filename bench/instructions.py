"""`make bench-instructions`: instructions executed by the synth and the floor, counted by callgrind.

Wall time on a shared host varies by +-15% between runs of the same command; the number of
instructions a process executes does not (valgrind's callgrind counts them, whatever else the
machine is doing). This measures the synth and the floor for the stacks with 1, 10 and 50 apps,
once each, and splits off what CPython's cyclic garbage collector executed (`gc_collect_main`,
inclusive), whose share moves in steps with the heap (bench/README.md). It is the check for the
targets that wall time cannot resolve here: the ratio synth / floor, and whether the time per app
stays the same from 10 to 50 apps. It takes ~20 minutes on 2 cores (callgrind runs ~50x slower).

    python -m bench.instructions [--out bench/INSTRUCTIONS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.__main__ import APP_COUNTS, PYTHON, ROOT, compile_bytecode, generated_stack, stack_name, synth_argv

_TOTAL = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)
_GC = re.compile(r"^\s*([\d,]+) \([^)]*\)\s+\S*:gc_collect_main ", re.MULTILINE)


@dataclass(frozen=True)
class Count:
    total: int  # instructions the process executed
    gc: int  # of which in the cyclic GC's collections

    @property
    def outside_gc(self) -> int:
        return self.total - self.gc


def parse(profile_text: str, annotated_inclusive: str) -> Count:
    """The totals of a callgrind profile and the inclusive cost of `gc_collect_main` in it."""
    total = _TOTAL.search(profile_text)
    if total is None:
        raise ValueError("no summary or totals line in the callgrind profile")
    gc = [int(m.group(1).replace(",", "")) for m in _GC.finditer(annotated_inclusive)]
    return Count(int(total.group(1)), max(gc, default=0))


def per_app(counts: dict[int, Count], attr: str) -> tuple[float, float, float]:
    """Instructions per app from 1 to 10 apps and from 10 to 50, and their ratio."""
    value = {n: getattr(c, attr) for n, c in counts.items()}
    low = (value[10] - value[1]) / 9
    high = (value[50] - value[10]) / 40
    return low, high, high / low


def counted(argv: list[str], profile: Path) -> Count:
    """Run `python -m ARGV` under callgrind and count what it executed."""
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={profile}", PYTHON, "-m", *argv]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(profile)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse(profile.read_text(errors="replace"), annotated)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "INSTRUCTIONS.md")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    compile_bytecode()

    work = Path(tempfile.mkdtemp(prefix="lmagent-instructions-"))
    synth: dict[int, Count] = {}
    floor: dict[int, Count] = {}
    try:
        project, out = work / "project", work / "out"
        project.mkdir()
        for name in ("Pulumi.yaml", "Pulumi.production.yaml"):
            shutil.copy(ROOT / name, project / name)
        jobs = []
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            for n in APP_COUNTS:
                stack = stack_name(generated_stack(project, n))
                argv = synth_argv(project, stack, out / stack)
                # The output the measured re-synth updates and the floor reads.
                subprocess.run([PYTHON, "-m", *argv], cwd=ROOT, check=True, capture_output=True)
                declared = str(out / stack / "resources.json")
                jobs.append((n, "synth", pool.submit(counted, argv, work / f"synth.{n}")))
                jobs.append(
                    (n, "floor", pool.submit(counted, ["bench.floor", declared], work / f"floor.{n}"))
                )
                print(f"apps-{n} queued", file=sys.stderr, flush=True)
            for n, side, job in jobs:
                (synth if side == "synth" else floor)[n] = job.result()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = [
        "| apps | synth (G instr.) | floor (G instr.) | synth / floor | outside the GC, synth / floor "
        "| GC share, synth | GC share, floor |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in APP_COUNTS:
        s, f = synth[n], floor[n]
        rows.append(
            f"| {n} | {s.total / 1e9:.2f} | {f.total / 1e9:.2f} | {s.total / f.total:.3f} "
            f"| {s.outside_gc / f.outside_gc:.3f} | {s.gc / s.total:.1%} | {f.gc / f.total:.1%} |"
        )
    per_app_rows = ["| | 1 -> 10 apps (M instr. per app) | 10 -> 50 apps | ratio |", "|---|---:|---:|---:|"]
    for label, counts, attr in (
        ("synth", synth, "total"),
        ("synth, outside the GC", synth, "outside_gc"),
        ("floor", floor, "total"),
        ("floor, outside the GC", floor, "outside_gc"),
    ):
        low, high, growth = per_app(counts, attr)
        per_app_rows.append(f"| {label} | {low / 1e6:.0f} | {high / 1e6:.0f} | {growth:.2f} |")
    report = [
        "# Instruction counts",
        "",
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Python "
        f"{platform.python_version()} ({platform.machine()}), with valgrind's callgrind: each process "
        "once, start-up and teardown included (the same commands as bench/RESULTS.md's re-synth and "
        "floor). Instruction counts do not depend on the host's load; the GC's share is the inclusive "
        "count of CPython's `gc_collect_main`.",
        "",
        "Reproduce: `make bench-instructions` (or `.venv/bin/python -m bench.instructions`).",
        "",
        *rows,
        "",
        "Per app:",
        "",
        *per_app_rows,
        "",
    ]
    args.out.write_text("\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    main()
