"""The clock an orchestration instance's steps read: real time, or a test clock.

Orchestration rules are about wall-clock times (03:00 limits, 03:30 start-after
times, DST days), so testing them for real would take hours. With
``[batchtasks] test_clock_enabled = True`` (never on by default), an instance
launched with ``conf={"_batchtasks_clock": {"start": "<ISO datetime with
offset>", "speed": 600}}`` sees a fake "now" that reads ``start`` when the first
step first looks at it and runs ``speed`` times faster. (Anchored on the first
step, not on the DAG run's start: on a busy machine the scheduler may take
seconds to start that step, which at 600x would be hours of fake time.) Waits
are converted back to real instants, so the triggerer wakes the step at the
right real moment.
Without the option, such a conf is ignored (with a warning): a production run
can never be fooled about the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

CLOCK_CONF_KEY = "_batchtasks_clock"
#: XCom key, on the first step, of the real instant the test clock started (its anchor).
ANCHOR_KEY = "batchtasks_clock_anchor"


@dataclass(frozen=True)
class Clock:
    """Maps real instants to the instance's instants and back.

    :param real_start: when the instance (DAG run) started, real time.
    :param start: the instance's start as its steps see it (``real_start`` unless under a test clock).
    :param speed: how many instance seconds pass per real second.
    """

    real_start: datetime
    start: datetime
    speed: float = 1.0

    @property
    def is_test(self) -> bool:
        return self.start != self.real_start or self.speed != 1.0

    def now(self, real_now: datetime | None = None) -> datetime:
        real_now = real_now or datetime.now(timezone.utc)
        return self.start + (real_now - self.real_start) * self.speed

    def to_real(self, instant: datetime) -> datetime:
        """The real instant at which this clock shows ``instant``."""
        return self.real_start + (instant - self.start) / self.speed


def parse_test_clock(value: Any) -> tuple[datetime, float]:
    """``{"start": ISO with offset, "speed": > 0}`` -> (start, speed); ValueError with a readable message."""
    if not isinstance(value, Mapping) or "start" not in value:
        raise ValueError(f'{CLOCK_CONF_KEY} must be {{"start": "<ISO datetime with offset>", "speed": <number>}}')
    start = datetime.fromisoformat(str(value["start"]).replace("Z", "+00:00"))
    if start.tzinfo is None:
        raise ValueError(f"{CLOCK_CONF_KEY}.start needs a UTC offset, e.g. 2026-03-29T01:58:00+01:00")
    speed = float(value.get("speed", 1))
    if speed <= 0:
        raise ValueError(f"{CLOCK_CONF_KEY}.speed must be > 0")
    return start.astimezone(timezone.utc), speed


def clock_for(conf: Mapping[str, Any] | None, real_start: datetime, enabled: bool) -> tuple[Clock, str | None]:
    """The instance's clock and, when a test clock was asked for but not used, why."""
    real_start = real_start.astimezone(timezone.utc)
    real = Clock(real_start, real_start)
    wanted = (conf or {}).get(CLOCK_CONF_KEY)
    if wanted is None:
        return real, None
    if not enabled:
        return real, f"{CLOCK_CONF_KEY} in the run's conf is ignored: [batchtasks] test_clock_enabled is off"
    start, speed = parse_test_clock(wanted)
    return Clock(real_start, start, speed), None
