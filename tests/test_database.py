"""PostgresDatabase and ExternalSecrets: what they declare, and the args they refuse."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pydantic
import pytest

from components.database import ExternalSecrets, PostgresDatabase, PostgresDatabaseArgs
from components.database._args import window_minutes
from components.testing import SynthResult, synth
from tests import _crds
from tests.conftest import STACKS, synth_stack, synth_with

PROD = {"environment": "production"}


def _program(args: PostgresDatabaseArgs, *, protect: bool) -> None:
    db = PostgresDatabase(
        "db",
        args,
        vpc_id="vpc-123",
        subnet_ids=["subnet-a", "subnet-b"],
        client_security_group_id="sg-cluster",
        identifier="lmagent-staging-main",
        tags={"project": "p"},
        protect=protect,
    )
    provider = k8s.Provider("k8s", kubeconfig="{}")
    eso = ExternalSecrets(
        "eso",
        provider=provider,
        region="eu-west-1",
        irsa=lambda name, ns, sa, policy: _role(name, ns, sa, policy),
        secrets=[(db.secret_arn, db.key_arn)],
        namespaces=["database-admin"],
    )
    eso.master_credentials(
        "main-master",
        "database-admin",
        secret_name="main-master",
        secret_arn=db.secret_arn,
        region="eu-west-1",
    )
    pulumi.export("address", db.address)
    pulumi.export("secretArn", db.secret_arn)


def _role(name: str, namespace: str, sa: str, policy: pulumi.Input[str]) -> pulumi.Output[str]:
    import pulumi_aws as aws

    role = aws.iam.Role(name, assume_role_policy="{}", inline_policies=[{"name": "p", "policy": policy}])
    return role.arn


def _synth(args: PostgresDatabaseArgs | None = None, *, protect: bool = True) -> SynthResult:
    args = args or PostgresDatabaseArgs()
    return synth(
        lambda: _program(args, protect=protect), project="p", stack="s", config={"aws:region": "eu-west-1"}
    )


@pytest.fixture(scope="module")
def result() -> SynthResult:
    return _synth()


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in [key, *_keys(v)]]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def _one(result: SynthResult, typ: str) -> dict[str, Any]:
    (res,) = result.of_type(typ)
    return res


# ---------------------------------------------------------------------------------------------
# The instance


def test_the_instance_is_encrypted_private_tls_only_and_managed_by_rds(result: SynthResult) -> None:
    inst = _one(result, "aws:rds/instance:Instance")["inputs"]
    key = _one(result, "aws:kms/key:Key") if len(result.of_type("aws:kms/key:Key")) == 1 else None
    assert inst["engine"] == "postgres" and inst["engineVersion"] == "17"
    assert inst["storageEncrypted"] is True and inst["kmsKeyId"].startswith("arn:aws:kms:")
    assert inst["manageMasterUserPassword"] is True
    assert inst["masterUserSecretKmsKeyId"] == inst["kmsKeyId"]
    assert "password" not in inst
    assert inst["publiclyAccessible"] is False
    assert inst["engineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert inst["caCertIdentifier"] == "rds-ca-rsa2048-g1"
    assert inst["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert inst["monitoringInterval"] == 60 and inst["monitoringRoleArn"].startswith("arn:aws:iam::")
    assert inst["performanceInsightsEnabled"] is True
    assert inst["performanceInsightsKmsKeyId"] == inst["kmsKeyId"]
    assert inst["copyTagsToSnapshot"] is True
    assert inst["backupRetentionPeriod"] == 14
    assert key is None  # the logs have a key of their own


def test_the_parameter_group_forces_tls(result: SynthResult) -> None:
    group = _one(result, "aws:rds/parameterGroup:ParameterGroup")["inputs"]
    assert group["family"] == "postgres17"
    assert {"name": "rds.force_ssl", "value": "1"} in [
        {k: p[k] for k in ("name", "value")} for p in group["parameters"]
    ]


def test_only_the_cluster_security_group_reaches_5432(result: SynthResult) -> None:
    (rule,) = result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rule["inputs"]["referencedSecurityGroupId"] == "sg-cluster"
    assert (rule["inputs"]["fromPort"], rule["inputs"]["toPort"], rule["inputs"]["ipProtocol"]) == (
        5432,
        5432,
        "tcp",
    )
    assert "cidrIpv4" not in rule["inputs"]
    assert result.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule") == []
    group = _one(result, "aws:ec2/securityGroup:SecurityGroup")["inputs"]
    assert "ingress" not in group and "egress" not in group


def test_protected_it_keeps_a_final_snapshot_and_cannot_be_deleted(result: SynthResult) -> None:
    res = _one(result, "aws:rds/instance:Instance")
    inst = res["inputs"]
    assert res["options"]["protect"] is True
    assert inst["deletionProtection"] is True and inst["multiAz"] is True
    assert inst["skipFinalSnapshot"] is False
    assert re.fullmatch(r"lmagent-staging-main-final-[0-9a-f]{8}", inst["finalSnapshotIdentifier"])
    assert inst["deleteAutomatedBackups"] is False
    for typ in ("aws:backup/vault:Vault", "aws:backup/vaultLockConfiguration:VaultLockConfiguration"):
        assert _one(result, typ)["options"]["protect"] is True


def test_unprotected_staging_is_deletable_without_snapshot() -> None:
    args = PostgresDatabaseArgs(multi_az=False, deletion_protection=False, instance_class="db.t4g.small")
    inst = _one(_synth(args, protect=False), "aws:rds/instance:Instance")
    assert inst["options"]["protect"] is False
    assert inst["inputs"]["skipFinalSnapshot"] is True and "finalSnapshotIdentifier" not in inst["inputs"]
    assert inst["inputs"]["multiAz"] is False and inst["inputs"]["deletionProtection"] is False


def test_pulumi_leaves_the_retention_to_aws_backup_when_continuous_backup_owns_it() -> None:
    on = _one(_synth(), "aws:rds/instance:Instance")["options"]
    assert on["ignoreChanges"] == ["backupRetentionPeriod"]
    off = PostgresDatabaseArgs.model_validate({"backup": {"continuous": False}})
    assert not _one(_synth(off), "aws:rds/instance:Instance")["options"].get("ignoreChanges")


def test_the_log_groups_exist_before_the_instance_with_a_retention(result: SynthResult) -> None:
    groups = result.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert sorted(g["inputs"]["name"] for g in groups) == [
        "/aws/rds/instance/lmagent-staging-main/postgresql",
        "/aws/rds/instance/lmagent-staging-main/upgrade",
    ]
    assert all(g["inputs"]["retentionInDays"] == 30 and g["inputs"]["kmsKeyId"] for g in groups)
    inst = _one(result, "aws:rds/instance:Instance")
    assert {g["urn"] for g in groups} <= set(inst["dependencies"])


# ---------------------------------------------------------------------------------------------
# Backups


def test_the_backup_plan_is_daily_and_continuous_into_a_kms_vault(result: SynthResult) -> None:
    vault = _one(result, "aws:backup/vault:Vault")["inputs"]
    assert vault["kmsKeyArn"].startswith("arn:aws:kms:")
    rules = {r["ruleName"]: r for r in _one(result, "aws:backup/plan:Plan")["inputs"]["rules"]}
    assert rules["daily"]["lifecycle"]["deleteAfter"] == 35
    assert rules["continuous"]["enableContinuousBackup"] is True
    assert rules["continuous"]["lifecycle"]["deleteAfter"] == 35
    selection = _one(result, "aws:backup/selection:Selection")["inputs"]
    assert selection["resources"] == ["arn:aws:rds:eu-west-1:123456789012:db:lmagent-staging-main"]


def test_the_vault_is_locked_in_compliance_mode_with_a_grace_period(result: SynthResult) -> None:
    lock = _one(result, "aws:backup/vaultLockConfiguration:VaultLockConfiguration")["inputs"]
    assert lock["changeableForDays"] >= 3
    assert (lock["minRetentionDays"], lock["maxRetentionDays"]) == (35, 35)


def test_a_second_region_gets_a_copy_in_a_vault_of_its_own() -> None:
    args = PostgresDatabaseArgs.model_validate({"backup": {"copyToRegion": "eu-central-1"}})
    result = _synth(args)
    vaults = result.of_type("aws:backup/vault:Vault")
    assert len(vaults) == 2
    remote = next(v for v in vaults if v["name"] == "db-copy-vault")
    assert remote["provider"] is not None and "db-copy-region" in remote["provider"]
    (daily,) = [
        r for r in _one(result, "aws:backup/plan:Plan")["inputs"]["rules"] if r["ruleName"] == "daily"
    ]
    assert daily["copyActions"][0]["destinationVaultArn"].startswith("arn:aws:backup:eu-west-1")


def test_without_a_lock_there_is_no_lock() -> None:
    args = PostgresDatabaseArgs.model_validate({"backup": {"vaultLock": False}})
    assert _synth(args).of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration") == []


# ---------------------------------------------------------------------------------------------
# Alarms


def test_no_cloudwatch_alarm_is_declared_without_a_topic_to_send_it_to(result: SynthResult) -> None:
    # The alerts are Prometheus rules (tests/test_database_alerts.py); alarms with topics are too.
    assert result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []


# ---------------------------------------------------------------------------------------------
# Credentials


def test_the_operator_reads_exactly_the_database_secret_with_its_key(result: SynthResult) -> None:
    inst = _one(result, "aws:rds/instance:Instance")["inputs"]
    role = result.named("eso-operator")
    (policy,) = role["inputs"]["inlinePolicies"]
    statements = json.loads(policy["policy"])["Statement"]
    read = next(s for s in statements if s["Sid"] == "ReadTheDatabaseSecrets")
    assert read["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    (secret,) = read["Resource"]
    assert secret.startswith("arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-")
    decrypt = next(s for s in statements if s["Sid"] == "DecryptThemThroughSecretsManager")
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == [inst["kmsKeyId"]]
    assert "*" not in json.dumps([read["Resource"], decrypt["Resource"]])


def test_the_store_serves_only_the_namespaces_given(result: SynthResult) -> None:
    store = result.manifest("ClusterSecretStore", "aws-secrets-manager")
    assert store["spec"]["conditions"] == [{"namespaces": ["database-admin"]}]
    assert store["spec"]["provider"] == {"aws": {"service": "SecretsManager", "region": "eu-west-1"}}


def test_the_master_credentials_and_the_cas_are_rendered_for_the_admin_job(result: SynthResult) -> None:
    from components.database import RDS_CA_KEY, rds_ca_bundle

    es = result.manifest("ExternalSecret", "main-master", "database-admin")
    data = es["spec"]["target"]["template"]["data"]
    assert data == {
        "username": "{{ .username }}",
        "password": "{{ .password }}",
        RDS_CA_KEY: rds_ca_bundle("eu-west-1"),
    }
    assert [d["remoteRef"]["property"] for d in es["spec"]["data"]] == ["username", "password"]
    assert es["spec"]["target"]["name"] == "main-master"


def test_the_custom_resources_pass_the_pinned_crd_schemas(result: SynthResult) -> None:
    custom = [m for m in result.manifests if not _crds.is_builtin(m)]
    assert {m["kind"] for m in custom} == {"ClusterSecretStore", "ExternalSecret"}
    assert [p for m in custom for p in _crds.problems(m)] == []


def test_the_store_and_secrets_wait_for_the_release_installing_their_crds(result: SynthResult) -> None:
    release = _one(result, "kubernetes:helm.sh/v3:Release")
    assert release["inputs"]["chart"] == "external-secrets" and release["inputs"]["version"] == "2.9.0"
    for kind in ("ClusterSecretStore", "ExternalSecret"):
        (res,) = result.of_type(f"kubernetes:external-secrets.io/v1:{kind}")
        assert release["urn"] in res["options"]["dependsOn"] or release["urn"] in res["dependencies"]


def test_the_operator_namespace_denies_by_default(result: SynthResult) -> None:
    deny = result.manifest("NetworkPolicy", "default-deny", "external-secrets")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_nothing_declared_or_exported_holds_a_password(result: SynthResult) -> None:
    text = result.to_json()
    assert "password" not in json.dumps(
        [r["inputs"] for r in result.resources if "ExternalSecret" not in r["type"]]
    )
    assert '"masterPassword"' not in text
    # The one `password` key is the ExternalSecret's template, a reference the operator fills.
    assert re.findall(r'"password": ("[^"]*")', text) == ['"{{ .password }}"']


# ---------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    ("data", "context", "needle"),
    [
        ({"multiAz": False}, PROD, "multiAz"),
        ({"backupRetentionDays": 3}, PROD, "backupRetentionDays"),
        ({"deletionProtection": False}, PROD, "deletionProtection"),
        ({"instanceClass": "db.x9z.large"}, None, "unknown instance class family 'x9z'"),
        ({"instanceClass": "m6g.large"}, None, "unknown instance class family"),
        ({"backupWindow": "03:30-04:30", "maintenanceWindow": "sun:04:00-sun:04:30"}, None, "overlaps"),
        ({"backupWindow": "23:45-00:15", "maintenanceWindow": "mon:00:00-mon:00:30"}, None, "overlaps"),
        ({"backupWindow": "03:00-03:10"}, None, "at least 30 minutes"),
        ({"maintenanceWindow": "sunday 4am"}, None, "not a maintenance window"),
        ({"databaseName": "postgres"}, None, "reserves"),
        ({"backup": {"vaultLockGraceDays": 1}}, None, "vaultLockGraceDays"),
        ({"monitoringIntervalSeconds": 7}, None, "enhanced monitoring interval"),
        ({"allocatedStorageGb": 100, "maxAllocatedStorageGb": 50}, None, "maxAllocatedStorageGb"),
    ],
)
def test_fails_on_bad_input_naming_the_key(
    data: dict[str, Any], context: dict[str, str] | None, needle: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as err:
        PostgresDatabaseArgs.model_validate(data, context=context)
    assert needle in str(err.value)


def test_staging_may_relax_what_production_may_not() -> None:
    args = PostgresDatabaseArgs.model_validate(
        {"multiAz": False, "backupRetentionDays": 1, "deletionProtection": False},
        context={"environment": "staging"},
    )
    assert not args.multi_az


def test_windows_that_touch_do_not_overlap() -> None:
    PostgresDatabaseArgs(backup_window="03:00-03:30", maintenance_window="sun:03:30-sun:04:00")
    assert window_minutes("sat:23:30-sun:00:30") == [(5 * 1440 + 23 * 60 + 30, 6 * 1440 + 30)]


# ---------------------------------------------------------------------------------------------
# In the stacks


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_declare_the_database_and_everything_around_it(stack: str) -> None:
    result = synth_stack(stack)
    for typ in (
        "aws:rds/instance:Instance",
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:rds/subnetGroup:SubnetGroup",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:backup/vault:Vault",
        "aws:backup/plan:Plan",
        "aws:backup/selection:Selection",
    ):
        assert len(result.of_type(typ)) == 1, typ
    inst = _one(result, "aws:rds/instance:Instance")
    production = stack == "production"
    assert inst["inputs"]["multiAz"] is production
    assert inst["inputs"]["deletionProtection"] is production
    assert inst["options"]["protect"] is production
    assert ("finalSnapshotIdentifier" in inst["inputs"]) is production
    locks = result.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")
    assert len(locks) == (1 if production else 0)


@pytest.mark.parametrize("stack", STACKS)
def test_the_database_admits_the_cluster_security_group_the_nodes_carry(stack: str) -> None:
    result = synth_stack(stack)
    (rule,) = result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    cluster = result.named("cluster-eks")
    assert rule["inputs"]["referencedSecurityGroupId"].startswith("sg-")
    assert cluster["urn"] in rule["dependencies"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_app_may_reach_5432_only_in_the_private_subnets(stack: str) -> None:
    result = synth_stack(stack)
    policy = result.manifest("NetworkPolicy", "lmagent-api-allow", "lmagent")
    to_5432 = [
        rule
        for rule in policy["spec"]["egress"]
        if {"port": 5432, "protocol": "TCP"} in rule.get("ports", [])
    ]
    (rule,) = to_5432
    subnets = sorted(
        s["inputs"]["cidrBlock"] for s in result.of_type("aws:ec2/subnet:Subnet") if "-private-" in s["name"]
    )
    assert subnets
    assert sorted(peer["ipBlock"]["cidr"] for peer in rule["to"]) == subnets
    assert all(set(peer) == {"ipBlock"} and "except" not in peer["ipBlock"] for peer in rule["to"])


@pytest.mark.parametrize("stack", STACKS)
def test_the_app_reads_its_database_url_from_a_mounted_file(stack: str) -> None:
    result = synth_stack(stack)
    deployment = result.manifest("Deployment", "lmagent-api", "lmagent")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {
        "name": "DATABASE_URL_FILE",
        "value": "/var/run/secrets/lmagent/database/DATABASE_URL",
    } in container["env"]
    volume = next(v for v in pod["volumes"] if v["name"] == "database")
    assert volume["secret"]["secretName"] == "lmagent-api-database-access"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "database")
    assert mount["readOnly"] is True and "subPath" not in mount
    config = result.manifest("Secret", "lmagent-api-database-access", "lmagent")
    assert set(config["stringData"]) == {"DATABASE_URL", "rds-ca.pem"}


@pytest.mark.parametrize("stack", STACKS)
def test_resources_and_outputs_hold_no_password(stack: str) -> None:
    result = synth_stack(stack)
    text = result.to_json()
    inst = _one(result, "aws:rds/instance:Instance")["inputs"]
    assert "password" not in inst and inst["manageMasterUserPassword"] is True
    # Whatever names a password in the database's resources is a flag or a reference, no value.
    database = [r for r in result.resources if r["name"].startswith(("database-", "external-secrets"))]
    keys = {k for r in database for k in _keys(r["inputs"]) if "password" in k.lower()}
    assert keys == {"manageMasterUserPassword", "password"}
    es = result.manifest("ExternalSecret", "main-master", "database-admin")
    assert es["spec"]["target"]["template"]["data"]["password"] == "{{ .password }}"
    assert {d["remoteRef"]["property"] for d in es["spec"]["data"]} == {"username", "password"}
    assert "password" not in json.dumps(result.outputs).lower()
    assert '"masterPassword"' not in text


def test_an_app_without_a_database_is_unchanged() -> None:
    plain = synth_with("staging", {"lmagent-infra:apps": {"lmagent-api": {}}})
    assert plain.of_type("kubernetes:external-secrets.io/v1:ExternalSecret") == []
    assert plain.of_type("kubernetes:helm.sh/v3:Release") == [
        r
        for r in plain.of_type("kubernetes:helm.sh/v3:Release")
        if r["inputs"]["chart"] != "external-secrets"
    ]
    policy = plain.manifest("NetworkPolicy", "lmagent-api-allow", "lmagent")
    assert all({"port": 5432, "protocol": "TCP"} not in r.get("ports", []) for r in policy["spec"]["egress"])
    pod = plain.manifest("Deployment", "lmagent-api", "lmagent")["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]


# ---------------------------------------------------------------------------------------------
# The RDS certificate authorities in the pod


def test_the_app_gets_the_regions_rds_cas_where_its_url_names_them(synthesized):
    from components._app_pod import DATABASE_DIR
    from components.database import RDS_CA_KEY, rds_ca_bundle

    config = synthesized.manifest("Secret", "lmagent-api-database-access", "lmagent")
    url = synthesized.outputs["databaseUrls"]["lmagent-api"]
    assert f"sslrootcert={DATABASE_DIR}/{RDS_CA_KEY}" in url and "sslmode=verify-full" in url
    # The Secret's values are redacted in the synthesis; its keys are the URL and the bundle.
    assert set(config["stringData"]) == {"DATABASE_URL", RDS_CA_KEY}
    assert rds_ca_bundle("eu-west-1").startswith("-----BEGIN CERTIFICATE-----")
    # The same Secret is what the pod mounts at DATABASE_DIR.
    pod = synthesized.manifest("Deployment", "lmagent-api", "lmagent")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["database"]["secret"]["secretName"] == config["metadata"]["name"]


def test_the_bundle_holds_the_ca_the_instance_is_signed_by_and_only_valid_certificates():
    import datetime
    import ssl
    import tempfile

    from components.database import rds_ca_bundle
    from components.versions import RDS_CA_IDENTIFIER

    bundle = rds_ca_bundle("eu-west-1")
    # rds-ca-rsa2048-g1 -> "Amazon RDS eu-west-1 Root CA RSA2048 G1" (RDS user guide, CAs).
    kind = RDS_CA_IDENTIFIER.removeprefix("rds-ca-").removesuffix("-g1").upper()
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(bundle)
        f.flush()
        context = ssl.create_default_context(cafile=f.name)
    certs = context.get_ca_certs()
    subjects = [dict(x[0] for x in c["subject"])["commonName"] for c in certs]
    assert f"Amazon RDS eu-west-1 Root CA {kind} G1" in subjects
    now = datetime.datetime.now(datetime.UTC)
    expired = [c for c in certs if ssl.cert_time_to_seconds(c["notAfter"]) < now.timestamp()]
    assert expired == []


def test_fails_for_a_region_without_a_known_rds_ca():
    from components.database import rds_ca_bundle

    with pytest.raises(ValueError, match="no Amazon RDS certificate authority known for 'mars-east-1'"):
        rds_ca_bundle("mars-east-1")


def test_the_committed_cas_are_what_the_pinned_npm_package_gives():
    # tools/rds-ca: `npm ci` there (make test-deps does), then the generator in check mode.
    from tests._tools import REPO, run

    checked = run("node", str(REPO / "tools" / "rds-ca" / "generate.js"), "--check")
    assert checked.returncode == 0, checked.stderr
