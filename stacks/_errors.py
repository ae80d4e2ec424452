"""Validation errors in the stack file's words: camelCase key paths, the value found, what is allowed.

pydantic reports errors by Python field name with its own wording; an operator reads a YAML file.
This module turns each error into one line an operator can act on, with "did you mean" for
unknown keys. (No library does this mapping: pydantic's own messages name Python fields.)
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

import pydantic
from pydantic import BaseModel


def explain(err: pydantic.ValidationError, root: type[BaseModel], namespace: str) -> list[str]:
    """One line per error: `<namespace>:<dotted.camelCase.path>: <message> (got <value>)`."""
    lines = []
    for e in err.errors(include_url=False):
        loc = _aliased(root, tuple(e["loc"]))
        path = namespace + ":" + _dotted(loc)
        lines.append(f"{path}: {_message(root, e, loc)}")
    return lines


def _aliased(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """`loc` with field names replaced by the stack file's camelCase keys.

    pydantic reports a default value's error under the Python field name (`public_access_cidrs`),
    an explicit value's under the alias; the stack file only knows the alias.
    """
    out: list[Any] = []
    node: Any = root
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


def _message(root: type[BaseModel], e: Any, loc: tuple[Any, ...]) -> str:
    kind, ctx = e["type"], e.get("ctx") or {}
    got = f" (got {show(e.get('input'))})"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
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


def show(value: Any) -> str:
    """A value as the stack file would hold it (JSON), cut to 80 characters."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _allowed_keys(root: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a stack file may write at `loc` (camelCase aliases), for "did you mean"."""
    node: Any = root
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
