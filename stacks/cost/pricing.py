"""The price table of a region and the usage file, read and checked before anything is priced."""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PRICES_DIR = HERE / "prices"
DEFAULT_USAGE = HERE / "usage.yaml"


class CostError(Exception):
    """Bad price data, usage file or budget, or a resource that cannot be priced: one line."""


def _did_you_mean(value: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class Price:
    """One figure of the price table, with where it is published and when it was recorded."""

    key: str
    price: float
    unit: str
    source: str
    as_of: str
    assumption: bool = False


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    hours_per_month: float
    prices: Mapping[str, Price]
    path: Path

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            family = key.rsplit(".", 1)[0] + "."
            known = sorted(k for k in self.prices if k.startswith(family)) or sorted(self.prices)
            raise CostError(
                f"{self.path.name}: no price {key!r} for {self.region}{_did_you_mean(key, known)} "
                f"(priced: {', '.join(known)})"
            ) from None

    @property
    def as_of(self) -> str:
        """The most recent date any figure was recorded."""
        return max(p.as_of for p in self.prices.values())


def available_regions(prices_dir: Path = PRICES_DIR) -> list[str]:
    return sorted(p.stem for p in prices_dir.glob("*.yaml"))


def load_prices(region: str, prices_dir: Path = PRICES_DIR) -> PriceTable:
    """The price table of `region`; an unknown region names the regions that have one."""
    path = prices_dir / f"{region}.yaml"
    if not path.is_file():
        regions = available_regions(prices_dir)
        raise CostError(
            f"aws:region: no price data for {region!r}{_did_you_mean(region, regions)} "
            f"(regions priced: {', '.join(regions)}; add {path.name} under stacks/cost/prices/)"
        )
    doc = yaml.safe_load(path.read_text()) or {}
    if doc.get("region") != region:
        raise CostError(f"{path.name}: region: must be {region!r} (got {doc.get('region')!r})")
    prices: dict[str, Price] = {}
    for key, entry in (doc.get("prices") or {}).items():
        if not isinstance(entry, dict) or set(entry) - {"price", "unit", "source", "asOf", "assumption"}:
            raise CostError(
                f"{path.name}: prices.{key}: must be a mapping with price, unit, source, asOf "
                f"(and optionally assumption) (got {entry!r})"
            )
        missing = [k for k in ("price", "unit", "source", "asOf") if k not in entry]
        if missing:
            raise CostError(f"{path.name}: prices.{key}: {', '.join(missing)} is required")
        value = entry["price"]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise CostError(f"{path.name}: prices.{key}.price: must be a number >= 0 (got {value!r})")
        as_of = entry["asOf"]
        if not isinstance(as_of, datetime.date):
            raise CostError(f"{path.name}: prices.{key}.asOf: must be a date YYYY-MM-DD (got {as_of!r})")
        prices[str(key)] = Price(
            str(key), float(value), str(entry["unit"]), str(entry["source"]), as_of.isoformat(),
            bool(entry.get("assumption", False)),
        )  # fmt: skip
    return PriceTable(
        region, str(doc.get("currency", "USD")), float(doc.get("hoursPerMonth", 730)), prices, path
    )


@dataclass(frozen=True)
class Usage:
    """Monthly usage figures by resource type (defaults) and by resource name (overrides)."""

    defaults: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    resources: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    path: Path | None = None

    def of(self, type_token: str, name: str) -> dict[str, float]:
        return {**self.defaults.get(type_token, {}), **self.resources.get(name, {})}


def load_usage(path: Path, schema: Mapping[str, tuple[str, ...]]) -> Usage:
    """Read a usage file, rejecting any type or key the registry does not use (`schema`: type ->
    usage keys), so a typo cannot silently leave a cost at zero."""
    if not path.is_file():
        raise CostError(f"--usage: no such file {str(path)!r}")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise CostError(f"{path.name}: not valid YAML ({getattr(err, 'problem', err)})") from None
    if not isinstance(doc, dict):
        raise CostError(f"{path.name}: must be a mapping with version, defaults, resources")
    top = ["defaults", "resources", "version"]
    extra = sorted(set(doc) - set(top))
    if extra:
        hint = _did_you_mean(extra[0], top)
        raise CostError(f"{path.name}: {extra[0]}: unknown key{hint} (allowed: {', '.join(top)})")
    if doc.get("version", 1) != 1:
        raise CostError(f"{path.name}: version: must be 1 (got {doc.get('version')!r})")
    all_keys = sorted({k for keys in schema.values() for k in keys})
    types = sorted(t for t, keys in schema.items() if keys)
    defaults: dict[str, dict[str, float]] = {}
    for typ, values in _mapping(doc, "defaults", path).items():
        if typ not in types:
            raise CostError(
                f"{path.name}: defaults.{typ}: no usage-based price for this type{_did_you_mean(typ, types)} "
                f"(types with usage: {', '.join(types)})"
            )
        defaults[typ] = _figures(values, f"defaults.{typ}", sorted(schema[typ]), path)
    resources: dict[str, dict[str, float]] = {}
    for name, values in _mapping(doc, "resources", path).items():
        # A name may belong to a resource only one stack declares: its keys are checked against
        # every usage key here, and against its own type's when it is priced.
        resources[str(name)] = _figures(values, f"resources.{name}", all_keys, path)
    return Usage(defaults, resources, path)


def _mapping(doc: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise CostError(f"{path.name}: {key}: must be a mapping (got {value!r})")
    return value


def _figures(values: Any, where: str, allowed: list[str], path: Path) -> dict[str, float]:
    if not isinstance(values, dict):
        raise CostError(f"{path.name}: {where}: must be a mapping of usage keys to numbers (got {values!r})")
    out: dict[str, float] = {}
    for key, value in values.items():
        if key not in allowed:
            raise CostError(
                f"{path.name}: {where}.{key}: unknown key{_did_you_mean(str(key), allowed)} "
                f"(allowed: {', '.join(allowed)})"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise CostError(f"{path.name}: {where}.{key}: must be a number >= 0 (got {value!r})")
        out[str(key)] = float(value)
    return out


def check_usage_for(usage: Usage, type_token: str, name: str, allowed: tuple[str, ...]) -> None:
    """A per-resource override must use keys its resource's type prices."""
    for key in usage.resources.get(name, {}):
        if key not in allowed:
            shown = ", ".join(allowed) or "none: this type has no usage-based price"
            where = usage.path.name if usage.path else "usage"
            raise CostError(
                f"{where}: resources.{name}.{key}: not a usage key of {type_token} (allowed: {shown})"
            )


def parse_budget(text: str) -> float:
    """`--max`: a monthly amount in the price table's currency."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise CostError(f"--max: must be a number of dollars a month, >= 0 (got {text!r})")
    return value
