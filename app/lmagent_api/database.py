"""Logs in to the database as the platform's IAM-authenticated role: a token signed per connection.

The platform gives the service its own PostgreSQL role with no password (components/database,
`_users.py`): RDS accepts, as the password, a token signed with AWS credentials allowed
`rds-db:connect` as that role, valid 15 minutes. botocore does both halves: its credential chain
reads EKS Pod Identity's agent (AWS_CONTAINER_CREDENTIALS_FULL_URI and the token file the EKS
webhook sets), and `generate_db_auth_token` signs the token. pg8000, a pure-Python client, logs in
with it over TLS verified against the CA bundle the URL names (`sslmode=verify-full`).
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Callable
from typing import Any

import pg8000.native

from lmagent_api.settings import DatabaseTarget

#: Makes the password of one connection: (target) -> token.
TokenProvider = Callable[[DatabaseTarget], str]


class LoginError(Exception):
    """The database refused the login or could not be reached; the message says why."""


def iam_token(target: DatabaseTarget) -> str:
    """A fresh IAM authentication token for `target.user` at `target.host:target.port`.

    The region is the one the EKS webhook sets in AWS_REGION; botocore signs locally, without a
    network call, with the credentials its chain finds (Pod Identity's agent in the cluster)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise LoginError("no AWS_REGION to sign the database token for (EKS Pod Identity sets it)")
    try:
        token: str = _rds_client(region).generate_db_auth_token(
            target.host, target.port, str(target.user), region
        )
    except Exception as exc:  # botocore's NoCredentialsError, a credential agent that fails...
        raise LoginError(f"no database token: {type(exc).__name__}: {exc}") from None
    return token


@functools.cache
def _rds_client(region: str) -> Any:
    """One client per region: making one loads the RDS API model, and its credentials refresh
    themselves before they expire."""
    import botocore.session  # imported here: only the IAM path needs it

    return botocore.session.get_session().create_client("rds", region_name=region)


def ssl_context(target: DatabaseTarget) -> ssl.SSLContext | None:
    """The TLS settings libpq's `sslmode` asks for: none for `disable`; verification of the
    certificate (and, for `verify-full`, of the host name) against `sslrootcert` otherwise."""
    mode = target.ssl_mode
    if mode == "disable":
        return None
    if mode in ("verify-ca", "verify-full"):
        context = ssl.create_default_context(cafile=target.ssl_root_cert)
        context.check_hostname = mode == "verify-full"
        return context
    if mode in ("require", "prefer", "allow"):
        # Encrypted but unverified, as libpq does for these modes.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    raise LoginError(f"sslmode {mode!r} is not one libpq knows")


def log_in(target: DatabaseTarget, timeout_seconds: float, token: TokenProvider = iam_token) -> None:
    """Open one connection as `target.user` with a fresh token, run `SELECT 1`, close it."""
    try:
        password = token(target)
        connection = pg8000.native.Connection(
            str(target.user),
            host=target.host,
            port=target.port,
            database=target.database,
            password=password,
            ssl_context=ssl_context(target),
            timeout=timeout_seconds,
            application_name="lmagent-api-readiness",
        )
    except LoginError:
        raise
    except pg8000.native.DatabaseError as exc:
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        message = detail.get("M", str(exc)) if isinstance(detail, dict) else str(exc)
        raise LoginError(f"login as {target.user} refused: {message}") from None
    except Exception as exc:  # the driver raises InterfaceError, OSError, ssl errors...
        raise LoginError(f"login as {target.user} failed: {type(exc).__name__}: {exc}") from None
    try:
        connection.run("SELECT 1")
    finally:
        connection.close()
