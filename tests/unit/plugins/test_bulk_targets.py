"""A bulk action by run filter: narrowed to the tasks the caller may edit, then capped at 1,000 runs.

Airflow's own metadata schema in SQLite (as ``test_all_runs``); the auth manager's answers are the
only stand-in: a role that may read the runs of two tasks and edit those of one. The FAB and simple
auth managers answer the same questions in ``tests/e2e/test_fab_access.py`` and ``test_runs_view.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import HTTPException
from sqlalchemy.orm import Session

from airflow_batchtasks.plugins.api.routes import bulk
from airflow_batchtasks.plugins.data import all_runs
from airflow_batchtasks.plugins.data.errors import Invalid
from tests.unit.plugins.test_all_runs import _dag, _run, engine  # noqa: F401 - the module's engine fixture


@pytest.fixture(scope="module")
def session(engine) -> Iterator[Session]:  # noqa: ANN001, F811
    with Session(engine) as s:
        _dag(s, "mine", ["batchtasks", "project:p1"])
        _dag(s, "theirs", ["batchtasks", "project:p2"])
        for i in range(10):
            _run(s, "mine", f"m{i}", i, "failed", ti_states=("failed",))
        for i in range(all_runs.MAX_TARGETS + 50):
            _run(s, "theirs", f"t{i}", i, "failed", ti_states=("failed",))
        s.commit()
        yield s


class _User:
    def get_name(self) -> str:
        return "ann"


@pytest.fixture
def may_edit(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """The caller reads runs of ``mine`` and ``theirs`` and edits those of ``grants["edit"]``."""
    grants = {"read": {"mine", "theirs"}, "edit": {"mine"}}

    def readable(user: Any, method: str = "GET", entity: Any = None) -> set[str]:
        return set(grants["read" if method == "GET" else "edit"])

    def allowed(user: Any, method: str, dag_ids: Any, entity: Any = None) -> set[str]:
        return set(dag_ids) & grants["read" if method == "GET" else "edit"]

    monkeypatch.setattr(bulk, "readable_dag_ids", readable)
    monkeypatch.setattr(bulk, "allowed_dag_ids", allowed)
    return grants


def test_the_cap_counts_only_runs_the_caller_may_edit(session: Session, may_edit: dict[str, set[str]]) -> None:
    # 1,060 Failed runs are readable, 10 of them editable: the 10 are the targets, not a "narrow the filter"
    found = bulk.run_targets(bulk.FilterBody(status="Failed", task=""), _User(), session, "retry")
    assert sorted(found) == sorted(("mine", f"m{i}") for i in range(10))


def test_more_than_the_cap_of_editable_runs_is_still_refused(session: Session, may_edit: dict[str, set[str]]) -> None:
    may_edit["edit"] = {"mine", "theirs"}
    with pytest.raises(Invalid, match="more than 1,000 runs to retry"):
        bulk.run_targets(bulk.FilterBody(status="Failed", task=""), _User(), session, "retry")


def test_a_filter_matching_only_runs_of_others_is_forbidden(session: Session, may_edit: dict[str, set[str]]) -> None:
    with pytest.raises(HTTPException) as raised:
        bulk.run_targets(bulk.FilterBody(task="theirs"), _User(), session, "retry")
    assert raised.value.status_code == 403


def test_a_filter_matching_nothing_is_no_target_not_a_refusal(session: Session, may_edit: dict[str, set[str]]) -> None:
    assert bulk.run_targets(bulk.FilterBody(task="nobody"), _User(), session, "retry") == []
