"""Runs the service under uvicorn with a drain period on SIGTERM: `python -m lmagent_api`."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn

from lmagent_api.readiness import Lifecycle
from lmagent_api.settings import Settings, SettingsError

logger = logging.getLogger("lmagent_api")

# Starts `callback` after `delay` seconds; injectable so tests need neither real signals nor waits.
Scheduler = Callable[[float, Callable[[], None]], None]


def _start_timer(delay: float, callback: Callable[[], None]) -> None:
    timer = threading.Timer(delay, callback)
    timer.daemon = True
    timer.start()


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first SIGTERM fails readiness, keeps serving, then stops.

    Kubernetes removes a terminating pod from Service endpoints asynchronously; requests keep
    arriving for a few seconds after SIGTERM. So the first SIGTERM only flips readiness and
    starts a drain timer; when it fires, uvicorn's own graceful shutdown stops accepting
    connections and waits (up to `timeout_graceful_shutdown`) for in-flight requests. SIGINT,
    or a second signal, stops at once as plain uvicorn does.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        lifecycle: Lifecycle,
        drain_seconds: float,
        schedule: Scheduler = _start_timer,
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self.schedule = schedule

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.lifecycle.shutting_down and self.drain_seconds > 0:
            self.lifecycle.begin_shutdown()
            logger.info("SIGTERM received: draining", extra={"drain_seconds": self.drain_seconds})
            self.schedule(self.drain_seconds, lambda: super(DrainingServer, self).handle_exit(sig, frame))
            return
        self.lifecycle.begin_shutdown()
        super().handle_exit(sig, frame)


def build_server(settings: Settings, schedule: Scheduler = _start_timer) -> DrainingServer:
    """The server for the module-level app, configured from `settings`."""
    from lmagent_api.main import app  # imported here so a settings error is reported first

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        # The app configures JSON logging itself; uvicorn's dictConfig would replace it.
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(settings.graceful_timeout_seconds),
        # Longer than an AWS load balancer's 60 s idle timeout, so the balancer closes first
        # and never sends on a connection the server is closing.
        timeout_keep_alive=65,
    )
    return DrainingServer(config, app.state.lifecycle, settings.drain_seconds, schedule)


def main() -> int:
    """Validate the settings, then serve until stopped; exit status 2 on bad settings."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"lmagent-api: invalid settings: {exc}", file=sys.stderr)
        return 2
    build_server(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
