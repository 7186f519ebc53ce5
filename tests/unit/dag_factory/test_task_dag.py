"""The DAG of one batch task, as the Airflow UI and scheduler see it."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest
from airflow.sdk import BaseOperator

from airflow_batchtasks.compat import CronTriggerTimetable
from airflow_batchtasks.dag_factory.task_dag import exponential_backoff
from tests.airflow_compat import cron_expression_of, timezone_name_of

PROJECT = """
kind: project
name: sales
owners: [alice, bob]
timezone: Europe/Paris
params: {region: EU, limit: 100}
"""

TASK = """
kind: task
name: daily_sales
project: sales
description: Yesterday's sales to the vendor
schedule: "0 6 * * *"
retries: {count: 3, delay: 5m, max_delay: 1h, exponential: true}
params:
  region: {default: US, description: Sales region}
  day: {default: "2024-01-01", type: string}
source:
  type: sql
  conn_id: warehouse
  query: "select * from sales where region = '{{ params.region }}'"
destinations:
  - type: local
    path: /tmp/out
"""


@pytest.fixture
def daily(build_from):
    return build_from({"sales.yaml": PROJECT + "---\n" + TASK})["daily_sales"]


def test_dag_id_is_the_task_name_and_steps_are_chained(daily) -> None:
    assert daily.dag_id == "daily_sales"
    assert sorted(daily.task_ids) == ["deliver", "extract", "package"]
    assert daily.get_task("extract").downstream_task_ids == {"package"}
    assert daily.get_task("package").downstream_task_ids == {"deliver"}
    assert daily.get_task("deliver").downstream_task_ids == set()
    assert [t.task_id for t in daily.topological_sort()] == ["extract", "package", "deliver"]


def test_tags_name_the_project_and_every_owner(daily) -> None:
    assert set(daily.tags) == {"batchtasks", "project:sales", "owner:alice", "owner:bob"}
    assert daily.default_args["owner"] == "alice,bob"


def test_task_without_project_has_only_the_provider_tag(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("lonely")})["lonely"]

    assert set(dag.tags) == {"batchtasks"}
    assert dag.default_args["owner"] == "airflow"


def test_doc_shows_description_location_and_definition(daily, defs) -> None:
    assert daily.description == "Yesterday's sales to the vendor"
    assert "Yesterday's sales to the vendor" in daily.doc_md
    assert "Defined in `sales.yaml` (line 8)" in daily.doc_md
    assert str(defs) not in daily.doc_md  # the server's paths are not for every reader of the DAG
    assert "```yaml\nkind: task\nname: daily_sales\nproject: sales\n" in daily.doc_md
    assert "query: \"select * from sales where region = '{{ params.region }}'\"" in daily.doc_md
    assert "owners: [alice, bob]" not in daily.doc_md  # only this definition, not the whole file


def test_params_merge_definition_and_project(daily) -> None:
    params = daily.params
    assert params.dump() == {"region": "US", "limit": 100, "day": "2024-01-01"}
    assert params.get_param("region").description == "Sales region"
    assert params.get_param("day").schema == {"type": ["string", "null"]}


def test_schedule_is_a_cron_trigger_in_the_task_time_zone(daily) -> None:
    timetable = daily.timetable
    assert isinstance(timetable, CronTriggerTimetable)
    assert cron_expression_of(timetable) == "0 6 * * *"
    assert timezone_name_of(timetable) == "Europe/Paris"
    assert daily.start_date is None, "no start date: the first run waits for the next fire time"
    assert daily.catchup is False


def test_task_time_zone_wins_over_project(build_from, sql_task) -> None:
    dags = build_from(
        {
            "a.yaml": PROJECT
            + "---\n"
            + sql_task("ny", "schedule: '@daily'\ntimezone: America/New_York\n", project="sales")
        }
    )

    timetable = dags["ny"].timetable
    assert (cron_expression_of(timetable), timezone_name_of(timetable)) == ("0 0 * * *", "America/New_York")


@pytest.mark.parametrize(
    ("preset", "cron"),
    [("'@hourly'", "0 * * * *"), ("'@daily'", "0 0 * * *"), ("'@weekly'", "0 0 * * 0"), ("'@monthly'", "0 0 1 * *")],
)
def test_presets(build_from, sql_task, preset: str, cron: str) -> None:
    dag = build_from({"a.yaml": sql_task("p", f"schedule: {preset}\n")})["p"]

    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert cron_expression_of(dag.timetable) == cron
    assert timezone_name_of(dag.timetable) == "UTC"


@pytest.mark.parametrize("schedule", ["schedule: none\n", ""])
def test_no_schedule_means_manual_only(build_from, sql_task, schedule: str) -> None:
    dag = build_from({"a.yaml": sql_task("manual", schedule)})["manual"]

    assert dag.timetable.can_be_scheduled is False
    assert dag.is_paused_upon_creation is False


def test_once(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("once", "schedule: {once: '2026-12-01T10:00:00Z'}\n")})["once"]

    assert type(dag.timetable).__name__ == "OnceTimetable"
    assert dag.start_date == pendulum.datetime(2026, 12, 1, 10, tz="UTC")


def test_once_without_zone_is_in_the_task_time_zone(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("once", "schedule: {once: '2026-12-01T10:00:00'}\ntimezone: Europe/Paris\n")})[
        "once"
    ]

    assert dag.start_date == pendulum.datetime(2026, 12, 1, 9, tz="UTC")


def test_disabled_task_is_paused_and_never_scheduled(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("paused_task", "enabled: false\nschedule: '*/5 * * * *'\n")})["paused_task"]

    assert dag.is_paused_upon_creation is True
    assert dag.timetable.can_be_scheduled is False


def test_retries_reach_every_step(daily, build_from, sql_task) -> None:
    args = daily.default_args
    assert args["retries"] == 3
    assert args["retry_delay"] == timedelta(minutes=5)
    # Airflow 3.3 reads a multiplier: True would count as 1.0 (no backoff); doubling is 2.0 (3.1/3.2: True)
    doubling = exponential_backoff(True)
    assert doubling == (2.0 if not isinstance(BaseOperator.retry_exponential_backoff, bool) else True)
    assert args["retry_exponential_backoff"] == doubling
    assert args["max_retry_delay"] == timedelta(hours=1)
    # every step gets them (a failed upload is retried on its own)
    for step in daily.tasks:
        assert (step.retries, step.retry_delay, step.retry_exponential_backoff, step.max_retry_delay) == (
            3, timedelta(minutes=5), doubling, timedelta(hours=1)), step.task_id

    plain = build_from({"b.yaml": sql_task("plain")})["plain"]
    assert (plain.default_args["retries"], plain.default_args["retry_exponential_backoff"]) == (0, 0)
    assert "max_retry_delay" not in plain.default_args
    assert all(not step.retry_exponential_backoff for step in plain.tasks)


def test_exponential_retry_delays_double_up_to_the_max_delay(daily) -> None:
    """Airflow's own computation (TaskInstance.next_retry_datetime) on the step: 5m, 10m, 20m, ... capped at 1h."""
    import uuid

    from airflow.models.taskinstance import TaskInstance

    ti = TaskInstance(task=daily.get_task("deliver"), run_id="r", dag_version_id=uuid.uuid4())
    ti.end_date = pendulum.datetime(2026, 1, 1, tz="UTC")
    delays = []
    for try_number in (1, 2, 3, 6):
        ti.try_number = try_number
        delays.append((ti.next_retry_datetime() - ti.end_date).total_seconds())
    # jitter: each delay lies between base * 2**(try-1) and twice that
    assert 300 <= delays[0] < 600
    assert 600 <= delays[1] < 1200
    assert 1200 <= delays[2] < 2400
    assert delays[3] == 3600


def test_one_run_at_a_time(daily) -> None:
    assert daily.max_active_runs == 1


def test_date_helpers_render_in_the_dag_templates(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("dated")})["dated"]

    env = dag.get_template_env()
    text = env.from_string("{{ yesterday() | date_format }}-{{ last_day_of_month() }}").render(
        ds="2024-03-01", **dag.user_defined_macros
    )
    assert text == "20240229-2024-03-31"
