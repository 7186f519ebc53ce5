"""Counts behind the task list's owner cloud, project cloud and status chips (Atlas Hub's name clouds).

Each count applies every filter of the list except its own dimension (the
project cloud ignores the project filter, ...), so a cloud keeps offering the
other projects while one is selected, the way faceted search behaves. Each
dimension is one grouped query over the same task subquery :mod:`.tasks` pages
through, so the counts and the table can never disagree, and a thousand tasks
cost three round trips, not one per task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.models.dag import DagTag
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from airflow_batchtasks.plugins.data.status import TASK_STATUSES
from airflow_batchtasks.plugins.data.tasks import TaskFilter, _task_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Facets(BaseModel):
    """Task counts per project, owner and status (name -> count, sorted by name; statuses in §3 order)."""

    projects: dict[str, int] = Field(default_factory=dict)
    owners: dict[str, int] = Field(default_factory=dict)
    statuses: dict[str, int] = Field(default_factory=dict)


def _tag_counts(session: Session, f: TaskFilter, readable: set[str] | None, prefix: str) -> dict[str, int]:
    names = _task_rows(f, readable).subquery()
    rows = session.execute(
        select(DagTag.name, func.count())
        .where(DagTag.dag_id.in_(select(names.c.name)), DagTag.name.startswith(prefix, autoescape=True))
        .group_by(DagTag.name)
    ).all()
    return {name[len(prefix):]: count for name, count in sorted(rows)}


def facets(session: Session, f: TaskFilter, readable: set[str] | None) -> Facets:
    """Counts of the tasks ``readable`` by the caller that match ``f`` (minus each dimension's own filter)."""
    rows = _task_rows(f.model_copy(update={"status": None}), readable).subquery()
    by_status = dict(session.execute(select(rows.c.status, func.count()).group_by(rows.c.status)).all())
    return Facets(
        projects=_tag_counts(session, f.model_copy(update={"project": None}), readable, "project:"),
        owners=_tag_counts(session, f.model_copy(update={"owner": None}), readable, "owner:"),
        statuses={s: int(by_status.get(s, 0)) for s in TASK_STATUSES},
    )
