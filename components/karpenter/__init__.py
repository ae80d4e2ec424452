"""Karpenter: nodes launched for the pods that need them, within each node pool's limits."""

from components.karpenter._args import INSTANCE_CATEGORIES, Budget, KarpenterArgs, NodePoolArgs
from components.karpenter._component import Karpenter

__all__ = ["INSTANCE_CATEGORIES", "Budget", "Karpenter", "KarpenterArgs", "NodePoolArgs"]
