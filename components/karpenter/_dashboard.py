"""Karpenter's Grafana dashboard: nodes by pool, pool usage against its limits, launches, interruptions."""

from __future__ import annotations

from typing import Any

from components.dashboards import _dashboard, _panel, _target

__all__ = ["karpenter_dashboard"]

#: Grafana's uid of the dashboard (stable, so links to it survive updates).
UID = "karpenter"


def karpenter_dashboard() -> dict[str, Any]:
    """Panels over Karpenter v1.14's metrics (website/content/en/docs/reference/metrics.md)."""
    rate = "$__rate_interval"
    panels = [
        _panel(
            "timeseries",
            "Nodes by pool",
            [
                _target(
                    'count by (nodepool) (karpenter_nodes_allocatable{resource_type="cpu"})', "{{nodepool}}"
                )
            ],
            (0, 0, 12, 8),
            "short",
            description="Nodes Karpenter launched, by NodePool.",
        ),
        _panel(
            "timeseries",
            "Pool usage / limit",
            [
                _target(
                    "karpenter_nodepools_usage / on(nodepool, resource_type) karpenter_nodepools_limit",
                    "{{nodepool}} {{resource_type}}",
                )
            ],
            (12, 0, 12, 8),
            "percentunit",
            description="At 100% a pool launches nothing more; KarpenterNodePoolNearLimit fires at 90%.",
            max=1,
        ),
        _panel(
            "timeseries",
            "Node claims created / terminated",
            [
                _target(
                    f"sum by (nodepool) (rate(karpenter_nodeclaims_created_total[{rate}]))",
                    "created {{nodepool}}",
                ),
                _target(
                    f"sum by (nodepool) (rate(karpenter_nodeclaims_terminated_total[{rate}]))",
                    "terminated {{nodepool}}",
                    "B",
                ),
            ],
            (0, 8, 12, 8),
            "ops",
        ),
        _panel(
            "timeseries",
            "Interruption messages",
            [
                _target(
                    f"sum by (message_type) (rate(karpenter_interruption_received_messages_total[{rate}]))",
                    "{{message_type}}",
                )
            ],
            (12, 8, 12, 8),
            "ops",
            description="Spot interruptions, rebalance recommendations, health and state-change events.",
        ),
    ]
    return _dashboard(UID, "Karpenter", ["karpenter", "nodes"], panels)
