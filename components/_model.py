"""The base of every args and config model: frozen, strict about keys, camelCase aliases."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationInfo
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
