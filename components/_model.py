"""The base of every args and config model (frozen, strict about keys, camelCase aliases) and the
value types and rules the components share: Kubernetes quantities, secret names, production minimums."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar, get_args

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler, TypeAdapter, ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, ValidationError, core_schema

M = TypeVar("M", bound="Model")


class Model(BaseModel):
    """Frozen pydantic model: unknown keys are errors, YAML uses camelCase, Python uses snake_case.

    The same model validates a consumer's Python call (`AppServiceArgs(image=...)`) and the
    stack's YAML (`{"image": ...}`), so there is no second mapping layer where a typo could pass.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        validate_default=True,
        # The docstring under each field is its description (in the API reference and in
        # `model_fields[...].description`), so a field is documented once.
        use_attribute_docstrings=True,
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise with_hints(err, type(self)) from None

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Literal["allow", "ignore", "forbid"] | None = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """pydantic's `model_validate`, with "did you mean" for unknown keys."""
        try:
            return super().model_validate(
                obj,
                strict=strict,
                extra=extra,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except ValidationError as err:
            raise with_hints(err, cls) from None

    # Tells pydantic this is its own `__init__` (only the error differs), so validation keeps
    # building instances itself, with the caller's context, instead of calling this.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


def with_hints(err: ValidationError, model: type[BaseModel]) -> ValidationError:
    """`err` with each unknown key explained: "did you mean" the closest field, and the fields allowed.

    pydantic says only "Extra inputs are not permitted"; the stack file's errors
    (`stacks/_errors.py`) say what was meant, and a Python caller gets the same here.
    """
    errors = err.errors(include_url=False)
    if not any(e["type"] == "extra_forbidden" for e in errors):
        return err
    details: list[InitErrorDetails] = []
    for e in errors:
        if e["type"] != "extra_forbidden":
            details.append(
                InitErrorDetails(type=e["type"], loc=e["loc"], input=e["input"], ctx=e.get("ctx", {}))
            )
            continue
        owner = _model_at(model, e["loc"][:-1])
        key = str(e["loc"][-1])
        fields = owner.model_fields if owner is not None else {}
        # Answer in the caller's style: camelCase (a stack file, a JSON mapping) or snake_case.
        camel = key != key.lower() and "_" not in key
        names = sorted((f.alias or n) if camel else n for n, f in fields.items())
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = f"unknown key {key!r}{hint} (allowed: {', '.join(names)})"
        details.append(
            InitErrorDetails(
                type=PydanticCustomError("extra_forbidden", message.replace("{", "{{").replace("}", "}}")),
                loc=e["loc"],
                input=e["input"],
            )
        )
    return ValidationError.from_exception_data(err.title, details)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the key at `loc` (nested models, lists and dicts followed)."""
    import typing

    node: Any = model
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            fields = {**node.model_fields, **{f.alias: f for f in node.model_fields.values() if f.alias}}
            if part not in fields:
                return None
            node = fields[part].annotation
        while typing.get_origin(node) is not None and not (isinstance(node, type)):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            origin = typing.get_origin(node)
            if origin is typing.Annotated:
                node = args[0]
            elif origin in (dict, Mapping) and len(args) == 2 and isinstance(part, str):
                node = args[1]
                break
            elif origin is list and args:
                node = args[0]
                break
            elif len(args) == 1:
                node = args[0]
            else:
                return None
    return node if isinstance(node, type) and issubclass(node, BaseModel) else None


def as_args(component: str, model: type[M], value: object) -> M:
    """`value` as a `model` instance: the instance itself, or a mapping validated into one.

    Anything else is a TypeError that names what was expected, instead of an AttributeError
    somewhere inside the component.
    """
    if isinstance(value, model):
        return value
    if isinstance(value, Mapping):
        try:
            return model.model_validate(dict(value))
        except ValidationError as err:
            raise with_hints(err, model) from None
    raise TypeError(
        f"{component}: args: must be a {model.__name__} or a mapping of its fields "
        f"(got {type(value).__name__}: {value!r:.80})"
    )


#: Validation context key that carries the stack's environment (`staging` or `production`).
ENVIRONMENT = "environment"

#: The environments a component can be built for. Production turns on the guardrails that
#: staging relaxes (replicas >= 2, images by digest, no API endpoint open to the world...).
Environment = Literal["staging", "production"]


def in_production(info: ValidationInfo) -> bool:
    """True when the model is being validated for a production stack.

    Args built on their own do not know their environment yet: each component takes
    `environment=` (default `production`) and validates its args again for it
    (`for_environment`), so the production rules are never skipped by omission. Stack config is
    validated with `context={"environment": ...}` (see `stacks/config.py`), so the stack file gets
    the same errors in its own words before anything is declared.
    """
    return isinstance(info.context, dict) and info.context.get(ENVIRONMENT) == "production"


def for_environment(component: str, args: M, environment: object, **context: Any) -> M:
    """`args` validated again with the rules of `environment` (and any other validation `context`
    the component knows of); raise naming the environment if it is not one."""
    allowed = get_args(Environment)
    if environment not in allowed:
        raise ValueError(
            f"{component}: environment: must be one of {', '.join(map(repr, allowed))} (got {environment!r})"
        )
    try:
        return type(args).model_validate(args.model_dump(), context={**context, ENVIRONMENT: environment})
    except ValidationError as err:
        raise ValueError(f"{component}: args are not valid for {environment}:\n{err}") from None


def at_least_two_in_production(value: int, info: ValidationInfo) -> int:
    """Field validator for a replica count: production runs at least two of everything."""
    if in_production(info) and value < 2:
        raise ValueError("must be >= 2 in production, so one pod can fail or be drained")
    return value


# Kubernetes' resource.Quantity grammar: a signed decimal number and one optional suffix.
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": "1e-9", "u": "1e-6", "m": "1e-3", "k": "1e3", "M": "1e6", "G": "1e9", "T": "1e12"}
_DECIMAL |= {"P": "1e15", "E": "1e18"}


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity (`250m` -> 0.25, `1Gi` -> 1073741824); ValueError if none."""
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; allowed: a number with an optional suffix, "
            "e.g. 250m or 1 (CPU), 256Mi or 1Gi (memory)"
        )
    suffix = match.group(2) or ""
    value = Decimal(text.strip().removesuffix(suffix) if suffix else text.strip())
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * Decimal(_DECIMAL[suffix])
    if suffix:
        return value * Decimal(10) ** int(suffix[1:])
    return value


def _quantity(value: str) -> str:
    if parse_quantity(value) <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
"""A positive Kubernetes quantity string such as `250m`, `1`, `256Mi` or `1Gi`."""


def check_limit_covers_request(kind: str, request: str, limit: str) -> None:
    """ValueError unless the `kind` (cpu, memory) limit is at least its request."""
    if parse_quantity(limit) < parse_quantity(request):
        raise ValueError(
            f"limits.{kind} {limit!r} is below requests.{kind} {request!r}; "
            "allowed: a limit at least as large as the request"
        )


class SecretName(str):
    """The name of a secret config key (set with `pulumi config set --secret NAME VALUE`).

    Config never holds a secret value inline: it names the secret, and `stacks/config.py` checks
    that a secret config key of that name exists and hands the component its value as a Pulumi
    secret Output.
    """

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
        )


# ---------------------------------------------------------------------------------------------
# Values that come from other resources


class OrOutput:
    """Marks a field that also takes a `pulumi.Output`: `Annotated[T | pulumi.Output[T], OrOutput(T)]`.

    A plain value is validated as a `T` at construction, like any field. An Output cannot be
    looked at yet: it is kept, and what it resolves to is validated as a `T` then, so a wrong
    value fails the deployment with the field's name instead of reaching the cloud. The field's
    own validators handle Outputs with `check_later`, so their rules apply on resolution too.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        adapter: TypeAdapter[Any] = TypeAdapter(self.inner)

        def accept(value: Any, plain: core_schema.ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
            if isinstance(value, pulumi.Output):
                where = info.field_name or "value"
                return value.apply(lambda resolved: _resolved(where, adapter.validate_python, resolved))
            return plain(value)

        return core_schema.with_info_wrap_validator_function(
            accept,
            handler.generate_schema(self.inner),
            # model_dump hands an Output on as it is (components validate their args again).
            serialization=core_schema.plain_serializer_function_ser_schema(lambda value: value),
        )


def _resolved(where: str, check: Callable[[Any], Any], value: Any) -> Any:
    try:
        return check(value)
    except ValidationError as err:
        reason = "; ".join(e["msg"] for e in err.errors(include_url=False))
        raise ValueError(f"{where}: {reason} (got {value!r:.120}, resolved from an Output)") from None
    except ValueError as err:
        raise ValueError(f"{where}: {err} (got {value!r:.120}, resolved from an Output)") from None


def check_later(where: str, value: Any, check: Callable[[Any], Any]) -> Any:
    """`check(value)` now for a plain value; for an Output, an Output of `check` applied to what it
    resolves to, failing with `where` (the field) and the value then."""
    if isinstance(value, pulumi.Output):
        return value.apply(lambda resolved: _resolved(where, check, resolved))
    return check(value)


#: A string field whose value may come from another resource (a `pulumi.Output[str]`).
InputStr = Annotated[str | pulumi.Output[str], OrOutput(str)]
