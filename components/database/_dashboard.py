"""The databases' Grafana dashboard: the four AWS/RDS series the alerts watch, per instance."""

from __future__ import annotations

from typing import Any

from components.dashboards import _dashboard, _panel, _target
from components.database._alerts import EXPORTER_JOB, METRICS

__all__ = ["UID", "database_dashboard"]

#: Grafana's uid of the dashboard (stable, so links to it survive updates).
UID = "databases"
_LEGEND = "{{dimension_DBInstanceIdentifier}}"


def database_dashboard(namespace: str) -> dict[str, Any]:
    """Panels over the CloudWatch exporter's series (names in `METRICS`, YACE v0.67.0), one line per
    instance, with the thresholds of the alerts in the panel descriptions."""
    sel = f'{{job="{EXPORTER_JOB}", namespace="{namespace}"}}'

    def series(metric: str) -> str:
        return METRICS[metric][1] + sel

    # Per series: its title, unit, what its alert does, and the axis bounds; laid out two a row.
    charts: list[tuple[str, str, str, str, dict[str, int]]] = [
        (
            "FreeStorageSpace",
            "Free storage",
            "bytes",
            "DatabaseStorageLow pages below its share of the allocated size.",
            {},
        ),
        ("CPUUtilization", "CPU", "percent", "DatabaseCPUHigh warns above its threshold.", {"max": 100}),
        (
            "DatabaseConnections",
            "Connections",
            "short",
            "DatabaseConnectionsHigh warns above its threshold.",
            {},
        ),
        ("FreeableMemory", "Freeable memory", "bytes", "DatabaseMemoryLow warns below its threshold.", {}),
    ]
    panels = [
        _panel(
            "timeseries",
            title,
            [_target(series(metric), _LEGEND)],
            (12 * (i % 2), 8 * (i // 2), 12, 8),
            unit,
            description=f"{metric}, {METRICS[metric][0].lower()} per minute. {alert}",
            min=0,
            **bounds,
        )
        for i, (metric, title, unit, alert, bounds) in enumerate(charts)
    ] + [
        _panel(
            "stat",
            "Exporter up",
            [_target(f"up{sel}", "up")],
            (0, 16, 6, 4),
            "short",
            description="1 while Prometheus scrapes the CloudWatch exporter; CloudWatchExporterDown "
            "pages after 10 minutes at 0.",
        ),
    ]
    return _dashboard(UID, "Databases (RDS)", ["database", "rds"], panels)
