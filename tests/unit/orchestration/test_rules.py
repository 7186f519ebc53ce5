"""The chaining rules as a table: parent outcome x run_on_parent_failure, limits, starts_after, DST."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from airflow_batchtasks.orchestration.rules import (
    Action,
    Limits,
    Parent,
    StepRules,
    decide,
    limit_reached,
    local_instant,
    starts_after_instant,
    time_limit_instant,
)

UTC = timezone.utc
PARIS = "Europe/Paris"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


START = utc("2026-05-18T01:00:00+02:00")  # an ordinary night in Paris


def step(n: int = 2, **kw) -> StepRules:
    return StepRules(step=n, task=f"task{n}", timezone=kw.pop("timezone", PARIS), **kw)


def parent(status: str, **kw) -> Parent:
    return Parent(step=1, task="task1", status=status, **kw)


@pytest.mark.parametrize(
    ("parent_status", "run_on_parent_failure", "action"),
    [
        ("SUCCESS", False, Action.RUN),
        ("SUCCESS", True, Action.RUN),
        ("PARTIAL", False, Action.RUN),  # PARTIAL counts as success for the chain
        ("PARTIAL", True, Action.RUN),
        ("FAILED", False, Action.SKIP),
        ("FAILED", True, Action.RUN),
        ("SKIPPED", False, Action.SKIP),  # the chain already stopped
        ("SKIPPED", True, Action.SKIP),  # ... even for a step that runs on parent failure
        ("CANCELLED", True, Action.SKIP),
        ("RUNNING", True, Action.SKIP),  # no final outcome: refuse rather than guess
    ],
)
def test_parent_outcome_table(parent_status: str, run_on_parent_failure: bool, action: Action) -> None:
    rules = step(run_on_parent_failure=run_on_parent_failure)

    decision = decide(rules, Limits(), parent(parent_status), START, START)

    assert decision.action is action, decision


def test_first_step_always_runs() -> None:
    decision = decide(step(1), Limits(), None, START, START)
    assert (decision.action, decision.reason) == (Action.RUN, "first step")


def test_parent_failure_reason_and_origin() -> None:
    decision = decide(step(), Limits(), parent("FAILED", reason="boom"), START, START)
    assert decision.reason == (
        "not started: step 1 `task1` failed and step 2 `task2` does not run on parent failure "
        "(run_on_parent_failure: false)"
    )
    assert decision.origin == "step 1 `task1` failed"


def test_a_stopped_chain_carries_the_first_cause() -> None:
    stopped = parent("SKIPPED", reason="not started: time limit ...", origin="time limit 03:00:00 reached")
    decision = decide(step(3), Limits(), stopped, START, START)
    assert decision.origin == "time limit 03:00:00 reached"
    assert decision.reason == "not started: the chain stopped (time limit 03:00:00 reached)"


def test_inactive_refuses_even_the_first_step() -> None:
    decision = decide(step(1), Limits(active=False), None, START, START)
    assert decision.action is Action.SKIP
    assert decision.reason == decision.origin == "orchestration is inactive"


@pytest.mark.parametrize(
    ("now", "action"),
    [
        ("2026-05-18T02:59:00+02:00", Action.RUN),  # "a task can start at 02:59 under 03:00"
        ("2026-05-18T02:59:59+02:00", Action.RUN),
        ("2026-05-18T03:00:00+02:00", Action.SKIP),  # at the limit: reached
        ("2026-05-18T03:01:00+02:00", Action.SKIP),
    ],
)
def test_time_limit_before_at_after(now: str, action: Action) -> None:
    limits = Limits(timezone=PARIS, time_limit=time(3, 0))
    decision = decide(step(), limits, parent("SUCCESS"), utc(now), START)
    assert decision.action is action
    if action is Action.SKIP:
        assert decision.origin.startswith("time limit 03:00:00 (Europe/Paris) reached: limit 2026-05-18 03:00:00 CEST")


def test_time_limit_also_binds_the_first_step() -> None:
    limits = Limits(timezone=PARIS, time_limit=time(3, 0))
    assert decide(step(1), limits, None, utc("2026-05-18T03:05:00+02:00"), START).action is Action.SKIP


def test_time_limit_is_the_next_occurrence_after_the_start() -> None:
    # A nightly chain started at 23:30 with a 03:00 limit runs until 03:00 the next morning.
    started = utc("2026-05-17T23:30:00+02:00")
    assert time_limit_instant(started, time(3, 0), PARIS) == utc("2026-05-18T03:00:00+02:00")
    limits = Limits(timezone=PARIS, time_limit=time(3, 0))
    assert decide(step(1), limits, None, started, started).action is Action.RUN
    assert decide(step(2), limits, parent("SUCCESS"), utc("2026-05-18T02:00:00+02:00"), started).action is Action.RUN
    # started exactly at the limit: the window runs to the next day's limit
    at_limit = utc("2026-05-18T03:00:00+02:00")
    assert time_limit_instant(at_limit, time(3, 0), PARIS) == utc("2026-05-19T03:00:00+02:00")


@pytest.mark.parametrize(
    ("elapsed", "action"),
    [
        (timedelta(hours=3, minutes=59), Action.RUN),
        (timedelta(hours=4), Action.SKIP),
        (timedelta(hours=5), Action.SKIP),
    ],
)
def test_duration_limit(elapsed: timedelta, action: Action) -> None:
    limits = Limits(duration_limit=timedelta(hours=4))
    decision = decide(step(), limits, parent("SUCCESS"), START + elapsed, START)
    assert decision.action is action
    if action is Action.SKIP:
        assert decision.origin.startswith("duration limit 4h00m00s reached: ")


def test_starts_after_future_waits_then_passed_runs() -> None:
    rules = step(starts_after=time(3, 30))
    wait = decide(rules, Limits(), parent("SUCCESS"), utc("2026-05-18T02:00:00+02:00"), START)
    assert wait.action is Action.WAIT
    assert wait.until == utc("2026-05-18T03:30:00+02:00")
    assert wait.reason == "step 1 `task1` ended SUCCESS; waiting for 2026-05-18 03:30:00 CEST"

    passed = decide(rules, Limits(), parent("SUCCESS"), utc("2026-05-18T04:10:00+02:00"), START)
    assert passed.action is Action.RUN
    assert passed.reason.endswith("starts_after 03:30:00 (Europe/Paris) has passed")


def test_starts_after_is_on_the_instance_day_in_the_step_time_zone() -> None:
    # Started 01:00 Paris = 23:00 UTC the day before: a step in UTC waits for 03:30 UTC of *that* UTC day.
    rules = step(starts_after=time(3, 30), timezone="UTC")
    assert starts_after_instant(START, time(3, 30), "UTC") == utc("2026-05-17T03:30:00+00:00")
    assert decide(rules, Limits(), parent("SUCCESS"), START, START).action is Action.RUN


def test_limit_is_checked_again_after_the_wait() -> None:
    # Waiting for 03:30 under a 03:00 limit: when the wait ends the limit has passed, so the step is skipped.
    rules = step(starts_after=time(3, 30))
    limits = Limits(timezone=PARIS, time_limit=time(3, 0))
    first = decide(rules, limits, parent("SUCCESS"), utc("2026-05-18T02:00:00+02:00"), START)
    assert first.action is Action.WAIT
    after = decide(rules, limits, parent("SUCCESS"), first.until, START)
    assert after.action is Action.SKIP and "time limit 03:00:00" in after.reason


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        # spring forward in Paris: 02:00 CET -> 03:00 CEST; 02:30 does not exist, the clock reads it at 03:00 CEST
        ("2026-03-29", time(2, 30), "2026-03-29T01:00:00+00:00"),
        ("2026-03-29", time(2, 0), "2026-03-29T01:00:00+00:00"),
        ("2026-03-29", time(1, 59), "2026-03-29T00:59:00+00:00"),
        ("2026-03-29", time(3, 0), "2026-03-29T01:00:00+00:00"),
        ("2026-03-29", time(3, 30), "2026-03-29T01:30:00+00:00"),
        # fall back: 03:00 CEST -> 02:00 CET; 02:30 happens twice, the first (CEST) one counts
        ("2026-10-25", time(2, 30), "2026-10-25T00:30:00+00:00"),
        ("2026-10-25", time(3, 0), "2026-10-25T02:00:00+00:00"),
        ("2026-10-25", time(1, 30), "2026-10-24T23:30:00+00:00"),
        # ordinary days on each side
        ("2026-03-28", time(2, 30), "2026-03-28T01:30:00+00:00"),
        ("2026-10-26", time(2, 30), "2026-10-26T01:30:00+00:00"),
    ],
)
def test_local_instant_across_dst(day: str, at: time, expected: str) -> None:
    from datetime import date

    assert local_instant(date.fromisoformat(day), at, PARIS) == utc(expected)


def test_dst_day_limit_and_wait_in_paris() -> None:
    # 2026-03-29 starting 01:30 CET: the 03:00 limit is 30 minutes away (the clock skips 02:00-03:00).
    started = utc("2026-03-29T01:30:00+01:00")
    limits = Limits(timezone=PARIS, time_limit=time(3, 0))
    assert time_limit_instant(started, time(3, 0), PARIS) - started == timedelta(minutes=30)
    assert limit_reached(limits, started + timedelta(minutes=29), started) is None
    assert limit_reached(limits, started + timedelta(minutes=30), started) is not None
    # fall back: from 01:30 CEST to 03:00 CET is 2h30 of real time
    started = utc("2026-10-25T01:30:00+02:00")
    assert time_limit_instant(started, time(3, 0), PARIS) - started == timedelta(hours=2, minutes=30)
    # a wait for 02:30 on the fall-back night ends at the first 02:30
    rules = step(starts_after=time(2, 30))
    decision = decide(rules, Limits(), parent("SUCCESS"), started, started)
    assert decision.until == utc("2026-10-25T02:30:00+02:00")
