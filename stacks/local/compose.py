"""compose.yaml as data: the services, each hardened as far as its image allows."""

from __future__ import annotations

from typing import Any

from components import versions
from stacks.config import StackConfig
from stacks.local.configs import APP, APP_UID, LOG_DIR, OUT

# Images with no program that could probe them from inside: the collector's image is `scratch`
# with only its binary (open-telemetry/opentelemetry-collector-releases
# distributions/otelcol-k8s/Dockerfile). Services depending on it wait for it to start.
NO_HEALTHCHECK = {"otel-collector": "scratch image: no shell or HTTP client to probe with"}

TMP = "/tmp"  # noqa: S108 - a tmpfs per container, private to it: the root filesystem is read-only
HARDENED: dict[str, Any] = {
    "read_only": True,
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
}


def _health(test: list[str] | str, start: str = "20s") -> dict[str, Any]:
    cmd = ["CMD-SHELL", test] if isinstance(test, str) else ["CMD", *test]
    return {"test": cmd, "interval": "10s", "timeout": "5s", "retries": 6, "start_period": start}


def _http_probe(url: str) -> dict[str, Any]:
    # busybox wget, which each probed image has: prom/* (busybox-based), grafana (Alpine), loki
    # (gcr.io/distroless/static:debug with /busybox and /bin/sh: grafana/loki cmd/loki/Dockerfile),
    # jaeger (Alpine: jaegertracing/jaeger scripts/build/docker/base/Dockerfile).
    return _health(f"wget -q -O /dev/null {url} || exit 1")


def _mount(rel: str, target: str) -> str:
    return f"./{(OUT / rel).as_posix()}:{target}:ro"


def compose(cfg: StackConfig, environment: str) -> dict[str, Any]:
    img = versions.LOCAL_IMAGES
    args = cfg.apps[APP]
    db_password = "${LMAGENT_LOCAL_DB_PASSWORD:-lmagent-local}"  # local only; override to taste
    healthy = {"condition": "service_healthy"}
    services: dict[str, Any] = {
        # The named volume is created owned by root; this hands it to the app's user and exits.
        "log-dir": {
            "image": img["busybox"],
            "user": "0:0",
            "command": ["chown", APP_UID, LOG_DIR],
            "volumes": [f"app-logs:{LOG_DIR}"],
            **HARDENED,
            "cap_add": ["CHOWN"],
            "network_mode": "none",
            "restart": "no",
        },
        "postgres": {
            "image": img["postgres"],
            "user": "70:70",  # the image's postgres user (alpine): no root entrypoint, no gosu
            "environment": {
                "POSTGRES_USER": "lmagent",
                "POSTGRES_DB": "lmagent",
                "POSTGRES_PASSWORD": db_password,
                "PGDATA": "/var/lib/postgresql/data/pgdata",
            },
            "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "ports": ["127.0.0.1:5432:5432"],
            "tmpfs": ["/var/run/postgresql", TMP],
            "healthcheck": _health(["pg_isready", "-h", "127.0.0.1", "-U", "lmagent", "-d", "lmagent"]),
            **HARDENED,
        },
        APP: {
            "build": {"context": "./app"},
            "image": f"{APP}:local",
            "user": APP_UID,
            # stdout as in the cluster, and a copy in the shared volume for Alloy (see module doc).
            "command": ["bash", "-c", f"exec python -m lmagent_api > >(tee -a {LOG_DIR}/{APP}.log) 2>&1"],
            "environment": {
                "OTEL_SERVICE_NAME": APP,
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector:4318",
                "DATABASE_URL": f"postgresql://lmagent:{db_password}@postgres:5432/lmagent",
                "LMAGENT_PORT": str(args.port),
                "LMAGENT_FAULT_ENDPOINT": "true",  # /fault/500 makes the alerts fire on purpose
            },
            "ports": [f"127.0.0.1:{args.port}:{args.port}"],
            "volumes": [f"app-logs:{LOG_DIR}"],
            "tmpfs": [TMP],
            "healthcheck": _health(
                [
                    "python",
                    "-c",
                    "import sys, urllib.request; sys.exit(urllib.request.urlopen("
                    f"'http://127.0.0.1:{args.port}/ready', timeout=3).status != 200)",
                ]
            ),
            "depends_on": {
                "log-dir": {"condition": "service_completed_successfully"},
                "postgres": healthy,
                "otel-collector": {"condition": "service_started"},
            },
            **HARDENED,
        },
        "otel-collector": {
            "image": img["otel-collector"],
            "user": APP_UID,
            "command": ["--config=/etc/otelcol/config.yaml"],
            "volumes": [_mount("otel-collector", "/etc/otelcol")],
            "ports": ["127.0.0.1:4317:4317", "127.0.0.1:4318:4318"],
            "depends_on": {"jaeger": healthy},
            **HARDENED,
        },
        "jaeger": {
            "image": img["jaeger"],
            "user": APP_UID,
            "command": ["--config=/etc/jaeger/config.yaml"],
            "volumes": [_mount("jaeger", "/etc/jaeger")],
            "tmpfs": [TMP],
            "ports": ["127.0.0.1:16686:16686"],
            "healthcheck": _http_probe("http://127.0.0.1:13133/status"),
            **HARDENED,
        },
        "prometheus": {
            "image": img["prometheus"],
            "user": "65534:65534",  # nobody, the image's user
            "command": [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={cfg.monitoring.prometheus.retention}",
            ],
            "volumes": [_mount("prometheus", "/etc/prometheus"), "prometheus-data:/prometheus"],
            "ports": ["127.0.0.1:9090:9090"],
            "healthcheck": _http_probe("http://127.0.0.1:9090/-/ready"),
            "depends_on": {"alertmanager": healthy},
            **HARDENED,
        },
        "alertmanager": {
            "image": img["alertmanager"],
            "user": "65534:65534",
            "command": [
                "--config.file=/etc/alertmanager/alertmanager.yml",
                "--storage.path=/alertmanager",
                "--cluster.listen-address=",  # one instance: no gossip port, no peers to look for
            ],
            "volumes": [_mount("alertmanager", "/etc/alertmanager"), "alertmanager-data:/alertmanager"],
            "ports": ["127.0.0.1:9093:9093"],
            "healthcheck": _http_probe("http://127.0.0.1:9093/-/ready"),
            **HARDENED,
        },
        "loki": {
            "image": img["loki"],
            "user": APP_UID,  # the image's loki user (10001, grafana/loki cmd/loki/Dockerfile)
            "command": ["-config.file=/etc/loki/loki.yaml"],
            "volumes": [_mount("loki", "/etc/loki"), "loki-data:/loki"],
            "tmpfs": [TMP],
            "ports": ["127.0.0.1:3100:3100"],
            "healthcheck": _http_probe("http://127.0.0.1:3100/ready"),
            **HARDENED,
        },
        "alloy": {
            "image": img["alloy"],
            # The image's alloy user, which it creates but does not run as (grafana/alloy Dockerfile).
            "user": "473:473",
            "entrypoint": ["/bin/alloy"],
            "command": [
                "run",
                "/etc/alloy/config.alloy",
                "--storage.path=/var/lib/alloy/data",
                "--server.http.listen-addr=0.0.0.0:12345",
            ],
            "volumes": [_mount("alloy", "/etc/alloy"), f"app-logs:{LOG_DIR}:ro"],
            "tmpfs": ["/var/lib/alloy/data", TMP],
            "ports": ["127.0.0.1:12345:12345"],
            # Ubuntu-based image (grafana/alloy Dockerfile): no wget; bash's /dev/tcp asks /-/ready.
            "healthcheck": _health(
                "exec 3<>/dev/tcp/127.0.0.1/12345 && printf 'GET /-/ready HTTP/1.0\\r\\n\\r\\n' >&3 "
                "&& grep -q '200 OK' <&3"
            ),
            "depends_on": {"loki": healthy, "log-dir": {"condition": "service_completed_successfully"}},
            **HARDENED,
        },
        "grafana": {
            "image": img["grafana"],
            "user": "472:472",  # the image's grafana user
            "environment": {
                "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:-admin}",
                "GF_AUTH_ANONYMOUS_ENABLED": "true",
                "GF_AUTH_ANONYMOUS_ORG_ROLE": "Viewer",
                "GF_LOG_MODE": "console",  # no log file: the root filesystem is read-only
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            },
            "volumes": [
                # Only these two: the image's other provisioning directories stay as shipped.
                _mount("grafana/provisioning/datasources", "/etc/grafana/provisioning/datasources"),
                _mount("grafana/provisioning/dashboards", "/etc/grafana/provisioning/dashboards"),
                _mount("grafana/dashboards", "/etc/grafana/dashboards"),
                "grafana-data:/var/lib/grafana",
            ],
            "tmpfs": [TMP],
            "ports": ["127.0.0.1:3000:3000"],
            "healthcheck": _http_probe("http://127.0.0.1:3000/api/health"),
            "depends_on": {"prometheus": healthy, "loki": healthy, "jaeger": healthy},
            **HARDENED,
        },
    }
    return {
        "name": "lmagent-local",
        "services": services,
        "volumes": {
            v: {}
            for v in (
                "app-logs",
                "postgres-data",
                "prometheus-data",
                "alertmanager-data",
                "loki-data",
                "grafana-data",
            )
        },
    }
