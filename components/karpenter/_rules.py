"""Karpenter's alert rules: the controller is down, node claims fail to launch, a pool nears its limit."""

from __future__ import annotations

from typing import Any

__all__ = ["karpenter_rules"]

_RUNBOOK = "https://karpenter.sh/docs/troubleshooting/"


def karpenter_rules(namespace: str, job: str = "karpenter") -> list[dict[str, Any]]:
    """The PrometheusRule groups for the controller in `namespace`, scraped as `job`.

    Metric names and labels are those of Karpenter v1.14 (website/content/en/docs/reference/
    metrics.md at that tag): `karpenter_nodepools_usage`/`_limit` by `nodepool` and
    `resource_type`, and the status-condition count of node claims by `type` and `status`.
    """
    up = f'up{{job="{job}", namespace="{namespace}"}}'
    return [
        {
            "name": "karpenter",
            "rules": [
                {
                    "alert": "KarpenterControllerDown",
                    # No replica answers: nothing launches nodes for pending pods, nothing
                    # handles spot interruptions.
                    "expr": f"absent({up} == 1)",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "No Karpenter controller is up",
                        "description": (
                            f"No Karpenter controller in {namespace} has answered a scrape for 5 minutes: "
                            "pending pods get no nodes and spot interruptions are not handled."
                        ),
                        "runbook_url": _RUNBOOK,
                    },
                },
                {
                    "alert": "KarpenterNodeClaimsNotLaunching",
                    "expr": (
                        'sum(operator_nodeclaim_status_condition_count{type="Launched", status="False"}) > 0'
                    ),
                    "for": "15m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "Karpenter node claims have failed to launch for 15 minutes",
                        "description": (
                            "{{ $value }} node claims are not launched: EC2 capacity, quotas, the "
                            "subnets or the node class may be refusing them (kubectl describe nodeclaims)."
                        ),
                        "runbook_url": _RUNBOOK,
                    },
                },
                {
                    "alert": "KarpenterNodePoolNearLimit",
                    "expr": (
                        "karpenter_nodepools_usage / on(nodepool, resource_type) "
                        "karpenter_nodepools_limit > 0.9"
                    ),
                    "for": "15m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": (
                            "Node pool {{ $labels.nodepool }} is at over 90% of its "
                            "{{ $labels.resource_type }} limit"
                        ),
                        "description": (
                            "Karpenter launches nothing past a pool's limit; pods beyond it stay "
                            "Pending. Raise the pool's limit or look for a runaway scale-up."
                        ),
                        "runbook_url": _RUNBOOK,
                    },
                },
            ],
        }
    ]
