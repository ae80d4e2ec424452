"""A Helm release of a chart pinned in `components/versions.py`, declared the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

__all__ = ["pinned_release"]


def pinned_release(
    resource_name: str,
    chart: tuple[str, str, str],
    *,
    release: str,
    namespace: pulumi.Input[str],
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    timeout: int | None = None,
    skip_crds: bool = False,
) -> k8s.helm.v3.Release:
    """`chart` is (name, version, repository) as versions.py pins it; an `oci://` repository is
    addressed as `<repository>/<name>` with no repository options, as Helm takes OCI charts.

    Every release keeps 10 revisions and cleans up a failed first install; `timeout` (seconds)
    replaces the provider's default (300) for charts whose hooks or volumes take longer.
    """
    name, version, repository = chart
    oci = repository.startswith("oci://")
    return k8s.helm.v3.Release(
        resource_name,
        k8s.helm.v3.ReleaseArgs(
            name=release,
            chart=f"{repository}/{name}" if oci else name,
            version=version,
            repository_opts=None if oci else k8s.helm.v3.RepositoryOptsArgs(repo=repository),
            namespace=namespace,
            values=dict(values),
            max_history=10,
            timeout=timeout,
            skip_crds=skip_crds or None,
            cleanup_on_fail=True,
        ),
        opts=opts,
    )
