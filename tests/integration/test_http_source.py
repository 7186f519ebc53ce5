"""``source.type: http`` against a real HTTP API on loopback: what goes over the wire, and what a run makes of it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection, xcom
from tests.servers.http_api import Answer, HttpApiServer

pytestmark = pytest.mark.integration

PASSWORD = "api-Pa55word-not-in-logs"
TOKEN = "tok-3f9a7c-bearer-not-in-logs"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture(scope="module")
def api_server() -> Iterator[HttpApiServer]:
    server = HttpApiServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def api(api_server: HttpApiServer) -> Iterator[HttpApiServer]:
    api_server.reset()
    yield api_server


@pytest.fixture
def basic_conn(monkeypatch: pytest.MonkeyPatch, api: HttpApiServer) -> str:
    set_connection(monkeypatch, "iam_api", conn_type="http", host=api.host, port=api.port, schema="http",
                   login="batch-user", password=PASSWORD)
    return "iam_api"


@pytest.fixture
def bearer_conn(monkeypatch: pytest.MonkeyPatch, api: HttpApiServer) -> str:
    set_connection(monkeypatch, "report_api", conn_type="http", host=api.host, port=api.port, schema="http",
                   extra={"bearer_token": TOKEN, "X-Tenant": "acme"})
    return "report_api"


def _task(name: str, source: str, rest: str = "") -> str:
    return (f"kind: task\nname: {name}\nschedule: none\nparams: {{region: {{default: EU}}}}\n"
            f"source:\n{source}{rest}")


def test_post_sends_method_templated_json_headers_and_basic_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, basic_conn: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api.answers["/api/users/deactivate"] = Answer(202, b'{"status": "OK", "deactivated": 12}')
    result = run_definition(tmp_path, monkeypatch, _task("deactivate_users", f"""
  type: http
  conn_id: {basic_conn}
  endpoint: /api/users/deactivate
  method: POST
  json: {{region: "{{{{ params.region }}}}", day: "{{{{ ds }}}}", dry_run: false, ids: [1, 2]}}
  headers: {{X-Request-Day: "{{{{ ds_nodash }}}}"}}
  expect_status: [200, 202]
"""), "deactivate_users", conf={"region": "US"})
    log = capfd.readouterr().out

    assert result.state == "success", result.steps
    assert result.steps == {"extract": "success"}, "the answer is not kept: nothing to package or deliver"
    [request] = api.requests
    assert request.method == "POST"
    assert request.path == "/api/users/deactivate"
    body = json.loads(request.body)
    assert body["region"] == "US" and body["dry_run"] is False and body["ids"] == [1, 2]
    assert body["day"].replace("-", "") == request.headers["x-request-day"], "both rendered from the run's date"
    assert len(body["day"]) == 10
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"batch-user:{PASSWORD}".encode()).decode()
    assert "Answered 202" in log and '"deactivated": 12' in log
    assert PASSWORD not in log
    assert xcom(result, "extract", "partial") is None


def test_bearer_token_from_the_connection_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, bearer_conn: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api.answers["/api/report"] = Answer(200, b'{"status": "OK"}')
    result = run_definition(tmp_path, monkeypatch, _task("fetch_report", f"""
  type: http
  conn_id: {bearer_conn}
  method: GET
  endpoint: "/api/report?region={{{{ params.region }}}}"
"""), "fetch_report")
    log = capfd.readouterr().out

    assert result.state == "success", result.steps
    [request] = api.requests
    assert request.method == "GET" and request.path == "/api/report?region=EU"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-tenant"] == "acme", "other extra keys stay default headers"
    assert "bearer_token" not in request.headers
    assert TOKEN not in log


def test_an_unexpected_status_fails_with_status_and_body_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, basic_conn: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    api.answers["/api/sync"] = Answer(500, b'{"error": "database locked"}' + b" " * 5000 + b"END-OF-BODY")
    result = run_definition(tmp_path, monkeypatch, _task("sync_users", f"""
  type: http
  conn_id: {basic_conn}
  endpoint: /api/sync
"""), "sync_users")
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps == {"extract": "failed"}
    assert "POST /api/sync answered 500 Internal Server Error, expected [200]" in log
    assert '{"error": "database locked"}' in log
    assert "END-OF-BODY" not in log, "a long body is cut in the log"


@pytest.mark.parametrize(
    ("answers", "state", "calls"),
    [
        ([Answer(503, b'{"error": "maintenance"}'), Answer(429, b"slow down"), Answer(200, b"{}")], "success", 3),
        ([Answer(401, b'{"error": "bad credentials"}'), Answer(200, b"{}")], "failed", 1),
        ([Answer(404, b'{"error": "no such endpoint"}'), Answer(200, b"{}")], "failed", 1),
    ],
    ids=["5xx-and-429-retried", "401-not-retried", "404-not-retried"],
)
def test_server_errors_are_retried_client_errors_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, basic_conn: str,
    capfd: pytest.CaptureFixture[str], answers: list[Answer], state: str, calls: int,
) -> None:
    api.answers["/api/sync"] = answers
    result = run_definition(tmp_path, monkeypatch, _task("sync_users", f"""
  type: http
  conn_id: {basic_conn}
  endpoint: /api/sync
""", "retries: {count: 3, delay: 1s}\n"), "sync_users")

    assert result.state == state
    assert len(api.requests) == calls, "each try is one call; a client error is not asked again"
    if state == "failed":
        assert "(a client error: not retried)" in capfd.readouterr().out


def test_keep_response_delivers_the_body_as_the_output_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, bearer_conn: str,
) -> None:
    body = json.dumps({"users": [{"id": i, "name": f"user{i}"} for i in range(1000)]}).encode()
    api.answers["/api/users"] = Answer(200, body)
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _task("export_users", f"""
  type: http
  conn_id: {bearer_conn}
  method: GET
  endpoint: /api/users
  keep_response: true
""", f"destinations: [{{type: local, path: '{out}'}}]\n"), "export_users")

    assert result.state == "success", result.steps
    assert set(result.steps) == {"extract", "package", "deliver"}
    [delivered] = list(out.iterdir())
    assert delivered.name.startswith("export_users_") and delivered.name.endswith(".json")
    assert delivered.read_bytes() == body


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(207, b'{"results": [{"id": 1, "status": 200}, {"id": 2, "status": 409}]}'),
         "the API answered 207 Multi-Status"),
        (Answer(200, b'{"status": "PARTIAL", "failed": [2]}'), 'the API answered "status": "PARTIAL"'),
    ],
)
def test_a_partial_answer_marks_the_step_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, basic_conn: str, answer: Answer,
    reason: str,
) -> None:
    api.answers["/api/import"] = answer
    result = run_definition(tmp_path, monkeypatch, _task("import_users", f"""
  type: http
  conn_id: {basic_conn}
  endpoint: /api/import
  json: {{all: true}}
"""), "import_users")

    assert result.state == "success", result.steps
    assert xcom(result, "extract", "partial") == {"partial": True, "reason": reason}


# -- run arguments never change where the call goes --------------------------------------------------


@pytest.fixture
def other_api() -> Iterator[HttpApiServer]:
    """A second server: where a hostile run argument would like the call (and its credentials) to go."""
    server = HttpApiServer().start()
    try:
        yield server
    finally:
        server.close()


def _endpoint_task(name: str, conn_id: str, endpoint: str) -> str:
    return (f"kind: task\nname: {name}\nschedule: none\nparams: {{tenant: {{default: acme}}, q: {{default: x}}}}\n"
            f"source: {json.dumps({'type': 'http', 'conn_id': conn_id, 'endpoint': endpoint, 'method': 'GET'})}\n")


def test_run_arguments_are_url_encoded_in_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, basic_conn: str,
) -> None:
    api.answers["/api/tenants/..%2F..%2Fadmin%3Fdrop%3D1/users"] = Answer(200, b"{}")
    result = run_definition(tmp_path, monkeypatch, _endpoint_task(
        "tenant_users", basic_conn, "/api/tenants/{{ params.tenant }}/users?q={{ dag_run.conf.q }}&limit=5",
    ), "tenant_users", conf={"tenant": "../../admin?drop=1", "q": "a b&role=admin#x"})

    assert result.state == "success", result.steps
    [request] = api.requests
    assert request.path == "/api/tenants/..%2F..%2Fadmin%3Fdrop%3D1/users?q=a%20b%26role%3Dadmin%23x&limit=5"


def test_a_run_argument_cannot_send_the_call_and_its_credentials_to_another_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, other_api: HttpApiServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # a connection that holds the scheme and the credentials, the endpoint template the rest
    set_connection(monkeypatch, "hostless_api", conn_type="http", schema="http", login="batch-user",
                   password=PASSWORD)
    result = run_definition(tmp_path, monkeypatch, _endpoint_task(
        "hostless_users", "hostless_api", "{{ params.tenant }}/api/users",
    ), "hostless_users", conf={"tenant": f"@{other_api.host}:{other_api.port}"})
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps == {"extract": "failed"}
    assert other_api.requests == [], "the call went to the host a run argument chose"
    assert "which is not on the host of connection `hostless_api` (http://): refused" in log
    assert PASSWORD not in log


def test_unquoted_pastes_the_text_but_the_call_stays_on_the_connection_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: HttpApiServer, other_api: HttpApiServer,
    basic_conn: str, capfd: pytest.CaptureFixture[str],
) -> None:
    api.answers["/api/tenants/acme/users"] = Answer(200, b"{}")
    result = run_definition(tmp_path, monkeypatch, _endpoint_task(
        "tenant_path", basic_conn, "/api/{{ params.tenant | unquoted }}",
    ), "tenant_path", conf={"tenant": "tenants/acme/users"})
    assert result.state == "success", result.steps
    assert [r.path for r in api.requests] == ["/api/tenants/acme/users"]

    result = run_definition(tmp_path, monkeypatch, _endpoint_task(
        "tenant_elsewhere", basic_conn, "{{ params.tenant | unquoted }}/users",
    ), "tenant_elsewhere", conf={"tenant": f"http://{other_api.host}:{other_api.port}"})
    assert result.state == "failed"
    assert other_api.requests == []
    assert "has its own scheme or host: an endpoint is a path on the connection's URL" in capfd.readouterr().out
