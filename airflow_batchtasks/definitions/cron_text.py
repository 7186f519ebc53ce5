"""A cron expression explained in words, with its next fire times in a time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from airflow_batchtasks.definitions.timing import check_timezone, cron_expression


def describe_cron(expr: str, tz: str = "UTC", count: int = 5, start: datetime | None = None) -> dict[str, Any]:
    """``{"expression", "description", "timezone", "next": [ISO datetimes]}``; ValueError when invalid."""
    from cron_descriptor import Options, get_description

    normalized = cron_expression(expr)
    zone = ZoneInfo(check_timezone(tz))
    if not 1 <= count <= 100:
        raise ValueError("count must be between 1 and 100")
    base = (start or datetime.now(zone)).astimezone(zone)
    it = croniter(normalized, base)
    upcoming = [it.get_next(datetime).isoformat() for _ in range(count)]
    return {
        "expression": normalized,
        # English, 12-hour, whatever the server's locale: cron-descriptor otherwise picks both from
        # locale.getlocale(), which for the common C.UTF-8 reads en_US on Python 3.11 and C on 3.13, so the
        # same expression read "At 06:00 AM" on one API server and "At 06:00" on another.
        "description": get_description(normalized, Options(locale_code="en_US", use_24hour_time_format=False)),
        "timezone": str(zone),
        "next": upcoming,
    }
