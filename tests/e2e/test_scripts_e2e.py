"""API call -> processing script -> local file, and a remote ssh command, through a real Airflow.

What ``dag.test()`` cannot show: the steps run in LocalExecutor workers under
Airflow's task supervisor, whose log pipeline (and secrets masker) writes the
task logs the UI shows, and the PARTIAL mark travels as a real XCom.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.airflow_instance import StartAirflow
from tests.servers import SshServer
from tests.servers.fixtures import sshd_server  # noqa: F401 - fixture
from tests.servers.http_api import Answer, HttpApiServer

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-Api-pa55word-masked"

DEFINITIONS = """
kind: task
name: e2e_api_export
params: {region: {default: EU}}
source:
  type: http
  conn_id: iam_api
  method: GET
  endpoint: "/api/users?region={{ params.region }}"
  keep_response: true
output: {name: users.json}
processing:
  requirements: [tabulate]
  expose_connections: true
  inline: |
    import json, os, sys
    from tabulate import tabulate
    users = json.load(open(sys.argv[1]))["users"]
    target = os.path.join(os.environ["BATCHTASK_WORK_DIR"], "users.txt")
    open(target, "w").write(tabulate([[u["id"], u["name"]] for u in users], tablefmt="plain") + "\\n")
    print("region", os.environ["BATCHTASK_PARAM_REGION"], "password", os.environ["BATCHTASK_CONN_IAM_API_PASSWORD"])
    print("user 3 skipped: no e-mail", file=sys.stderr)
    print([target])
    sys.exit(3)
destinations: [{type: local, path: __OUT__}]
---
kind: task
name: e2e_remote
source: {type: ssh, conn_id: box, command: "echo remote-{{ params.word }}; hostname >/dev/null"}
params: {word: {default: hello}}
"""


def _xcom(airflow, dag_id: str, run_id: str, task_id: str, key: str) -> object:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
    value = airflow.api("GET", path, params={"deserialize": "true", "stringify": "false"}).json()["value"]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return ast.literal_eval(value)
    return value


def test_api_script_and_ssh_through_real_airflow(
    tmp_path: Path, start_airflow: StartAirflow, sshd_server: SshServer  # noqa: F811
) -> None:
    api = HttpApiServer().start()
    try:
        users = {"users": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}]}
        api.answers["/api/users"] = Answer(200, json.dumps(users).encode())
        out = tmp_path / "out"
        defs, dags = tmp_path / "definitions", tmp_path / "dags"
        defs.mkdir()
        (defs / "tasks.yaml").write_text(DEFINITIONS.replace("__OUT__", str(out)))
        env = {
            "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
            "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{tmp_path}/staging",
            "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{tmp_path}/archive",
            "AIRFLOW__BATCHTASKS__VENV_CACHE": str(tmp_path / "venvs"),
            "AIRFLOW_CONN_IAM_API": json.dumps({
                "conn_type": "http", "host": api.host, "port": api.port, "schema": "http",
                "login": "batch", "password": PASSWORD,
            }),
            "AIRFLOW_CONN_BOX": json.dumps(sshd_server.connection("ssh")),
        }
        dags.mkdir()
        subprocess.run([sys.executable, "-m", "airflow", "batchtasks", "init", "--dags-folder", str(dags)],
                       check=True, capture_output=True, env={**env, "AIRFLOW_HOME": str(tmp_path / "cli_home")})
        airflow = start_airflow(dags, env=env)
        airflow.wait_for_dag("e2e_api_export")
        airflow.wait_for_dag("e2e_remote")
        assert airflow.import_errors() == []
        airflow.unpause("e2e_api_export")
        airflow.unpause("e2e_remote")
        export_run = airflow.trigger("e2e_api_export", conf={"region": "US"})
        remote_run = airflow.trigger("e2e_remote", conf={"word": "there"})

        state = airflow.wait_for_run("e2e_api_export", export_run, timeout=240)
        steps = {ti["task_id"]: ti["state"] for ti in airflow.task_instances("e2e_api_export", export_run)}
        process_log = airflow.task_log("e2e_api_export", export_run, "process")
        assert state == "success", (steps, process_log)
        assert steps == {"extract": "success", "process": "success", "package": "success", "deliver": "success"}
        assert [r.path for r in api.requests] == ["/api/users?region=US"]
        assert (out / "users.txt").read_text() == "1  ann\n2  bob\n"
        assert "region US password ***" in process_log
        assert "user 3 skipped: no e-mail" in process_log
        assert PASSWORD not in process_log
        assert PASSWORD not in airflow.task_log("e2e_api_export", export_run, "extract")
        assert _xcom(airflow, "e2e_api_export", export_run, "process", "partial") == {
            "partial": True, "reason": "the processing script exited with 3"}

        state = airflow.wait_for_run("e2e_remote", remote_run, timeout=120)
        remote_log = airflow.task_log("e2e_remote", remote_run, "extract")
        assert state == "success", remote_log
        assert [ti["task_id"] for ti in airflow.task_instances("e2e_remote", remote_run)] == ["extract"]
        assert "remote-there" in remote_log
    finally:
        api.close()
