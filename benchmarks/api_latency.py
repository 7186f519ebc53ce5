"""Server time of the batch tasks REST API at scale, side by side with Airflow's own dagRuns endpoint.

What it builds (``--tasks`` x ``--runs`` x ``--files``, default 1,000 x 100 x 3):

1. a definitions folder of ``--tasks`` tasks in 10 projects, parsed for real by a real
   Airflow (api-server, scheduler, dag-processor, triggerer from ``dev/airflow_runner``),
   so the DAG, tag, version and serialized-DAG rows are Airflow's own;
2. then, with Airflow stopped, ``--runs`` DAG runs per task (3 task instances each, a mix
   of states so every task status appears) written straight into the metadata DB, and
   ``--files`` archived files per run with their ``.record.json`` written straight into
   the archive, exactly where and how the deliver step writes them (nothing is run);
3. an API server alone (no scheduler, so nothing moves while measuring) on that DB.

Then each endpoint is called ``--repeat`` times as ``admin`` (task names vary between
calls) and the server time of every call is read from the API server's own access log
(``duration_us`` of ``request finished``), so client and network overhead do not count.
File history is measured cold (the first read of a task indexes its whole archive
folder) and warm (later reads only look at runs that changed).

    uv run python benchmarks/api_latency.py                  # full size, ~10 minutes
    uv run python benchmarks/api_latency.py --tasks 100      # quick look

Target (issue 5): p95 under 300 ms for every batch tasks endpoint on a 2-core machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_batchtasks.plugins.data.all_runs import MAX_SUSPECTS  # noqa: E402
from airflow_batchtasks.storage.paths import safe_segment  # noqa: E402
from airflow_batchtasks.storage.records import FileRecord  # noqa: E402
from dev.airflow_runner import AirflowInstance, airflow_executable  # noqa: E402

PROJECTS = 10
#: The regions the seeded runs' arguments carry (what ``GET /runs?args=`` searches; see :func:`run_arguments`).
REGIONS = ("EU", "US", "APAC", "LATAM")
STEPS = ("extract", "package", "deliver")
OPERATORS = {"extract": "SqlExtractOperator", "package": "PackageOperator", "deliver": "DeliverOperator"}
API = "/batchtasks/api/v1"
TARGET_MS = 300.0
ACCESS = re.compile(r"duration_us=(\d+).*?method=(\w+) path=(\S+) query=(\S*) status_code=(\d+)")


def write_definitions(folder: Path, tasks: int, out: Path) -> list[str]:
    folder.mkdir(parents=True)
    names = []
    for p in range(PROJECTS):
        docs = [f"kind: project\nname: project_{p}\nowners: [admin, owner_{p}]\n"]
        for i in range(p, tasks, PROJECTS):
            name = f"task_{i:04d}"
            names.append(name)
            docs.append(
                f"kind: task\nname: {name}\nproject: project_{p}\ndescription: benchmark task {i}\n"
                f"params:\n  region: {{default: EU}}\n"
                f"source: {{type: sql, conn_id: bench_db, query: \"select {i} as n\"}}\n"
                f"destinations:\n  - {{type: local, path: {out}}}\n"
            )
        (folder / f"project_{p}.yaml").write_text("---\n".join(docs))
    return sorted(names)


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def last_run_state(index: int) -> tuple[str, tuple[str | None, ...]]:
    """Run and step states of a task's newest run, cycling so every task status appears."""
    cycle = [
        ("success", ("success", "success", "success")),        # Finished
        ("failed", ("success", "failed", "upstream_failed")),   # Failed
        ("running", ("success", "running", None)),             # Processing
        ("running", ("up_for_retry", None, None)),             # Retry
        ("queued", (None, None, None)),                        # New
        ("failed", ("skipped", "skipped", "skipped")),          # Skipped
    ]
    return cycle[index % len(cycle)]


#: one seeded run in this many has a ``db_password`` of the form ``pw-…`` (what the `pw-` search must not find)
PASSWORD_EVERY = 50


def run_arguments(n: int, region: str) -> dict[str, str]:
    """The arguments of the ``n``-th seeded run: a region, and in one run in 50 a password, in one in 97 a URL
    with a password in it (3,000 of 100,000 runs whose arguments ``GET /runs?args=`` must check masked)."""
    conf = {"region": region}
    if n % PASSWORD_EVERY == 0:
        conf["db_password"] = f"pw-{n}-{region}"
    if n % 97 == 0:
        conf["source"] = f"sftp://loader:pw{n}@files.example/{region}/in"
    return conf


def populate(db: Path, archive: Path, names: list[str], runs: int, files: int) -> dict[str, int]:
    """DAG runs, task instances and archived files + records, written directly (nothing runs)."""
    conn = sqlite3.connect(db)
    versions = dict(conn.execute("select dag_id, id from dag_version").fetchall())
    log_template = conn.execute("select max(id) from log_template").fetchone()[0]
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    dag_runs, tis = [], []
    written = 0
    rng = random.Random(42)
    for t, name in enumerate(names):
        version = versions[name]
        for r in range(runs):
            when = start + timedelta(hours=r * 6, minutes=t % 60)
            run_id = f"manual__{when.isoformat()}"
            newest = r == runs - 1
            if newest:
                state, steps = last_run_state(t)
            elif rng.random() < 0.1:
                state, steps = "failed", ("success", "failed", "upstream_failed")
            else:
                state, steps = "success", ("success", "success", "success")
            finished = state in ("success", "failed")
            conf = json.dumps(run_arguments(t * runs + r, REGIONS[(t + r) % len(REGIONS)]))
            dag_runs.append((
                name, ts(when), ts(when), ts(when + timedelta(seconds=5)) if finished else None, state, run_id,
                "manual", "REST_API", "admin", conf, ts(when), log_template, ts(when),
                ts(when + timedelta(seconds=6)), 0, "not_started", version,
            ))
            for s, step in enumerate(STEPS):
                st = steps[s]
                tis.append((
                    uuid.uuid4().hex, step, name, run_id, -1, ts(when) if st else None, st, 1 if st else 0, 0,
                    "default_pool", 1, "default", 3 - s, OPERATORS[step], "not_started", version,
                ))
            run_dir = archive / safe_segment(name) / safe_segment(run_id)
            for f in range(files):
                body = f"id,value\n{t},{r}\n{f},{when.isoformat()}\n".encode()
                md5 = hashlib.md5(body).hexdigest()
                folder = run_dir / md5[:12]
                folder.mkdir(parents=True, exist_ok=True)
                file_name = f"{name}_{when:%Y%m%d%H}_{f}.csv"
                (folder / file_name).write_bytes(body)
                record = FileRecord(file_name, len(body), md5, name, run_id, rows=2,
                                    created=(when + timedelta(seconds=4)).isoformat(),
                                    destinations=[{"key": "local::/out", "type": "local", "conn_id": None,
                                                   "path": f"/out/{file_name}", "md5": md5,
                                                   "delivered_at": (when + timedelta(seconds=4)).isoformat()}])
                (folder / f"{file_name}.record.json").write_text(json.dumps(asdict(record)))
                written += 1
    conn.executemany(
        "insert into dag_run (dag_id, queued_at, start_date, end_date, state, run_id, run_type, triggered_by, "
        "triggering_user_name, conf, run_after, log_template_id, created_at, updated_at, clear_number, span_status, "
        "created_dag_version_id) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", dag_runs)
    conn.executemany(
        "insert into task_instance (id, task_id, dag_id, run_id, map_index, start_date, state, try_number, "
        "max_tries, pool, pool_slots, queue, priority_weight, operator, span_status, dag_version_id) "
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tis)
    conn.commit()
    conn.execute("analyze")
    conn.close()
    return {"dag_runs": len(dag_runs), "task_instances": len(tis), "files": written}


def wait_parsed(db: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    found = 0
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            found = conn.execute(
                "select count(*) from dag d join serialized_dag s on s.dag_id = d.dag_id "
                "where d.dag_id like 'task_%' and not d.is_stale").fetchone()[0]
        if found >= count:
            return
        time.sleep(2)
    raise SystemExit(f"only {found}/{count} DAGs parsed after {timeout:.0f}s")


def start_api_server(instance: AirflowInstance, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        command = [*airflow_executable(), "api-server", "--host", "127.0.0.1", "--port", str(instance.port)]
        proc = subprocess.Popen(command, cwd=instance.home, env=instance.env,
                                stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{instance.base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"api-server exited: see {log}")
        time.sleep(0.5)
    raise SystemExit(f"api-server not up: see {log}")


#: Checks an answer's payload (its JSON and the call's index); returns what is wrong, or None.
Check = Callable[[Any, int], "str | None"]


def measure(client: httpx.Client, label: str, paths: list[str], check: Check | None = None,
            status: int = 200) -> None:
    """Call each path (timed by the server's access log); a wrong status or payload fails the benchmark."""
    for i, path in enumerate(paths):
        sep = "&" if "?" in path else "?"
        resp = client.get(f"{path}{sep}_bench={label}.{i}")
        if resp.status_code != status:
            raise SystemExit(f"{label}: {path} -> {resp.status_code} {resp.text[:300]}")
        wrong = check(resp.json(), i) if check is not None else None
        if wrong:
            raise SystemExit(f"{label}: {path}: wrong answer: {wrong}")


def page_of(total: int | None, items: str = "runs", limit: int = 50, offset: Callable[[int], int] = lambda i: 0,
            each: Callable[[dict[str, Any]], str | None] | None = None) -> Check:
    """A check of a page: the total (when known), the number of items for its offset, newest first, and
    ``each`` item (for runs: the ``created`` order; for a run, its files)."""
    def check(body: Any, i: int) -> str | None:
        rows, start = body[items], offset(i)
        if total is not None and body["total"] != total:
            return f"total {body['total']}, expected {total}"
        if len(rows) != max(0, min(limit, body["total"] - start)):
            return f"{len(rows)} {items} for total {body['total']} at offset {start}"
        created = [r["created"] for r in rows if items == "runs"]
        if created != sorted(created, reverse=True):
            return "not newest first"
        return next((w for w in map(each, rows) if w), None) if each else None
    return check


def files_of_run(files: int) -> Callable[[dict[str, Any]], str | None]:
    return lambda run: None if len(run["files"]) == files else f"{run['run_id']}: {len(run['files'])} files"


def airflow_page_of(total: int | None, offset: Callable[[int], int] = lambda i: 0) -> Check:
    """:func:`page_of` for Airflow's run list (``total_entries``, ``dag_runs``, newest ``run_after`` first)."""
    def check(body: Any, i: int) -> str | None:
        return page_of(total, offset=offset)(
            {"total": body["total_entries"], "runs": [{"created": r["run_after"]} for r in body["dag_runs"]]}, i)
    return check


def measure_all_runs(client: httpx.Client, names: list[str], runs: int, n: int) -> None:
    """``GET /runs`` unfiltered, with each filter, deep in the pages, and the Runs page (plain and filtered)."""
    statuses = ("Failed", "Processing", "Retry", "Finished", "New", "Skipped")
    mid = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(days=12)
    day = lambda i: (mid + timedelta(days=i % 7)).strftime("%Y%m%d")  # noqa: E731
    every = runs * len(names)
    measure(client, "all_runs", [f"{API}/runs?limit=50"] * n, page_of(every))
    measure(client, "all_runs_status", [f"{API}/runs?status={statuses[i % 6]}&limit=50" for i in range(n)],
            page_of(None))
    measure(client, "all_runs_project", [f"{API}/runs?project=project_{i % PROJECTS}&limit=50" for i in range(n)],
            page_of(every // PROJECTS))
    measure(client, "all_runs_task", [f"{API}/runs?task=task_0{i % 100:02d}&limit=50" for i in range(n)],
            page_of(None))
    measure(client, "all_runs_task_name", [f"{API}/runs?task_name={names[(7 * i) % len(names)]}&limit=50"
                                           for i in range(n)], page_of(runs))
    measure(client, "all_runs_args", [f"{API}/runs?args={REGIONS[i % len(REGIONS)]}&limit=50" for i in range(n)],
            page_of(every // len(REGIONS)))
    # every match of `pw-` lies inside a masked password: none may be found (and each is checked masked);
    # within one project, and over every run, where past MAX_SUSPECTS hidden matches the answer is a 422
    measure(client, "all_runs_args_secret", [f"{API}/runs?args=pw-&project=project_{i % PROJECTS}&limit=50"
                                             for i in range(n)], page_of(0))
    if len(range(0, every, PASSWORD_EVERY)) > MAX_SUSPECTS:
        measure(client, "all_runs_args_secret_all", [f"{API}/runs?args=pw-&limit=50"] * n,
                lambda body, _i: None if "narrow the search" in body["detail"] else body["detail"], status=422)
    else:
        measure(client, "all_runs_args_secret_all", [f"{API}/runs?args=pw-&limit=50"] * n, page_of(0))
    measure(client, "all_runs_args_none", [f"{API}/runs?args=nowhere{i}&limit=50" for i in range(n)], page_of(0))
    measure(client, "all_runs_created", [f"{API}/runs?created_from={day(i)}&created_to={day(i + 1)}&limit=50"
                                         for i in range(n)], page_of(None))
    measure(client, "all_runs_updated", [f"{API}/runs?updated_from={day(i)}&updated_to={day(i + 1)}&limit=50"
                                         for i in range(n)], page_of(None))
    measure(client, "all_runs_combined", [f"{API}/runs?project=project_{i % PROJECTS}&status=Failed&args=US"
                                          f"&created_from=20260101&limit=50" for i in range(n)])
    deep = lambda i: (i + 1) * every // (n + 1)  # noqa: E731 - offsets spread over every page, the last included
    measure(client, "all_runs_deep", [f"{API}/runs?limit=50&offset={deep(i)}" for i in range(n)],
            page_of(every, offset=deep))
    # Airflow's own run list on the same pages and days, for reference (it counts every match too)
    iso = lambda i: (mid + timedelta(days=i % 7)).isoformat().replace("+00:00", "Z")  # noqa: E731
    dag_runs = "/api/v2/dags/~/dagRuns?limit=50&order_by=-run_after"
    measure(client, "airflow_dagruns_deep", [f"{dag_runs}&offset={deep(i)}" for i in range(n)],
            airflow_page_of(every, offset=deep))
    measure(client, "airflow_dagruns_created", [f"{dag_runs}&run_after_gte={iso(i)}&run_after_lt={iso(i + 1)}"
                                                for i in range(n)], airflow_page_of(None))
    measure(client, "airflow_dagruns_updated", [f"{dag_runs}&updated_at_gte={iso(i)}&updated_at_lt={iso(i + 1)}"
                                                for i in range(n)], airflow_page_of(None))
    if client.get("/batchtasks/ui/runs").status_code == 200:  # the page, when this version has it
        measure(client, "page_runs", ["/batchtasks/ui/runs"] * n)
        measure(client, "page_runs_filtered", [f"/batchtasks/ui/runs?status={statuses[i % 6]}&project=project_"
                                               f"{i % PROJECTS}&args={REGIONS[i % len(REGIONS)]}" for i in range(n)])


def server_times(log: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = ACCESS.search(line)
        if not match or "_bench=" not in match.group(4):
            continue
        label = re.search(r"_bench=([^.&]+)", match.group(4)).group(1)  # type: ignore[union-attr]
        times.setdefault(label, []).append(int(match.group(1)) / 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=40, help="calls per endpoint")
    parser.add_argument("--workdir", type=Path, help="default: a temporary folder (removed unless --keep)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="reuse a --keep'ed --workdir (skips the build)")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="batchtasks-api-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(work / "definitions"),
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{work}/archive",
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{work}/staging",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "900",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "900",
    }
    instance = AirflowInstance(work / "home", work / "dags", env=env)
    db = work / "home" / "airflow.db"
    if args.reuse:
        with sqlite3.connect(db) as conn:  # measure cold indexing again: forget what earlier runs indexed
            conn.execute("delete from batchtasks_file")
            conn.execute("delete from batchtasks_file_scan")
            names = [r[0] for r in conn.execute("select dag_id from dag where dag_id like 'task_%' order by 1")]
            counts = {"dag_runs": conn.execute("select count(*) from dag_run").fetchone()[0],
                      "task_instances": conn.execute("select count(*) from task_instance").fetchone()[0],
                      "files": args.tasks * args.runs * args.files}
        print(f"reusing {work}: {counts}", flush=True)
    else:
        names = write_definitions(work / "definitions", args.tasks, work / "out")
        (work / "dags").mkdir()
        (work / "dags" / "batchtasks_dags.py").write_text(
            "from airflow_batchtasks.dag_factory import load_dags; load_dags(globals())\n")
        t0 = time.monotonic()
        instance.start()
        try:
            wait_parsed(db, args.tasks, timeout=1800)
        finally:
            instance.stop()
        print(f"{args.tasks} DAGs parsed by Airflow in {time.monotonic() - t0:.0f}s", flush=True)
        t1 = time.monotonic()
        counts = populate(db, work / "archive", names, args.runs, args.files)
        print(f"inserted {counts} in {time.monotonic() - t1:.0f}s", flush=True)

    log = work / "bench-api-server.log"
    log.unlink(missing_ok=True)
    proc = start_api_server(instance, log)
    try:
        token = httpx.post(f"{instance.base_url}/auth/token", json={"username": "admin", "password": "admin"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        rng = random.Random(7)
        with httpx.Client(base_url=instance.base_url, headers=headers, timeout=120) as client:
            n = args.repeat
            picked = rng.sample(names[1:], min(len(names) - 1, 2 * n))
            sample, other = picked[:n], picked[n:]
            measure(client, "warmup", [f"{API}/tasks", f"{API}/tasks/{names[0]}/runs", f"{API}/tasks/{names[0]}/files",
                                       "/api/v2/dags/~/dagRuns?limit=50"])
            measure(client, "tasks_page", [f"{API}/tasks?limit=50"] * n, page_of(args.tasks, items="tasks"))
            measure(client, "tasks_status", [f"{API}/tasks?status={s}&limit=50"
                                             for s in ("Failed", "Processing", "Retry", "Finished") * n][:n])
            measure(client, "tasks_project_owner", [f"{API}/tasks?project=project_{i % PROJECTS}&owner=me"
                                                    for i in range(n)])
            task_files = page_of(args.runs * args.files, items="files", limit=100)
            measure(client, "files_cold", [f"{API}/tasks/{name}/files?limit=100" for name in sample], task_files)
            measure(client, "files_warm", [f"{API}/tasks/{name}/files?limit=100" for name in sample], task_files)
            task_runs = page_of(args.runs, limit=100, each=files_of_run(args.files))
            measure(client, "runs", [f"{API}/tasks/{name}/runs?limit=100" for name in sample], task_runs)
            measure(client, "runs_cold", [f"{API}/tasks/{name}/runs?limit=100" for name in other], task_runs)
            measure(client, "task_detail", [f"{API}/tasks/{name}" for name in sample])
            if client.get("/batchtasks/ui/tasks").status_code == 200:  # the pages, when this version has them
                measure(client, "page_all_tasks", ["/batchtasks/ui/tasks"] * n)
            measure_all_runs(client, names, args.runs, n)
            measure(client, "airflow_dagruns_all", ["/api/v2/dags/~/dagRuns?limit=50"] * n)
            measure(client, "airflow_dagruns_dag", [f"/api/v2/dags/{name}/dagRuns?limit=100&order_by=-run_after"
                                                    for name in sample])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)

    times = server_times(log)
    rows = [
        ("GET /tasks (first page, 50)", "tasks_page"),
        ("GET /tasks?status=… (one status)", "tasks_status"),
        ("GET /tasks?project=…&owner=me", "tasks_project_owner"),
        ("GET /tasks/{name}", "task_detail"),
        ("GET /tasks/{name}/files (first read: indexes 300 records)", "files_cold"),
        ("GET /tasks/{name}/files (indexed)", "files_warm"),
        ("GET /tasks/{name}/runs (100 runs + their files, indexed)", "runs"),
        ("GET /tasks/{name}/runs (first read of the task: indexes)", "runs_cold"),
        ("All Tasks page (/batchtasks/ui/tasks)", "page_all_tasks"),
        ("GET /runs (first page, 50, every task's runs)", "all_runs"),
        ("GET /runs?status=… (one status, each in turn)", "all_runs_status"),
        ("GET /runs?project=…", "all_runs_project"),
        ("GET /runs?task=… (name contains)", "all_runs_task"),
        ("GET /runs?task_name=… (one task)", "all_runs_task_name"),
        ("GET /runs?args=… (a region: many matches)", "all_runs_args"),
        ("GET /runs?args=pw-&project=… (every match inside a masked password: none found)", "all_runs_args_secret"),
        ("GET /runs?args=pw- over every run (none found; a 422 past 10,000 hidden matches)",
         "all_runs_args_secret_all"),
        ("GET /runs?args=… (no match)", "all_runs_args_none"),
        ("GET /runs?created_from=…&created_to=… (one day)", "all_runs_created"),
        ("GET /runs?updated_from=…&updated_to=… (one day)", "all_runs_updated"),
        ("GET /runs?project&status&args&created_from", "all_runs_combined"),
        ("GET /runs?offset=… (deep pages, spread to the last)", "all_runs_deep"),
        ("Runs page (/batchtasks/ui/runs)", "page_runs"),
        ("Runs page, filtered (status, project, args)", "page_runs_filtered"),
        ("Airflow GET /api/v2/dags/~/dagRuns?limit=50", "airflow_dagruns_all"),
        ("Airflow GET /api/v2/dags/{name}/dagRuns?limit=100", "airflow_dagruns_dag"),
        ("Airflow GET /api/v2/dags/~/dagRuns, the same deep pages", "airflow_dagruns_deep"),
        ("Airflow GET /api/v2/dags/~/dagRuns?run_after_gte=…&run_after_lt=… (one day)", "airflow_dagruns_created"),
        ("Airflow GET /api/v2/dags/~/dagRuns?updated_at_gte=…&updated_at_lt=… (one day)", "airflow_dagruns_updated"),
    ]
    print(f"\n{args.tasks} tasks x {args.runs} runs x {args.files} files "
          f"({counts['dag_runs']} runs, {counts['task_instances']} task instances, {counts['files']} files); "
          f"server time from the API server's access log, ms\n")
    print("| endpoint | calls | p50 | p95 | max | p95 < 300 ms |")
    print("|---|---:|---:|---:|---:|:---:|")
    for title, label in rows:
        values = times.get(label, [])
        if not values:
            if not label.startswith("page_"):
                print(f"| {title} | 0 | - | - | - | - |")
            continue
        p95 = pct(values, 0.95)
        mark = "yes" if p95 < TARGET_MS else "NO"
        mark = mark if not label.startswith("airflow") else "(reference)"
        print(f"| {title} | {len(values)} | {statistics.median(values):.1f} | {p95:.1f} | {max(values):.1f} | {mark} |")
    if not args.keep and args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
