"""Template rendering for the pages: one Jinja2 environment, its helpers, and the common page context.

Templates are autoescaped HTML (``plugins/templates``); helpers turn the data
layer's models into display text (times as ``<time>`` in UTC that ``ui.js``
shows in the viewer's zone, sizes, durations), build links that stay
same-origin (Airflow's absolute ``base_url`` links become paths, so they work
whatever host the browser used and can be opened in Airflow's own frame), and
redact secrets with Airflow's masker before anything reaches a page.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.plugins import csrf
from airflow_batchtasks.plugins.views import security

PLUGIN_DIR = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = PLUGIN_DIR / "templates"
STATIC_DIR = PLUGIN_DIR / "static"

#: CSS class per task status (docs/ui.md); colors in ui.css follow Airflow's state colors.
STATUS_CLASS = {
    "New": "st-new", "Processing": "st-processing", "Retry": "st-retry",
    "Finished": "st-finished", "Failed": "st-failed", "Skipped": "st-skipped",
}
#: Orchestration instance / step statuses mapped onto the same palette.
REPORT_CLASS = {
    "QUEUED": "st-new", "NOT_STARTED": "st-new", "WAITING": "st-retry", "RUNNING": "st-processing",
    "SUCCESS": "st-finished", "PARTIAL": "st-retry", "FAILED": "st-failed", "CANCELLED": "st-skipped",
    "SKIPPED": "st-skipped",
}


def redact(value: Any) -> Any:
    """Secrets in ``value`` -> ``***`` by Airflow's masker rules (the one masking module every surface uses)."""
    return masking.mask_data(value)


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def when(value: Any, empty: str = "–") -> Markup:
    """``<time>`` in UTC; ``ui.js`` rewrites the text in the viewer's (or Airflow's chosen) time zone."""
    moment = _as_datetime(value)
    if moment is None:
        return Markup(escape(empty))
    utc = moment.astimezone(timezone.utc)
    return Markup('<time datetime="{}">{}</time>').format(utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S UTC"))


def duration(start: Any, end: Any = None) -> str:
    begin, finish = _as_datetime(start), _as_datetime(end)
    if begin is None:
        return "–"
    seconds = int(((finish or datetime.now(timezone.utc)) - begin).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}h {minutes:02d}m {secs:02d}s" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")
    return text if finish else f"{text} so far"


def filesize(size: int | None) -> str:
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def airflow_path(url: str | None) -> str:
    """Airflow's absolute UI link (built from ``[api] base_url``) as a path on the current origin."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def args_text(conf: dict[str, Any] | None) -> str:
    """A run's arguments as ``k=v`` text, secrets redacted."""
    if not conf:
        return ""
    safe = redact(dict(conf))
    return " ".join(f"{k}={v}" for k, v in safe.items())


@functools.cache
def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


_routers: dict[int, Any] = {}


@functools.lru_cache(maxsize=4096)
def _route_path(router_id: int, route: str, params: tuple[tuple[str, str], ...]) -> str:
    # Starlette tries every route on each lookup; a table of 50 rows asks for a few hundred links
    return str(_routers[router_id].url_path_for(route, **dict(params)))


@pass_context
def url(context: Any, route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    """Path of page ``route`` (path params percent-encoded, e.g. run ids with ``+`` and ``:``), plus a query."""
    request: Request = context["request"]
    encoded = tuple(sorted((k, quote(str(v), safe="")) for k, v in params.items()))
    router = _routers.setdefault(id(request.app.router), request.app.router)
    return security.ui_root(request) + _route_path(id(router), route, encoded) + query_string(query)


def query_string(query: dict[str, Any] | None) -> str:
    if not query:
        return ""
    pairs = [(k, v) for k, value in query.items() for v in (value if isinstance(value, list) else [value])
             if v not in (None, "")]
    return "?" + urlencode(pairs) if pairs else ""


@pass_context
def static(context: Any, name: str) -> str:
    return f"{security.ui_root(context['request'])}/static/{name}?v={_static_version()}"


@pass_context
def api_url(context: Any, path: str) -> str:
    """A REST API path (``/tasks/x/files/y``) under the app the pages are mounted in."""
    root = security.ui_root(context["request"]).removesuffix("/ui")
    return f"{root}/api/v1{path}"


def seg(value: str) -> str:
    """One path segment of an API link, fully escaped."""
    return quote(str(value), safe="")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True
templates.env.globals.update(url=url, static=static, api_url=api_url, STATUS_CLASS=STATUS_CLASS,
                             REPORT_CLASS=REPORT_CLASS)
templates.env.filters.update(when=when, duration=duration, filesize=filesize, airflow_path=airflow_path,
                             args_text=args_text, redact=redact, seg=seg)


def render(request: Request, template: str, user: Any, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the common context: the user, a CSRF token for its forms, a pending flash message."""
    flash = security.read_flash(request)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": user,  # for template functions that ask the API's checks (authoring links)
            "user_name": user.get_name() if user is not None else None,
            "csrf": csrf.csrf_token(user) if user is not None else "",
            "flash": flash,
            **context,
        },
        status_code=status_code,
    )
    if flash is not None:
        security.clear_flash(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def back(request: Request, target: str, kind: str, text: str, **extra: Any) -> RedirectResponse:
    """Post/redirect/get: go to ``target`` (a path of these pages) showing ``text``."""
    response = RedirectResponse(target, status_code=303)
    security.set_flash(response, request, kind, text, **extra)
    return response
