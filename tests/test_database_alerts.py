"""The database's alerts: the CloudWatch exporter both stacks declare (chart values, YACE config,
IAM, scrape), the rules run through promtool, and their routing by the stack's real Alertmanager
config (amtool, and the Alertmanager binary for grouping)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import versions
from components.database import DatabaseAlerts, MonitoredDatabase, PostgresDatabase, PostgresDatabaseArgs
from components.database._alerts import EXPORTER_JOB, METRICS, database_alert_groups
from components.database._args import DatabaseAlarms
from components.database._exporter import EXPORTER_POD_LABELS, EXPORTER_SERVICE_ACCOUNT
from components.testing import SynthResult, synth
from tests import _iam_reference as iam_reference
from tests._chart_keys import CHARTS, unknown_keys
from tests._loopback import free_port, pages, spawner, start_alertmanager, wait_for
from tests._tools import run, tool
from tests.conftest import STACKS, synth_stack
from tests.test_alertmanager import config_file, receivers_for

NAMESPACE = "monitoring"
IDENTIFIER = {stack: f"lmagent-infra-{stack}-main" for stack in STACKS}


def _release(result: SynthResult) -> dict[str, Any]:
    return result.named("database-alerts-exporter")


def _values(result: SynthResult) -> dict[str, Any]:
    values: dict[str, Any] = _release(result)["inputs"]["values"]
    return values


def _rules(result: SynthResult) -> dict[str, Any]:
    return result.manifest("PrometheusRule", "database-alerts", NAMESPACE)


# ---------------------------------------------------------------------------------------------
# What the stacks declare


@pytest.mark.parametrize("stack", STACKS)
def test_the_exporter_is_the_pinned_chart_in_the_monitoring_namespace(stack: str) -> None:
    inputs = _release(synth_stack(stack))["inputs"]
    name, version, repository = versions.CLOUDWATCH_EXPORTER
    assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) == (
        name,
        version,
        repository,
    )
    assert (inputs["name"], inputs["namespace"]) == (EXPORTER_JOB, NAMESPACE)


@pytest.mark.parametrize("stack", STACKS)
def test_no_cloudwatch_alarm_pages_beside_the_prometheus_alerts(stack: str) -> None:
    # One route for one incident: the stacks give the databases no SNS topic, so no alarm.
    assert synth_stack(stack).of_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []


# tests/charts/prometheus-yet-another-cloudwatch-exporter-<version>.values-keys.json is the key tree
# of prometheus-community/helm-charts at tag prometheus-yet-another-cloudwatch-exporter-0.47.0
# (commit 4c55d5690261fcbdf0c7b72a92c2a7954b2533a3), charts/prometheus-yet-another-cloudwatch-exporter/
# values.yaml: a key whose default is a non-empty mapping holds its own keys, any other key is null.
# The chart ships no values.schema.json, so Helm would ignore a misspelt key without a word.


@pytest.mark.parametrize("stack", STACKS)
def test_the_exporter_values_are_keys_of_the_pinned_chart(stack: str) -> None:
    _, version, _ = versions.CLOUDWATCH_EXPORTER
    known = json.loads((CHARTS / f"{versions.CLOUDWATCH_EXPORTER[0]}-{version}.values-keys.json").read_text())
    values = _values(synth_stack(stack))
    assert unknown_keys(values, known) == []
    misspelt = {**values, "replicas": 2, "serviceAccount": {"annotation": {}}}
    assert sorted(unknown_keys(misspelt, known)) == ["replicas", "serviceAccount.annotation"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_exporter_runs_as_nobody_read_only_with_every_capability_dropped(stack: str) -> None:
    values = _values(synth_stack(stack))
    assert values["podSecurityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65534,
        "runAsGroup": 65534,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    resources = values["resources"]
    assert resources["limits"]["memory"] == resources["requests"]["memory"]
    # No Kubernetes API token: the chart mounts one unless told (values.yaml at 0.47.0), and
    # YACE never calls the API; IRSA's token is a projected volume of its own.
    assert values["serviceAccount"]["automountServiceAccountToken"] is False
    # The chart's own ServiceMonitor and rules stay off: the component declares both.
    assert values["serviceMonitor"]["enabled"] is False and values["prometheusRule"]["enabled"] is False


# The YACE configuration file's fields (yaml tags of ScrapeConf, Static, Dimension and Metric in
# prometheus-community/yet-another-cloudwatch-exporter pkg/config/scrapeconf.go at v0.67.0; go-yaml
# v2 ignores unknown fields, so a misspelt one would be dropped silently) and the statistics
# getDataPoints accepts (pkg/promutil/migrate.go).
YACE_KEYS = {
    "": {"apiVersion", "sts-region", "discovery", "static", "customNamespace"},
    "static": {"name", "regions", "roles", "namespace", "customTags", "dimensions", "metrics"},
    "dimensions": {"name", "value"},
    "metrics": {
        "name",
        "statistics",
        "period",
        "length",
        "delay",
        "nilToZero",
        "addCloudwatchTimestamp",
        "exportAllDataPoints",
    },
}
YACE_STATISTICS = {"Maximum", "Minimum", "Sum", "SampleCount", "Average"}


def yace_problems(config: dict[str, Any]) -> list[str]:
    """What YACE v0.67.0 would refuse or silently drop: unknown fields, and the static-job checks
    of validateStaticJob / validateMetric (name, namespace, regions, statistics, length >= period)."""
    problems = [f"{k}: unknown" for k in set(config) - YACE_KEYS[""]]
    if config.get("apiVersion") != "v1alpha1":
        problems.append("apiVersion: must be v1alpha1")
    for i, job in enumerate(config.get("static") or []):
        where = f"static[{i}]"
        problems += [f"{where}.{k}: unknown" for k in set(job) - YACE_KEYS["static"]]
        problems += [f"{where}.{k}: empty" for k in ("name", "namespace", "regions") if not job.get(k)]
        for d in job.get("dimensions") or []:
            problems += [f"{where}.dimensions.{k}: unknown" for k in set(d) - YACE_KEYS["dimensions"]]
        for m in job.get("metrics") or []:
            at = f"{where}.metrics.{m.get('name')}"
            problems += [f"{at}.{k}: unknown" for k in set(m) - YACE_KEYS["metrics"]]
            problems += [f"{at}: statistic {s}" for s in m.get("statistics", []) if s not in YACE_STATISTICS]
            if m.get("length", 300) < m.get("period", 300):
                problems.append(f"{at}: length below period")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_the_exporter_reads_the_four_metrics_of_exactly_the_stacks_instance(stack: str) -> None:
    result = synth_stack(stack)
    config = yaml.safe_load(_values(result)["config"])
    assert yace_problems(config) == []
    instance = result.named("database-main-instance")["inputs"]
    (job,) = config["static"]
    assert job["namespace"] == "AWS/RDS" and job["regions"] == ["eu-west-1"]
    assert job["dimensions"] == [{"name": "DBInstanceIdentifier", "value": instance["identifier"]}]
    assert instance["identifier"] == IDENTIFIER[stack]
    assert [m["name"] for m in job["metrics"]] == [
        "CPUUtilization",
        "FreeStorageSpace",
        "DatabaseConnections",
        "FreeableMemory",
    ]
    # The same check refuses what YACE refuses.
    broken = {**job, "dimension": [], "metrics": [{"name": "CPUUtilization", "statistics": ["Avg"]}]}
    assert sorted(yace_problems({**config, "static": [broken]})) == [
        "static[0].dimension: unknown",
        "static[0].metrics.CPUUtilization: statistic Avg",
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_exporters_role_may_only_read_metric_statistics_in_the_stacks_region(stack: str) -> None:
    result = synth_stack(stack)
    policy = json.loads(result.named("cluster-irsa-cloudwatch-exporter-policy")["inputs"]["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "ReadRdsMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:GetMetricStatistics"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        }
    ]
    # Each action exists and is authorised as written (IAM's own tables, tests/iam/reference.json).
    assert iam_reference.problems(policy["Statement"]) == []
    assert iam_reference.problems([{**policy["Statement"][0], "Resource": "arn:aws:rds:*:*:db:*"}])
    # Only the exporter's service account may assume it, and the chart's values name that account.
    role = result.named("cluster-irsa-cloudwatch-exporter")["inputs"]
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    subject = next(v for k, v in statement["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert subject == f"system:serviceaccount:{NAMESPACE}:{EXPORTER_SERVICE_ACCOUNT}"
    account = _values(result)["serviceAccount"]
    assert account["name"] == EXPORTER_SERVICE_ACCOUNT and account["create"] is True
    assert account["annotations"]["eks.amazonaws.com/role-arn"].endswith(
        ":role/cluster-irsa-cloudwatch-exporter"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_scrapes_the_charts_service_as_the_job_the_rules_select(stack: str) -> None:
    result = synth_stack(stack)
    monitor = result.manifest("ServiceMonitor", EXPORTER_JOB, NAMESPACE)
    values = _values(result)
    # The chart names its Service after fullnameOverride and gives it its selector labels
    # (templates/service.yaml, _helpers.tpl at 0.47.0); the port is `portName`, default `http`.
    assert values["fullnameOverride"] == EXPORTER_JOB
    assert monitor["spec"]["selector"]["matchLabels"] == EXPORTER_POD_LABELS
    chart_labels = {
        "app.kubernetes.io/name": "prometheus-yet-another-cloudwatch-exporter",
        "app.kubernetes.io/instance": _release(result)["inputs"]["name"],
    }
    assert chart_labels == EXPORTER_POD_LABELS
    assert monitor["spec"]["endpoints"][0]["port"] == "http" and "portName" not in values
    exprs = [r["expr"] for g in _rules(result)["spec"]["groups"] for r in g["rules"]]
    assert all(f'job="{EXPORTER_JOB}", namespace="{NAMESPACE}"' in e for e in exprs)


def test_fails_when_there_is_no_database_to_watch() -> None:
    with pytest.raises(ValueError, match="databases: empty"):
        DatabaseAlerts(
            "x",
            [],
            namespace="monitoring",
            namespace_ready="monitoring",
            crds=None,  # type: ignore[arg-type]
            region="eu-west-1",
            irsa=lambda *a: "arn:aws:iam::123456789012:role/x",
            provider=None,  # type: ignore[arg-type]
        )


def test_a_caller_that_passes_sns_topics_still_gets_cloudwatch_alarms() -> None:
    def program() -> None:
        PostgresDatabase(
            "db",
            PostgresDatabaseArgs(),
            vpc_id="vpc-1",
            subnet_ids=["subnet-a", "subnet-b"],
            client_security_group_id="sg-1",
            identifier="orders",
            alarm_topic_arns=["arn:aws:sns:eu-west-1:123456789012:pager"],
        )

    result = synth(program, project="p", stack="s", config={"aws:region": "eu-west-1"})
    alarms = {
        a["inputs"]["metricName"]: a["inputs"]
        for a in result.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert set(alarms) == set(METRICS)
    assert alarms["FreeStorageSpace"]["threshold"] == 50 * 2**30 * 0.10
    assert all(a["alarmActions"] == ["arn:aws:sns:eu-west-1:123456789012:pager"] for a in alarms.values())
    assert all(a["dimensions"] == {"DBInstanceIdentifier": "orders"} for a in alarms.values())


def test_the_component_declares_exporter_monitor_and_rules_waiting_for_the_crds() -> None:
    def program() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        crds = k8s.core.v1.Namespace(
            "crds", metadata={"name": "crds"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        DatabaseAlerts(
            "db-alerts",
            [MonitoredDatabase("orders", 100, DatabaseAlarms(cpu_percent=70))],
            namespace="observability",
            namespace_ready="observability",
            crds=crds,
            region="eu-central-1",
            irsa=lambda *a: "arn:aws:iam::123456789012:role/exporter",
            provider=provider,
        )

    result = synth(program, project="p", stack="s", config={"aws:region": "eu-central-1"})
    crds = result.named("crds")["urn"]
    assert crds in result.named("db-alerts-rules")["dependencies"]
    assert crds in result.named("db-alerts-servicemonitor")["dependencies"]
    assert crds not in result.named("db-alerts-exporter")["dependencies"]
    rules = result.manifest("PrometheusRule", "database-alerts", "observability")
    cpu = next(r for g in rules["spec"]["groups"] for r in g["rules"] if r["alert"] == "DatabaseCPUHigh")
    assert cpu["expr"].endswith("> 70") and 'dimension_DBInstanceIdentifier="orders"' in cpu["expr"]


# ---------------------------------------------------------------------------------------------
# The rules, through promtool

BYTES_GIB = 2**30
EXPORTER_INSTANCE = "10.0.3.17:5000"


def _series(metric: str, stack: str = "production") -> str:
    """A series as Prometheus stores it: YACE's labels for a static job (name, dimension, region,
    account; pkg/promutil/migrate.go) and the scrape's job, namespace and instance."""
    ident = IDENTIFIER[stack]
    return (
        f'{METRICS[metric][1]}{{job="{EXPORTER_JOB}", namespace="{NAMESPACE}", '
        f'instance="{EXPORTER_INSTANCE}", name="{ident}", dimension_DBInstanceIdentifier="{ident}", '
        f'region="eu-west-1", account_id="123456789012"}}'
    )


UP = f'up{{job="{EXPORTER_JOB}", namespace="{NAMESPACE}", instance="{EXPORTER_INSTANCE}"}}'


def _healthy(minutes: int, **overrides: str) -> list[dict[str, str]]:
    """Input series of a healthy production database (50 GiB allocated: 20 GiB free, 30% CPU, 50
    connections, 1 GiB freeable memory) and an exporter that answers, with `overrides` by metric."""
    values = {
        "FreeStorageSpace": f"{20 * BYTES_GIB}x{minutes}",
        "CPUUtilization": f"30x{minutes}",
        "DatabaseConnections": f"50x{minutes}",
        "FreeableMemory": f"{BYTES_GIB}x{minutes}",
        "up": f"1x{minutes}",
    } | overrides
    return [{"series": UP if m == "up" else _series(m), "values": v} for m, v in values.items()]


def _rule(result: SynthResult, alert: str) -> dict[str, Any]:
    return next(r for g in _rules(result)["spec"]["groups"] for r in g["rules"] if r["alert"] == alert)


def _expected(result: SynthResult, alert: str, value: str, *, series_labels: bool = True) -> dict[str, Any]:
    """The alert as promtool should see it fire: the series' labels and the rule's, and the
    annotations with `$value` rendered as `value`."""
    rule = _rule(result, alert)
    ident = IDENTIFIER["production"]
    labels = {"job": EXPORTER_JOB, "namespace": NAMESPACE, "dimension_DBInstanceIdentifier": ident}
    if series_labels:
        labels |= {
            "instance": EXPORTER_INSTANCE,
            "name": ident,
            "region": "eu-west-1",
            "account_id": "123456789012",
        }
    annotations = {
        k: v.replace("{{ $value | humanize1024 }}", value).replace("{{ $value | humanize }}", value)
        for k, v in rule["annotations"].items()
    }
    return {"exp_labels": labels | rule["labels"], "exp_annotations": annotations}


def _quiet(alert: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


def _promtool(
    tmp_path: Path, groups: list[dict[str, Any]], tests: list[dict[str, Any]]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "database.rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    path = tmp_path / "database.test.yml"
    path.write_text(
        yaml.safe_dump({"rule_files": ["database.rules.yml"], "evaluation_interval": "1m", "tests": tests})
    )
    return run("promtool", "test", "rules", path, cwd=tmp_path)


ALERTS = ("DatabaseStorageLow", "DatabaseCPUHigh", "DatabaseConnectionsHigh", "DatabaseMemoryLow")


def _threshold_tests(result: SynthResult) -> list[dict[str, Any]]:
    return [
        {
            # Each symptom from minute 11: storage to 4 GiB free (threshold 10% of 50 GiB),
            # CPU to 95%, 250 connections, 100 MiB freeable; each fires after its `for`.
            "name": "each threshold alert fires after its duration, not before",
            "interval": "1m",
            "input_series": _healthy(
                60,
                FreeStorageSpace=f"{20 * BYTES_GIB}x10 {4 * BYTES_GIB}x50",
                CPUUtilization="30x10 95x50",
                DatabaseConnections="50x10 250x50",
                FreeableMemory=f"{BYTES_GIB}x10 {100 * 2**20}x50",
            ),
            "alert_rule_test": [
                *(_quiet(a, "10m") for a in ALERTS),
                _quiet("DatabaseStorageLow", "14m"),
                {
                    "eval_time": "17m",
                    "alertname": "DatabaseStorageLow",
                    "exp_alerts": [_expected(result, "DatabaseStorageLow", "4Gi")],
                },
                _quiet("DatabaseConnectionsHigh", "19m"),
                {
                    "eval_time": "22m",
                    "alertname": "DatabaseConnectionsHigh",
                    "exp_alerts": [_expected(result, "DatabaseConnectionsHigh", "250")],
                },
                _quiet("DatabaseCPUHigh", "24m"),
                {
                    "eval_time": "27m",
                    "alertname": "DatabaseCPUHigh",
                    "exp_alerts": [_expected(result, "DatabaseCPUHigh", "95")],
                },
                {
                    "eval_time": "27m",
                    "alertname": "DatabaseMemoryLow",
                    "exp_alerts": [_expected(result, "DatabaseMemoryLow", "100Mi")],
                },
                _quiet("DatabaseMetricsMissing", "60m"),
                _quiet("CloudWatchExporterDown", "60m"),
            ],
        },
        {
            # Exactly at each threshold for an hour: the comparisons are strict, nothing fires.
            "name": "nothing fires at the thresholds themselves",
            "interval": "1m",
            "input_series": _healthy(
                60,
                FreeStorageSpace=f"{5 * BYTES_GIB}x60",
                CPUUtilization="80x60",
                DatabaseConnections="200x60",
                FreeableMemory=f"{256 * 2**20}x60",
            ),
            "alert_rule_test": [_quiet(a, "60m") for a in ALERTS],
        },
    ]


def _missing_data_tests(result: SynthResult) -> list[dict[str, Any]]:
    before = {"FreeStorageSpace": 20 * BYTES_GIB, "CPUUtilization": 30, "DatabaseConnections": 50,
              "FreeableMemory": BYTES_GIB}  # fmt: skip
    gone = {m: f"{v}x10" for m, v in before.items()}
    return [
        {
            # CloudWatch stops answering for the instance at minute 10; the exporter still runs.
            # The series go stale 5 minutes later (lookback), the alert fires 15 minutes after.
            "name": "missing CloudWatch data is critical while the exporter runs",
            "interval": "1m",
            "input_series": _healthy(60, **gone),
            "alert_rule_test": [
                _quiet("DatabaseMetricsMissing", "25m"),
                {
                    "eval_time": "35m",
                    "alertname": "DatabaseMetricsMissing",
                    "exp_alerts": [_expected(result, "DatabaseMetricsMissing", "", series_labels=False)],
                },
                _quiet("DatabaseStorageLow", "35m"),
                _quiet("CloudWatchExporterDown", "35m"),
            ],
        },
        {
            # Only the storage series stops: still missing data (a full disk must not hide).
            "name": "one missing metric is enough",
            "interval": "1m",
            "input_series": _healthy(60, FreeStorageSpace=f"{20 * BYTES_GIB}x10"),
            "alert_rule_test": [
                {
                    "eval_time": "35m",
                    "alertname": "DatabaseMetricsMissing",
                    "exp_alerts": [_expected(result, "DatabaseMetricsMissing", "", series_labels=False)],
                },
            ],
        },
        {
            # The exporter stops answering at minute 10 (and so its series stop): one alert for
            # the exporter, none per database.
            "name": "a dead exporter is one alert, not one per database",
            "interval": "1m",
            "input_series": _healthy(60, up="1x10 0x50", **gone),
            "alert_rule_test": [
                _quiet("CloudWatchExporterDown", "18m"),
                {
                    "eval_time": "25m",
                    "alertname": "CloudWatchExporterDown",
                    "exp_alerts": [
                        {
                            "exp_labels": _rule(result, "CloudWatchExporterDown")["labels"],
                            "exp_annotations": _rule(result, "CloudWatchExporterDown")["annotations"],
                        }
                    ],
                },
                _quiet("DatabaseMetricsMissing", "60m"),
            ],
        },
    ]


def test_each_database_alert_fires_when_it_should_and_not_before(tmp_path: Path) -> None:
    result = synth_stack("production")
    checked = _promtool(
        tmp_path, _rules(result)["spec"]["groups"], _threshold_tests(result) + _missing_data_tests(result)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_promtool_fails_the_same_tests_on_rules_with_other_thresholds(tmp_path: Path) -> None:
    # The tests can fail: rules built with a 5% storage threshold and 90% CPU do not fire where
    # the production thresholds (10%, 80%) do.
    result = synth_stack("production")
    other = database_alert_groups(
        [
            MonitoredDatabase(
                IDENTIFIER["production"], 50, DatabaseAlarms(free_storage_percent=5, cpu_percent=96)
            )
        ],
        namespace=NAMESPACE,
    )
    checked = _promtool(tmp_path, other, _threshold_tests(result))
    assert checked.returncode != 0
    assert "alertname: DatabaseStorageLow" in checked.stdout + checked.stderr
    assert "alertname: DatabaseCPUHigh" in checked.stdout + checked.stderr


# ---------------------------------------------------------------------------------------------
# Routing, by the stack's own Alertmanager config


def _fired(result: SynthResult, stack: str) -> list[dict[str, str]]:
    """Each database alert's labels as Alertmanager receives them (Prometheus adds `environment`)."""
    return [
        {**r["labels"], "alertname": r["alert"], "environment": stack}
        for g in _rules(result)["spec"]["groups"]
        for r in g["rules"]
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_database_alerts_reach_the_same_receivers_as_the_apps_alerts(stack: str, tmp_path: Path) -> None:
    result = synth_stack(stack)
    path = config_file(result, tmp_path)
    for labels in _fired(result, stack):
        pairs = [f"{k}={v}" for k, v in sorted(labels.items())]
        pages_here = stack == "production" and labels["severity"] == "critical"
        assert receivers_for(path, *pairs) == (["chat", "pager"] if pages_here else ["chat"]), labels
        # What an app's alert of the same severity gets.
        app = ("alertname=HighErrorRate", f"severity={labels['severity']}", f"environment={stack}",
               "namespace=lmagent", "service=lmagent-api", "signal=errors")  # fmt: skip
        assert receivers_for(path, *pairs) == receivers_for(path, *app)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    with spawner(tmp_path) as start:
        yield start


def test_a_database_incident_pages_once_beside_an_apps(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    result = synth_stack("production")
    url = start_alertmanager(spawn, tmp_path, yaml.safe_load(config_file(result, tmp_path).read_text()))
    fired = {a["alertname"]: a for a in _fired(result, "production")}
    ident = IDENTIFIER["production"]
    app = {"alertname": "HighErrorRate", "severity": "critical", "environment": "production",
           "namespace": "lmagent", "service": "lmagent-api", "signal": "errors"}  # fmt: skip
    posted = [fired["DatabaseStorageLow"], fired["DatabaseCPUHigh"], app]
    now = datetime.now(UTC)
    alerts = [
        {"labels": labels, "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat()}
        for labels in posted
    ]
    httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()
    expected = {(ident, NAMESPACE): 1, ("lmagent-api", "lmagent"): 1}
    deadline = time.monotonic() + 20  # a bound on waiting for Alertmanager, not a measurement
    while True:
        seen = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
        if (len(seen) == len(posted) and pages(seen) == expected) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    # The critical storage alert pages; the CPU warning goes to chat only.
    assert pages(seen) == expected, [(a["labels"], a["receivers"]) for a in seen]
    groups = httpx.get(f"{url}/api/v2/alerts/groups", params={"receiver": "pager"}, timeout=5).json()
    assert sorted(g["labels"]["service"] for g in groups) == sorted([ident, "lmagent-api"])


# ---------------------------------------------------------------------------------------------
# End to end: a real Prometheus scrapes an exporter answering as YACE does, evaluates the stack's
# rules and sends to the real Alertmanager with the production routes.


def _yace_metrics(free_bytes: int) -> str:
    """What YACE v0.67.0 serves for the production database's static job: gauges named by
    BuildMetricName, labelled name, dimension_*, region and account_id (pkg/promutil/migrate.go)."""
    ident = IDENTIFIER["production"]
    labels = (
        f'account_id="123456789012",dimension_DBInstanceIdentifier="{ident}",name="{ident}",'
        'region="eu-west-1"'
    )
    values = {
        "CPUUtilization": 31.5,
        "FreeStorageSpace": free_bytes,
        "DatabaseConnections": 42,
        "FreeableMemory": 2 * BYTES_GIB,
    }
    lines = []
    for metric, value in values.items():
        name = METRICS[metric][1]
        lines += [f"# TYPE {name} gauge", f"{name}{{{labels}}} {value}"]
    return "\n".join(lines) + "\n"


def test_a_nearly_full_disk_reaches_the_pager_through_prometheus_and_alertmanager(
    tmp_path: Path, spawn: Callable[..., subprocess.Popen[bytes]]
) -> None:
    deadline = time.monotonic() + 60  # a bound on the whole test, not a measurement
    result = synth_stack("production")
    am_url = start_alertmanager(spawn, tmp_path, yaml.safe_load(config_file(result, tmp_path).read_text()))
    exporter = tmp_path / "exporter"
    exporter.mkdir()
    (exporter / "metrics").write_text(_yace_metrics(free_bytes=BYTES_GIB))  # 1 GiB of 50 free
    exporter_port, prom_port = free_port(), free_port()
    spawn(
        "exporter",
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(exporter_port)],
        cwd=exporter,
    )
    # The stack's rules with every `for` cut to 1s, so the alerts leave `pending` within the test.
    groups = [
        {**g, "rules": [{**r, "for": "1s"} for r in g["rules"]]} for g in _rules(result)["spec"]["groups"]
    ]
    (tmp_path / "database.rules.yml").write_text(yaml.safe_dump({"groups": groups}))
    config = {
        "global": {
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "external_labels": {"environment": "production"},
        },
        "rule_files": ["database.rules.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am_url.removeprefix("http://")]}]}]},
        "scrape_configs": [
            {
                # What the ServiceMonitor makes of the chart's Service: job and namespace labels.
                "job_name": EXPORTER_JOB,
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                "relabel_configs": [{"target_label": "namespace", "replacement": NAMESPACE}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    spawn(
        "prometheus",
        [
            tool("prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        cwd=tmp_path,
    )
    ident = IDENTIFIER["production"]

    def paged() -> list[dict[str, Any]] | None:
        alerts: list[dict[str, Any]] = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
        return alerts if pages(alerts) == {(ident, NAMESPACE): 1} else None

    alerts = wait_for(paged, "the storage page in Alertmanager", deadline, tmp_path)
    (alert,) = alerts
    assert alert["labels"] | {"instance": "-"} == {
        "alertname": "DatabaseStorageLow",
        "severity": "critical",
        "service": ident,
        "namespace": NAMESPACE,
        "signal": "storage",
        "environment": "production",
        "job": EXPORTER_JOB,
        "instance": "-",
        "name": ident,
        "dimension_DBInstanceIdentifier": ident,
        "region": "eu-west-1",
        "account_id": "123456789012",
    }
    assert {r["name"] for r in alert["receivers"]} == {"chat", "pager"}
    assert alert["annotations"]["description"].startswith(f"{ident} has 1GiB free")


# ---------------------------------------------------------------------------------------------
# The dashboard


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_loads_the_database_dashboard_and_its_queries_parse(stack: str, tmp_path: Path) -> None:
    from components.database._dashboard import database_dashboard

    config_map = synth_stack(stack).manifest("ConfigMap", "database-dashboard", "monitoring")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map["data"]["databases.json"])
    assert board == database_dashboard("monitoring")
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    # The dashboard shows the series the alerts watch, from the same exporter job.
    assert {name for _, name in METRICS.values()} <= {e.split("{")[0] for e in exprs}
    assert all(f'job="{EXPORTER_JOB}"' in e for e in exprs)
    rules = [{"record": f"database:dashboard:{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "q.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    checked = run("promtool", "check", "rules", path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # promtool can fail: a query with a typo does not pass.
    path.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": [{"record": "x:y", "expr": "up{"}]}]}))
    assert run("promtool", "check", "rules", path).returncode != 0
