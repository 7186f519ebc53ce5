"""The runs-of-every-task query (``GET /runs``) on Airflow's own schema in SQLite: filters, order, secrets.

A real metadata schema (Airflow's models, created in memory) with rows written the way
Airflow stores them; no server. The e2e tests cover the same through the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from airflow_batchtasks.plugins.data import all_runs, status
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.data.status import split_statuses
from tests.unit.plugins.airflow_rows import fit

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - a SQLAlchemy engine
    from airflow.models import import_all_models
    from airflow.models.base import Base

    import_all_models()
    # a file, not `sqlite://`: the API server reads which runs could hold secrets in a background thread,
    # and an in-memory SQLite database is a different (empty) one in each thread
    eng = create_engine(f"sqlite:///{tmp_path_factory.mktemp('all_runs') / 'airflow.db'}")
    Base.metadata.create_all(eng)
    return eng


def _dag(session: Session, dag_id: str, tags: list[str], stale: bool = False) -> None:
    from airflow.models.dag import DagModel, DagTag

    session.execute(insert(DagModel.__table__).values(fit(DagModel.__table__, dict(
        dag_id=dag_id, is_stale=stale, is_paused=False, bundle_name="dags-folder", max_active_tasks=16,
        max_consecutive_failed_dag_runs=0, has_task_concurrency_limits=False, has_import_errors=False,
        fail_fast=False, exceeds_max_non_backfill=False,
    ))))
    for tag in tags:
        session.execute(insert(DagTag.__table__).values(dag_id=dag_id, name=tag))


def _run(session: Session, dag_id: str, run_id: str, hours: int, state: str, conf: dict | None = None,
         ti_states: tuple[str | None, ...] = ()) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance

    when = T0 + timedelta(hours=hours)
    session.execute(insert(DagRun.__table__).values(fit(DagRun.__table__, dict(
        dag_id=dag_id, run_id=run_id, run_after=when, queued_at=when, state=state, run_type="manual",
        conf=conf or {}, clear_number=0, updated_at=when + timedelta(minutes=30),
    ))))
    for i, ti_state in enumerate(ti_states):
        session.execute(insert(TaskInstance.__table__).values(fit(TaskInstance.__table__, dict(
            id=uuid.uuid4(), dag_id=dag_id, run_id=run_id, task_id=f"step{i}", map_index=-1, state=ti_state,
            try_number=1, max_tries=0, pool="default_pool", pool_slots=1, priority_weight=1, hostname="",
            unixname="u", queue="default", custom_operator_name="", executor_config={},
        ))))


@pytest.fixture(scope="module")
def session(engine) -> Iterator[Session]:  # noqa: ANN001
    with Session(engine) as s:
        _dag(s, "alpha", ["batchtasks", "project:p1"])
        _dag(s, "beta", ["batchtasks", "project:p2"])
        _dag(s, "project__p1", ["batchtasks", "project:p1"])
        _dag(s, "orch", ["batchtasks", "orchestration"])
        _dag(s, "plain", [])
        _dag(s, "gone", ["batchtasks"], stale=True)
        _run(s, "alpha", "a1", 1, "failed", {"region": "EU"}, ("failed", "upstream_failed"))
        _run(s, "alpha", "a2", 2, "success", {"region": "US"}, ("success",))
        _run(s, "alpha", "a3", 3, "failed", {"region": "EU"}, ("skipped", "skipped"))  # a skip leaves this
        _run(s, "beta", "b1", 4, "running", {"password": "hunter2", "note": "hello"}, ("running",))
        _run(s, "beta", "b2", 5, "queued", {"api-key": "sesame", "note": "sesame street"})
        _run(s, "beta", "b3", 6, "running", {"region": "EU"}, ("up_for_retry",))
        _run(s, "project__p1", "p1", 7, "success")
        _run(s, "orch", "o1", 8, "success")
        _run(s, "plain", "x1", 9, "success")
        _run(s, "gone", "g1", 10, "success")
        s.commit()
        yield s


def ids(session: Session, readable: set[str] | None = None, **kw: object) -> list[str]:
    page = all_runs.list_runs(session, all_runs.RunFilter(**kw), readable, limit=100, with_files=False)
    assert page.total == len(page.runs)
    return [r.run_id for r in page.runs]


def test_only_live_batch_task_runs_newest_first(session: Session) -> None:
    assert ids(session) == ["b3", "b2", "b1", "a3", "a2", "a1"]


def test_each_run_shows_its_own_ui_status_project_and_update(session: Session) -> None:
    runs = {r.run_id: r for r in all_runs.list_runs(session, all_runs.RunFilter(), None, with_files=False).runs}
    assert {k: r.task_status for k, r in runs.items()} == {
        "a1": "Failed", "a2": "Finished", "a3": "Skipped", "b1": "Processing", "b2": "New", "b3": "Retry"}
    assert runs["a1"].project == "p1" and runs["b1"].project == "p2"
    assert runs["a1"].updated is not None and runs["a1"].updated.replace(tzinfo=timezone.utc) == T0 + timedelta(
        hours=1, minutes=30)
    assert runs["b1"].conf == {"password": "***", "note": "hello"}, "arguments are shown masked"


@pytest.mark.parametrize(("kw", "expected"), [
    ({"status": ["Failed"]}, ["a1"]),
    ({"status": "Skipped,failed"}, ["a3", "a1"]),
    ({"status": ["New", "Retry"]}, ["b3", "b2"]),
    ({"status": ["Finished"]}, ["a2"]),
    ({"project": "p2"}, ["b3", "b2", "b1"]),
    ({"task": "LPH"}, ["a3", "a2", "a1"]),
    ({"task_name": "alp"}, []),
    ({"task_name": "alpha"}, ["a3", "a2", "a1"]),
    ({"args": "eu"}, ["b3", "a3", "a1"]),
    ({"args": '"region": "US"'}, ["a2"]),
    ({"created_from": T0 + timedelta(hours=2), "created_to": T0 + timedelta(hours=4)}, ["a3", "a2"]),
    ({"updated_from": T0 + timedelta(hours=5, minutes=30)}, ["b3", "b2"]),
])
@pytest.mark.parametrize("skipped_by", ["skipped steps", "each run's steps"])
def test_filters(session: Session, kw: dict, expected: list[str], skipped_by: str, monkeypatch: pytest.MonkeyPatch,
                 ) -> None:
    """Skipped/Failed are told apart from the set of skipped runs (few skipped steps) or per run (many)."""
    if skipped_by == "each run's steps":
        monkeypatch.setattr(status, "MAX_SKIPPED_STEPS", -1)
    assert ids(session, **kw) == expected


def test_a_secret_is_not_searchable(session: Session) -> None:
    assert ids(session, args="hunter2") == [], "a match only inside a masked value reveals nothing"
    assert ids(session, args="hello") == ["b1"], "the run's other arguments stay searchable"
    assert ids(session, args="sesame") == [], "api-key is masked as api_key; its value is masked in the note too"
    assert ids(session, args="street") == ["b2"], "what the masked arguments show is searchable"


def test_readable_restricts_and_pages(session: Session) -> None:
    assert ids(session, readable={"alpha", "plain"}) == ["a3", "a2", "a1"]
    assert ids(session, readable=set()) == []
    page = all_runs.list_runs(session, all_runs.RunFilter(), None, limit=2, offset=2, with_files=False)
    assert (page.total, [r.run_id for r in page.runs]) == (6, ["b1", "a3"])


def test_bulk_targets_are_exactly_the_matching_runs_the_action_can_take(session: Session) -> None:
    f = all_runs.RunFilter(task_name="alpha")
    assert all_runs.targets(session, f, None, "retry") == [("alpha", "a1"), ("alpha", "a2"), ("alpha", "a3")]
    assert all_runs.targets(session, f, None, "skip") == []
    assert all_runs.targets(session, all_runs.RunFilter(project="p2"), None, "skip") == [("beta", "b2")]
    assert all_runs.targets(session, all_runs.RunFilter(status=["Failed"]), None, "retry") == [("alpha", "a1")]
    assert all_runs.targets(session, all_runs.RunFilter(status=["New"]), None, "retry") == []
    assert all_runs.targets(session, all_runs.RunFilter(), {"beta"}, "retry") == [], "never a task not readable"


def test_bad_status_is_named() -> None:
    with pytest.raises(ValueError, match="`Done` is not a run status"):
        all_runs.RunFilter(status=["Done"])
    with pytest.raises(Invalid):
        all_runs.list_runs(None, all_runs.RunFilter(), None, limit=0)  # type: ignore[arg-type]


def test_which_bulk_filters_select_runs() -> None:
    from airflow_batchtasks.plugins.api.routes.bulk import FilterBody

    assert FilterBody(task_name="x").uses_run_filter() and FilterBody(args="EU").uses_run_filter()
    assert FilterBody(task="x", status="Failed").uses_run_filter()
    assert not FilterBody(name="x", status=["Failed"]).uses_run_filter(), "GET /tasks keys keep their meaning"


def test_statuses_split_and_normalised() -> None:
    assert split_statuses(["new,FAILED", "Failed", " retry "], "run") == ["New", "Failed", "Retry"]
    assert split_statuses("") is None


def test_a_secret_in_a_run_made_after_a_search_is_not_searchable_either(session: Session) -> None:
    assert ids(session, args="zzz") == []
    _run(session, "alpha", "a9", 30, "success", {"db-password": "zzz-top"})
    _run(session, "alpha", "a10", 31, "success", {"note": "zzz-plain"})
    session.commit()
    assert ids(session, args="zzz") == ["a10"], "the newer suspect run is checked masked too"


@pytest.mark.parametrize("key", ["api--key", "Private - Key", "access  token", "service\u00a0account"])
def test_a_secret_under_any_spelling_the_masker_hides_is_not_searchable(session: Session, key: str) -> None:
    from airflow_batchtasks.definitions import masking

    assert masking.mask_data({key: "w1dest-value"}) == {key: "***"}, "the masker hides this spelling"
    run_id = f"spelled-{sum(map(ord, key))}"
    _run(session, "alpha", run_id, 32, "success", {key: "w1dest-value", "note": f"w1dest-plain-{run_id}"})
    session.commit()
    assert ids(session, args="w1dest-value") == [], key
    assert ids(session, args=f"w1dest-plain-{run_id}") == [run_id], "its other arguments stay searchable"


@pytest.mark.parametrize("kw", [
    {}, {"status": ["Skipped"]}, {"status": ["Failed", "New"]}, {"project": "p2"}, {"task": "a"}, {"args": "eu"},
    {"args": "sesame"}, {"updated_from": T0 + timedelta(hours=2, minutes=30)}, {"created_to": T0 + timedelta(hours=5)},
])
@pytest.mark.parametrize("readable", [None, {"alpha", "beta", "project__p1", "orch", "plain"}, {"beta"}])
@pytest.mark.parametrize("walk", [True, False])
def test_every_page_and_total_is_the_plain_sql_answer(
    session: Session, kw: dict, readable: set[str] | None, walk: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The page paths (a count, then the page by walking the run_after index or by sorting the matches, from
    the newest end or, for a page in the older half, the oldest) against the plain answer: every matching key
    in order (Skipped told per run), sliced in Python, counted with len()."""
    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    f = all_runs.RunFilter(**kw)
    with monkeypatch.context() as per_run:
        per_run.setattr(status, "MAX_SKIPPED_STEPS", -1)
        plain = list(session.scalars(
            select(DagRun.run_id).where(*all_runs.matching(session, f, readable))
            .order_by(DagRun.run_after.desc(), DagRun.id.desc())
        ).all())
    monkeypatch.setattr(all_runs, "_walk_is_shorter", lambda *a: walk)
    for offset in range(len(plain) + 2):
        page = all_runs.list_runs(session, f, readable, limit=2, offset=offset, with_files=False)
        assert page.total == len(plain), (kw, offset)
        assert [r.run_id for r in page.runs] == plain[offset:offset + 2], (kw, offset)


def test_which_runs_could_hold_secrets_is_read_before_the_first_search(session: Session) -> None:
    """The API's app starts the read when it is built: the first ``args`` search then finds it done."""
    import time

    from airflow.models.dagrun import DagRun
    from sqlalchemy import select

    suspects = all_runs._SuspectRuns()
    suspects.start(session.get_bind())
    deadline = time.monotonic() + 20
    while suspects._building and time.monotonic() < deadline:
        time.sleep(0.05)
    secret = set(session.scalars(select(DagRun.id).where(all_runs._may_hold_secret(session))).all())
    named = set(session.scalars(select(DagRun.id).where(DagRun.run_id.in_(("b1", "b2")))).all())
    assert named <= secret
    assert suspects.get(session) == secret, "known at once, not None (the SQL fallback)"


@pytest.mark.parametrize("older_half", [False, True])
def test_the_unfiltered_list_walks_the_run_after_index_instead_of_sorting_every_run(
    session: Session, older_half: bool,
) -> None:
    """SQLite's plan for the unfiltered page (the Runs page as it opens, deep pages): no sort of all runs; a page
    in the older half walks the index from the oldest end (fewer runs to step over) and is the same page."""
    from sqlalchemy import event

    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append((statement, parameters))

    total = all_runs.list_runs(session, all_runs.RunFilter(), None, limit=1, with_files=False).total
    offset = total - 2 if older_half else 1  # the last page: in the older half whatever the total
    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        page = all_runs.list_runs(session, all_runs.RunFilter(), None, limit=2, offset=offset, with_files=False)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    order = "ORDER BY dag_run.run_after, dag_run.id" if older_half else "ORDER BY dag_run.run_after DESC"
    walk = next((st, p) for st, p in seen if order in st)
    rows = session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + walk[0], walk[1])
    plan = " | ".join(str(r[-1]) for r in rows)
    assert "dag_run USING INDEX idx_dag_run_run_after" in plan and "TEMP B-TREE" not in plan, plan
    newest_first = [r.run_id for r in all_runs.list_runs(
        session, all_runs.RunFilter(), None, limit=total, with_files=False).runs]
    assert [r.run_id for r in page.runs] == newest_first[offset:offset + 2]


def test_a_value_the_masker_learns_after_a_search_is_not_searchable_from_then_on(
    session: Session, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Suspects' masked arguments are kept between searches; a secret the masker is told about later (a
    connection's password read in the API server) makes them stale, and the next search masks them again."""
    from airflow_batchtasks.definitions import masking

    _run(session, "alpha", "learnt", 40, "success", {"db_password": "pw", "note": "qx7-learnt-later"})
    session.commit()
    monkeypatch.setattr(all_runs._SuspectRuns, "RESCAN_TAIL", 0)  # known runs are not read again: the cache answers
    _suspects_known(session)
    assert ids(session, args="qx7-learnt") == ["learnt"], "not a secret yet: searchable"
    masking._masker().add_mask("qx7-learnt-later")
    assert ids(session, args="qx7-learnt") == [], "masked since the masker knows it"
    assert ids(session, args="db_password") == ["learnt"], "the key's name stays searchable"


def test_a_long_list_of_suspects_to_leave_out_is_narrowed_to_the_matches_first(
    session: Session, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past :data:`MAX_EXCLUDED` suspects, a search leaves out only those its text and filters match: same answer,
    whether those are looked up by key (up to ten times the limit; here one at a time) or read with the matches."""
    _suspects_known(session)
    for limit in (1, 0):
        monkeypatch.setattr(all_runs, "MAX_EXCLUDED", limit)
        assert ids(session, args="hunter2") == [], limit
        assert ids(session, args="hello") == ["b1"], limit
        assert ids(session, args="hunter2", project="p2") == [], limit
    monkeypatch.setattr(all_runs, "MAX_SUSPECTS", 0)
    with pytest.raises(Invalid, match="runs with secret arguments match `hunter2`"):
        ids(session, args="hunter2")


def _suspects_known(session: Session) -> None:
    """Wait until this process knows which runs could hold secrets (read in the background)."""
    import time

    deadline = time.monotonic() + 20
    while all_runs._suspect_runs.get(session) is None and time.monotonic() < deadline:
        time.sleep(0.05)
