"""The service's Prometheus metrics, in a registry of their own so each app instance is isolated."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

# The platform's latency SLOs and the HighLatency alert compare against 0.1, 0.3, 0.5 and 1 s: an
# SLO threshold must be an existing bucket boundary, so these are part of the contract.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.3,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

# The `route` label of a request that matched no route: one fixed value keeps cardinality bounded
# however many different paths scanners try.
UNMATCHED_ROUTE = "<unmatched>"

# `_created` series double the series count and nothing on the platform reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream


@dataclass(frozen=True)
class Metrics:
    """The request metrics the platform's alerts and SLOs are written against."""

    registry: CollectorRegistry
    requests: Counter
    duration: Histogram
    in_progress: Gauge

    @classmethod
    def create(cls) -> Metrics:
        """A fresh registry with the request metrics and the process, platform and GC collectors."""
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        return cls(
            registry=registry,
            requests=Counter(
                "http_requests_total",
                "HTTP requests handled, by method, route template and status code.",
                ("method", "route", "status"),
                registry=registry,
            ),
            duration=Histogram(
                "http_request_duration_seconds",
                "Time from receiving a request to sending the end of its response.",
                ("method", "route"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            in_progress=Gauge(
                "http_requests_in_progress",
                "HTTP requests being handled now, by method and route template.",
                ("method", "route"),
                registry=registry,
            ),
        )

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition body and its content type, OpenMetrics when the scraper asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
