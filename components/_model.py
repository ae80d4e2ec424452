"""The base of every args and config model (frozen, strict about keys, camelCase aliases) and the
value types and rules the components share: Kubernetes quantities, secret names, production minimums."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationInfo
from pydantic.alias_generators import to_camel
from pydantic_core import CoreSchema, core_schema


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
    )


#: Validation context key that carries the stack's environment (`staging` or `production`).
ENVIRONMENT = "environment"


def in_production(info: ValidationInfo) -> bool:
    """True when the model is being validated for a production stack.

    Stack config is validated with `context={"environment": ...}` (see `stacks/config.py`); a
    consumer gets the same guardrails with `Args.model_validate(data, context={"environment":
    "production"})`. Without a context the production-only rules do not apply.
    """
    return isinstance(info.context, dict) and info.context.get(ENVIRONMENT) == "production"


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
