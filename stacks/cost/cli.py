"""`python -m stacks cost`: a stack's monthly cost, two configurations compared, a budget for CI.

    python -m stacks cost STACK [--set KEY=VALUE]... [--usage FILE] [--format text|json|markdown] [--max USD]
    python -m stacks cost diff A B [--set-a KEY=VALUE]... [--set-b KEY=VALUE]... [--usage FILE] [--format ...]
    python -m stacks cost readme [--check]

`--set network.nat=per-az` changes one `lmagent-infra:` setting (a full key such as `aws:region`
when it holds a colon) for this estimate only; the value is read as YAML. `--max` exits 1 when the
monthly total (baseline plus usage) is above it. Exit status 2: bad arguments, configuration,
price data or usage file, one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components.testing import SynthResult
from stacks.cost import Estimate, estimate, load_prices, load_usage, usage_schema
from stacks.cost.pricing import DEFAULT_USAGE, CostError, Usage, parse_budget
from stacks.cost.report import as_json, diff_json, diff_markdown, diff_text, markdown_lines, text_lines

README_BLOCK = re.compile(r"(<!-- (python -m stacks cost [^>]*?) -->\n)(.*?)(<!-- end -->)", re.DOTALL)


class _ArgumentError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line and exit status 2 like every other bad input."""

    def error(self, message: str) -> Any:
        raise _ArgumentError(f"{self.prog}: {message}")


def _parser(prog: str) -> _Parser:
    p = _Parser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--usage", type=Path, default=DEFAULT_USAGE, help="usage file (default: stacks/cost/usage.yaml)"
    )
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--max", help="fail (exit 1) when the monthly total is above this many dollars")
    return p


def _overrides(pairs: Sequence[str], project: str) -> list[tuple[str, list[str], Any]]:
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CostError(f"--set: expected KEY=VALUE, e.g. network.nat=per-az (got {pair!r})")
        if ":" in key:
            full, path = key.split(".", 1)[0], key.split(".")[1:]
        else:
            full, path = f"{project}:{key.split('.', 1)[0]}", key.split(".")[1:]
        out.append((full, path, yaml.safe_load(value)))
    return out


def _apply(config: dict[str, Any], full: str, path: list[str], value: Any) -> None:
    if not path:
        config[full] = value
        return
    node = config.setdefault(full, {})
    if isinstance(node, str):  # a structured value written as JSON text
        node = config[full] = json.loads(node)
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


class Runner:
    """Synthesises stacks (each configuration once) and prices them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[tuple[str, tuple[str, ...]], SynthResult] = {}

    def synth(self, stack: str, sets: Sequence[str]) -> SynthResult:
        key = (stack, tuple(sets))
        if key not in self.cache:
            from stacks.__main__ import load_stack_file, locate, run_stack  # the synth command's own loader

            # `bootstrap/main` names a stack of the project in bootstrap/, as `synth` reads it.
            project_dir, name = locate(stack, self.root)
            found = load_stack_file(name, project_dir)
            for full, path, value in _overrides(sets, found.project):
                _apply(found.config, full, path, value)
            self.cache[key] = run_stack(name, project_dir, found)
        return self.cache[key]

    def estimate(self, stack: str, sets: Sequence[str], usage: Usage) -> Estimate:
        result = self.synth(stack, sets)
        region = result.outputs.get("region")
        if not isinstance(region, str):
            raise CostError(f"Pulumi.{stack}.yaml: aws:region: must be set to price the stack")
        return estimate(result, load_prices(region), usage)


def _label(stack: str, sets: Sequence[str]) -> str:
    return " ".join([stack, *sets])


def main(argv: Sequence[str], root: Path, runner: Runner | None = None) -> int:
    runner = runner or Runner(root)
    try:
        return _main(list(argv), runner)
    except (CostError, _ArgumentError) as err:
        print(str(err), file=sys.stderr)
        return 2


def _main(argv: list[str], runner: Runner) -> int:
    from stacks.__main__ import StackFileError
    from stacks.config import ConfigError

    try:
        if argv[:1] == ["readme"]:
            p = _Parser(prog="python -m stacks cost readme")
            p.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
            p.add_argument("--file", type=Path, default=runner.root / "README.md")
            args = p.parse_args(argv[1:])
            return readme(args.file, runner, check=args.check)
        if argv[:1] == ["diff"]:
            p = _parser("python -m stacks cost diff")
            p.add_argument("a")
            p.add_argument("b")
            p.add_argument("--set-a", action="append", default=[], metavar="KEY=VALUE")
            p.add_argument("--set-b", action="append", default=[], metavar="KEY=VALUE")
            args = p.parse_args(argv[1:])
            budget = parse_budget(args.max) if args.max is not None else None
            usage = load_usage(args.usage, usage_schema())
            a = runner.estimate(args.a, args.set_a, usage)
            b = runner.estimate(args.b, args.set_b, usage)
            la, lb = _label(args.a, args.set_a), _label(args.b, args.set_b)
            if la == lb:
                la, lb = f"{la} (A)", f"{lb} (B)"
            if args.format == "json":
                print(json.dumps(diff_json(a, b, la, lb, _shown(args.usage)), indent=2))
            elif args.format == "markdown":
                print("\n".join(diff_markdown(a, b, la, lb)))
            else:
                print("\n".join(diff_text(a, b, la, lb)))
            return _over_budget(b, lb, budget)
        p = _parser("python -m stacks cost")
        p.add_argument("stack")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        args = p.parse_args(argv)
        budget = parse_budget(args.max) if args.max is not None else None
        usage = load_usage(args.usage, usage_schema())
        e = runner.estimate(args.stack, args.set, usage)
        if args.format == "json":
            print(json.dumps(as_json(e, _shown(args.usage)), indent=2))
        elif args.format == "markdown":
            print("\n".join(markdown_lines(e)))
        else:
            print("\n".join(text_lines(e, _shown(args.usage))))
        return _over_budget(e, _label(args.stack, args.set), budget)
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    except StackFileError as err:
        print(str(err), file=sys.stderr)
        return 2


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(__file__).resolve().parents[2]))
    except ValueError:
        return str(path)


def _over_budget(e: Estimate, label: str, budget: float | None) -> int:
    if budget is None or round(e.total, 2) <= budget:
        return 0
    print(
        f"{label}: {e.prices.currency} {e.total:,.2f} a month is over the budget --max {budget:g} "
        f"(baseline {e.fixed:,.2f} + usage {e.usage:,.2f})",
        file=sys.stderr,
    )
    return 1


# ---------------------------------------------------------------------------------------------
# README: each block `<!-- python -m stacks cost ARGS -->` ... `<!-- end -->` holds that
# command's output, so the figures the README shows are the ones the command computes.


def render_readme(text: str, runner: Runner) -> str:
    def block(m: re.Match[str]) -> str:
        command = m.group(2)
        args = command.split()[4:]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = _main(args, runner)
        if status not in (0, 1):
            raise CostError(f"README.md: `{command}` failed: {err.getvalue().strip()}")
        body = out.getvalue()
        if "--format markdown" not in command:
            body = f"```text\n{body}```\n"
        return m.group(1) + body + m.group(4)

    return README_BLOCK.sub(block, text)


def readme(path: Path, runner: Runner, check: bool) -> int:
    text = path.read_text()
    if not README_BLOCK.search(text):
        raise CostError(f"{path.name}: no `<!-- python -m stacks cost ... -->` block to fill")
    new = render_readme(text, runner)
    if check:
        if new != text:
            print(
                f"{path.name}: cost figures are out of date; run `python -m stacks cost readme`",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != text:
        path.write_text(new)
    blocks = len(README_BLOCK.findall(text))
    print(f"{path.name}: {'rewrote' if new != text else 'already up to date:'} {blocks} cost blocks")
    return 0
