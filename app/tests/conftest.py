"""Fixtures for the reference service's tests: an app built from explicit settings, and a free port."""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():
    # Starlette's TestClient warns that its httpx support is deprecated; it works as tested,
    # and the replacement it names is not among the pinned development dependencies.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from lmagent_api.main import create_app
from lmagent_api.readiness import Lifecycle
from lmagent_api.settings import Settings

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Build a TestClient for an app with the given Settings fields; server errors become 500s."""
    clients: list[TestClient] = []

    def make(lifecycle: Lifecycle | None = None, **fields: object) -> TestClient:
        app = create_app(Settings(**fields), lifecycle=lifecycle)  # type: ignore[arg-type]
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()  # runs the lifespan, as uvicorn does
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
