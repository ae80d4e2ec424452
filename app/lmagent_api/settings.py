"""Reads the service's settings from environment variables once, at start-up, and validates them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

# Ports used when DATABASE_URL names a scheme but no port, so `postgresql://db/app` still works.
DEFAULT_PORTS: Mapping[str, int] = {
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "redis": 6379,
    "rediss": 6379,
    "mongodb": 27017,
}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting has a value the service cannot run with; the message names the variable."""


@dataclass(frozen=True)
class DatabaseTarget:
    """Where the readiness probe connects: what DATABASE_URL says, never its password."""

    host: str
    port: int
    user: str | None = None
    """The URL's user. With `iam_auth`, the PostgreSQL role the service logs in as."""
    database: str | None = None
    """The URL's path: the database name."""
    iam_auth: bool = False
    """True for a PostgreSQL URL naming a user and no password: the platform made that role for
    IAM database authentication, and the service logs in with a token it signs (database.py)."""
    ssl_mode: str = "prefer"
    """The URL's `sslmode` (libpq's names); `verify-full` checks the certificate and the host."""
    ssl_root_cert: str | None = None
    """The URL's `sslrootcert`: the CA bundle `verify-ca` and `verify-full` check against."""

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment."""

    service_name: str = "lmagent-api"
    """OTEL_SERVICE_NAME. Default `lmagent-api`: the name traces and logs are filed under."""

    otlp_endpoint: str | None = None
    """OTEL_EXPORTER_OTLP_ENDPOINT. Default unset: spans are created (logs still carry trace ids)
    but nothing is exported, so the service runs without a collector."""

    database: DatabaseTarget | None = None
    """DATABASE_URL. Default unset: readiness does not depend on a database."""

    database_url_file: Path | None = None
    """DATABASE_URL_FILE: a file holding the URL instead (a mounted Kubernetes Secret). Default
    unset. It is read again at every use (`current_database`), so a credential the platform
    rotates reaches the running process when the kubelet rewrites the file, without a restart."""

    database_timeout_seconds: float = 1.0
    """LMAGENT_DATABASE_TIMEOUT_SECONDS. Default 1 s: shorter than a readiness probe's timeout,
    so a hung database makes the probe fail rather than time out."""

    fault_endpoint: bool = False
    """LMAGENT_FAULT_ENDPOINT. Default off: `/fault/{status_code}` does not exist (404), so a
    production pod cannot be made to fail on purpose unless someone opts in."""

    drain_seconds: float = 5.0
    """LMAGENT_DRAIN_SECONDS. Default 5 s: after SIGTERM, readiness fails and the server keeps
    serving this long so load balancers stop sending traffic before the socket closes."""

    graceful_timeout_seconds: float = 20.0
    """LMAGENT_GRACEFUL_TIMEOUT_SECONDS. Default 20 s: how long in-flight requests may run after
    draining; drain + this must stay below the pod's terminationGracePeriodSeconds (30 s)."""

    host: str = "0.0.0.0"  # noqa: S104 - a container must listen on all interfaces to be reachable
    """LMAGENT_HOST. Default all interfaces, as a container needs."""

    port: int = 8000
    """LMAGENT_PORT. Default 8000: the port the image EXPOSEs and the probes use."""

    def current_database(self) -> DatabaseTarget | None:
        """Where the database is now: DATABASE_URL_FILE read afresh, else DATABASE_URL."""
        if self.database_url_file is None:
            return self.database
        return parse_database_url(_read_url(self.database_url_file))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from `env` (default: the process environment)."""
        env = os.environ if env is None else env
        url_file = Path(env["DATABASE_URL_FILE"]) if env.get("DATABASE_URL_FILE") else None
        if url_file is not None and env.get("DATABASE_URL"):
            raise SettingsError("DATABASE_URL and DATABASE_URL_FILE are both set; set one of them")
        url = _read_url(url_file) if url_file is not None else env.get("DATABASE_URL", "")
        return cls(
            service_name=env.get("OTEL_SERVICE_NAME") or "lmagent-api",
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
            database=parse_database_url(url),
            database_url_file=url_file,
            database_timeout_seconds=_positive_float(env, "LMAGENT_DATABASE_TIMEOUT_SECONDS", 1.0),
            fault_endpoint=_flag(env, "LMAGENT_FAULT_ENDPOINT"),
            drain_seconds=_non_negative_float(env, "LMAGENT_DRAIN_SECONDS", 5.0),
            graceful_timeout_seconds=_positive_float(env, "LMAGENT_GRACEFUL_TIMEOUT_SECONDS", 20.0),
            host=env.get("LMAGENT_HOST") or "0.0.0.0",  # noqa: S104 - see the field
            port=_port(env, "LMAGENT_PORT", 8000),
        )


def parse_database_url(url: str) -> DatabaseTarget | None:
    """The host and port DATABASE_URL points at, or None when it is empty."""
    if not url.strip():
        return None
    parts = urlsplit(url.strip())
    # Never echo the URL itself: it usually carries a password.
    shown = f"scheme {parts.scheme!r}, host {parts.hostname!r}"
    if not parts.hostname:
        raise SettingsError(
            f"DATABASE_URL has no host ({shown}); expected a URL such as "
            "postgresql://user:password@db.example:5432/app"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise SettingsError(f"DATABASE_URL has an invalid port ({shown}): {exc}") from None
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme.split("+", 1)[0].lower())
    if port is None:
        raise SettingsError(
            f"DATABASE_URL has no port and {shown} has no known default; add an explicit "
            f"port or use one of the schemes {sorted(DEFAULT_PORTS)}"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    postgres = parts.scheme.split("+", 1)[0].lower() in ("postgres", "postgresql")
    return DatabaseTarget(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username) if parts.username else None,
        database=unquote(parts.path.lstrip("/")) or None,
        iam_auth=postgres and bool(parts.username) and parts.password is None,
        ssl_mode=query.get("sslmode", "prefer"),
        ssl_root_cert=query.get("sslrootcert"),
    )


def _read_url(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"DATABASE_URL_FILE={str(path)!r} cannot be read: {exc.strerror}") from None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}={env[name]!r} is not a boolean; allowed: {sorted(_TRUE | _FALSE - {''})}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds") from None


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if value <= 0:
        raise SettingsError(f"{name}={env[name]!r} must be greater than 0 seconds")
    return value


def _non_negative_float(env: Mapping[str, str], name: str, default: float) -> float:
    value = _number(env, name, default)
    if value < 0:
        raise SettingsError(f"{name}={env[name]!r} must be 0 seconds or more")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SettingsError(f"{name}={raw!r} is not a TCP port; allowed: 1 to 65535")
    return int(raw)
