"""Durations, local times, time zones and cron expressions as users type them."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from airflow_batchtasks.definitions.timing import check_timezone, cron_expression, parse_duration, parse_local_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT4H", timedelta(hours=4)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT90S", timedelta(seconds=90)),
        ("pt15m", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5H", timedelta(minutes=30)),
        ("90s", timedelta(seconds=90)),
        ("5m", timedelta(minutes=5)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        (" 1.5h ", timedelta(minutes=90)),
        ("10M", timedelta(minutes=10)),
        (90, timedelta(seconds=90)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_durations(text: str | int | float, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "4", "4 hours", "5 minutes", "-5m", "P1M", "PT4H30", "1y", "h4", True])
def test_bad_durations_explain_the_accepted_forms(text: object) -> None:
    with pytest.raises(ValueError) as exc:
        parse_duration(text)  # type: ignore[arg-type]

    assert str(exc.value) == (
        f"`{text}` is not a duration: use ISO-8601 like PT4H or a short form like 90s, 5m, 4h, 1d"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("03:30", time(3, 30)), ("00:00", time(0, 0)), ("23:59:59", time(23, 59, 59)), (" 07:05 ", time(7, 5))],
)
def test_local_times(text: str, expected: time) -> None:
    assert parse_local_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "24:00", "3:30", "12:60", "12:00:60", "noon", "12h30", "", "03:30pm"])
def test_bad_local_times(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a local time: use HH:MM or HH:MM:SS \(24-hour\), e\.g\. 03:30"):
        parse_local_time(text)


def test_time_zones() -> None:
    assert check_timezone("Europe/Paris") == "Europe/Paris"
    assert check_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match=r"unknown time zone `America/New_Yrok`.*did you mean `America/New_York`"):
        check_timezone("America/New_Yrok")
    with pytest.raises(ValueError, match="unknown time zone `../../etc/passwd`"):
        check_timezone("../../etc/passwd")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@DAILY", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        (" 0 6 * * 1-5 ", "0 6 * * 1-5"),
        ("*/15 8-18 * * mon-fri", "*/15 8-18 * * mon-fri"),
    ],
)
def test_cron_presets_and_expressions(text: str, expected: str) -> None:
    assert cron_expression(text) == expected


@pytest.mark.parametrize("text", ["61 * * * *", "0 25 * * *", "* * *", "0 6 * * * *", "@reboot", "daily", ""])
def test_bad_cron_expressions(text: str) -> None:
    with pytest.raises(ValueError, match="is not a valid cron expression: expected 5 fields"):
        cron_expression(text)
