"""Composition of notification messages: SMS rule, short text, email layout (pure logic, no server)."""

from __future__ import annotations

import pytest

from airflow_batchtasks.notify.mail import (
    Attachment,
    Report,
    body_text,
    build_email,
    build_sms,
    is_sms_address,
    sms_text,
    split_recipients,
)


@pytest.mark.parametrize(
    ("address", "sms"),
    [
        ("5551234567@sms.example.net", True),
        ("+4915112345678@sms.example.org", True),
        (" 5551234567@vtext.com ", True),
        ("oncall@example.com", False),
        ("555-123-4567@sms.example.net", False),  # only digits: a dashed number is an ordinary mailbox
        ("team5@example.com", False),
        ("5551234567", False),  # no domain: not an address at all
        ("@example.com", False),
    ],
)
def test_sms_addresses_are_digits_before_the_at(address: str, sms: bool) -> None:
    assert is_sms_address(address) is sms


def test_split_keeps_order_and_drops_blanks() -> None:
    assert split_recipients(["a@x.com", "5551234567@sms.x", "", "  ", "b@x.com", "+1555@sms.y"]) == (
        ["a@x.com", "b@x.com"], ["5551234567@sms.x", "+1555@sms.y"])


def test_sms_text_is_one_line_of_at_most_160_ascii_characters() -> None:
    assert sms_text("short\n\n  message ") == "short message"
    long = sms_text("x" * 100 + "\n" + "y" * 100)
    assert len(long) == 160 and long.endswith("...") and "\n" not in long
    assert long.isascii()
    assert sms_text("z" * 160) == "z" * 160


def _failed_report() -> Report:
    return Report(
        task="daily_sales", run_id="manual__1", status_text="FAILED", message="It broke",
        files=[{"name": "a.csv", "size": 2048, "md5": "abc123", "rows": 7}],
        failures=[{"task_id": "deliver", "try_number": 3, "max_tries": 2, "error": "Connection refused",
                   "log_tail": ["INFO connecting", "ERROR refused"], "log_url": "http://af/dags/x/runs/r/tasks/deliver"}],
        embedded=[("a.csv", "id\n1\n")], notes=["b.csv was not attached: too big"],
    )


def test_text_body_has_files_failure_log_excerpt_embedded_text_and_notes() -> None:
    text = body_text(_failed_report())
    assert text.startswith("It broke\n\nTask: daily_sales\nRun: manual__1\nStatus: FAILED\n")
    assert "  a.csv  2.0 KB  md5 abc123 7 rows\n" in text
    assert "Failed step: deliver (try 3 of 3)\nError: Connection refused\n" in text
    assert "Last log lines of deliver:\n  INFO connecting\n  ERROR refused\nLog: http://af/" in text
    assert "--- a.csv ---\nid\n1\n--- end of a.csv ---" in text
    assert text.endswith("Note: b.csv was not attached: too big\n")


def test_email_is_text_plus_html_with_attachments_and_the_html_is_escaped() -> None:
    report = _failed_report()
    report.message = "<script>x</script>"
    msg = build_email("batch@example.com", ["a@example.com"], ["c@example.com"], "Subject", report,
                      [Attachment("a.csv", b"id\n1\n")])
    assert (msg["From"], msg["To"], msg["Cc"], msg["Subject"]) == (
        "batch@example.com", "a@example.com", "c@example.com", "Subject")
    assert msg.get_body(("plain",)).get_content().startswith("<script>x</script>")
    html = msg.get_body(("html",)).get_content()
    assert "&lt;script&gt;" in html and "<script>" not in html
    [attachment] = list(msg.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("a.csv", b"id\n1\n")


def test_sms_is_a_single_plain_part_without_subject() -> None:
    msg = build_sms("batch@example.com", "5551234567@sms.example.net", "line one\nline two " + "w" * 200)
    assert not msg.is_multipart() and msg.get_content_type() == "text/plain"
    assert msg["Subject"] is None and msg["To"] == "5551234567@sms.example.net"
    body = msg.get_content().strip()
    assert body.startswith("line one line two w") and len(body) == 160
