"""Notifications and retries through a real Airflow (scheduler + LocalExecutor workers + API server).

What ``dag.test()`` cannot prove: in a real run a step cannot read the metadata DB (``notify`` learns
the outcome through the Task SDK's API), the task log is masked by the supervisor rather than in the
task process (the failure record must redact secrets itself), and the scheduler decides the run's
state with ``notify`` as a teardown: a failed run stays failed, a successful run whose notification
fails stays successful.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import StartAirflow
from tests.servers.fixtures import smtp_server  # noqa: F401 - fixture
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.e2e

SECRET = "e2e-hunter2-never-in-mail"

TASKS = """
kind: task
name: e2e_notify_broken
schedule: none
retries: {count: 1, delay: 1s}
source: {type: sql, conn_id: shop, query: "select '{{ var.value.shop_secret }}', * from no_such_table"}
destinations: [{type: local, path: __OUT__}]
notify:
  on_failure: {to: [oncall@example.com, 5551234567@sms.example.net], conn_id: mail}
---
kind: task
name: e2e_notify_badmail
schedule: none
source: {type: sql, conn_id: shop, query: "select * from items"}
output: {name: items.csv}
destinations: [{type: local, path: __OUT__}]
notify:
  on_success: {to: [team@example.com], conn_id: bad_mail, attach: true}
"""


def test_failure_mail_and_teardown_semantics_in_a_real_run(
    tmp_path: Path, start_airflow: StartAirflow, smtp_server: SmtpServer,  # noqa: F811
) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.execute("insert into items values (1, 'one')")
    out = tmp_path / "out"
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    (defs / "tasks.yaml").write_text(TASKS.replace("__OUT__", str(out)))
    bad_mail = {**smtp_server.connection(), "password": "wrong"}
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{tmp_path}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{tmp_path}/archive",
        "AIRFLOW_CONN_SHOP": json.dumps({"conn_type": "sqlite", "host": str(db)}),
        "AIRFLOW_CONN_MAIL": json.dumps(smtp_server.connection()),
        "AIRFLOW_CONN_BAD_MAIL": json.dumps(bad_mail),
        "AIRFLOW_VAR_SHOP_SECRET": SECRET,
    }
    dags.mkdir()
    subprocess.run([sys.executable, "-m", "airflow", "batchtasks", "init", "--dags-folder", str(dags)],
                   check=True, capture_output=True, env={**env, "AIRFLOW_HOME": str(tmp_path / "cli_home")})
    smtp_server.clear()
    airflow = start_airflow(dags, env=env)

    runs = {}
    for dag_id in ("e2e_notify_broken", "e2e_notify_badmail"):
        airflow.wait_for_dag(dag_id)
        airflow.unpause(dag_id)
        runs[dag_id] = airflow.trigger(dag_id)

    # A step failed after its retry: the run is failed, notify (the teardown) ran and succeeded.
    broken = runs["e2e_notify_broken"]
    assert airflow.wait_for_run("e2e_notify_broken", broken, timeout=180) == "failed"
    steps = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("e2e_notify_broken", broken)}
    assert steps == {"extract": "failed", "package": "upstream_failed", "deliver": "upstream_failed",
                     "notify": "success"}, airflow.task_log("e2e_notify_broken", broken, "notify")
    received = {tuple(m.rcpt_tos): m for m in smtp_server.wait_for(2)}
    assert set(received) == {("oncall@example.com",), ("5551234567@sms.example.net",)}
    text = received[("oncall@example.com",)].text()
    assert "Batch task e2e_notify_broken FAILED at step extract: no such table: no_such_table" in text
    assert "Failed step: extract (try 2 of 2)" in text
    assert "INFO select '***', * from no_such_table" in text, text  # the step's log, redacted
    for message in received.values():
        assert SECRET not in message.raw.decode(errors="replace")
    sms = received[("5551234567@sms.example.net",)]
    assert not sms.message.is_multipart() and len(sms.text().strip()) <= 160

    # Every step succeeded but the notification failed: notify is failed, the run stays successful.
    badmail = runs["e2e_notify_badmail"]
    assert airflow.wait_for_run("e2e_notify_badmail", badmail, timeout=180) == "success"
    steps = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("e2e_notify_badmail", badmail)}
    assert steps == {"extract": "success", "package": "success", "deliver": "success", "notify": "failed"}
    assert "SMTPAuthenticationError" in airflow.task_log("e2e_notify_badmail", badmail, "notify")
    assert (out / "items.csv").read_text() == "id,name\n1,one\n"
