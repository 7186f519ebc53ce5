"""Durations, local times, time zones and cron expressions as users write them.

Definitions accept ISO-8601 durations (``PT4H``) and the short forms people
type (``90s``, ``5m``, ``4h``, ``1d``); local times as ``HH:MM[:SS]``; IANA
time zone names. Each parser raises ValueError with a message meant for the
person editing the file.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import croniter

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")

PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


def parse_duration(value: str | int | float) -> timedelta:
    """``PT4H``, ``4h``, ``90s`` or a number of seconds -> timedelta."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = str(value).strip()
    if m := _SHORT.match(text):
        return timedelta(**{_UNITS[m.group(2).lower()]: float(m.group(1))})
    if m := _ISO.match(text):
        parts = {k: float(v) for k, v in m.groupdict().items() if v}
        return timedelta(**parts)
    raise ValueError(f"`{value}` is not a duration: use ISO-8601 like PT4H or a short form like 90s, 5m, 4h, 1d")


def parse_local_time(value: str) -> time:
    """``03:30`` or ``03:30:15`` -> time (no date, no zone)."""
    m = _LOCAL_TIME.match(str(value).strip())
    if not m:
        raise ValueError(f"`{value}` is not a local time: use HH:MM or HH:MM:SS (24-hour), e.g. 03:30")
    return time(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def check_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA zone; otherwise explain, with a close match when there is one."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    from difflib import get_close_matches

    hint = get_close_matches(name, sorted(available_timezones()), n=1)
    suggestion = f" (did you mean `{hint[0]}`?)" if hint else ""
    raise ValueError(f"unknown time zone `{name}`: use an IANA name like Europe/Paris{suggestion}")


@lru_cache(maxsize=4096)  # the same few expressions repeat across thousands of definitions
def cron_expression(value: str) -> str:
    """Normalise presets to cron and check the expression, so errors surface at load time, not at 3 a.m."""
    expr = PRESETS.get(value.strip().lower(), value.strip())
    # croniter also takes a 6th (seconds) field, which cron-descriptor reads as the *first*
    # field: the explanation would not match the schedule, so only 5 fields are accepted.
    if len(expr.split()) != 5 or not croniter.is_valid(expr):
        raise ValueError(
            f"`{value}` is not a valid cron expression: expected 5 fields (minute hour day month weekday) "
            f"or one of {', '.join(sorted(PRESETS))}, or `none`"
        )
    return expr
