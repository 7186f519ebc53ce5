"""Whether, and when, an orchestration step may start: the chaining rules as pure functions.

No Airflow here on purpose: these rules are the specification (a failed parent
stops the chain unless ``run_on_parent_failure``, PARTIAL counts as success, a
hard time limit is checked before each launch, ``starts_after`` waits for a
local time), so they are unit-tested as a table, and the step operator only
feeds them "now" and the parent's outcome.

Local times and DST: a local time is resolved to the *first instant at which
the wall clock reads that time or later*. On a spring-forward day a time in
the gap (02:30 in Europe/Paris on 2026-03-29) becomes the end of the gap
(03:00 CEST); on a fall-back day a repeated time (02:30 on 2026-10-25) is its
first occurrence (02:30 CEST).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

from airflow_batchtasks.orchestration.status import CANCELLED, FAILED, PARTIAL, SKIPPED, SUCCESS


class Action(str, Enum):
    RUN = "run"
    WAIT = "wait"
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    """What a step does now; ``reason`` is shown in its log and its report line."""

    action: Action
    reason: str
    until: datetime | None = None  # WAIT: the instant to wait for
    origin: str | None = None  # SKIP: the reason the chain stopped (the instance's reason)


@dataclass(frozen=True)
class Parent:
    """The previous step's outcome as recorded by it."""

    step: int
    task: str
    status: str
    reason: str | None = None
    origin: str | None = None


@dataclass(frozen=True)
class StepRules:
    step: int  # 1-based position in the chain
    task: str
    starts_after: time | None = None
    timezone: str = "UTC"
    run_on_parent_failure: bool = False
    # The task's definition says ``enabled: false`` (its DAG is created paused). Only consulted where
    # Airflow gives task code no way to read the DAG's pause state (3.1); from 3.2 that state decides.
    task_enabled: bool = True


@dataclass(frozen=True)
class Limits:
    """The orchestration-wide rules checked before every step."""

    active: bool = True
    timezone: str = "UTC"
    time_limit: time | None = None
    duration_limit: timedelta | None = None


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def local_instant(day: date, at: time, tz: str) -> datetime:
    """The first instant of ``day`` at which the wall clock in ``tz`` reads ``at`` or later (UTC)."""
    zone = ZoneInfo(tz)
    naive = datetime.combine(day, at)
    a = naive.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)
    b = naive.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    lo, hi = min(a, b), max(a, b)
    if _wall(lo, zone) == naive:  # exists; when repeated, lo is its first occurrence
        return lo
    if _wall(hi, zone) == naive:
        return hi
    # In a DST gap: the wall clock jumps over `at` somewhere between lo and hi; find the jump.
    lo_s, hi_s = 0, int((hi - lo).total_seconds())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if _wall(lo + timedelta(seconds=mid), zone) >= naive:
            hi_s = mid
        else:
            lo_s = mid + 1
    return lo + timedelta(seconds=lo_s)


def local_day(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def starts_after_instant(instance_start: datetime, at: time, tz: str) -> datetime:
    """``starts_after`` on the instance's local day (the day, in ``tz``, on which the instance started)."""
    return local_instant(local_day(instance_start, tz), at, tz)


def time_limit_instant(instance_start: datetime, limit: time, tz: str) -> datetime:
    """The first occurrence of the limit's local time after the instance started.

    Not "the limit on the start day": a nightly chain started at 23:30 with a 03:00 limit
    must run until 03:00 the next morning, not be refused at once.
    """
    day = local_day(instance_start, tz)
    at = local_instant(day, limit, tz)
    if at <= instance_start:
        at = local_instant(day + timedelta(days=1), limit, tz)
    return at


def fmt_local(instant: datetime, tz: str) -> str:
    """``2026-03-29 03:00:00 CEST`` for messages."""
    return instant.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


def limit_reached(limits: Limits, now: datetime, instance_start: datetime) -> str | None:
    """Why no step may start any more, or None. At the limit instant itself it is reached."""
    if limits.time_limit is not None:
        limit = time_limit_instant(instance_start, limits.time_limit, limits.timezone)
        if now >= limit:
            return (
                f"time limit {limits.time_limit.strftime('%H:%M:%S')} ({limits.timezone}) reached: "
                f"limit {fmt_local(limit, limits.timezone)}, now {fmt_local(now, limits.timezone)}"
            )
    if limits.duration_limit is not None:
        elapsed = now - instance_start
        if elapsed >= limits.duration_limit:
            return (
                f"duration limit {_duration(limits.duration_limit)} reached: "
                f"{_duration(elapsed)} since the instance started"
            )
    return None


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def _label(step: int, task: str) -> str:
    return f"step {step} `{task}`"


def decide(
    step: StepRules, limits: Limits, parent: Parent | None, now: datetime, instance_start: datetime
) -> Decision:
    """Run, wait (until ``starts_after``) or skip (the chain stops) -- checked in the seed's order.

    Called again after a wait, so the time limit is re-checked just before the launch.
    """
    if not limits.active:
        reason = "orchestration is inactive"
        return Decision(Action.SKIP, reason, origin=reason)
    why = "first step"
    if parent is not None:
        if parent.status in (SKIPPED, CANCELLED):
            origin = parent.origin or parent.reason or f"{_label(parent.step, parent.task)} {parent.status}"
            return Decision(Action.SKIP, f"not started: the chain stopped ({origin})", origin=origin)
        if parent.status == FAILED:
            if not step.run_on_parent_failure:
                reason = (
                    f"not started: {_label(parent.step, parent.task)} failed and {_label(step.step, step.task)} "
                    "does not run on parent failure (run_on_parent_failure: false)"
                )
                return Decision(Action.SKIP, reason, origin=f"{_label(parent.step, parent.task)} failed")
            why = f"{_label(parent.step, parent.task)} failed, and this step has run_on_parent_failure: true"
        elif parent.status in (SUCCESS, PARTIAL):
            why = f"{_label(parent.step, parent.task)} ended {parent.status}"
        else:  # a state no finished step can have: refuse rather than guess
            reason = f"not started: {_label(parent.step, parent.task)} has no final outcome ({parent.status})"
            return Decision(Action.SKIP, reason, origin=reason)
    limit = limit_reached(limits, now, instance_start)
    if limit:
        return Decision(Action.SKIP, f"not started: {limit}", origin=limit)
    if step.starts_after is not None:
        at = starts_after_instant(instance_start, step.starts_after, step.timezone)
        if at > now:
            return Decision(Action.WAIT, f"{why}; waiting for {fmt_local(at, step.timezone)}", until=at)
        why += f"; starts_after {step.starts_after.strftime('%H:%M:%S')} ({step.timezone}) has passed"
    return Decision(Action.RUN, why)
