"""A definition's schedule as an Airflow schedule, in the definition's time zone.

Cron runs use CronTriggerTimetable so a 06:00 Europe/Paris task fires at 06:00
local time on both sides of a DST change. ``{once: ...}`` becomes Airflow's
``@once`` with the instant as start date.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import CronTriggerTimetable

from airflow_batchtasks.definitions.models import Once

# Cron DAGs need a start date in the past; a fixed one keeps the DAG's
# serialized form stable between parses (a "now" would change every parse).
EPOCH = pendulum.datetime(2024, 1, 1)


def airflow_schedule(schedule: str | Once | None, timezone: str) -> tuple[Any, pendulum.DateTime]:
    """Return ``(schedule, start_date)`` for the DAG constructor."""
    tz = pendulum.timezone(timezone)
    if schedule is None:
        return None, EPOCH.in_timezone(tz)
    if isinstance(schedule, Once):
        when = pendulum.instance(schedule.once, tz=tz)
        return "@once", when
    return CronTriggerTimetable(schedule, timezone=tz), pendulum.datetime(2024, 1, 1, tz=tz)
