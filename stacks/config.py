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
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import pulumi
import pydantic
from pulumi.runtime import config as _runtime_config
from pydantic import AfterValidator, BaseModel, Field, field_validator

from components._model import ENVIRONMENT, Model, SecretName
from components.app import AppServiceArgs, check_apps
from components.cluster import EksClusterArgs
from components.image import ContainerImageArgs
from components.monitoring import MonitoringArgs
from components.network import NetworkArgs

PROJECT = "lmagent-infra"

#: The environments a stack can be. Production turns on the guardrails that staging relaxes.
Environment = Literal["staging", "production"]

_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


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
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Extra AWS tags on every resource, merged over project/stack/component/managed-by.",
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
        default_factory=lambda: {"lmagent-api": AppServiceArgs()},
        description=(
            "The services to run, app name -> settings (components/app.py `AppServiceArgs`). "
            "Default: the reference service `lmagent-api` with every default (port 8000, probes "
            "/health and /ready, 2-6 pods, namespace `lmagent`), running the image the stack builds. "
            "Setting the map replaces it: list every app."
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
    monitoring: MonitoringArgs = Field(
        default_factory=MonitoringArgs,
        description=(
            "Metrics, alerts, dashboards, logs and traces (components/monitoring.py). Default: "
            "2 Prometheus (15d, 50Gi each) and 2 Alertmanager replicas paging on critical, Loki on "
            "an encrypted S3 bucket for 31 days, 2 OTLP collectors in front of Jaeger; secrets "
            "`grafanaAdminPassword`, `alertmanagerSlackWebhook`, `alertmanagerPagerdutyRoutingKey`."
        ),
    )

    @field_validator("tags")
    @classmethod
    def _tags_are_valid(cls, tags: dict[str, str]) -> dict[str, str]:
        bad = [k for k in tags if not 0 < len(k) <= 128 or k.lower().startswith("aws:")]
        if bad:
            raise ValueError(f"tag keys must be 1-128 characters and not start with 'aws:' (bad: {bad})")
        return tags


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
        problems.append(
            f"{source}: aws:region: must be an AWS region such as us-east-1 (got {_show(region)})"
        )

    problems.extend(
        f"{source}: {PROJECT}:{key}: is a section of the stack config and cannot be a secret; "
        "keep secrets in their own keys and name them from the section"
        for key in sorted(secret_keys & {f.alias or n for n, f in StackConfig.model_fields.items()})
    )
    environment = raw.get("environment", "production")
    try:
        config = StackConfig.model_validate(raw, context={ENVIRONMENT: environment})
    except pydantic.ValidationError as err:
        problems.extend(f"{source}: {line}" for line in _explain(err))
        raise ConfigError(problems) from None
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
    if problems:
        raise ConfigError(problems)
    assert region is not None
    return Settings(stack=stack, region=region, config=config, secret_keys=secret_keys)


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
            f"GITHUB_SHA: must be a git commit sha, 40 or 64 lowercase hex digits (got {_show(sha)}); "
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
        if key.startswith(f"{PROJECT}:") and key not in secret_keys and not _is_secret_value(value)
    }
    try:
        validated = StackConfig.model_validate(
            raw, context={ENVIRONMENT: raw.get("environment", "production")}
        )
    except pydantic.ValidationError:
        return set()
    return {name for _, name in _secret_names(validated)}


def _is_secret_value(value: Any) -> bool:
    # A stack file's `{secure: ...}`, or the placeholder synth stands in for it.
    return value == "[secret]" or (isinstance(value, Mapping) and set(value) == {"secure"})


def _parse(value: str | None) -> Any:
    # The engine passes every value as a string; structured values (objects, lists, numbers,
    # booleans) as JSON. A plain string such as `staging` is not JSON and stays as it is.
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


# ---------------------------------------------------------------------------------------------
# Errors in the stack file's words


def _explain(err: pydantic.ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        loc = _aliased(tuple(e["loc"]))
        path = PROJECT + ":" + _dotted(loc)
        lines.append(f"{path}: {_message(e, loc)}")
    return lines


def _aliased(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """`loc` with field names replaced by the stack file's camelCase keys.

    pydantic reports a default value's error under the Python field name (`public_access_cidrs`),
    an explicit value's under the alias; the stack file only knows the alias.
    """
    out: list[Any] = []
    node: Any = StackConfig
    for part in loc:
        model = _unwrap(node)
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            part = model.model_fields[part].alias or part
        out.append(part)
        node = _step(node, part) if node is not None else None
    return tuple(out)


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(e: Any, loc: tuple[Any, ...]) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    got = f" (got {_show(e.get('input'))})"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key{hint} (allowed: {', '.join(allowed)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    simple = {
        "greater_than_equal": f"must be >= {ctx.get('ge')}",
        "greater_than": f"must be > {ctx.get('gt')}",
        "less_than_equal": f"must be <= {ctx.get('le')}",
        "less_than": f"must be < {ctx.get('lt')}",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "string_type": "must be a string",
        "dict_type": "must be a mapping of keys to values",
        "list_type": "must be a list",
        "model_type": "must be a mapping of keys to values",
        "model_attributes_type": "must be a mapping of keys to values",
        "string_pattern_mismatch": f"must match {ctx.get('pattern')}",
        "too_short": f"must have at least {ctx.get('min_length')} item(s)",
        "too_long": f"must have at most {ctx.get('max_length')} item(s)",
        "string_too_short": f"must be at least {ctx.get('min_length')} character(s)",
        "string_too_long": f"must be at most {ctx.get('max_length')} character(s)",
    }
    if kind in simple:
        return simple[kind] + got
    msg = str(e["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return f"{msg}{got}"


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys a stack file may write at `loc` (camelCase aliases), for "did you mean"."""
    node: Any = StackConfig
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    if isinstance(node, type) and issubclass(node, BaseModel):
        return sorted(f.alias or n for n, f in node.model_fields.items())
    return []


def _step(node: Any, part: Any) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        for name, f in node.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    origin, args = typing.get_origin(node), typing.get_args(node)
    if origin in (dict, Mapping) and len(args) == 2:
        return args[1]
    if origin in (list, tuple) and args:
        return args[0]
    return None


def _unwrap(node: Any) -> Any:
    # Optional[X] / X | None -> X; Annotated[X, ...] -> X.
    while True:
        origin = typing.get_origin(node)
        if origin is typing.Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            if len(args) != 1:
                return node
            node = args[0]
        else:
            return node


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
