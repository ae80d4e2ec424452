"""The offline engine, proven on a small component defined here: schema, options, secrets, isolation."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.testing import (
    SECRET,
    Mocks,
    StackSecret,
    SynthResult,
    UnknownInvokeError,
    UnknownResourceError,
    fresh_event_loop,
    synth,
)

PLANTED = "planted-secret-value-7f3c"


class Demo(pulumi.ComponentResource):
    """A component with an AWS child, a Kubernetes Secret holding a secret, and a Helm release."""

    def __init__(self, name: str, password: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("lmagent:components:Demo", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            aws.kms.KeyArgs(enable_key_rotation=True, deletion_window_in_days=30),
            opts=pulumi.ResourceOptions(parent=self, protect=True, ignore_changes=["description"]),
        )
        provider = k8s.Provider(
            f"{name}-k8s",
            k8s.ProviderArgs(kubeconfig=pulumi.Output.secret("apiVersion: v1")),
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.core.v1.Secret(
            f"{name}-secret",
            k8s.core.v1.SecretInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name="demo", namespace="demo"),
                string_data={"PASSWORD": password},
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[key]),
        )
        k8s.helm.v3.Release(
            f"{name}-chart",
            k8s.helm.v3.ReleaseArgs(
                name="demo",
                chart="demo-chart",
                version="1.2.3",
                namespace="demo",
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo="https://charts.example.com"),
                values={"replicas": 2, "nested": {"port": 8080}},
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, retain_on_delete=True),
        )
        self.key_arn = key.arn
        self.zones = aws.get_availability_zones_output(state="available").names
        self.register_outputs({"key_arn": self.key_arn, "zones": self.zones})


def program() -> None:
    demo = Demo("demo", pulumi.Config("acme").require_secret("password"))
    pulumi.export("keyArn", demo.key_arn)
    pulumi.export("zones", demo.zones)
    pulumi.export("password", pulumi.Config("acme").require_secret("password"))


def run(region: str = "eu-west-1"):
    return synth(
        program,
        project="acme",
        stack="dev",
        config={"acme:password": PLANTED, "aws:region": region},
        secret_keys=["acme:password"],
    )


def test_records_each_resource_with_the_schema_fields():
    result = run()
    assert sorted(r["name"] for r in result.resources) == [
        "demo",
        "demo-chart",
        "demo-k8s",
        "demo-key",
        "demo-secret",
    ]
    assert [r["urn"] for r in result.resources] == sorted(r["urn"] for r in result.resources)
    for r in result.resources:
        assert set(r) == {
            "urn",
            "type",
            "name",
            "parent",
            "custom",
            "provider",
            "inputs",
            "options",
            "dependencies",
        }
        assert set(r["options"]) == {
            "protect",
            "retainOnDelete",
            "dependsOn",
            "ignoreChanges",
            "deleteBeforeReplace",
        }


def test_urns_and_parents_match_what_the_real_engine_makes():
    result = run()
    component = result.named("demo")
    assert component["urn"] == "urn:pulumi:dev::acme::lmagent:components:Demo::demo"
    assert component["parent"] is None and component["custom"] is False
    key = result.named("demo-key")
    assert key["urn"] == "urn:pulumi:dev::acme::lmagent:components:Demo$aws:kms/key:Key::demo-key"
    assert key["parent"] == component["urn"]
    assert {r["name"] for r in result.children_of(component["urn"])} == {
        "demo-key",
        "demo-k8s",
        "demo-secret",
        "demo-chart",
    }


def test_records_options_as_declared():
    result = run()
    key, secret, chart = result.named("demo-key"), result.named("demo-secret"), result.named("demo-chart")
    assert key["options"]["protect"] is True
    assert key["options"]["ignoreChanges"] == ["description"]
    assert secret["options"]["protect"] is False
    assert secret["options"]["dependsOn"] == [key["urn"]]
    assert chart["options"]["retainOnDelete"] is True
    assert chart["options"]["dependsOn"] == []


def test_records_every_dependency_explicit_and_through_inputs():
    result = run()
    key, secret, chart = result.named("demo-key"), result.named("demo-secret"), result.named("demo-chart")
    provider = result.named("demo-k8s")
    assert secret["dependencies"] == [key["urn"]]  # explicit depends_on
    assert chart["dependencies"] == []
    assert key["dependencies"] == []
    # The provider's kubeconfig is a plain secret here, so nothing carried by inputs; see below.
    assert provider["dependencies"] == []


def test_records_dependencies_carried_by_inputs():
    def two_keys() -> None:
        first = aws.kms.Key("first", aws.kms.KeyArgs(description="first"))
        aws.kms.Alias("first-alias", aws.kms.AliasArgs(name="alias/first", target_key_id=first.key_id))

    result = synth(two_keys, project="acme", stack="dev", config={"aws:region": "eu-west-1"})
    alias = result.named("first-alias")
    assert alias["dependencies"] == [result.named("first")["urn"]]
    assert alias["options"]["dependsOn"] == []


def test_records_inputs_in_camel_case_with_integral_numbers_as_ints():
    key = run().named("demo-key")
    assert key["inputs"] == {"deletionWindowInDays": 30, "enableKeyRotation": True}
    assert isinstance(key["inputs"]["deletionWindowInDays"], int)


def test_records_the_provider_of_each_kubernetes_resource():
    result = run()
    assert result.named("demo-secret")["provider"] == result.named("demo-k8s")["urn"]
    assert result.named("demo-key")["provider"] is None


def test_redacts_secrets_but_keeps_the_shape_of_secret_maps():
    result = run()
    assert result.named("demo-secret")["inputs"]["stringData"] == {"PASSWORD": SECRET}
    assert result.named("demo-k8s")["inputs"]["kubeconfig"] == SECRET
    assert result.outputs["password"] == SECRET


def test_a_planted_secret_appears_nowhere_in_the_result():
    result = run()
    assert PLANTED not in result.to_json()
    assert PLANTED not in repr(result)


def test_lists_kubernetes_objects_and_helm_releases_separately():
    result = run()
    assert result.manifests == [result.named("demo-secret")["inputs"]]
    assert result.manifest("Secret", "demo", "demo")["kind"] == "Secret"
    [release] = result.helm_releases
    assert release["inputs"]["values"] == {"replicas": 2, "nested": {"port": 8080}}
    assert release["inputs"]["repositoryOpts"] == {"repo": "https://charts.example.com"}


def test_fabricates_outputs_from_the_configured_region():
    result = run(region="ap-south-1")
    assert result.outputs["zones"][:3] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert result.outputs["keyArn"].startswith("arn:aws:kms:ap-south-1:123456789012:key/")


def test_two_runs_give_identical_results():
    assert run().to_json() == run().to_json()


def test_the_result_is_valid_json_with_the_documented_top_level_keys():
    doc = json.loads(run().to_json())
    assert set(doc) == {"project", "stack", "resources", "outputs"}
    assert (doc["project"], doc["stack"]) == ("acme", "dev")


def test_the_json_holds_exactly_the_result_with_one_resource_per_line():
    result = run()
    text = result.to_json()
    assert json.loads(text) == {
        "project": result.project,
        "stack": result.stack,
        "resources": result.resources,
        "outputs": result.outputs,
    }
    lines = text.splitlines()
    for r in result.resources:
        assert json.dumps(r, sort_keys=True) + "," in lines or json.dumps(r, sort_keys=True) in lines
    assert text.endswith("}\n")
    empty = SynthResult("p", "s", [])
    assert json.loads(empty.to_json()) == {"project": "p", "stack": "s", "resources": [], "outputs": {}}


def test_fails_when_the_program_calls_an_invoke_the_engine_does_not_know():
    def calls_unknown() -> None:
        pulumi.export("ami", aws.ec2.get_ami_output(owners=["amazon"], most_recent=True).id)

    with pytest.raises(UnknownInvokeError, match=r"aws:ec2/getAmi:getAmi"):
        synth(calls_unknown, project="acme", stack="dev")


def test_fails_when_the_program_raises_and_reports_the_error_unchanged():
    def broken() -> None:
        raise ValueError("lmagent-infra:network.azCount must be >= 2")

    with pytest.raises(ValueError, match="azCount"):
        synth(broken, project="acme", stack="dev")


def test_runs_are_isolated_from_each_other():
    first = synth(
        program, project="acme", stack="one", config={"acme:password": "a"}, secret_keys=["acme:password"]
    )
    second = synth(lambda: pulumi.export("x", 1), project="other", stack="two")
    assert second.resources == [] and second.outputs == {"x": 1}
    assert first.named("demo")["urn"].startswith("urn:pulumi:one::acme::")
    assert pulumi.get_stack() != "two"  # the caller's settings are restored


def test_what_survives_a_full_collection_during_a_run_is_frozen_and_unfrozen_after():
    frozen: list[int] = []

    def collecting() -> None:
        program()
        gc.collect()  # a full collection: its survivors are frozen
        frozen.append(gc.get_freeze_count())

    synth(
        collecting, project="acme", stack="dev", config={"acme:password": "a"}, secret_keys=["acme:password"]
    )
    assert frozen[0] > 10_000  # the SDK's modules at least
    assert gc.get_freeze_count() == 0  # everything collectable again
    assert not [cb for cb in gc.callbacks if "after_full_collection" in getattr(cb, "__qualname__", "")]


def test_a_run_leaves_a_callers_own_frozen_objects_and_freezes_nothing_more():
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        during: list[int] = []

        def collecting() -> None:
            gc.collect()
            during.append(gc.get_freeze_count())

        synth(collecting, project="acme", stack="dev")
        # Frozen objects may still be freed by refcounting; none is added, none unfrozen.
        assert during[0] <= before and gc.get_freeze_count() > before - 1_000
    finally:
        gc.unfreeze()


def test_a_stack_reference_returns_the_outputs_given_to_synth():
    def consumer() -> None:
        ref = pulumi.StackReference("acme/platform/staging")
        pulumi.export("cluster", ref.get_output("clusterName"))

    result = synth(
        consumer,
        project="acme",
        stack="dev",
        stack_references={
            "acme/platform/staging": {"clusterName": "lmagent-staging", "kubeconfig": StackSecret("kc")}
        },
    )
    assert result.outputs["cluster"] == "lmagent-staging"


def test_a_stack_reference_output_exported_as_a_secret_stays_one():
    def consumer() -> None:
        ref = pulumi.StackReference("acme/platform/staging")
        pulumi.export("kubeconfig", ref.get_output("kubeconfig"))

    result = synth(
        consumer,
        project="acme",
        stack="dev",
        stack_references={"acme/platform/staging": {"kubeconfig": StackSecret("planted-kubeconfig")}},
    )
    assert result.outputs["kubeconfig"] == SECRET
    assert "planted-kubeconfig" not in result.to_json()


def test_fails_when_a_stack_reference_has_no_outputs_given():
    def consumer() -> None:
        pulumi.StackReference("acme/platform/prod")

    with pytest.raises(UnknownInvokeError, match="acme/platform/prod"):
        synth(consumer, project="acme", stack="dev")


# --- a consumer's own answers, the SDK's global state, and what the engine refuses --------------


def test_unknown_invoke_tells_the_caller_how_to_answer_it():
    def program() -> None:
        aws.ec2.get_ami_output(most_recent=True, owners=["amazon"])

    with pytest.raises(UnknownInvokeError, match=r"pass invokes=\{'aws:ec2/getAmi:getAmi'") as caught:
        synth(program, project="acme", stack="dev")
    assert "components/testing.py" not in str(caught.value)


def test_a_caller_answers_its_own_invokes_with_a_result_or_a_function():
    def program() -> None:
        ami = aws.ec2.get_ami_output(most_recent=True, owners=["amazon"])
        pulumi.export("ami", ami.id)
        pulumi.export("zones", aws.get_availability_zones_output().names)

    result = synth(
        program,
        project="acme",
        stack="dev",
        invokes={
            "aws:ec2/getAmi:getAmi": lambda args: {"id": f"ami-{args['owners'][0]}"},
            "aws:index/getAvailabilityZones:getAvailabilityZones": {"names": ["mars-1a"]},
        },
    )
    assert result.outputs == {"ami": "ami-amazon", "zones": ["mars-1a"]}


def test_fails_when_a_resource_type_has_outputs_the_engine_cannot_fabricate():
    def program() -> None:
        table = aws.dynamodb.Table("db", hash_key="id", attributes=[{"name": "id", "type": "S"}])
        pulumi.export("endpoint", table.stream_arn)

    with pytest.raises(
        UnknownResourceError, match=r"'aws:dynamodb/table:Table' \(resource 'db'\).*resource_outputs="
    ):
        synth(program, project="acme", stack="dev")


def test_a_caller_gives_the_outputs_of_its_own_resource_types():
    def program() -> None:
        table = aws.dynamodb.Table("db", hash_key="id", attributes=[{"name": "id", "type": "S"}])
        pulumi.export("endpoint", table.stream_arn)

    result = synth(
        program,
        project="acme",
        stack="dev",
        resource_outputs={"aws:dynamodb/table:Table": lambda name, inputs: {"streamArn": f"{name}/stream"}},
    )
    assert result.outputs == {"endpoint": "db/stream"}


def test_fails_when_two_resources_have_the_same_urn_as_the_engine_does():
    def program() -> None:
        aws.kms.Key("key")
        aws.kms.Key("key")

    with pytest.raises(
        Exception, match=r"Duplicate resource URN 'urn:pulumi:dev::acme::aws:kms/key:Key::key'"
    ):
        synth(program, project="acme", stack="dev")


class _PlainMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-plain", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


@pytest.fixture
def plain_mocks():
    """A test that set its own mocks the way Pulumi's docs show, before calling synth."""
    previous = asyncio.get_event_loop_policy().get_event_loop()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    context = contextvars.copy_context()
    context.run(pulumi.runtime.set_mocks, _PlainMocks(), project="mine", stack="test", preview=False)
    yield context
    loop.close()
    asyncio.set_event_loop(previous)


def test_synth_runs_after_a_callers_own_set_mocks_and_leaves_them_in_place(plain_mocks):
    result = plain_mocks.run(run)
    assert result.named("demo-key")["urn"].startswith("urn:pulumi:dev::acme::")

    # The caller's mocks, project and stack are still the ones it set.
    assert plain_mocks.run(pulumi.get_project) == "mine"
    assert plain_mocks.run(pulumi.get_stack) == "test"

    def own_test() -> pulumi.Output[str]:
        return aws.kms.Key("mine").id

    ids = plain_mocks.run(
        lambda: pulumi.runtime.test(lambda: own_test().apply(lambda i: ids_seen.append(i)))()
    )
    assert ids is None and ids_seen == ["mine-plain"]


ids_seen: list[str] = []


def test_the_engines_mocks_serve_a_plain_set_mocks_test():
    seen: dict[str, str] = {}

    @pulumi.runtime.test
    def check() -> pulumi.Output[None]:
        cluster = aws.eks.Cluster(
            "eks", name="demo", role_arn="arn:aws:iam::123456789012:role/eks", vpc_config={}
        )
        zones = aws.get_availability_zones_output().names
        return pulumi.Output.all(cluster.endpoint, zones).apply(
            lambda a: seen.update(endpoint=a[0], zone=a[1][0])
        )

    context = contextvars.copy_context()
    with fresh_event_loop():
        context.run(pulumi.runtime.set_mocks, Mocks(region="eu-west-1"), preview=False)
        context.run(check)
    assert seen["endpoint"].endswith(".gr7.eu-west-1.eks.amazonaws.com")
    assert seen["zone"] == "eu-west-1a"


def test_synth_leaves_no_event_loop_open_behind_it() -> None:
    # Two leaks, each printing "Exception ignored in BaseEventLoop.__del__" (or "unclosed event
    # loop") when collected: asking for the caller's loop made one when none was set, and the
    # mock monitor gives each worker thread of the run a loop of its own that it never closes.
    # A fresh process, because only there is no loop set yet; a run with resources (the worker
    # threads) and one whose program fails half-way.
    import subprocess
    import sys

    code = (
        "import asyncio, gc, pulumi, pulumi_aws as aws\n"
        "from components.testing import synth\n"
        "def failing():\n"
        "    aws.s3.Bucket('b').arn.apply(lambda a: a)\n"
        "    raise ValueError('half-way')\n"
        "try:\n"
        "    synth(failing, project='p', stack='s')\n"
        "except Exception:\n"
        "    pass\n"
        "synth(lambda: pulumi.export('x', aws.s3.Bucket('c').arn), project='p', stack='s')\n"
        "gc.collect()\n"
        "print(sum(isinstance(o, asyncio.BaseEventLoop) and not o.is_closed() for o in gc.get_objects()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
    assert "Exception ignored" not in done.stderr and "unclosed event loop" not in done.stderr
