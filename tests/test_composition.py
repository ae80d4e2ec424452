"""The components as a Pulumi user composes them: resource options, providers, protect, environment.

Each test is one of the failures a consumer program met (issue 16), run under the offline engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
from pydantic import ValidationError

from components import (
    AppService,
    AppServiceArgs,
    EksCluster,
    EksClusterArgs,
    MonitoringArgs,
    MonitoringStack,
    Network,
    NetworkArgs,
)
from components.testing import SynthResult, synth

DIGEST = "sha256:" + "ab" * 32
DEPLOY_ROLE = "arn:aws:iam::123456789012:role/deploy"
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders@{DIGEST}"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NAMESPACE = "kubernetes:core/v1:Namespace"


def run(program: Callable[[], None], stack: str = "dev") -> SynthResult:
    return synth(program, project="consumer", stack=stack, config={"aws:region": "eu-west-1"})


def k8s_provider(name: str = "k8s") -> k8s.Provider:
    return k8s.Provider(name, k8s.ProviderArgs(kubeconfig="apiVersion: v1\nkind: Config\n"))


def app(**fields: Any) -> AppServiceArgs:
    return AppServiceArgs(image=IMAGE, namespace=fields.pop("namespace", "orders"), **fields)


# --- providers, as Pulumi resolves them -------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        lambda p: pulumi.ResourceOptions(provider=p),
        lambda p: pulumi.ResourceOptions(providers=[p]),
        lambda p: pulumi.ResourceOptions(providers={"kubernetes": p}),
    ],
    ids=["provider", "providers-list", "providers-by-package"],
)
def test_the_kubernetes_provider_comes_from_opts(options: Callable[[k8s.Provider], pulumi.ResourceOptions]):
    def program() -> None:
        AppService("orders", app(), opts=options(k8s_provider()))

    result = run(program)
    [provider] = result.of_type("pulumi:providers:kubernetes")
    [deployment] = result.of_type(DEPLOYMENT)
    assert deployment["provider"] == provider["urn"]


def test_the_kubernetes_provider_is_inherited_from_the_parent():
    class Team(pulumi.ComponentResource):
        def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
            super().__init__("consumer:index:Team", name, None, opts)
            AppService("orders", app(), opts=pulumi.ResourceOptions(parent=self))

    def program() -> None:
        Team("team", pulumi.ResourceOptions(providers={"kubernetes": k8s_provider()}))

    result = run(program)
    [provider] = result.of_type("pulumi:providers:kubernetes")
    assert {r["provider"] for r in result.of_type(DEPLOYMENT)} == {provider["urn"]}


def test_fails_when_the_provider_argument_is_not_a_kubernetes_provider():
    def program() -> None:
        AppService("orders", app(), provider=aws.Provider("aws", region="eu-west-1"))  # type: ignore[arg-type]

    with pytest.raises(
        TypeError, match=r"provider: must be a pulumi_kubernetes.provider.Provider .*pulumi_aws"
    ):
        run(program)


def test_fails_rather_than_use_the_ambient_kubeconfig_when_opts_carry_only_an_aws_provider():
    def program() -> None:
        AppService(
            "orders", app(), opts=pulumi.ResourceOptions(provider=aws.Provider("aws", region="eu-west-1"))
        )

    with pytest.raises(
        ValueError, match=r"no 'kubernetes' provider \(the options carry providers for aws only\)"
    ):
        run(program)


def test_monitoring_takes_its_provider_from_opts_too():
    def program() -> None:
        MonitoringStack(
            "mon",
            MonitoringArgs.model_validate({"logs": {"storage": "filesystem"}}),
            environment="staging",
            region="eu-west-1",
            secret=lambda name: pulumi.Output.secret(name),
            opts=pulumi.ResourceOptions(providers=[k8s_provider()]),
        )

    result = run(program)
    [provider] = result.of_type("pulumi:providers:kubernetes")
    assert {r["provider"] for r in result.helm_releases} == {provider["urn"]}


# --- protect ----------------------------------------------------------------------------------


def test_opts_protect_false_unprotects_the_namespace():
    def program() -> None:
        AppService("orders", app(), opts=pulumi.ResourceOptions(provider=k8s_provider(), protect=False))

    [namespace] = run(program).of_type(NAMESPACE)
    assert namespace["options"]["protect"] is False


def test_opts_protect_false_unprotects_the_cluster_and_its_key():
    def program() -> None:
        EksCluster(
            "eks",
            EksClusterArgs(deploy_role_arn=DEPLOY_ROLE),
            private_subnet_ids=["a", "b"],
            opts=pulumi.ResourceOptions(protect=False),
        )

    result = run(program)
    cluster = result.named("eks-eks")
    assert cluster["options"]["protect"] is False
    assert cluster["inputs"]["deletionProtection"] is False
    assert result.named("eks-secrets-key")["options"]["protect"] is False


def test_protect_is_on_by_default():
    def program() -> None:
        AppService("orders", app(), provider=k8s_provider())

    [namespace] = run(program).of_type(NAMESPACE)
    assert namespace["options"]["protect"] is True


def test_fails_when_protect_and_opts_protect_disagree():
    def program() -> None:
        AppService(
            "orders", app(), protect=False, opts=pulumi.ResourceOptions(provider=k8s_provider(), protect=True)
        )

    with pytest.raises(ValueError, match=r"protect=False and opts.protect=True disagree"):
        run(program)


# --- the environment, given once --------------------------------------------------------------


def test_args_built_without_an_environment_get_the_production_guardrails_in_the_component():
    tagged = AppServiceArgs(image="registry.example/orders:1.0", namespace="orders")

    def program() -> None:
        AppService("orders", tagged, provider=k8s_provider())

    with pytest.raises(ValueError, match=r"image\n.*must be pinned by digest in production"):
        run(program)


def test_staging_is_chosen_on_the_component():
    tagged = AppServiceArgs(image="registry.example/orders:1.0", namespace="orders", replicas=1)

    def program() -> None:
        AppService("orders", tagged, provider=k8s_provider(), environment="staging")

    [deployment] = run(program).of_type(DEPLOYMENT)
    [container] = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/orders:1.0"


def test_monitoring_args_cannot_disagree_with_the_monitoring_environment():
    one = MonitoringArgs.model_validate({"prometheus": {"replicas": 1}, "logs": {"storage": "filesystem"}})

    def program() -> None:
        MonitoringStack(
            "mon",
            one,
            environment="production",
            region="eu-west-1",
            secret=lambda name: pulumi.Output.secret(name),
            provider=k8s_provider(),
        )

    with pytest.raises(ValueError, match=r"not valid for production(.|\n)*replicas"):
        run(program)


def test_fails_when_the_environment_is_not_one_of_the_two():
    def program() -> None:
        AppService("orders", app(), provider=k8s_provider(), environment="prod")  # type: ignore[arg-type]

    with pytest.raises(
        ValueError, match=r"environment: must be one of 'staging', 'production' \(got 'prod'\)"
    ):
        run(program)


# --- args -------------------------------------------------------------------------------------


def test_args_may_be_a_mapping_of_fields():
    def program() -> None:
        AppService("orders", {"image": IMAGE, "namespace": "orders"}, provider=k8s_provider())  # type: ignore[arg-type]

    assert run(program).of_type(DEPLOYMENT)


def test_fails_with_a_type_error_when_args_are_neither_model_nor_mapping():
    def program() -> None:
        AppService("orders", ["image", IMAGE], provider=k8s_provider())  # type: ignore[arg-type]

    with pytest.raises(
        TypeError, match=r"args: must be a AppServiceArgs or a mapping of its fields \(got list"
    ):
        run(program)


def test_a_typo_in_a_python_keyword_gets_did_you_mean():
    with pytest.raises(
        ValidationError, match=r"imgae\n  unknown key 'imgae'; did you mean 'image'\? \(allowed: "
    ):
        AppServiceArgs(imgae=IMAGE)  # type: ignore[call-arg]


def test_a_typo_in_a_nested_camel_case_key_gets_did_you_mean():
    with pytest.raises(ValidationError, match=r"did you mean 'minReplicas'\?"):
        AppServiceArgs.model_validate({"autoscaling": {"minReplica": 2}})


def test_a_typo_in_a_mapping_given_as_args_gets_did_you_mean():
    def program() -> None:
        AppService("orders", {"imgae": IMAGE}, provider=k8s_provider())  # type: ignore[arg-type]

    with pytest.raises(ValidationError, match=r"did you mean 'image'\?"):
        run(program)


# --- IRSA -------------------------------------------------------------------------------------


def test_monitoring_accepts_the_clusters_irsa_role_method_itself():
    def program() -> None:
        eks = EksCluster(
            "eks",
            EksClusterArgs(deploy_role_arn=DEPLOY_ROLE),
            private_subnet_ids=["a", "b"],
            cluster_name="demo",
        )
        MonitoringStack(
            "mon",
            MonitoringArgs(),
            region="eu-west-1",
            secret=lambda name: pulumi.Output.secret(name),
            irsa=eks.irsa_role,
            provider=eks.provider,
        )

    result = run(program)
    [loki] = [r for r in result.helm_releases if r["name"] == "mon-loki"]
    values = loki["inputs"]["values"]
    found = json.dumps(values)
    assert "[resource" not in found
    arn = values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn == "arn:aws:iam::123456789012:role/eks-irsa-loki"


# --- names ------------------------------------------------------------------------------------


def test_the_cluster_name_defaults_to_one_unique_per_project_and_stack():
    def program() -> None:
        EksCluster("eks", EksClusterArgs(deploy_role_arn=DEPLOY_ROLE), private_subnet_ids=["a", "b"])

    names = {stack: run(program, stack).named("eks-eks")["inputs"]["name"] for stack in ("staging", "prod")}
    assert names == {"staging": "consumer-staging-eks", "prod": "consumer-prod-eks"}


def test_a_cluster_name_from_an_output_makes_the_subnet_tag_key():
    def program() -> None:
        Network("net", NetworkArgs(), cluster_name=pulumi.Output.from_input("orders-dev"))

    result = run(program)
    subnets = result.of_type("aws:ec2/subnet:Subnet")
    assert subnets
    for subnet in subnets:
        keys = set(subnet["inputs"]["tags"])
        assert "kubernetes.io/cluster/orders-dev" in keys, keys
        assert not any("__str__" in k for k in keys)


# --- values from other resources ----------------------------------------------------------------


def test_image_and_env_values_may_be_outputs_of_other_resources():
    def program() -> None:
        db = aws.rds.Instance("db", instance_class="db.t4g.micro", engine="postgres", allocated_storage=20)
        repo = aws.ecr.Repository("orders")
        image = repo.repository_url.apply(lambda url: f"{url}@{DIGEST}")
        AppService(
            "orders",
            AppServiceArgs(image=image, namespace="orders", env={"DB_HOST": db.address}),
            provider=k8s_provider(),
        )

    result = synth(
        program,
        project="consumer",
        stack="dev",
        resource_outputs={"aws:rds/instance:Instance": {"address": "db.internal"}},
    )
    [deployment] = result.of_type(DEPLOYMENT)
    [container] = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@{DIGEST}"
    config = result.manifest("ConfigMap", "orders-config", "orders")
    assert config["data"]["DB_HOST"] == "db.internal"


def test_an_output_image_without_a_digest_fails_in_production_when_it_resolves():
    def program() -> None:
        repo = aws.ecr.Repository("orders")
        AppService(
            "orders",
            AppServiceArgs(image=repo.repository_url.apply(lambda url: f"{url}:1.0"), namespace="orders"),
            provider=k8s_provider(),
        )

    with pytest.raises(
        ValueError, match=r"image: must be pinned by digest in production .*resolved from an Output"
    ):
        run(program)


def test_an_output_image_keyword_without_a_digest_fails_in_production_too():
    def program() -> None:
        repo = aws.ecr.Repository("orders")
        AppService(
            "orders",
            AppServiceArgs(namespace="orders"),
            image=repo.repository_url.apply(lambda url: f"{url}:1.0"),
            provider=k8s_provider(),
        )

    with pytest.raises(ValueError, match=r"image: must be pinned by digest in production"):
        run(program)


def test_an_output_env_value_that_is_not_a_string_fails_naming_the_field():
    def program() -> None:
        AppService(
            "orders",
            app(env={"PORT": pulumi.Output.from_input(5432)}),  # type: ignore[dict-item]
            provider=k8s_provider(),
        )

    with pytest.raises(
        ValueError, match=r"env: Input should be a valid string \(got 5432, resolved from an Output\)"
    ):
        run(program)


def test_an_output_namespace_is_checked_when_it_resolves():
    def program() -> None:
        AppService("orders", app(namespace=pulumi.Output.from_input("Orders_NS")), provider=k8s_provider())

    with pytest.raises(ValueError, match=r"namespace: 'Orders_NS' is not a Kubernetes name"):
        run(program)


def test_policy_arns_may_be_outputs():
    def program() -> None:
        policy = aws.iam.Policy("read", policy="{}")
        eks = EksCluster(
            "eks",
            EksClusterArgs(deploy_role_arn=DEPLOY_ROLE),
            private_subnet_ids=["a", "b"],
            cluster_name="demo",
        )
        args = app(iam_policy_arns=[policy.arn])
        eks.irsa_role("orders", "orders", "orders", managed_policy_arns=args.iam_policy_arns)

    result = run(program)
    [attachment] = [
        r
        for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r["name"].startswith("eks-irsa-orders")
    ]
    assert attachment["name"] == "eks-irsa-orders-policy-0"
    assert attachment["inputs"]["policyArn"] == "arn:aws:iam::123456789012:policy/read"


def test_two_apps_share_one_namespace_declared_once():
    def program() -> None:
        provider = k8s_provider()
        first = AppService("orders", app(), provider=provider)
        AppService("billing", app(namespace=first.namespace, create_namespace=False), provider=provider)

    result = run(program)
    [namespace] = result.of_type(NAMESPACE)
    billing = result.manifest("Deployment", "billing", "orders")
    assert (
        namespace["urn"]
        in next(r for r in result.of_type(DEPLOYMENT) if r["name"] == "billing-deployment")["dependencies"]
    )
    rules = result.manifest("PrometheusRule", "billing", "orders")
    exprs = [r.get("expr", "") for g in rules["spec"]["groups"] for r in g["rules"]]
    assert any('namespace="orders"' in e for e in exprs)
    assert billing["metadata"]["namespace"] == "orders"


# --- names --------------------------------------------------------------------------------------


def test_fails_when_two_apps_create_the_same_namespace_on_one_cluster():
    def program() -> None:
        provider = k8s_provider()
        AppService("orders", app(), provider=provider)
        AppService("billing", app(), provider=provider)

    with pytest.raises(
        ValueError,
        match=r"AppService 'billing': namespace 'orders' is already created by AppService 'orders'",
    ):
        run(program)


def test_fails_when_two_apps_have_one_pulumi_name_as_the_engine_refuses_duplicate_urns():
    def program() -> None:
        provider = k8s_provider()
        AppService("api", app(namespace="orders"), provider=provider)
        AppService("api", app(namespace="billing"), provider=provider)

    with pytest.raises(Exception, match=r"Duplicate resource URN '.*AppService::api'"):
        run(program)


def test_the_kubernetes_name_can_differ_from_the_pulumi_name():
    def program() -> None:
        provider = k8s_provider()
        AppService("orders-api", app(name="api", namespace="orders"), provider=provider)
        AppService("billing-api", app(name="api", namespace="billing"), provider=provider)

    result = run(program)
    for namespace in ("orders", "billing"):
        deployment = result.manifest("Deployment", "api", namespace)
        assert deployment["metadata"]["labels"]["app.kubernetes.io/name"] == "api"
        assert result.manifest("Service", "api", namespace)
        assert result.manifest("ConfigMap", "api-config", namespace)
    assert {r["name"] for r in result.of_type(DEPLOYMENT)} == {
        "orders-api-deployment",
        "billing-api-deployment",
    }


def test_fails_when_the_kubernetes_name_is_not_one():
    with pytest.raises(ValidationError, match=r"name: 'Orders_API' is not a Kubernetes name"):
        AppServiceArgs(name="Orders_API")


def test_every_component_registers_its_outputs_in_camel_case(monkeypatch: pytest.MonkeyPatch):
    import stacks

    keys: dict[str, set[str]] = {}
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: Any) -> None:
        keys.setdefault(type(self).__name__, set()).update(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)
    from tests.conftest import synth_with

    synth_with("staging")
    assert {"AppService", "EksCluster", "MonitoringStack", "Network", "ContainerImage"} <= set(keys)
    snake = {component: sorted(k for k in names if "_" in k) for component, names in keys.items()}
    assert snake == {component: [] for component in keys}
    assert stacks  # the stack program is what ran


def test_cluster_key_and_admin_arns_may_be_outputs():
    def program() -> None:
        key = aws.kms.Key("mine", enable_key_rotation=True)
        admin = aws.iam.Role("break-glass", assume_role_policy="{}")
        args = EksClusterArgs(
            deploy_role_arn=DEPLOY_ROLE, kms_key_arn=key.arn, admin_principal_arns=[admin.arn]
        )
        EksCluster("eks", args, private_subnet_ids=["a", "b"], cluster_name="demo")

    result = run(program)
    assert "eks-secrets-key" not in {
        r["name"] for r in result.of_type("aws:kms/key:Key")
    }  # uses the given key
    cluster = result.named("eks-eks")
    assert cluster["inputs"]["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    principals = {r["inputs"]["principalArn"] for r in result.of_type("aws:eks/accessEntry:AccessEntry")}
    assert "arn:aws:iam::123456789012:role/break-glass" in principals


def test_an_output_admin_arn_that_is_not_one_fails_when_it_resolves():
    def program() -> None:
        args = EksClusterArgs(
            deploy_role_arn=DEPLOY_ROLE, admin_principal_arns=[pulumi.Output.from_input("alice")]
        )
        EksCluster("eks", args, private_subnet_ids=["a", "b"], cluster_name="demo")

    with pytest.raises(ValueError, match=r"admin_principal_arns: must be an IAM role or user ARN .*'alice'"):
        run(program)


def test_fails_when_provider_and_opts_name_two_different_kubernetes_providers():
    def program() -> None:
        AppService(
            "orders",
            app(),
            provider=k8s_provider("one"),
            opts=pulumi.ResourceOptions(providers={"kubernetes": k8s_provider("two")}),
        )

    with pytest.raises(
        ValueError, match=r"provider= and the 'kubernetes' provider in opts are two different providers"
    ):
        run(program)


def test_the_same_provider_in_both_places_is_accepted():
    def program() -> None:
        provider = k8s_provider()
        AppService("orders", app(), provider=provider, opts=pulumi.ResourceOptions(provider=provider))

    assert run(program).of_type(DEPLOYMENT)
