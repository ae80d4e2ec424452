"""Tests of readiness (database reachability, shutdown), the drain on SIGTERM and settings checks."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from lmagent_api.__main__ import DrainingServer
from lmagent_api.readiness import Lifecycle
from lmagent_api.settings import DatabaseTarget, Settings, SettingsError, parse_database_url

# Built by the `make_client` fixture in conftest.py.
MakeClient = Callable[..., TestClient]


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 with a socket listening on it, standing in for a database."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_ready_when_the_database_accepts_connections(make_client: MakeClient, listening_port: int) -> None:
    client = make_client(database=DatabaseTarget("127.0.0.1", listening_port))

    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json()["reason"] == f"database 127.0.0.1:{listening_port} reachable"


def test_not_ready_when_the_database_is_unreachable(make_client: MakeClient, free_port: int) -> None:
    client = make_client(database=DatabaseTarget("127.0.0.1", free_port))

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "not ready"
    assert f"127.0.0.1:{free_port} unreachable" in response.json()["reason"]


def test_liveness_does_not_depend_on_the_database(make_client: MakeClient, free_port: int) -> None:
    client = make_client(database=DatabaseTarget("127.0.0.1", free_port))

    assert client.get("/health").status_code == 200


def test_readiness_fails_once_shutdown_begins_while_requests_are_still_served(
    make_client: MakeClient,
) -> None:
    lifecycle = Lifecycle()
    client = make_client(lifecycle=lifecycle)
    assert client.get("/ready").status_code == 200

    lifecycle.begin_shutdown()

    assert client.get("/ready").status_code == 503
    assert client.get("/ready").json()["reason"] == "shutting down"
    assert client.get("/health").status_code == 200
    assert client.get("/api/v1/items/1").status_code == 200


class FakeScheduler:
    """Records what the server schedules instead of starting a timer."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, callback: Callable[[], None]) -> None:
        self.calls.append((delay, callback))


def draining_server(drain_seconds: float = 5.0) -> tuple[DrainingServer, Lifecycle, FakeScheduler]:
    lifecycle, scheduler = Lifecycle(), FakeScheduler()
    config = uvicorn.Config("lmagent_api.main:app")
    return DrainingServer(config, lifecycle, drain_seconds, scheduler), lifecycle, scheduler


def test_sigterm_fails_readiness_first_and_stops_the_server_after_the_drain() -> None:
    server, lifecycle, scheduler = draining_server(drain_seconds=5.0)

    server.handle_exit(signal.SIGTERM, None)

    assert lifecycle.shutting_down
    assert not server.should_exit, "the server must keep serving while traffic drains"
    assert [delay for delay, _ in scheduler.calls] == [5.0]

    scheduler.calls[0][1]()

    assert server.should_exit


def test_second_sigterm_stops_the_server_without_waiting_for_the_drain() -> None:
    server, _, scheduler = draining_server()

    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)

    assert server.should_exit
    assert len(scheduler.calls) == 1


def test_sigint_stops_the_server_at_once() -> None:
    server, lifecycle, scheduler = draining_server()

    server.handle_exit(signal.SIGINT, None)

    assert server.should_exit
    assert lifecycle.shutting_down
    assert scheduler.calls == []


def test_zero_drain_stops_the_server_at_once() -> None:
    server, lifecycle, scheduler = draining_server(drain_seconds=0)

    server.handle_exit(signal.SIGTERM, None)

    assert server.should_exit
    assert lifecycle.shutting_down
    assert scheduler.calls == []


def test_settings_default_to_a_service_without_dependencies_or_faults() -> None:
    settings = Settings.from_env({})

    assert settings == Settings()
    assert settings.service_name == "lmagent-api"
    assert settings.database is None
    assert settings.otlp_endpoint is None
    assert settings.fault_endpoint is False
    assert settings.port == 8000


def test_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "OTEL_SERVICE_NAME": "checkout",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "DATABASE_URL": "postgresql+psycopg://app:s3cret@db.internal/app",
            "LMAGENT_FAULT_ENDPOINT": "1",
            "LMAGENT_DRAIN_SECONDS": "0",
            "LMAGENT_PORT": "9000",
        }
    )

    assert settings.service_name == "checkout"
    assert settings.otlp_endpoint == "http://collector:4318"
    assert settings.database is not None
    assert (settings.database.host, settings.database.port) == ("db.internal", 5432)
    assert settings.fault_endpoint is True
    assert settings.drain_seconds == 0
    assert settings.port == 9000


def test_database_url_with_an_explicit_port_uses_it() -> None:
    assert parse_database_url("mysql://u:p@10.0.0.5:3307/x") == DatabaseTarget("10.0.0.5", 3307, "u", "x")


@pytest.mark.parametrize(
    ("url", "iam"),
    [
        ("postgresql://lmagent_api@db:5432/lmagent?sslmode=verify-full&sslrootcert=/ca.pem", True),
        ("postgresql://app:secret@db:5432/app", False),  # a password: the local environment's
        ("postgresql://db:5432/app", False),  # no user at all
        ("mysql://app@db:3306/app", False),  # IAM login is implemented for PostgreSQL only
    ],
)
def test_only_a_postgresql_url_with_a_user_and_no_password_logs_in_with_iam(url: str, iam: bool) -> None:
    target = parse_database_url(url)
    assert target is not None and target.iam_auth is iam


def test_the_url_gives_the_login_its_user_database_and_tls_settings() -> None:
    target = parse_database_url(
        "postgresql://lmagent_api@h.rds.amazonaws.com:5432/lmagent?sslmode=verify-full&sslrootcert=/ca/rds-ca.pem"
    )
    assert target == DatabaseTarget(
        "h.rds.amazonaws.com", 5432, "lmagent_api", "lmagent", True, "verify-full", "/ca/rds-ca.pem"
    )


def test_fails_when_database_url_has_no_port_and_an_unknown_scheme() -> None:
    with pytest.raises(SettingsError, match=r"DATABASE_URL has no port and scheme 'cockroach'"):
        parse_database_url("cockroach://user:pw@db/app")


def test_fails_when_database_url_has_no_host() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL has no host"):
        parse_database_url("postgresql:///app")


def test_settings_errors_never_show_the_database_password() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_database_url("cockroach://user:hunter2@db/app")

    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("LMAGENT_FAULT_ENDPOINT", "maybe", "not a boolean"),
        ("LMAGENT_PORT", "80000", "allowed: 1 to 65535"),
        ("LMAGENT_DRAIN_SECONDS", "-1", "0 seconds or more"),
        ("LMAGENT_GRACEFUL_TIMEOUT_SECONDS", "0", "greater than 0 seconds"),
        ("LMAGENT_DATABASE_TIMEOUT_SECONDS", "soon", "not a number of seconds"),
    ],
)
def test_fails_when_a_setting_has_a_value_the_service_cannot_run_with(
    variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})

    assert variable in str(caught.value)
    assert repr(value) in str(caught.value)
    assert allowed in str(caught.value)


def test_a_database_url_file_is_read_again_at_every_readiness_check(
    make_client: MakeClient, listening_port: int, free_port: int, tmp_path: Path
) -> None:
    # The platform mounts the database Secret as a file; the kubelet rewrites it after a rotation.
    url_file = tmp_path / "DATABASE_URL"
    url_file.write_text(f"postgresql://app:old@127.0.0.1:{free_port}/app?sslmode=verify-full")
    settings = Settings.from_env({"DATABASE_URL_FILE": str(url_file)})
    client = make_client(database=settings.database, database_url_file=settings.database_url_file)
    assert client.get("/ready").status_code == 503

    url_file.write_text(f"postgresql://app:new@127.0.0.1:{listening_port}/app?sslmode=verify-full")

    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["reason"] == f"database 127.0.0.1:{listening_port} reachable"


def test_not_ready_when_the_database_url_file_disappears(make_client: MakeClient, tmp_path: Path) -> None:
    url_file = tmp_path / "DATABASE_URL"
    url_file.write_text("postgresql://app:s3cret@db.internal:5432/app")
    client = make_client(database_url_file=url_file)
    url_file.unlink()

    response = client.get("/ready")

    assert response.status_code == 503
    assert "DATABASE_URL_FILE" in response.json()["reason"] and "s3cret" not in response.text


def test_fails_when_both_database_url_and_its_file_are_set(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL and DATABASE_URL_FILE are both set"):
        Settings.from_env({"DATABASE_URL": "postgresql://db/app", "DATABASE_URL_FILE": str(tmp_path / "u")})


def test_fails_at_start_when_the_database_url_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"DATABASE_URL_FILE='.*missing' cannot be read"):
        Settings.from_env({"DATABASE_URL_FILE": str(tmp_path / "missing")})
