"""The test clock: off unless enabled, fake "now" and the real instant of a fake one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_batchtasks.orchestration.clock import CLOCK_CONF_KEY, clock_for

UTC = timezone.utc
REAL_START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
CONF = {CLOCK_CONF_KEY: {"start": "2026-03-29T01:58:00+01:00", "speed": 600}}


def test_without_conf_the_clock_is_real() -> None:
    clock, note = clock_for({}, REAL_START, enabled=True)
    assert not clock.is_test and note is None
    assert clock.start == REAL_START
    assert clock.now(REAL_START + timedelta(seconds=5)) == REAL_START + timedelta(seconds=5)


def test_test_clock_runs_fast_from_its_start() -> None:
    clock, note = clock_for(CONF, REAL_START, enabled=True)
    assert clock.is_test and note is None
    assert clock.start == datetime(2026, 3, 29, 0, 58, tzinfo=UTC)
    # 1 real second = 10 minutes
    assert clock.now(REAL_START + timedelta(seconds=1)) == datetime(2026, 3, 29, 1, 8, tzinfo=UTC)
    target = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, 2 fake minutes later
    assert clock.to_real(target) == REAL_START + timedelta(seconds=0.2)
    assert clock.now(clock.to_real(target)) == target


def test_test_clock_is_ignored_unless_enabled() -> None:
    clock, note = clock_for(CONF, REAL_START, enabled=False)
    assert not clock.is_test
    assert "test_clock_enabled is off" in note


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"start": "2026-03-29T01:58:00"}, "needs a UTC offset"),
        ({"start": "2026-03-29T01:58:00Z", "speed": 0}, "speed must be > 0"),
        ({"speed": 2}, "must be {"),
        ("2026-03-29", "must be {"),
    ],
)
def test_bad_test_clock(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clock_for({CLOCK_CONF_KEY: value}, REAL_START, enabled=True)


def test_z_suffix_is_accepted() -> None:
    clock, _ = clock_for({CLOCK_CONF_KEY: {"start": "2026-05-18T12:20:00Z"}}, REAL_START, enabled=True)
    assert clock.start == datetime(2026, 5, 18, 12, 20, tzinfo=UTC) and clock.speed == 1
