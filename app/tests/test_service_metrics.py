"""Tests of the request metrics the platform's alerts and SLOs are written against."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable

from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from lmagent_api.metrics import LATENCY_BUCKETS

# Built by the `make_client` fixture in conftest.py.
MakeClient = Callable[..., TestClient]


def samples(client: TestClient, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of metric `name` in the exposition, keyed by its label set."""
    found: dict[frozenset[tuple[str, str]], float] = {}
    for line in client.get("/metrics").text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}\{{(.*)\}} (\S+)", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            found[labels] = float(match.group(2))
    return found


def count(client: TestClient, **labels: str) -> float:
    return samples(client, "http_requests_total").get(frozenset(labels.items()), 0.0)


def test_requests_are_counted_by_method_route_and_status(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/api/v1/items/1")

    assert count(client, method="GET", route="/api/v1/items/{item_id}", status="200") == 1


def test_two_item_ids_are_counted_in_one_series_under_the_route_template(
    make_client: MakeClient,
) -> None:
    client = make_client()
    client.get("/api/v1/items/1")
    client.get("/api/v1/items/2")

    series = samples(client, "http_requests_total")
    assert series == {
        frozenset({("method", "GET"), ("route", "/api/v1/items/{item_id}"), ("status", "200")}): 2.0
    }


def test_unmatched_paths_share_one_fixed_route_label(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/wp-admin")
    client.get("/.env")

    assert count(client, method="GET", route="<unmatched>", status="404") == 2
    assert not any(
        dict(labels)["route"] in {"/wp-admin", "/.env"} for labels in samples(client, "http_requests_total")
    )


def test_unknown_methods_share_one_method_label(make_client: MakeClient) -> None:
    client = make_client()
    client.request("FOOBAR", "/api/v1/items/1")

    assert count(client, method="_OTHER", route="/api/v1/items/{item_id}", status="405") == 1


def test_fault_500_is_counted_as_status_500(make_client: MakeClient) -> None:
    client = make_client(fault_endpoint=True)
    client.get("/fault/500")

    assert count(client, method="GET", route="/fault/{status_code}", status="500") == 1


def test_unhandled_exception_is_counted_as_status_500(make_client: MakeClient) -> None:
    client = make_client(fault_endpoint=True)
    client.get("/fault/raise")

    assert count(client, method="GET", route="/fault/raise", status="500") == 1


def test_exception_in_any_route_is_counted_as_status_500(make_client: MakeClient) -> None:
    client = make_client()

    @client.app.get("/boom/{n}")  # type: ignore[attr-defined]
    def boom(n: int) -> None:
        raise ZeroDivisionError(n)

    assert client.get("/boom/1").status_code == 500
    assert count(client, method="GET", route="/boom/{n}", status="500") == 1


def test_latency_histogram_has_the_buckets_the_slos_use(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/api/v1/items/1")

    buckets = {
        dict(labels)["le"]: value
        for labels, value in samples(client, "http_request_duration_seconds_bucket").items()
        if dict(labels)["route"] == "/api/v1/items/{item_id}"
    }
    for le in ("0.1", "0.3", "0.5", "1.0", "+Inf"):
        assert le in buckets, f"bucket le={le} missing from {sorted(buckets)}"
    assert buckets["+Inf"] == 1
    assert {0.1, 0.3, 0.5, 1.0} <= set(LATENCY_BUCKETS)


def test_slow_request_lands_above_the_bucket_it_exceeds(make_client: MakeClient) -> None:
    client = make_client(fault_endpoint=True)
    client.get("/fault/200", params={"delay_seconds": 0.35})

    buckets = {
        dict(labels)["le"]: value
        for labels, value in samples(client, "http_request_duration_seconds_bucket").items()
        if ("route", "/fault/{status_code}") in labels
    }
    # The request slept at least 0.35 s, so it cannot be in the 0.3 s bucket; only a lower
    # bound is asserted, as an upper one would depend on the machine's speed.
    assert buckets["0.3"] == 0
    assert buckets["+Inf"] == 1


def test_probes_and_scrapes_are_not_counted_as_traffic(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/health")
    client.get("/ready")
    client.get("/metrics")

    assert samples(client, "http_requests_total") == {}
    assert samples(client, "http_request_duration_seconds_count") == {}


def test_requests_in_progress_return_to_zero(make_client: MakeClient) -> None:
    client = make_client()
    client.get("/api/v1/items/1")

    in_progress = samples(client, "http_requests_in_progress")
    assert in_progress == {frozenset({("method", "GET"), ("route", "/api/v1/items/{item_id}")}): 0.0}


def test_each_app_has_its_own_registry(make_client: MakeClient) -> None:
    first, second = make_client(), make_client()
    first.get("/api/v1/items/1")

    assert count(first, method="GET", route="/api/v1/items/{item_id}", status="200") == 1
    assert count(second, method="GET", route="/api/v1/items/{item_id}", status="200") == 0


def test_exception_after_the_response_started_is_counted_as_status_500(
    make_client: MakeClient,
) -> None:
    client = make_client()

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first chunk"
        raise ConnectionResetError("upstream went away mid-stream")

    @client.app.get("/stream")  # type: ignore[attr-defined]
    def stream() -> StreamingResponse:
        return StreamingResponse(chunks())

    with contextlib.suppress(ConnectionResetError):
        client.get("/stream")

    # The client saw "200" and then a truncated body: that is a failed request.
    assert count(client, method="GET", route="/stream", status="500") == 1
    assert count(client, method="GET", route="/stream", status="200") == 0
