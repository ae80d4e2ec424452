"""What `python -m stacks synth` writes: the files of a synthesis, and bringing a directory up to date.

`render` turns a `SynthResult` into file contents by relative path (resources.json, one YAML
document per Kubernetes object under manifests/, Helm values under helm/); `write` makes a
directory hold exactly those files.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import ScalarNode

from components.testing import SynthResult

MARKER = "resources.json"  # every synth output holds it; `write` only ever replaces such a directory
_DIRS = ("manifests", "helm")


class OutputDirError(Exception):
    """The output directory is something synth must not overwrite."""


def manifest_filename(obj: dict[str, Any]) -> str:
    """`<namespace>--<Kind>--<name>.yaml`; cluster-scoped objects use `_cluster` as namespace."""
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or '_cluster'}--{obj.get('kind')}--{meta.get('name')}.yaml"


#: The head of every Kubernetes object as written, in the order manifests are conventionally read.
K8S_HEAD = ("apiVersion", "kind", "metadata", "spec")


def _kubectl_order(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with `K8S_HEAD` first and the other top-level keys sorted.

    Maps below the top level are already sorted: `components.testing` records every map with its
    keys in order, so no key order in a written file comes from the protobuf runtime.
    """
    head = [k for k in K8S_HEAD if k in obj]
    return {k: obj[k] for k in head + sorted(set(obj) - set(head))}


try:  # libyaml's emitter where PyYAML has it (its PyPI wheels do): the same YAML, several times faster
    from yaml._yaml import CEmitter as _Emitter
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.emitter import Emitter as _Emitter  # type: ignore[assignment]
_STR = "tag:yaml.org,2002:str"
_SCALARS = yaml.SafeDumper(io.StringIO())  # PyYAML's representer and resolver, for the other scalars


class _Events:
    """JSON-shaped data to YAML events, as PyYAML's SafeDumper would serialize it, emitted one by one.

    Written here rather than through `yaml.dump` because its representer and serializer build a
    node per value, walk the tree once for aliases (our documents are trees: there are none) and
    have the emitter call back into Python twice per scalar to ask the resolver whether it would
    read back as a string; together several times the cost of emitting. Each event here is
    emitted as soon as it is made, so a document never exists as a tree of Python objects. The
    resolver's answers are kept for the render: the same strings (labels, names, keys) recur
    across a stack's manifests. Strings holding a newline (dashboards, Alloy and Alertmanager
    templates) become `|` blocks, so they read as they were written; the emitter still quotes
    wherever a block cannot hold the text. tests/test_output.py checks the result is PyYAML's.
    """

    def __init__(self) -> None:
        self.plain: dict[str, bool] = {}  # would this string read back as a string if unquoted?

    def document(self, doc: Any) -> str:
        stream = io.StringIO()
        emitter = _Emitter(stream, width=100)
        emit = emitter.emit
        emit(StreamStartEvent())
        emit(DocumentStartEvent(explicit=False))
        self._emit(doc, emit)
        emit(DocumentEndEvent(explicit=False))
        emit(StreamEndEvent())
        return stream.getvalue()

    def _emit(self, data: Any, emit: Callable[[Event], None]) -> None:
        if isinstance(data, str):
            plain = self.plain.get(data)
            if plain is None:
                tag = _SCALARS.resolve(ScalarNode, data, (True, False))  # type: ignore[no-untyped-call]
                plain = self.plain[data] = tag == _STR
            emit(ScalarEvent(None, _STR, (plain, True), data, style="|" if "\n" in data else None))
        elif isinstance(data, dict):
            emit(MappingStartEvent(None, None, True, flow_style=False))
            for key, value in data.items():
                self._emit(key, emit)
                self._emit(value, emit)
            emit(MappingEndEvent())
        elif isinstance(data, list):
            emit(SequenceStartEvent(None, None, True, flow_style=False))
            for item in data:
                self._emit(item, emit)
            emit(SequenceEndEvent())
        else:  # bool, int, float, None: PyYAML's own representation, which reads back as its type
            node = _SCALARS.represent_data(data)
            assert isinstance(node, ScalarNode), data
            emit(ScalarEvent(None, node.tag, (True, False), node.value, style=node.style))


def to_yaml(doc: Any) -> str:
    """One YAML document: block style, keys in the order given, lines folded at 100 columns."""
    return _Events().document(doc)


def render(result: SynthResult) -> dict[str, str]:
    """Every file of the synthesis, by path relative to the output directory."""
    files: dict[str, str] = {}
    events = _Events()
    for obj in result.manifests:
        path = f"manifests/{manifest_filename(obj)}"
        if path in files:
            raise RuntimeError(f"two Kubernetes objects would be written to {path}")
        files[path] = events.document(_kubectl_order(obj))
    for release in result.helm_releases:
        inputs = release["inputs"]
        repo = (inputs.get("repositoryOpts") or {}).get("repo", "")
        header = (
            f"# chart: {inputs.get('chart')}  version: {inputs.get('version')}  "
            f"repo: {repo}  namespace: {inputs.get('namespace')}\n"
        )
        name = inputs.get("name") or release["name"]
        files[f"helm/{name}.values.yaml"] = header + events.document(inputs.get("values") or {})
    files[MARKER] = result.to_json()
    return files


@dataclass(frozen=True)
class Written:
    """What `write` did: every file the directory now holds, and how many it had to change."""

    files: list[Path]
    changed: int
    removed: int


def write(result: SynthResult, out: Path) -> Written:
    """Make `out` hold exactly the files of this synthesis.

    - `out` missing or empty: everything is written into a new directory beside it, which is then
      renamed into place, so `out` never holds half a synthesis.
    - `out` written by an earlier synth (it holds resources.json): brought up to date in place.
      Only files whose content changed are rewritten, each through a temporary file renamed over
      it (a reader sees the old file or the new, never half of one); files no longer declared are
      removed. Unchanged files are not touched, so their modification times, and the file
      watchers, `make` rules and syncs that go by them, see only what the change changed. It is
      also where a re-synth's time goes: creating a file costs far more than reading one.
    - Anything else (a file, a directory synth did not write): refused with OutputDirError, and
      nothing in it is touched.
    """
    check_out_dir(out)
    files = render(result)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        _write_new(files, out)
        return Written(_paths(out, files), changed=len(files), removed=0)
    changed = removed = 0
    for rel, text in files.items():
        if rel == MARKER:
            continue  # last: the marker is only up to date once everything else is
        changed += _update(out / rel, text)
    for path in sorted(out.rglob("*"), reverse=True):
        rel = path.relative_to(out).as_posix()
        if path.is_dir() and not path.is_symlink():
            if rel not in _DIRS and not any(path.iterdir()):
                path.rmdir()
        elif rel not in files:
            path.unlink()
            removed += 1
    changed += _update(out / MARKER, files[MARKER])
    return Written(_paths(out, files), changed=changed, removed=removed)


def check_out_dir(out: Path) -> None:
    """Raise OutputDirError unless `out` is missing, an empty directory or an earlier synth's output."""
    if not out.exists() or (out.is_dir() and (out / MARKER).is_file()):
        return
    if out.is_dir() and not any(out.iterdir()):
        return
    raise OutputDirError(
        f"{out}: exists and was not written by synth (it has no {MARKER}); "
        "choose a new or empty directory with --out"
    )


def _paths(out: Path, files: dict[str, str]) -> list[Path]:
    return sorted(out / rel for rel in files)


def _write_new(files: dict[str, str], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        # Every directory once (manifests/ and helm/ even when the stack declares none), then files.
        for directory in sorted({*(staging / d for d in _DIRS), *((staging / r).parent for r in files)}):
            directory.mkdir(parents=True, exist_ok=True)
        for rel, text in files.items():
            (staging / rel).write_bytes(text.encode())
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _update(path: Path, text: str) -> int:
    """Write `text` to `path` unless it already holds exactly that; 1 if it was written."""
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return 0
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # a new file: nobody reads it yet
        return 1
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # mkstemp makes it 0600; keep the file's own mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return 1
