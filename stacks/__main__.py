"""The command line: synth, diff, plan, cost and local: run a stack offline and write what it declares.

    python -m stacks synth STACK [--out DIR]   # default DIR: build/STACK
    python -m stacks diff STACK_A STACK_B
    python -m stacks cost STACK | cost diff A B | cost readme   # see stacks/cost/cli.py
    python -m stacks local [--check]                            # see stacks/local/
    python -m stacks plan STACK [--out DIR] [--dot FILE]   # synth, then plan.json in DIR

A stack of another project of this repository is named `<project dir>/<stack>`:
`python -m stacks synth bootstrap/main` runs bootstrap/Pulumi.main.yaml into build/bootstrap-main.

Exit status: 0 on success, 2 on bad configuration (one line per problem on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import stacks
from components.testing import ACCOUNT_ID, SECRET, SynthResult, synth
from stacks._output import OutputDirError, check_out_dir, write
from stacks.config import BOOTSTRAP_PROJECT, PROJECT, ConfigError, Environment, referenced_secrets
from stacks.durations import UnknownDurationError
from stacks.plan import build_plan, critical_path_dot, plan_json, plan_lines

ROOT = Path(__file__).resolve().parent.parent


class StackFileError(Exception):
    """A stack file is missing or is not the shape Pulumi writes."""


@dataclass(frozen=True)
class StackFile:
    """What `Pulumi.<stack>.yaml` hands the program: full config keys, which are secret, and which
    secrets synth stood placeholders in for."""

    project: str
    config: dict[str, Any]
    secret_keys: list[str]
    placeholders: list[str]


def read_stack_file(stack: str, root: Path = ROOT) -> tuple[str, dict[str, Any], list[str]]:
    """The project name, the config map and the secret keys of `Pulumi.<stack>.yaml`."""
    found = load_stack_file(stack, root)
    return found.project, found.config, found.secret_keys


def load_stack_file(stack: str, root: Path = ROOT) -> StackFile:
    """Read `Pulumi.<stack>.yaml` the way the engine hands its config to the program.

    A `secure:` value is never decrypted: it becomes the placeholder `[secret]` and its key is
    marked secret, exactly the shape the real engine hands the program (with the real value).
    Secrets the config names but the file does not hold (they are set per operator with
    `pulumi config set --secret`) get the same placeholder: see `placeholder_secrets`.
    """
    project_file, stack_file = root / "Pulumi.yaml", root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = sorted(
            p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
        )
        raise StackFileError(f"{stack_file.name}: no such stack file (stacks: {', '.join(known)})")
    project = (yaml.safe_load(project_file.read_text()) or {}).get("name")
    try:
        doc = yaml.safe_load(stack_file.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise StackFileError(f"{stack_file.name}:{where}: {problem}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), dict):
        raise StackFileError(f"{stack_file.name}: `config` must be a mapping of keys to values")
    config: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        if ":" not in str(key):
            key = f"{project}:{key}"  # Pulumi's shorthand for the project namespace
        if _has_secure(value):
            secret_keys.append(str(key))
            value = _blank_secure(value)
        config[str(key)] = value
    # Only the platform's config names secrets; the bootstrap has none.
    placeholders = placeholder_secrets(str(project), config, secret_keys) if project == PROJECT else []
    for key in placeholders:
        config[key] = SECRET
        secret_keys.append(key)
    return StackFile(str(project), config, secret_keys, placeholders)


def placeholder_secrets(project: str, config: dict[str, Any], secret_keys: Sequence[str] = ()) -> list[str]:
    """Full keys of the secrets the config names that the stack file does not set."""
    return sorted(
        f"{project}:{name}"
        for name in referenced_secrets(config, secret_keys)
        if f"{project}:{name}" not in config
    )


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


def _blank_secure(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return SECRET
        return {k: _blank_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_secure(v) for v in value]
    return value


#: The egress address synth gives the deploy runners (TEST-NET-3, RFC 5737: never a real host).
OFFLINE_RUNNER_CIDR = "203.0.113.10/32"


def offline_stack_references(project: str, stack: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Stand-ins for the outputs of the bootstrap stack the config names (none if it names none).

    `pulumi up` reads the real stack; offline there is none, so synth fabricates outputs of the
    shape the bootstrap project exports: roles named as it names them, in the mock account, and a
    documentation-range runner address.
    """
    name = config.get(f"{project}:bootstrapStack")
    if not name:
        return {}
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/{project}"
    return {
        str(name): {
            "deployRoleArns": {env: f"{role}-deploy-{env}" for env in typing.get_args(Environment)},
            "readOnlyRoleArn": f"{role}-readonly",
            "runnerEgressCidrs": [OFFLINE_RUNNER_CIDR],
        }
    }


#: The program each project of this repository runs, by the `name` in its Pulumi.yaml.
PROGRAMS = {PROJECT: stacks.build, BOOTSTRAP_PROJECT: stacks.build_bootstrap}


def locate(name: str, root: Path = ROOT) -> tuple[Path, str]:
    """The project directory and stack of `STACK` or `<project dir>/STACK` (`bootstrap/main`)."""
    where, _, stack = name.rpartition("/")
    return (root / where if where else root), stack


def out_name(name: str) -> str:
    """The default output directory under build/: `staging`, or `bootstrap-main` for `bootstrap/main`."""
    return name.replace("/", "-")


def run_stack(stack: str, root: Path = ROOT, found: StackFile | None = None) -> SynthResult:
    """Run the program `pulumi up --stack STACK` runs, offline, and return what it declared."""
    found = found or load_stack_file(stack, root)
    project, config, secret_keys = found.project, found.config, found.secret_keys
    if project not in PROGRAMS:
        raise StackFileError(
            f"{root.name}/Pulumi.yaml: unknown project {project!r} (known: {', '.join(PROGRAMS)})"
        )
    program = PROGRAMS[project]
    return synth(
        lambda: program(stack),
        project=project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        stack_references=offline_stack_references(project, stack, config),
    )


# ---------------------------------------------------------------------------------------------
# Terminal


def tree_lines(result: SynthResult) -> Iterator[str]:
    """A tree like `pulumi preview` prints: type and name, nested by parent."""
    by_parent: dict[str | None, list[dict[str, Any]]] = {}
    for r in result.resources:
        by_parent.setdefault(r["parent"], []).append(r)
    width = max((len(r["type"]) for r in result.resources), default=20) + 12
    yield f"{'Type':<{width}}Name"
    yield f"{'pulumi:pulumi:Stack':<{width}}{result.project}-{result.stack}"

    def walk(parent: str | None, prefix: str) -> Iterator[str]:
        children = by_parent.get(parent, [])
        for i, r in enumerate(children):
            last = i == len(children) - 1
            branch = prefix + ("└─ " if last else "├─ ")
            flags = " [protect]" if r["options"]["protect"] else ""
            yield f"{(branch + r['type']):<{width}}{r['name']}{flags}"
            yield from walk(r["urn"], prefix + ("   " if last else "│  "))

    yield from walk(None, "")


def summary_lines(result: SynthResult) -> Iterator[str]:
    counts = Counter(r["type"] for r in result.resources)
    yield f"Resources: {len(result.resources)} declared"
    for typ, n in sorted(counts.items()):
        yield f"  {n:>4}  {typ}"
    if result.outputs:
        yield "Outputs:"
        for key, value in result.outputs.items():
            yield f"  {key}: {json.dumps(value)}"


# ---------------------------------------------------------------------------------------------
# Diff


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out |= _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for i, v in enumerate(value):
            out |= _flatten(v, f"{prefix}[{i}]")
        return out
    return {prefix: value}


def _stackless(urn: str) -> str:
    return urn.split("::", 2)[2]  # drop "urn:pulumi:<stack>::<project>"


def diff_lines(a: SynthResult, b: SynthResult) -> Iterator[str]:
    """What differs between two stacks' syntheses: resources only in one, then changed values.

    Values that differ only by the stacks' own names (the `stack` tag, instance labels, URNs of
    dependencies) are counted on one closing line rather than listed: they are expected.
    """
    ra = {_stackless(r["urn"]): r for r in a.resources}
    rb = {_stackless(r["urn"]): r for r in b.resources}
    for key in sorted(ra.keys() - rb.keys()):
        yield f"- only in {a.stack}: {ra[key]['type']} {ra[key]['name']}"
    for key in sorted(rb.keys() - ra.keys()):
        yield f"+ only in {b.stack}: {rb[key]['type']} {rb[key]['name']}"
    by_name_only = 0
    for key in sorted(ra.keys() & rb.keys()):
        fa = _flatten({"inputs": ra[key]["inputs"], "options": ra[key]["options"]})
        fb = _flatten({"inputs": rb[key]["inputs"], "options": rb[key]["options"]})
        raw = sum(1 for p in fa.keys() | fb.keys() if fa.get(p) != fb.get(p))
        fa, fb = _unnamed(fa, a.stack), _unnamed(fb, b.stack)
        real = [p for p in sorted(fa.keys() | fb.keys()) if fa.get(p) != fb.get(p)]
        by_name_only += max(raw - len(real), 0)
        if real:
            yield f"~ {ra[key]['type']} {ra[key]['name']}"
            for p in real:
                yield f"    {p}: {_short(fa.get(p))} -> {_short(fb.get(p))}"
    fa, fb = _flatten(a.outputs), _flatten(b.outputs)
    for p in sorted(fa.keys() | fb.keys()):
        if fa.get(p) != fb.get(p):
            yield f"~ output {p}: {_short(fa.get(p))} -> {_short(fb.get(p))}"
    if by_name_only:
        yield f"({by_name_only} other values differ only by the stack's name: tags, labels, URNs)"


def _unnamed(value: Any, stack: str) -> Any:
    """`value` with the stack's name replaced by a placeholder, in every string and key it holds."""
    if isinstance(value, str):
        return value.replace(stack, "<stack>")
    if isinstance(value, list):
        return [_unnamed(v, stack) for v in value]
    if isinstance(value, dict):
        return {k.replace(stack, "<stack>"): _unnamed(v, stack) for k, v in value.items()}
    return value


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."


# ---------------------------------------------------------------------------------------------
# Main


def _command_index(argv: Sequence[str]) -> int | None:
    """Where the sub-command's name is: the first word that is not a global option or its value."""
    i = 0
    while i < len(argv):
        if argv[i] == "--project-dir":
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return i
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_synth = sub.add_parser("synth", help="write what STACK declares to build/STACK")
    p_synth.add_argument("stack")
    p_synth.add_argument("--out", type=Path, help="output directory (default: build/STACK)")
    p_synth.add_argument("--quiet", action="store_true", help="print only the summary")
    p_diff = sub.add_parser("diff", help="show what differs between two stacks")
    p_diff.add_argument("a")
    p_diff.add_argument("b")
    sub.add_parser("cost", help="monthly cost of a stack (python -m stacks cost --help)", add_help=False)
    sub.add_parser("local", help="compose.yaml and its files for the stack on a laptop", add_help=False)
    p_plan = sub.add_parser(
        "plan", help="synth STACK, then print its first deploy in waves with the critical path"
    )
    p_plan.add_argument("stack")
    p_plan.add_argument("--out", type=Path, help="output directory (default: build/STACK)")
    p_plan.add_argument("--dot", type=Path, help="also write the critical path as a Graphviz file")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=ROOT,
        help="directory holding Pulumi.yaml and the stack files (default: this repository)",
    )
    argv = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    command_at = _command_index(argv)
    if command_at is not None and argv[command_at] in ("cost", "local"):
        # These have their own parsers (and --help): hand them everything after the word.
        argv, rest = argv[: command_at + 1], argv[command_at + 1 :]
    args = parser.parse_args(argv)
    root: Path = args.project_dir
    if args.command == "cost":
        from stacks.cost.cli import main as cost_main  # loaded only for this command

        return cost_main(rest, root)
    if args.command == "local":
        from stacks.local import main as local_main  # loaded only for this command

        return local_main(rest, root)

    try:
        if args.command == "synth":
            project_dir, stack = locate(args.stack, root)
            out = args.out or root / "build" / out_name(args.stack)
            check_out_dir(out)  # before the program runs: refusing takes no time then
            found = load_stack_file(stack, project_dir)
            for key in found.placeholders:
                print(
                    f"note: {key} is not set in Pulumi.{stack}.yaml; synth uses a placeholder "
                    f"(set it with `pulumi config set --secret {key.split(':', 1)[1]}` before `pulumi up`)",
                    file=sys.stderr,
                )
            result = run_stack(stack, project_dir, found)
            written = write(result, out)
            if not args.quiet:
                print("\n".join(tree_lines(result)))
                print()
            print("\n".join(summary_lines(result)))
            print(
                f"Wrote {len(written.files)} files to {args.out or Path('build') / out_name(args.stack)} "
                f"({written.changed} changed, {written.removed} removed)"
            )
        elif args.command == "plan":
            project_dir, stack = locate(args.stack, root)
            out = args.out or root / "build" / out_name(args.stack)
            check_out_dir(out)
            result = run_stack(stack, project_dir)
            plan = build_plan(result.resources, project=result.project, stack=result.stack)
            # The plan belongs to this synthesis: written beside it, after it. A later `synth`
            # into the directory removes it, as it removes whatever it no longer declares.
            write(result, out)
            _replace(out / "plan.json", plan_json(plan))
            if args.dot:
                _replace(args.dot, critical_path_dot(plan))
            print("\n".join(plan_lines(plan)))
            print(f"Wrote {args.out or Path('build') / out_name(args.stack)}/plan.json")
        else:
            (a_dir, a), (b_dir, b) = locate(args.a, root), locate(args.b, root)
            lines = list(diff_lines(run_stack(a, a_dir), run_stack(b, b_dir)))
            print("\n".join(lines) if lines else f"{args.a} and {args.b} declare the same resources")
    except ConfigError as err:
        print("\n".join(err.problems), file=sys.stderr)
        return 2
    except (StackFileError, OutputDirError, UnknownDurationError) as err:
        print(str(err), file=sys.stderr)
        return 2
    return 0


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file renamed over it: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
