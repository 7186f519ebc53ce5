"""Progress of running extracts and uploads, read back from the XCom the step pushes while it works.

The operators push ``batchtasks_progress`` (see ``operators/progress.py``: Task SDK workers have no
database, so the task API's XCom is their channel). Here the run APIs read it for the runs that are
running, all of them in one query, and turn it into the text the pages show: ``12,345 rows`` or
``40.0 MiB of 100.0 MiB (40%)``, ``3.0 MiB fetched`` (a file source's download), ``120 lines of output``
(a processing script or ``ssh`` command). Only running steps count: a finished step's last progress is history,
not progress, and a retry starts with its XComs cleared by Airflow.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance as TI
from airflow.models.xcom import XComModel
from sqlalchemy import and_, select

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: The operators' XCom key (``operators/progress.py`` PROGRESS_KEY; the layers keep the plugin from importing it).
PROGRESS_KEY = "batchtasks_progress"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def size_text(size: float) -> str:
    """``40.0 MiB``: binary units, one decimal above bytes."""
    unit = 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{int(size)} B" if unit == 0 else f"{size:.1f} {_UNITS[unit]}"


def progress_text(value: Any) -> str | None:
    """What a progress XCom says, for people: ``12,345 rows`` or ``40.0 MiB of 100.0 MiB (40%)``; None if unreadable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    rows, sent, size = value.get("rows"), value.get("bytes"), value.get("size")
    lines = value.get("lines")
    if isinstance(rows, int) and not isinstance(rows, bool):
        return f"{rows:,} rows"
    if isinstance(lines, int) and not isinstance(lines, bool):
        return f"{lines:,} line{'s' if lines != 1 else ''} of output"
    if isinstance(sent, int) and not isinstance(sent, bool):
        if isinstance(size, int) and size > 0:
            return f"{size_text(sent)} of {size_text(size)} ({min(100, sent * 100 // size)}%)"
        # the extract step moves bytes *in* (a file source's download); the others send them out
        return f"{size_text(sent)} {'fetched' if value.get('step') == 'extract' else 'sent'}"
    return None


def progress_of_runs(session: Session, dag_id: str, run_ids: list[str]) -> dict[str, str]:
    """Progress text of each of ``run_ids`` whose extract or upload is running now (one query for all)."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(XComModel.run_id, XComModel.task_id, XComModel.value)
        .join(DagRun, DagRun.id == XComModel.dag_run_id)
        .join(TI, and_(TI.dag_id == XComModel.dag_id, TI.run_id == XComModel.run_id,
                       TI.task_id == XComModel.task_id, TI.map_index == XComModel.map_index))
        .where(XComModel.dag_id == dag_id, XComModel.run_id.in_(run_ids), XComModel.key == PROGRESS_KEY,
               TI.state == "running", DagRun.state == "running")
    ).all()
    found: dict[str, str] = {}
    for run_id, _task_id, value in rows:
        text = progress_text(_decoded(value))
        if text:
            found[run_id] = text
    return found


def _decoded(value: Any) -> Any:
    try:
        return XComModel.deserialize_value(_Row(value))
    except Exception:  # noqa: BLE001 - an odd value shows no progress rather than a 500
        return value


class _Row:
    """The shape ``XComModel.deserialize_value`` reads (an object with ``.value``)."""

    def __init__(self, value: Any) -> None:
        self.value = value
