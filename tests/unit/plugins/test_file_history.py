"""How the file history merges the resends the archive's record holds with those the index knows."""

from __future__ import annotations

from airflow_batchtasks.plugins.data.files import merge_resends, resend_state

LEGACY = {"at": "2026-11-20T10:00:00+00:00", "by": "op", "destinations": [], "outcome": "sent"}
PENDING = {"at": "2026-11-21T10:00:00+00:00", "by": "op", "outcome": "", "dag_id": "batchtasks_resend",
           "run_id": "manual__1", "pending": True}
DONE = {**PENDING, "at": "2026-11-21T10:00:05+00:00", "outcome": "sent", "pending": None}
DONE.pop("pending")


def test_the_record_wins_over_a_pending_entry_of_the_same_run() -> None:
    assert merge_resends([LEGACY, DONE], [LEGACY, PENDING]) == [LEGACY, DONE]


def test_entries_only_the_index_knows_are_kept_in_time_order() -> None:
    # a resend queued but not run yet, and a scan that read the record before a resend rewrote it
    assert merge_resends([], [LEGACY, PENDING]) == [LEGACY, PENDING]
    assert merge_resends([LEGACY], []) == [LEGACY]


def test_states_as_the_history_shows_them() -> None:
    key = ("batchtasks_resend", "manual__1")
    assert resend_state(PENDING, {key: "queued"}) == "queued"
    assert resend_state(PENDING, {key: "running"}) == "running"
    assert resend_state(DONE, {}) == "done" and resend_state(LEGACY, {}) == "done"
    assert resend_state({**DONE, "outcome": "partial"}, {}) == "failed"
