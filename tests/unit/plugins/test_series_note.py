"""A project run's series report as its note: Airflow keeps at most 1,000 characters of a note."""

from __future__ import annotations

from airflow_batchtasks.plugins.listeners import NOTE_MAX, note_text


def test_a_short_report_is_the_note_as_it_is() -> None:
    report = "2 of 3 tasks succeeded\nfailed: sales_b (its run r1 failed)"
    assert note_text(report) == report


def test_a_long_report_is_cut_at_a_line_and_points_to_the_full_one() -> None:
    lines = [f"failed: task_{i:02d}: its run manual__2026-12-04T03:{i:02d}:00 failed (see that run's log)"
             for i in range(40)]
    note = note_text("\n".join(lines))
    assert len(note) <= NOTE_MAX
    kept = note.splitlines()[:-1]
    assert kept and all(line in lines for line in kept), "whole lines only"
    assert note.endswith("(the full report is in the log of step series_result)")
