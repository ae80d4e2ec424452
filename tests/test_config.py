"""Stack configuration: defaults, and every error path reported in the stack file's words."""

from __future__ import annotations

import pulumi
import pydantic
import pytest

from components.testing import synth
from stacks import config as stack_config
from tests.conftest import config_problems, synth_with

#: The secrets the default config names (Grafana's admin password, the alert receivers), as an
#: operator sets them with `pulumi config set --secret`; every load below has them.
DEFAULT_SECRETS = {
    f"lmagent-infra:{name}": "placeholder"
    for name in ("grafanaAdminPassword", "alertmanagerSlackWebhook", "alertmanagerPagerdutyRoutingKey")
}


def load_with(config: dict[str, object], secret_keys: tuple[str, ...] = ()) -> stack_config.Settings:
    """Run only `config.load()` under the engine and return what it produced."""
    loaded: list[stack_config.Settings] = []
    synth(
        lambda: loaded.append(stack_config.load("staging")),
        project="lmagent-infra",
        stack="staging",
        config={**DEFAULT_SECRETS, **config},
        secret_keys=[*DEFAULT_SECRETS, *secret_keys],
    )
    return loaded[0]


def problems_of(config: dict[str, object], secret_keys: tuple[str, ...] = ()) -> list[str]:
    with pytest.raises(stack_config.ConfigError) as caught:
        load_with(config, secret_keys)
    return caught.value.problems


def test_defaults_are_production_safe():
    settings = load_with({"aws:region": "us-east-1"})
    assert settings.config.environment == "production"
    assert settings.config.protect is True
    assert settings.region == "us-east-1"


def test_staging_relaxes_protection_in_its_file(stack):
    result = synth_with(stack)
    assert result.outputs["environment"] == stack


def test_fails_when_a_key_is_misspelt_and_suggests_the_closest():
    [line] = problems_of({"aws:region": "us-east-1", "lmagent-infra:environmnt": "staging"})
    assert line.startswith("Pulumi.staging.yaml: lmagent-infra:environmnt: unknown key")
    assert "did you mean 'environment'?" in line


def test_fails_when_the_project_namespace_is_misspelt():
    [line] = problems_of({"aws:region": "us-east-1", "lmagnet-infra:protect": "false"})
    assert line == (
        "Pulumi.staging.yaml: lmagnet-infra:protect: unknown namespace 'lmagnet-infra'; "
        "did you mean 'lmagent-infra:'?"
    )


def test_fails_when_a_value_is_outside_its_allowed_set():
    [line] = problems_of({"aws:region": "us-east-1", "lmagent-infra:environment": "prod"})
    assert line == (
        "Pulumi.staging.yaml: lmagent-infra:environment: "
        "must be one of 'staging' or 'production' (got \"prod\")"
    )


def test_fails_when_a_value_has_the_wrong_type():
    [line] = problems_of({"aws:region": "us-east-1", "lmagent-infra:protect": "maybe"})
    assert line == 'Pulumi.staging.yaml: lmagent-infra:protect: must be true or false (got "maybe")'


def test_fails_when_the_region_is_missing_or_malformed():
    assert problems_of({}) == [
        "Pulumi.staging.yaml: aws:region: is required (e.g. `pulumi config set aws:region us-east-1`)"
    ]
    [line] = problems_of({"aws:region": "mars-1"})
    assert "aws:region: must be an AWS region" in line and '"mars-1"' in line


def test_reports_every_problem_not_just_the_first():
    lines = problems_of(
        {
            "aws:region": "nowhere",
            "lmagent-infra:protect": "perhaps",
            "lmagent-infra:tagz": {},
            "lmagent-infra:tags": {"aws:owner": "x"},
        }
    )
    assert len(lines) == 4
    assert all(line.startswith("Pulumi.staging.yaml: ") for line in lines)
    keys = {line.split(": ")[1] for line in lines}
    assert keys == {"aws:region", "lmagent-infra:protect", "lmagent-infra:tagz", "lmagent-infra:tags"}


def test_fails_when_a_section_is_stored_as_a_secret():
    lines = problems_of({"aws:region": "us-east-1", "lmagent-infra:tags": "{}"}, ("lmagent-infra:tags",))
    assert any(
        "lmagent-infra:tags: is a section of the stack config and cannot be a secret" in x for x in lines
    )


def test_a_secret_is_only_ever_handed_out_as_a_secret_output():
    captured: list[pulumi.Output[str]] = []

    def program() -> None:
        settings = stack_config.load("staging")
        captured.append(settings.secret("dbPassword"))
        pulumi.export("password", captured[0])

    result = synth(
        program,
        project="lmagent-infra",
        stack="staging",
        config={"aws:region": "us-east-1", "lmagent-infra:dbPassword": "s3cr3t-planted", **DEFAULT_SECRETS},
        secret_keys=["lmagent-infra:dbPassword", *DEFAULT_SECRETS],
    )
    assert result.outputs["password"] == "[secret]"
    assert "s3cr3t-planted" not in result.to_json()


def test_fails_when_asked_for_a_secret_that_is_not_set_as_one():
    settings = load_with({"aws:region": "us-east-1", "lmagent-infra:tags": {}})
    with pytest.raises(KeyError, match="lmagent-infra:tags is not a secret config key"):
        settings.secret("tags")


def test_the_real_stack_files_are_valid(stack):
    assert synth_with(stack).stack == stack  # raises ConfigError if the file is invalid


def test_fails_on_the_real_stack_file_with_a_planted_mistake(stack):
    lines = config_problems(stack, {"protect": "sometimes"})
    assert lines == [f'Pulumi.{stack}.yaml: lmagent-infra:protect: must be true or false (got "sometimes")']


def test_fails_when_an_app_namespace_is_excluded_from_the_image_policy():
    [problem] = config_problems(
        "production", {"admission": {"excludedNamespaces": ["kube-system", "lmagent"]}}
    )
    assert "admission.excludedNamespaces lists app namespaces ['lmagent']" in problem


def test_fails_when_production_would_only_audit_unsigned_images():
    [problem] = config_problems("production", {"admission": {"mode": "Audit"}})
    assert "lmagent-infra:admission.mode" in problem
    assert "must be 'Enforce' in production" in problem


def test_fails_when_an_app_names_a_database_that_does_not_exist():
    [line] = problems_of(
        {"aws:region": "us-east-1", "lmagent-infra:apps": {"lmagent-api": {"database": "orders"}}}
    )
    assert "apps.lmagent-api.database: names database 'orders'" in line
    assert "allowed: one of ['main']" in line


@pytest.mark.parametrize(
    ("database", "needle"),
    [
        ({"multiAz": False}, "lmagent-infra:databases.main.multiAz: must be true in production"),
        ({"backupRetentionDays": 5}, "lmagent-infra:databases.main.backupRetentionDays: must be >= 7 days"),
        ({"instanceClass": "db.q1.large"}, "unknown instance class family 'q1'"),
        ({"backupWindow": "04:00-04:30"}, "overlaps maintenanceWindow"),
    ],
)
def test_fails_when_a_production_database_is_unsafe_naming_the_key(database, needle):
    [line] = problems_of({"aws:region": "us-east-1", "lmagent-infra:databases": {"main": database}})
    assert line.startswith("Pulumi.staging.yaml: lmagent-infra:databases.main")
    assert needle in line


def test_an_app_without_a_database_gets_neither_the_secret_nor_the_egress():
    settings = load_with(
        {"aws:region": "us-east-1", "lmagent-infra:apps": {"lmagent-api": {}}, "lmagent-infra:databases": {}}
    )
    assert settings.config.apps["lmagent-api"].database is None


@pytest.mark.parametrize("key", ["aws:cost-center", "AWS:team", "", "k" * 129])
def test_both_configs_refuse_a_tag_key_aws_would_refuse(key: str) -> None:
    from stacks.config import BootstrapConfig, StackConfig

    github = {"owner": "acme", "repo": "infra"}
    for config, data in ((StackConfig, {}), (BootstrapConfig, {"github": github})):
        with pytest.raises(pydantic.ValidationError, match=r"tags\n.*tag keys must be 1-128 characters"):
            config.model_validate({**data, "tags": {key: "x"}})
        assert config.model_validate({**data, "tags": {"team": "x"}}).tags == {"team": "x"}
