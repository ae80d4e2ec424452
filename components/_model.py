"""The base every args and config model derives from: frozen, strict about keys, camelCase aliases."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


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
