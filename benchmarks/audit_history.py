"""Database time of the audit history (``GET /audit``) at scale: 1,000 tasks x 100 runs and 100,000 log rows.

What it builds, in a SQLite file with Airflow's own tables and indexes (``Base.metadata``, the schema
the migrations end at): ``--tasks`` batch-task DAGs in 10 projects (their tags), ``--runs`` ended runs per
task (success, failed, or skipped, with 3 task instances each, as the scheduler leaves them), and
``--log-rows`` audit entries spread over the same weeks (our ``batchtasks.<action>`` entries with masked
extras, Airflow's run and pause events, and other Airflow events the history must skip).

Then it times :func:`history.list_audit` (the two counts, the ``UNION ALL`` page and the reads of its rows,
masking included; output files left out: they are the file history's own cost) ``--repeat`` times per
case, as an admin (no DAG filter) and as a user who may read 100 DAGs, and prints p50 / p95 per case.

    uv run python benchmarks/audit_history.py                  # full size, ~2 minutes
    uv run python benchmarks/audit_history.py --tasks 100      # quick look

Target (issue 13): p95 under 300 ms on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow.models import import_all_models  # noqa: E402
from airflow.models.base import Base  # noqa: E402
from airflow.models.dag import DagTag  # noqa: E402
from airflow.models.dagrun import DagRun  # noqa: E402
from airflow.models.log import Log  # noqa: E402
from airflow.models.taskinstance import TaskInstance  # noqa: E402

from airflow_batchtasks.plugins.data import history  # noqa: E402

PROJECTS = 10
STEPS = ("extract", "package", "deliver")
START = datetime(2026, 9, 1, tzinfo=timezone.utc)
TARGET_MS = 300.0
OUR_EVENTS = ("run", "skip", "retry", "resend", "download", "enable", "disable", "definition_update")
AIRFLOW_EVENTS = ("trigger_dag_run", "clear_dag_run", "patch_dag", "get_dag", "get_task_instances")


def build(db: Path, tasks: int, runs: int, log_rows: int) -> None:
    import_all_models()
    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    rng = random.Random(13)
    names = [f"task_{i:04d}" for i in range(tasks)]
    span = timedelta(days=90)
    with Session(engine) as s:
        s.execute(insert(DagTag.__table__), [
            {"dag_id": n, "name": tag} for i, n in enumerate(names)
            for tag in ("batchtasks", f"project:p{i % PROJECTS}", f"owner:o{i % 7}")
        ])
        for i, name in enumerate(names):
            rows, tis = [], []
            for j in range(runs):
                start = START + span * (j / runs) + timedelta(minutes=i % 60)
                kind = rng.choices(("success", "failed", "skipped"), (8, 1, 1))[0]
                rows.append({
                    "dag_id": name, "run_id": f"manual__{j:04d}", "state": "failed" if kind == "skipped" else kind,
                    "run_type": "scheduled" if j % 2 else "manual", "triggering_user_name": None if j % 2 else "alice",
                    "run_after": start, "start_date": start, "end_date": start + timedelta(seconds=rng.randint(5, 600)),
                    "conf": {"region": "EU", "db_password": "secret"}, "clear_number": 0,
                })
                for step in STEPS:
                    state = {"success": "success", "failed": "failed", "skipped": "skipped"}[kind]
                    tis.append({
                        "id": uuid.uuid4(), "dag_id": name, "run_id": f"manual__{j:04d}", "task_id": step,
                        "map_index": -1, "state": state, "try_number": 1, "max_tries": 0, "pool": "default_pool",
                        "pool_slots": 1, "priority_weight": 1, "span_status": "not_started",
                        "custom_operator_name": "", "hostname": "", "unixname": "", "queue": "default",
                        "weight_rule": "downstream",
                    })
            s.execute(insert(DagRun.__table__), rows)
            s.execute(insert(TaskInstance.__table__), tis)
        entries = []
        for k in range(log_rows):
            name = rng.choice(names)
            when = START + span * rng.random()
            base = {"dttm": when, "dag_id": name, "task_id": None, "map_index": None, "logical_date": None,
                    "owner_display_name": None, "try_number": None, "run_id": f"manual__{rng.randrange(runs):04d}"}
            if k % 5:
                event = rng.choice(OUR_EVENTS)
                extra = {"outcome": "done"}
                if event == "run":
                    extra["args"] = "region=EU db_password=***"
                entries.append({**base, "event": f"batchtasks.{event}", "owner": rng.choice(("alice", "bob", "admin")),
                                "extra": json.dumps(extra)})
            else:
                entries.append({**base, "event": rng.choice(AIRFLOW_EVENTS), "owner": "admin",
                                "extra": json.dumps({"method": "PATCH", "is_paused": False})})
        s.execute(insert(Log.__table__), entries)
        s.commit()


def measure(db: Path, tasks: int, repeat: int) -> list[tuple[str, list[float]]]:
    engine = create_engine(f"sqlite:///{db}")
    rng = random.Random(7)
    some = {f"task_{i:04d}" for i in rng.sample(range(tasks), min(100, tasks))}
    cases = [
        ("admin, no filter, page 1", {}, None, 0),
        ("admin, no filter, page 100 (offset 4,950)", {}, None, 4950),
        ("admin, task contains", {"task": "task_00"}, None, 0),
        ("admin, project", {"project": "p3"}, None, 0),
        ("admin, user", {"user": "alice"}, None, 0),
        ("admin, action run_ended", {"actions": ("run_ended",)}, None, 0),
        ("admin, action run_skipped", {"actions": ("run_skipped",)}, None, 0),
        ("admin, action run_failed", {"actions": ("run_failed",)}, None, 0),
        ("admin, action run,skip + dates", {"actions": ("run", "skip"), "from_date": START + timedelta(days=30),
                                            "to_date": START + timedelta(days=40)}, None, 0),
        ("user reading 100 DAGs, no filter", {}, some, 0),
    ]
    out = []
    with Session(engine) as s:
        for label, kw, readable, offset in cases:
            f = history.AuditFilter(**kw)
            history.list_audit(s, f, readable, 50, offset, with_files=False)  # warm the page cache
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                got = history.list_audit(s, f, readable, 50, offset, with_files=False)
                times.append((time.perf_counter() - t) * 1000)
            assert got.entries or offset, f"{label}: no entry"
            out.append((f"{label} ({got.total:,} matches)", times))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--log-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", type=Path, help="keep the database here (built only if missing)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or Path(tmp) / "audit.db"
        if not db.exists():
            t = time.perf_counter()
            build(db, args.tasks, args.runs, args.log_rows)
            print(f"built {args.tasks:,} tasks x {args.runs} runs + {args.log_rows:,} log rows "
                  f"in {time.perf_counter() - t:.0f} s")
        print("| case | p50 ms | p95 ms |\n|---|---:|---:|")
        worst = 0.0
        for label, times in measure(db, args.tasks, args.repeat):
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            worst = max(worst, p95)
            print(f"| {label} | {statistics.median(times):.0f} | {p95:.0f} |")
        print(f"\nworst p95 {worst:.0f} ms (target {TARGET_MS:.0f} ms): {'ok' if worst < TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    main()
