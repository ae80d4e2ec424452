"""The service's database: RDS PostgreSQL with its backups and alerts, and the External Secrets
Operator that renders its rotating credentials into the apps' namespaces."""

from components.database._alerts import MonitoredDatabase, database_alert_groups
from components.database._args import BackupArgs, DatabaseAlarms, PostgresDatabaseArgs
from components.database._component import POSTGRES_PORT, PostgresDatabase
from components.database._exporter import DatabaseAlerts
from components.database._secrets import (
    DATABASE_URL_KEY,
    RDS_CA_KEY,
    ExternalSecrets,
    database_url_template,
    rds_ca_bundle,
)

__all__ = [
    "DATABASE_URL_KEY",
    "POSTGRES_PORT",
    "RDS_CA_KEY",
    "BackupArgs",
    "DatabaseAlarms",
    "DatabaseAlerts",
    "ExternalSecrets",
    "MonitoredDatabase",
    "PostgresDatabase",
    "PostgresDatabaseArgs",
    "database_alert_groups",
    "database_url_template",
    "rds_ca_bundle",
]
