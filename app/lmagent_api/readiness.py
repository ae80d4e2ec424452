"""Decides whether the pod gets traffic: not while shutting down, not without its database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass

from lmagent_api.database import LoginError, TokenProvider, iam_token, log_in
from lmagent_api.settings import DatabaseTarget

logger = logging.getLogger(__name__)


class Lifecycle:
    """The process's shutdown state, shared by the signal handler and the readiness endpoint.

    A lock-free flag would do in CPython, but the signal handler and the threadpool both touch
    it, so an Event makes the intent (set once, read anywhere) explicit.
    """

    def __init__(self) -> None:
        self._shutting_down = threading.Event()

    @property
    def shutting_down(self) -> bool:
        """True once shutdown began: readiness then fails so traffic drains away."""
        return self._shutting_down.is_set()

    def begin_shutdown(self) -> None:
        """Fail readiness from now on; in-flight and new requests are still served."""
        if not self._shutting_down.is_set():
            logger.info("shutdown started: readiness now fails while traffic drains")
        self._shutting_down.set()


@dataclass(frozen=True)
class Readiness:
    """The answer of one readiness check: ready or not, and why."""

    ready: bool
    reason: str


async def check_database(
    target: DatabaseTarget, timeout_seconds: float, token: TokenProvider | None = None
) -> Readiness:
    """Ready when the database accepts the service within `timeout_seconds`.

    With the platform's IAM-authenticated role (`target.iam_auth`), a real login: a fresh token,
    TLS as the URL asks, `SELECT 1`; so a missing grant, a wrong role or an unreachable credential
    agent keeps the pod out of service, and a deploy that breaks them fails its rollout. With any
    other URL, a TCP connection: it proves the network path and the listener, not the credentials.
    """
    if target.iam_auth:
        try:
            await asyncio.to_thread(log_in, target, timeout_seconds, token or iam_token)
        except LoginError as exc:
            return Readiness(ready=False, reason=f"database {target}: {exc}")
        return Readiness(ready=True, reason=f"database {target}: logged in as {target.user}")
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port), timeout=timeout_seconds
        )
    except (OSError, TimeoutError) as exc:
        reason = f"database {target} unreachable: {type(exc).__name__}: {exc}".rstrip(": ")
        return Readiness(ready=False, reason=reason)
    writer.close()
    # The database may reset a connection that sends nothing; it was reachable all the same.
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Readiness(ready=True, reason=f"database {target} reachable")
