"""The composition: exports, several apps per stack, production protection, documented differences."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from components.testing import SECRET, SynthResult
from stacks.__main__ import diff_lines
from stacks.plan import waits_for
from tests._tools import REPO
from tests.conftest import synth_stack, synth_with

DIGEST_REF = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/.+@sha256:[0-9a-f]{64}$")
ORDERS_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:" + "ab" * 32


def test_exports_what_operators_and_other_stacks_need(synthesized: SynthResult) -> None:
    out = synthesized.outputs
    assert out["clusterName"] == f"lmagent-infra-{synthesized.stack}"
    assert out["kubeconfig"] == SECRET
    host = "api.example.com" if synthesized.stack == "production" else "api.staging.example.com"
    assert out["appUrls"] == {"lmagent-api": f"https://{host}"}  # public through the edge
    assert out["loadBalancerDnsName"].endswith(".elb.amazonaws.com")
    assert out["webAclArn"].startswith("arn:aws:wafv2:")
    assert DIGEST_REF.match(out["appImages"]["lmagent-api"])
    assert out["appImages"]["lmagent-api"] == out["imageRef"]
    assert out["grafanaUrl"].startswith("http://")
    assert out["otlpEndpoint"].endswith(":4318")


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_runs_several_apps_each_with_its_own_image(stack: str) -> None:
    apps = {"lmagent-api": {}, "orders": {"namespace": "orders", "image": ORDERS_IMAGE, "port": 8080}}
    result = synth_with(stack, {"apps": apps})
    deployments = {m["metadata"]["name"]: m for m in result.manifests if m["kind"] == "Deployment"}
    assert set(deployments) == {"lmagent-api", "orders"}
    images = {n: d["spec"]["template"]["spec"]["containers"][0]["image"] for n, d in deployments.items()}
    assert images["orders"] == ORDERS_IMAGE
    assert images["lmagent-api"] == result.outputs["imageRef"]
    assert result.outputs["appImages"] == images
    assert result.outputs["appUrls"]["orders"] == "http://orders.orders.svc.cluster.local"
    namespaces = {m["metadata"]["name"] for m in result.manifests if m["kind"] == "Namespace"}
    assert {"lmagent", "orders", "monitoring"} <= namespaces


def _waits_for(result: SynthResult, urn: str) -> set[str]:
    """Everything `urn` waits for, transitively, as stacks.plan reads the recorded graph."""
    graph = waits_for(result.resources)
    seen: set[str] = set()
    todo = list(graph[urn])
    while todo:
        u = todo.pop()
        if u not in seen:
            seen.add(u)
            todo.extend(graph[u])
    return seen


def test_apps_wait_for_the_release_with_their_crds_and_for_no_other_monitoring_release(
    synthesized: SynthResult,
) -> None:
    kps = synthesized.named("monitoring-kube-prometheus-stack")["urn"]
    monitoring = synthesized.named("monitoring")["urn"]
    # The monitoring releases but kube-prometheus-stack (a public app's Ingress waits, rightly, for
    # the load balancer controller that serves its class and webhook).
    others = {r["urn"] for r in synthesized.helm_releases if r["parent"] == monitoring} - {kps}
    [app] = [r for r in synthesized.of_type("lmagent:components:AppService") if r["name"] == "lmagent-api"]
    parts = synthesized.children_of(app["urn"])
    crs = [r for r in parts if r["type"].startswith("kubernetes:monitoring.coreos.com/")]
    assert {r["type"].rsplit(":", 1)[1] for r in crs} == {"ServiceMonitor", "PrometheusRule"}
    for r in crs:  # the CRDs come with kube-prometheus-stack: custom resources wait for it
        assert kps in r["dependencies"]
    for r in parts:  # ...and nothing of the app waits for Loki, Alloy, Jaeger or the collector
        assert not _waits_for(synthesized, r["urn"]) & others, r["name"]
        if r not in crs:
            assert kps not in _waits_for(synthesized, r["urn"]), r["name"]
    deployment = synthesized.named("lmagent-api-deployment")
    assert synthesized.named("cluster-coredns")["urn"] in deployment["dependencies"]


def test_the_deployment_waits_for_the_image_policy_and_the_rest_of_the_app_does_not(
    synthesized: SynthResult,
) -> None:
    # No Deployment may be admitted before the policy that judges its image is in force (issue
    # #22); the namespace, config and Service need not wait for Kyverno.
    policy = synthesized.named("admission-policy")["urn"]
    assert (
        synthesized.named("admission-kyverno")["urn"] in synthesized.named("admission-policy")["dependencies"]
    )
    assert policy in synthesized.named("lmagent-api-deployment")["dependencies"]
    for name in ("lmagent-api-namespace", "lmagent-api-config", "lmagent-api-service"):
        assert policy not in _waits_for(synthesized, synthesized.named(name)["urn"]), name


def test_the_monitoring_releases_start_side_by_side(synthesized: SynthResult) -> None:
    # Alloy and the collector reach Loki and Jaeger by name and retry: none waits for another.
    releases = {r["urn"] for r in synthesized.helm_releases if r["name"].startswith("monitoring-")}
    assert len(releases) >= 5
    for urn in releases:
        assert not _waits_for(synthesized, urn) & releases, urn


def test_apps_sharing_a_namespace_wait_for_the_namespace_not_for_the_app_that_creates_it() -> None:
    apps = {"lmagent-api": {}, "worker": {"namespace": "lmagent", "createNamespace": False}}
    result = synth_with("staging", {"apps": apps})
    worker = result.named("worker")
    assert worker["dependencies"] == [result.named("lmagent-api-namespace")["urn"]]
    assert result.named("lmagent-api-deployment")["urn"] not in _waits_for(result, worker["urn"])


#: What holds data or is expensive to rebuild: protected in production, free to destroy in staging.
PROTECTED = {
    "cluster-eks",
    "cluster-secrets-key",
    "lmagent-api-repository",
    "lmagent-api-namespace",
    "monitoring-namespace",
    "monitoring-kube-prometheus-stack",
    "monitoring-loki",
    "monitoring-logs",
    "monitoring-logs-key",
}
#: Monitoring volumes outlive a `pulumi destroy` in production.
RETAINED = {"monitoring-namespace", "monitoring-kube-prometheus-stack", "monitoring-loki"}


def test_production_protects_what_holds_data_or_is_expensive_to_rebuild() -> None:
    result = synth_stack("production")
    protected = {r["name"] for r in result.resources if r["options"]["protect"]}
    assert protected >= PROTECTED
    retained = {r["name"] for r in result.resources if r["options"]["retainOnDelete"]}
    assert retained >= RETAINED
    assert result.named("cluster-eks")["inputs"]["deletionProtection"] is True


#: The types whose loss cannot be undone by running the program again: keys (what they encrypted
#: becomes unreadable), buckets and repositories (their data), the cluster, and the audit and flow
#: log groups (the trail an investigation needs).
ALWAYS_PROTECTED_TYPES = (
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketV2:BucketV2",
    "aws:ecr/repository:Repository",
    "aws:eks/cluster:Cluster",
    "aws:cloudwatch/logGroup:LogGroup",
)


def test_production_protects_every_key_bucket_repository_cluster_and_log_group() -> None:
    result = synth_stack("production")
    found = [r for r in result.resources if r["type"] in ALWAYS_PROTECTED_TYPES]
    assert {r["type"] for r in found} >= {
        "aws:kms/key:Key",
        "aws:ecr/repository:Repository",
        "aws:eks/cluster:Cluster",
        "aws:cloudwatch/logGroup:LogGroup",
    }
    assert [r["name"] for r in found if not r["options"]["protect"]] == []


def test_staging_protects_nothing_so_it_can_be_torn_down() -> None:
    result = synth_stack("staging")
    assert [r["name"] for r in result.resources if r["options"]["protect"]] == []
    assert result.named("cluster-eks")["inputs"]["deletionProtection"] is False


# ---------------------------------------------------------------------------------------------
# Environments are data: every difference is in the stack files and documented in the README


def leaf_keys(value: Any, prefix: str) -> list[str]:
    if isinstance(value, dict) and value:
        return [k for key, v in value.items() for k in leaf_keys(v, f"{prefix}.{key}")]
    return [prefix]


def documented_settings() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Environments", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [key for row in rows for key in re.findall(r"`([a-zA-Z.-]+)`", row.split("|")[1])]


def stack_settings(stack: str) -> dict[str, Any]:
    """Every leaf setting a stack file holds under `lmagent-infra:`, by dotted key."""
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    leaves: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("lmagent-infra:"):
            for k in leaf_keys(value, key):
                leaves[k.removeprefix("lmagent-infra:")] = _leaf(config[key], k.split(".")[1:])
    return leaves


def _leaf(value: Any, path: list[str]) -> Any:
    for part in path:
        value = value[part]
    return value


def test_every_setting_staging_changes_is_documented_in_the_readme_table() -> None:
    staging, production = stack_settings("staging"), stack_settings("production")
    # What both stacks set alike (e.g. the access path, up to the stack's own name) is not a
    # difference of staging's.
    changed = [
        k
        for k, v in staging.items()
        if k not in production or str(production[k]).replace("production", "staging") != str(v)
    ]
    documented = documented_settings()
    undocumented = [k for k in changed if not any(k == d or k.startswith(d + ".") for d in documented)]
    assert changed
    assert undocumented == []


def test_production_sets_nothing_but_its_region_environment_access_path_and_public_names() -> None:
    config = yaml.safe_load((REPO / "Pulumi.production.yaml").read_text())["config"]
    assert set(config) == {
        "aws:region",
        "lmagent-infra:environment",
        "lmagent-infra:bootstrapStack",
        "lmagent-infra:cluster",
        "lmagent-infra:edge",
        "lmagent-infra:apps",
    }
    assert config["lmagent-infra:cluster"] == {"endpointPublicAccess": True}
    # The zone and the public host name the deployment; no default could, and they relax nothing.
    assert set(config["lmagent-infra:edge"]) == {"zone"}
    # Listing the app replaces the default map, so the app names its database again.
    assert config["lmagent-infra:apps"] == {
        "lmagent-api": {"database": "main", "public": {"host": "api.example.com"}}
    }


def test_diff_shows_the_documented_differences_and_names_the_rest() -> None:
    lines = list(diff_lines(synth_stack("staging"), synth_stack("production")))
    text = "\n".join(lines)
    assert "+ only in production: aws:ec2/natGateway:NatGateway network-nat-1" in text
    assert "+ only in production: aws:s3/bucket:Bucket monitoring-logs" in text
    assert 'inputs.capacityType: "SPOT" -> "ON_DEMAND"' in text
    assert 'inputs.values.prometheus.prometheusSpec.retention: "3d" -> "31d"' in text
    assert "inputs.forceDelete: true -> false" in text
    assert "options.protect: false -> true" in text
    assert re.search(r"^\(\d+ other values differ only by the stack's name", lines[-1])
    # Nothing differs in what only the stack's name could explain, such as the tags' `stack` value.
    named = [line for line in lines if '"staging" -> "production"' in line]
    assert named == ['~ output environment: "staging" -> "production"']
