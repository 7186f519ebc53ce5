"""The pages' own FastAPI app, mounted at ``/batchtasks/ui`` inside the provider's app.

A separate app (not routes on the API app) because pages answer errors as HTML
and logins as redirects, while the API answers JSON; each app keeps its own
exception handlers. Both call the same data layer and the same auth checks.
Static assets (CSS, JS, icons) carry no data and are served without login, so
the 401 page is styled too. Every response carries a Content-Security-Policy
(own scripts and styles only; framed only by Airflow's own UI) and
``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from airflow_batchtasks.plugins import csrf
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.http_guards import PAGE_HEADERS, SecurityHeaders
from airflow_batchtasks.plugins.views import security
from airflow_batchtasks.plugins.views.render import STATIC_DIR, templates


def _error_page(request: Request, status_code: int, title: str, message: str, **extra: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, "error.html",
        {"status_code": status_code, "title": title, "message": message, "user_name": None, "csrf": "",
         "flash": None, **extra},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def create_ui_app() -> FastAPI:
    from airflow_batchtasks.orchestration.instances import NotFound as OrchestrationNotFound
    from airflow_batchtasks.orchestration.instances import OrchestrationError
    from airflow_batchtasks.plugins.views import (
        audit_page,
        authoring,
        cron_page,
        orchestration_pages,
        runs_page,
        task_detail,
        task_list,
    )

    app = FastAPI(title="Batch Tasks pages", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (task_list, runs_page, task_detail, orchestration_pages, cron_page, authoring, audit_page):
        app.include_router(module.router)

    @app.exception_handler(security.LoginRequired)
    def login_required(request: Request, exc: security.LoginRequired) -> Response:
        target = security.login_url(request)
        if request.method == "GET" and request.headers.get("sec-fetch-dest", "document") == "document":
            return RedirectResponse(target, status_code=303)
        return _error_page(request, 401, "Not signed in",
                           "Your Airflow session has ended or you are not signed in.", login=target)

    @app.exception_handler(csrf.CsrfRejected)
    def csrf_rejected(request: Request, exc: csrf.CsrfRejected) -> Response:
        return _error_page(request, 403, "Request refused", str(exc))

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> Response:
        titles = {403: "Not allowed", 404: "Not found", 405: "Method not allowed"}
        message = "You do not have the Airflow permission this needs." if exc.status_code == 403 else str(exc.detail)
        return _error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), message)

    @app.exception_handler(DataError)
    def data_error(request: Request, exc: DataError) -> Response:
        return _error_page(request, exc.status_code, "Not found" if exc.status_code == 404 else "Cannot do that",
                           str(exc))

    @app.exception_handler(OrchestrationError)
    def orchestration_error(request: Request, exc: OrchestrationError) -> Response:
        code = 404 if isinstance(exc, OrchestrationNotFound) else 409
        return _error_page(request, code, "Not found" if code == 404 else "Cannot do that", str(exc))

    @app.exception_handler(RequestValidationError)
    def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: {err.get('msg')}"
            for err in exc.errors()
        )
        return _error_page(request, 422, "Invalid input", problems)

    app.add_middleware(SecurityHeaders, headers=PAGE_HEADERS)  # CSP (frame-ancestors 'self'), nosniff
    return app
