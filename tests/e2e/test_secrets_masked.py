"""No secret in clear anywhere a viewer reads, against a real Airflow api-server.

One definition holds a bearer token and an API key in its http headers, a
password in its JSON body and a password as a run argument's default; runs are
started with a ``db_password=`` argument and an ``api_token`` parameter. Every
surface a viewer can read (the definitions API with its YAML text, the tasks
API, the DAG's doc in Airflow, Airflow's audit log, the runs API, the Task
Details page, error messages) must show ``***`` for each of them, while the
values that are not secret (another header, descriptions, comments, other run
arguments) are still shown. A second document with the same name makes the
folder report an error: it must name files relative to the definitions folder,
never the server's absolute paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, q, start_api_airflow

pytestmark = pytest.mark.e2e

HEADER_TOKEN = "HdrToken-7Qm2xV"
API_KEY = "ApiKey-55zz1Q"
JSON_PASSWORD = "JsonPw-3kd9Lq"
DEFAULT_PASSWORD = "DefaultPw-9f3k2W"
RUN_PASSWORD = "RunArgPw-1xYb7"
RUN_TOKEN = "RunParamTok-8yTr4"
BAD_SECRET = "BadSecret-77Zq"
SECRETS = (HEADER_TOKEN, API_KEY, JSON_PASSWORD, DEFAULT_PASSWORD, RUN_PASSWORD, RUN_TOKEN, BAD_SECRET)

SECRET_CALL = f"""
kind: task
name: secret_call
description: Deactivates users at the vendor
params:
  db_password: {{default: {DEFAULT_PASSWORD}, description: Database password}}
  api_token: {{default: none-yet, description: Token of the vendor API}}
  api_secret_id: {{default: 1, type: integer, description: Numeric secret id}}
  region: {{default: EU, description: Sales region}}
source:
  type: http
  conn_id: vendor_api
  endpoint: /users/deactivate
  headers:
    Authorization: "Bearer {HEADER_TOKEN}"   # the vendor's token, kept in this comment's line
    X-Api-Key: {API_KEY}
    X-Trace: visible-trace-id
  json:
    user: bob
    credentials: {{password: {JSON_PASSWORD}, realm: visible-realm}}
"""

#: Same name in a later file: the folder reports an error that mentions where the first one is.
CLASH = """
kind: task
name: secret_call
source: {type: python}
processing: {inline: "print([])"}
"""


def _no_secret(what: str, text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{what} shows {leaked}: {text[:3000]}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("secrets_masked")


@pytest.fixture(scope="module")
def airflow(root: Path) -> Iterator[AirflowInstance]:
    env = {"AIRFLOW_CONN_VENDOR_API": json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 9})}
    instance = start_api_airflow(root, extra_definitions={"secret_call": SECRET_CALL, "zz_clash": CLASH}, env=env)
    try:
        instance.wait_for_dag("secret_call", timeout=120)
        instance.unpause("secret_call")
        yield instance
    finally:
        instance.stop()


def test_definitions_api_masks_data_and_yaml_text(airflow: AirflowInstance, root: Path) -> None:
    listing = ok(call(airflow, "GET", "/definitions", user="viewer"))
    _no_secret("GET /definitions", json.dumps(listing))
    assert str(root) not in json.dumps(listing["errors"]), listing["errors"]
    assert any("zz_clash.yaml" in e and "secret_call.yaml" in e for e in listing["errors"]), listing["errors"]

    one = ok(call(airflow, "GET", "/definitions/task/secret_call", user="viewer"))
    _no_secret("GET /definitions/task/secret_call", json.dumps(one))
    headers = one["data"]["source"]["headers"]
    assert headers == {"Authorization": "***", "X-Api-Key": "***", "X-Trace": "visible-trace-id"}
    assert one["data"]["source"]["json"]["credentials"] == {"password": "***", "realm": "visible-realm"}
    assert one["data"]["params"]["db_password"] == {"default": "***", "description": "Database password"}
    # the text keeps its comments and means exactly the masked data
    assert "# the vendor's token, kept in this comment's line" in one["yaml"]
    assert yaml.safe_load(one["yaml"]) == one["data"]


def test_tasks_api_and_dag_doc_are_masked(airflow: AirflowInstance, root: Path) -> None:
    listing = ok(call(airflow, "GET", "/tasks", user="viewer"))
    _no_secret("GET /tasks", json.dumps(listing))
    detail = ok(call(airflow, "GET", "/tasks/secret_call", user="viewer"))
    _no_secret("GET /tasks/secret_call", json.dumps(detail))
    assert detail["params"]["db_password"] == {"default": "***", "description": "Database password",
                                               "required": False}
    assert detail["params"]["region"]["default"] == "EU"
    assert detail["definition"]["data"]["source"]["headers"]["X-Trace"] == "visible-trace-id"
    assert detail["errors"] and all(str(root) not in e for e in detail["errors"]), detail["errors"]

    doc = airflow.api("GET", "/api/v2/dags/secret_call/details", username="viewer").json()["doc_md"]
    _no_secret("the DAG doc", doc)
    assert "visible-trace-id" in doc and "Deactivates users at the vendor" in doc
    assert str(root) not in doc and "`secret_call.yaml`" in doc


def _events(airflow: AirflowInstance) -> list[dict[str, Any]]:
    resp = airflow.api("GET", "/api/v2/eventLogs", username="viewer", params={"dag_id": "secret_call", "limit": 1000})
    assert resp.status_code == 200, resp.text
    return resp.json()["event_logs"]


def test_runs_arguments_are_masked_in_audit_runs_and_pages(airflow: AirflowInstance) -> None:
    first = ok(call(airflow, "POST", "/tasks/secret_call/runs", user="op",
                    json={"args": f"db_password={RUN_PASSWORD} region=US"}))
    _no_secret("the queued run", json.dumps(first))
    assert first["conf"] == {"db_password": "***", "region": "US"}
    second = ok(call(airflow, "POST", "/tasks/secret_call/runs", user="op", json={"params": {"api_token": RUN_TOKEN}}))
    assert second["conf"] == {"api_token": "***"}

    refused = call(airflow, "POST", "/tasks/secret_call/runs", user="op", json={"args": f"api_secret_id={BAD_SECRET}"})
    assert refused.status_code == 422, refused.text
    _no_secret("the 422 answer", refused.text)
    assert "api_secret_id" in refused.json()["detail"]

    events = [e for e in _events(airflow) if e["event"] == "batchtasks.run"]
    assert len(events) == 3, events
    _no_secret("Airflow's audit log", json.dumps(events))
    extras = [json.loads(e["extra"]) for e in events]
    assert {"args": "db_password=*** region=US", "outcome": "done"} in extras, extras
    assert {"params": {"api_token": "***"}, "outcome": "done"} in extras, extras
    assert any(x["outcome"].startswith("refused (422): argument `api_secret_id`") for x in extras), extras

    runs = ok(call(airflow, "GET", "/tasks/secret_call/runs", user="viewer"))
    _no_secret("GET /tasks/secret_call/runs", json.dumps(runs))
    assert {json.dumps(r["conf"], sort_keys=True) for r in runs["runs"]} == {
        json.dumps({"db_password": "***", "region": "US"}, sort_keys=True),
        json.dumps({"api_token": "***"}, sort_keys=True),
    }
    one = ok(call(airflow, "GET", f"/tasks/secret_call/runs/{q(first['run_id'])}", user="viewer"))
    _no_secret("GET /tasks/secret_call/runs/<id>", json.dumps(one))

    page = airflow.api("GET", "/batchtasks/ui/tasks/secret_call", username="viewer")
    assert page.status_code == 200, page.text
    _no_secret("the Task Details page", page.text)
    assert "visible-trace-id" in page.text and "region=US" in page.text
    run_page = airflow.api("GET", f"/batchtasks/ui/tasks/secret_call/runs/{q(first['run_id'])}", username="viewer")
    assert run_page.status_code == 200, run_page.text
    _no_secret("the run page", run_page.text)


def test_a_masked_definition_written_back_keeps_its_secrets(airflow: AirflowInstance, root: Path) -> None:
    shown = ok(call(airflow, "GET", "/definitions/task/secret_call"))
    edited = shown["yaml"].replace("Deactivates users at the vendor", "Deactivates users at the vendor (v2)")
    saved = ok(call(airflow, "PUT", "/definitions/task/secret_call", json={"yaml": edited}))
    _no_secret("the PUT answer", json.dumps(saved))
    on_disk = (root / "definitions" / "secret_call.yaml").read_text()
    assert "(v2)" in on_disk
    for secret in (HEADER_TOKEN, API_KEY, JSON_PASSWORD, DEFAULT_PASSWORD):
        assert secret in on_disk, f"{secret} was replaced by the mask: {on_disk}"
    assert "***" not in on_disk
    assert "# the vendor's token, kept in this comment's line" in on_disk
