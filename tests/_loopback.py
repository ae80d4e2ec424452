"""Real servers on loopback for the tests: free ports, bounded waits, processes always stopped."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests._tools import tool

STARTUP_SECONDS = 20  # a bound on a server's start, not a measurement


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate `process` (kill it if it ignores that for 10 s) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_for(check: Callable[[], Any], what: str, deadline: float, logs: Path) -> Any:
    """Return check()'s first truthy result; fail with the logs when the deadline passes."""
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as err:
            last = err
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    pytest.fail(f"timed out waiting for {what}; last result: {last!r}\n{tails}")


@contextlib.contextmanager
def spawner(logs: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes whose output goes to logs/<name>.log; all are stopped on leaving."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        log = (logs / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        log.close()  # the child holds its own descriptor
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in reversed(started):
            stop(process)


def start_alertmanager(
    start: Callable[..., subprocess.Popen[bytes]], logs: Path, config: dict[str, Any]
) -> str:
    """Run the real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 with `config`'s
    routes and inhibitions and its receivers emptied, so no notification leaves the machine;
    return its URL once it is ready."""
    quiet = {**config, "receivers": [{"name": r["name"]} for r in config["receivers"]]}
    path = logs / "alertmanager.yml"
    path.write_text(yaml.safe_dump(quiet))
    port = free_port()
    start(
        "alertmanager",
        [
            tool("prometheus-alertmanager"),
            f"--config.file={path}",
            f"--storage.path={logs / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no peers: a single instance
        ],
        cwd=logs,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    wait_for(lambda: httpx.get(f"{url}/-/ready").is_success, "Alertmanager to start", deadline, logs)
    return url


def pages(alerts: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Alertmanager's active (not inhibited, not silenced) alerts routed to the pager, counted per
    (service, namespace), from its `/api/v2/alerts` answer."""
    counted: dict[tuple[str, str], int] = {}
    for a in alerts:
        if a["status"]["state"] == "active" and "pager" in {r["name"] for r in a["receivers"]}:
            key = (a["labels"].get("service", ""), a["labels"].get("namespace", ""))
            counted[key] = counted.get(key, 0) + 1
    return counted
