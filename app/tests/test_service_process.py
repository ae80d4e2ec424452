"""Tests that run the service as a real process: the start commands, SIGTERM draining, bad settings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parent.parent
# Generous, because it bounds waiting on a loaded CI machine; no assertion depends on it.
DEADLINE_SECONDS = 30.0


def get(url: str) -> tuple[int, str]:
    """Status and body of GET `url`, error statuses included."""
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE_SECONDS) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` if it never does."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    pytest.fail(f"timed out waiting until {what}")


def start(argv: list[str], port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=APP_DIR,
        env={
            **os.environ,
            "LMAGENT_HOST": "127.0.0.1",
            "LMAGENT_PORT": str(port),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            "DATABASE_URL": "",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Started service processes; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_uvicorn_command_serves_fault_500_and_counts_it(
    processes: list[subprocess.Popen[str]], free_port: int
) -> None:
    # The contract the end-to-end Prometheus test relies on: this exact command, from app/.
    argv = ["-m", "uvicorn", "lmagent_api.main:app", "--host", "127.0.0.1", "--port", str(free_port)]
    processes.append(start(argv, free_port, LMAGENT_FAULT_ENDPOINT="1"))
    base = f"http://127.0.0.1:{free_port}"
    wait_until(lambda: get(f"{base}/health")[0] == 200, "the service answers /health")

    assert get(f"{base}/fault/500")[0] == 500

    metrics = get(f"{base}/metrics")[1]
    assert 'http_requests_total{method="GET",route="/fault/{status_code}",status="500"} 1.0' in (metrics)


def test_sigterm_fails_readiness_then_finishes_in_flight_requests_and_exits(
    processes: list[subprocess.Popen[str]], free_port: int
) -> None:
    process = start(["-m", "lmagent_api"], free_port, LMAGENT_FAULT_ENDPOINT="1", LMAGENT_DRAIN_SECONDS="1")
    processes.append(process)
    base = f"http://127.0.0.1:{free_port}"
    wait_until(lambda: get(f"{base}/ready")[0] == 200, "the service is ready")

    slow: dict[str, int] = {}
    request = threading.Thread(target=lambda: slow.update(status=get(f"{base}/fault/200?delay_seconds=2")[0]))
    request.start()
    in_flight = re.compile(r'http_requests_in_progress\{method="GET",route="/fault/\{status_code\}"\} 1\.0')
    wait_until(lambda: bool(in_flight.search(get(f"{base}/metrics")[1])), "a request is in flight")

    process.send_signal(signal.SIGTERM)

    wait_until(lambda: get(f"{base}/ready")[0] == 503, "readiness fails after SIGTERM")
    request.join(DEADLINE_SECONDS)
    assert slow == {"status": 200}, "the in-flight request must finish, not be cut off"
    output, _ = process.communicate(timeout=DEADLINE_SECONDS)
    # uvicorn re-raises the signal after its graceful shutdown, so the exit is "killed by
    # SIGTERM" (143 in a container), which Kubernetes expects; 0 is accepted as well.
    assert process.returncode in (0, -signal.SIGTERM), output
    assert '"message": "Application shutdown complete."' in output
    assert "Traceback" not in output


def test_fails_to_start_with_bad_settings_and_says_which(
    processes: list[subprocess.Popen[str]], free_port: int
) -> None:
    process = start(["-m", "lmagent_api"], free_port, LMAGENT_PORT="http")
    processes.append(process)

    output, _ = process.communicate(timeout=DEADLINE_SECONDS)

    assert process.returncode == 2
    assert output.strip() == (
        "lmagent-api: invalid settings: LMAGENT_PORT='http' is not a TCP port; allowed: 1 to 65535"
    )
