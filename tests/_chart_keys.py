"""Chart values against the keys a pinned chart's values.yaml declares (tests/charts/*.values-keys.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Where the key trees of the pinned charts' values.yaml are kept.
CHARTS = Path(__file__).resolve().parent / "charts"


def unknown_keys(values: Any, known: Any, path: str = "") -> list[str]:
    """The dotted paths in `values` that the chart's key tree `known` does not have. Below a key
    whose tree is null (a free-form value: resources, annotations, selectors...) nothing is checked."""
    if not isinstance(values, dict) or known is None:
        return []
    unknown = []
    for key, value in values.items():
        if key not in known:
            unknown.append(f"{path}{key}")
        else:
            unknown += unknown_keys(value, known[key], f"{path}{key}.")
    return unknown
