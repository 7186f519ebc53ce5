"""``GET /cron/describe``: a cron expression in words with its next fire times (the cron helper's backend)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from airflow_batchtasks.definitions.cron_text import describe_cron
from airflow_batchtasks.plugins.api.deps import GetUserDep
from airflow_batchtasks.plugins.data.errors import Invalid

router = APIRouter(tags=["Schedules"])


@router.get("/cron/describe")
def describe(
    user: GetUserDep,
    expr: str,
    tz: str = "UTC",
    count: Annotated[int, Query(ge=1, le=100)] = 5,
) -> dict[str, Any]:
    """``{expression, description, timezone, next: [...]}``; 422 for an invalid expression or time zone.

    Only authentication is required: it reads nothing but its arguments.
    """
    try:
        return describe_cron(expr, tz, count)
    except (ValueError, KeyError) as exc:
        raise Invalid(f"`{expr}`: {exc}") from None
