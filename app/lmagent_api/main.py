"""The FastAPI application: probes, metrics, a demo API and an opt-in fault endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from lmagent_api import __version__
from lmagent_api.logs import configure_logging
from lmagent_api.metrics import Metrics
from lmagent_api.middleware import ObservabilityMiddleware
from lmagent_api.readiness import Lifecycle, Readiness, check_database
from lmagent_api.settings import Settings, SettingsError
from lmagent_api.tracing import create_tracer_provider

logger = logging.getLogger("lmagent_api")

# HTTP forbids a body with these statuses; the server would reject the response otherwise.
_NO_BODY = frozenset({204, 205, 304})


class InjectedFaultError(RuntimeError):
    """Raised on purpose by `/fault/raise` to exercise the unhandled-exception path."""


def create_app(settings: Settings | None = None, lifecycle: Lifecycle | None = None) -> FastAPI:
    """Build the application from `settings` (default: read from the environment)."""
    settings = settings or Settings.from_env()
    lifecycle = lifecycle or Lifecycle()
    configure_logging(settings.service_name)
    metrics = Metrics.create()
    tracer_provider = create_tracer_provider(settings.service_name, settings.otlp_endpoint)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "started",
            extra={
                "version": __version__,
                "fault_endpoint": settings.fault_endpoint,
                "database": str(settings.database) if settings.database else None,
                "otlp_export": bool(settings.otlp_endpoint),
            },
        )
        yield
        # Runs after uvicorn has waited for in-flight requests: flush the last spans.
        tracer_provider.shutdown()
        logger.info("stopped")

    # The interactive docs load scripts from a CDN; the schema alone stays at /openapi.json.
    app = FastAPI(
        title="lmagent-api",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.lifecycle = lifecycle
    app.state.metrics = metrics
    app.state.tracer_provider = tracer_provider
    app.add_middleware(
        ObservabilityMiddleware,
        routes=app.router.routes,
        metrics=metrics,
        tracer=tracer_provider.get_tracer("lmagent_api"),
    )

    @app.get("/health", tags=["probes"])
    async def health() -> dict[str, str]:
        """Liveness: the process is up and its event loop answers. Never checks dependencies,
        so a database outage makes pods unready, not restarted."""
        return {"status": "ok"}

    @app.get("/ready", tags=["probes"], responses={503: {"description": "Not ready"}})
    async def ready() -> JSONResponse:
        """Readiness: not shutting down and, when DATABASE_URL is set, the database answers."""
        try:
            database = settings.current_database()
        except SettingsError as exc:  # the mounted file went missing or holds no usable URL
            database, problem = None, str(exc)
        else:
            problem = None
        if lifecycle.shutting_down:
            result = Readiness(ready=False, reason="shutting down")
        elif problem is not None:
            result = Readiness(ready=False, reason=problem)
        elif database is not None:
            result = await check_database(database, settings.database_timeout_seconds)
        else:
            result = Readiness(ready=True, reason="no dependencies configured")
        return JSONResponse(
            {"status": "ready" if result.ready else "not ready", "reason": result.reason},
            status_code=200 if result.ready else 503,
        )

    @app.get("/metrics", tags=["probes"], include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = metrics.render(request.headers.get("accept"))
        return Response(content=body, media_type=content_type)

    @app.get("/api/v1/items/{item_id}", tags=["items"])
    async def get_item(item_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
        """A demo resource: any positive id exists and is named after itself."""
        return {"id": item_id, "name": f"item-{item_id}"}

    if settings.fault_endpoint:
        _add_fault_routes(app)
    return app


def _add_fault_routes(app: FastAPI) -> None:
    """Routes that fail on demand, for alert tests and game days (LMAGENT_FAULT_ENDPOINT=1)."""

    # Declared before /fault/{status_code} so "raise" is not parsed as a status code.
    @app.get("/fault/raise", tags=["faults"])
    async def fault_raise() -> None:
        """Raise an unhandled exception: the client gets a 500 from the server's error handler."""
        raise InjectedFaultError("fault injected by GET /fault/raise")

    @app.get("/fault/{status_code}", tags=["faults"])
    async def fault(
        status_code: Annotated[int, Path(ge=200, le=599)],
        delay_seconds: Annotated[float, Query(ge=0, le=30)] = 0,
    ) -> Response:
        """Answer with `status_code` after `delay_seconds` (default 0): errors and latency."""
        if delay_seconds:
            await asyncio.sleep(delay_seconds)
        if status_code in _NO_BODY:
            return Response(status_code=status_code)
        return JSONResponse({"fault": status_code}, status_code=status_code)


app = create_app()
