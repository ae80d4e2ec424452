"""The settings of Karpenter and of its node pools, validated before anything is declared."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from components import versions
from components._model import Model, Quantity, at_least_two_in_production, in_production

__all__ = ["Budget", "KarpenterArgs", "NodePoolArgs"]

Architecture = Literal["amd64", "arm64"]
CapacityType = Literal["spot", "on-demand"]

#: Instance categories (`karpenter.k8s.aws/instance-category`, the letters before the generation)
#: of general-purpose CPU families: burstable, compute, memory, storage-optimised and Graviton.
#: Accelerated families (g, p, inf, trn, dl) are left out on purpose: a GPU node costs many times
#: more, and a pool meant for them should be an explicit decision, not a typo.
INSTANCE_CATEGORIES = ("a", "c", "d", "i", "m", "r", "t", "x", "z")

# Karpenter's duration grammar (NodePool spec.disruption.consolidateAfter / expireAfter).
_DURATION = re.compile(r"^(([0-9]+(s|m|h))+)$")
# An EC2NodeClass AMI alias: family@version (karpenter.sh docs, concepts/nodeclasses).
_ALIAS = re.compile(r"^(al2023|bottlerocket)@(latest|v\d+(\.\d+)*)$")


class Budget(Model):
    """A disruption budget: how many of a pool's nodes Karpenter may disrupt at once."""

    nodes: str = Field(
        default="10%",
        pattern=r"^((100|[0-9]{1,2})%|[0-9]+)$",
        description="A node count or percentage of the pool. Default: 10% (at least one node).",
    )
    schedule: str | None = Field(
        default=None,
        description=("Cron schedule at which the budget starts (with `duration`). Default: always in force."),
    )
    duration: str | None = Field(
        default=None,
        pattern=_DURATION.pattern,
        description="How long a scheduled budget lasts, e.g. 8h. Default: none (needs `schedule`).",
    )

    @field_validator("duration")
    @classmethod
    def _duration_needs_schedule(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) != (info.data.get("schedule") is None):
            raise ValueError("schedule and duration go together: set both or neither")
        return value


class NodePoolArgs(Model):
    """One Karpenter NodePool: what instances it may launch, how many, and when it replaces them."""

    architectures: list[Architecture] = Field(
        default=["amd64"],
        description=(
            "CPU architectures. Default: [amd64], what the image component builds; add arm64 "
            "(Graviton, ~20% cheaper) only for images built for both."
        ),
    )
    capacity_types: list[CapacityType] = Field(
        default=["on-demand"],
        description=(
            "EC2 purchase options. Default: [on-demand]. Staging adds `spot` (~60-70% cheaper, "
            "reclaimed with two minutes' notice through the interruption queue)."
        ),
    )
    instance_categories: list[str] = Field(
        default=["c", "m", "r"],
        description=(
            "Instance categories (compute, general, memory). Default: [c, m, r]. Allowed: "
            f"{', '.join(INSTANCE_CATEGORIES)}."
        ),
    )
    min_generation: int = Field(
        default=6,
        ge=1,
        le=20,
        description="Oldest instance generation allowed. Default: 6 (m6i, c7g... nothing older).",
    )
    cpu_limit: Quantity = Field(
        default="32",
        description=(
            "Most vCPUs the pool's nodes may add up to; Karpenter launches nothing past it. "
            "Default: 32 (a cap on a runaway scale-up's bill)."
        ),
    )
    memory_limit: Quantity = Field(
        default="128Gi",
        description="Most memory the pool's nodes may add up to. Default: 128Gi.",
    )
    consolidation_policy: Literal["WhenEmptyOrUnderutilized", "WhenEmpty"] = Field(
        default="WhenEmptyOrUnderutilized",
        description=(
            "When Karpenter removes or replaces nodes to save money. Default: when empty or "
            "under-utilised (pods are moved, within the PodDisruptionBudgets)."
        ),
    )
    consolidate_after: str = Field(
        default="1m",
        pattern=_DURATION.pattern,
        description="How long a node must be consolidatable before it is. Default: 1m.",
    )
    expire_after: str = Field(
        default="720h",
        description=(
            "Age at which a node is replaced (fresh AMI, no drift). Default: 720h (30 days); "
            "`Never` keeps nodes until consolidated."
        ),
    )
    budgets: list[Budget] = Field(
        default_factory=lambda: [Budget()],
        min_length=1,
        description="Disruption budgets. Default: one, at most 10% of the pool's nodes at once.",
    )

    @field_validator("architectures", "capacity_types", "instance_categories")
    @classmethod
    def _not_empty_nor_repeated(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value:
            what = {"capacity_types": "capacity type", "instance_categories": "instance category"}
            noun = what.get(str(info.field_name), "architecture")
            raise ValueError(f"must list at least one; a pool with no {noun} launches nothing")
        if len(set(value)) != len(value):
            raise ValueError(f"must not repeat an entry (got {value})")
        return value

    @field_validator("instance_categories")
    @classmethod
    def _known_categories(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in INSTANCE_CATEGORIES]
        if unknown:
            raise ValueError(
                f"unknown instance categor{'y' if len(unknown) == 1 else 'ies'} {unknown}; "
                f"allowed: {', '.join(INSTANCE_CATEGORIES)}"
            )
        return value

    @field_validator("expire_after")
    @classmethod
    def _expiry(cls, value: str) -> str:
        if value != "Never" and not _DURATION.match(value):
            raise ValueError(f"{value!r} must be a duration such as 720h, or Never")
        return value


class KarpenterArgs(Model):
    """The `karpenter` section of the stack file: the controller, its node class and node pools."""

    namespace: str = Field(
        default="kube-system",
        description="Namespace of the controller. Default: kube-system, as Karpenter's docs install it.",
    )
    replicas: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Controller replicas (one leads, one stands by). Default: 2; production refuses fewer.",
    )
    ami_alias: str = Field(
        default=versions.KARPENTER_AMI_ALIAS,
        description=(
            f"The EKS-optimised AMI family and release the nodes run. Default: "
            f"{versions.KARPENTER_AMI_ALIAS} (components/versions.py). `al2023@latest` follows "
            "every release (nodes drift and are replaced when one ships); production refuses it."
        ),
    )
    root_volume_gib: int = Field(
        default=50,
        ge=20,
        le=16384,
        description="Size of each node's encrypted gp3 root volume in GiB. Default: 50.",
    )
    node_pools: dict[str, NodePoolArgs] = Field(
        default_factory=lambda: {"general": NodePoolArgs()},
        min_length=1,
        description="NodePools by name. Default: one pool `general` with the defaults above.",
    )

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int, info: ValidationInfo) -> int:
        return at_least_two_in_production(value, info)

    @field_validator("ami_alias")
    @classmethod
    def _pinned_ami(cls, value: str, info: ValidationInfo) -> str:
        if not _ALIAS.match(value):
            raise ValueError(
                f"{value!r} is not an AMI alias; allowed: al2023@<version> or bottlerocket@<version> "
                f"(e.g. {versions.KARPENTER_AMI_ALIAS}), or <family>@latest outside production"
            )
        if value.endswith("@latest") and in_production(info):
            raise ValueError(
                "production pins the AMI release (e.g. "
                f"{versions.KARPENTER_AMI_ALIAS}); @latest would replace every node when AWS ships one"
            )
        return value

    @field_validator("node_pools")
    @classmethod
    def _pool_names(cls, value: dict[str, NodePoolArgs]) -> dict[str, NodePoolArgs]:
        bad = [n for n in value if not re.match(r"^[a-z][a-z0-9-]{0,62}$", n)]
        if bad:
            raise ValueError(f"node pool names must be lowercase letters, digits and '-' (bad: {bad})")
        return value
