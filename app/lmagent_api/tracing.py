"""Builds the service's tracer: spans always, an OTLP/HTTP exporter only when an endpoint is set."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lmagent_api import __version__


def create_tracer_provider(service_name: str, otlp_endpoint: str | None) -> TracerProvider:
    """A tracer provider for this app; it exports by OTLP/HTTP only when `otlp_endpoint` is set.

    Spans are recorded even without an exporter so log lines still carry trace ids that match
    the caller's `traceparent`. The provider is not installed globally: each app owns its own, so
    tests can build several apps in one process.
    """
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name, SERVICE_VERSION: __version__})
    )
    if otlp_endpoint:
        # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and its headers/timeout variables) and
        # appends /v1/traces itself, as the OpenTelemetry specification requires.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
