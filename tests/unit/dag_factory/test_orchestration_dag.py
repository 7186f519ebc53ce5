"""The orchestration DAG: id, tags, doc, schedule in its time zone, strictly sequential steps, inactive."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.operators.orchestration import OrchestrationReportOperator, OrchestrationStepOperator
from tests.airflow_compat import cron_expression_of, timezone_name_of

PARSING_CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"

ORCH = """
kind: orchestration
name: nightly_identity_sync
description: Export, then import
schedule: "0 1 * * *"
timezone: Europe/Paris
execution_time_limit: "03:00"
steps:
  - task: export_users
  - task: import_users
    starts_after: "03:30"
    timezone: UTC
    run_on_parent_failure: true
  - task: notify_users
"""


@pytest.fixture
def tasks(sql_task) -> str:
    return "---\n".join(sql_task(n) for n in ("export_users", "import_users", "notify_users"))


def test_one_dag_per_orchestration_with_a_step_per_task(build_from, tasks: str) -> None:
    dags = build_from({"tasks.yaml": tasks, "orch.yaml": ORCH})
    dag = dags["nightly_identity_sync"]

    assert dag.dag_id == "nightly_identity_sync"
    assert set(dag.tags) == {"batchtasks", "orchestration"}
    assert dag.max_active_runs == 1
    assert dag.task_ids == ["step_1__export_users", "step_2__import_users", "step_3__notify_users", "report"]
    assert "Export, then import" in dag.doc_md and 'execution_time_limit: "03:00"' in dag.doc_md
    timetable = dag.timetable
    assert type(timetable).__name__ == "CronTriggerTimetable"
    assert (cron_expression_of(timetable), timezone_name_of(timetable)) == ("0 1 * * *", "Europe/Paris")


def test_steps_are_a_chain_that_always_decides(build_from, tasks: str) -> None:
    dag = build_from({"tasks.yaml": tasks, "orch.yaml": ORCH})["nightly_identity_sync"]
    ids = dag.task_ids
    for before, after in zip(ids, ids[1:], strict=False):
        assert dag.task_dict[after].upstream_task_ids == {before}, "strictly one after another"
    for task_id in ids:
        task = dag.task_dict[task_id]
        assert task.trigger_rule == "all_done"
        assert task.retries == 0
    step2 = dag.task_dict["step_2__import_users"]
    assert isinstance(step2, OrchestrationStepOperator)
    assert step2.trigger_dag_id == "import_users"
    assert step2.parent_task_id == "step_1__export_users"
    assert getattr(step2, "deferrable", getattr(step2, "_defer", None)) is True  # `_defer` before standard 1.9
    assert step2.wait_for_completion
    assert (step2.rules.starts_after, step2.rules.timezone, step2.rules.run_on_parent_failure) == (
        time(3, 30), "UTC", True
    )
    assert dag.task_dict["step_3__notify_users"].rules.timezone == "Europe/Paris", "defaults to the orchestration's"
    assert step2.limits.time_limit == time(3, 0) and step2.limits.timezone == "Europe/Paris"
    assert isinstance(dag.task_dict["report"], OrchestrationReportOperator)


def test_inactive_is_paused_and_never_scheduled(build_from, tasks: str) -> None:
    dag = build_from({"tasks.yaml": tasks, "orch.yaml": ORCH.replace("description:", "active: false\ndescription:")})[
        "nightly_identity_sync"
    ]
    assert dag.is_paused_upon_creation is True
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert dag.task_dict["step_1__export_users"].limits.active is False


def test_active_is_created_unpaused_and_once_schedule(build_from, tasks: str) -> None:
    text = ORCH.replace('schedule: "0 1 * * *"', 'schedule: {once: "2020-05-18T10:12:39Z"}')
    dag = build_from({"tasks.yaml": tasks, "orch.yaml": text})["nightly_identity_sync"]
    assert dag.is_paused_upon_creation is False
    assert type(dag.timetable).__name__ == "OnceTimetable"
    assert dag.start_date.isoformat().startswith("2020-05-18T10:12:39")


def test_duration_limit_reaches_the_steps(build_from, tasks: str) -> None:
    text = ORCH.replace('execution_time_limit: "03:00"', "execution_duration_limit: PT4H")
    dag = build_from({"tasks.yaml": tasks, "orch.yaml": text})["nightly_identity_sync"]
    limits = dag.task_dict["step_1__export_users"].limits
    assert (limits.time_limit, limits.duration_limit) == (None, timedelta(hours=4))


def test_broken_orchestration_keeps_its_dag_id_as_a_placeholder(build_from, tasks: str) -> None:
    dags = build_from({"tasks.yaml": tasks, "orch.yaml": ORCH.replace("export_users\n", "export_userz\n", 1)})
    placeholder = dags["nightly_identity_sync"]
    assert "batchtasks:invalid" in placeholder.tags
    assert "unknown task `export_userz` (did you mean `export_users`?)" in placeholder.doc_md


def test_parsing_context_builds_only_the_orchestration(write, defs: Path, tasks: str, monkeypatch) -> None:
    write("tasks.yaml", tasks)
    write("orch.yaml", ORCH)
    write("zz_broken.yaml", "kind: task\nname: [never closed\n")
    monkeypatch.setenv(PARSING_CONTEXT_ENV, "nightly_identity_sync")
    namespace: dict = {}

    catalog = load_dags(namespace, defs)

    assert list(namespace) == ["nightly_identity_sync"]
    assert catalog.errors == []
    assert len(namespace["nightly_identity_sync"].task_ids) == 4


def test_a_step_knows_its_task_is_disabled_by_its_definition(build_from, sql_task) -> None:
    disabled = sql_task("import_users").replace("name: import_users", "name: import_users\nenabled: false")
    tasks = "---\n".join([sql_task("export_users"), disabled, sql_task("notify_users")])
    dag = build_from({"tasks.yaml": tasks, "orch.yaml": ORCH})["nightly_identity_sync"]
    assert [dag.task_dict[t].rules.task_enabled for t in dag.task_ids[:3]] == [True, False, True]
