"""Date helpers in templates: rendered like Airflow renders them, relative to the run's ``ds``."""

from __future__ import annotations

import jinja2
import pendulum
import pytest

from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS


def render(template: str, **context: object) -> str:
    """Airflow puts user-defined macros in the template context and filters on the environment."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(FILTERS)
    return env.from_string(template).render(**MACROS, **context)


@pytest.mark.parametrize(
    ("template", "ds", "expected"),
    [
        ("{{ today() }}", "2024-03-15", "2024-03-15"),
        ("{{ yesterday() }}", "2024-03-15", "2024-03-14"),
        ("{{ yesterday() }}", "2024-03-01", "2024-02-29"),
        ("{{ yesterday() }}", "2023-03-01", "2023-02-28"),
        ("{{ yesterday() }}", "2024-01-01", "2023-12-31"),
        ("{{ tomorrow() }}", "2024-02-28", "2024-02-29"),
        ("{{ first_day_of_month() }}", "2024-02-17", "2024-02-01"),
        ("{{ last_day_of_month() }}", "2024-02-17", "2024-02-29"),
        ("{{ last_day_of_month() }}", "2023-02-17", "2023-02-28"),
        ("{{ last_day_of_month() }}", "2100-02-01", "2100-02-28"),
        ("{{ last_day_of_month() }}", "2000-02-01", "2000-02-29"),
        ("{{ last_day_of_month() }}", "2024-04-30", "2024-04-30"),
        ("{{ first_day_of_previous_month() }}", "2024-03-31", "2024-02-01"),
        ("{{ last_day_of_previous_month() }}", "2024-03-31", "2024-02-29"),
        ("{{ last_day_of_previous_month() }}", "2024-01-15", "2023-12-31"),
        ("{{ add_days(-7) }}", "2024-03-03", "2024-02-25"),
        ("{{ add_months(1) }}", "2024-01-31", "2024-02-29"),
        ("{{ add_months(-1) }}", "2024-03-31", "2024-02-29"),
        ("{{ add_months(12) }}", "2024-02-29", "2025-02-28"),
        ("{{ add_months(-13) }}", "2024-01-15", "2022-12-15"),
        ("{{ yesterday() | date_format }}", "2024-03-01", "20240229"),
        ("{{ yesterday() | date_format('%d/%m/%Y') }}", "2024-03-01", "29/02/2024"),
        ("{{ date_format(last_day_of_month(), '%Y%m%d') }}", "2024-02-02", "20240229"),
        ("{{ last_day_of_month(yesterday()) }}", "2024-03-01", "2024-02-29"),
        ("{{ yesterday().strftime('%b %d') }}", "2024-03-01", "Feb 29"),
        (
            "sales_{{ first_day_of_month() | date_format }}_{{ last_day_of_month() | date_format }}.csv",
            "2024-02-10",
            "sales_20240201_20240229.csv",
        ),
    ],
)
def test_helpers_relative_to_ds(template: str, ds: str, expected: str) -> None:
    assert render(template, ds=ds) == expected


def test_an_explicit_day_overrides_ds() -> None:
    assert render("{{ yesterday('2020-03-01') }}", ds="2024-06-15") == "2020-02-29"
    assert render("{{ add_months(1, '2023-01-31') }}", ds="2024-06-15") == "2023-02-28"


def test_datetimes_from_the_airflow_context_are_accepted() -> None:
    start = pendulum.datetime(2024, 2, 29, 23, 30, tz="Europe/Paris")

    assert render("{{ last_day_of_month(data_interval_start) }}", ds="2000-01-01", data_interval_start=start) == (
        "2024-02-29"
    )
    assert render("{{ data_interval_start | date_format('%Y-%m') }}", data_interval_start=start) == "2024-02"


def test_without_ds_the_helpers_use_today() -> None:
    before = pendulum.today("UTC").date()
    rendered = (render("{{ today() }}"), render("{{ yesterday() }}"))
    after = pendulum.today("UTC").date()

    assert rendered in {(d.isoformat(), d.subtract(days=1).isoformat()) for d in (before, after)}


def test_every_macro_is_exported_by_name() -> None:
    assert set(MACROS) == {
        "today",
        "yesterday",
        "tomorrow",
        "add_days",
        "add_months",
        "first_day_of_month",
        "last_day_of_month",
        "first_day_of_previous_month",
        "last_day_of_previous_month",
        "date_format",
    }
