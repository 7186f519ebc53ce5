"""Quartz cron expressions (Memority's schedules) to the 5-field cron of definitions.

Quartz writes ``seconds minutes hours day-of-month month day-of-week [year]``, uses ``?`` for
"no specific value", counts weekdays 1-7 from Sunday (cron: 0-6 from Sunday) and has ``L``, ``W``
and ``#``. What has a cron equivalent is rewritten; what has none is refused with the reason, so the
importer reports it instead of scheduling something else.
"""

from __future__ import annotations

import re

from airflow_batchtasks.definitions.timing import cron_expression

_NUMBER_LIST = re.compile(r"^\d+(,\d+)*$")
_TERM = re.compile(r"^(\*|\d+|[A-Za-z]{3})(?:-(\d+|[A-Za-z]{3}))?(?:/(\d+))?$")
#: Highest value per cron field, for Quartz's ``start/step`` (cron reads it only as ``start-max/step``).
_MAX = {"minute": 59, "hour": 23, "day-of-month": 31, "month": 12, "day-of-week": 6}


class CronNotConvertible(ValueError):
    """The Quartz expression has no 5-field cron equivalent; the message says which part and why."""


def _field(value: str, name: str) -> str:
    if value == "?":
        return "*"
    if any(c in value for c in "LW#"):
        raise CronNotConvertible(f"`{value}` in the {name} field (Quartz L/W/#: last, nearest weekday, n-th "
                                 "weekday) has no cron equivalent")
    terms = []
    for term in value.split(","):
        m = _TERM.match(term)
        if not m:
            raise CronNotConvertible(f"`{term}` in the {name} field is not a cron term")
        start, end, step = m.groups()
        if step and not end and start != "*":  # Quartz `0/15`: from 0 every 15
            end = str(_MAX[name]) if name != "day-of-week" else "7"
        terms.append((start, end, step))
    if name == "day-of-week":
        terms = [(_weekday(s), _weekday(e) if e else None, st) for s, e, st in terms]
    return ",".join(s + (f"-{e}" if e else "") + (f"/{st}" if st else "") for s, e, st in terms)


def _weekday(value: str) -> str:
    """Quartz 1 (Sunday) .. 7 (Saturday) -> cron 0 .. 6; names and ``*`` are the same in both."""
    if not value.isdigit():
        return value
    number = int(value)
    if not 1 <= number <= 7:
        raise CronNotConvertible(f"`{value}` is not a Quartz day of week (1 = Sunday .. 7 = Saturday)")
    return str(number - 1)


def quartz_to_cron(expression: str) -> tuple[str, list[str]]:
    """The 5-field cron of a Quartz expression, and notes on what changed on the way.

    :raises CronNotConvertible: when no 5-field cron fires at the same times.
    """
    parts = expression.split()
    if len(parts) not in (6, 7):
        if len(parts) == 5:  # already cron (some exports hold one): check it as such
            return cron_expression(expression), []
        raise CronNotConvertible(f"`{expression}` has {len(parts)} fields: a Quartz expression has 6 or 7 "
                                 "(seconds minutes hours day-of-month month day-of-week [year])")
    seconds, minute, hour, dom, month, dow = parts[:6]
    notes = []
    if len(parts) == 7 and parts[6] not in ("*", "?"):
        raise CronNotConvertible(f"the year field `{parts[6]}` has no cron equivalent (cron repeats every year)")
    if not (seconds.isdigit() and int(seconds) == 0):
        if not _NUMBER_LIST.match(seconds) or "," in seconds:
            raise CronNotConvertible(f"the seconds field `{seconds}` fires more than once a minute: cron's "
                                     "smallest unit is the minute")
        notes.append(f"the seconds field `{seconds}` is dropped: the schedule fires at second 0 of the minute")
    converted = " ".join([
        _field(minute, "minute"), _field(hour, "hour"), _field(dom, "day-of-month"), _field(month, "month"),
        _field(dow, "day-of-week"),
    ])
    try:
        return cron_expression(converted), notes
    except ValueError as exc:
        raise CronNotConvertible(f"`{expression}` converts to `{converted}`, which is not valid cron: {exc}") from None
