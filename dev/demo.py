"""End-to-end demo: a real Airflow runs the example task ``demo_sales_extract`` and delivers a file.

Run via ``dev/demo.sh`` (or ``uv run python -m dev.demo [--once] [--port N]`` from the repo root).

Layout, all under ``<repo>/.demo`` (git-ignored; env ``DEMO_ROOT`` overrides) so the demo never touches
``~/airflow``:

* ``airflow/``  AIRFLOW_HOME (SQLite DB, airflow.cfg, task logs, ``process_logs/`` of the components)
* ``dags/``     dags folder, filled by ``airflow batchtasks init``
* ``sales.db``  SQLite source, exposed to Airflow as connection ``demo_db``
* ``outbox/``   where the example definitions deliver (Airflow variable ``demo_outbox``; the
  environment also carries ``BATCHTASKS_DEMO_ROOT=<repo>/.demo``)

The YAML definitions come from ``<repo>/examples/definitions`` (``[batchtasks] definitions_folder``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import quote

from dev.airflow_runner import PASSWORDS, AirflowInstance, port_is_free

REPO = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("DEMO_ROOT") or REPO / ".demo").resolve()  # tests point DEMO_ROOT elsewhere
DEFINITIONS = REPO / "examples" / "definitions"
DAG_ID = "demo_sales_extract"

#: Columns match the query of examples/definitions/sales.yaml (id, day, region, amount).
SALES = [
    (1, "2024-01-05", "EU", "Widget", 29.97),
    (2, "2024-01-06", "US", "Gadget", 49.90),
    (3, "2024-01-06", "EU", "Gizmo", 17.50),
    (4, "2024-01-07", "US", "Widget", 19.98),
    (5, "2024-01-08", "EU", "Gadget", 249.50),
]


def create_sales_db(path: Path) -> None:
    """(Re)create the demo source so every demo run extracts the same rows."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sales (id INTEGER PRIMARY KEY, day TEXT, region TEXT, product TEXT, amount REAL)"
        )
        db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?)", SALES)
    path.chmod(0o644)


def init_dags_folder(airflow: AirflowInstance) -> None:
    """Let the provider write its DAG loader into the dags folder (``[core] dags_folder`` of the instance)."""
    result = airflow.cli("batchtasks", "init")
    if result.returncode != 0:
        raise SystemExit(
            f"`airflow batchtasks init` failed (rc={result.returncode}):\n{result.stdout}{result.stderr}"
        )


def delivered_files(outbox: Path, since: float) -> list[Path]:
    """Files under ``outbox`` written by this run (newest first)."""
    found = [p for p in outbox.rglob("*") if p.is_file() and p.stat().st_mtime >= since - 1]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def show_file(path: Path, lines: int = 10) -> None:
    print(f"Delivered file: {path}")
    data = path.read_bytes()
    if b"\0" in data[:4096]:  # compressed/encrypted deliveries
        print(f"    <binary, {len(data)} bytes>")
        return
    for line in data.decode(errors="replace").splitlines()[:lines]:
        print(f"    {line}")


def run_demo(airflow: AirflowInstance, outbox: Path) -> bool:
    """Parse, unpause, trigger and wait for ``demo_sales_extract``; print what it delivered."""
    init_dags_folder(airflow)
    print(f"Waiting for DAG {DAG_ID} to be parsed ...")
    airflow.wait_for_dag(DAG_ID, timeout=120)
    airflow.unpause(DAG_ID)
    started = time.time()
    run_id = airflow.trigger(DAG_ID)
    print(f"Triggered {DAG_ID} run {run_id}; waiting ...")
    state = airflow.wait_for_run(DAG_ID, run_id, timeout=300)
    print(f"Run finished: {state} ({time.time() - started:.1f}s)")
    if state != "success":
        for ti in airflow.task_instances(DAG_ID, run_id):
            if ti["state"] != "success":
                print(f"--- log of {ti['task_id']} ({ti['state']}) ---")
                print(airflow.task_log(DAG_ID, run_id, ti["task_id"], max(ti["try_number"], 1)))
        return False
    files = delivered_files(outbox, started)
    if not files:
        print(f"No file was delivered under {outbox}")
        return False
    for path in files:
        show_file(path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="stop Airflow after the run (for tests/CI)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_PORT", "8080")))
    args = parser.parse_args(argv)

    if not port_is_free(args.port):
        print(f"Port {args.port} is in use; set DEMO_PORT or pass --port.", file=sys.stderr)
        return 2
    # A plain `kill` must still stop the components (they run in their own sessions).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, _interrupt)

    outbox = DEMO / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    create_sales_db(DEMO / "sales.db")
    env = {
        "BATCHTASKS_DEMO_ROOT": str(DEMO),
        "AIRFLOW_CONN_DEMO_DB": "sqlite://" + quote(str(DEMO / "sales.db"), safe=""),
        "AIRFLOW_VAR_DEMO_OUTBOX": str(outbox),
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(DEFINITIONS),
    }
    airflow = AirflowInstance(DEMO / "airflow", DEMO / "dags", env=env, port=args.port)
    print(f"Starting Airflow in {airflow.home} (component logs: {airflow.log_dir}) ...")
    try:
        with airflow:
            print(f"Airflow is up after {airflow.startup_seconds:.1f}s")
            ok = run_demo(airflow, outbox)
            print(f"\nAirflow UI: {airflow.base_url}  login: admin / {PASSWORDS['admin']}")
            if args.once:
                return 0 if ok else 1
            print("Press Ctrl-C to stop.")
            while airflow.running:
                time.sleep(1)
            print("An Airflow component exited:\n" + airflow.process_logs(), file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("Stopped.")
        return 130


def _interrupt(*_: object) -> None:
    """First Ctrl-C: stop gracefully. Later ones are ignored: `uv run` forwards Ctrl-C on top of the
    terminal's own SIGINT, and a second KeyboardInterrupt would cut the graceful stop short (stop()
    escalates to SIGKILL after 15 s anyway)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("\nStopping Airflow ...", flush=True)
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
