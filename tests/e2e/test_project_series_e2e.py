"""Projects and run arguments through a real Airflow (scheduler, triggerer, LocalExecutor workers).

- a ``run_in_series: true`` project runs its tasks one by one by run_rank (seen in the task runs' times), a
  failing task does not stop the rest, a task paused in Airflow is skipped with its reason, and the series'
  result (its log, the project run's note) names what failed and what was skipped;
- a ``run_in_series: false`` project runs its tasks at the same time;
- a python-source task run through the API with positional ``args`` gets them as ``sys.argv[2:]`` and
  ``BATCHTASK_ARGS``; one value too many is a 422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, serving, wait_for

pytestmark = pytest.mark.e2e


def _task(name: str, project: str | None, rank: int, code: str, extra: str = "") -> str:
    body = "".join(f"    {line}\n" for line in code.strip().splitlines())
    return (
        f"kind: task\nname: {name}\n" + (f"project: {project}\n" if project else "")
        + f"run_rank: {rank}\nretries: {{count: 0}}\n{extra}source: {{type: python}}\n"
        + f"processing:\n  inline: |\n{body}destinations: [{{type: local, path: __OUT__}}]\n"
    )


SLEEP = "import time\ntime.sleep({seconds})\nprint([])"
ARGV_SCRIPT = """
import json, os, sys
path = os.path.join(os.environ["BATCHTASK_WORK_DIR"], "argv.json")
with open(path, "w") as fh:
    json.dump({"argv": sys.argv[1:], "args": json.loads(os.environ["BATCHTASK_ARGS"])}, fh)
print([path])
"""

DEFINITIONS = "---\n".join([
    "kind: project\nname: series_p\nowners: [ops]\nrun_in_series: true\n",
    "kind: project\nname: par_p\nowners: [ops]\nrun_in_series: false\nschedule: '0 3 1 1 *'\n",
    _task("s_first", "series_p", 1, SLEEP.format(seconds=3)),
    _task("s_fails", "series_p", 2, "import sys\nprint('no data today', file=sys.stderr)\nsys.exit(1)"),
    _task("s_paused", "series_p", 3, SLEEP.format(seconds=0)),
    _task("s_last", "series_p", 4, SLEEP.format(seconds=0)),
    _task("s_off", "series_p", 5, SLEEP.format(seconds=0), "enabled: false\n"),
    _task("p_a", "par_p", 1, SLEEP.format(seconds=8)),
    _task("p_b", "par_p", 2, SLEEP.format(seconds=8)),
    _task("argv_task", None, 1, ARGV_SCRIPT,
          "params:\n  region: {default: EU, enum: [EU, US]}\n  days: {default: 1, type: integer}\n"),
])
TASKS = ("s_first", "s_fails", "s_paused", "s_last", "p_a", "p_b", "argv_task")


def project_airflow(root: Path, definitions: str, env: dict[str, str] | None = None) -> AirflowInstance:
    """An Airflow (not started) over ``definitions`` in one file, ``__OUT__`` being ``root/out`` (a local root)."""
    defs, dags, out = root / "definitions", root / "dags", root / "out"
    for folder in (defs, dags, out):
        folder.mkdir()
    (defs / "projects.yaml").write_text(definitions.replace("__OUT__", str(out)))
    from airflow_batchtasks.cli import LOADER_FILE, LOADER_TEXT

    (dags / LOADER_FILE).write_text(LOADER_TEXT)
    return AirflowInstance(root / "home", dags, env={
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{root}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{root}/archive",
        "AIRFLOW__BATCHTASKS__VENV_CACHE": str(root / "venvs"),
        "AIRFLOW__BATCHTASKS__LOCAL_ROOTS": str(out),
        **(env or {}),
    })


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    root = tmp_path_factory.mktemp("project_series")
    instance = project_airflow(root, DEFINITIONS)
    out = root / "out"
    with serving(instance, [*TASKS, "project__series_p", "project__par_p"], start=True):
        assert instance.import_errors() == []
        for dag_id in (*TASKS, "project__series_p", "project__par_p"):
            instance.unpause(dag_id)
        instance.out = out  # type: ignore[attr-defined]
        yield instance


def _times(airflow: AirflowInstance, dag_id: str, run_id: str) -> tuple[datetime, datetime]:
    run = airflow.dag_run(dag_id, run_id)
    return datetime.fromisoformat(run["start_date"]), datetime.fromisoformat(run["end_date"])


def _state(airflow: AirflowInstance, dag_id: str, run_id: str, task_id: str) -> str | None:
    return {ti["task_id"]: ti["state"] for ti in airflow.task_instances(dag_id, run_id)}.get(task_id)


def test_a_series_runs_in_rank_order_past_a_failure_and_skips_a_paused_task(airflow: AirflowInstance) -> None:
    airflow.pause("s_paused")  # disabled in Airflow while the definition still says enabled
    run_id = airflow.trigger("project__series_p")
    assert airflow.wait_for_run("project__series_p", run_id, timeout=300) == "failed", "a task failed"

    # one by one by run_rank, and the failure of s_fails did not stop s_last
    assert airflow.wait_for_run("s_first", f"{run_id}__s_first") == "success"
    assert airflow.wait_for_run("s_fails", f"{run_id}__s_fails") == "failed"
    assert airflow.wait_for_run("s_last", f"{run_id}__s_last") == "success"
    first, fails, last = (_times(airflow, t, f"{run_id}__{t}") for t in ("s_first", "s_fails", "s_last"))
    assert first[1] <= fails[0] and fails[1] <= last[0], (first, fails, last)

    # the paused task was skipped, with its reason, and Airflow was never asked to run it
    assert _state(airflow, "project__series_p", run_id, "run_s_paused") == "skipped"
    assert "Skipping task s_paused: it is disabled (its DAG is paused)" in airflow.task_log(
        "project__series_p", run_id, "run_s_paused")
    assert airflow.api("GET", f"/api/v2/dags/s_paused/dagRuns/{run_id}__s_paused").status_code == 404
    assert "run_s_off" not in {ti["task_id"] for ti in airflow.task_instances("project__series_p", run_id)}

    # the result names what failed and what was skipped, in its log and on the project run's note
    assert _state(airflow, "project__series_p", run_id, "series_result") == "failed"
    result_log = airflow.task_log("project__series_p", run_id, "series_result")
    expected = [
        "Series: 2 of 4 task(s) succeeded, 1 failed, 1 skipped",
        f"failed: s_fails: its run {run_id}__s_fails failed (see that run's log)",
        "skipped: s_paused: it is disabled (its DAG is paused), so Airflow would not start its run",
        "not in the series: s_off: disabled (enabled: false)",
    ]
    for line in expected:
        assert line in result_log, result_log
    note = wait_for("the series report on the run's note",
                    lambda: airflow.dag_run("project__series_p", run_id).get("note"), timeout=60)
    assert note.splitlines() == expected


def test_a_project_not_in_series_runs_its_tasks_at_the_same_time(airflow: AirflowInstance) -> None:
    run_id = airflow.trigger("project__par_p")
    assert airflow.wait_for_run("project__par_p", run_id, timeout=300) == "success"
    a = _times(airflow, "p_a", f"{run_id}__p_a")
    b = _times(airflow, "p_b", f"{run_id}__p_b")
    assert a[0] < b[1] and b[0] < a[1], f"the runs overlap: {a} {b}"
    result_log = airflow.task_log("project__par_p", run_id, "series_result")
    assert "Series: 2 of 2 task(s) succeeded, 0 failed, 0 skipped" in result_log


def test_positional_args_reach_the_script_as_argv_and_batchtask_args(airflow: AirflowInstance) -> None:
    resp = call(airflow, "POST", "/tasks/argv_task/runs", json={"args": "US 5 extra"})
    assert resp.status_code == 422
    assert resp.json()["detail"] == (
        "args: `extra` is one value too many: this task accepts in this order `region`, `days`")

    run = ok(call(airflow, "POST", "/tasks/argv_task/runs", json={"args": "US 5"}))
    assert run["conf"] == {"region": "US", "days": 5}, "the run's conf stays {param: value}"
    assert airflow.wait_for_run("argv_task", run["run_id"], timeout=180) == "success"
    written = json.loads(Path(airflow.out, "argv.json").read_text())  # type: ignore[attr-defined]
    assert written == {"argv": ["", "US", "5"], "args": ["US", "5"]}


def test_a_task_disabled_in_its_definition_does_not_run_even_unpaused(airflow: AirflowInstance) -> None:
    # Airflow applies is_paused_upon_creation only on creation: an unpaused DAG whose definition says
    # `enabled: false` (a hand edit) is still a disabled task
    airflow.unpause("s_off")
    resp = call(airflow, "POST", "/tasks/s_off/runs", json={})
    assert resp.status_code == 409
    assert resp.json()["detail"] == "task `s_off` is disabled (`enabled: false` in its definition): enable it to run it"


def test_editing_enabled_in_the_definition_pauses_and_unpauses_the_dag(airflow: AirflowInstance) -> None:
    def paused() -> bool:
        return airflow.api("GET", "/api/v2/dags/p_b").json()["is_paused"]

    shown = ok(call(airflow, "GET", "/definitions/task/p_b"))["yaml"]
    assert "enabled" not in shown and not paused()
    ok(call(airflow, "PUT", "/definitions/task/p_b", json={"yaml": shown + "enabled: false\n"}))
    assert paused(), "enabled: false written through the API pauses the DAG at once"
    ok(call(airflow, "PUT", "/definitions/task/p_b", json={"yaml": shown}))
    assert not paused(), "and enabled again (the default) unpauses it"
