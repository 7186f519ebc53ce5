"""The note of a run started by deliveries (``schedule: {after: [...]}``): which files, from which runs.

Airflow's UI shows a run's note on its page; for a run the scheduler started because tasks delivered,
that note answers "why did this run start, and with which files" without opening the asset pages.
Pure text from the consumed asset events, so it is tested without Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Airflow's ``dag_run_note.content`` is ``String(1000)``.
NOTE_MAX = 1000


def deliveries_note(events: Iterable[Mapping[str, Any]]) -> str:
    """``Started by deliveries:`` then one line per consumed event: task, run, file, where, md5, rows.

    ``events``: ``{"source_dag_id", "source_run_id", "uri", "extra"}`` per asset event, oldest first.
    Empty text when no event came from a delivery (nothing worth a note). Cut to ``NOTE_MAX`` at a line.
    """
    lines = []
    for event in events:
        extra = event.get("extra") or {}
        if "md5" not in extra:
            continue
        rows = extra.get("rows")
        task = extra.get("batch_task") or event.get("source_dag_id")
        run = extra.get("run_id") or event.get("source_run_id")
        counted = f", {rows} rows" if rows is not None else ""
        lines.append(f"- {task} run {run}: {extra.get('name')} -> {event.get('uri')} (md5 {extra.get('md5')}{counted})")
    if not lines:
        return ""
    text = "Started by deliveries:\n" + "\n".join(lines)
    if len(text) <= NOTE_MAX:
        return text
    tail = f"\n… and more ({len(lines)} deliveries in all: see the run's asset events)"
    kept = text[: NOTE_MAX - len(tail)]
    return kept.rsplit("\n", 1)[0] + tail
