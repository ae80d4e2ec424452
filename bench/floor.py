"""The SDK floor: register exactly the resources of a `resources.json` straight through the Pulumi SDK.

Same types, names, parents, providers, options and inputs, under the same mock engine, with no
library code: generic `pulumi.CustomResource` / `ComponentResource` / `ProviderResource` objects.
It loads the typed SDK class of every resource type first, as any program declaring them with
the typed classes must, so the floor includes what the SDKs cost to load.

    python -m bench.floor build/staging/resources.json
"""

from __future__ import annotations

import importlib
import importlib.util
import json
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


def _in_parent_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_urn = {r["urn"]: r for r in resources}
    done: set[str] = set()
    order: list[dict[str, Any]] = []

    def visit(r: dict[str, Any]) -> None:
        if r["urn"] in done:
            return
        for dep in (r["parent"], r["provider"]):
            if dep in by_urn:
                visit(by_urn[dep])
        done.add(r["urn"])
        order.append(r)

    for r in resources:
        visit(r)
    return order


def program(resources: list[dict[str, Any]]) -> None:
    made: dict[str, pulumi.Resource] = {}
    for r in _in_parent_order(resources):
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
        if typ.startswith("pulumi:providers:"):
            made[r["urn"]] = pulumi.ProviderResource(typ.split(":")[2], r["name"], r["inputs"], opts)
        elif r["custom"]:
            made[r["urn"]] = pulumi.CustomResource(typ, r["name"], r["inputs"], opts)
        else:
            component = pulumi.ComponentResource(typ, r["name"], None, opts)
            component.register_outputs({})
            made[r["urn"]] = component


def load_sdk_classes(types: set[str]) -> int:
    """Load the typed SDK class of each resource type, as a program declaring it must.

    The provider SDKs import their submodules lazily: importing `pulumi_aws.ec2` costs nothing
    until a class is touched, so the floor touches each class (`pulumi_aws.ec2.Vpc`).
    """
    loaded = 0
    for token in types:
        package = token.partition(":")[0]
        if package not in _PACKAGES:
            continue
        [module] = provider_modules({token})
        name = "CustomResource" if module.endswith("apiextensions") else token.rsplit(":", 1)[1]
        getattr(importlib.import_module(module), name)
        loaded += 1
    return loaded


def main(path: str) -> None:
    doc = json.loads(Path(path).read_text())
    load_sdk_classes({r["type"] for r in doc["resources"]})
    config = {"aws:region": "eu-west-1"}
    result = synth(
        lambda: program(doc["resources"]), project=doc["project"], stack=doc["stack"], config=config
    )
    if len(result.resources) != len(doc["resources"]):
        sys.exit(f"floor registered {len(result.resources)} resources, expected {len(doc['resources'])}")
    print(f"registered {len(result.resources)} resources")


if __name__ == "__main__":
    main(sys.argv[1])
