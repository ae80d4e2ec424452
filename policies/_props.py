"""Reading resource properties through the engine's Mapping/Sequence proxies without tripping on shape.

The engine wraps properties in read-only proxies that raise `UnknownValueError` on a value not
known during preview; these helpers only use the Mapping/Sequence protocols, so an unknown value
reaches the engine (which reports "can't run during preview") instead of passing for a missing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import UnknownValueError

__all__ = ["get", "is_set", "items", "mapping"]


def get(value: Any, *path: str) -> Any:
    """The value at `path`, or None where a level is missing or not a mapping."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def items(value: Any) -> list[Any]:
    """A list property as a list (empty when absent); a string is not a list."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_set(value: Any, key: str) -> bool:
    """Whether `value[key]` holds something; a value unknown during preview counts as set.

    For references to resources created in the same update (a launch template's id, a KMS key's
    ARN) only their presence matters, and they are unknown in a first preview: raising there
    would skip the check in every preview of a new stack.
    """
    # Iterating a proxy yields its keys without reading (and so without raising on) the values.
    if not isinstance(value, Mapping) or key not in list(value):
        return False
    try:
        return value[key] not in (None, "")
    except UnknownValueError:
        return True
