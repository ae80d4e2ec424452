"""The consumer example, tested the way a platform team's consumers test: with components.testing.synth."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.testing import StackSecret, SynthResult, synth
from tests._tools import run

HERE = Path(__file__).resolve().parent.parent
PLATFORM = "organization/lmagent-infra/staging"
PLANTED = "postgresql://orders:planted-pw-5d1e@db.internal:5432/orders"


def load_program() -> Any:
    spec = importlib.util.spec_from_file_location("orders", HERE / "orders.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stack_config() -> dict[str, Any]:
    return dict(yaml.safe_load((HERE / "Pulumi.dev.yaml").read_text())["config"])


def synth_orders(**overrides: Any) -> SynthResult:
    config = stack_config() | {"lmagent-orders:ordersDatabaseUrl": PLANTED} | overrides
    return synth(
        load_program().build,
        project="lmagent-orders",
        stack="dev",
        config=config,
        secret_keys=["lmagent-orders:ordersDatabaseUrl"],
        stack_references={
            PLATFORM: {
                "kubeconfig": StackSecret("apiVersion: v1\nkind: Config\n"),
                "otlpEndpoint": "http://otel-collector.monitoring.svc.cluster.local:4318",
                "clusterName": "lmagent-infra-staging",
            }
        },
    )


def test_deploys_the_orders_service_with_the_image_from_config():
    result = synth_orders()
    deployment = result.manifest("Deployment", "orders", "orders")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == stack_config()["lmagent-orders:image"]
    assert result.outputs["url"] == "http://orders.orders.svc.cluster.local"


def test_reaches_the_cluster_only_through_the_platform_kubeconfig():
    result = synth_orders()
    [provider] = result.of_type("pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    deployment = result.of_type("kubernetes:apps/v1:Deployment")[0]
    assert deployment["provider"] == provider["urn"]


def test_the_database_url_stays_a_secret():
    result = synth_orders()
    secret = result.manifest("Secret", "orders-secrets", "orders")
    assert secret["stringData"] == {"DATABASE_URL": "[secret]"}
    assert PLANTED not in result.to_json()


def test_its_alerts_use_the_team_thresholds_and_pass_promtool(tmp_path):
    result = synth_orders()
    rules = [m for m in result.manifests if m["kind"] == "PrometheusRule"]
    assert rules
    exprs = [r.get("expr", "") for m in rules for g in m["spec"]["groups"] for r in g["rules"]]
    assert any("0.02" in e for e in exprs)
    for m in rules:
        path = tmp_path / f"{m['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump(m["spec"]))
        checked = run("promtool", "check", "rules", path)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_fails_when_production_is_given_an_image_without_a_digest():
    with pytest.raises(Exception, match="digest"):
        synth_orders(**{"lmagent-orders:environment": "production", "lmagent-orders:image": "orders:1.0"})


def test_the_worker_shares_the_namespace_the_api_declares():
    result = synth_orders()
    [namespace] = result.of_type("kubernetes:core/v1:Namespace")
    assert namespace["inputs"]["metadata"]["name"] == "orders"
    worker = result.named("orders-worker-deployment")
    assert namespace["urn"] in worker["dependencies"]
    assert result.manifest("Deployment", "orders-worker", "orders")


def test_the_worker_env_takes_values_from_other_resources():
    result = synth_orders()
    config = result.manifest("ConfigMap", "orders-worker-config", "orders")
    assert config["data"]["ORDERS_API_URL"] == "http://orders.orders.svc.cluster.local"
    assert config["data"]["PLATFORM_CLUSTER"] == "lmagent-infra-staging"


def test_every_kubernetes_object_goes_through_the_platform_provider():
    result = synth_orders()
    [provider] = result.of_type("pulumi:providers:kubernetes")
    assert {
        r["provider"] for r in result.resources if r["custom"] and r["type"].startswith("kubernetes:")
    } == {provider["urn"]}
