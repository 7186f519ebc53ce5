"""Server time of the UI pages at scale, next to the REST API call they are built on.

The same data as ``api_latency.py`` (whose setup this script reuses): ``--tasks`` tasks
in 10 projects parsed by a real Airflow, then ``--runs`` DAG runs per task (3 task
instances each, every task status present) and ``--files`` archived files per run,
written straight into the metadata DB and the archive. Default 1,000 x 100 x 3.

Measured, each ``--repeat`` times as ``admin`` with an API server alone on that DB
(nothing moves while measuring), server time read from the API server's own access
log (``duration_us``), so browser, client and network time do not count:

- All Tasks, first page (50 rows, owner and project clouds, status counts);
- All Tasks filtered by one status, and by project + owner;
- My Tasks (``owner=me``) of one project;
- Task Details (definition, next runs, 20 runs with their files, 20 files), cold (first
  read of a task indexes its archive folder) and warm;
- the REST API's ``GET /tasks?limit=50`` (plain and by status), the same rows without the
  clouds and the HTML, and Airflow's ``GET /api/v2/dags?limit=50``, for reference;
- the authoring pages: New task, Edit of an existing task (its file holds ~100 definitions),
  and one live-validation round trip (``POST /definitions/validate`` with a task's YAML, as
  the editor sends it while typing; it checks names against every definition in the folder).

    uv run python benchmarks/ui_latency.py                       # full size (builds ~10 minutes)
    uv run python benchmarks/ui_latency.py --tasks 100           # quick look
    uv run python benchmarks/api_latency.py --keep --workdir W   # then, without rebuilding:
    uv run python benchmarks/ui_latency.py --reuse W

Targets: p95 under 300 ms for the All Tasks page (issue 5) and for opening the editor and each
validation round trip (issue 12), on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import api_latency as base  # noqa: E402 - the data set and the measuring tools are api_latency's

from dev.airflow_runner import AirflowInstance  # noqa: E402

UI = "/batchtasks/ui"


def environment(work: Path) -> dict[str, str]:
    """The Airflow settings ``api_latency`` builds its data set with (same folders, same timeouts)."""
    return {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(work / "definitions"),
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{work}/archive",
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{work}/staging",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "900",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900",
    }


def build(work: Path, tasks: int, runs: int, files: int) -> list[str]:
    """api_latency's data set: definitions parsed by a real Airflow, then runs and archived files."""
    names = base.write_definitions(work / "definitions", tasks, work / "out")
    (work / "dags").mkdir()
    (work / "dags" / "batchtasks_dags.py").write_text(
        "from airflow_batchtasks.dag_factory import load_dags; load_dags(globals())\n")
    instance = AirflowInstance(work / "home", work / "dags", env=environment(work))
    started = time.monotonic()
    instance.start()
    try:
        base.wait_parsed(work / "home" / "airflow.db", tasks, timeout=1800)
    finally:
        instance.stop()
    print(f"{tasks} DAGs parsed by Airflow in {time.monotonic() - started:.0f}s", flush=True)
    started = time.monotonic()
    counts = base.populate(work / "home" / "airflow.db", work / "archive", names, runs, files)
    print(f"inserted {counts} in {time.monotonic() - started:.0f}s", flush=True)
    return names


def existing_names(work: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(work / "home" / "airflow.db") as conn:
        rows = conn.execute("select dag_id from dag where dag_id like 'task_%' and not is_stale").fetchall()
    return sorted(r[0] for r in rows)


def measure_validate(client: httpx.Client, label: str, bodies: list[dict[str, str]]) -> None:
    """``POST /definitions/validate`` as the editor sends it; the label rides the query string for the log."""
    for i, body in enumerate(bodies):
        resp = client.post(f"{base.API}/definitions/validate?_bench={label}.{i}", json=body)
        if resp.status_code != 200 or not resp.json().get("valid"):
            raise SystemExit(f"{label}: validate -> {resp.status_code} {resp.text[:300]}")


def edited_task(name: str, i: int) -> dict[str, str]:
    """A task being typed in the editor: like the data set's, with a schedule and a changed query."""
    return {"yaml": f"kind: task\nname: {name}_draft\nproject: project_{i % base.PROJECTS}\n"
                    f"schedule: '0 {i % 24} * * *'\nparams:\n  region: {{default: EU}}\n"
                    f"source: {{type: sql, conn_id: bench_db, query: \"select {i} as n where 1 = {i}\"}}\n"
                    "destinations:\n  - {type: local, path: /tmp/batchtasks-bench-out}\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=40, help="calls per page")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder (removed unless --keep)")
    parser.add_argument("--reuse", type=Path, help="a work folder api_latency.py or this script built (--keep)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    if args.reuse:
        work = args.reuse.resolve()
        names = existing_names(work)
        print(f"reusing {work}: {len(names)} tasks", flush=True)
    else:
        work = (args.workdir or Path(tempfile.mkdtemp(prefix="batchtasks-ui-bench-"))).resolve()
        work.mkdir(parents=True, exist_ok=True)
        print(f"work folder: {work}", flush=True)
        names = build(work, args.tasks, args.runs, args.files)

    instance = AirflowInstance(work / "home", work / "dags", env=environment(work))
    instance._write_config()  # this run's free port (secrets and keys are kept)
    log = work / f"bench-ui-api-server-{int(time.time())}.log"
    proc = base.start_api_server(instance, log)
    try:
        token = httpx.post(f"{instance.base_url}/auth/token", json={"username": "admin", "password": "admin"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        rng = random.Random(11)
        n = args.repeat
        sample = rng.sample(names, min(len(names), n))
        with httpx.Client(base_url=instance.base_url, headers=headers, timeout=120) as client:
            base.measure(client, "warmup", [f"{UI}/tasks", f"{UI}/tasks/{names[0]}", f"{base.API}/tasks",
                                            "/api/v2/dags?limit=50"])
            base.measure(client, "ui_all_tasks", [f"{UI}/tasks"] * n)
            statuses = ("Failed", "Processing", "Retry", "Finished") * n
            base.measure(client, "ui_all_tasks_status", [f"{UI}/tasks?status={s}" for s in statuses][:n])
            base.measure(client, "ui_all_tasks_project_owner", [f"{UI}/tasks?project=project_{i % base.PROJECTS}"
                                                                f"&owner=owner_{i % base.PROJECTS}" for i in range(n)])
            base.measure(client, "ui_my_tasks", [f"{UI}/my-tasks?project=project_{i % base.PROJECTS}"
                                                 for i in range(n)])
            base.measure(client, "ui_task_cold", [f"{UI}/tasks/{name}" for name in sample])
            base.measure(client, "ui_task_warm", [f"{UI}/tasks/{name}" for name in sample])
            base.measure(client, "api_tasks", [f"{base.API}/tasks?limit=50"] * n)
            base.measure(client, "api_tasks_status", [f"{base.API}/tasks?status={s}&limit=50" for s in statuses][:n])
            base.measure(client, "airflow_dags", ["/api/v2/dags?limit=50"] * n)
            base.measure(client, "ui_new_task", [f"{UI}/definitions/new/task"] * n)
            base.measure(client, "ui_edit_task", [f"{UI}/definitions/edit/task/{name}" for name in sample])
            measure_validate(client, "ui_validate", [edited_task(name, i) for i, name in enumerate(sample)])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    times = base.server_times(log)
    rows = [
        ("All Tasks page (first page, 50 rows + clouds)", "ui_all_tasks"),
        ("All Tasks page, one status", "ui_all_tasks_status"),
        ("All Tasks page, project + owner", "ui_all_tasks_project_owner"),
        ("My Tasks page (owner=me), one project", "ui_my_tasks"),
        ("Task Details page (cold: first read indexes files)", "ui_task_cold"),
        ("Task Details page (warm)", "ui_task_warm"),
        ("REST GET /tasks?limit=50 (the table's data alone)", "api_tasks"),
        ("REST GET /tasks?status=…&limit=50", "api_tasks_status"),
        ("Airflow GET /api/v2/dags?limit=50", "airflow_dags"),
        ("New task page (form, YAML tab, schema)", "ui_new_task"),
        ("Edit task page (a file of ~100 definitions)", "ui_edit_task"),
        ("Live validation round trip (POST /definitions/validate)", "ui_validate"),
    ]
    print(f"\n{len(names)} tasks (runs and files as built); server time from the API server's access log, ms\n")
    print("| page | calls | p50 | p95 | max | p95 < 300 ms |")
    print("|---|---:|---:|---:|---:|:---:|")
    for title, label in rows:
        values = times.get(label, [])
        if not values:
            print(f"| {title} | 0 | - | - | - | - |")
            continue
        p95 = base.pct(values, 0.95)
        mark = "(reference)" if not label.startswith("ui_") else ("yes" if p95 < base.TARGET_MS else "NO")
        print(f"| {title} | {len(values)} | {statistics.median(values):.1f} | {p95:.1f} | {max(values):.1f} | {mark} |")
    if not args.keep and not args.reuse and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
