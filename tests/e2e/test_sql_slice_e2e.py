"""The first slice through a real Airflow: SQL over ODBC -> CSV -> SFTP, triggered through the REST API.

Unlike ``dag.test()``, task code here runs in LocalExecutor workers that talk to
the API server only, so a step that touched the metadata DB would fail here.
Also checks that a broken definition shows up in Airflow as a placeholder
without hiding the valid DAGs.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from airflow_batchtasks.compat import AIRFLOW_V_3_2_PLUS
from tests.e2e.airflow_instance import StartAirflow
from tests.servers import PostgresServer, SshServer, find_odbc_driver
from tests.servers.fixtures import postgres_server, sshd_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

TASK = """
kind: project
name: vendor
owners: [admin]
---
kind: task
name: e2e_orders
project: vendor
schedule: "0 __HOUR__ * * *"
params:
  status: {default: open, description: Order status to extract}
source:
  type: sql
  conn_id: warehouse
  query: "select id, status, total from orders where status = '{{ params.status }}' order by id"
output:
  name: "orders_{{ params.status }}.csv"
  quoting: nonnumeric
destinations:
  - type: sftp
    conn_id: vendor_sftp
    path: __INBOX__
    overwrite: false
"""

BROKEN = """
kind: task
name: e2e_broken
source: {type: sql, conn_id: warehouse}
destination: []
"""


def test_sql_to_sftp_through_real_airflow(
    tmp_path: Path, start_airflow: StartAirflow, postgres_server: PostgresServer, sshd_server: SshServer  # noqa: F811
) -> None:
    postgres_server.execute("drop table if exists orders")
    postgres_server.execute("create table orders (id int, status text, total numeric(10,2))")
    postgres_server.execute("insert into orders select g, case when g % 3 = 0 then 'open' else 'closed' end, g * 0.5 "
                            "from generate_series(1, 3000) g")
    inbox = sshd_server.root / "e2e_inbox"
    inbox.mkdir(exist_ok=True)
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    # Twelve hours from now: Airflow (3.1 to 3.4) runs a cron DAG's last slot at once when it is unpaused within
    # a tenth of the interval after it (run_immediately=False acts as None), which at 06:xx made a second,
    # scheduled run deliver orders_open.csv before the triggered one, whose delivery then found the file there.
    hour = (datetime.now(timezone.utc).hour + 12) % 24
    (defs / "orders.yaml").write_text(TASK.replace("__INBOX__", str(inbox)).replace("__HOUR__", str(hour)))
    (defs / "broken.yaml").write_text(BROKEN)
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{tmp_path}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{tmp_path}/archive",
        "AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA": "True",
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({
            "conn_type": "odbc", "host": postgres_server.host, "port": postgres_server.port,
            "login": postgres_server.user, "password": postgres_server.password,
            "schema": postgres_server.database,
            "extra": {"driver": str(find_odbc_driver()), "UseDeclareFetch": "1"},
        }),
        "AIRFLOW_CONN_VENDOR_SFTP": json.dumps(sshd_server.connection()),
    }
    dags.mkdir()
    # `airflow batchtasks` needs Airflow 3.2+ (provider CLI); 3.1 has the provider's own console script.
    cli = [sys.executable, "-m", "airflow", "batchtasks"] if AIRFLOW_V_3_2_PLUS else [
        sys.executable, "-m", "airflow_batchtasks.cli_main"]
    subprocess.run([*cli, "init", "--dags-folder", str(dags)],
                   check=True, capture_output=True, env={**env, "AIRFLOW_HOME": str(tmp_path / "cli_home")})
    airflow = start_airflow(dags, env=env)

    dag = airflow.wait_for_dag("e2e_orders")
    assert {t["name"] for t in dag["tags"]} >= {"batchtasks", "project:vendor", "owner:admin"}
    broken = airflow.wait_for_dag("e2e_broken")
    assert "batchtasks:invalid" in {t["name"] for t in broken["tags"]}
    details = airflow.api("GET", "/api/v2/dags/e2e_broken/details").json()
    assert "broken.yaml:5: destination: unknown key `destination` (did you mean `destinations`?)" in details["doc_md"]
    assert airflow.import_errors() == []

    airflow.unpause("e2e_orders")
    run_id = airflow.trigger("e2e_orders", conf={"status": "open"})
    state = airflow.wait_for_run("e2e_orders", run_id, timeout=180)
    steps = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("e2e_orders", run_id)}
    assert state == "success", (steps, airflow.task_log("e2e_orders", run_id, "extract"))
    assert steps == {"extract": "success", "package": "success", "deliver": "success"}

    delivered = sorted(p.name for p in inbox.iterdir())
    assert delivered == ["orders_open.csv"], "the file, and no temporary .part file"
    body = (inbox / "orders_open.csv").read_bytes()
    lines = body.decode().splitlines()
    assert lines[0] == '"id","status","total"'
    assert lines[1] == '3,"open",1.50'
    assert len(lines) == 1 + 1000
    records = [json.loads(p.read_text()) for p in (tmp_path / "archive").rglob("*.record.json")]
    assert len(records) == 1
    assert records[0]["md5"] == hashlib.md5(body).hexdigest()
    assert records[0]["rows"] == 1000
    assert records[0]["destinations"][0]["path"] == str(inbox / "orders_open.csv")
    extract_log = airflow.task_log("e2e_orders", run_id, "extract")
    assert "1000 rows written to orders_open.csv" in extract_log
    assert "status = ?" in extract_log, "the run argument was bound, not spliced into the SQL"

    # Signed in by Airflow's session cookie alone, as a browser opening the pages from Airflow's menu: the page
    # and its scripts' REST calls work on every Airflow version (3.1's own get_user reads only the header).
    cookie = {"_token": airflow.token("admin")}
    page = airflow.api("GET", "/batchtasks/ui/tasks", username=None, cookies=cookie)
    assert page.status_code == 200 and "e2e_orders" in page.text, page.text[:500]
    listed = airflow.api("GET", "/batchtasks/api/v1/tasks", username=None, cookies=cookie)
    assert listed.status_code == 200 and "e2e_orders" in {t["name"] for t in listed.json()["tasks"]}, listed.text
    assert airflow.api("GET", "/batchtasks/api/v1/tasks", username=None).status_code == 401
