"""Tests of the service's endpoints: probes, the demo API and the opt-in fault endpoint."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

# Built by the `make_client` fixture in conftest.py.
MakeClient = Callable[..., TestClient]


def test_health_answers_ok(make_client: MakeClient) -> None:
    response = make_client().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_answers_ok_when_no_database_is_configured(make_client: MakeClient) -> None:
    response = make_client().get("/ready")

    assert response.status_code == 200
    assert response.json()["status"] == "ready"


def test_metrics_are_served_in_prometheus_text_format(make_client: MakeClient) -> None:
    response = make_client().get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE http_requests_total counter" in response.text
    assert "# TYPE http_request_duration_seconds histogram" in response.text


def test_metrics_are_served_as_openmetrics_when_the_scraper_asks(make_client: MakeClient) -> None:
    response = make_client().get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_item_is_returned_by_id(make_client: MakeClient) -> None:
    response = make_client().get("/api/v1/items/42")

    assert response.status_code == 200
    assert response.json() == {"id": 42, "name": "item-42"}


def test_fails_when_item_id_is_not_a_positive_integer(make_client: MakeClient) -> None:
    client = make_client()

    assert client.get("/api/v1/items/abc").status_code == 422
    assert client.get("/api/v1/items/0").status_code == 422


def test_fault_endpoint_does_not_exist_by_default(make_client: MakeClient) -> None:
    client = make_client()

    assert client.get("/fault/500").status_code == 404
    assert client.get("/fault/raise").status_code == 404


def test_fault_endpoint_answers_with_the_requested_status_when_enabled(
    make_client: MakeClient,
) -> None:
    client = make_client(fault_endpoint=True)

    assert client.get("/fault/500").status_code == 500
    assert client.get("/fault/503").status_code == 503
    assert client.get("/fault/200").status_code == 200
    assert client.get("/fault/204").status_code == 204


def test_fails_when_fault_status_is_not_a_final_http_status(make_client: MakeClient) -> None:
    client = make_client(fault_endpoint=True)

    assert client.get("/fault/100").status_code == 422
    assert client.get("/fault/600").status_code == 422
    assert client.get("/fault/500", params={"delay_seconds": 31}).status_code == 422


def test_fault_raise_gives_the_client_a_500(make_client: MakeClient) -> None:
    response = make_client(fault_endpoint=True).get("/fault/raise")

    assert response.status_code == 500


def test_interactive_docs_are_not_served(make_client: MakeClient) -> None:
    client = make_client()

    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 200
