"""Runs of every batch task (``GET /runs``, the Runs page, bulk skip/retry by a run filter).

A page is the page's keys, then their rows, and the exact total. In SQLite, which has no statistics
to plan with, the total is counted first and the page then found by whichever reads fewer runs:
walking the ``run_after`` index newest first until the page is full (dense matches: a status, a
project) or sorting the matches (few: one task); other databases get one pass with a window count
and plan it themselves (see :func:`list_runs`). At 10,000 tasks x 100 runs a filtered page stays
within 300 ms except a text search of the arguments and an update date range, which read every run,
and pages deep in a long list, which step over the runs before them:

- which runs: runs of live batch-task DAGs (the SQL of :func:`tasks.batch_task_dag_ids`) the
  caller may read (``readable``); a filter never reaches another DAG; the filters on the task
  (name, project) narrow that list of DAGs, not the runs (:func:`_task_ids`);
- status: the run's own status in the UI's words (:func:`status.task_status_expr` on the run,
  the same expression the task list applies to a task's current run), narrowed first by
  Airflow's run state so the ``dag_id_state`` index does most of the work; Failed and Skipped
  by the set of skipped runs found from their skipped steps (:func:`status.skipped_run_ids`);
- created: when the run was created/queued for (``run_after``, indexed); updated: the run row's
  last change (``updated_at``: Airflow stamps it on every state change; a running run's
  scheduling decisions touch it too), present on Airflow 3.1 to 3.3;
- newest first: ``run_after`` then ``id``, descending.

``args`` searches the run's arguments (``conf``) as JSON text, case-insensitive. Secrets must
not be searchable: a match that lies only inside a masked value would tell the searcher which
run holds a secret. So runs whose conf *could* hold a secret (it names one of Airflow's sensitive
key names, with any separator, or holds a URL with a user part) are checked again in Python on
their masked conf (:func:`masking.mask_data`), and those whose masked arguments do not contain the
text are left out of the page and the count. Which runs are such suspects is remembered per run
(:class:`_SuspectRuns`: arguments never change; read when the API's app is built), and how many one
search re-checks is bounded (:data:`MAX_SUSPECTS`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagModel, DagTag
from airflow.models.dagrun import DagRun
from pydantic import BaseModel, field_validator
from sqlalchemy import Text, and_, cast, func, or_, select

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.naming import project_of, project_tag
from airflow_batchtasks.plugins.data import files, runs
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.gc_pauses import without_gc_pauses
from airflow_batchtasks.plugins.data.models import RunPage, RunRow
from airflow_batchtasks.plugins.data.status import skipped_expr, skipped_run_ids, split_statuses, task_status_expr
from airflow_batchtasks.plugins.data.tasks import contains, is_batch_task

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: Airflow run states a UI status can have (the status expression decides among them).
STATES_BY_STATUS: dict[str, tuple[str, ...]] = {
    "New": ("queued", "running"),
    "Processing": ("running",),
    "Retry": ("running",),
    "Finished": ("success",),
    "Failed": ("failed",),
    "Skipped": ("failed",),
}
#: Most runs whose arguments might hold a secret that one ``args`` search leaves out by key.
MAX_SUSPECTS = 10_000
#: Beyond this many suspects to leave out, a search first narrows them to those its other filters match.
MAX_EXCLUDED = 5_000
#: Most runs one bulk action by filter may target (the request is refused, nothing done, beyond).
MAX_TARGETS = 1_000
#: The statuses each bulk action can act on: what the filter's matching runs are narrowed to.
ACTIONABLE = {"skip": ("New",), "retry": ("Finished", "Failed", "Skipped")}


class RunFilter(BaseModel):
    """The filters of ``GET /runs`` (also a bulk action's ``filter`` when it uses a run filter)."""

    status: list[str] | None = None
    project: str | None = None
    task: str | None = None
    task_name: str | None = None
    args: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None

    model_config = {"extra": "forbid"}

    @field_validator("status", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return split_statuses(value, "run")


def batch_task_dag_ids() -> Any:
    """SELECT of the live batch-task DAG ids (:func:`naming.is_batch_task_dag` as SQL, as the task list)."""
    return select(DagModel.dag_id).where(*is_batch_task())


def _conf_text() -> Any:
    """The run's arguments as lower-case JSON text (the patterns compared with it are lower case too)."""
    return func.lower(cast(DagRun.conf, Text))


def _conf_contains(session: Session, pattern: str) -> Any:
    """``conf`` text LIKE ``pattern`` (lower case), case-insensitive; SQLite's LIKE already ignores ASCII case,
    so there it skips lower-casing every run's arguments (a third of the scan)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(DagRun.conf, Text).like(pattern, escape="\\")
    return _conf_text().like(pattern, escape="\\")


def _may_hold_secret(session: Session) -> Any:
    """Conf text that names a sensitive key, or a URL with a user: the runs re-checked on masked arguments.

    It must over-match, never under-match: the masker lower-cases a key and reads any run of non-word
    characters as ``_`` (``api--key``, ``Private - Key``), and SQLite stores non-ASCII characters of a key
    as ``\\uXXXX``; so each ``_`` of a field matches any text (``%api%key%``).
    """
    fields = masking.sensitive_fields() if masking._hiding_enabled() else frozenset()
    patterns = ["%://%@%", *(contains(f.lower(), escape_underscore=False).replace("_", "%") for f in fields)]
    return or_(*(_conf_contains(session, p) for p in patterns))


def _task_ids(f: RunFilter, readable: set[str] | None) -> Any:
    """SELECT of the batch tasks whose runs ``f`` can match: the filters on the task (name, project, access)
    narrow the DAGs, not the runs, so each run is tested against one list of DAG ids (a project's 100,000 runs
    of 1,000,000 counted in 11 ms, against 200 ms with one IN per filter on the runs)."""
    q = batch_task_dag_ids()
    if readable is not None:
        q = q.where(DagModel.dag_id.in_(sorted(readable)))
    if f.task_name:
        q = q.where(DagModel.dag_id == f.task_name)
    if f.task:
        q = q.where(DagModel.dag_id.ilike(contains(f.task), escape="\\"))
    if f.project:
        q = q.where(DagModel.dag_id.in_(select(DagTag.dag_id).where(DagTag.name == project_tag(f.project))))
    return q


def _dag_test(f: RunFilter, readable: set[str] | None, *, walk: bool = False) -> Any:
    """The run's DAG is one of :func:`_task_ids`; ``walk``: as an expression SQLite cannot look up by index,
    so that it reads the runs newest first through the ``run_after`` index instead (see
    :func:`_walk_is_shorter`)."""
    return (DagRun.dag_id + "" if walk else DagRun.dag_id).in_(_task_ids(f, readable))


def _status_where(statuses: list[str], skipped: Any | None) -> list[Any]:
    """Runs in any of ``statuses``: Airflow's run state first (indexed), then the UI status where the state
    alone does not decide it; Failed and Skipped by the set of skipped runs (``skipped``,
    :func:`status.skipped_run_ids`) when there is one, not by looking up every failed run's steps."""
    states = sorted({s for status in statuses for s in STATES_BY_STATUS[status]})
    where: list[Any] = [DagRun.state.in_(states)]
    if set(statuses) == {s for s, st in STATES_BY_STATUS.items() if set(st) <= set(states)}:
        return where
    ways: list[Any] = []
    by_steps: list[str] = []
    for status in statuses:
        if status == "Finished":
            ways.append(DagRun.state == "success")
        elif status in ("Failed", "Skipped") and skipped is not None:
            is_skipped = DagRun.id.in_(skipped)
            ways.append(and_(DagRun.state == "failed", is_skipped if status == "Skipped" else ~is_skipped))
        else:
            by_steps.append(status)
    if by_steps:
        ways.append(task_status_expr(DagRun).in_(by_steps))
    return [*where, or_(*ways)]


def _skipped_for(session: Session, f: RunFilter) -> Any | None:
    """:func:`status.skipped_run_ids` when ``f`` asks for Failed or Skipped runs."""
    return skipped_run_ids(session) if {"Failed", "Skipped"} & set(f.status or ()) else None


def _where(f: RunFilter, readable: set[str] | None, skipped: Any | None = None) -> list[Any]:
    """The run filters as WHERE clauses on ``DagRun``; the first is always :func:`_dag_test`."""
    where: list[Any] = [_dag_test(f, readable)]
    if f.status:
        where += _status_where(f.status, skipped)
    for column, low, high in (
        (DagRun.run_after, f.created_from, f.created_to),
        (DagRun.updated_at, f.updated_from, f.updated_to),
    ):
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column < high)
    return where


class _SuspectRuns:
    """The runs whose arguments could hold a secret, with their masked arguments, kept up to date per process.

    A run's arguments never change once it is created (a clear keeps them), so which runs are suspects, and
    what their arguments look like masked, is read once per run: a first read of every run, in a background
    thread (each API-server worker has its own), then on each search only the runs created since (and the
    newest :data:`RESCAN_TAIL` again, in case a database reused the key of a deleted newest run). Until the
    first read is done a search tests its own matches in SQL instead. This keeps the secret check out of the
    scan that every ``args`` search does, and keeps masking (Python, per run) out of the search itself: a
    search with thousands of suspect matches compares the needle with texts already masked.

    A masked text depends on the masker: the sensitive names (a change reads everything again) and the
    secret values it was told about in this process (a change masks the texts again, when next needed).
    """

    RESCAN_TAIL = 1_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: suspect run key -> its masked arguments as lower-case JSON text (None: to be masked again)
        self._texts: dict[int, str | None] = {}
        self._upto = 0
        self._fields: frozenset[str] | None = None
        self._known: Any = None
        self._building = False

    def get(self, session: Session) -> set[int] | None:
        """The suspects, or None while the first read is under way (test the matches in SQL then)."""
        fields = _fields()
        with self._lock:
            self._check_masker(fields)
            if not self._upto:
                self._start(session.get_bind(), fields)
                return None
            top = session.scalar(select(func.max(DagRun.id))) or 0
            low = max(0, self._upto - self.RESCAN_TAIL)
            fresh = _masked_suspects(session, DagRun.id > low, DagRun.id <= top)
            self._texts = {i: t for i, t in self._texts.items() if i <= low}
            self._texts.update(fresh)
            self._upto = max(top, 1)
            return set(self._texts)

    def hidden_ids(self, session: Session, needle: str) -> list[int]:
        """The suspects whose masked arguments do not contain ``needle``: any text match among them lies only
        inside a secret. Texts not masked yet (or masked before the masker learnt a secret) are read by key
        first; call :meth:`get` before (it brings the suspects up to date)."""
        with self._lock:
            self._check_masker(_fields())
            missing = [i for i, t in self._texts.items() if t is None]
        for start in range(0, len(missing), 500):
            rows = session.execute(select(DagRun.id, DagRun.conf).where(DagRun.id.in_(missing[start:start + 500])))
            masked = {r.id: _masked_text(r.conf) for r in rows}
            with self._lock:
                self._texts.update((i, t) for i, t in masked.items() if i in self._texts)
        with self._lock:
            return [i for i, t in self._texts.items() if t is not None and needle not in t]

    def start(self, bind: Any) -> None:
        """Begin the first read now (the API's app is being built), so that the first ``args`` search a
        worker serves finds it done instead of testing its matches in SQL while the read competes with it."""
        fields = _fields()
        with self._lock:
            self._check_masker(fields)
            if not self._upto:
                self._start(bind, fields)

    def _check_masker(self, fields: frozenset[str]) -> None:
        """Forget what a change of the masker made stale (the caller holds the lock)."""
        if fields != self._fields:  # Airflow's list of sensitive names changed: read everything again
            self._texts, self._upto, self._fields = {}, 0, fields
        known = masking.known_secrets_key()
        if known != self._known:  # the masker was told about another secret value: mask again when needed
            self._texts, self._known = dict.fromkeys(self._texts), known

    def _start(self, bind: Any, fields: frozenset[str]) -> None:
        """The first read in a background thread, unless one is under way (the caller holds the lock)."""
        if not self._building:
            self._building = True
            threading.Thread(target=self._first_read, args=(bind, fields), daemon=True,
                             name="batchtasks-suspect-runs").start()

    def _first_read(self, bind: Any, fields: frozenset[str]) -> None:
        from sqlalchemy.orm import Session as OrmSession

        try:
            known = masking.known_secrets_key()
            with OrmSession(bind=bind) as session:
                top = session.scalar(select(func.max(DagRun.id))) or 0
                texts = _masked_suspects(session, DagRun.id <= top)
            if masking.known_secrets_key() != known:  # the masker learnt a secret meanwhile: mask them again
                texts = dict.fromkeys(texts)
            with self._lock:
                if fields == self._fields:
                    self._texts, self._upto = texts, max(top, 1)
        except Exception:  # noqa: BLE001 - searches keep testing in SQL; the next one tries again
            log.warning("reading which runs could hold secrets failed", exc_info=True)
        finally:
            with self._lock:
                self._building = False


def _fields() -> frozenset[str]:
    return masking.sensitive_fields() if masking._hiding_enabled() else frozenset()


def _masked_text(conf: Any) -> str:
    """A run's arguments as a search sees them: masked, as lower-case JSON text."""
    return json.dumps(masking.mask_data(dict(conf or {})), default=str).lower()


def _masked_suspects(session: Session, *where: Any) -> dict[int, str | None]:
    """The runs matching ``where`` whose arguments could hold a secret, with their masked arguments."""
    rows = session.execute(select(DagRun.id, DagRun.conf).where(*where, _may_hold_secret(session)))
    return {r.id: _masked_text(r.conf) for r in rows}


_suspect_runs = _SuspectRuns()


def start_reading_suspects(bind: Any) -> None:
    """Start learning which runs could hold secrets (:class:`_SuspectRuns`), in the background."""
    _suspect_runs.start(bind)


def _too_many(f: RunFilter) -> Invalid:
    return Invalid(f"args: more than {MAX_SUSPECTS:,} runs with secret arguments match `{f.args}`: "
                   "narrow the search with other filters (task, project, dates)")


def _args_where(session: Session, f: RunFilter, where: list[Any], readable: set[str] | None) -> list[Any]:
    """``where`` (:func:`_where` of ``f`` and ``readable``) narrowed to runs whose *masked* arguments contain
    ``f.args`` (see the module doc).

    The text test runs in SQL; the runs it must not find (suspects whose masked arguments lack the text) are
    known from the suspects' masked texts without reading a run, and left out by key, so a search is one
    filtered pass like any other filter (its page and total in the same query, nothing per match in Python).
    """
    if not f.args:
        return where
    needle = f.args.lower()
    matches = [*where, _conf_contains(session, contains(needle))]
    suspects = _suspect_runs.get(session)
    if suspects is None:  # not known yet: the same test in SQL on the matches, their arguments masked here
        rows = session.execute(
            select(DagRun.id, DagRun.conf).where(*matches, _may_hold_secret(session)).limit(MAX_SUSPECTS + 1)
        ).all()
        if len(rows) > MAX_SUSPECTS:
            raise _too_many(f)
        hidden = [r.id for r in rows if needle not in _masked_text(r.conf)]
    else:
        hidden = _suspect_runs.hidden_ids(session, needle)
        if len(hidden) > MAX_EXCLUDED:  # a long list to leave out: only those the other filters and the text match
            hidden = _matching_of(session, hidden, [_dag_test(f, readable, walk=True), *matches[1:]])
            if len(hidden) > MAX_SUSPECTS:
                raise _too_many(f)
    return [*matches, DagRun.id.not_in(sorted(hidden))] if hidden else matches


def _matching_of(session: Session, ids: list[int], where: list[Any]) -> list[int]:
    """Those of ``ids`` that match ``where`` (its DAG test in the walk form, so that SQLite reads each run by
    key): up to ``10 x MAX_EXCLUDED`` ids by key, 5,000 at a time (22,000-30,000 in 65-90 ms, where reading
    every match took 270-900 ms at 1,000,000 runs), more by reading the matches."""
    if len(ids) > 10 * MAX_EXCLUDED:
        matched = set(session.scalars(select(DagRun.id).where(*where)).all())
        return [i for i in ids if i in matched]
    chunks = (ids[start:start + MAX_EXCLUDED] for start in range(0, len(ids), MAX_EXCLUDED))
    return [i for chunk in chunks for i in session.scalars(select(DagRun.id).where(DagRun.id.in_(chunk), *where))]


def _matching(session: Session, f: RunFilter, readable: set[str] | None) -> list[Any]:
    """:func:`matching` of ``readable`` already narrowed (:func:`_narrowed`)."""
    return _args_where(session, f, _where(f, readable, _skipped_for(session, f)), readable)


def matching(session: Session, f: RunFilter, readable: set[str] | None) -> list[Any]:
    """The WHERE clauses (on ``DagRun``) of the runs matching ``f`` that ``readable`` allows."""
    return _matching(session, f, _narrowed(session, readable))


def _narrowed(session: Session, readable: set[str] | None) -> set[str] | None:
    """``readable`` as the batch tasks among it, or None when it holds every batch task (no key list to send)."""
    if readable is None:
        return None
    tasks = set(session.scalars(batch_task_dag_ids()).all())
    return None if tasks <= readable else tasks & readable


@without_gc_pauses
def list_runs(
    session: Session, f: RunFilter, readable: set[str] | None, limit: int = 50, offset: int = 0,
    *, with_files: bool = True,
) -> RunPage:
    """One page of runs of every readable batch task, newest first, and the total."""
    if limit < 1 or offset < 0:
        raise Invalid("limit must be at least 1 and offset at least 0")
    narrowed = _narrowed(session, readable)
    where = _matching(session, f, narrowed)
    newest_first = (DagRun.run_after.desc(), DagRun.id.desc())
    if not _may_walk(session, f):
        # the sort reads every matching run, so the same pass counts them (a window count): one pass, not two
        page = session.execute(
            select(DagRun.id, func.count().over().label("total")).where(*where).order_by(*newest_first)
            .limit(limit).offset(offset)
        ).all()
        if not page:  # past the end: the window had no row to carry the total
            total = session.scalar(select(func.count()).select_from(DagRun).where(*where)) or 0
            return RunPage(total=total, limit=limit, offset=offset, runs=[])
        total, ids = page[0].total, [r.id for r in page]
    else:
        count_where = [_dag_test(f, narrowed, walk=_count_by_date(f)), *where[1:]]
        total = session.scalar(select(func.count()).select_from(DagRun).where(*count_where)) or 0
        if total <= offset:
            return RunPage(total=total, limit=limit, offset=offset, runs=[])
        end = min(offset + limit, total)
        # a page in the older half is read from the oldest end, which steps over fewer runs (the last page
        # reads its own rows, not the whole index), then turned the right way round
        from_oldest = offset > total // 2
        if _walk_is_shorter(session, total, total - offset if from_oldest else end):
            where = [_dag_test(f, narrowed, walk=True), *where[1:]]
        # the page's keys first, then its rows: the status expression (subqueries on task_instance) runs
        # for the page's rows alone, not for every run stepped over
        keys = select(DagRun.id).where(*where)
        if from_oldest:
            oldest_first = keys.order_by(DagRun.run_after, DagRun.id).limit(end - offset).offset(total - end)
            ids = list(reversed(session.scalars(oldest_first).all()))
        else:
            ids = list(session.scalars(keys.order_by(*newest_first).limit(limit).offset(offset)).all())
    found = {
        r.DagRun.id: r for r in session.execute(
            select(DagRun, task_status_expr(DagRun).label("task_status"), skipped_expr(DagRun).label("skipped"))
            .where(DagRun.id.in_(ids))
        ).all()
    } if ids else {}
    rows = [found[i] for i in ids if i in found]
    return RunPage(total=total, limit=limit, offset=offset, runs=_rows(session, rows, with_files))


def _may_walk(session: Session, f: RunFilter) -> bool:
    """Whether a page may be found by reading runs newest first (:func:`_walk_is_shorter`): in SQLite, which
    has no statistics to choose that itself, and not with an update date range (``updated_at`` follows
    ``run_after``, so a day's matches sit together, possibly far from the newest end: that page sorts)."""
    return session.get_bind().dialect.name == "sqlite" and f.updated_from is None and f.updated_to is None


def _count_by_date(f: RunFilter) -> bool:
    """Whether SQLite should count through the ``run_after`` index: a creation date range and no filter on the
    task; otherwise it reads every batch task's runs through the ``dag_id`` index and tests the date on each
    (a day of 1,000,000 runs: 280 ms against 110 ms)."""
    return (f.created_from is not None or f.created_to is not None) and not (f.task or f.task_name or f.project)


def _walk_is_shorter(session: Session, total: int, upto: int) -> bool:
    """Whether reading the runs in ``run_after`` order (its index, from the page's nearer end), stopping after
    ``upto`` matches, steps over fewer runs than sorting all ``total`` matches reads.

    Matches spread over time, so the walk steps over about ``upto x runs / total`` runs: a status or a project
    finds 50 of 100,000 matches in 20 ms instead of sorting them in 400 ms; one task's 100 runs sort.
    """
    runs = session.scalar(select(func.max(DagRun.id))) or 0
    return upto * runs < total * total


def _rows(session: Session, rows: list[Any], with_files: bool) -> list[RunRow]:
    dag_ids = sorted({r.DagRun.dag_id for r in rows})
    tags: dict[str, list[str]] = defaultdict(list)
    if dag_ids:
        for dag_id, tag in session.execute(select(DagTag.dag_id, DagTag.name).where(DagTag.dag_id.in_(dag_ids))):
            tags[dag_id].append(tag)
    by_run: dict[tuple[str, str], list[Any]] = {}
    if with_files and rows:
        # from the file index as it is: the listener indexes a run's files when it ends, and a task's own
        # pages re-read its archive folder; re-reading up to 50 folders here would cost the page's budget
        files.ensure_tables(session)
        by_run = files.files_of_task_runs(session, [(r.DagRun.dag_id, r.DagRun.run_id) for r in rows])
    out = []
    for r in rows:
        run = r.DagRun
        info = runs.run_info(run, r.task_status, r.skipped, by_run.get((run.dag_id, run.run_id)))
        out.append(RunRow(**info.model_dump(), project=project_of(tags.get(run.dag_id, [])), updated=run.updated_at))
    return out


def targets(session: Session, f: RunFilter, readable: set[str] | None, action: str) -> list[tuple[str, str]]:
    """(task, run_id) of exactly the runs matching ``f`` that ``action`` (skip/retry) can act on, oldest first.

    Invalid (nothing done) beyond :data:`MAX_TARGETS`: a bulk action is bounded work and must act on all
    the runs it was asked for or none.
    """
    wanted = [s for s in ACTIONABLE[action] if not f.status or s in f.status]
    if not wanted:
        return []
    narrowed = f.model_copy(update={"status": wanted})
    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id).where(*matching(session, narrowed, readable))
        .order_by(DagRun.run_after, DagRun.id).limit(MAX_TARGETS + 1)
    ).all()
    if len(rows) > MAX_TARGETS:
        raise Invalid(f"filter: more than {MAX_TARGETS:,} runs to {action}: narrow the filter (nothing was done)")
    return [(r.dag_id, r.run_id) for r in rows]
