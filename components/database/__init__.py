"""The service's database: RDS PostgreSQL with its backups and alerts, the External Secrets
Operator that renders its rotating master credentials into the database-admin namespace, and the
apps' own roles, authenticated by IAM, which a Job there makes before the apps start."""

from components.database._alerts import MonitoredDatabase, database_alert_groups
from components.database._args import BackupArgs, DatabaseAlarms, PostgresDatabaseArgs
from components.database._component import POSTGRES_PORT, PostgresDatabase
from components.database._exporter import DatabaseAlerts
from components.database._secrets import RDS_CA_KEY, ExternalSecrets, rds_ca_bundle
from components.database._users import (
    ADMIN_NAMESPACE,
    DATABASE_URL_KEY,
    DatabaseUser,
    DatabaseUsers,
    check_role_name,
    database_url,
    grants_sql,
    role_name,
)

__all__ = [
    "ADMIN_NAMESPACE",
    "DATABASE_URL_KEY",
    "POSTGRES_PORT",
    "RDS_CA_KEY",
    "BackupArgs",
    "DatabaseAlarms",
    "DatabaseAlerts",
    "DatabaseUser",
    "DatabaseUsers",
    "ExternalSecrets",
    "MonitoredDatabase",
    "PostgresDatabase",
    "PostgresDatabaseArgs",
    "check_role_name",
    "database_alert_groups",
    "database_url",
    "grants_sql",
    "rds_ca_bundle",
    "role_name",
]
