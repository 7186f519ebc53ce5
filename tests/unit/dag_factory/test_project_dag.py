"""``project__<name>``: the project's enabled tasks one after another, by run_rank then name."""

from __future__ import annotations

import pytest
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

from airflow_batchtasks.compat import CronTriggerTimetable
from tests.airflow_compat import cron_expression_of, timezone_name_of


def project(name: str = "sales", extra: str = "") -> str:
    return f"kind: project\nname: {name}\nowners: [alice]\ntimezone: Europe/Paris\n{extra}"


@pytest.fixture
def series_tasks(sql_task) -> str:
    return "---\n".join(
        [
            sql_task("zeta", "run_rank: 10\n", project="sales"),
            sql_task("alpha", "run_rank: 20\n", project="sales"),
            sql_task("beta", "run_rank: 10\n", project="sales"),
            sql_task("sleeping", "run_rank: 1\nenabled: false\n", project="sales"),
            sql_task("broken", "run_rank: 2\noutput: {format: xlsx}\n", project="sales"),
            sql_task("other", project="hr"),
        ]
    )


def test_no_project_dag_without_series_or_schedule(build_from, sql_task) -> None:
    dags = build_from({"p.yaml": project(), "t.yaml": sql_task("a", project="sales")})

    assert "project__sales" not in dags
    assert "a" in dags


def test_series_runs_enabled_tasks_by_rank_then_name(build_from, series_tasks) -> None:
    dags = build_from(
        {"p.yaml": project(extra="run_in_series: true\n") + "---\n" + project("hr"), "t.yaml": series_tasks}
    )

    dag = dags["project__sales"]
    assert "project__hr" not in dags
    steps = [t for t in dag.topological_sort() if t.task_id != "series_result"]
    assert [t.task_id for t in steps] == ["run_beta", "run_zeta", "run_alpha"]
    assert all(isinstance(t, TriggerDagRunOperator) for t in steps), "each task runs under its own DAG"
    assert [t.trigger_dag_id for t in steps] == ["beta", "zeta", "alpha"]
    # one after another
    assert dag.get_task("run_beta").downstream_task_ids == {"run_zeta", "series_result"}
    assert dag.get_task("run_zeta").downstream_task_ids == {"run_alpha", "series_result"}
    # a failed or skipped task does not stop the series; the result step always runs and judges
    assert {t.trigger_rule for t in steps} == {"all_done"}
    result = dag.get_task("series_result")
    assert result.upstream_task_ids == {"run_beta", "run_zeta", "run_alpha"}
    assert result.trigger_rule == "all_done"
    assert result.tasks == ["beta", "zeta", "alpha"]
    assert result.excluded == {"sleeping": "disabled (enabled: false)"}, "the report says who is left out"
    assert all(t.wait_for_completion for t in steps)


def test_a_project_not_in_series_runs_its_tasks_all_at_once(build_from, series_tasks) -> None:
    dag = build_from(
        {"p.yaml": project(extra="run_in_series: false\nschedule: '0 6 * * *'\n"), "t.yaml": series_tasks}
    )["project__sales"]

    steps = ["run_beta", "run_zeta", "run_alpha"]
    assert all(dag.get_task(s).upstream_task_ids == set() for s in steps), "no step waits for another"
    assert dag.get_task("series_result").upstream_task_ids == set(steps), "the project run waits for all"
    assert dag.max_active_tasks >= len(steps) + 1


def test_project_dag_shape(build_from, series_tasks) -> None:
    dag = build_from(
        {"p.yaml": project(extra="run_in_series: true\ndescription: Sales extracts\n"), "t.yaml": series_tasks}
    )["project__sales"]

    assert set(dag.tags) == {"batchtasks", "project:sales", "owner:alice"}
    assert dag.max_active_runs == 1
    assert dag.timetable.can_be_scheduled is False
    assert "Sales extracts" in dag.doc_md and "run_in_series: true" in dag.doc_md


def test_scheduled_project_gets_a_dag_in_its_time_zone(build_from, sql_task) -> None:
    dags = build_from(
        {"p.yaml": project(extra="schedule: '0 6 * * 1-5'\n"), "t.yaml": sql_task("only", project="sales")}
    )

    dag = dags["project__sales"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert (cron_expression_of(dag.timetable), timezone_name_of(dag.timetable)) == ("0 6 * * 1-5", "Europe/Paris")
    assert sorted(dag.task_ids) == ["run_only", "series_result"]


def test_project_without_tasks_still_has_a_result_step(build_from) -> None:
    dag = build_from({"p.yaml": project(extra="run_in_series: true\n")})["project__sales"]

    assert dag.task_ids == ["series_result"]
