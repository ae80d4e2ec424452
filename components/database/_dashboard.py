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

    panels = [
        _panel(
            "timeseries",
            "Free storage",
            [_target(series("FreeStorageSpace"), _LEGEND)],
            (0, 0, 12, 8),
            "bytes",
            description="FreeStorageSpace, minimum per minute. DatabaseStorageLow pages below its "
            "share of the allocated size.",
            min=0,
        ),
        _panel(
            "timeseries",
            "CPU",
            [_target(series("CPUUtilization"), _LEGEND)],
            (12, 0, 12, 8),
            "percent",
            description="CPUUtilization, average per minute. DatabaseCPUHigh warns above its threshold.",
            min=0,
            max=100,
        ),
        _panel(
            "timeseries",
            "Connections",
            [_target(series("DatabaseConnections"), _LEGEND)],
            (0, 8, 12, 8),
            "short",
            description="DatabaseConnections, average per minute. DatabaseConnectionsHigh warns above "
            "its threshold.",
            min=0,
        ),
        _panel(
            "timeseries",
            "Freeable memory",
            [_target(series("FreeableMemory"), _LEGEND)],
            (12, 8, 12, 8),
            "bytes",
            description="FreeableMemory, average per minute. DatabaseMemoryLow warns below its threshold.",
            min=0,
        ),
        _panel(
            "stat",
            "Exporter up",
            [_target(f'up{{job="{EXPORTER_JOB}", namespace="{namespace}"}}', "up")],
            (0, 16, 6, 4),
            "short",
            description="1 while Prometheus scrapes the CloudWatch exporter; CloudWatchExporterDown "
            "pages after 10 minutes at 0.",
        ),
    ]
    return _dashboard(UID, "Databases (RDS)", ["database", "rds"], panels)
