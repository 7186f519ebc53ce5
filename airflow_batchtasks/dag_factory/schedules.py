"""A definition's schedule as an Airflow schedule, in the definition's time zone.

Cron runs use CronTriggerTimetable so a 06:00 Europe/Paris task fires at 06:00
local time on both sides of a DST change. ``{once: ...}`` becomes Airflow's
``@once`` with the instant as start date. ``{after: [...]}`` becomes an asset condition on the named
tasks' delivery aliases (:mod:`airflow_batchtasks.assets.declared`): Airflow starts the run once every
named task has delivered since the last one, without polling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pendulum

from airflow_batchtasks.assets.declared import after_condition
from airflow_batchtasks.compat import CronTriggerTimetable
from airflow_batchtasks.definitions.models import After, Once

# A fixed start date for DAGs that need one keeps their serialized form stable
# between parses (a "now" would change on every parse).
EPOCH = pendulum.datetime(2024, 1, 1)


def airflow_schedule(
    schedule: str | Once | After | None, timezone: str, destinations_of: Mapping[str, Sequence[Any]] | None = None
) -> tuple[Any, pendulum.DateTime | None]:
    """Return ``(schedule, start_date)`` for the DAG constructor.

    ``destinations_of``: task name -> its destinations, for ``{after: [...]}`` (see ``after_condition``).

    Cron DAGs get no start date on purpose: CronTriggerTimetable then starts from
    now, not from a past start date, so a 06:00 task deployed at 15:00 first runs
    tomorrow at 06:00 instead of catching up on the days before. Airflow still runs
    a slot missed by a little (within a tenth of the interval, at least 5 minutes:
    a daily 06:00 task unpaused at 08:00 runs at once for 06:00), as for any DAG
    with this timetable; docs/definitions.md says so.
    """
    tz = pendulum.timezone(timezone)
    if schedule is None:
        return None, None
    if isinstance(schedule, After):
        return after_condition(schedule.after, destinations_of or {}), None
    if isinstance(schedule, Once):
        when = pendulum.instance(schedule.once, tz=tz)
        return "@once", when
    return CronTriggerTimetable(schedule, timezone=tz, run_immediately=False), None
