"""The cron helper (Cymmetri's "Generate Cron Expression"): build an expression from fields, explain it.

The explanation and the next fire times come from the API's ``/cron/describe``
route function (croniter + cron-descriptor, the same code that validates
definitions), so what the helper accepts is exactly what a definition accepts.
The form works without JavaScript (GET, server-rendered); ``ui.js`` updates the
answer while typing by calling the same API endpoint.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from airflow_batchtasks.plugins.api.routes import cron as cron_api
from airflow_batchtasks.plugins.data.errors import DataError
from airflow_batchtasks.plugins.views.render import render
from airflow_batchtasks.plugins.views.security import PageUser

router = APIRouter()

FIELDS = (
    ("minute", "Minute", "0-59, */15, 0,30"),
    ("hour", "Hour", "0-23, */2, 6"),
    ("day", "Day of month", "1-31, L for the last day"),
    ("month", "Month", "1-12 or JAN-DEC"),
    ("weekday", "Day of week", "0-6 (Sunday 0) or MON-FRI"),
)
PRESETS = (
    ("Every hour", "0 * * * *"),
    ("Every day at 06:00", "0 6 * * *"),
    ("Weekdays at 06:00", "0 6 * * 1-5"),
    ("Every Monday at 07:30", "30 7 * * 1"),
    ("First day of the month at 01:00", "0 1 1 * *"),
    ("Every 15 minutes", "*/15 * * * *"),
)


def build(parts: dict[str, str | None]) -> str:
    """Five cron fields into an expression; an empty field means every value (``*``)."""
    return " ".join((parts.get(key) or "*").strip() or "*" for key, _, _ in FIELDS)


@router.get("/cron", name="cron", response_class=HTMLResponse)
def cron_helper(
    request: Request, user: PageUser,
    expr: str | None = None,
    minute: str | None = None, hour: str | None = None, day: str | None = None,
    month: str | None = None, weekday: str | None = None,
    tz: str = "UTC", count: Annotated[int, Query(ge=1, le=20)] = 5,
) -> HTMLResponse:
    """``expr`` wins over the fields; with neither, a daily example is explained."""
    parts = {"minute": minute, "hour": hour, "day": day, "month": month, "weekday": weekday}
    if expr and expr.strip():
        expression = expr.strip()
        split = expression.split()
        if len(split) == 5:
            parts = dict(zip([k for k, _, _ in FIELDS], split, strict=True))
    elif any(parts.values()):
        expression = build(parts)
    else:
        expression = "0 6 * * *"
        parts = dict(zip([k for k, _, _ in FIELDS], expression.split(), strict=True))
    result: dict[str, Any] | None = None
    error = None
    try:
        result = cron_api.describe(user, expression, tz.strip() or "UTC", count)
    except DataError as exc:
        error = str(exc)
    return render(request, "cron.html", user, status_code=422 if error else 200, expression=expression, parts=parts,
                  fields=FIELDS, presets=PRESETS, tz=tz, count=count, result=result, error=error)
