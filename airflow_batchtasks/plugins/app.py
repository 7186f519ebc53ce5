"""The FastAPI app the plugin mounts at ``/batchtasks`` on Airflow's API server: the one place that
assembles the REST API (``plugins/api``, at ``/api/v1``) and the pages (``plugins/views``, at ``/ui``).

Neither half imports this module or the other's app: the pages call the API's route
functions (the same authorization), the API knows nothing of the pages.

It is built on first request (:class:`LazyApp`), not at import: the plugin is
imported by every Airflow component (scheduler, workers, dag-processor), and
only the API server ever serves it, so the others do not pay for importing
FastAPI routes and Airflow's API modules.

Error mapping: data-layer exceptions carry their status (404 unknown, 409
conflicting state, 422 bad input with ``errors``, 405 read-only, 502 delivery
failure); orchestration errors map 404/409. Airflow's security dependencies
give 401 (no credentials) and 403 (not allowed). OpenAPI is served at
``/batchtasks/api/v1/openapi.json`` to authenticated callers only.

Guards around every route: request bodies over ``[batchtasks] max_request_mb``
get 413 before they are read (:mod:`~airflow_batchtasks.plugins.http_guards`),
and a write authenticated by the session cookie must come from this origin or
carry the pages' CSRF token (:func:`~airflow_batchtasks.plugins.csrf.cookie_write_guard`).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from airflow_batchtasks.plugins.data.errors import DataError, Invalid
from airflow_batchtasks.plugins.http_guards import BodyLimit

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    from fastapi import Depends

    from airflow_batchtasks import config
    from airflow_batchtasks.orchestration import instances
    from airflow_batchtasks.plugins import csrf
    from airflow_batchtasks.plugins.api.routes import (
        audit,
        bulk,
        cron,
        definitions,
        files,
        orchestrations,
        pickers,
        runs,
        tasks,
    )
    from airflow_batchtasks.plugins.current_user import current_user

    app = FastAPI(
        title="Batch Tasks API",
        description="Batch tasks, runs, file history, definitions and orchestration instances "
        "(airflow-batchtasks). Authentication and authorization are Airflow's.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # before any route: a cookie-authenticated write must come from this origin (plugins.csrf)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(csrf.cookie_write_guard)])
    for module in (tasks, runs, bulk, files, definitions, orchestrations, cron, pickers, audit):
        api.include_router(module.router)

    @api.get("/openapi.json", include_in_schema=False, dependencies=[Depends(current_user)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    app.include_router(api)

    from airflow_batchtasks.plugins.views.app import create_ui_app

    app.mount("/ui", create_ui_app())  # the pages: HTML errors and login redirects, same data layer

    @app.exception_handler(DataError)
    def data_error(request: Request, exc: DataError) -> JSONResponse:
        body: dict[str, Any] = {"detail": str(exc)}
        if isinstance(exc, Invalid):
            body["errors"] = exc.errors
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(instances.OrchestrationError)
    def orchestration_error(request: Request, exc: instances.OrchestrationError) -> JSONResponse:
        code = 404 if isinstance(exc, instances.NotFound) else 409
        return JSONResponse({"detail": str(exc)}, status_code=code)

    @app.exception_handler(RecursionError)
    def too_deep(request: Request, exc: RecursionError) -> JSONResponse:
        # a JSON body nested deep enough to exhaust Python's stack (e.g. a `definition` object):
        # bad input, not a server error
        return JSONResponse({"detail": "the request is nested too deeply"}, status_code=422)

    # outermost: a body over the limit is refused before the API or a page reads it
    app.add_middleware(BodyLimit, max_bytes=config.max_request_bytes)
    _start_background_reads()
    return app


def _start_background_reads() -> None:
    """What the runs list learns once per worker (which runs could hold secrets) starts with the app, in the
    background, rather than on the first ``args`` search, which would otherwise pay for it."""
    from airflow import settings

    from airflow_batchtasks.plugins.data import all_runs

    if settings.engine is None:
        return
    try:
        all_runs.start_reading_suspects(settings.engine)
    except Exception:  # noqa: BLE001 - the first search starts it again
        logging.getLogger(__name__).warning("could not start reading which runs hold secrets", exc_info=True)


class LazyApp:
    """An ASGI app that builds :func:`create_app` on its first request."""

    def __init__(self) -> None:
        self._app: FastAPI | None = None
        self._lock = threading.Lock()

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = create_app()
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


app = LazyApp()
