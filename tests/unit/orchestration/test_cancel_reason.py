"""Whether a finished instance was cancelled, and by whom (``instances._cancel_reason``)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_batchtasks.orchestration.instances import _cancel_reason

MARKER = {"user": "alice", "at": "2026-11-21T03:00:00+00:00"}


@pytest.mark.parametrize(
    ("state", "marker", "note", "expected"),
    [
        ("failed", MARKER, None, "cancelled by alice"),
        # SQLite: a scheduler loop that read the queued run before the cancel finished it, all steps skipped
        ("success", MARKER, None, "cancelled by alice"),
        ("failed", None, "cancelled by bob", "cancelled by bob"),  # 3.1: the report task cleared the marker
        ("failed", None, "looked at it, fine", None),
        ("failed", None, None, None),
        ("success", None, "cancelled by bob", None),  # a note alone on a successful run proves nothing
        ("running", MARKER, None, None),
        ("queued", MARKER, None, None),
    ],
)
def test_cancel_reason(state: str, marker: dict | None, note: str | None, expected: str | None) -> None:
    assert _cancel_reason(SimpleNamespace(state=state, note=note), marker) == expected
