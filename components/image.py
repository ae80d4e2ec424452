"""ContainerImage: an ECR repository, and the service's image built and pushed there, deployed by digest."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
import pulumi_docker_build as docker_build
from pydantic import Field, field_validator, model_validator

from components._model import InputStr, Model, as_args, check_later
from components._options import resolve_protect

#: The tag the registry build cache lives under, in the image's own repository.
CACHE_TAG = "cache"

#: Target platforms EKS node groups run: x86 (`linux/amd64`) and Graviton (`linux/arm64`).
Platform = Literal["linux/amd64", "linux/arm64"]

# Docker's tag grammar: up to 128 characters, starting with a word character.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# ECR repository names (lowercase, path components separated by '/').
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _relative_path(value: str, field: str) -> str:
    # A stack file is shared by every machine that deploys it: an absolute path would work on one
    # of them only, and would leak that machine's layout into the synthesised output.
    if not value or value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", value) or "://" in value:
        raise ValueError(
            f"{field} must be a path relative to the project root, such as 'app' (got {value!r})"
        )
    return value


class ContainerImageArgs(Model):
    """What to build and where to keep it (stack section `lmagent-infra:image`)."""

    context: str = Field(
        default="app",
        description=(
            "Build context directory, relative to the project root (where `pulumi up` runs). "
            "Default: `app`, the reference service in this repository. A missing directory stops "
            "the program before anything is registered."
        ),
    )
    dockerfile: str | None = Field(
        default=None,
        description=(
            "Dockerfile path relative to the project root. Default: `<context>/Dockerfile`. A "
            "missing file stops the program before anything is registered."
        ),
    )
    build_args: dict[str, str] = Field(
        default={},
        description=(
            "`ARG` values for the build. Default: none. They are stored in the image's history, so "
            "never put a secret here."
        ),
    )
    target: str | None = Field(
        default=None,
        description="Dockerfile stage to build. Default: the last stage, as `docker build` does.",
    )
    platforms: list[Platform] = Field(
        default_factory=lambda: list[Platform](["linux/amd64"]),
        min_length=1,
        description=(
            "Platforms to build for. Default: `linux/amd64` (x86 nodes). Add or use `linux/arm64` "
            "for Graviton node groups; two platforms make a multi-platform image (slower build)."
        ),
    )
    tag: str | None = Field(
        default=None,
        description=(
            "Image tag: the git commit. Default: the stack fills it from the `GITHUB_SHA` "
            "environment variable, and outside CI from `dev-<stack>` (see stacks/config.py). Must "
            "match Docker's tag grammar; `latest` is refused (deploys are by digest, and a moving "
            f"tag in an immutable repository fails the second push), so is `{CACHE_TAG}` "
            "(the build cache's tag)."
        ),
    )
    digest: str | None = Field(
        default=None,
        description=(
            "The digest (`sha256:<64 hex>`) of an image the pipeline already built, pushed to this "
            'repository, signed and attested (README, "Supply chain"). When set, nothing is '
            "built: the apps run `<repository>@<digest>`. Default: none, Pulumi builds and pushes "
            "the image itself (an unsigned image, which a cluster enforcing signatures refuses). "
            "The stack fills it from the `IMAGE_DIGEST` environment variable (see stacks/config.py)."
        ),
    )
    repository_name: str | None = Field(
        default=None,
        description=(
            "ECR repository name. Default: Pulumi auto-names it `<component name>-repository-<random>`, "
            "so two stacks in one account never collide; set it when other tooling must know it."
        ),
    )
    encryption: Literal["KMS", "AES256"] = Field(
        default="KMS",
        description=(
            "How ECR encrypts image layers at rest. Default: `KMS`, with the AWS-managed `aws/ecr` "
            "key unless `kmsKeyArn` names your own; `AES256` uses S3-managed keys."
        ),
    )
    kms_key_arn: InputStr | None = Field(
        default=None,
        description=(
            "Customer-managed KMS key ARN for `encryption: KMS` (may be an Output, such as a key's "
            "`arn`). Default: the AWS-managed key. "
            "Changing encryption later replaces the repository (and deletes its images)."
        ),
    )
    keep_tagged_images: int = Field(
        default=30,
        ge=1,
        le=10000,
        description=(
            "How many tagged images the lifecycle policy keeps (the newest by push time); older "
            "ones expire, and untagged artifacts (signatures, attestations) are never expired by "
            "age. Default: 30, enough to roll back a month of daily deploys."
        ),
    )
    force_delete: bool = Field(
        default=False,
        description=(
            "Let `pulumi destroy` delete the repository with its images in it. Default: false, so "
            "images of running deployments cannot vanish; staging sets true to tear down cleanly."
        ),
    )

    @field_validator("context")
    @classmethod
    def _context_is_relative(cls, value: str) -> str:
        return _relative_path(value, "context")

    @field_validator("dockerfile")
    @classmethod
    def _dockerfile_is_relative(cls, value: str | None) -> str | None:
        return None if value is None else _relative_path(value, "dockerfile")

    @field_validator("tag")
    @classmethod
    def _tag_is_safe(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() == "latest":
            raise ValueError(
                "must not be 'latest': tag with the git commit (deploys use the digest, and "
                "the repository's tags are immutable)"
            )
        if value == CACHE_TAG:
            raise ValueError(f"must not be {CACHE_TAG!r}: that tag holds the build cache")
        if not _TAG.match(value):
            raise ValueError(
                "must be a git commit sha or a tag of letters, digits, '_', '.' and '-' "
                "(at most 128, not starting with '.' or '-')"
            )
        return value

    @field_validator("digest")
    @classmethod
    def _digest_is_sha256(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError("must be an image digest, sha256: and 64 lowercase hex digits")
        return value

    @field_validator("repository_name")
    @classmethod
    def _repository_name_is_valid(cls, value: str | None) -> str | None:
        if value is not None and not (2 <= len(value) <= 256 and _REPOSITORY.match(value)):
            raise ValueError("must be 2-256 lowercase letters, digits and '._-/' separators, as ECR requires")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _kms_key_arn_is_an_arn(cls, value: Any) -> Any:
        def check(arn: str) -> str:
            if not isinstance(arn, str) or not _KMS_KEY_ARN.match(arn):
                raise ValueError("must be a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>")
            return arn

        return None if value is None else check_later("kms_key_arn", value, check)

    @field_validator("build_args")
    @classmethod
    def _build_arg_names_are_valid(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k in value if not _BUILD_ARG.match(k))
        if bad:
            raise ValueError(f"ARG names must be letters, digits and '_' (bad: {bad})")
        return value

    @field_validator("platforms")
    @classmethod
    def _platforms_are_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not list a platform twice")
        return value

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> ContainerImageArgs:
        if self.kms_key_arn is not None and self.encryption != "KMS":
            raise ValueError(
                f"kmsKeyArn is set but encryption is {self.encryption!r}: a KMS key needs "
                "encryption 'KMS' (or remove kmsKeyArn)"
            )
        return self

    @property
    def dockerfile_path(self) -> str:
        """The Dockerfile to build, relative to the project root."""
        return self.dockerfile or f"{self.context.rstrip('/')}/Dockerfile"

    def path_problems(self, root: Path) -> list[str]:
        """One line per missing build input, `<key>: <problem>`, paths resolved against `root`."""
        problems = []
        if not (root / self.context).is_dir():
            problems.append(
                f"context: build context directory {self.context!r} does not exist "
                f"(looked for {root / self.context})"
            )
        elif not (root / self.dockerfile_path).is_file():
            key = "dockerfile" if self.dockerfile else "context"
            problems.append(
                f"{key}: Dockerfile {self.dockerfile_path!r} does not exist "
                f"(looked for {root / self.dockerfile_path})"
            )
        return problems

    def lifecycle_policy(self) -> dict[str, Any]:
        """The ECR lifecycle policy document: keep the newest tagged images and the build cache.

        No rule selects untagged artifacts. The signatures and attestations CI attaches to an image
        (cosign 3's Sigstore bundles, OCI referrers) and the manifests inside an image index carry
        no tag, and ECR's lifecycle rules act on such artifacts like on images
        (aws/containers-roadmap#2613): an untagged-expiry rule would delete the signature of a
        running image, and the admission policy would then refuse its next pod. The cost is that
        replaced build-cache manifests stay; their layers are mostly shared with the images kept.
        """
        return {
            "rules": [
                {
                    # An image matched by a higher-priority rule cannot be expired by a lower one:
                    # this rule shields the one build-cache image from the count below.
                    "rulePriority": 2,
                    "description": f"Keep the build cache image (tag {CACHE_TAG!r})",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": [CACHE_TAG],
                        "countType": "imageCountMoreThan",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 3,
                    "description": f"Keep the newest {self.keep_tagged_images} tagged images",
                    "selection": {
                        "tagStatus": "tagged",
                        "tagPatternList": ["*"],
                        "countType": "imageCountMoreThan",
                        "countNumber": self.keep_tagged_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }


class ContainerImage(pulumi.ComponentResource):
    """An ECR repository (immutable tags, scan on push, encrypted, lifecycle policy) and the image
    built with BuildKit, pushed to it with a registry cache, and exposed by digest."""

    repository_url: pulumi.Output[str]
    """The ECR repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`)."""

    repository_arn: pulumi.Output[str]
    """The ECR repository ARN."""

    image_ref: pulumi.Output[str]
    """The pushed image by digest (`<repository URL>@sha256:...`): what to deploy."""

    tag: str
    """The tag the image is pushed under (the git commit, normally)."""

    def __init__(
        self,
        name: str,
        args: ContainerImageArgs,
        *,
        tags: dict[str, str] | None = None,
        protect: bool | None = None,
        root: Path | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the repository and the image `name` built from `args` (paths relative to `root`,
        default the working directory). `protect` (or `opts.protect`; default on) protects the
        repository, which holds every image deployed from it."""
        where = f"ContainerImage {name!r}"
        args = as_args(where, ContainerImageArgs, args)
        protect = resolve_protect(where, protect, opts)
        # Checked before anything is registered, so a typo in a path leaves nothing half-built.
        problems = args.path_problems(root or Path.cwd())
        if problems:
            raise ValueError(f"ContainerImage {name!r}: " + "; ".join(problems))
        if args.tag is None:
            raise ValueError(f"ContainerImage {name!r}: tag: is required (got None): pass the git commit sha")
        super().__init__("lmagent:components:ContainerImage", name, None, opts)
        self.tag = args.tag
        aws_tags = {**(tags or {}), "component": "image"}

        repository = aws.ecr.Repository(
            f"{name}-repository",
            aws.ecr.RepositoryArgs(
                name=args.repository_name,
                # Immutable, except the one tag BuildKit overwrites with the layer cache on every
                # build: a fully immutable repository rejects the second cache push.
                image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
                image_tag_mutability_exclusion_filters=[
                    aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(
                        filter=CACHE_TAG, filter_type="WILDCARD"
                    )
                ],
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(
                        encryption_type=args.encryption, kms_key=args.kms_key_arn
                    )
                ],
                force_delete=args.force_delete,
                tags=aws_tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            aws.ecr.LifecyclePolicyArgs(
                repository=repository.name,
                policy=json.dumps(args.lifecycle_policy(), sort_keys=True),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

        url = repository.repository_url
        if args.digest is not None:
            # Built, pushed and signed by the pipeline before `pulumi up` (one build per release).
            digest: pulumi.Input[str] = args.digest
        else:
            digest = self._build(name, args, url, repository.registry_id)

        self.repository_url = url
        self.repository_arn = repository.arn
        # Deploy by digest: the tag names the commit, the digest pins the exact bytes.
        self.image_ref = pulumi.Output.all(url, digest).apply(lambda a: f"{a[0]}@{a[1]}")
        self.register_outputs(
            {
                "repositoryUrl": self.repository_url,
                "repositoryArn": self.repository_arn,
                "imageRef": self.image_ref,
                "tag": self.tag,
            }
        )

    def _build(
        self, name: str, args: ContainerImageArgs, url: pulumi.Output[str], registry_id: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        """Build with BuildKit and push to the repository; the pushed digest."""
        token = aws.ecr.get_authorization_token_output(
            registry_id=registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        cache_ref = url.apply(lambda u: f"{u}:{CACHE_TAG}")
        image = docker_build.Image(
            f"{name}-image",
            docker_build.ImageArgs(
                context=docker_build.BuildContextArgs(location=args.context),
                dockerfile=docker_build.DockerfileArgs(location=args.dockerfile_path),
                build_args=args.build_args or None,
                target=args.target,
                platforms=[docker_build.Platform(p) for p in args.platforms],
                # The registry host must be in the tag: a bare name pushes to Docker Hub.
                tags=[url.apply(lambda u: f"{u}:{args.tag}")],
                push=True,
                registries=[
                    docker_build.RegistryArgs(
                        address=url.apply(lambda u: u.split("/", 1)[0]),
                        username=token.user_name,
                        password=pulumi.Output.secret(token.password),
                    )
                ],
                cache_from=[
                    docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=cache_ref))
                ],
                cache_to=[
                    docker_build.CacheToArgs(
                        registry=docker_build.CacheToRegistryArgs(
                            ref=cache_ref,
                            # ECR only accepts the cache as an OCI image manifest.
                            image_manifest=True,
                            oci_media_types=True,
                            mode=docker_build.CacheMode.MAX,
                        )
                    )
                ],
            ),
            # Deleting an Image deletes its pushed tags from the registry (pulumi-docker-build
            # 0.0.22, Image docstring, "Tag deletion and refreshes"). It is deleted from the state
            # when a stack switches to images the pipeline builds (`digest`): the image it pushed
            # may still be running, so the registry keeps it and the lifecycle policy expires it.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )

        return image.digest
