"""Strict validation of custom resources against the openAPIV3Schema of their pinned CRDs.

No validator the project installs knows these CRDs: kubernetes-validate carries the built-in
kinds only, and the `@kubernetes-models/*` npm packages accept unknown fields. And no package on
PyPI, npm or Debian ships these CRDs at the versions pinned in `components/versions.py`. So each
CRD version's `openAPIV3Schema` is kept as data under `tests/crds/`, extracted from the chart or
tag named in `CRDS` below (descriptions removed: they validate nothing), and checked here with
`jsonschema` as the API server would check it with strict field validation:

- every object schema without `x-kubernetes-preserve-unknown-fields` rejects fields it does not
  list (the API server prunes them, silently, unless the client asks for strict validation);
- `x-kubernetes-int-or-string` accepts an integer or a string, `nullable` accepts null;
- a required field with a `default` may be left out (the API server defaults before validating);
- the object's `metadata`, and that of every `x-kubernetes-embedded-resource`, is checked as
  ObjectMeta by kubernetes-validate (strict, the project's Kubernetes version);
- `x-kubernetes-list-type: set` and `map` lists may not repeat an item or a map key.

Not checked: the `x-kubernetes-validations` CEL rules and `format`s (no CEL evaluator is installed
here), and what the operator itself rejects at run time.

To add a CRD: add its group/version/kind to `CRDS` with the chart pin from
`components/versions.py` and the file at the tag that pin deploys, then run
`python -m tests._crds update [--git-dir OWNER/NAME=CLONE ...]`, which writes
`tests/crds/<group>_<version>_<Kind>.json` (from the given clones, else from a fresh clone of
github.com/OWNER/NAME), and add a minimal example object to `EXAMPLES` in tests/test_crds.py.
tests/test_crds.py fails while a pin and the data disagree.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from components import versions

DATA = Path(__file__).resolve().parent / "crds"


@dataclass(frozen=True)
class Source:
    """Where a CRD schema comes from: the pinned chart (or release) and the CRD file it ships."""

    pin: tuple[str, str]  # (chart or project, version) as components/versions.py pins it
    repository: str  # GitHub owner/name
    ref: str  # the git tag that release was cut from
    path: str  # the CRD manifest at that tag (may hold several CRDs, and Helm template lines)


def _chart(pin: tuple[str, str, str]) -> tuple[str, str]:
    return (pin[0], pin[1])


_KPS = Source(
    _chart(versions.KUBE_PROMETHEUS_STACK),
    "prometheus-community/helm-charts",
    f"kube-prometheus-stack-{versions.KUBE_PROMETHEUS_STACK[1]}",
    "charts/kube-prometheus-stack/charts/crds/crds/crd-{}.yaml",
)


def _kps(plural: str) -> Source:
    return Source(_KPS.pin, _KPS.repository, _KPS.ref, _KPS.path.format(plural))


def _karpenter(file: str) -> Source:
    return Source(
        _chart(versions.KARPENTER_CRD),
        "aws/karpenter-provider-aws",
        f"v{versions.KARPENTER_CRD[1]}",
        f"charts/karpenter-crd/templates/{file}",
    )


# The chart's CRD templates are split from this bundle at release (hack/helm.generate.sh).
_ESO = Source(
    _chart(versions.EXTERNAL_SECRETS),
    "external-secrets/external-secrets",
    f"helm-chart-{versions.EXTERNAL_SECRETS[1]}",
    "deploy/crds/bundle.yaml",
)
_ALB = Source(
    _chart(versions.AWS_LOAD_BALANCER_CONTROLLER),
    "aws/eks-charts",
    versions.AWS_LOAD_BALANCER_CONTROLLER_CHARTS_TAG,
    "stable/aws-load-balancer-controller/crds/crds.yaml",
)
_KYVERNO = Source(
    _chart(versions.KYVERNO),
    "kyverno/kyverno",
    versions.KYVERNO_APP_VERSION,
    "charts/kyverno/charts/crds/templates/kyverno.io/kyverno.io_clusterpolicies.yaml",
)

#: (group, version, kind) -> where its schema comes from. The one table to extend.
CRDS: dict[tuple[str, str, str], Source] = {
    ("monitoring.coreos.com", "v1", "ServiceMonitor"): _kps("servicemonitors"),
    ("monitoring.coreos.com", "v1", "PrometheusRule"): _kps("prometheusrules"),
    ("karpenter.sh", "v1", "NodePool"): _karpenter("karpenter.sh_nodepools.yaml"),
    ("karpenter.k8s.aws", "v1", "EC2NodeClass"): _karpenter("karpenter.k8s.aws_ec2nodeclasses.yaml"),
    ("external-secrets.io", "v1", "ExternalSecret"): _ESO,
    ("external-secrets.io", "v1", "ClusterSecretStore"): _ESO,
    ("elbv2.k8s.aws", "v1beta1", "IngressClassParams"): _ALB,
    ("elbv2.k8s.aws", "v1beta1", "TargetGroupBinding"): _ALB,
    ("kyverno.io", "v1", "ClusterPolicy"): _KYVERNO,
}


def schema_file(group: str, version: str, kind: str) -> Path:
    return DATA / f"{group}_{version}_{kind}.json"


def gvk(obj: Mapping[str, Any]) -> tuple[str, str, str]:
    """(group, version, kind) of a Kubernetes object; the core group is ""."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    return (group, version, str(obj.get("kind", "")))


def is_builtin(obj: Mapping[str, Any]) -> bool:
    """True when kubernetes-validate has a schema for the object's kind (a built-in Kubernetes kind)."""
    try:
        kubernetes_validate.validate(dict(obj), versions.KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError:
        pass
    return True


# ---------------------------------------------------------------------------------------------
# From a structural schema to a strict JSON Schema


def strict(schema: Mapping[str, Any], *, root: bool = False) -> dict[str, Any]:
    """The JSON Schema (draft 4, as OpenAPI v3.0) that accepts what the API server keeps.

    `root` marks the CRD's top-level schema, whose `metadata` is ObjectMeta whatever it says."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "properties":
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, Mapping):
            out[key] = strict(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict(sub) for sub in value]
        elif key == "pattern":
            out[key] = python_pattern(value)
        else:
            out[key] = copy.deepcopy(value)
    embedded = root or schema.get("x-kubernetes-embedded-resource") is True
    if embedded:
        # apiVersion, kind and metadata are kept on an embedded object even when its schema omits
        # them; metadata is checked as ObjectMeta by the keyword below, not by this schema.
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props["metadata"] = {"type": "object"}
        out["x-kubernetes-embedded-resource"] = True
    if schema.get("x-kubernetes-int-or-string") is True:
        out["type"] = ["integer", "string"]
    if (
        out.get("type") == "object"
        and schema.get("x-kubernetes-preserve-unknown-fields") is not True
        and "additionalProperties" not in out
    ):
        # Structural schemas: what `properties` does not list is pruned, so it is a mistake here.
        out["additionalProperties"] = False
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list):
            out["type"] = [*kind, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if "required" in out:
        defaulted = {n for n, sub in schema.get("properties", {}).items() if "default" in sub}
        out["required"] = [n for n in out["required"] if n not in defaulted]
        if not out["required"]:
            del out["required"]
    return out


_LEADING_FLAGS = re.compile(r"\^\(\?([aiLmsux]+)\)")


def python_pattern(pattern: str) -> str:
    """`pattern` (Go RE2 syntax, as the API server reads it) in a form Python's `re` compiles alike.

    RE2 accepts inline flags after `^` (`^(?i)(abort|warn)?$`, prometheus-operator); Python 3.11
    requires them first, where they mean the same."""
    try:
        re.compile(pattern)
    except re.error as e:
        moved = _LEADING_FLAGS.sub(lambda m: f"(?{m[1]})^", pattern, count=1)
        try:
            re.compile(moved)
        except re.error:
            raise ValueError(f"CRD pattern {pattern!r} is not a Python regular expression: {e}") from e
        return moved
    return pattern


def _object_meta(
    validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if value is not True or not isinstance(instance, dict) or "metadata" not in instance:
        return
    # kubernetes-validate's strict ObjectMeta, reached through a kind whose only required field is
    # metadata: the API server validates a custom resource's metadata as ObjectMeta.
    probe = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": instance["metadata"]}
    try:
        kubernetes_validate.validate(probe, versions.KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        yield jsonschema.ValidationError(
            e.message,
            path=list(e.path),
            validator=e.validator,
            validator_value=e.validator_value,
            instance=e.instance,
            schema=e.schema,
        )


def _list_type(
    validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, list):
        return
    if value == "set":
        keys = [json.dumps(item, sort_keys=True) for item in instance]
        what = "item"
    elif value == "map":
        names = schema.get("x-kubernetes-list-map-keys", [])
        keys = [
            json.dumps([item.get(n) for n in names] if isinstance(item, dict) else item) for item in instance
        ]
        what = f"map key ({', '.join(names)})"
    else:
        return
    seen: set[str] = set()
    for i, key in enumerate(keys):
        if key in seen:
            yield jsonschema.ValidationError(
                f"duplicate {what} {key} (x-kubernetes-list-type: {value})", path=[i]
            )
        seen.add(key)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft4Validator,
    {"x-kubernetes-embedded-resource": _object_meta, "x-kubernetes-list-type": _list_type},
)


@functools.cache
def validator(group: str, version: str, kind: str) -> Any:
    """A validator for the (group, version, kind) in `CRDS`, built from its committed schema."""
    stored = json.loads(schema_file(group, version, kind).read_text())
    return _Validator(strict(stored["openAPIV3Schema"], root=True))


def _where(path: Iterator[Any] | Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(the object)"


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and error.validator_value is False:
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"unknown field {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed) or 'none'})"
    return str(error.message)


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Every way `obj` breaks its CRD's schema, one line each naming the object and the field."""
    meta = obj.get("metadata") or {}
    name = "/".join(str(p) for p in (meta.get("namespace"), meta.get("name")) if p)
    key = gvk(obj)
    if key not in CRDS:
        known = ", ".join(f"{g}/{v} {k}" for g, v, k in sorted(CRDS))
        return [f"{obj.get('apiVersion')} {obj.get('kind')} {name}: no pinned CRD schema (known: {known})"]
    errors = sorted(validator(*key).iter_errors(dict(obj)), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{key[2]} {name}: {_where(e.absolute_path)}: {_message(e)}" for e in errors]


# ---------------------------------------------------------------------------------------------
# Regenerating tests/crds/ from the pinned sources


def _without_templates(text: str, where: str) -> str:
    """A chart's CRD template with its whole-line Helm actions (if/with/end/include) removed."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("{{")]
    leftover = [line for line in lines if "{{" in line]
    if leftover:
        raise SystemExit(f"{where}: a Helm template expression inside a line: {leftover[0].strip()!r}")
    return "\n".join(lines) + "\n"


def _without_descriptions(schema: Any) -> Any:
    """The schema without its `description`s (a property *named* description is kept)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "description":
            continue
        if key == "properties":
            out[key] = {name: _without_descriptions(sub) for name, sub in value.items()}
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [_without_descriptions(sub) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _without_descriptions(value)
        else:
            out[key] = value
    return out


def extract(text: str, group: str, version: str, kind: str, where: str) -> dict[str, Any]:
    """The openAPIV3Schema of `kind` in `group`/`version` from a file of one or more CRDs."""
    docs = [d for d in yaml.safe_load_all(_without_templates(text, where)) if isinstance(d, dict)]
    crds = [
        d
        for d in docs
        if d.get("kind") == "CustomResourceDefinition"
        and d["spec"]["group"] == group
        and d["spec"]["names"]["kind"] == kind
    ]
    if len(crds) != 1:
        raise SystemExit(f"{where}: {len(crds)} CRDs of {group} {kind} (expected one)")
    served = {v["name"]: v for v in crds[0]["spec"]["versions"]}
    if version not in served or not served[version].get("served"):
        raise SystemExit(f"{where}: {group} {kind} does not serve {version} (it has {sorted(served)})")
    return dict(_without_descriptions(served[version]["schema"]["openAPIV3Schema"]))


def render(source: Source, group: str, version: str, kind: str, schema: Mapping[str, Any]) -> str:
    """The committed JSON file: where the schema comes from, then the schema."""
    record = {
        "group": group,
        "version": version,
        "kind": kind,
        "source": {
            "pin": list(source.pin),
            "repository": source.repository,
            "ref": source.ref,
            "path": source.path,
        },
        "openAPIV3Schema": schema,
    }
    return json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _git_show(git_dir: Path, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{ref}:{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _clone(repository: str, ref: str, into: Path) -> Path:
    target = into / repository.replace("/", "+")
    subprocess.run(
        [
            *("git", "clone", "--quiet", "--bare", "--depth", "1", "--branch", ref),
            *(f"https://github.com/{repository}.git", str(target)),
        ],
        check=True,
    )
    return target


def update(git_dirs: Mapping[str, Path]) -> list[Path]:
    """Rewrite every schema file from its source; returns the files written."""
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        clones = dict(git_dirs)
        for (group, version, kind), source in sorted(CRDS.items()):
            if source.repository not in clones:
                clones[source.repository] = _clone(source.repository, source.ref, Path(tmp))
            where = f"{source.repository}@{source.ref}:{source.path}"
            text = _git_show(clones[source.repository], source.ref, source.path)
            schema = extract(text, group, version, kind, where)
            path = schema_file(group, version, kind)
            path.write_text(render(source, group, version, kind, schema))
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests._crds", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("update", help="rewrite tests/crds/ from the pinned sources")
    up.add_argument(
        "--git-dir",
        action="append",
        default=[],
        metavar="OWNER/NAME=DIR",
        help="a local clone (bare or not) holding the pinned tag; else the repository is cloned",
    )
    args = parser.parse_args(argv)
    git_dirs = {}
    for item in args.git_dir:
        repository, _, directory = item.partition("=")
        path = Path(directory)
        git_dirs[repository] = path / ".git" if (path / ".git").is_dir() else path
    for path in update(git_dirs):
        print(path.relative_to(DATA.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
