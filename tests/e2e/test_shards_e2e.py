"""The sharded loader under a real dag-processor: `airflow batchtasks init --shards 4`, each shard its own
parse unit (own file location, own timeout, own import error), parsed side by side by Airflow's two parsers."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from airflow_batchtasks.cli import shard_file
from airflow_batchtasks.definitions.catalog_index import shard_of
from tests.airflow_compat import batchtasks_cli
from tests.e2e.airflow_instance import AirflowInstance, StartAirflow

COUNT = 4
TASK = "kind: task\nname: {name}\n{extra}source: {{type: sql, conn_id: warehouse, query: select 1}}\n"


def in_shard(shard: int, stem: str) -> str:
    return next(f"{stem}_{n}.yaml" for n in range(1000) if shard_of(f"{stem}_{n}.yaml", COUNT) == shard)


def write_definitions(defs: Path) -> dict[int, str]:
    """One file per shard, referencing each other: shard 0 holds the project, 1 and 2 its tasks, 3 an
    orchestration over tasks of shards 1 and 2. Returns shard -> file name."""
    files = {k: in_shard(k, "team") for k in range(COUNT)}
    (defs / files[0]).write_text("kind: project\nname: sales\nrun_in_series: true\n")
    (defs / files[1]).write_text(TASK.format(name="alpha", extra="project: sales\nrun_rank: 1\n"))
    (defs / files[2]).write_text(TASK.format(name="beta", extra="project: sales\nrun_rank: 2\n"))
    (defs / files[3]).write_text("kind: orchestration\nname: nightly\nsteps:\n  - task: alpha\n  - task: beta\n")
    return files


def dag_file(airflow: AirflowInstance, dag_id: str) -> str:
    return Path(airflow.wait_for_dag(dag_id, timeout=180)["fileloc"]).name


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_shards_parse_side_by_side_and_a_broken_or_slow_file_costs_only_its_shard(
    tmp_path: Path, start_airflow: StartAirflow
) -> None:
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    files = write_definitions(defs)
    env = {"AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
           "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "20"}
    subprocess.run([*batchtasks_cli(), "init", "--dags-folder", str(dags), "--shards", str(COUNT)], check=True,
                   capture_output=True, env={**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
                                             **env, "AIRFLOW_HOME": str(tmp_path / "cli")})
    assert sorted(p.name for p in dags.iterdir()) == [shard_file(k, COUNT) for k in range(COUNT)]
    # Shard 0 is made slow (40 s, over the 20 s parse timeout): the other shards must not wait for it.
    slow = dags / shard_file(0, COUNT)
    slow.write_text("import time; time.sleep(40)\n" + slow.read_text())

    airflow = start_airflow(dags, env=env)

    # each DAG comes from the shard of its definition file, cross-file references resolved
    assert dag_file(airflow, "alpha") == shard_file(1, COUNT)
    assert dag_file(airflow, "beta") == shard_file(2, COUNT)
    assert dag_file(airflow, "nightly") == shard_file(3, COUNT)
    assert {t["name"] for t in airflow.wait_for_dag("beta")["tags"]} >= {"batchtasks", "project:sales"}
    # ...while the slow shard still has not delivered its project DAG: it was parsed beside them, not before
    assert airflow.api("GET", "/api/v2/dags/project__sales").status_code == 404
    assert airflow.import_errors() == [] or all(
        Path(e["filename"]).name == shard_file(0, COUNT) for e in airflow.import_errors())

    # the slow shard back to normal: its DAG comes, from its own file
    slow.write_text(slow.read_text().replace("import time; time.sleep(40)\n", ""))
    assert dag_file(airflow, "project__sales") == shard_file(0, COUNT)

    # a broken definitions file is the import error of its shard only, named after the YAML file
    (defs / files[2]).write_text("kind: task\nname: [never closed\n")

    def shard_2_error() -> list[dict]:
        return [e for e in airflow.import_errors() if Path(e["filename"]).name == shard_file(2, COUNT)]

    wait(lambda: bool(shard_2_error()), 120, f"no import error for {shard_file(2, COUNT)}: {airflow.import_errors()}")
    (error,) = shard_2_error()
    assert f"{files[2]}:" in error["stack_trace"] and "invalid YAML" in error["stack_trace"]
    assert str(defs) not in error["stack_trace"]  # relative to the definitions folder
    assert [Path(e["filename"]).name for e in airflow.import_errors()] == [shard_file(2, COUNT)]
    # the other shards still parse: an edit in shard 1 arrives
    (defs / files[1]).write_text(TASK.format(name="alpha", extra="project: sales\nrun_rank: 1\n"
                                                                  "description: edited while shard 2 is broken\n"))
    wait(lambda: airflow.wait_for_dag("alpha").get("description") == "edited while shard 2 is broken", 120,
         "shard 1 was not re-parsed")

    # fixed: the import error goes away and the task is back
    (defs / files[2]).write_text(TASK.format(name="beta", extra="project: sales\nrun_rank: 2\n"))
    wait(lambda: not shard_2_error(), 120, "the import error stayed after the fix")
    assert dag_file(airflow, "beta") == shard_file(2, COUNT)
