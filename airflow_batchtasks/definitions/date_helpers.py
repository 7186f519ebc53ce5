"""Date helpers available in every template (``{{ yesterday() }}``, ``{{ last_day_of_month() }}``...).

They default to the run's logical date (``ds``) so a re-run of an old date
produces the same file names and queries as the original run. Each returns a
``pendulum.Date`` (renders as ``YYYY-MM-DD``; ``.strftime`` and
``| date_format("%Y%m%d")`` give other forms).
"""

from __future__ import annotations

from typing import Any

import pendulum
from jinja2 import pass_context


def _as_date(value: Any) -> pendulum.Date:
    if value is None:
        return pendulum.today("UTC").date()
    if isinstance(value, pendulum.Date):
        return value if type(value) is pendulum.Date else pendulum.date(value.year, value.month, value.day)
    if hasattr(value, "year") and hasattr(value, "month"):
        return pendulum.date(value.year, value.month, value.day)
    parsed = pendulum.parse(str(value))
    return pendulum.date(parsed.year, parsed.month, parsed.day)


def _base(context: Any, day: Any) -> pendulum.Date:
    return _as_date(day if day is not None else context.get("ds"))


@pass_context
def today(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day)


@pass_context
def yesterday(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).subtract(days=1)


@pass_context
def tomorrow(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).add(days=1)


@pass_context
def add_days(context: Any, days: int, day: Any = None) -> pendulum.Date:
    return _base(context, day).add(days=int(days))


@pass_context
def add_months(context: Any, months: int, day: Any = None) -> pendulum.Date:
    return _base(context, day).add(months=int(months))


@pass_context
def first_day_of_month(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).start_of("month")


@pass_context
def last_day_of_month(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).end_of("month")


@pass_context
def first_day_of_previous_month(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).subtract(months=1).start_of("month")


@pass_context
def last_day_of_previous_month(context: Any, day: Any = None) -> pendulum.Date:
    return _base(context, day).start_of("month").subtract(days=1)


def date_format(value: Any, fmt: str = "%Y%m%d") -> str:
    return _as_date(value).strftime(fmt)


MACROS = {
    f.__name__: f
    for f in (
        today,
        yesterday,
        tomorrow,
        add_days,
        add_months,
        first_day_of_month,
        last_day_of_month,
        first_day_of_previous_month,
        last_day_of_previous_month,
        date_format,
    )
}
FILTERS = {"date_format": date_format}
