"""Location descriptions shown in logs and errors."""

from __future__ import annotations

from airflow_batchtasks.transports.locations import describe


def test_location_descriptions_never_show_a_query_string() -> None:
    assert describe({"type": "url", "url": "https://h/q.sql?private_token=s3cret"}) == "url https://h/q.sql"
    assert describe({"type": "git", "conn_id": "gl", "path": "g/p/-/q.sql", "ref": "main"}) == "git gl:g/p/-/q.sql@main"
