"""Run throughput of airflow-batchtasks on LocalExecutor and CeleryExecutor, next to empty Airflow tasks.

What a user scaling out wants to know: how many batch-task runs per minute a deployment completes, and how
much of each run is our steps rather than Airflow itself. So, per executor, in the same Airflow instance:

1. ``baseline``: ``--runs`` runs of plain DAGs with the same shape as ours (three chained ``@task`` no-ops
   ``extract -> package -> deliver`` passing a small XCom, ``max_active_runs=1`` like our task DAGs),
   triggered at once through the REST API, then waited for;
2. ``batchtasks``: the same number of runs of small batch tasks (a 20-row PostgreSQL query -> CSV ->
   local folder, with staging and archive on the configured store), triggered and waited for the same way.

Both phases spread their runs over ``--dags`` DAGs (one run of a task DAG at a time, as the contract says).
Everything is real and on loopback: PostgreSQL (metadata DB and the queried database), Redis (broker) and
two Celery workers for CeleryExecutor, moto's S3 server for S3 staging. Executors get the same number of
task slots (``--slots``: LocalExecutor parallelism, or two workers with half each).

Reported per executor and phase: runs completed per minute (from the first trigger to the last run's end),
mean and p95 run duration, mean sum of step durations per run, mean wait of a step in the queue; and the
per-run overhead of our steps = batchtasks minus baseline (step time and run duration).

    uv run python benchmarks/throughput.py                       # both executors, 200 runs per phase
    uv run python benchmarks/throughput.py --executor local --runs 40 --dags 10
    uv run python benchmarks/throughput.py --json results.json   # also write the raw numbers
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dev.celery_runner import CeleryAirflowInstance, CeleryWorker  # noqa: E402
from tests.servers.postgres import PostgresServer  # noqa: E402
from tests.servers.redis import RedisServer  # noqa: E402
from tests.servers.s3 import S3Server  # noqa: E402

BUCKET = "batchtasks-bench"

BASELINE_DAGS = '''"""Baseline of benchmarks/throughput.py: the shape of a batch task DAG with no-op steps."""
import pendulum
from airflow.sdk import DAG, task

for i in range({count}):
    with DAG(f"empty_{{i:03d}}", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False,
             max_active_runs=1, is_paused_upon_creation=False, tags=["bench"]) as dag:
        @task
        def extract():
            return [{{"name": "empty.csv", "url": "file:///dev/null", "rows": 20}}]

        @task
        def package(files):
            return [{{**f, "size": 0, "md5": ""}} for f in files]

        @task
        def deliver(files):
            return files

        deliver(package(extract()))
    globals()[dag.dag_id] = dag
'''

BATCH_TASK = """
kind: task
name: bench_{i:03d}
schedule: none
source:
  type: sql
  conn_id: bench_db
  query: "select g as id, 'row ' || g as label, g * 1.5 as amount from generate_series(1, 20) g"
destinations:
  - type: local
    path: {outbox}/bench_{i:03d}
"""


@dataclass
class Phase:
    """Numbers of one phase (baseline or batchtasks) on one executor."""

    executor: str
    kind: str
    runs: int
    succeeded: int
    wall_seconds: float
    runs_per_minute: float
    mean_run_seconds: float
    p95_run_seconds: float
    mean_step_seconds_per_run: float
    mean_queue_wait_seconds: float
    staging: str


def _ts(value: str | None) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value else None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else 0.0


def write_definitions(root: Path, dags: int) -> tuple[Path, Path]:
    defs, dag_folder, outbox = root / "definitions", root / "dags", root / "outbox"
    for folder in (defs, dag_folder, outbox):
        folder.mkdir(parents=True, exist_ok=True)
    (defs / "bench.yaml").write_text("\n---\n".join(BATCH_TASK.format(i=i, outbox=outbox) for i in range(dags)))
    (dag_folder / "batchtasks_dags.py").write_text(
        "from airflow_batchtasks.dag_factory import load_dags; load_dags(globals())\n"
    )
    (dag_folder / "baseline_dags.py").write_text(BASELINE_DAGS.format(count=dags))
    return defs, dag_folder


def _runs(airflow: CeleryAirflowInstance, prefix: str) -> list[dict[str, Any]]:
    found, offset = [], 0
    while True:
        page = airflow.api("GET", "/api/v2/dags/~/dagRuns", params={"limit": 1000, "offset": offset},
                           timeout=120).json()
        batch = page.get("dag_runs", [])
        found += [r for r in batch if r["dag_id"].startswith(prefix)]
        offset += len(batch)
        if not batch or offset >= page.get("total_entries", 0):
            return found


def _task_instances(airflow: CeleryAirflowInstance, prefix: str) -> list[dict[str, Any]]:
    found, offset = [], 0
    while True:
        page = airflow.api("GET", "/api/v2/dags/~/dagRuns/~/taskInstances",
                           params={"limit": 1000, "offset": offset}, timeout=120).json()
        batch = page.get("task_instances", [])
        found += [t for t in batch if t["dag_id"].startswith(prefix)]
        offset += len(batch)
        if not batch or offset >= page.get("total_entries", 0):
            return found


def trigger(airflow: CeleryAirflowInstance, dag_id: str, run_id: str) -> None:
    """Create one run with a known id; a retry after a timeout cannot create a second run (409 = it exists)."""
    body = {"dag_run_id": run_id, "logical_date": None, "conf": {}}
    for attempt in range(5):
        try:
            resp = airflow.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body, timeout=120)
        except httpx.TimeoutException:
            time.sleep(2 * (attempt + 1))
            continue
        if resp.status_code in (200, 409):
            return
        if resp.status_code < 500:
            raise SystemExit(f"trigger {dag_id}/{run_id}: HTTP {resp.status_code} {resp.text[:500]}")
        time.sleep(2 * (attempt + 1))
    raise SystemExit(f"trigger {dag_id}/{run_id}: no success after 5 attempts")


def run_phase(airflow: CeleryAirflowInstance, executor: str, kind: str, dag_ids: list[str], runs: int,
              timeout: float, staging: str) -> Phase:
    prefix = dag_ids[0].rsplit("_", 1)[0] + "_"
    targets = [(dag_ids[i % len(dag_ids)], f"bench_{kind}_{i:04d}") for i in range(runs)]
    started = time.time()
    with ThreadPoolExecutor(4) as pool:  # "at once": the API server takes them as fast as it can
        list(pool.map(lambda t: trigger(airflow, *t), targets))
    print(f"  {executor}/{kind}: {runs} runs triggered in {time.time() - started:.1f}s", flush=True)
    deadline = started + timeout
    while True:
        try:
            mine = _runs(airflow, prefix)
        except httpx.TimeoutException:  # a busy API server: ask again, the deadline still holds
            mine = []
        done = [r for r in mine if r["state"] in ("success", "failed")]
        if len(done) >= runs:
            break
        if time.time() > deadline:
            raise SystemExit(f"{executor}/{kind}: only {len(done)}/{runs} runs finished after {timeout:.0f}s")
        time.sleep(2)
    ends = [_ts(r["end_date"]) or 0.0 for r in done]
    durations = [(_ts(r["end_date"]) or 0.0) - (_ts(r["start_date"]) or 0.0) for r in done]
    tis = _task_instances(airflow, prefix)
    step_total = sum(t.get("duration") or 0.0 for t in tis)
    waits = [s - q for t in tis if (s := _ts(t.get("start_date"))) and (q := _ts(t.get("queued_when")))]
    wall = max(ends) - started
    phase = Phase(
        executor=executor, kind=kind, runs=len(done), succeeded=sum(r["state"] == "success" for r in done),
        wall_seconds=round(wall, 1), runs_per_minute=round(len(done) / wall * 60, 1),
        mean_run_seconds=round(statistics.mean(durations), 2), p95_run_seconds=round(_p95(durations), 2),
        mean_step_seconds_per_run=round(step_total / len(done), 2),
        mean_queue_wait_seconds=round(statistics.mean(waits), 2) if waits else 0.0, staging=staging,
    )
    print(f"  {executor}/{kind}: {phase}", flush=True)
    return phase


def bench_executor(executor: str, args: argparse.Namespace, pg: PostgresServer, redis: RedisServer | None,
                   s3: S3Server | None, root: Path) -> list[Phase]:
    home = root / executor
    defs, dag_folder = write_definitions(home, args.dags)
    database = f"bench_meta_{executor}"
    pg.execute(f"DROP DATABASE IF EXISTS {database}", superuser=True, database="postgres")
    pg.execute(f"CREATE DATABASE {database} OWNER {pg.user}", superuser=True, database="postgres")
    staging = args.staging if args.staging != "auto" else ("s3" if executor == "celery" else "file")
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "1000",
        "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1",
        "AIRFLOW_CONN_BENCH_DB": json.dumps({"conn_type": "postgres", "host": pg.host, "port": pg.port,
                                             "login": pg.user, "password": pg.password, "schema": pg.database}),
    }
    if staging == "s3":
        assert s3 is not None
        env.update({
            "AIRFLOW__BATCHTASKS__STAGING_URL": f"s3://{BUCKET}/{executor}/staging",
            "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"s3://{BUCKET}/{executor}/archive",
            "AIRFLOW__BATCHTASKS__STORAGE_CONN_ID": "object_store",
            "AIRFLOW_CONN_OBJECT_STORE": s3.airflow_connection(),
        })
    else:
        env.update({"AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{home}/staging",
                    "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{home}/archive"})
    half = max(1, args.slots // 2)
    workers = [CeleryWorker("worker_a", ["default"], half), CeleryWorker("worker_b", ["default"], half)]
    airflow = CeleryAirflowInstance(
        home / "airflow", dag_folder, env=env, broker_url=redis.url if redis else "redis://127.0.0.1:1/0",
        database_url=f"postgresql+psycopg2://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{database}",
        workers=workers if executor == "celery" else [], parallelism=args.slots,
        executor="CeleryExecutor" if executor == "celery" else "LocalExecutor", triggerer=False,
    )
    print(f"{executor}: starting Airflow ({staging} staging, {args.slots} task slots)", flush=True)
    phases = []
    try:
        airflow.start()
        empty = [f"empty_{i:03d}" for i in range(args.dags)]
        ours = [f"bench_{i:03d}" for i in range(args.dags)]
        for dag_id in (*empty, *ours):
            airflow.wait_for_dag(dag_id, timeout=300)
        for kind, dag_ids in (("baseline", empty), ("batchtasks", ours)):
            phases.append(run_phase(airflow, executor, kind, dag_ids, args.runs, args.timeout, staging))
    except BaseException:
        print(airflow.process_logs(40), file=sys.stderr)
        raise
    finally:
        airflow.stop(timeout=10)
    return phases


def table(phases: Iterable[Phase]) -> str:
    phases = list(phases)
    lines = [
        "| executor | staging | steps | runs ok | wall s | runs/min | mean run s | p95 run s | step s per run "
        "| queue wait s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        lines.append(
            f"| {p.executor} | {p.staging} | {p.kind} | {p.succeeded}/{p.runs} | {p.wall_seconds} | "
            f"{p.runs_per_minute} | {p.mean_run_seconds} | {p.p95_run_seconds} | {p.mean_step_seconds_per_run} | "
            f"{p.mean_queue_wait_seconds} |"
        )
    lines += ["", "| executor | our overhead per run: step time | run duration | throughput |", "|---|---|---|---|"]
    by = {(p.executor, p.kind): p for p in phases}
    for executor in dict.fromkeys(p.executor for p in phases):
        base, ours = by.get((executor, "baseline")), by.get((executor, "batchtasks"))
        if base and ours:
            lines.append(
                f"| {executor} | +{ours.mean_step_seconds_per_run - base.mean_step_seconds_per_run:.2f} s | "
                f"+{ours.mean_run_seconds - base.mean_run_seconds:.2f} s | "
                f"{ours.runs_per_minute / base.runs_per_minute:.2f}x of baseline |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executor", choices=("local", "celery", "both"), default="both")
    parser.add_argument("--runs", type=int, default=200, help="runs per phase (default 200)")
    parser.add_argument("--dags", type=int, default=20, help="DAGs the runs are spread over (default 20)")
    parser.add_argument("--slots", type=int, default=4, help="task slots per executor (default 4)")
    parser.add_argument("--staging", choices=("auto", "file", "s3"), default="auto",
                        help="auto: S3 (moto) on Celery, local files on LocalExecutor")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for one phase")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    executors = ["local", "celery"] if args.executor == "both" else [args.executor]
    need_s3 = args.staging == "s3" or (args.staging == "auto" and "celery" in executors)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="batchtasks-throughput-") as tmp, PostgresServer() as pg:
        pg.execute("ALTER SYSTEM SET max_connections = 300", superuser=True)
        pg.restart()
        redis = RedisServer().start() if "celery" in executors else None
        s3 = S3Server().start() if need_s3 else None
        try:
            if s3 is not None:
                s3.create_bucket(BUCKET)
            for executor in executors:
                phases += bench_executor(executor, args, pg, redis, s3, Path(tmp))
        finally:
            for server in (redis, s3):
                if server is not None:
                    server.close()
    print()
    print(table(phases))
    if args.json:
        args.json.write_text(json.dumps([asdict(p) for p in phases], indent=1))
    return 0 if all(p.succeeded == p.runs for p in phases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
