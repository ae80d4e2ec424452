"""The only reader of stack configuration: typed, validated, every problem reported at once.

`load()` reads the `lmagent-infra:*` keys and `aws:region` that `pulumi up` (or `synth`) provides,
validates them into `StackConfig` before any resource is registered, and raises `ConfigError`
listing every problem, one line each, in the stack file's words:

    Pulumi.production.yaml: lmagent-infra:apps.lmagent-api.replicas: must be >= 2 in production (got 1)

Secret config values (`pulumi config set --secret`) are never read as plain values here: config
names them (`SecretName` fields), and `StackConfig.secret(name)` returns the Pulumi secret Output.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import typing
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pulumi
import pydantic
from pulumi.runtime import config as _runtime_config
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from components._model import ENVIRONMENT, Model, SecretName
from components.admission import AdmissionArgs
from components.app import AppServiceArgs, check_apps
from components.bootstrap import GithubRepository, PipelineRolesArgs, RunnerArgs, StateBackendArgs
from components.cluster import RUNNER_CIDRS_LATER, EksClusterArgs
from components.database import PostgresDatabaseArgs
from components.database._args import check_identifier
from components.database._users import check_role_name
from components.edge import EdgeArgs, host_in_zone
from components.image import ContainerImageArgs
from components.karpenter import KarpenterArgs
from components.monitoring import MonitoringArgs
from components.network import NetworkArgs
from stacks._errors import explain, show

PROJECT = "lmagent-infra"

#: The environments a stack can be. Production turns on the guardrails that staging relaxes.
Environment = Literal["staging", "production"]

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_QUALIFIED_STACK = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def _tag_keys(tags: dict[str, str]) -> dict[str, str]:
    bad = [k for k in tags if not 0 < len(k) <= 128 or k.lower().startswith("aws:")]
    if bad:
        raise ValueError(f"tag keys must be 1-128 characters and not start with 'aws:' (bad: {bad})")
    return tags


#: Extra AWS tags, as both the platform's and the bootstrap's config take them: keys AWS accepts.
Tags = typing.Annotated[dict[str, str], AfterValidator(_tag_keys)]


class StackConfig(Model):
    """Everything a stack file may set under `lmagent-infra:`; each section documents its defaults."""

    environment: Environment = Field(
        default="production",
        description=(
            "Which guardrails apply. Default: `production` (the strictest: replicas >= 2, images by "
            "digest, no public endpoint open to the world...). Staging sets `staging` explicitly."
        ),
    )
    protect: bool = Field(
        default=True,
        description=(
            "Mark what holds data or is expensive to rebuild with `protect=True` (and "
            "retain-on-delete / deletion protection where AWS offers it). Default: on; staging "
            "turns it off so the environment can be torn down."
        ),
    )
    tags: Tags = Field(
        default={},
        description="Extra AWS tags on every resource, merged over project/stack/component/managed-by.",
    )
    bootstrap_stack: str | None = Field(
        default=None,
        description=(
            "The bootstrap stack of this account, as `<organization>/<project>/<stack>` (with the "
            "S3 backend: `organization/lmagent-infra-bootstrap/main`). When set, the cluster's "
            "deploy and read-only roles and the deploy runners' egress CIDRs (added to the public "
            "endpoint's allowlist) are read from its outputs `deployRoleArns`, `readOnlyRoleArn` "
            "and `runnerEgressCidrs`. Default: none; the roles are then "
            "`arn:aws:iam::<account>:role/lmagent-infra-deploy-<stack>` and "
            "`.../lmagent-infra-readonly`, and no runner CIDRs are added."
        ),
    )
    network: NetworkArgs = Field(
        default_factory=NetworkArgs,
        description=(
            "The VPC (components/network.py). Default: 10.0.0.0/16 over 3 AZs, a NAT gateway per "
            "AZ, flow logs kept 90 days, an S3 gateway endpoint."
        ),
    )
    cluster: EksClusterArgs = Field(
        default_factory=EksClusterArgs,
        description=(
            "The EKS cluster (components/cluster.py). Default: `lmagent-<stack>`, private API "
            "endpoint only, KMS-encrypted secrets, api/audit/authenticator logs, one ON_DEMAND "
            "node group of 3-6 m6i.large."
        ),
    )
    apps: typing.Annotated[dict[str, AppServiceArgs], AfterValidator(check_apps)] = Field(
        default_factory=lambda: {"lmagent-api": AppServiceArgs(database="main")},
        description=(
            "The services to run, app name -> settings (components/app.py `AppServiceArgs`). "
            "Default: the reference service `lmagent-api` with every default (port 8000, probes "
            "/health and /ready, 2-6 pods, namespace `lmagent`) and the database `main`, running "
            "the image the stack builds. "
            "Setting the map replaces it: list every app."
        ),
    )
    databases: dict[str, PostgresDatabaseArgs] = Field(
        default_factory=lambda: {"main": PostgresDatabaseArgs()},
        description=(
            "RDS PostgreSQL databases, name -> settings (components/database `PostgresDatabaseArgs`); "
            "an app uses one with `database: <name>`. Default: `main` with every default (db.m6g.large "
            "Multi-AZ, 50-200 GiB gp3, 14 days of RDS backups, AWS Backup daily and continuous for 35 "
            "days in a compliance-locked vault), used by the default app `lmagent-api`. Setting the "
            "map replaces it: list every database. A database no app uses is still created."
        ),
    )
    image: ContainerImageArgs = Field(
        default_factory=ContainerImageArgs,
        description=(
            "The service image: ECR repository and build (components/image.py). Default: build "
            "`app/` for linux/amd64 into a KMS-encrypted, immutable-tag repository; the tag comes "
            "from here, else `GITHUB_SHA`, else `dev-<stack>` (see `resolve_image_tag`)."
        ),
    )
    admission: AdmissionArgs = Field(
        default_factory=AdmissionArgs,
        description=(
            "The admission controller (components/admission.py): Kyverno with 3 admission replicas, "
            "and a policy refusing, in every app namespace, pods whose images are not signed by "
            "this repository's `infra.yml` workflow on `main`. Default: `Enforce`, failing closed; "
            "staging sets `Audit` and its own branch."
        ),
    )
    monitoring: MonitoringArgs = Field(
        default_factory=MonitoringArgs,
        description=(
            "Metrics, alerts, dashboards, logs and traces (components/monitoring.py). Default: "
            "2 Prometheus (15d, 50Gi each) and 2 Alertmanager replicas paging on critical, Loki on "
            "an encrypted S3 bucket for 31 days, 2 OTLP collectors in front of Jaeger; secrets "
            "`grafanaAdminPassword`, `alertmanagerSlackWebhook`, `alertmanagerPagerdutyRoutingKey`."
        ),
    )

    karpenter: KarpenterArgs = Field(
        default_factory=KarpenterArgs,
        description=(
            "Karpenter (components/karpenter/): launches nodes for pods the cluster has no room "
            "for. Default: 2 controller replicas on the managed node group, one on-demand pool "
            "`general` of c/m/r generation 6+ amd64 instances capped at 32 vCPU and 128Gi, "
            "consolidated when under-utilised, nodes replaced after 30 days, AL2023 pinned."
        ),
    )

    @model_validator(mode="after")
    def _apps_are_covered_by_admission(self) -> StackConfig:
        exempt = sorted(
            {str(a.namespace) for a in self.apps.values()} & set(self.admission.excluded_namespaces)
        )
        if exempt:
            raise ValueError(
                f"admission.excludedNamespaces lists app namespaces {exempt}: the image policy "
                "must cover every app; remove them from the list"
            )
        return self

    @field_validator("bootstrap_stack")
    @classmethod
    def _stack_name_is_qualified(cls, value: str | None) -> str | None:
        if value is not None and not _QUALIFIED_STACK.match(value):
            raise ValueError(
                "must name a stack fully as <organization>/<project>/<stack>, e.g. "
                "organization/lmagent-infra-bootstrap/main"
            )
        return value

    edge: EdgeArgs | None = Field(
        default=None,
        description=(
            "The public HTTPS entry (components/edge): load balancer controller, certificate, DNS "
            "and WAF for the apps that set `public`. Default: none, and every app is reachable only "
            'inside the cluster. Needs a Route 53 hosted zone (README, "Public entry").'
        ),
    )

    @field_validator("cluster")
    @classmethod
    def _creator_is_not_a_second_entry(cls, cluster: EksClusterArgs) -> EksClusterArgs:
        # A stack always has a deploy role (from the bootstrap stack or by its naming), and the
        # pipeline creates the cluster as that role: EKS would give it an entry of its own and a
        # principal may have only one (EKS user guide, "Create access entries").
        if cluster.bootstrap_creator_admin:
            raise ValueError(
                "bootstrapCreatorAdmin: true would give the deploy role, which creates the cluster, "
                "a second EKS access entry (one per principal is allowed); allowed: false, with extra "
                "admins in adminPrincipalArns"
            )
        return cluster

    @field_validator("databases")
    @classmethod
    def _database_names(cls, value: dict[str, PostgresDatabaseArgs]) -> dict[str, PostgresDatabaseArgs]:
        for name in value:
            check_identifier(name)
        return value

    @model_validator(mode="after")
    def _apps_name_declared_databases(self) -> StackConfig:
        for name, app in sorted(self.apps.items()):
            if app.database is not None and app.database not in self.databases:
                declared = sorted(self.databases) or "none (declare it under databases)"
                raise ValueError(
                    f"apps.{name}.database: names database {app.database!r}, which `databases` does not "
                    f"declare; allowed: one of {declared}"
                )
            if app.database is not None:
                # The app's own PostgreSQL role is named after it (components/database/_users.py).
                try:
                    check_role_name(app.name or name, self.databases[app.database].master_username)
                except ValueError as err:
                    raise ValueError(f"apps.{name}.database: {err}") from None
        return self


class Settings(typing.NamedTuple):
    """The validated stack: its name, region, config, and the secret config keys it may use."""

    stack: str
    region: str
    config: StackConfig
    secret_keys: frozenset[str]

    def secret(self, name: str) -> pulumi.Output[str]:
        """The value of the secret config key `name`, as a Pulumi secret (never a plain string)."""
        if name not in self.secret_keys:
            raise KeyError(f"{PROJECT}:{name} is not a secret config key of stack {self.stack}")
        return pulumi.Config(PROJECT).require_secret(name)


class ConfigError(pulumi.RunError):
    """Stack configuration is invalid; `problems` holds one line per mistake.

    A `RunError`, so `pulumi up` prints the problems without a Python traceback.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(problems))


def load(stack: str | None = None) -> Settings:
    """Read and validate the current stack's configuration, or raise `ConfigError`."""
    stack = stack or pulumi.get_stack()
    source = f"Pulumi.{stack}.yaml"
    everything: Mapping[str, Any] = _runtime_config.CONFIG.get()  # the full map the engine passed
    secret_keys = frozenset(
        k.split(":", 1)[1]
        for k in everything
        if k.startswith(f"{PROJECT}:") and _runtime_config.is_config_secret(k)
    )
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for full_key in sorted(everything):
        namespace, _, key = full_key.partition(":")
        if namespace == PROJECT and key not in secret_keys:
            raw[key] = _parse(cfg.get(key))

    problems: list[str] = []
    # Other namespaces belong to providers (aws:, kubernetes:...), but one that is a typo of the
    # project's would silently drop every setting under it.
    problems.extend(
        f"{source}: {key}: unknown namespace {key.split(':', 1)[0]!r}; did you mean '{PROJECT}:'?"
        for key in sorted(everything)
        if (ns := key.split(":", 1)[0]) != PROJECT and difflib.get_close_matches(ns, [PROJECT], cutoff=0.8)
    )
    region = pulumi.Config("aws").get("region")
    if region is None:
        problems.append(f"{source}: aws:region: is required (e.g. `pulumi config set aws:region us-east-1`)")
    elif not _REGION.match(region):
        problems.append(f"{source}: aws:region: must be an AWS region such as us-east-1 (got {show(region)})")

    problems.extend(
        f"{source}: {PROJECT}:{key}: is a section of the stack config and cannot be a secret; "
        "keep secrets in their own keys and name them from the section"
        for key in sorted(secret_keys & {f.alias or n for n, f in StackConfig.model_fields.items()})
    )
    try:
        config = StackConfig.model_validate(raw, context=validation_context(raw))
    except pydantic.ValidationError as err:
        problems.extend(f"{source}: {line}" for line in explain(err, StackConfig, PROJECT))
        raise ConfigError(problems) from None
    problems.extend(f"{source}: {PROJECT}:{line}" for line in edge_problems(config))
    problems.extend(
        f"{source}: {PROJECT}:{path}: names secret {name!r}, which is not set as a secret "
        f"(`pulumi config set --secret {name} ...`)"
        for path, name in _secret_names(config)
        if name not in secret_keys
    )
    # Build inputs are checked here so a wrong path stops the program before any resource exists;
    # relative to the working directory, which is the project root under `pulumi up`.
    problems.extend(f"{source}: {PROJECT}:image.{line}" for line in config.image.path_problems(Path.cwd()))
    config = resolve_image_tag(config, stack, os.environ, problems)
    config = resolve_image_digest(config, os.environ, problems)
    if problems:
        raise ConfigError(problems)
    assert region is not None
    return Settings(stack=stack, region=region, config=config, secret_keys=secret_keys)


def edge_problems(config: StackConfig) -> list[str]:
    """Public apps checked against the edge: one line per problem, keyed like the stack file."""
    public = {name: app.public for name, app in sorted(config.apps.items()) if app.public is not None}
    if not public:
        return []
    if config.edge is None:
        return [
            f"edge: is required because apps {sorted(public)} set `public`; add "
            "`edge: {zone: {name: <domain>, id: <hosted zone id>}}` or remove `public`"
        ]
    zone = config.edge.zone.name
    problems: list[str] = []
    served: dict[str, str] = {}
    for name, exposure in public.items():
        assert exposure is not None
        if not host_in_zone(exposure.host, zone):
            problems.append(
                f"apps.{name}.public.host: {exposure.host!r} is outside the edge zone {zone!r}; "
                f"allowed: {zone} or <name>.{zone}"
            )
        for path in exposure.paths:
            route = f"{exposure.host}{path}"
            if route in served:
                problems.append(
                    f"apps.{name}.public.paths: {route} is already served by app {served[route]!r}; "
                    "give each app its own host or path"
                )
            served.setdefault(route, name)
    return problems


#: What CI hands in as the commit: a SHA-1 (40) or SHA-256 (64) object name.
_GIT_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def resolve_image_tag(
    config: StackConfig, stack: str, environ: Mapping[str, str], problems: list[str]
) -> StackConfig:
    """`config` with `image.tag` filled in: the stack file's value, else `GITHUB_SHA`, else
    `dev-<stack>`; a bad `GITHUB_SHA` is appended to `problems`.

    Deploys run in CI, where `GITHUB_SHA` names the commit being deployed. Offline synth and a
    laptop have neither, so they get `dev-<stack>`: stable, so synth output is deterministic, and
    safe, because the repository's tags are immutable: a second, different build under the same
    tag is refused by ECR instead of overwriting what runs. In production that fallback is also
    logged as a warning.
    """
    if config.image.tag is not None:
        return config
    sha = environ.get("GITHUB_SHA") or None  # an empty variable is an unset one
    if sha is not None and not _GIT_SHA.match(sha):
        problems.append(
            f"GITHUB_SHA: must be a git commit sha, 40 or 64 lowercase hex digits (got {show(sha)}); "
            f"or set {PROJECT}:image.tag"
        )
        return config
    tag = sha or f"dev-{stack}"
    if sha is None and config.environment == "production":
        pulumi.log.warn(
            f"{PROJECT}:image.tag is not set and GITHUB_SHA is empty: tagging the image {tag!r}; "
            "deploy production from CI or set image.tag to the commit"
        )
    image = ContainerImageArgs.model_validate({**config.image.model_dump(), "tag": tag})
    return config.model_copy(update={"image": image})


def resolve_image_digest(config: StackConfig, environ: Mapping[str, str], problems: list[str]) -> StackConfig:
    """`config` with `image.digest` from `IMAGE_DIGEST` (the digest the pipeline built, pushed and
    signed before `pulumi up`) unless the stack file sets one; a bad value goes to `problems`.

    Without either, Pulumi builds the image itself; under an enforcing admission policy that
    unsigned image is refused, which is logged as a warning here.
    """
    digest = environ.get("IMAGE_DIGEST") or None
    if config.image.digest is None and digest is not None:
        try:
            image = ContainerImageArgs.model_validate({**config.image.model_dump(), "digest": digest})
        except pydantic.ValidationError:
            problems.append(f"IMAGE_DIGEST: must be sha256: and 64 lowercase hex digits (got {show(digest)})")
            return config
        config = config.model_copy(update={"image": image})
    if config.image.digest is None and config.admission.mode == "Enforce":
        pulumi.log.warn(
            f"{PROJECT}:image.digest is not set and IMAGE_DIGEST is empty: Pulumi builds an unsigned "
            "image, which the enforcing admission policy refuses; deploy from the pipeline"
        )
    return config


def referenced_secrets(config: Mapping[str, Any], secret_keys: Collection[str] = ()) -> set[str]:
    """The secret config key names a stack's config refers to (empty if the config is invalid).

    `config` maps full keys to values as a stack file holds them; `secret_keys` (full keys) are
    left out, as `load()` leaves them out of the sections. The offline `synth` uses this to
    stand in placeholders for secrets that only exist on an operator's machine; `load()` still
    reports a missing secret under `pulumi up`.
    """
    raw = {
        key.split(":", 1)[1]: _parse(value) if isinstance(value, str) else value
        for key, value in config.items()
        # Secret keys are not sections (load() leaves them out too): validating them as sections
        # would fail and hide every secret the sections name.
        if key.startswith(f"{PROJECT}:") and key not in secret_keys
    }
    try:
        validated = StackConfig.model_validate(raw, context=validation_context(raw))
    except pydantic.ValidationError:
        return set()
    return {name for _, name in _secret_names(validated)}


def validation_context(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What the models' validators need to know about the stack: its environment, and whether the
    deploy runners' CIDRs will come from a bootstrap stack."""
    return {
        ENVIRONMENT: raw.get("environment", "production"),
        RUNNER_CIDRS_LATER: bool(raw.get("bootstrapStack")),
    }


def _parse(value: str | None) -> Any:
    # The engine passes every value as a string; structured values (objects, lists, numbers,
    # booleans) as JSON. A plain string such as `staging` is not JSON and stays as it is.
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _secret_names(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every `SecretName` in the validated config, with its dotted key path."""
    if isinstance(value, SecretName):
        yield path, str(value)
    elif isinstance(value, BaseModel):
        for name, f in type(value).model_fields.items():
            key = f.alias or name
            yield from _secret_names(getattr(value, name), f"{path}.{key}" if path else key)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _secret_names(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _secret_names(v, f"{path}[{i}]")


# ---------------------------------------------------------------------------------------------
# The bootstrap project (bootstrap/Pulumi.yaml): run once per account, before the platform stacks.

BOOTSTRAP_PROJECT = "lmagent-infra-bootstrap"

_ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def _runner_network() -> NetworkArgs:
    return NetworkArgs(cidr="10.250.0.0/20", az_count=2, nat="single", flow_log_retention_days=30)


class BootstrapConfig(Model):
    """Everything `bootstrap/Pulumi.<stack>.yaml` may set under `lmagent-infra-bootstrap:`."""

    github: GithubRepository = Field(
        description=(
            "The repository whose workflows may assume the roles (`owner`, `repo`, "
            "`defaultBranch`). Required: there is no safe default for who may deploy."
        )
    )
    environments: list[str] = Field(
        default=["staging", "production"],
        description=(
            "The platform stacks, each also a GitHub environment of the same name: one deploy role "
            "and one runner project each. Default: staging and production."
        ),
    )
    tags: Tags = Field(
        default={},
        description="Extra AWS tags on every resource, merged over project/stack/component/managed-by.",
    )
    state: StateBackendArgs = Field(
        default_factory=StateBackendArgs,
        description=(
            "The Pulumi state bucket and the key for stack secrets. Default: bucket "
            "`lmagent-infra-state-<random>`, key alias `lmagent-infra-state`, old versions kept 90 days."
        ),
    )
    roles: PipelineRolesArgs = Field(
        default_factory=PipelineRolesArgs,
        description="The deploy and read-only roles. Default: 1-hour sessions, no extra attachable policies.",
    )
    runners: RunnerArgs = Field(
        default_factory=RunnerArgs,
        description=(
            "The CodeBuild-hosted GitHub Actions runners. Default: SMALL compute, jobs of the `infra` "
            "workflow only, created once `connectionReady` is true."
        ),
    )
    network: NetworkArgs = Field(
        default_factory=_runner_network,
        description=(
            "The runners' VPC (components/network.py). Default: 10.250.0.0/20 over 2 AZs with one NAT "
            "gateway, whose one Elastic IP is the runners' fixed egress address; flow logs 30 days."
        ),
    )

    @field_validator("environments")
    @classmethod
    def _environments_are_valid(cls, value: list[str]) -> list[str]:
        bad = [env for env in value if not _ENVIRONMENT_NAME.match(env)]
        if bad:
            raise ValueError(
                f"must be lowercase stack names: a letter, then letters, digits or '-' (bad: {bad})"
            )
        if not value or len(set(value)) != len(value):
            raise ValueError("must list at least one environment, each once")
        return value

    @field_validator("network")
    @classmethod
    def _runners_have_fixed_egress(cls, value: NetworkArgs) -> NetworkArgs:
        if value.nat == "none":
            raise ValueError(
                "nat must be `single` or `per-az`: the runners reach GitHub and the cluster only "
                "through the NAT gateways, whose addresses the clusters allowlist"
            )
        return value


class BootstrapSettings(typing.NamedTuple):
    """The validated bootstrap stack: its name, region and config."""

    stack: str
    region: str
    config: BootstrapConfig


def load_bootstrap(stack: str | None = None) -> BootstrapSettings:
    """Read and validate the bootstrap stack's configuration, or raise `ConfigError`."""
    stack = stack or pulumi.get_stack()
    source = f"bootstrap/Pulumi.{stack}.yaml"
    everything: Mapping[str, Any] = _runtime_config.CONFIG.get()
    cfg = pulumi.Config(BOOTSTRAP_PROJECT)
    raw = {
        key.partition(":")[2]: _parse(cfg.get(key.partition(":")[2]))
        for key in sorted(everything)
        if key.startswith(f"{BOOTSTRAP_PROJECT}:")
    }
    problems: list[str] = []
    region = pulumi.Config("aws").get("region")
    if region is None:
        problems.append(f"{source}: aws:region: is required (e.g. `pulumi config set aws:region us-east-1`)")
    elif not _REGION.match(region):
        problems.append(f"{source}: aws:region: must be an AWS region such as us-east-1 (got {show(region)})")
    try:
        # The runners' network is held to production's rules: it carries every deployment.
        config = BootstrapConfig.model_validate(raw, context={ENVIRONMENT: "production"})
    except pydantic.ValidationError as err:
        problems.extend(f"{source}: {line}" for line in explain(err, BootstrapConfig, BOOTSTRAP_PROJECT))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    assert region is not None
    return BootstrapSettings(stack=stack, region=region, config=config)
