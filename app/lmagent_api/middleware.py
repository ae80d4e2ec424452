"""ASGI middleware that measures, traces and logs every request under its route template."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmagent_api.metrics import UNMATCHED_ROUTE, Metrics

logger = logging.getLogger("lmagent_api.access")

# Not user traffic, so neither counted, timed nor traced: Prometheus scrapes and kubelet probes
# arrive every few seconds and would dilute the error ratio the SLOs are computed from, and a
# 503 from /ready while draining or during a database outage would burn error budget for
# requests no user made. Probe failures are still logged.
PROBE_PATHS = frozenset({"/health", "/ready"})
NOT_MEASURED = PROBE_PATHS | {"/metrics"}
# Any other method is labelled `_OTHER` (as OpenTelemetry does), so junk methods add no series.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template of the route that will handle `scope`, e.g. `/api/v1/items/{item_id}`.

    A route that matches only partially (the path, not the method: a 405) still names it; no
    match at all gives one fixed label, so random paths cannot create new series.
    """
    partial: str | None = None
    for route in routes:
        match, _ = route.matches(scope)
        path = getattr(route, "path", None)
        if match is Match.FULL and path is not None:
            return str(path)
        if match is Match.PARTIAL and partial is None and path is not None:
            partial = str(path)
    return partial or UNMATCHED_ROUTE


class ObservabilityMiddleware:
    """Counts, times, traces and logs each HTTP request; an unhandled exception counts as 500."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        metrics: Metrics,
        tracer: trace.Tracer,
    ) -> None:
        self.app = app
        self.routes = routes
        self.metrics = metrics
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in NOT_MEASURED:
            await self._unmeasured(scope, receive, send)
            return

        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "_OTHER"
        route = route_template(self.routes, scope)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = 500  # what the client sees if the app raises before it responds
        started = time.perf_counter()

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        in_progress = self.metrics.in_progress.labels(method=method, route=route)
        in_progress.inc()
        with self.tracer.start_as_current_span(
            f"{method} {route}",
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "http.route": route,
                "url.path": scope["path"],
            },
        ) as span:
            try:
                await self.app(scope, receive, send_and_record_status)
            except BaseException:
                # Starlette's outermost error handler turns this into a 500 response; count it
                # as one even if the response had already started, since the client got a
                # truncated body.
                status = 500
                raise
            finally:
                elapsed = time.perf_counter() - started
                in_progress.dec()
                self._record(span, method, route, status, elapsed, scope["path"])

    async def _unmeasured(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            if status != 200 and scope["path"] in PROBE_PATHS:
                logger.warning(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"http_path": scope["path"], "http_status": status},
                )

    def _record(
        self, span: trace.Span, method: str, route: str, status: int, elapsed: float, path: str
    ) -> None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        self.metrics.requests.labels(method=method, route=route, status=str(status)).inc()
        context = span.get_span_context()
        exemplar = (
            {"trace_id": trace.format_trace_id(context.trace_id)}
            if context.is_valid and context.trace_flags.sampled
            else None
        )
        self.metrics.duration.labels(method=method, route=route).observe(elapsed, exemplar)
        logger.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "%s %s %d",
            method,
            path,
            status,
            extra={
                "http_method": method,
                "http_route": route,
                "http_path": path,
                "http_status": status,
                "duration_seconds": round(elapsed, 6),
            },
        )
