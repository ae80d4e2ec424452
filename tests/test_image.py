"""Tests for ContainerImage: the ECR repository, the image build and the digest reference it exports."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.image import CACHE_TAG, ContainerImage, ContainerImageArgs
from components.testing import ACCOUNT_ID, SECRET, SynthResult, synth
from tests.conftest import config_problems, synth_stack, synth_with

REPOSITORY = "aws:ecr/repository:Repository"
LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
IMAGE = "docker-build:index:Image"
DIGEST_REF = re.compile(r"^\d+\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/.+@sha256:[0-9a-f]{64}$")
SHA = "0123456789abcdef0123456789abcdef01234567"


def one(result: SynthResult, type_token: str) -> dict[str, Any]:
    found = result.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


def repository(result: SynthResult) -> dict[str, Any]:
    return one(result, REPOSITORY)["inputs"]


def build(result: SynthResult) -> dict[str, Any]:
    return one(result, IMAGE)["inputs"]


def policy(result: SynthResult) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(one(result, LIFECYCLE)["inputs"]["policy"])
    return doc


def rule(result: SynthResult, priority: int) -> dict[str, Any]:
    return next(r for r in policy(result)["rules"] if r["rulePriority"] == priority)


def repository_url(result: SynthResult) -> str:
    return str(result.outputs["repositoryUrl"])


# ---------------------------------------------------------------------------------------------
# Both stacks: the defaults as they reach the engine


def test_the_stack_declares_one_image_component_named_after_the_service(synthesized: SynthResult) -> None:
    component = one(synthesized, "lmagent:components:ContainerImage")
    assert component["name"] == "lmagent-api"
    children = {r["name"] for r in synthesized.children_of(component["urn"])}
    assert children == {"lmagent-api-repository", "lmagent-api-lifecycle", "lmagent-api-image"}


def test_the_repository_tags_are_immutable_except_the_build_cache_tag(synthesized: SynthResult) -> None:
    repo = repository(synthesized)
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [{"filter": CACHE_TAG, "filterType": "WILDCARD"}]


def test_the_repository_scans_every_pushed_image(synthesized: SynthResult) -> None:
    assert repository(synthesized)["imageScanningConfiguration"] == {"scanOnPush": True}


def test_the_repository_is_encrypted_with_the_aws_managed_kms_key_by_default(
    synthesized: SynthResult,
) -> None:
    assert repository(synthesized)["encryptionConfigurations"] == [{"encryptionType": "KMS"}]


def test_force_delete_is_off_by_default_and_on_only_where_staging_allows_it(
    stack: str, synthesized: SynthResult
) -> None:
    assert repository(synthesized)["forceDelete"] is (stack == "staging")


def test_the_repository_is_protected_exactly_when_the_stack_protects(
    stack: str, synthesized: SynthResult
) -> None:
    assert one(synthesized, REPOSITORY)["options"]["protect"] is (stack == "production")


def test_the_repository_carries_the_platform_tags_and_its_component(
    stack: str, synthesized: SynthResult
) -> None:
    tags = repository(synthesized)["tags"]
    assert tags == {"project": "lmagent-infra", "stack": stack, "managed-by": "pulumi", "component": "image"}


def test_the_lifecycle_policy_applies_to_the_repository(synthesized: SynthResult) -> None:
    assert one(synthesized, LIFECYCLE)["inputs"]["repository"] == "lmagent-api-repository"


def test_the_lifecycle_policy_never_expires_untagged_artifacts(synthesized: SynthResult) -> None:
    # Signatures and attestations are untagged OCI referrers; the admission policy needs them for
    # as long as the image runs (aws/containers-roadmap#2613: lifecycle rules act on them).
    statuses = {r["selection"]["tagStatus"] for r in policy(synthesized)["rules"]}
    assert statuses == {"tagged"}


def test_the_lifecycle_policy_keeps_the_newest_30_tagged_images(synthesized: SynthResult) -> None:
    last = rule(synthesized, 3)
    assert last["selection"] == {
        "tagStatus": "tagged",
        "tagPatternList": ["*"],
        "countType": "imageCountMoreThan",
        "countNumber": 30,
    }
    assert max(r["rulePriority"] for r in policy(synthesized)["rules"]) == 3


def test_the_lifecycle_policy_shields_the_build_cache_from_the_tagged_count(
    synthesized: SynthResult,
) -> None:
    # ECR: an image matched by a higher-priority rule is never expired by a lower-priority one.
    shield = rule(synthesized, 2)["selection"]
    assert shield["tagPatternList"] == [CACHE_TAG]
    assert shield["countNumber"] >= 1


def test_the_image_builds_the_app_directory_with_its_dockerfile(synthesized: SynthResult) -> None:
    image = build(synthesized)
    assert image["context"] == {"location": "app"}
    assert image["dockerfile"] == {"location": "app/Dockerfile"}
    assert (Path("app") / "Dockerfile").is_file()


def test_the_image_builds_for_linux_amd64_by_default(synthesized: SynthResult) -> None:
    assert build(synthesized)["platforms"] == ["linux/amd64"]


def test_the_image_is_pushed(synthesized: SynthResult) -> None:
    assert build(synthesized)["push"] is True


def test_the_image_is_tagged_with_the_repository_url_and_the_commit_never_latest(
    stack: str, synthesized: SynthResult
) -> None:
    expected_tag = os.environ.get("GITHUB_SHA") or f"dev-{stack}"
    tags = build(synthesized)["tags"]
    assert tags == [f"{repository_url(synthesized)}:{expected_tag}"]
    assert not any(t.endswith(":latest") for t in tags)


def test_the_build_cache_is_read_from_and_written_to_the_repository_cache_tag(
    synthesized: SynthResult,
) -> None:
    image, cache_ref = build(synthesized), f"{repository_url(synthesized)}:{CACHE_TAG}"
    assert image["cacheFrom"] == [{"registry": {"ref": cache_ref}}]
    [cache_to] = image["cacheTo"]
    assert cache_to["registry"]["ref"] == cache_ref
    assert cache_to["registry"]["imageManifest"] is True
    assert cache_to["registry"]["ociMediaTypes"] is True
    assert cache_to["registry"]["mode"] == "max"


def test_the_registry_password_reaches_the_build_only_as_a_secret(synthesized: SynthResult) -> None:
    [registry] = build(synthesized)["registries"]
    assert registry["password"] == SECRET
    # The mock's plaintext token must not appear anywhere in what synth writes.
    assert "synth-ecr-password" not in synthesized.to_json()


def test_the_image_ref_export_is_the_repository_url_at_the_image_digest(synthesized: SynthResult) -> None:
    ref = str(synthesized.outputs["imageRef"])
    assert DIGEST_REF.match(ref), ref
    url, _, digest = ref.partition("@")
    assert url == repository_url(synthesized)
    assert url.startswith(f"{ACCOUNT_ID}.dkr.ecr.eu-west-1.amazonaws.com/")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)


def test_no_path_of_the_machine_running_synth_appears_in_the_output(synthesized: SynthResult) -> None:
    assert str(Path.cwd()) not in synthesized.to_json()


# ---------------------------------------------------------------------------------------------
# Overrides in the stack file


def test_platforms_can_target_graviton_nodes_with_linux_arm64() -> None:
    result = synth_with("staging", {"image": {"platforms": ["linux/amd64", "linux/arm64"]}})
    assert build(result)["platforms"] == ["linux/amd64", "linux/arm64"]


def test_keep_tagged_images_sets_the_lifecycle_count() -> None:
    result = synth_with("production", {"image": {"keepTaggedImages": 7}})
    assert rule(result, 3)["selection"]["countNumber"] == 7
    assert "7 tagged" in rule(result, 3)["description"]


def test_a_customer_managed_kms_key_encrypts_the_repository() -> None:
    arn = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = synth_with("production", {"image": {"kmsKeyArn": arn}})
    assert repository(result)["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": arn}]


def test_aes256_encryption_can_be_chosen() -> None:
    result = synth_with("production", {"image": {"encryption": "AES256"}})
    assert repository(result)["encryptionConfigurations"] == [{"encryptionType": "AES256"}]


def test_build_args_and_target_reach_the_build() -> None:
    result = synth_with("staging", {"image": {"buildArgs": {"PYTHON_VERSION": "3.11"}, "target": "runtime"}})
    assert build(result)["buildArgs"] == {"PYTHON_VERSION": "3.11"}
    assert build(result)["target"] == "runtime"


def test_a_repository_name_in_config_names_the_repository() -> None:
    result = synth_with("production", {"image": {"repositoryName": "team/lmagent-api"}})
    assert repository(result)["name"] == "team/lmagent-api"
    assert repository_url(result).endswith("/team/lmagent-api")


def test_github_sha_tags_the_image_when_the_stack_sets_no_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", SHA)
    result = synth_with("production")
    assert build(result)["tags"] == [f"{repository_url(result)}:{SHA}"]


def test_a_tag_in_the_stack_file_wins_over_github_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", SHA)
    result = synth_with("staging", {"image": {"tag": "v1.2.3"}})
    assert build(result)["tags"] == [f"{repository_url(result)}:v1.2.3"]


def test_without_a_tag_or_github_sha_the_image_is_tagged_dev_and_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    result = synth_with("staging")
    assert build(result)["tags"] == [f"{repository_url(result)}:dev-staging"]


def test_the_image_ref_does_not_depend_on_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    # Apps deploy the digest, so changing only where the tag comes from must not move imageRef.
    monkeypatch.setenv("GITHUB_SHA", SHA)
    assert synth_with("staging").outputs["imageRef"] == synth_stack("staging").outputs["imageRef"]


# ---------------------------------------------------------------------------------------------
# Failures, in the stack file's words


def test_fails_when_the_build_context_does_not_exist() -> None:
    [problem] = config_problems("staging", {"image": {"context": "no-such-dir"}})
    assert problem.startswith(
        "Pulumi.staging.yaml: lmagent-infra:image.context: build context directory 'no-such-dir' "
        "does not exist"
    )


def test_fails_when_the_dockerfile_does_not_exist() -> None:
    [problem] = config_problems("production", {"image": {"dockerfile": "app/Missing.Dockerfile"}})
    assert problem.startswith(
        "Pulumi.production.yaml: lmagent-infra:image.dockerfile: Dockerfile "
        "'app/Missing.Dockerfile' does not exist"
    )


def test_fails_when_the_context_has_no_dockerfile() -> None:
    [problem] = config_problems("staging", {"image": {"context": "components"}})
    assert problem.startswith(
        "Pulumi.staging.yaml: lmagent-infra:image.context: Dockerfile 'components/Dockerfile' does not exist"
    )


def test_fails_when_the_context_is_an_absolute_path() -> None:
    [problem] = config_problems("staging", {"image": {"context": "/srv/app"}})
    assert "lmagent-infra:image.context: context must be a path relative to the project root" in problem
    assert "'/srv/app'" in problem


@pytest.mark.parametrize("tag", ["latest", "LATEST"])
def test_fails_when_the_tag_is_latest(tag: str) -> None:
    [problem] = config_problems("production", {"image": {"tag": tag}})
    assert problem.startswith("Pulumi.production.yaml: lmagent-infra:image.tag: must not be 'latest'")
    assert problem.endswith(f'(got "{tag}")')


def test_fails_when_the_tag_is_the_build_cache_tag() -> None:
    [problem] = config_problems("production", {"image": {"tag": CACHE_TAG}})
    assert "lmagent-infra:image.tag: must not be 'cache': that tag holds the build cache" in problem


@pytest.mark.parametrize("tag", ["feature/x", "-dash", "a" * 129, "tag with space"])
def test_fails_when_the_tag_is_not_a_safe_docker_tag(tag: str) -> None:
    [problem] = config_problems("staging", {"image": {"tag": tag}})
    assert "lmagent-infra:image.tag: must be a git commit sha or a tag of letters, digits" in problem


def test_fails_when_a_platform_is_not_a_node_platform() -> None:
    [problem] = config_problems("staging", {"image": {"platforms": ["linux/amd64", "windows/amd64"]}})
    assert problem == (
        "Pulumi.staging.yaml: lmagent-infra:image.platforms[1]: must be one of 'linux/amd64' or "
        "'linux/arm64' (got \"windows/amd64\")"
    )


def test_fails_when_no_platform_is_given() -> None:
    [problem] = config_problems("staging", {"image": {"platforms": []}})
    assert problem.startswith("Pulumi.staging.yaml: lmagent-infra:image.platforms: must have at least 1")


def test_fails_when_a_platform_is_listed_twice() -> None:
    [problem] = config_problems("staging", {"image": {"platforms": ["linux/arm64", "linux/arm64"]}})
    assert "lmagent-infra:image.platforms: must not list a platform twice" in problem


def test_fails_when_a_kms_key_is_given_with_aes256_encryption() -> None:
    arn = f"arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    [problem] = config_problems("production", {"image": {"encryption": "AES256", "kmsKeyArn": arn}})
    assert "lmagent-infra:image: kmsKeyArn is set but encryption is 'AES256'" in problem


def test_fails_when_the_kms_key_is_not_a_key_arn() -> None:
    [problem] = config_problems("production", {"image": {"kmsKeyArn": "alias/aws/ecr"}})
    assert "lmagent-infra:image.kmsKeyArn: must be a KMS key ARN" in problem
    assert '(got "alias/aws/ecr")' in problem


def test_fails_when_the_encryption_is_unknown() -> None:
    [problem] = config_problems("production", {"image": {"encryption": "NONE"}})
    assert problem.startswith("Pulumi.production.yaml: lmagent-infra:image.encryption: must be one of")


def test_fails_when_keep_tagged_images_is_zero() -> None:
    [problem] = config_problems("production", {"image": {"keepTaggedImages": 0}})
    assert problem == "Pulumi.production.yaml: lmagent-infra:image.keepTaggedImages: must be >= 1 (got 0)"


def test_fails_when_the_repository_name_is_not_valid_for_ecr() -> None:
    [problem] = config_problems("production", {"image": {"repositoryName": "LMAgent_API"}})
    assert "lmagent-infra:image.repositoryName: must be 2-256 lowercase letters" in problem


def test_fails_when_a_build_arg_name_is_not_an_arg_name() -> None:
    [problem] = config_problems("staging", {"image": {"buildArgs": {"BAD-NAME": "x"}}})
    assert "lmagent-infra:image.buildArgs: ARG names must be letters, digits and '_'" in problem


def test_fails_when_an_image_key_is_misspelt() -> None:
    [problem] = config_problems("staging", {"image": {"forceDelet": True}})
    assert "lmagent-infra:image.forceDelet: unknown key; did you mean 'forceDelete'?" in problem


def test_fails_when_github_sha_is_not_a_commit_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", "main")
    [problem] = config_problems("production")
    assert problem.startswith("GITHUB_SHA: must be a git commit sha, 40 or 64 lowercase hex digits")
    assert '(got "main")' in problem


# ---------------------------------------------------------------------------------------------
# The component on its own, as a consumer uses it


def _service(root: Path, *, dockerfile: bool = True) -> Path:
    (root / "svc").mkdir()
    if dockerfile:
        (root / "svc" / "Dockerfile").write_text("FROM scratch\n")
    return root


def _run(program: Any) -> SynthResult:
    return synth(program, project="consumer", stack="dev", config={"aws:region": "us-west-2"})


def test_component_fails_before_registering_anything_when_the_context_is_missing(tmp_path: Path) -> None:
    errors: list[str] = []

    def program() -> None:
        try:
            ContainerImage("svc", ContainerImageArgs(context="svc", tag=SHA), root=tmp_path)
        except ValueError as err:
            errors.append(str(err))

    result = _run(program)
    assert result.resources == []
    assert errors == [
        f"ContainerImage 'svc': context: build context directory 'svc' does not exist "
        f"(looked for {tmp_path / 'svc'})"
    ]


def test_component_fails_before_registering_anything_when_the_dockerfile_is_missing(
    tmp_path: Path,
) -> None:
    root, errors = _service(tmp_path, dockerfile=False), []

    def program() -> None:
        try:
            ContainerImage("svc", ContainerImageArgs(context="svc", tag=SHA), root=root)
        except ValueError as err:
            errors.append(str(err))

    result = _run(program)
    assert result.resources == []
    assert len(errors) == 1
    assert "Dockerfile 'svc/Dockerfile' does not exist" in errors[0]


def test_component_fails_when_no_tag_is_given(tmp_path: Path) -> None:
    root = _service(tmp_path)
    with pytest.raises(ValueError, match=r"ContainerImage 'svc': tag: is required"):
        _run(lambda: ContainerImage("svc", ContainerImageArgs(context="svc"), root=root))


def test_component_builds_a_consumer_context_relative_to_its_root(tmp_path: Path) -> None:
    root = _service(tmp_path)
    refs: dict[str, Any] = {}

    def program() -> None:
        img = ContainerImage("svc", ContainerImageArgs(context="svc", tag=SHA), root=root)
        pulumi.export("ref", img.image_ref)
        refs["tag"] = img.tag

    result = _run(program)
    image = build(result)
    assert image["context"] == {"location": "svc"}
    assert image["dockerfile"] == {"location": "svc/Dockerfile"}
    assert image["tags"] == [f"{ACCOUNT_ID}.dkr.ecr.us-west-2.amazonaws.com/svc-repository:{SHA}"]
    assert DIGEST_REF.match(result.outputs["ref"])
    assert refs["tag"] == SHA


def test_component_protects_the_repository_and_keeps_force_delete_off_by_default(tmp_path: Path) -> None:
    root = _service(tmp_path)
    result = _run(lambda: ContainerImage("svc", ContainerImageArgs(context="svc", tag=SHA), root=root))
    assert one(result, REPOSITORY)["options"]["protect"] is True
    assert repository(result)["forceDelete"] is False
    assert repository(result)["tags"] == {"component": "image"}


def test_component_children_are_parented_to_it(tmp_path: Path) -> None:
    root = _service(tmp_path)
    result = _run(lambda: ContainerImage("svc", ContainerImageArgs(context="svc", tag=SHA), root=root))
    parent = one(result, "lmagent:components:ContainerImage")["urn"]
    assert {r["type"] for r in result.children_of(parent)} == {REPOSITORY, LIFECYCLE, IMAGE}


def test_args_reject_latest_from_a_python_caller_too() -> None:
    with pytest.raises(ValueError, match="must not be 'latest'"):
        ContainerImageArgs(tag="latest")


def test_args_default_dockerfile_sits_in_the_context() -> None:
    assert ContainerImageArgs(context="svc/").dockerfile_path == "svc/Dockerfile"
    assert ContainerImageArgs(context="svc", dockerfile="docker/Svc").dockerfile_path == "docker/Svc"


DIGEST = "sha256:" + "ab" * 32


def test_a_digest_from_the_pipeline_is_deployed_and_nothing_is_built() -> None:
    # The pipeline built, signed and verified this digest before `pulumi up` (issue #22): Pulumi
    # must deploy exactly it, and must not build a second, unsigned image.
    result = synth_with("production", {"image": {"digest": DIGEST}})
    assert result.of_type("docker-build:index:Image") == []
    assert result.outputs["imageRef"] == f"{result.outputs['repositoryUrl']}@{DIGEST}"
    [deployment] = [m for m in result.manifests if m["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == result.outputs["imageRef"]


def test_without_a_digest_the_stack_builds_the_image_itself(synthesized: SynthResult) -> None:
    assert len(synthesized.of_type("docker-build:index:Image")) == 1


def test_the_pipeline_hands_the_digest_in_through_image_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_DIGEST", DIGEST)
    result = synth_with("staging")
    assert result.outputs["imageRef"].endswith(f"@{DIGEST}")
    assert result.of_type("docker-build:index:Image") == []


def test_fails_when_image_digest_is_not_a_sha256_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_DIGEST", "latest")
    assert config_problems("staging") == [
        'IMAGE_DIGEST: must be sha256: and 64 lowercase hex digits (got "latest")'
    ]


def test_fails_when_the_configured_digest_is_malformed() -> None:
    [problem] = config_problems("production", {"image": {"digest": "sha256:ABC"}})
    assert "lmagent-infra:image.digest" in problem
    assert "must be an image digest, sha256: and 64 lowercase hex digits" in problem


def test_the_built_image_stays_in_the_registry_when_the_stack_stops_building_it(
    synthesized: SynthResult,
) -> None:
    # Switching to the pipeline's digest removes the Image from the stack; its delete would remove
    # the pushed tag, which running pods may still pull.
    [image] = synthesized.of_type("docker-build:index:Image")
    assert image["options"]["retainOnDelete"] is True
