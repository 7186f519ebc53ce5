"""A project run never waits forever: its time limit ends it and the series report says why.

Through a real Airflow (scheduler, triggerer, LocalExecutor workers), with ``[batchtasks]
project_run_timeout`` at one minute and a project whose tasks run at the same time:

- ``t_paused`` is paused in Airflow (its definition still ``enabled: true``). Airflow 3.2+ lets the step
  read the pause and skip at once; Airflow 3.1 does not, so the step triggers a run that never starts
  (run this module on 3.1 with the version matrix's virtualenv:
  ``env PYTHONPATH=$PWD $BATCHTASKS_MATRIX_DIR/airflow-3.1.0/bin/python -m pytest <this file>``, see dev/matrix.sh);
- ``t_slow`` runs longer than the limit.

Either way the project run ends (failed) at the limit, and its note (the series report) names both tasks
as skipped with their reason: the paused DAG, the time limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import serving, wait_for
from tests.e2e.test_project_series_e2e import SLEEP, _task, project_airflow

pytestmark = pytest.mark.e2e

DEFINITIONS = "---\n".join([
    # all at once (a schedule makes a project DAG without run_in_series): both steps wait at the same time
    "kind: project\nname: limit_p\nowners: [ops]\nrun_in_series: false\nschedule: '0 3 1 1 *'\n",
    _task("t_paused", "limit_p", 1, SLEEP.format(seconds=0)),
    _task("t_slow", "limit_p", 2, SLEEP.format(seconds=900)),
])
TASKS = ("t_paused", "t_slow")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root: Path = tmp_path_factory.mktemp("series_limit")
    instance = project_airflow(root, DEFINITIONS, {"AIRFLOW__BATCHTASKS__PROJECT_RUN_TIMEOUT": "1"})  # minutes
    with serving(instance, [*TASKS, "project__limit_p"], start=True):
        assert instance.import_errors() == []
        for dag_id in (*TASKS, "project__limit_p"):
            instance.unpause(dag_id)
        yield instance


def test_a_project_run_ends_at_its_time_limit_and_says_which_task_waited_and_why(airflow: AirflowInstance) -> None:
    airflow.pause("t_paused")  # disabled in Airflow only: on 3.1 its step cannot see it before triggering
    run_id = airflow.trigger("project__limit_p")
    # one minute of limit, then the scheduler's check: well under the 15 minutes t_slow would take
    assert airflow.wait_for_run("project__limit_p", run_id, timeout=300) == "failed"
    states = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("project__limit_p", run_id)}
    assert states["run_t_paused"] == "skipped" and states["run_t_slow"] == "skipped", states

    note = wait_for("the series report on the run's note",
                    lambda: airflow.dag_run("project__limit_p", run_id).get("note"), timeout=60)
    lines = note.splitlines()
    assert lines[0] == "Series: 0 of 2 task(s) succeeded, 0 failed, 2 skipped", note
    paused = next(line for line in lines if line.startswith("skipped: t_paused: "))
    assert "its DAG is paused" in paused, note
    assert "skipped: t_slow: the project run stopped at its time limit (1 minute(s)) before this task ended" in lines
