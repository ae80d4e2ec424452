"""DatabaseUsers: each app's own PostgreSQL role, authenticated by IAM, made by a Job before the app runs.

Why IAM database authentication and a Job (issue #18, "a least-privilege application user"):

- The app's role has no password at all. RDS accepts, as its password, a token the app signs with
  its AWS credentials (valid 15 minutes), when the role is a member of `rds_iam` and the caller may
  `rds-db:connect` as that role (RDS user guide, "IAM database authentication for MariaDB, MySQL,
  and PostgreSQL"; Service Authorization Reference, `rds-db:connect` on
  `arn:${Partition}:rds-db:${Region}:${Account}:dbuser:${DbiResourceId}/${DbUserName}`). Nothing
  is stored, copied or rotated: a leaked token expires by itself, and a role a pod no longer holds
  stops working at once. A password user would need a second rotation (RDS rotates only the master
  user's secret) and a window in which old and new passwords both work.
- The app's AWS credentials come from EKS Pod Identity (the agent add-on the cluster already runs
  for Karpenter): the pod reaches the agent on the node at 169.254.170.23:80 and needs no route to
  STS, so its NetworkPolicy gains that one address and port, not the internet.
- The role is made by a Kubernetes Job in its own namespace, connecting as the master user (whose
  RDS-rotated secret the External Secrets Operator renders there and nowhere else), before the
  app's Deployment, which waits for it. A Job runs where the database is reachable (the private
  subnets, where `pulumi up` itself never is), with the client the engine ships (`psql` of the
  pinned PostgreSQL image), and pulumi-kubernetes waits until it completes and fails the update if
  it fails (pulumi_kubernetes 4.34.2 `batch/v1/Job` docstring). The SQL is idempotent, so a re-run
  changes nothing; it is in the Job's arguments, so changing it replaces the Job and runs it again.

What the role may do (least privilege): log in (through IAM only), connect to its database, and
create and use objects in a schema of its own name, which PostgreSQL's default `search_path`
(`"$user", public`) puts first. It cannot create roles or databases, cannot create in `public`
(PostgreSQL 15 and later revoke that from PUBLIC), and cannot read another app's schema. The
database's CONNECT and TEMPORARY privileges are taken from PUBLIC, so a role made later by hand
has no access until granted. A role is never dropped when its app goes away: its objects may hold
data (drop it by hand).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components._app_parts import EgressRule
from components._app_pod import DATABASE_DIR, AppDatabase, hardened_container, hardened_pod
from components._monitoring_network import RESTRICTED_NAMESPACE_LABELS, dns_egress
from components._nodegroups import POD_IDENTITY_SERVICE, service_trust
from components.database._component import POSTGRES_PORT, PostgresDatabase
from components.database._secrets import RDS_CA_KEY, ExternalSecrets, rds_ca_bundle
from components.versions import POSTGRES_CLIENT_IMAGE

__all__ = [
    "ADMIN_NAMESPACE",
    "DATABASE_URL_KEY",
    "POD_IDENTITY_AGENT",
    "DatabaseUser",
    "DatabaseUsers",
    "check_role_name",
    "database_url",
    "grants_sql",
    "pod_identity_egress",
    "role_name",
]

#: The file of an app's database Secret holding its URL (`DATABASE_URL_FILE` names it).
DATABASE_URL_KEY = "DATABASE_URL"
#: The namespace of the Jobs that make the app roles: the only one the master secret reaches.
ADMIN_NAMESPACE = "database-admin"
_SERVICE_ACCOUNT = "database-admin"
#: pulumi-kubernetes' annotation making the next update replace a Job that did not complete.
REPLACE_UNREADY = "pulumi.com/replaceUnready"
#: Where EKS Pod Identity's agent answers for credentials on every node (EKS user guide, "Set up
#: the Amazon EKS Pod Identity Agent": 169.254.170.23 for IPv4, port 80).
POD_IDENTITY_AGENT = "169.254.170.23/32"
POD_IDENTITY_PORT = 80
_CA_DIR = "/var/run/secrets/lmagent/rds"
#: Roles RDS and PostgreSQL reserve: `pg_*` is PostgreSQL's (CREATE ROLE refuses it), `rds*` is
#: RDS's own (rdsadmin, rds_superuser, rds_iam, ...; RDS user guide, "Understanding PostgreSQL
#: roles and permissions").
_RESERVED = re.compile(r"^(pg_|rds)")
_ROLE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

_meta, _core, _net = k8s.meta.v1, k8s.core.v1, k8s.networking.v1


def role_name(app: str) -> str:
    """The PostgreSQL role of the app named `app` (a DNS label): hyphens become underscores, so
    the name needs no quoting in SQL or in a URL. App names hold no underscore, so no two apps
    get the same role."""
    return app.replace("-", "_")


def check_role_name(app: str, master_username: str) -> str:
    """The app's role, or a ValueError naming the app and why its role cannot be made."""
    role = role_name(app)
    if not _ROLE.match(role):
        raise ValueError(
            f"app {app!r}: its database role would be {role!r}; allowed: up to 63 lower-case letters, "
            "digits and hyphens, starting with a letter"
        )
    if _RESERVED.match(role):
        raise ValueError(
            f"app {app!r}: its database role {role!r} starts with a prefix PostgreSQL or RDS reserves "
            "('pg_', 'rds'); rename the app"
        )
    if role == master_username:
        raise ValueError(
            f"app {app!r}: its database role {role!r} is the database's master user; rename the app "
            "or set the database's masterUsername to another name"
        )
    return role


def grants_sql(database: str, roles: Sequence[str]) -> str:
    """The idempotent SQL that makes `roles` in `database`, run by the master user.

    Only names checked by `check_role_name` / the database args reach it, so no quoting is needed;
    it is asserted here again so that no other string can be spliced into SQL."""
    for name in (database, *roles):
        if not _ROLE.match(name):
            raise ValueError(f"{name!r} is not a plain PostgreSQL identifier")
    lines = [
        f"REVOKE ALL ON DATABASE {database} FROM PUBLIC;",
    ]
    for role in sorted(set(roles)):
        lines += [
            # CREATE ROLE has no IF NOT EXISTS; attributes not named take PostgreSQL's defaults
            # (NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS), which the tests
            # read back from a real server.
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} LOGIN; END IF; END $$;",
            # Members of rds_iam log in with an IAM token only (RDS user guide, "Creating a
            # database account using IAM authentication").
            f"GRANT rds_iam TO {role};",
            f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};",
            # Owned by the master user, used by the app: the master needs no membership in the
            # app's role (PostgreSQL 16 gives a role's creator ADMIN but not SET on it).
            f"CREATE SCHEMA IF NOT EXISTS {role};",
            f"REVOKE ALL ON SCHEMA {role} FROM PUBLIC;",
            f"GRANT USAGE, CREATE ON SCHEMA {role} TO {role};",
        ]
    return "\n".join(lines) + "\n"


def database_url(user: str, host: str, port: int, database: str, ca_path: str) -> str:
    """`DATABASE_URL` of an app: its role, no password (the app passes an IAM token as the
    password), TLS verified against the region's RDS CAs at `ca_path`."""
    return f"postgresql://{user}@{host}:{port}/{database}?sslmode=verify-full&sslrootcert={ca_path}"


def _url(role: str, database: str, host_port: list[object]) -> str:
    return database_url(
        role, str(host_port[0]), int(str(host_port[1])), database, f"{DATABASE_DIR}/{RDS_CA_KEY}"
    )


def pod_identity_egress() -> EgressRule:
    """The app's way to its AWS credentials: the EKS Pod Identity agent on its node, and nothing else."""
    return EgressRule(
        description="EKS Pod Identity agent (AWS credentials for the IAM database token)",
        cidrs=[POD_IDENTITY_AGENT],
        ports=[POD_IDENTITY_PORT],
    )


@dataclass(frozen=True)
class DatabaseUser:
    """One app of a database: its Kubernetes name, namespace and ServiceAccount, and the managed
    policies its pods' role carries besides `rds-db:connect` (its `iamPolicyArns`)."""

    app: str
    namespace: str
    service_account: str
    policy_arns: tuple[pulumi.Input[str], ...] = ()


class DatabaseUsers(pulumi.ComponentResource):
    """The admin namespace and, per database, the Job making its apps' roles; per app, the IAM
    role its pods assume through EKS Pod Identity with `rds-db:connect` as its own role only."""

    def __init__(
        self,
        name: str,
        *,
        provider: k8s.Provider,
        cluster_name: pulumi.Input[str],
        region: str,
        secrets: ExternalSecrets,
        database_cidrs: Sequence[str],
        depends_on: Sequence[pulumi.Resource] = (),
        tags: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`secrets` renders the master credentials into `ADMIN_NAMESPACE` (its store must serve
        that namespace); `database_cidrs` are where the databases are (the private subnets);
        `depends_on` is what the Jobs' pods need first (cluster DNS)."""
        super().__init__("lmagent:components:DatabaseUsers", name, None, opts)
        self._name, self._provider, self._region = name, provider, region
        self._cluster_name, self._secrets, self._tags = cluster_name, secrets, dict(tags or {})
        self._after = list(depends_on)
        # PostgreSQL is reachable only in the databases' subnets.
        self._database_egress = EgressRule(
            description="PostgreSQL in the private subnets", cidrs=list(database_cidrs), ports=[POSTGRES_PORT]
        )
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        namespace = _core.Namespace(
            f"{name}-namespace",
            metadata=_meta.ObjectMetaArgs(
                name=ADMIN_NAMESPACE,
                labels=dict(RESTRICTED_NAMESPACE_LABELS),
            ),
            opts=k8s_opts,
        )
        self._policies = [
            _net.NetworkPolicy(
                f"{name}-{policy}",
                metadata=_meta.ObjectMetaArgs(name=policy, namespace=namespace.metadata.name),
                spec=spec,
                opts=k8s_opts,
            )
            for policy, spec in network_policies(database_cidrs).items()
        ]
        self._account = _core.ServiceAccount(
            f"{name}-serviceaccount",
            metadata=_meta.ObjectMetaArgs(name=_SERVICE_ACCOUNT, namespace=namespace.metadata.name),
            # The Job calls no Kubernetes API.
            automount_service_account_token=False,
            opts=k8s_opts,
        )
        self.namespace = namespace
        self.register_outputs({"namespace": ADMIN_NAMESPACE})

    def database(
        self, key: str, database: PostgresDatabase, users: Sequence[DatabaseUser], *, master_username: str
    ) -> dict[str, AppDatabase]:
        """Make `users`' roles in `database` (the stack's database `key`); return, per app, what its
        AppService needs: its `DATABASE_URL`, the CA bundle, and what its pods wait for."""
        roles = {u.app: check_role_name(u.app, master_username) for u in users}
        secret_name = f"{key}-master"
        master = self._secrets.master_credentials(
            f"{self._name}-{key}-master",
            ADMIN_NAMESPACE,
            secret_name=secret_name,
            secret_arn=database.secret_arn,
            region=self._region,
            depends_on=[self.namespace],
        )
        # The associations first, and the Job after them: EKS applies a new association within
        # seconds, not at once (EKS API reference, CreatePodIdentityAssociation), and a pod the
        # webhook admits before it gets no credentials. The Job's run (an image pull and a psql
        # session) is the margin before the apps' pods start.
        associations = {user.app: self._identity(key, database, user, roles[user.app]) for user in users}
        job = self._job(key, database, sorted(roles.values()), secret_name, [master, *associations.values()])
        out: dict[str, AppDatabase] = {}
        for user in users:
            association = associations[user.app]
            url = pulumi.Output.all(database.address, database.port).apply(
                functools.partial(_url, roles[user.app], database.database_name)
            )
            out[user.app] = AppDatabase(
                files={DATABASE_URL_KEY: url, RDS_CA_KEY: rds_ca_bundle(self._region)},
                egress=(self._database_egress, pod_identity_egress()),
                ready=(job, association),
            )
        return out

    # -----------------------------------------------------------------------------------------

    def _job(
        self,
        key: str,
        database: PostgresDatabase,
        roles: list[str],
        secret_name: str,
        after: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        sql = grants_sql(database.database_name, roles)
        # The name follows the SQL and the image: a change makes a new Job (a Job's pod template
        # cannot be changed), created before the old one is deleted.
        digest = hashlib.sha256(json.dumps([sql, POSTGRES_CLIENT_IMAGE]).encode()).hexdigest()[:8]
        labels = {"app.kubernetes.io/name": "database-users", "lmagent.dev/database": key}

        def secret_env(var: str, field: str) -> k8s.core.v1.EnvVarArgs:
            return _core.EnvVarArgs(
                name=var,
                value_from=_core.EnvVarSourceArgs(
                    secret_key_ref=_core.SecretKeySelectorArgs(name=secret_name, key=field)
                ),
            )

        container = _core.ContainerArgs(
            name="psql",
            image=POSTGRES_CLIENT_IMAGE,
            command=["psql"],
            # One simple query: every statement in one transaction (psql docs, `-c`), stopping at
            # the first error; no ~/.psqlrc read.
            args=["--no-psqlrc", "--set", "ON_ERROR_STOP=1", "--command", sql],
            env=[
                _core.EnvVarArgs(name="PGHOST", value=database.address),
                _core.EnvVarArgs(name="PGPORT", value=database.port.apply(str)),
                _core.EnvVarArgs(name="PGDATABASE", value=database.database_name),
                _core.EnvVarArgs(name="PGSSLMODE", value="verify-full"),
                _core.EnvVarArgs(name="PGSSLROOTCERT", value=f"{_CA_DIR}/{RDS_CA_KEY}"),
                _core.EnvVarArgs(name="PGCONNECT_TIMEOUT", value="10"),
                _core.EnvVarArgs(name="PGAPPNAME", value="lmagent-database-users"),
                secret_env("PGUSER", "username"),
                secret_env("PGPASSWORD", "password"),
            ],
            resources=_core.ResourceRequirementsArgs(
                requests={"cpu": "50m", "memory": "32Mi"}, limits={"cpu": "200m", "memory": "64Mi"}
            ),
            # The apps' unprivileged UID (RUN_AS), above 10000 so it is no user of the host or the
            # image (whose `postgres` user is 70). psql needs no passwd entry: PGUSER and PGPASSWORD
            # are set, so libpq looks up neither the OS user name nor ~/.pgpass.
            security_context=hardened_container(),
            volume_mounts=[_core.VolumeMountArgs(name="rds-ca", mount_path=_CA_DIR, read_only=True)],
        )
        return k8s.batch.v1.Job(
            f"{self._name}-{key}-job",
            metadata=_meta.ObjectMetaArgs(
                name=f"{key}-users-{digest}",
                namespace=ADMIN_NAMESPACE,
                labels=labels,
                # A Job that failed stays failed, and pulumi-kubernetes keeps awaiting a resource
                # that was not ready: every later `pulumi up` (and a `pulumi refresh`) would fail
                # on it until someone deleted it by hand. With this annotation the next update
                # replaces a Job that is not complete, so it runs again (pulumi-kubernetes
                # provider/pkg/provider/provider.go, Diff: `replaceUnready`, Jobs only; the 4.34.2
                # SDK's batch/v1 Job docstring). A completed Job is left as it is.
                annotations={REPLACE_UNREADY: "true"},
            ),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=4,
                # Within pulumi-kubernetes' 10-minute wait for a Job, so a stuck run fails the update.
                active_deadline_seconds=480,
                template=_core.PodTemplateSpecArgs(
                    metadata=_meta.ObjectMetaArgs(labels=labels),
                    spec=_core.PodSpecArgs(
                        restart_policy="Never",
                        service_account_name=self._account.metadata.name,
                        automount_service_account_token=False,
                        security_context=hardened_pod(),
                        containers=[container],
                        volumes=[
                            _core.VolumeArgs(
                                name="rds-ca",
                                secret=_core.SecretVolumeSourceArgs(
                                    secret_name=secret_name,
                                    items=[_core.KeyToPathArgs(key=RDS_CA_KEY, path=RDS_CA_KEY)],
                                    default_mode=0o444,
                                ),
                            )
                        ],
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=self._provider,
                depends_on=[*after, *self._policies, *self._after],
            ),
        )

    def _identity(
        self, key: str, database: PostgresDatabase, user: DatabaseUser, role: str
    ) -> aws.eks.PodIdentityAssociation:
        child = pulumi.ResourceOptions(parent=self)
        iam_role = aws.iam.Role(
            f"{self._name}-{user.app}",
            aws.iam.RoleArgs(
                description=f"App {user.app}: PostgreSQL role {role} of database {key} (EKS Pod Identity)",
                assume_role_policy=service_trust(POD_IDENTITY_SERVICE),
                managed_policy_arns=list(user.policy_arns) or None,
                tags={**self._tags, "app": user.app},
            ),
            opts=child,
        )
        invoke = pulumi.InvokeOutputOptions(parent=self)
        account = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition
        policy = aws.iam.RolePolicy(
            f"{self._name}-{user.app}-connect",
            aws.iam.RolePolicyArgs(
                role=iam_role.id,
                policy=pulumi.Output.all(partition, account, database.resource_id).apply(
                    lambda a: connect_policy(str(a[0]), self._region, str(a[1]), str(a[2]), role)
                ),
            ),
            opts=child,
        )
        return aws.eks.PodIdentityAssociation(
            f"{self._name}-{user.app}-pod-identity",
            aws.eks.PodIdentityAssociationArgs(
                cluster_name=self._cluster_name,
                namespace=user.namespace,
                service_account=user.service_account,
                role_arn=iam_role.arn,
                tags={**self._tags, "app": user.app},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )


def connect_policy(partition: str, region: str, account: str, resource_id: str, role: str) -> str:
    """`rds-db:connect` as `role` on the instance `resource_id` (its DbiResourceId), nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ConnectAsTheAppsOwnRole",
                    "Effect": "Allow",
                    "Action": "rds-db:connect",
                    "Resource": f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{role}",
                }
            ],
        },
        sort_keys=True,
    )


def network_policies(database_cidrs: Sequence[str]) -> dict[str, k8s.networking.v1.NetworkPolicySpecArgs]:
    """The admin namespace: deny all; its Jobs may resolve names and reach PostgreSQL in the
    databases' subnets, nothing else (no ingress at all)."""
    everything = _meta.LabelSelectorArgs()
    return {
        "default-deny": _net.NetworkPolicySpecArgs(
            pod_selector=everything, policy_types=["Ingress", "Egress"]
        ),
        "allow-database-users": _net.NetworkPolicySpecArgs(
            pod_selector=_meta.LabelSelectorArgs(match_labels={"app.kubernetes.io/name": "database-users"}),
            policy_types=["Ingress", "Egress"],
            egress=[
                dns_egress(),
                _net.NetworkPolicyEgressRuleArgs(
                    to=[
                        _net.NetworkPolicyPeerArgs(ip_block=_net.IPBlockArgs(cidr=c)) for c in database_cidrs
                    ],
                    ports=[_net.NetworkPolicyPortArgs(port=POSTGRES_PORT, protocol="TCP")],
                ),
            ],
        ),
    }
