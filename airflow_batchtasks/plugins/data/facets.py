"""A page of the task list together with its owner cloud, project cloud and status counts.

Atlas Hub's list shows name clouds of owners and projects next to the table,
and Alumio's shows counts per status. Each count applies every filter except
its own dimension (the project cloud ignores the project filter, ...), so a
cloud keeps offering the other projects while one is selected, the way faceted
search behaves.

A task's status is the costly part of the list (a correlated look at its
current run); ``tasks.list_tasks`` computes it twice (count, then page) and a
query per facet would compute it again each time. So statuses are read once,
as name + status rows of :func:`.tasks._task_rows` (the same subquery, the same
status), for exactly the tasks some number on the page depends on:

- without a status filter, the tasks the other filters keep: their statuses
  give the status counts, the total and the page; the clouds need no status and
  are two grouped tag queries;
- with a status filter, the clouds need statuses beyond the project/owner
  filters too, so the pass covers every task the remaining filters keep, with
  its project/owner tags, and Python applies status/project/owner per count.

Then only the page's rows are read in full and completed by
:func:`.tasks.summaries`. Table and counts come from the same rows and cannot
disagree; a thousand tasks cost four or five queries and one status pass.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagTag
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select

from airflow_batchtasks.naming import OWNER_TAG_PREFIX, PROJECT_TAG_PREFIX
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.gc_pauses import without_gc_pauses
from airflow_batchtasks.plugins.data.models import TaskList
from airflow_batchtasks.plugins.data.status import TASK_STATUSES
from airflow_batchtasks.plugins.data.tasks import TaskFilter, _task_rows, summaries

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class Facets(BaseModel):
    """Task counts per project, owner and status (name -> count, sorted by name; statuses in §3 order)."""

    projects: dict[str, int] = Field(default_factory=dict)
    owners: dict[str, int] = Field(default_factory=dict)
    statuses: dict[str, int] = Field(default_factory=dict)


def _tag_counts(session: Session, f: TaskFilter, readable: set[str] | None, prefix: str) -> Counter[str]:
    names = _task_rows(f, readable).subquery()
    rows = session.execute(
        select(DagTag.name, func.count())
        .where(DagTag.dag_id.in_(select(names.c.name)), DagTag.name.startswith(prefix, autoescape=True))
        .group_by(DagTag.name)
    ).all()
    return Counter({name[len(prefix):]: count for name, count in rows})


def _tags_of(session: Session, names: Container[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Project and owner tags of the tasks ``names``.

    Every project/owner tag is read and the others dropped here: naming the tasks in SQL (``IN`` the
    status pass's subquery) made the database compute every task's status a second time (about 20 of
    240 ms of a status-filtered page at 10,000 tasks).
    """
    projects: dict[str, set[str]] = defaultdict(set)
    owners: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        select(DagTag.dag_id, DagTag.name).where(
            or_(DagTag.name.startswith(PROJECT_TAG_PREFIX, autoescape=True),
                DagTag.name.startswith(OWNER_TAG_PREFIX, autoescape=True)),
        )
    ).all()
    for dag_id, tag in rows:
        if dag_id in names:
            kind, _, value = tag.partition(":")
            (projects if kind == "project" else owners)[dag_id].add(value)
    return projects, owners


@without_gc_pauses
def list_with_facets(
    session: Session, f: TaskFilter, readable: set[str] | None, limit: int = 50, offset: int = 0
) -> tuple[TaskList, Facets]:
    """The page ``tasks.list_tasks`` would return for ``f``, and the facet counts around it."""
    if limit < 1 or offset < 0:
        raise Invalid("limit must be at least 1 and offset at least 0")
    wide = bool(f.status)
    scope = f.model_copy(update={"status": None, "project": None, "owner": None} if wide else {"status": None})
    base = _task_rows(scope, readable).subquery()
    status_of: dict[str, str] = dict(session.execute(select(base.c.name, base.c.status)).all())

    if wide:
        projects_of, owners_of = _tags_of(session, status_of) if status_of else ({}, {})

        def keeps(name: str, *, status: bool = True, project: bool = True, owner: bool = True) -> bool:
            return (
                (not status or status_of[name] in (f.status or ()))
                and (not project or not f.project or f.project in projects_of.get(name, ()))
                and (not owner or not f.owner or f.owner in owners_of.get(name, ()))
            )

        statuses = Counter(s for n, s in status_of.items() if keeps(n, status=False))
        projects = Counter(p for n in status_of if keeps(n, project=False) for p in projects_of.get(n, ()))
        owners = Counter(o for n in status_of if keeps(n, owner=False) for o in owners_of.get(n, ()))
        matching = sorted(n for n in status_of if keeps(n))
    else:  # every row already passed the project/owner filters in SQL; no status filter to apply
        statuses = Counter(status_of.values())
        projects = _tag_counts(session, f.model_copy(update={"project": None}), readable, PROJECT_TAG_PREFIX)
        owners = _tag_counts(session, f.model_copy(update={"owner": None}), readable, OWNER_TAG_PREFIX)
        matching = sorted(status_of)

    names = matching[offset : offset + limit]
    page: list[Any] = []
    if names:  # the page's other columns (current run, created, updated) for its own rows only
        page = sorted(session.execute(select(base).where(base.c.name.in_(names))).all(), key=lambda r: r.name)
    return (
        TaskList(total=len(matching), limit=limit, offset=offset, tasks=summaries(session, page)),
        Facets(
            projects=dict(sorted(projects.items())),
            owners=dict(sorted(owners.items())),
            statuses={s: statuses.get(s, 0) for s in TASK_STATUSES},
        ),
    )
