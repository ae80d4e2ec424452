"""The typed settings of one PostgreSQL database (`PostgresDatabaseArgs`), validated in the caller's words."""

from __future__ import annotations

import re

from pydantic import Field, ValidationInfo, field_validator, model_validator

from components._model import Model, in_production

__all__ = ["BackupArgs", "DatabaseAlarms", "PostgresDatabaseArgs", "window_minutes"]

#: Instance class families this component accepts: current Graviton and Intel general-purpose (m),
#: memory-optimised (r) and burstable (t) classes RDS for PostgreSQL offers (RDS user guide,
#: "Supported DB engines for DB instance classes"). Older generations are left out on purpose.
INSTANCE_FAMILIES = ("t4g", "t3", "m8g", "m7g", "m7i", "m6g", "m6i", "r8g", "r7g", "r7i", "r6g", "r6i")
_SIZES = r"(micro|small|medium|large|xlarge|[1-9][0-9]?xlarge)"
_CLASS = re.compile(rf"^db\.([a-z0-9]+)\.{_SIZES}$")

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BACKUP_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINTENANCE_WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_WEEK = 7 * 24 * 60
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_PG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")


def window_minutes(window: str) -> list[tuple[int, int]]:
    """The minutes of the week a window covers, as [start, end) intervals (a daily window gives
    seven). `hh:mm-hh:mm` is daily (the backup window), `ddd:hh:mm-ddd:hh:mm` weekly (maintenance)."""
    daily = _BACKUP_WINDOW.match(window)
    if daily:
        h1, m1, h2, m2 = (int(g) for g in daily.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        length = (end - start) % (24 * 60)
        return [(day * 1440 + start, day * 1440 + start + length) for day in range(7)]
    weekly = _MAINTENANCE_WINDOW.match(window)
    if weekly is None:
        raise ValueError(f"{window!r} is not a window")
    day1, hour1, min1, day2, hour2, min2 = weekly.groups()
    start = _DAYS.index(day1) * 1440 + int(hour1) * 60 + int(min1)
    end = _DAYS.index(day2) * 1440 + int(hour2) * 60 + int(min2)
    return [(start, start + (end - start) % _WEEK)]


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> bool:
    # Both sides are unrolled over two weeks so a window crossing Sunday midnight is compared too.
    def unroll(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return [(s + k * _WEEK, e + k * _WEEK) for s, e in spans for k in (0, 1)]

    return any(s1 < e2 and s2 < e1 for s1, e1 in unroll(a) for s2, e2 in unroll(b))


class BackupArgs(Model):
    """AWS Backup for the instance: a KMS-encrypted vault, a daily plan with point-in-time recovery."""

    daily_retention_days: int = Field(default=35, ge=1, le=36500)
    """Days a daily snapshot is kept in the vault. Default 35."""

    continuous: bool = True
    """Also take continuous backups (point-in-time recovery to any second within
    `continuousRetentionDays`). Default: on."""

    continuous_retention_days: int = Field(default=35, ge=1, le=35)
    """Days of point-in-time recovery; AWS Backup allows at most 35. Default 35."""

    schedule: str = "cron(0 5 ? * * *)"
    """When the daily backup starts (AWS Backup cron, UTC). Default 05:00 UTC, after the RDS backup
    window so the two do not contend."""

    vault_lock: bool = True
    """Lock the vault in compliance mode: once the grace period ends, nobody (not the root user)
    can delete a recovery point early or shorten the retention. Default: on; staging turns it off."""

    vault_lock_grace_days: int = Field(default=3, ge=3, le=36500)
    """Days after creation during which the lock can still be removed (AWS Backup's
    `ChangeableForDays`, at least 3). Default 3."""

    copy_to_region: str | None = None
    """A second region the daily backups are copied to (a vault of the same name is created
    there). Default: none (no cross-region copy)."""

    copy_retention_days: int = Field(default=35, ge=1, le=36500)
    """Days a cross-region copy is kept. Default 35."""

    @field_validator("copy_to_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an AWS region; allowed: e.g. eu-central-1")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not re.match(r"^cron\([^()]+\)$", value):
            raise ValueError(f"{value!r} is not an AWS Backup schedule; allowed: e.g. cron(0 5 ? * * *)")
        return value


class DatabaseAlarms(Model):
    """Alert thresholds of the instance: the Prometheus rules of `DatabaseAlerts`, and the CloudWatch
    alarms `PostgresDatabase` declares when it is given SNS topics."""

    cpu_percent: int = Field(default=80, ge=1, le=100)
    """Alert when the 5-minute average CPU stays above this for 15 minutes. Default 80."""

    free_storage_percent: int = Field(default=10, ge=1, le=90)
    """Alert (critical) when free storage stays below this share of the allocated storage for 5
    minutes. Default 10."""

    connections: int = Field(default=200, ge=1)
    """Alert when connections stay above this for 10 minutes. Default 200 (about 45% of the
    `max_connections` RDS derives for 8 GiB of memory, LEAST(DBInstanceClassMemory/9531392, 5000))."""

    freeable_memory_mib: int = Field(default=256, ge=1)
    """Alert when freeable memory stays below this for 15 minutes. Default 256 MiB."""


class PostgresDatabaseArgs(Model):
    """One RDS PostgreSQL instance: the stack file's `databases.<name>` section and the Python args."""

    instance_class: str = "db.m6g.large"
    """RDS instance class, `db.<family>.<size>`. Default `db.m6g.large` (2 vCPU, 8 GiB)."""

    allocated_storage_gb: int = Field(default=50, ge=20, le=65536)
    """Initial gp3 storage. Default 50 GiB (gp3 below 400 GiB gets 3,000 IOPS)."""

    max_allocated_storage_gb: int = Field(default=200, ge=20, le=65536)
    """Storage autoscaling ceiling; equal to `allocatedStorageGb` turns autoscaling off. Default 200."""

    multi_az: bool = True
    """A synchronous standby in a second AZ, failed over to automatically. Default: on; required in
    production."""

    database_name: str = "lmagent"
    """The database created in the instance. Default `lmagent`."""

    master_username: str = "lmagent_admin"
    """The master user's name; its password is generated, kept and rotated by RDS in Secrets
    Manager and never passes through Pulumi. Default `lmagent_admin`."""

    backup_retention_days: int = Field(default=14, ge=1, le=35)
    """Days of RDS automated backups (point-in-time restore from RDS itself). Default 14; at least 7
    in production."""

    backup_window: str = "03:00-03:30"
    """Daily RDS backup window, UTC `hh:mm-hh:mm`, at least 30 minutes. Default 03:00-03:30."""

    maintenance_window: str = "sun:04:00-sun:04:30"
    """Weekly maintenance window, UTC `ddd:hh:mm-ddd:hh:mm`, at least 30 minutes; minor versions
    are applied here. It must not overlap the backup window. Default sun:04:00-sun:04:30."""

    deletion_protection: bool = True
    """RDS refuses to delete the instance while on. Default: on; required in production."""

    performance_insights: bool = True
    """Performance Insights with its free 7-day retention, encrypted with the database's key.
    Default: on."""

    monitoring_interval_seconds: int = 60
    """Enhanced monitoring (OS metrics) every this many seconds, one of 1, 5, 10, 15, 30, 60; 0
    turns it off. Default 60."""

    log_retention_days: int = Field(default=30, ge=1)
    """Days the exported PostgreSQL and upgrade logs are kept in CloudWatch. Default 30."""

    backup: BackupArgs = Field(default_factory=BackupArgs)
    """AWS Backup. Default: daily snapshots and continuous backups kept 35 days, vault locked in
    compliance mode after 3 days, no cross-region copy."""

    alarms: DatabaseAlarms = Field(default_factory=DatabaseAlarms)
    """Alert thresholds. Default: CPU > 80%, free storage < 10%, connections > 200, freeable
    memory < 256 MiB."""

    @field_validator("instance_class")
    @classmethod
    def _instance_class(cls, value: str) -> str:
        match = _CLASS.match(value)
        if match is None or match.group(1) not in INSTANCE_FAMILIES:
            family = match.group(1) if match else value
            raise ValueError(
                f"{value!r} has an unknown instance class family {family!r}; allowed: "
                f"db.<family>.<size> with family one of {', '.join(INSTANCE_FAMILIES)}, e.g. db.m6g.large"
            )
        return value

    @field_validator("database_name", "master_username")
    @classmethod
    def _pg_name(cls, value: str) -> str:
        if not _PG_NAME.match(value) or value in {"postgres", "rdsadmin", "admin", "template0", "template1"}:
            raise ValueError(
                f"{value!r} is not allowed; allowed: a lowercase letter then up to 62 letters, "
                "digits or '_', not a name RDS reserves (postgres, rdsadmin, admin, template0/1)"
            )
        return value

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, value: str) -> str:
        if not _BACKUP_WINDOW.match(value) or window_minutes(value)[0][1] - window_minutes(value)[0][0] < 30:
            raise ValueError(
                f"{value!r} is not a backup window; allowed: hh:mm-hh:mm (UTC), at least 30 minutes"
            )
        return value

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, value: str) -> str:
        if not _MAINTENANCE_WINDOW.match(value) or (lambda w: w[1] - w[0])(window_minutes(value)[0]) < 30:
            raise ValueError(
                f"{value!r} is not a maintenance window; allowed: ddd:hh:mm-ddd:hh:mm (UTC), at least "
                "30 minutes, e.g. sun:04:00-sun:04:30"
            )
        return value

    @field_validator("monitoring_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if value not in (0, 1, 5, 10, 15, 30, 60):
            raise ValueError(
                f"{value} is not an enhanced monitoring interval; allowed: 0, 1, 5, 10, 15, 30, 60"
            )
        return value

    @field_validator("multi_az", "deletion_protection")
    @classmethod
    def _on_in_production(cls, value: bool, info: ValidationInfo) -> bool:
        if in_production(info) and not value:
            raise ValueError("must be true in production (false is allowed in staging only)")
        return value

    @field_validator("backup_retention_days")
    @classmethod
    def _retention(cls, value: int, info: ValidationInfo) -> int:
        if in_production(info) and value < 7:
            raise ValueError(f"must be >= 7 days in production (got {value})")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PostgresDatabaseArgs:
        if _overlap(window_minutes(self.backup_window), window_minutes(self.maintenance_window)):
            raise ValueError(
                f"backupWindow {self.backup_window!r} overlaps maintenanceWindow "
                f"{self.maintenance_window!r}; allowed: windows that do not overlap (RDS refuses them)"
            )
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise ValueError(
                f"maxAllocatedStorageGb {self.max_allocated_storage_gb} is below allocatedStorageGb "
                f"{self.allocated_storage_gb}; allowed: at least the allocated storage"
            )
        return self


def check_identifier(name: str) -> str:
    """The database's name is its RDS identifier: lowercase letters, digits and single hyphens."""
    if not _IDENTIFIER.match(name) or len(name) > 50:
        raise ValueError(
            f"database name {name!r} is not allowed; allowed: up to 50 lowercase letters, digits and "
            "single hyphens, starting with a letter (it becomes the RDS instance identifier)"
        )
    return name
