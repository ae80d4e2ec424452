"""PostgresDatabase: one RDS PostgreSQL instance with its key, network, parameters, backups and alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components._log_key import log_group_key, rotating_key
from components._nodegroups import service_trust
from components.database._alerts import MonitoredDatabase
from components.database._args import PostgresDatabaseArgs, check_identifier
from components.versions import POSTGRES_MAJOR, POSTGRES_PARAMETER_FAMILY, RDS_CA_IDENTIFIER

__all__ = ["POSTGRES_PORT", "PostgresDatabase"]

POSTGRES_PORT = 5432

#: The log types RDS for PostgreSQL can export (pulumi_aws rds.Instance
#: `enabled_cloudwatch_logs_exports`: "PostgreSQL: iam-db-auth-error, postgresql, upgrade").
_LOG_EXPORTS = ["postgresql", "upgrade"]

_ENHANCED_MONITORING_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
# AWS Backup's managed policies for its service role (AWS Backup developer guide, "Managed policies").
_BACKUP_POLICIES = {
    "backup": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "restore": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
}


class PostgresDatabase(pulumi.ComponentResource):
    """An RDS PostgreSQL instance in private subnets, reachable on 5432 from one security group only.

    Storage, Performance Insights and the Secrets Manager secret of the master password are
    encrypted with a customer-managed key created here (an instance's storage key cannot be changed
    after creation). The master password is generated and rotated by RDS (`manage_master_user_password`)
    and never enters Pulumi's state: only the secret's ARN does. TLS is required by the parameter
    group (`rds.force_ssl=1`). AWS Backup keeps daily snapshots and continuous backups in a vault of
    its own, locked in compliance mode when configured.
    """

    address: pulumi.Output[str]
    """The instance's DNS name (what clients connect to and what its certificate names)."""

    port: pulumi.Output[int]
    """The port PostgreSQL listens on (5432)."""

    database_name: str
    """The database created in the instance."""

    secret_arn: pulumi.Output[str]
    """ARN of the Secrets Manager secret RDS keeps the master user's credentials in (JSON with
    `username` and `password`)."""

    key_arn: pulumi.Output[str]
    """ARN of the KMS key encrypting storage, backups and the secret."""

    security_group_id: pulumi.Output[str]
    """The instance's security group."""

    instance_arn: pulumi.Output[str]
    """ARN of the RDS instance."""

    resource_id: pulumi.Output[str]
    """The instance's DbiResourceId (`db-...`), which `rds-db:connect` ARNs name."""

    alarm_names: list[pulumi.Output[str]]
    """Names of the CloudWatch alarms on the instance (none unless `alarm_topic_arns` were given)."""

    monitored: MonitoredDatabase
    """The instance as its Prometheus alerts see it (`DatabaseAlerts`): identifier, allocated
    storage and thresholds."""

    def __init__(
        self,
        name: str,
        args: PostgresDatabaseArgs,
        *,
        vpc_id: pulumi.Input[str],
        subnet_ids: pulumi.Input[Sequence[str]],
        client_security_group_id: pulumi.Input[str],
        identifier: str | None = None,
        alarm_topic_arns: Sequence[pulumi.Input[str]] = (),
        tags: Mapping[str, str] | None = None,
        protect: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the database `name` from `args` in `subnet_ids` (private subnets of `vpc_id`).

        `client_security_group_id` is the only source admitted on 5432 (for EKS, the cluster
        security group, which managed node groups' nodes carry). `identifier` is the RDS instance
        identifier (default `name`). `alarm_topic_arns`: SNS topics for CloudWatch alarms on the
        instance's metrics, for callers that route alerts through SNS; default none, and then no
        alarm is declared: the alerts are Prometheus rules on the same metrics (`DatabaseAlerts`),
        routed by Alertmanager with every other alert. Passing topics and using `DatabaseAlerts`
        too would page twice for one incident. `protect` guards the instance, its key and its
        vault against `pulumi destroy` and replacement, and keeps a final snapshot on deletion.
        """
        identifier = check_identifier(identifier or name)
        super().__init__("lmagent:components:PostgresDatabase", name, None, opts)
        self._tags = {**(tags or {}), "component": "database", "database": identifier}
        child = pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=protect)
        invoke = pulumi.InvokeOutputOptions(parent=self)

        key = rotating_key(
            f"{name}-key",
            description=f"RDS {identifier}: storage, snapshots, Performance Insights, master secret",
            tags=self._tags,
            opts=guarded,
        )

        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets",
            aws.rds.SubnetGroupArgs(
                name=identifier,
                description=f"Private subnets of RDS {identifier}",
                subnet_ids=subnet_ids,
                tags=self._tags,
            ),
            opts=child,
        )
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            aws.ec2.SecurityGroupArgs(
                name=f"rds-{identifier}",
                description=f"RDS {identifier}: PostgreSQL from the cluster's nodes only",
                vpc_id=vpc_id,
                tags=self._tags,
            ),
            opts=child,
        )
        # No egress rule: the instance starts no connection of its own, and the provider removes
        # the allow-all egress rule AWS adds to a new group (pulumi_aws ec2.SecurityGroup
        # docstring, "NOTE on Egress rules").
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-sg-postgres",
            aws.vpc.SecurityGroupIngressRuleArgs(
                security_group_id=group.id,
                referenced_security_group_id=client_security_group_id,
                ip_protocol="tcp",
                from_port=POSTGRES_PORT,
                to_port=POSTGRES_PORT,
                description="PostgreSQL from the EKS cluster security group",
                tags=self._tags,
            ),
            opts=child,
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-parameters",
            aws.rds.ParameterGroupArgs(
                name=f"{identifier}-{POSTGRES_PARAMETER_FAMILY}",
                family=POSTGRES_PARAMETER_FAMILY,
                description=f"RDS {identifier}: TLS required, slow statements logged",
                parameters=[
                    # Connections without TLS are refused (RDS user guide, "Requiring an SSL/TLS
                    # connection to a PostgreSQL DB instance").
                    aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                    aws.rds.ParameterGroupParameterArgs(name="log_min_duration_statement", value="1000"),
                    aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
                    aws.rds.ParameterGroupParameterArgs(name="log_disconnections", value="1"),
                ],
                tags=self._tags,
            ),
            # The family is in the name: a major upgrade creates the new group before the old one,
            # still in use, is deleted.
            opts=child,
        )

        # RDS creates these log groups on first export, without expiry: created first, with one.
        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        logs_key = log_group_key(
            f"{name}-logs-key",
            account=account,
            region=region,
            log_group_name=f"/aws/rds/instance/{identifier}/*",
            purpose=f"RDS {identifier} logs",
            tags=self._tags,
            parent=self,
            protect=protect,
        )
        log_groups = [
            aws.cloudwatch.LogGroup(
                f"{name}-log-{kind}",
                aws.cloudwatch.LogGroupArgs(
                    name=f"/aws/rds/instance/{identifier}/{kind}",
                    retention_in_days=args.log_retention_days,
                    kms_key_id=logs_key.arn,
                    tags=self._tags,
                ),
                opts=guarded,
            )
            for kind in _LOG_EXPORTS
        ]

        monitoring_role = None
        if args.monitoring_interval_seconds:
            monitoring_role = aws.iam.Role(
                f"{name}-monitoring-role",
                aws.iam.RoleArgs(
                    description=f"RDS {identifier}: enhanced monitoring",
                    assume_role_policy=service_trust("monitoring.rds.amazonaws.com"),
                    tags=self._tags,
                ),
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-monitoring-policy",
                role=monitoring_role.name,
                policy_arn=_ENHANCED_MONITORING_POLICY,
                opts=child,
            )

        continuous = args.backup.continuous
        instance = aws.rds.Instance(
            f"{name}-instance",
            aws.rds.InstanceArgs(
                identifier=identifier,
                engine="postgres",
                # The major only: RDS picks the newest minor and applies later ones in the
                # maintenance window (auto_minor_version_upgrade).
                engine_version=POSTGRES_MAJOR,
                auto_minor_version_upgrade=True,
                allow_major_version_upgrade=False,
                # Not enrolled in paid RDS Extended Support when the major reaches end of
                # standard support: an upgrade is forced instead (docstring: the default is
                # `open-source-rds-extended-support`).
                engine_lifecycle_support="open-source-rds-extended-support-disabled",
                instance_class=args.instance_class,
                allocated_storage=args.allocated_storage_gb,
                max_allocated_storage=args.max_allocated_storage_gb,
                storage_type="gp3",
                storage_encrypted=True,
                kms_key_id=key.arn,
                db_name=args.database_name,
                username=args.master_username,
                manage_master_user_password=True,
                master_user_secret_kms_key_id=key.arn,
                iam_database_authentication_enabled=True,
                db_subnet_group_name=subnets.name,
                vpc_security_group_ids=[group.id],
                publicly_accessible=False,
                port=POSTGRES_PORT,
                parameter_group_name=parameters.name,
                ca_cert_identifier=RDS_CA_IDENTIFIER,
                multi_az=args.multi_az,
                backup_retention_period=args.backup_retention_days,
                backup_window=args.backup_window,
                maintenance_window=args.maintenance_window,
                copy_tags_to_snapshot=True,
                delete_automated_backups=not protect,
                deletion_protection=args.deletion_protection,
                skip_final_snapshot=not protect,
                # Unique per key, and a new key means a new instance: a second deletion never
                # collides with the first one's snapshot.
                final_snapshot_identifier=(
                    key.key_id.apply(lambda k: f"{identifier}-final-{k.split('-')[0]}") if protect else None
                ),
                performance_insights_enabled=args.performance_insights,
                performance_insights_kms_key_id=key.arn if args.performance_insights else None,
                performance_insights_retention_period=7 if args.performance_insights else None,
                monitoring_interval=args.monitoring_interval_seconds,
                monitoring_role_arn=monitoring_role.arn if monitoring_role is not None else None,
                enabled_cloudwatch_logs_exports=_LOG_EXPORTS,
                apply_immediately=False,
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=protect,
                depends_on=log_groups,
                # With continuous backup, AWS Backup takes over the instance's automated backups
                # and sets their retention to its rule's (AWS Backup developer guide, "Continuous
                # backups and point-in-time recovery"): Pulumi would reset it on every update.
                ignore_changes=["backupRetentionPeriod"] if continuous else None,
            ),
        )
        self._backups(name, identifier, args, instance, key, protect)
        topics = list(alarm_topic_arns)
        self.alarm_names = self._alarms(name, identifier, args, instance, topics) if topics else []
        self.monitored = MonitoredDatabase(identifier, args.allocated_storage_gb, args.alarms)

        self.address = instance.address
        self.port = instance.port
        self.database_name = args.database_name
        self.secret_arn = instance.master_user_secrets.apply(lambda s: str(s[0].secret_arn))
        self.key_arn = key.arn
        self.security_group_id = group.id
        self.instance_arn = instance.arn
        self.resource_id = instance.resource_id
        self.register_outputs(
            {
                "address": self.address,
                "port": self.port,
                "databaseName": self.database_name,
                "secretArn": self.secret_arn,
                "keyArn": self.key_arn,
                "securityGroupId": self.security_group_id,
                "instanceArn": self.instance_arn,
            }
        )

    # -----------------------------------------------------------------------------------------

    def _backups(
        self,
        name: str,
        identifier: str,
        args: PostgresDatabaseArgs,
        instance: aws.rds.Instance,
        key: aws.kms.Key,
        protect: bool,
    ) -> None:
        backup, child = args.backup, pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=protect)
        vault = aws.backup.Vault(
            f"{name}-vault",
            aws.backup.VaultArgs(
                name=f"rds-{identifier}", kms_key_arn=key.arn, force_destroy=not protect, tags=self._tags
            ),
            opts=guarded,
        )
        retention = [backup.daily_retention_days] + (
            [backup.continuous_retention_days] if backup.continuous else []
        )
        if backup.vault_lock:
            # Compliance mode (changeable_for_days set): after the grace period the lock and the
            # recovery points' retention can no longer be changed, not even by the root user
            # (pulumi_aws backup.VaultLockConfiguration docstring; AWS Backup "Vault Lock").
            aws.backup.VaultLockConfiguration(
                f"{name}-vault-lock",
                aws.backup.VaultLockConfigurationArgs(
                    backup_vault_name=vault.name,
                    changeable_for_days=backup.vault_lock_grace_days,
                    min_retention_days=min(retention),
                    max_retention_days=max(retention),
                ),
                opts=guarded,
            )
        copy_actions: list[aws.backup.PlanRuleCopyActionArgs] = []
        if backup.copy_to_region is not None:
            remote = aws.Provider(f"{name}-copy-region", region=backup.copy_to_region, opts=child)
            remote_opts = pulumi.ResourceOptions(parent=self, provider=remote, protect=protect)
            remote_key = rotating_key(
                f"{name}-copy-key",
                description=f"RDS {identifier}: backup copies in {backup.copy_to_region}",
                tags=self._tags,
                opts=remote_opts,
            )
            remote_vault = aws.backup.Vault(
                f"{name}-copy-vault",
                aws.backup.VaultArgs(
                    name=f"rds-{identifier}",
                    kms_key_arn=remote_key.arn,
                    force_destroy=not protect,
                    tags=self._tags,
                ),
                opts=remote_opts,
            )
            copy_actions.append(
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=remote_vault.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=backup.copy_retention_days
                    ),
                )
            )
        rules = [
            aws.backup.PlanRuleArgs(
                rule_name="daily",
                target_vault_name=vault.name,
                schedule=backup.schedule,
                start_window=60,
                completion_window=360,
                lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=backup.daily_retention_days),
                copy_actions=copy_actions or None,
                recovery_point_tags=self._tags,
            )
        ]
        if backup.continuous:
            rules.append(
                aws.backup.PlanRuleArgs(
                    rule_name="continuous",
                    target_vault_name=vault.name,
                    schedule="cron(0 * ? * * *)",
                    enable_continuous_backup=True,
                    lifecycle=aws.backup.PlanRuleLifecycleArgs(delete_after=backup.continuous_retention_days),
                    recovery_point_tags=self._tags,
                )
            )
        plan = aws.backup.Plan(
            f"{name}-backup-plan",
            aws.backup.PlanArgs(name=f"rds-{identifier}", rules=rules, tags=self._tags),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-backup-role",
            aws.iam.RoleArgs(
                description=f"AWS Backup of RDS {identifier}",
                assume_role_policy=service_trust("backup.amazonaws.com"),
                tags=self._tags,
            ),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-backup-role-{kind}", role=role.name, policy_arn=arn, opts=child
            )
            for kind, arn in _BACKUP_POLICIES.items()
        ]
        aws.backup.Selection(
            f"{name}-backup-selection",
            aws.backup.SelectionArgs(
                name=f"rds-{identifier}",
                plan_id=plan.id,
                iam_role_arn=role.arn,
                resources=[instance.arn],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

    def _alarms(
        self,
        name: str,
        identifier: str,
        args: PostgresDatabaseArgs,
        instance: aws.rds.Instance,
        topics: list[pulumi.Input[str]],
    ) -> list[pulumi.Output[str]]:
        """CloudWatch alarms on the instance's own metrics (AWS/RDS namespace). No replica-lag
        alarm: a Multi-AZ instance's standby is synchronous and not readable, and RDS publishes
        `ReplicaLag` only for read replicas (RDS user guide, "Amazon CloudWatch metrics for RDS")."""
        alarms = args.alarms
        free_bytes = args.allocated_storage_gb * 2**30 * alarms.free_storage_percent / 100
        specs = {
            "cpu": (
                "CPUUtilization",
                "GreaterThanThreshold",
                alarms.cpu_percent,
                3,
                "CPU above threshold for 15 minutes",
            ),
            "storage": (
                "FreeStorageSpace",
                "LessThanThreshold",
                free_bytes,
                1,
                "free storage nearly exhausted",
            ),
            "connections": (
                "DatabaseConnections",
                "GreaterThanThreshold",
                alarms.connections,
                2,
                "connections high",
            ),
            "memory": (
                "FreeableMemory",
                "LessThanThreshold",
                alarms.freeable_memory_mib * 2**20,
                3,
                "freeable memory low for 15 minutes",
            ),
        }
        names = []
        for kind, (metric, operator, threshold, periods, what) in specs.items():
            alarm = aws.cloudwatch.MetricAlarm(
                f"{name}-alarm-{kind}",
                aws.cloudwatch.MetricAlarmArgs(
                    name=f"rds-{identifier}-{kind}",
                    alarm_description=f"RDS {identifier}: {what}",
                    namespace="AWS/RDS",
                    metric_name=metric,
                    dimensions={"DBInstanceIdentifier": instance.identifier},
                    statistic="Average",
                    period=300,
                    evaluation_periods=periods,
                    threshold=float(threshold),
                    comparison_operator=operator,
                    # No data is itself a problem for a running database (stopped, or metrics lost).
                    treat_missing_data="breaching",
                    alarm_actions=topics,
                    ok_actions=topics,
                    tags=self._tags,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            names.append(alarm.name)
        return names
