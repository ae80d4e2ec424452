"""stacks/_output.py: the YAML it renders is PyYAML's, and `write` updates only what changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.testing import SECRET, SynthResult, redact
from stacks.__main__ import main
from stacks._output import K8S_HEAD, MARKER, OutputDirError, render, to_yaml, write
from tests.conftest import synth_stack

TRICKY: dict[str, Any] = {
    # Strings PyYAML must quote to keep them strings, keys that look like other types, blocks.
    "plain": ["yes", "no", "on", "null", "~", "", " ", "1", "1.0", "0o17", "0x1F", "1e3", ".inf", "-"],
    "true": {"false": None, "1": 1, "2.5": 2.5, "nested": [{"a": True}, [], {}]},
    "block": "line one\nline two\n",
    "block without final newline": "a\n  b",
    "block with trailing spaces": "a  \nb\n",
    "unicode": "café ☕\n",
    "colon": "key: value",
    "long": "word " * 40,
    "numbers": [0, -1, 10**20, 0.1, float("inf"), -0.0],
}


class _Reference(yaml.SafeDumper):
    """PyYAML's own representer, configured as `to_yaml` promises: its output is the reference."""


_Reference.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def reference_yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Reference, sort_keys=False, default_flow_style=False, width=100)


def test_to_yaml_round_trips_values_that_yaml_would_otherwise_retype():
    assert yaml.safe_load(to_yaml(TRICKY)) == TRICKY


def test_to_yaml_writes_what_pyyamls_representer_writes():
    assert to_yaml(TRICKY) == reference_yaml(TRICKY)
    for obj in synth_stack("production").manifests:
        assert to_yaml(obj) == reference_yaml(obj), obj["metadata"]["name"]


def test_multiline_strings_are_written_as_blocks():
    assert to_yaml({"a": "x\ny\n"}) == "a: |\n  x\n  y\n"


def _resource(kind: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:t::p::kubernetes:core/v1:{kind}::{name}",
        "type": f"kubernetes:core/v1:{kind}",
        "name": name,
        "parent": None,
        "custom": True,
        "provider": None,
        "inputs": {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "ns"},
            "data": data,
        },
        "options": {},
    }


def result(*configmaps: tuple[str, dict[str, str]]) -> SynthResult:
    return SynthResult("p", "t", [_resource("ConfigMap", name, data) for name, data in configmaps])


def snapshot(out: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(out).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file()
    }


def test_a_new_directory_gets_every_file(tmp_path):
    out = tmp_path / "out"
    written = write(result(("a", {"k": "1"}), ("b", {"k": "2"})), out)
    assert sorted(p.relative_to(out).as_posix() for p in written.files) == [
        "manifests/ns--ConfigMap--a.yaml",
        "manifests/ns--ConfigMap--b.yaml",
        MARKER,
    ]
    assert (written.changed, written.removed) == (3, 0)
    assert (out / "helm").is_dir()  # present even when no Helm release is declared
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the staging directory is gone


def test_a_second_write_of_the_same_synthesis_touches_nothing(tmp_path):
    out = tmp_path / "out"
    write(result(("a", {"k": "1"})), out)
    before = snapshot(out)
    written = write(result(("a", {"k": "1"})), out)
    assert (written.changed, written.removed) == (0, 0)
    assert snapshot(out) == before


def test_only_changed_files_are_rewritten_and_undeclared_ones_removed(tmp_path):
    out = tmp_path / "out"
    write(result(("a", {"k": "1"}), ("b", {"k": "2"}), ("c", {"k": "3"})), out)
    (out / "manifests" / ".ns--ConfigMap--a.yaml.left-by-a-crash").write_text("x")
    before = snapshot(out)
    written = write(result(("a", {"k": "1"}), ("b", {"k": "changed"})), out)
    after = snapshot(out)
    assert after["manifests/ns--ConfigMap--a.yaml"] == before["manifests/ns--ConfigMap--a.yaml"]
    assert (
        after["manifests/ns--ConfigMap--b.yaml"][0]
        == render(result(("b", {"k": "changed"})))["manifests/ns--ConfigMap--b.yaml"].encode()
    )
    assert "manifests/ns--ConfigMap--c.yaml" not in after
    assert sorted(after) == ["manifests/ns--ConfigMap--a.yaml", "manifests/ns--ConfigMap--b.yaml", MARKER]
    assert (written.changed, written.removed) == (2, 2)  # b and resources.json; c and the leftover


def test_a_rewritten_file_keeps_its_mode(tmp_path):
    out = tmp_path / "out"
    write(result(("a", {"k": "1"})), out)
    path = out / "manifests" / "ns--ConfigMap--a.yaml"
    path.chmod(0o640)
    write(result(("a", {"k": "2"})), out)
    assert path.stat().st_mode & 0o777 == 0o640


def test_an_empty_directory_is_written_into(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert write(result(("a", {"k": "1"})), out).changed == 2


@pytest.mark.parametrize("kind", ["foreign directory", "file"])
def test_what_synth_did_not_write_is_refused_and_left_alone(tmp_path, kind):
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("notes")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("notes")
    before = out.read_bytes() if kind == "file" else snapshot(out)
    with pytest.raises(
        OutputDirError, match=r"out: exists and was not written by synth \(it has no resources.json\)"
    ):
        write(result(("a", {"k": "1"})), out)
    assert (out.read_bytes() if kind == "file" else snapshot(out)) == before


def test_the_cli_refuses_a_foreign_directory_before_running_the_program(tmp_path, capsys, monkeypatch):
    (tmp_path / "keep.txt").write_text("mine")

    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the program ran although the output directory was refused")

    monkeypatch.setattr("stacks.__main__.run_stack", must_not_run)
    assert main(["synth", "staging", "--out", str(tmp_path), "--quiet"]) == 2
    assert "exists and was not written by synth" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_two_objects_with_one_file_name_are_an_error():
    with pytest.raises(
        RuntimeError, match="two Kubernetes objects would be written to manifests/ns--ConfigMap--a"
    ):
        render(result(("a", {"k": "1"}), ("a", {"k": "2"})))


def test_files_are_written_with_the_usual_mode(tmp_path):
    out = tmp_path / "out"
    write(result(("a", {"k": "1"})), out)
    umask = os.umask(0)
    os.umask(umask)
    assert (out / MARKER).stat().st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------------------------------------
# Key order: a function of the program, not of the order the protobuf runtime hands maps over


def reversed_maps(value: Any) -> Any:
    """`value` with every map's keys in reverse insertion order, at every depth."""
    if isinstance(value, dict):
        return {k: reversed_maps(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_maps(v) for v in value]
    return value


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine hands a secret over (Pulumi's secret signature)."""
    return {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": value}


ARRIVED: dict[str, Any] = {
    "data": {"zeta": "1", "alpha": "2"},
    "metadata": {"namespace": "ns", "name": "app", "labels": {"tier": "web", "app": "a"}},
    "kind": "Deployment",
    "status": {"replicas": 2},
    "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "env": []}]}}, "replicas": 2},
    "apiVersion": "apps/v1",
    "secretEnv": secret({"TOKEN": "t", "API_KEY": "k"}),
}


def synthesis(inputs: dict[str, Any], values: dict[str, Any]) -> SynthResult:
    """What synth records for one Kubernetes object and one Helm release, arriving in this order."""
    resources = [
        {**_resource("Deployment", "app", {}), "inputs": redact(inputs)},
        {
            **_resource("Release", "rel", {}),
            "type": "kubernetes:helm.sh/v3:Release",
            "inputs": redact({"name": "rel", "chart": "c", "version": "1", "values": values}),
        },
    ]
    return SynthResult("p", "t", resources, outputs=redact({"b": 1, "a": {"y": 1, "x": 2}}))


def test_written_files_do_not_depend_on_the_order_maps_arrive_in():
    values = {"server": {"resources": {"limits": {"memory": "1Gi", "cpu": "1"}}}, "alertmanager": {}}
    forward = render(synthesis(ARRIVED, values))
    backward = render(synthesis(reversed_maps(ARRIVED), reversed_maps(values)))
    assert forward == backward
    assert set(forward) == {"manifests/ns--Deployment--app.yaml", "helm/rel.values.yaml", MARKER}


def keys_sorted_below(value: Any, where: str = "") -> None:
    if isinstance(value, dict):
        assert list(value) == sorted(value), f"keys of {where or 'the document'} are not sorted"
        for k, v in value.items():
            keys_sorted_below(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            keys_sorted_below(v, f"{where}[{i}]")


def test_a_manifest_reads_apiversion_kind_metadata_spec_then_the_rest_sorted():
    text = render(synthesis(ARRIVED, {}))["manifests/ns--Deployment--app.yaml"]
    doc = yaml.safe_load(text)
    assert list(doc) == [*K8S_HEAD, "data", "secretEnv", "status"]
    for key, value in doc.items():
        keys_sorted_below(value, key)
    assert doc["secretEnv"] == {"API_KEY": SECRET, "TOKEN": SECRET}


def test_every_file_of_both_stacks_has_the_canonical_key_order(tmp_path, stack):
    out = tmp_path / "out"
    write(synth_stack(stack), out)
    manifests = sorted((out / "manifests").glob("*.yaml"))
    values = sorted((out / "helm").glob("*.values.yaml"))
    assert manifests and values
    for path in manifests:
        doc = yaml.safe_load(path.read_text())
        head = [k for k in doc if k in K8S_HEAD]
        assert head == [k for k in K8S_HEAD if k in doc] and list(doc)[: len(head)] == head, path.name
        assert list(doc)[len(head) :] == sorted(list(doc)[len(head) :]), path.name
        for key, value in doc.items():
            keys_sorted_below(value, f"{path.name}:{key}")
    for path in values:
        keys_sorted_below(yaml.safe_load(path.read_text()), path.name)
