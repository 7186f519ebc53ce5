"""Shared setup of the REST API e2e tests: a definitions folder, a SQLite source, a real Airflow.

Each ``test_api_*`` module starts its own Airflow (module-scoped fixture) through
:func:`start_api_airflow`; tasks run for real (LocalExecutor workers, real
deliveries), and every call goes through ``/batchtasks/api/v1`` with a token
from ``/auth/token``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from tests.e2e.airflow_instance import AirflowInstance

API = "/batchtasks/api/v1"
#: A password that must never appear in any API answer (the `warehouse` connection has it).
SECRET = "TopSecret-42-never-shown"

PROJECTS = """
kind: project
name: sales
description: Sales extracts
owners: [admin, alice]
---
kind: project
name: ops
owners: [op]
"""

DAILY_SALES = """
kind: task
name: daily_sales
project: sales
description: Sales of one region
schedule: "0 6 * * *"
timezone: Europe/Paris
params:
  region: {default: EU, enum: [EU, US], description: Sales region}
  limit: {default: 100, type: integer, description: Max rows}
source:
  type: sql
  conn_id: shop
  query: "select id, region, amount from sales where region = '{{ params.region }}' order by id"
output:
  name: "sales_{{ params.region }}.csv"
destinations:
  - type: local
    path: __OUT__
"""

SLOW_SPLIT = """
kind: task
name: slow_split
project: ops
description: Sleeps, then writes two files
params:
  seconds: {default: 0, type: integer}
source: {type: python}
processing:
  inline: |
    import os, time
    time.sleep(int(os.environ["BATCHTASK_PARAM_SECONDS"]))
    work = os.environ["BATCHTASK_WORK_DIR"]
    paths = []
    for part in ("a", "b"):
        path = os.path.join(work, f"part_{part}.txt")
        with open(path, "w") as fh:
            fh.write(f"part {part}\\n")
        paths.append(path)
    print(paths)
destinations:
  - type: local
    path: __OUT__
"""

FLAKY = """
kind: task
name: flaky_export
project: ops
retries: {count: 3, delay: 1h}
source:
  type: sql
  conn_id: shop
  query: "select * from no_such_table"
destinations:
  - type: local
    path: __OUT__
"""

#: Never run: only here so a definition names a connection that has a password.
WAREHOUSE = """
kind: task
name: warehouse_export
enabled: false
source:
  type: sql
  conn_id: warehouse
  query: "select 1"
"""

LOADER = "from airflow_batchtasks.dag_factory import load_dags; load_dags(globals())\n"


def write_definitions(folder: Path, out: Path, extra: Mapping[str, str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "projects.yaml").write_text(PROJECTS)
    for name, text in {"daily_sales": DAILY_SALES, "slow_split": SLOW_SPLIT, "flaky_export": FLAKY,
                       "warehouse_export": WAREHOUSE, **(extra or {})}.items():
        (folder / f"{name}.yaml").write_text(text.replace("__OUT__", str(out)))


def make_shop(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("create table sales (id int, region text, amount real)")
        conn.executemany("insert into sales values (?, ?, ?)",
                         [(i, "EU" if i % 2 else "US", i * 1.5) for i in range(1, 21)])


def airflow_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(root / "definitions"),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{root}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{root}/archive",
        "AIRFLOW__BATCHTASKS__VENV_CACHE": str(root / "venvs"),
        # the folders the e2e definitions deliver to (`out`; `big_out` of the reliability test): a user
        # (DAG edit only) may write definitions that deliver there, and runs may write nowhere else
        "AIRFLOW__BATCHTASKS__LOCAL_ROOTS": f"{root / 'out'},{root / 'big_out'}",
        "AIRFLOW_CONN_SHOP": json.dumps({"conn_type": "sqlite", "host": str(root / "shop.db")}),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({
            "conn_type": "postgres", "host": "db.invalid", "login": "etl", "password": SECRET,
            "extra": {"sslkey_password": SECRET},
        }),
        **(extra or {}),
    }


def start_api_airflow(
    root: Path, *, extra_definitions: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> AirflowInstance:
    """Definitions + SQLite shop + loader under ``root``, then a started Airflow (stop it yourself)."""
    out = root / "out"
    out.mkdir(parents=True, exist_ok=True)
    write_definitions(root / "definitions", out, extra_definitions)
    make_shop(root / "shop.db")
    dags = root / "dags"
    dags.mkdir(exist_ok=True)
    (dags / "batchtasks_dags.py").write_text(LOADER)
    instance = AirflowInstance(root / "home", dags, env=airflow_env(root, env))
    instance.start()
    return instance


@contextmanager
def serving(
    instance: AirflowInstance, dag_ids: Iterable[str] = (), *, start: bool = False, timeout: float = 120
) -> Iterator[AirflowInstance]:
    """A module's Airflow (started here if ``start``) once ``dag_ids`` are parsed; its process logs are printed
    when starting or a test fails through it, and it is stopped at the end."""
    try:
        if start:
            instance.start()
        for dag_id in dag_ids:
            instance.wait_for_dag(dag_id, timeout=timeout)
        yield instance
    except BaseException:
        print(instance.process_logs(120))
        raise
    finally:
        instance.stop(timeout=5)


def call(airflow: AirflowInstance, method: str, path: str, user: str | None = "admin", **kw: Any) -> httpx.Response:
    """A call to the batch tasks API (``path`` relative to ``/batchtasks/api/v1``) as ``user`` (None: anonymous)."""
    return airflow.api(method, API + path, username=user, **kw)


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url} -> {resp.status_code}: {resp.text}"
    return resp.json() if resp.content and resp.headers.get("content-type", "").startswith("application/json") \
        else resp.content


def q(run_id: str) -> str:
    """A run id as one path segment (``:`` and ``+`` escaped)."""
    return quote(run_id, safe="")


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 120.0, every: float = 0.5) -> Any:
    """Poll ``probe`` until it returns something truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def run_state(airflow: AirflowInstance, task: str, run_id: str) -> dict[str, Any]:
    return ok(call(airflow, "GET", f"/tasks/{task}/runs/{q(run_id)}"))


def wait_run(airflow: AirflowInstance, task: str, run_id: str, states: tuple[str, ...] = ("success", "failed"),
             timeout: float = 180.0) -> dict[str, Any]:
    return wait_for(f"{task}/{run_id} in {states}",
                    lambda: (r := run_state(airflow, task, run_id))["state"] in states and r, timeout)


def audit_events(airflow: AirflowInstance, dag_id: str, event: str) -> list[dict[str, Any]]:
    """Entries of Airflow's own audit log (through Airflow's REST API) for one DAG and event."""
    resp = airflow.api("GET", "/api/v2/eventLogs", params={"dag_id": dag_id, "event": event, "limit": 1000})
    assert resp.status_code == 200, resp.text
    return resp.json()["event_logs"]
