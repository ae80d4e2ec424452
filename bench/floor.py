"""The SDK floor: register exactly the resources of a `resources.json` straight through the Pulumi SDK.

Same types, names, parents, providers, options and inputs, under the same mock engine, with no
library code: each custom resource through its typed SDK class (`pulumi_aws.ec2.Vpc(name,
cidr_block=..., opts=...)`), as any program declaring it must; components as bare
`pulumi.ComponentResource`s. What it registers is identical to the `resources.json` it reads
(tests/test_bench.py checks this). `python -m bench.floor FILE generic` registers generic
`pulumi.CustomResource`s instead, the cheapest path the SDK has, for comparison.

    python -m bench.floor build/staging/resources.json
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pulumi

from components.testing import synth

_PACKAGES = {"aws": "pulumi_aws", "kubernetes": "pulumi_kubernetes", "docker-build": "pulumi_docker_build"}


def provider_modules(types: set[str]) -> list[str]:
    """The SDK modules that define these type tokens (`aws:ec2/vpc:Vpc` -> `pulumi_aws.ec2`)."""
    modules = set()
    for token in types:
        package, _, rest = token.partition(":")
        if package not in _PACKAGES:
            continue
        module = rest.split(":")[0].split("/")[0]
        if package == "kubernetes":
            module = rest.split(":")[0].replace(".k8s.io", "").replace("/", ".").replace("helm.sh", "helm")
        name = f"{_PACKAGES[package]}.{module}" if module != "index" else _PACKAGES[package]
        if (
            package == "kubernetes"
            and importlib.util.find_spec(f"{_PACKAGES[package]}.{module.split('.')[0]}") is None
        ):
            name = "pulumi_kubernetes.apiextensions"  # custom resources (PrometheusRule, ServiceMonitor)
        modules.add(name)
    return sorted(modules)


def _in_dependency_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_urn = {r["urn"]: r for r in resources}
    done: set[str] = set()
    order: list[dict[str, Any]] = []

    def visit(r: dict[str, Any]) -> None:
        if r["urn"] in done:
            return
        for dep in (r["parent"], r["provider"], *r["options"]["dependsOn"]):
            if dep in by_urn:
                visit(by_urn[dep])
        done.add(r["urn"])
        order.append(r)

    for r in resources:
        visit(r)
    return order


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def sdk_class(token: str) -> Any:
    """The typed SDK class of a type token (`aws:ec2/vpc:Vpc` -> `pulumi_aws.ec2.Vpc`), or None."""
    if token.partition(":")[0] not in _PACKAGES:
        return None
    [module] = provider_modules({token})
    name = "CustomResource" if module.endswith("apiextensions") else token.rsplit(":", 1)[1]
    return getattr(importlib.import_module(module), name)


def _typed(cls: Any, r: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.Resource | None:
    # Top-level inputs become the class's snake_case keyword arguments; nested values stay the
    # camelCase dicts the engine received, which the SDK passes through unchanged.
    kwargs = {_CAMEL.sub("_", k).lower(): v for k, v in r["inputs"].items()}
    try:
        made: pulumi.Resource = cls(r["name"], opts=opts, **kwargs)
    except TypeError:
        return None  # an input the class names differently: registered generically instead
    return made


def program(resources: list[dict[str, Any]], *, typed: bool = True) -> int:
    """Register `resources`; with `typed`, through their SDK classes. Returns how many were typed."""
    made: dict[str, pulumi.Resource] = {}
    typed_count = 0
    for r in _in_dependency_order(resources):
        o = r["options"]
        opts = pulumi.ResourceOptions(
            parent=made.get(r["parent"]) if r["parent"] else None,
            provider=made.get(r["provider"]) if r["provider"] else None,  # type: ignore[arg-type]
            protect=o["protect"],
            retain_on_delete=o["retainOnDelete"],
            ignore_changes=o["ignoreChanges"] or None,
            delete_before_replace=o["deleteBeforeReplace"],
            depends_on=[made[u] for u in o["dependsOn"] if u in made] or None,
        )
        typ = r["type"]
        cls = sdk_class(typ) if typed and r["custom"] and not typ.startswith("pulumi:providers:") else None
        resource = _typed(cls, r, opts) if cls is not None else None
        if resource is not None:
            made[r["urn"]] = resource
            typed_count += 1
        elif typ.startswith("pulumi:providers:"):
            made[r["urn"]] = pulumi.ProviderResource(typ.split(":")[2], r["name"], r["inputs"], opts)
        elif r["custom"]:
            made[r["urn"]] = pulumi.CustomResource(typ, r["name"], r["inputs"], opts)
        else:
            component = pulumi.ComponentResource(typ, r["name"], None, opts)
            component.register_outputs({})
            made[r["urn"]] = component
    return typed_count


def load_sdk_classes(types: set[str]) -> int:
    """Load the typed SDK class of each resource type, as a program declaring it must.

    The provider SDKs import their submodules lazily: importing `pulumi_aws.ec2` costs nothing
    until a class is touched, so the floor touches each class (`pulumi_aws.ec2.Vpc`).
    """
    loaded = 0
    for token in types:
        if sdk_class(token) is not None:
            loaded += 1
    return loaded


def main(path: str, mode: str = "typed") -> None:
    doc = json.loads(Path(path).read_text())
    config = {"aws:region": "eu-west-1"}
    counts: list[int] = []

    def run() -> None:
        # The classes load inside the run, as a program's imports do (the synth's load lazily as
        # its components first use them): the engine's GC policy covers both alike.
        load_sdk_classes({r["type"] for r in doc["resources"]})
        counts.append(program(doc["resources"], typed=mode == "typed"))

    result = synth(
        run,
        project=doc["project"],
        stack=doc["stack"],
        config=config,
    )
    if len(result.resources) != len(doc["resources"]):
        sys.exit(f"floor registered {len(result.resources)} resources, expected {len(doc['resources'])}")
    print(f"registered {len(result.resources)} resources, {counts[0]} through their typed SDK class")


if __name__ == "__main__":
    main(*sys.argv[1:3])
