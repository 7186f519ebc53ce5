"""Beyond one machine: CeleryExecutor, two workers on different queues, staging and archive on S3.

Everything is real and on loopback: PostgreSQL (metadata DB, Celery results and the warehouse), Redis from
Debian as the broker, moto's S3 server as the object store, and two ``airflow celery worker`` processes
with separate working folders, each serving one queue. The task's ``extract`` is pinned to worker A and
its ``package``/``deliver`` to worker B, so the file can only get from one step to the next through the
object store. The test then checks, from the outside:

- which worker ran each step (task instance ``hostname``), and that each step ran on its queue;
- the delivered file is byte-for-byte what the query returned (md5), and the archive record on S3 says so;
- nothing was staged on local disk and both workers' temporary folders are empty after the run;
- the file history and resend of the REST API (when the provider's API plugin is installed) work off S3.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.celery_runner import CeleryAirflowInstance, CeleryWorker
from tests.servers.postgres import PostgresServer
from tests.servers.redis import RedisServer
from tests.servers.s3 import S3Server

pytestmark = pytest.mark.e2e

BUCKET = "batchtasks"
TASK = "celery_orders"
DEFINITION = f"""
kind: task
name: {TASK}
source:
  type: sql
  conn_id: warehouse
  query: "select id, customer, total from orders order by id"
output:
  name: "orders_{{{{ ds_nodash }}}}.csv"
destinations:
  - type: local
    path: __OUTBOX__
queues:
  extract: workers_a
  deliver: workers_b
"""
ROWS = 2500


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PostgresServer, RedisServer, S3Server]]:
    """A PostgreSQL of its own (Airflow with Celery needs more than the shared server's 50 connections)."""
    with PostgresServer() as pg, RedisServer() as redis, S3Server() as s3:
        pg.execute("ALTER SYSTEM SET max_connections = 200", superuser=True)
        pg.restart()
        pg.execute(f"CREATE DATABASE airflow_meta OWNER {pg.user}", superuser=True, database="postgres")
        s3.create_bucket(BUCKET)
        yield pg, redis, s3


def _expected_csv(pg: PostgresServer) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "customer", "total"])
    writer.writerows(pg.execute("select id, customer, total from orders order by id"))
    return buffer.getvalue().encode()


def test_steps_on_two_celery_workers_hand_over_through_s3(
    tmp_path: Path, servers: tuple[PostgresServer, RedisServer, S3Server], request: pytest.FixtureRequest
) -> None:
    pg, redis, s3 = servers
    pg.execute("drop table if exists orders")
    pg.execute("create table orders (id int primary key, customer text, total numeric(10,2))")
    pg.execute(f"insert into orders select g, 'customer ' || (g % 97), g * 1.25 from generate_series(1, {ROWS}) g")
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    dags.mkdir()
    (defs / "orders.yaml").write_text(DEFINITION.replace("__OUTBOX__", str(outbox)))
    (dags / "batchtasks_dags.py").write_text(
        "from airflow_batchtasks.dag_factory.loader import load_dags\n\nload_dags(globals())\n"
    )
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"s3://{BUCKET}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"s3://{BUCKET}/archive",
        "AIRFLOW__BATCHTASKS__STORAGE_CONN_ID": "object_store",
        "AIRFLOW_CONN_OBJECT_STORE": s3.airflow_connection(),
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({
            "conn_type": "postgres", "host": pg.host, "port": pg.port, "login": pg.user,
            "password": pg.password, "schema": pg.database,
        }),
    }
    workers = [CeleryWorker("worker_a", ["workers_a"]), CeleryWorker("worker_b", ["workers_b", "default"])]
    airflow = CeleryAirflowInstance(
        tmp_path / "home", dags, env=env, workers=workers, broker_url=redis.url,
        database_url=f"postgresql+psycopg2://{pg.user}:{pg.password}@{pg.host}:{pg.port}/airflow_meta",
    )
    try:
        airflow.start()
        _check_run(airflow, pg, s3, outbox)
    except BaseException:
        print(f"\n--- Airflow process logs ({airflow.home}) ---\n{airflow.process_logs(150)}")
        raise
    finally:
        airflow.stop(timeout=10)


def _check_run(airflow: CeleryAirflowInstance, pg: PostgresServer, s3: S3Server, outbox: Path) -> None:
    airflow.wait_for_dag(TASK, timeout=120)
    # The workers' own temporary files (multiprocessing's pymp-* of the prefork pool) predate the run.
    before = {name: set(_tmp_entries(airflow, name)) for name in ("worker_a", "worker_b")}
    airflow.unpause(TASK)
    run_id = airflow.trigger(TASK)
    state = airflow.wait_for_run(TASK, run_id, timeout=300)
    tis = {ti["task_id"]: ti for ti in airflow.task_instances(TASK, run_id)}
    assert state == "success", {t: (ti["state"], ti["hostname"]) for t, ti in tis.items()}

    # Where each step ran: extract on A's queue and worker, package (default queue) and deliver on B.
    assert {t: ti["queue"] for t, ti in tis.items()} == {
        "extract": "workers_a", "package": "default", "deliver": "workers_b"
    }
    assert {t: ti["hostname"] for t, ti in tis.items()} == {
        "extract": "worker_a", "package": "worker_b", "deliver": "worker_b"
    }

    # Intact at the destination.
    expected = _expected_csv(pg)
    [delivered] = list(outbox.iterdir())
    assert delivered.read_bytes() == expected
    md5 = hashlib.md5(expected).hexdigest()

    # The handover went through S3: staged extract on the store, and archive + record there too.
    keys = s3.objects(BUCKET)
    staged = [k for k in keys if k.startswith(f"staging/{TASK}/") and k.endswith(f"/extract/{delivered.name}")]
    assert len(staged) == 1, sorted(keys)
    assert s3.read(BUCKET, staged[0]) == expected
    records = [k for k in keys if k.startswith(f"archive/{TASK}/") and k.endswith(".record.json")]
    assert len(records) == 1, sorted(keys)
    record = json.loads(s3.read(BUCKET, records[0]))
    assert (record["name"], record["md5"], record["size"], record["rows"]) == (delivered.name, md5, len(expected), ROWS)
    assert record["destinations"][0]["path"] == str(delivered)
    assert hashlib.md5(s3.read(BUCKET, records[0].removesuffix(".record.json"))).hexdigest() == md5

    # Nothing on local disk: no file-based staging under AIRFLOW_HOME, and each worker's TMPDIR is empty.
    assert not (airflow.home / "batchtasks").exists()
    for name in ("worker_a", "worker_b"):
        leftovers = sorted(set(_tmp_entries(airflow, name)) - before[name])
        assert leftovers == [], f"the steps left temporary files on {name}: {leftovers}"

    if importlib.util.find_spec("airflow_batchtasks.plugins.api") is not None:
        _check_history_and_resend(airflow, run_id, delivered, md5)


def _tmp_entries(airflow: CeleryAirflowInstance, worker: str) -> list[Path]:
    return list((airflow.worker_dir(worker) / "tmp").rglob("*"))


def _check_history_and_resend(airflow: CeleryAirflowInstance, run_id: str, delivered: Path, md5: str) -> None:
    """File history is read from the S3 archive by the API server; resend sends the archived copy again."""
    resp = airflow.api("GET", f"/batchtasks/api/v1/tasks/{TASK}/files")
    assert resp.status_code == 200, resp.text
    [entry] = resp.json()["files"]
    assert (entry["name"], entry["md5"], entry["run_id"]) == (delivered.name, md5, run_id)

    download = airflow.api("GET", f"/batchtasks/api/v1/tasks/{TASK}/files/{entry['id']}")
    assert download.status_code == 200, download.text
    assert hashlib.md5(download.content).hexdigest() == md5

    delivered.unlink()
    resent = airflow.api("POST", f"/batchtasks/api/v1/tasks/{TASK}/files/{entry['id']}/resend")
    assert resent.status_code == 202, resent.text  # a run of the resend DAG of the deliver queue, on worker B
    queued = resent.json()
    assert airflow.wait_for_run(queued["dag_id"], queued["run_id"], timeout=300) == "success"
    [ti] = airflow.task_instances(queued["dag_id"], queued["run_id"])
    assert ti["queue"] == "workers_b"
    assert hashlib.md5(delivered.read_bytes()).hexdigest() == md5
