"""The database alerts as data: what the CloudWatch exporter reads, its IAM policy, and the rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.alerts import SIGNAL, alert_rule, check_name
from components.database._args import DatabaseAlarms

__all__ = [
    "EXPORTER_ACTIONS",
    "EXPORTER_JOB",
    "METRICS",
    "SCRAPING_INTERVAL_SECONDS",
    "MonitoredDatabase",
    "database_alert_groups",
    "exporter_config",
    "exporter_policy",
]

#: The exporter's Service name, which the ServiceMonitor makes the `job` label of its series.
EXPORTER_JOB = "cloudwatch-exporter"

#: Seconds between two rounds of CloudWatch requests (YACE's `-scraping-interval`, default 300:
#: cmd/yace/main.go at v0.67.0). Every round asks for each metric of each database once; RDS
#: publishes these metrics every minute (RDS user guide, "Amazon CloudWatch metrics for Amazon
#: RDS"), so a shorter interval would only repeat the same datapoints.
SCRAPING_INTERVAL_SECONDS = 60

#: The window each request covers: five one-minute datapoints. `Average` is the mean of those
#: five (a 5-minute average); `Minimum` is the newest datapoint's minimum
#: (pkg/promutil/migrate.go, getDataPoints, at v0.67.0).
_PERIOD_SECONDS = 60
_LENGTH_SECONDS = 300

#: AWS/RDS metric -> the statistic read; the series is `aws_rds_<snake name>_<statistic>` (YACE
#: pkg/promutil/migrate.go BuildMetricName at v0.67.0: `CPUUtilization` has no word break between
#: capitals, hence `cpuutilization`). ReplicaLag is left out: RDS publishes it for read replicas
#: only, and a Multi-AZ instance's standby is not one (RDS user guide, "Amazon CloudWatch metrics
#: for Amazon RDS"); the stacks declare no read replica.
METRICS: dict[str, tuple[str, str]] = {
    "CPUUtilization": ("Average", "aws_rds_cpuutilization_average"),
    "FreeStorageSpace": ("Minimum", "aws_rds_free_storage_space_minimum"),
    "DatabaseConnections": ("Average", "aws_rds_database_connections_average"),
    "FreeableMemory": ("Average", "aws_rds_freeable_memory_average"),
}

#: What a static job calls: one GetMetricStatistics per metric and round (pkg/job/static.go,
#: pkg/clients/cloudwatch/client.go at v0.67.0). The README's minimum for static and discovery
#: jobs adds tag:GetResources, cloudwatch:ListMetrics and cloudwatch:GetMetricData, which only
#: discovery and custom-namespace jobs call. A static job also asks sts:GetCallerIdentity (no
#: permission needed, STS API reference) and iam:ListAccountAliases (only for an optional
#: `account_alias` label; denied, the exporter logs a warning and goes on: pkg/job/scrape.go).
EXPORTER_ACTIONS = ("cloudwatch:GetMetricStatistics",)

_RUNBOOK = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html"


@dataclass(frozen=True)
class MonitoredDatabase:
    """One RDS instance as its alerts see it: the identifier CloudWatch files its metrics under,
    its allocated storage (the base of the free-storage threshold) and the thresholds."""

    identifier: str
    allocated_storage_gb: int
    alarms: DatabaseAlarms


def exporter_config(region: str, databases: Sequence[MonitoredDatabase]) -> dict[str, Any]:
    """YACE's configuration: one static job per database, reading the AWS/RDS metrics of exactly
    that `DBInstanceIdentifier` (docs/configuration.md, `static_job_config`, at v0.67.0)."""
    if not databases:
        raise ValueError("databases: at least one database is needed for the exporter to read")
    return {
        "apiVersion": "v1alpha1",
        "sts-region": region,
        "static": [
            {
                "name": db.identifier,
                "namespace": "AWS/RDS",
                "regions": [region],
                "dimensions": [{"name": "DBInstanceIdentifier", "value": db.identifier}],
                "metrics": [
                    {
                        "name": metric,
                        "statistics": [statistic],
                        "period": _PERIOD_SECONDS,
                        "length": _LENGTH_SECONDS,
                    }
                    for metric, (statistic, _) in METRICS.items()
                ],
            }
            for db in sorted(databases, key=lambda d: d.identifier)
        ],
    }


def exporter_policy(region: str) -> dict[str, Any]:
    """The exporter's IAM policy: read metric statistics, in the stack's region only.

    GetMetricStatistics has no resource type and no condition key of its own (Service
    Authorization Reference, Amazon CloudWatch): `Resource` must be "*", and the global
    `aws:RequestedRegion` is the only narrowing IAM offers.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadRdsMetrics",
                "Effect": "Allow",
                "Action": list(EXPORTER_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            }
        ],
    }


def database_alert_groups(
    databases: Sequence[MonitoredDatabase], *, namespace: str, job: str = EXPORTER_JOB
) -> list[dict[str, Any]]:
    """The PrometheusRule groups: the exporter is down, and per database its storage, CPU,
    connections and memory, and CloudWatch data that stopped arriving.

    Every alert carries `severity`, `namespace` (where the exporter runs), `service` (the
    database's identifier) and `signal`, as the apps' alerts do, so Alertmanager routes, groups
    and pages them with the same tree: one incident per database. Missing data is an alert of its
    own, critical like a full disk it could hide; it is not raised while the exporter itself is
    down, which `CloudWatchExporterDown` reports once for all databases.
    """
    check_name("namespace", namespace)
    check_name("job", job)
    up = f'up{{job="{job}", namespace="{namespace}"}}'
    groups: list[dict[str, Any]] = [
        {
            "name": "cloudwatch-exporter",
            "rules": [
                {
                    "alert": "CloudWatchExporterDown",
                    "expr": f"absent({up} == 1)",
                    "for": "10m",
                    "labels": {
                        "severity": "critical",
                        "namespace": namespace,
                        "service": job,
                        SIGNAL: "metrics",
                    },
                    "annotations": {
                        "summary": "The CloudWatch exporter is down: the databases are not watched",
                        "description": (
                            f"No {job} in {namespace} has answered a scrape for 10 minutes: no "
                            "database alert (storage, CPU, connections, memory) can fire."
                        ),
                        "runbook_url": _RUNBOOK,
                    },
                }
            ],
        }
    ]
    for db in sorted(databases, key=lambda d: d.identifier):
        groups.append(_database_group(db, namespace=namespace, job=job, up=up))
    return groups


def _database_group(db: MonitoredDatabase, *, namespace: str, job: str, up: str) -> dict[str, Any]:
    a = db.alarms
    ident = db.identifier
    sel = f'{{job="{job}", namespace="{namespace}", dimension_DBInstanceIdentifier="{ident}"}}'
    free_bytes = db.allocated_storage_gb * 2**30 * a.free_storage_percent // 100
    memory_bytes = a.freeable_memory_mib * 2**20

    def series(metric: str) -> str:
        return METRICS[metric][1] + sel

    def alert(
        name: str, signal: str, expr: str, for_: str, severity: str, summary: str, description: str
    ) -> dict[str, Any]:
        return alert_rule(
            name,
            expr,
            for_,
            severity=severity,
            service=ident,
            namespace=namespace,
            signal=signal,
            summary=summary,
            description=description,
            runbook_url=_RUNBOOK,
        )

    # Any of the four series gone while the exporter answers: CloudWatch has nothing for the
    # instance (stopped, deleted, renamed) or refuses the exporter. `absent` keeps the selector's
    # labels, so the four alternatives are one series and `or` keeps one of them.
    missing = " or ".join(f"absent({series(m)})" for m in METRICS)
    return {
        "name": f"database-{ident}",
        "rules": [
            alert(
                "DatabaseStorageLow",
                "storage",
                f"{series('FreeStorageSpace')} < {free_bytes}",
                "5m",
                "critical",
                f"Database {ident}: less than {a.free_storage_percent}% of its storage is free",
                f"{ident} has {{{{ $value | humanize1024 }}}}B free, under the {a.free_storage_percent}% "
                f"of its {db.allocated_storage_gb} GiB allocated storage the alert allows: storage "
                "autoscaling may have reached its ceiling (maxAllocatedStorageGb); a full disk stops "
                "writes.",
            ),
            alert(
                "DatabaseCPUHigh",
                "cpu",
                f"{series('CPUUtilization')} > {a.cpu_percent}",
                "15m",
                "warning",
                f"Database {ident}: CPU above {a.cpu_percent}% for 15 minutes",
                f"The 5-minute average CPU of {ident} is {{{{ $value | humanize }}}}% "
                f"(threshold {a.cpu_percent}%).",
            ),
            alert(
                "DatabaseConnectionsHigh",
                "connections",
                f"{series('DatabaseConnections')} > {a.connections}",
                "10m",
                "warning",
                f"Database {ident}: more than {a.connections} connections for 10 minutes",
                f"{ident} holds {{{{ $value | humanize }}}} connections on average over 5 minutes "
                f"(threshold {a.connections}); past max_connections new ones are refused.",
            ),
            alert(
                "DatabaseMemoryLow",
                "memory",
                f"{series('FreeableMemory')} < {memory_bytes}",
                "15m",
                "warning",
                f"Database {ident}: less than {a.freeable_memory_mib} MiB of freeable memory",
                f"{ident} has {{{{ $value | humanize1024 }}}}B of freeable memory on average over "
                f"5 minutes (threshold {a.freeable_memory_mib} MiB).",
            ),
            alert(
                "DatabaseMetricsMissing",
                "metrics",
                f"({missing}) and on () ({up} == 1)",
                "15m",
                "critical",
                f"Database {ident}: no CloudWatch data for 15 minutes",
                f"CloudWatch returned no AWS/RDS data for {ident} for 15 minutes while the exporter "
                "runs: the instance may be stopped or gone, or the exporter's role refused; its "
                "storage, CPU, connection and memory alerts cannot fire meanwhile.",
            ),
        ],
    }
