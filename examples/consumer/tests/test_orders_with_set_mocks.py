"""The consumer example tested the way Pulumi's docs show: `pulumi.runtime.set_mocks` and
`@pulumi.runtime.test`, with the library's own mocks answering for the platform stack."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from pulumi.runtime import settings

from components.testing import Mocks, StackSecret, fresh_event_loop

HERE = Path(__file__).resolve().parent.parent
PLATFORM = "organization/lmagent-infra/staging"


class Recording(Mocks):
    """The library's mocks, keeping each registered resource's inputs for the assertions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.created: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.created[args.name] = (args.typ, dict(args.inputs))
        return super().new_resource(args)


@pytest.fixture
def mocks() -> Iterator[Recording]:
    """Mocks set for one test, on its own event loop; the SDK's settings reset after it."""
    # The engine hands every config value over as a string; structured ones as JSON.
    stack_file = yaml.safe_load((HERE / "Pulumi.dev.yaml").read_text())["config"]
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_file.items()}
    recording = Recording(
        region="eu-west-1",
        stack_references={
            PLATFORM: {
                "kubeconfig": StackSecret("apiVersion: v1\nkind: Config\n"),
                "otlpEndpoint": "http://otel-collector.monitoring.svc.cluster.local:4318",
                "clusterName": "lmagent-infra-staging",
            }
        },
    )
    # A loop of its own, closed afterwards with the ones the SDK's mock monitor gives its threads.
    with fresh_event_loop():
        settings.reset_options()
        pulumi.runtime.set_mocks(recording, project="lmagent-orders", stack="dev", preview=False)
        pulumi.runtime.set_all_config(
            {**config, "lmagent-orders:ordersDatabaseUrl": "postgresql://orders@db/orders"},
            ["lmagent-orders:ordersDatabaseUrl"],
        )
        yield recording
        settings.reset_options()


def load_build() -> Any:
    spec = importlib.util.spec_from_file_location("orders_program", HERE / "orders.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


@pulumi.runtime.test
def declare_orders() -> pulumi.Output[Any]:
    load_build()()
    return pulumi.Output.from_input(None)


def test_the_orders_program_runs_under_plain_set_mocks(mocks: Recording):
    declare_orders()
    deployments = {name for name, (typ, _) in mocks.created.items() if typ == "kubernetes:apps/v1:Deployment"}
    assert deployments == {"orders-deployment", "orders-worker-deployment"}
    namespaces = [inputs for typ, inputs in mocks.created.values() if typ == "kubernetes:core/v1:Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == ["orders"]


def test_the_worker_gets_the_api_url_from_the_api_service(mocks: Recording):
    declare_orders()
    _, config = mocks.created["orders-worker-config"]
    assert config["data"]["ORDERS_API_URL"] == "http://orders.orders.svc.cluster.local"


def test_a_component_can_be_checked_inside_apply_too(mocks: Recording):
    @pulumi.runtime.test
    def check() -> pulumi.Output[None]:
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1")
        from components import AppService, AppServiceArgs

        image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:" + "cd" * 32
        app = AppService("probe", AppServiceArgs(image=image, namespace="probe"), provider=provider)

        def verify(url: str) -> None:
            assert url == "http://probe.probe.svc.cluster.local"

        return app.url.apply(verify)

    check()
