"""A cron expression explained in words with its next fire times in a time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from airflow_batchtasks.definitions.cron_text import describe_cron


def test_next_times_are_local_and_follow_dst() -> None:
    start = datetime(2024, 3, 29, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))

    result = describe_cron("0 6 * * *", "Europe/Paris", count=3, start=start)

    assert result["expression"] == "0 6 * * *"
    assert result["timezone"] == "Europe/Paris"
    assert result["description"] == "At 06:00 AM"
    # 2024-03-31 is the spring-forward day in Paris: still 06:00 local, offset changes.
    assert result["next"] == [
        "2024-03-30T06:00:00+01:00",
        "2024-03-31T06:00:00+02:00",
        "2024-04-01T06:00:00+02:00",
    ]


def test_presets_are_explained_as_cron() -> None:
    start = datetime(2024, 1, 1, 0, 30, tzinfo=ZoneInfo("UTC"))

    result = describe_cron("@hourly", count=2, start=start)

    assert result["expression"] == "0 * * * *"
    assert result["next"] == ["2024-01-01T01:00:00+00:00", "2024-01-01T02:00:00+00:00"]


@pytest.mark.parametrize(
    ("expr", "tz", "count", "message"),
    [
        ("61 * * * *", "UTC", 5, "is not a valid cron expression"),
        ("0 6 * * *", "Mars/Olympus", 5, "unknown time zone `Mars/Olympus`"),
        ("0 6 * * *", "UTC", 0, "count must be between 1 and 100"),
        ("0 6 * * *", "UTC", 101, "count must be between 1 and 100"),
    ],
)
def test_invalid_input_raises_value_error(expr: str, tz: str, count: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        describe_cron(expr, tz, count)
