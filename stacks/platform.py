"""The composition: network, cluster, image, monitoring and apps wired together, and the exports."""

from __future__ import annotations

import pulumi

from stacks.config import Settings


def build(settings: Settings) -> None:
    """Declare the platform for one stack and export what operators and other stacks need."""
    cfg = settings.config
    pulumi.export("environment", cfg.environment)
    pulumi.export("region", settings.region)
