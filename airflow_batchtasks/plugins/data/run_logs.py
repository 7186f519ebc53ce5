"""The end of a step's log, read through Airflow's own log reader (local, served and remote logs alike).

``TaskLogReader.read_log_chunks`` is what Airflow's ``/api/v2/.../logs/{try}`` route calls, with the same
arguments on 3.1, 3.2 and 3.3; its handler decides where the log lives (the worker's log server while
the step runs, the remote store or the local folder after), so this module never opens a log file.

Bounded work per request: the lines are kept in a ``deque`` of ``tail`` entries (memory is the tail,
never the log), each line is cut at :data:`MAX_LINE` characters, and reading stops at
:data:`TIME_BUDGET` seconds (then ``complete`` is false). Airflow's handler itself spools a long log
to a temporary file, not to memory, before it hands the lines over.

Lines are shown as Airflow wrote them: its secrets masker already replaced secrets when they were
logged, and nothing here unmasks anything.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

from airflow.models.taskinstance import TaskInstance as TI
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from airflow_batchtasks.plugins.data import runs
from airflow_batchtasks.plugins.data.errors import NotFound
from airflow_batchtasks.plugins.data.models import LogTail

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Default and largest number of lines a request returns.
DEFAULT_TAIL = 300
MAX_TAIL = 2000
#: A longer line is cut (a step that logs a whole JSON document on one line must not fill the page).
MAX_LINE = 4000
#: Seconds a request may spend reading one log.
TIME_BUDGET = 10.0
UNFINISHED = ("running", "deferred", "queued", "scheduled", "up_for_retry", "up_for_reschedule", "restarting")


def line_text(message: Any) -> str | None:
    """One log message as a line: ``2026-12-04T01:02:03Z INFO text``; None for Airflow's source-details group."""
    data = message.model_dump() if hasattr(message, "model_dump") else message
    if isinstance(data, str):
        text = data.rstrip("\n")
        return text[:MAX_LINE] + " …" if len(text) > MAX_LINE else text
    if not isinstance(data, dict):
        return None
    event = str(data.get("event", ""))
    if event.startswith("::group::") or event == "::endgroup::":
        return None
    stamp = data.get("timestamp")
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ") if hasattr(stamp, "strftime") else (str(stamp) if stamp else "")
    level = str(data.get("level") or "").upper()
    text = " ".join(p for p in (when, level, event) if p)
    return text[:MAX_LINE] + " …" if len(text) > MAX_LINE else text


def tail_lines(messages: Any, tail: int, budget: float = TIME_BUDGET,
               clock: Any = time.monotonic) -> tuple[list[str], bool, bool]:
    """The last ``tail`` lines of ``messages``, whether earlier ones were dropped, and whether all were read."""
    kept: deque[str] = deque(maxlen=tail)
    seen = 0
    deadline = clock() + budget
    in_group = False
    for message in messages:
        event = getattr(message, "event", None)
        if isinstance(event, str) and event.startswith("::group::Log message source details"):
            in_group = True
            continue
        if in_group:
            in_group = event != "::endgroup::"
            continue
        line = line_text(message)
        if line is None:
            continue
        kept.append(line)
        seen += 1
        if seen % 1000 == 0 and clock() > deadline:
            return list(kept), True, False
    return list(kept), seen > len(kept), True


def log_tail(session: Session, task: str, run_id: str, step: str, tail: int = DEFAULT_TAIL) -> LogTail:
    """The last ``tail`` lines of ``step``'s current try in run ``run_id`` of ``task``."""
    from airflow.utils.log.log_reader import TaskLogReader

    runs.task_dag(session, task)
    runs.get_run_row(session, task, run_id)
    ti = session.scalar(
        select(TI).where(TI.dag_id == task, TI.run_id == run_id, TI.task_id == step, TI.map_index == -1)
        .options(joinedload(TI.dag_run))
    )
    if ti is None:
        raise NotFound(f"run `{run_id}` of task `{task}` has no step `{step}`")
    state = str(ti.state) if ti.state else None
    result = LogTail(task=task, run_id=run_id, step=step, state=state, try_number=ti.try_number,
                     running=state in UNFINISHED or state is None, log_url=ti.log_url)
    if ti.try_number == 0:
        return result
    reader = TaskLogReader()
    if not reader.supports_read:
        result.lines = ["Airflow's task log handler cannot read logs back: open the log in Airflow."]
        return result
    stream, _meta = reader.read_log_chunks(ti, ti.try_number, {})
    result.lines, result.truncated, result.complete = tail_lines(stream, tail)
    return result
