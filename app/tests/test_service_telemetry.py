"""Tests of the service's JSON log lines and of its OTLP trace export."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lmagent_api.logs import JsonFormatter
from lmagent_api.settings import DatabaseTarget

# Built by the `make_client` fixture in conftest.py.
MakeClient = Callable[..., TestClient]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def log_lines(output: str, logger: str) -> list[dict[str, Any]]:
    """The JSON objects on stdout written by `logger`; every stdout line must be JSON."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    return [line for line in lines if line["logger"] == logger]


def test_request_log_line_is_json_with_the_trace_and_span_ids(
    make_client: MakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client()
    capsys.readouterr()

    client.get("/api/v1/items/7", headers={"traceparent": TRACEPARENT})

    (line,) = log_lines(capsys.readouterr().out, "lmagent_api.access")
    assert line["trace_id"] == TRACE_ID, "the caller's trace must continue in this service"
    assert len(line["span_id"]) == 16
    assert line["span_id"] != "00f067aa0ba902b7", "the server span is a child, not the caller"
    assert line["level"] == "info"
    assert line["service"] == "lmagent-api"
    assert line["http_route"] == "/api/v1/items/{item_id}"
    assert line["http_path"] == "/api/v1/items/7"
    assert line["http_status"] == 200


def test_request_without_traceparent_starts_a_new_trace(
    make_client: MakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client()
    capsys.readouterr()

    client.get("/api/v1/items/7")
    client.get("/api/v1/items/8")

    first, second = log_lines(capsys.readouterr().out, "lmagent_api.access")
    assert len(first["trace_id"]) == 32
    assert first["trace_id"] != second["trace_id"]


def test_server_error_is_logged_at_error_level(
    make_client: MakeClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(fault_endpoint=True)
    capsys.readouterr()

    client.get("/fault/503")

    (line,) = log_lines(capsys.readouterr().out, "lmagent_api.access")
    assert line["level"] == "error"
    assert line["http_status"] == 503


def test_failing_readiness_probe_is_logged_without_being_counted(
    make_client: MakeClient, free_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(database=DatabaseTarget("127.0.0.1", free_port))
    capsys.readouterr()

    client.get("/ready")

    (line,) = log_lines(capsys.readouterr().out, "lmagent_api.access")
    assert line["level"] == "warning"
    assert line["http_status"] == 503


def test_log_line_outside_a_span_has_no_trace_id() -> None:
    record = logging.LogRecord("lmagent_api", logging.INFO, __file__, 1, "hello %s", ("x",), None)

    line = json.loads(JsonFormatter("checkout").format(record))

    assert line["message"] == "hello x"
    assert line["service"] == "checkout"
    assert "trace_id" not in line
    assert "span_id" not in line


def test_log_line_carries_extra_fields_and_the_exception() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("lmagent_api", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    record.order_id = 17

    line = json.loads(JsonFormatter().format(record))

    assert line["order_id"] == 17
    assert "ValueError: bad" in line["exception"]


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Silence the default stderr access log."""


@pytest.fixture
def otlp_collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP endpoint on 127.0.0.1 that records every export request it receives."""
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


def test_spans_are_exported_by_otlp_http_when_an_endpoint_is_set(
    make_client: MakeClient,
    otlp_collector: tuple[str, list[tuple[str, bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    endpoint, received = otlp_collector
    # The OTLP exporter reads the endpoint from the environment, as the specification says.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    client = make_client(otlp_endpoint=endpoint, service_name="checkout", fault_endpoint=True)

    client.get("/api/v1/items/7", headers={"traceparent": TRACEPARENT})
    client.get("/fault/500")
    client.app.state.tracer_provider.force_flush()  # type: ignore[attr-defined]

    assert [path for path, _ in received] == ["/v1/traces"]
    request = ExportTraceServiceRequest.FromString(received[0][1])
    (resource_spans,) = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "checkout"
    spans = {s.name: s for ss in resource_spans.scope_spans for s in ss.spans}
    assert set(spans) == {"GET /api/v1/items/{item_id}", "GET /fault/{status_code}"}
    item = spans["GET /api/v1/items/{item_id}"]
    assert item.trace_id.hex() == TRACE_ID
    assert {a.key: a.value for a in item.attributes}["http.route"].string_value == ("/api/v1/items/{item_id}")
    # STATUS_CODE_ERROR is 2 in the OTLP protocol.
    assert spans["GET /fault/{status_code}"].status.code == 2


def test_no_exporter_is_configured_without_an_endpoint(make_client: MakeClient) -> None:
    client = make_client()

    provider = client.app.state.tracer_provider  # type: ignore[attr-defined]
    # The SDK keeps its processors private; an empty tuple means spans go nowhere.
    assert provider._active_span_processor._span_processors == ()
    assert provider.resource.attributes["service.name"] == "lmagent-api"
