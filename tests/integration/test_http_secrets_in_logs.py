"""An http step's own secrets (definition headers, JSON body values) never reach its log, even echoed back.

APIs that reject a call often quote what they got ("invalid token Bearer ..."); the step logs the
answer's start and fails with it, so the definition's sensitive values must be known to Airflow's
masker before the call. Run for real (``dag.test``) against a loopback HTTP API.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_batchtasks.operators.step_failure import read_failure
from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection
from tests.servers.http_api import Answer, HttpApiServer

pytestmark = pytest.mark.integration

HEADER_TOKEN = "DefHdrTok-5521-not-in-logs"
API_KEY = "DefApiKey-8830-not-in-logs"
BODY_PASSWORD = "DefBodyPw-1177-not-in-logs"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def api() -> Iterator[HttpApiServer]:
    server = HttpApiServer().start()
    try:
        yield server
    finally:
        server.close()


def test_an_echoed_definition_secret_is_masked_in_the_recorded_failure_and_by_the_log_masker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer,
) -> None:
    from airflow.sdk._shared.secrets_masker import redact  # what a worker's task log goes through

    set_connection(monkeypatch, "vendor_api", conn_type="http", host=api.host, port=api.port, schema="http")
    echo = f'{{"error": "rejected Bearer {HEADER_TOKEN} / key {API_KEY} / password {BODY_PASSWORD}"}}'
    api.answers["/api/deactivate"] = Answer(401, echo.encode())
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: vendor_deactivate
schedule: none
source:
  type: http
  conn_id: vendor_api
  endpoint: /api/deactivate
  headers: {{Authorization: "Bearer {HEADER_TOKEN}", X-Api-Key: {API_KEY}, X-Trace: trace-shown}}
  json: {{user: bob, credentials: {{password: {BODY_PASSWORD}}}}}
""", "vendor_deactivate")

    assert result.state == "failed", result.steps
    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {HEADER_TOKEN}", "the real value is sent"
    failure = read_failure(result.dag_id, result.run_id, "extract")  # the reason the pages show
    assert failure is not None and "answered 401" in failure["error"], failure
    assert "rejected *** / key *** / password ***" in failure["error"], failure
    for secret in (HEADER_TOKEN, API_KEY, BODY_PASSWORD):
        assert secret not in json.dumps(failure), f"{secret} in the recorded failure"
        assert redact(f"line with {secret}") == "line with ***", f"the task log masker does not know {secret}"
    assert redact("trace-shown") == "trace-shown"
