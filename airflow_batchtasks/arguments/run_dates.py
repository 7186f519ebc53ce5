"""Run dates for runs that have none: a manual run in Airflow 3 may have no logical date.

Then ``ds`` is not in the template context, yet file names such as
``sales_{{ ds_nodash }}.csv`` and run arguments' defaults must still render, so
the run's ``run_after`` stands in for it. Every step renders through this, and
so does the argument binder (its defaults may use the dates).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context


def fill_run_dates(context: Context) -> None:
    """Give ``ds``/``ds_nodash``/``logical_date`` a value from ``run_after`` when the run has no logical date."""
    if context.get("ds"):
        return
    dag_run = context.get("dag_run")
    when = getattr(dag_run, "run_after", None) or getattr(dag_run, "start_date", None)
    if when is None:
        return
    context["logical_date"] = when
    context["ds"] = when.strftime("%Y-%m-%d")
    context["ds_nodash"] = when.strftime("%Y%m%d")
    context["ts"] = when.isoformat()
    context["ts_nodash"] = when.strftime("%Y%m%dT%H%M%S")
