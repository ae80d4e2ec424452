"""Decides whether the pod gets traffic: not while shutting down, not without its database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass

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


async def check_database(target: DatabaseTarget, timeout_seconds: float) -> Readiness:
    """Ready when a TCP connection to the database opens within `timeout_seconds`.

    A TCP connect needs no database driver and proves the network path and the listener; it
    does not prove the credentials, which the application's first query does.
    """
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
