"""Notifications through a real SMTP server (aiosmtpd on loopback) after real pipeline runs.

Each test runs a small SQLite -> CSV -> local pipeline with ``dag.test()`` and reads what the SMTP
server received: envelope, headers, text and HTML parts, attachments. ``notify`` is the DAG's
teardown, so it also runs after the final failure and never changes the run's state.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.servers.smtp import SmtpServer

pytestmark = pytest.mark.integration

SECRET = "hunter2-do-not-mail-me"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> SmtpServer:
    set_connection(monkeypatch, "mail", **smtp_server.connection())
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(i, f"item {i}") for i in range(1, 6)])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))
    return tmp_path / "out"


def task(name: str, out: Path, notify: str, query: str = "select * from items order by id",
         extra: str = "") -> str:
    return (
        f"kind: task\nname: {name}\nschedule: none\n"
        "params: {region: {default: EU}}\n"
        f"source: {{type: sql, conn_id: shop, query: \"{query}\"}}\n"
        f"output: {{name: 'items_{{{{ ds_nodash }}}}.csv'}}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
        f"{extra}notify:\n{notify}"
    )


def test_success_email_renders_templates_and_lists_files_with_md5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    notify = (
        "  on_success:\n"
        "    to: [team@example.com]\n    cc: [lead@example.com]\n    conn_id: mail\n"
        "    subject: \"Items {{ ds_nodash }} {{ params.region }}: {{ status_text }}\"\n"
        "    message: \"{{ files | length }} file: {{ files[0].name }}, {{ files[0].rows }} rows, "
        "day before {{ yesterday() }}\"\n"
    )
    result = run_definition(tmp_path, monkeypatch, task("items_ok", shop, notify), "items_ok")

    assert result.state == "success", result.steps
    assert result.steps["notify"] == "success"
    [received] = mail.wait_for(1)
    record = archived_records(result.archive)[0]
    assert received.rcpt_tos == ["team@example.com", "lead@example.com"]
    assert received.mail_from == "batch@example.com"
    assert received.message["Cc"] == "lead@example.com"
    assert received.message["Subject"].startswith("Items 20") and received.message["Subject"].endswith(
        "EU: succeeded")
    text = received.text()
    assert f"1 file: {record['name']}, 5 rows, day before " in text
    assert record["md5"] in text and record["name"] in text
    assert "Status: succeeded" in text
    assert record["md5"] in received.html() and received.html().startswith("<html>")
    assert received.attachments() == {}


def test_failure_email_has_the_error_and_the_redacted_log_excerpt_after_the_last_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    # A variable with a sensitive name is masked by Airflow; the failing query shows its value in the log.
    monkeypatch.setenv("AIRFLOW_VAR_SHOP_SECRET", SECRET)
    notify = ("  on_failure: {to: [oncall@example.com], conn_id: mail}\n"
              "  on_success: {to: [team@example.com], conn_id: mail}\n")
    definition = task("items_broken", shop, notify, query="select '{{ var.value.shop_secret }}', * from no_such_table",
                      extra="retries: {count: 1, delay: 1s}\n")
    result = run_definition(tmp_path, monkeypatch, definition, "items_broken")

    assert result.state == "failed", result.steps
    assert result.steps == {"extract": "failed", "package": "upstream_failed", "deliver": "upstream_failed",
                            "notify": "success"}
    [received] = mail.wait_for(1)
    assert received.rcpt_tos == ["oncall@example.com"]
    assert "items_broken FAILED" in received.message["Subject"]
    text = received.text()
    assert "Batch task items_broken FAILED at step extract: no such table: no_such_table" in text
    assert "Failed step: extract (try 2 of 2)" in text
    assert "Last log lines of extract:" in text
    assert "INFO select '***', * from no_such_table" in text  # the step's own log line, captured while it ran
    assert "/dags/items_broken/runs/" in text and "/tasks/extract?try_number=2" in text
    assert SECRET not in received.raw.decode(errors="replace")


def test_attach_sends_the_delivered_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    notify = "  on_success: {to: [team@example.com], conn_id: mail, attach: true}\n"
    result = run_definition(tmp_path, monkeypatch, task("items_attach", shop, notify), "items_attach")

    assert result.state == "success", result.steps
    [received] = mail.wait_for(1)
    delivered = next(shop.iterdir())
    assert received.attachments() == {delivered.name: delivered.read_bytes()}
    assert hashlib.md5(delivered.read_bytes()).hexdigest() in received.text()


def test_embed_puts_the_text_in_the_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    notify = "  on_success: {to: [team@example.com], conn_id: mail, embed: true}\n"
    result = run_definition(tmp_path, monkeypatch, task("items_embed", shop, notify), "items_embed")

    assert result.state == "success", result.steps
    [received] = mail.wait_for(1)
    assert "id,name\n1,item 1\n2,item 2\n3,item 3\n4,item 4\n5,item 5\n--- end of" in received.text()
    assert "<pre>id,name\n1,item 1\n" in received.html()
    assert received.attachments() == {}


def test_files_above_the_size_limit_are_refused_and_the_mail_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__NOTIFY_MAX_ATTACHMENT_MB", "0.00001")  # about 10 bytes
    notify = "  on_success: {to: [team@example.com], conn_id: mail, attach: true, embed: true}\n"
    result = run_definition(tmp_path, monkeypatch, task("items_big", shop, notify), "items_big")

    assert result.state == "success", result.steps
    assert result.steps["notify"] == "success"
    [received] = mail.wait_for(1)
    name = next(shop.iterdir()).name
    assert received.attachments() == {}
    text = " ".join(received.text().split())
    assert f"Note: {name} (0.0 MB) was not attached: the notification is limited to 1e-05 MB" in text
    assert f"Note: {name} (0.0 MB) was not embedded" in text
    assert "[batchtasks] notify_max_attachment_mb" in text
    assert "item 1" not in text


def test_sms_gateway_address_gets_only_a_short_plain_text_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    notify = ("  on_failure: {to: [oncall@example.com, 5551234567@sms.example.net],"
              " cc: ['+4915112345678@sms.example.org'], conn_id: mail, attach: true}\n")
    definition = task("items_sms", shop, notify, query="select * from missing_" + "x" * 200)
    result = run_definition(tmp_path, monkeypatch, definition, "items_sms")

    assert result.state == "failed", result.steps
    received = {tuple(m.rcpt_tos): m for m in mail.wait_for(3)}
    assert set(received) == {("oncall@example.com",), ("5551234567@sms.example.net",),
                             ("+4915112345678@sms.example.org",)}
    email = received[("oncall@example.com",)]
    assert email.message.is_multipart() and "Last log lines of extract:" in email.text()
    for number in ("5551234567@sms.example.net", "+4915112345678@sms.example.org"):
        sms = received[(number,)]
        assert sms.message["To"] == number
        assert not sms.message.is_multipart()
        assert sms.message.get_content_type() == "text/plain"
        assert sms.message["Subject"] is None
        body = sms.text().strip()
        assert body.startswith("Batch task items_sms FAILED at step extract: no such table: missing_xxx")
        assert len(body) == 160 and body.endswith("...")
        assert "\n" not in body and "log" not in body.lower()


def test_a_retry_sends_only_the_messages_the_server_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    mail.refuse_once.add("5551234567@sms.example.net")
    notify = ("  on_success: {to: [team@example.com, 5551234567@sms.example.net, 5559876543@sms.example.net],"
              " conn_id: mail}\n")
    definition = task("items_resms", shop, notify, extra="retries: {count: 2, delay: 1s}\n")
    result = run_definition(tmp_path, monkeypatch, definition, "items_resms")

    assert result.steps["notify"] == "success" and result.state == "success", result.steps
    received = [tuple(m.rcpt_tos) for m in mail.wait_for(3)]
    assert sorted(received) == [("5551234567@sms.example.net",), ("5559876543@sms.example.net",),
                                ("team@example.com",)], "each message once: the email was not sent again"
    assert not mail.refuse_once, "the gateway did refuse the first try"


def test_a_failing_notification_fails_notify_but_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer, shop: Path,
) -> None:
    bad = smtp_server.connection()
    bad["password"] = "wrong-password"
    set_connection(monkeypatch, "bad_mail", **bad)
    smtp_server.clear()
    notify = "  on_success: {to: [team@example.com], conn_id: bad_mail}\n"
    result = run_definition(tmp_path, monkeypatch, task("items_nomail", shop, notify), "items_nomail")

    assert result.steps == {"extract": "success", "package": "success", "deliver": "success", "notify": "failed"}
    assert result.state == "success"
    assert smtp_server.messages == []
    assert len(list(shop.iterdir())) == 1


def test_no_message_for_an_outcome_without_a_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mail: SmtpServer, shop: Path,
) -> None:
    notify = "  on_failure: {to: [oncall@example.com], conn_id: mail}\n"
    result = run_definition(tmp_path, monkeypatch, task("items_quiet", shop, notify), "items_quiet")

    assert result.state == "success", result.steps
    assert result.steps["notify"] == "skipped"
    assert mail.wait_for(1, timeout=0.5) == []
