"""Pure logic behind the UI pages: CSRF tokens and origin checks, return addresses, display helpers.

The pages themselves are tested in a real browser against a real Airflow in
``tests/e2e/test_ui_browser.py``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from starlette.requests import Request

from airflow_batchtasks.plugins import csrf
from airflow_batchtasks.plugins.views.cron_page import build
from airflow_batchtasks.plugins.views.render import (
    airflow_path,
    args_text,
    duration,
    filesize,
    query_string,
    when,
)
from airflow_batchtasks.plugins.views.task_list import safe_back


class User:
    """The two things the pages ask of Airflow's user object."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id

    def get_id(self) -> str:
        return self.user_id

    def get_name(self) -> str:
        return self.user_id


def request(headers: dict[str, str] | None = None, root_path: str = "/batchtasks/ui") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "airflow.example:8080", **(headers or {})}.items()]
    return Request({"type": "http", "method": "POST", "path": "/tasks/x/run", "root_path": root_path,
                    "headers": raw, "query_string": b""})


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "unit-test-secret")


# ----------------------------------------------------------------------------- CSRF


def test_a_token_is_accepted_for_its_user_from_this_origin() -> None:
    alice = User("alice")
    token = csrf.csrf_token(alice)
    csrf.check_csrf(request({"Origin": "http://airflow.example:8080"}), alice, token)
    csrf.check_csrf(request({"Referer": "http://airflow.example:8080/batchtasks/ui/tasks"}), alice, token)


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Origin": "https://evil.example"}, "Origin/Referer"),
        ({"Origin": "null"}, "Origin/Referer"),
        ({}, "Origin/Referer"),
        ({"Referer": "http://airflow.example:9999/x"}, "Origin/Referer"),
    ],
)
def test_other_origins_are_refused(headers: dict[str, str], problem: str) -> None:
    alice = User("alice")
    with pytest.raises(csrf.CsrfRejected, match=problem):
        csrf.check_csrf(request(headers), alice, csrf.csrf_token(alice))


def test_the_forwarded_host_of_a_reverse_proxy_counts() -> None:
    alice = User("alice")
    proxied = request({"Origin": "https://airflow.corp", "X-Forwarded-Host": "airflow.corp"})
    csrf.check_csrf(proxied, alice, csrf.csrf_token(alice))


def test_a_token_of_another_user_a_tampered_or_an_old_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob = User("alice"), User("bob")
    same_origin = request({"Origin": "http://airflow.example:8080"})
    token = csrf.csrf_token(alice)
    stamp, mac = token.split(".")
    tampered = f"{stamp}.{mac[:-1]}{'1' if mac[-1] == '0' else '0'}"  # always differs from the real mac
    for bad in (csrf.csrf_token(bob), tampered, f"{int(stamp) + 1}.{mac}", "", "x.y", mac):
        with pytest.raises(csrf.CsrfRejected, match="expired or was not issued to you"):
            csrf.check_csrf(same_origin, alice, bad)
    later = time.time() + csrf.CSRF_MAX_AGE + 5
    monkeypatch.setattr(csrf.time, "time", lambda: later)
    with pytest.raises(csrf.CsrfRejected):
        csrf.check_csrf(same_origin, alice, token)


def test_tokens_depend_on_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    alice = User("alice")
    token = csrf.csrf_token(alice)
    monkeypatch.setenv("AIRFLOW__API__SECRET_KEY", "another-server")
    with pytest.raises(csrf.CsrfRejected):
        csrf.check_csrf(request({"Origin": "http://airflow.example:8080"}), alice, token)


# ----------------------------------------------------------------------------- return addresses


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("/batchtasks/ui/tasks?project=ops&offset=50", "/batchtasks/ui/tasks?project=ops&offset=50"),
        ("/batchtasks/ui/my-tasks", "/batchtasks/ui/my-tasks"),
        ("https://evil.example/batchtasks/ui/tasks", "/batchtasks/ui/tasks"),
        ("//evil.example/batchtasks/ui/", "/batchtasks/ui/tasks"),
        ("/batchtasks/ui\\..\\x", "/batchtasks/ui/tasks"),
        ("/other/app", "/batchtasks/ui/tasks"),
        (None, "/batchtasks/ui/tasks"),
    ],
)
def test_bulk_results_only_return_to_these_pages(back: str | None, expected: str) -> None:
    assert safe_back(request(), back, "/tasks") == expected


# ----------------------------------------------------------------------------- display helpers


def test_times_are_utc_time_elements() -> None:
    paris = timezone(timedelta(hours=1))
    assert str(when(datetime(2026, 1, 2, 7, 30, tzinfo=paris))) == (
        '<time datetime="2026-01-02T06:30:00+00:00">2026-01-02 06:30:00 UTC</time>')
    assert str(when("2026-01-02T06:30:00")) == (
        '<time datetime="2026-01-02T06:30:00+00:00">2026-01-02 06:30:00 UTC</time>')
    assert str(when(None)) == "–" and str(when("not a date")) == "–"


def test_durations_and_sizes() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert duration(start, start + timedelta(seconds=42)) == "42s"
    assert duration(start, start + timedelta(minutes=3, seconds=5)) == "3m 05s"
    assert duration(start, start + timedelta(hours=2, minutes=1)) == "2h 01m 00s"
    assert duration(None) == "–"
    assert duration(datetime.now(timezone.utc) - timedelta(seconds=5)).endswith("so far")
    assert [filesize(n) for n in (None, 0, 999, 2048, 5 * 1024**3)] == ["–", "0 B", "999 B", "2.0 KB", "5.0 GB"]


def test_airflow_links_become_same_origin_paths() -> None:
    assert airflow_path("http://localhost:8080/dags/a/runs/manual__2026%3A00") == "/dags/a/runs/manual__2026%3A00"
    assert airflow_path("https://af.corp/airflow/dags/a/runs/r/tasks/x?try_number=2") == (
        "/airflow/dags/a/runs/r/tasks/x?try_number=2")
    assert airflow_path(None) == ""


def test_run_arguments_are_shown_with_secrets_redacted() -> None:
    assert args_text({"region": "EU", "limit": 5}) == "region=EU limit=5"
    assert args_text({"api_password": "hunter22", "region": "EU"}) == "api_password=*** region=EU"
    assert args_text(None) == "" and args_text({}) == ""


def test_query_strings_keep_lists_and_drop_empty_values() -> None:
    assert query_string({"status": ["New", "Failed"], "q": "", "owner": None, "offset": 50}) == (
        "?status=New&status=Failed&offset=50")
    assert query_string({"q": None}) == "" and query_string(None) == ""


def test_cron_fields_build_an_expression() -> None:
    assert build({"minute": "30", "hour": "7", "weekday": "MON-FRI"}) == "30 7 * * MON-FRI"
    assert build({"minute": " ", "hour": None}) == "* * * * *"
