"""Step and instance statuses: PARTIAL detection, a step's view, the instance's summary."""

from __future__ import annotations

import pytest

from airflow_batchtasks.orchestration.status import (
    needs_task_run_state,
    parse_step_task_id,
    partial_reason,
    says_partial,
    step_task_id,
    step_view,
    summarize,
)


@pytest.mark.parametrize(
    ("value", "partial"),
    [
        ({"partial": True}, True),
        ({"partial": True, "reason": "x"}, True),
        ([{"partial": True}], True),
        ([{"file": "a.csv"}, {"partial": True}], True),
        ({"partial": "true"}, False),  # only a real boolean counts
        ({"partial": False}, False),
        ([{"partial": False}], False),
        (["partial"], False),
        (None, False),
        ("partial: true", False),
        ([["a", {"partial": True}]], False),
    ],
)
def test_says_partial(value: object, partial: bool) -> None:
    assert says_partial(value) is partial


def test_partial_reason_names_the_task_and_its_reason() -> None:
    values = [("extract", ["/staging/a.csv"]), ("process", {"partial": True, "reason": "3 rows rejected"})]
    assert partial_reason(values) == "`process` reported PARTIAL: 3 rows rejected"
    assert partial_reason([("call", [{"partial": True}])]) == "`call` reported PARTIAL"
    assert partial_reason([("call", {"status": 200})]) is None


def test_step_task_ids_round_trip() -> None:
    assert step_task_id(12, "export.users-v2") == "step_12__export.users-v2"
    assert parse_step_task_id("step_12__export.users-v2") == (12, "export.users-v2")
    assert parse_step_task_id("report") is None
    assert parse_step_task_id("step_x__a") is None


def s(n: int, status: str, reason: str = "r", **kw) -> dict:
    return {"step": n, "task": f"t{n}", "status": status, "reason": reason, **kw}


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([s(1, "SUCCESS"), s(2, "SUCCESS")], ("SUCCESS", None)),
        ([s(1, "PARTIAL", "2 rows"), s(2, "SUCCESS")], ("PARTIAL", "step 1 `t1` ended PARTIAL: 2 rows")),
        ([s(1, "SUCCESS"), s(2, "FAILED", "boom"), s(3, "SKIPPED", origin="step 2 `t2` failed")],
         ("FAILED", "step 2 `t2` failed: boom")),
        ([s(1, "FAILED", "boom"), s(2, "SUCCESS")], ("FAILED", "step 1 `t1` failed: boom")),
        ([s(1, "SUCCESS"), s(2, "SKIPPED", "not started: x", origin="time limit reached")],
         ("FAILED", "time limit reached")),
        ([s(1, "SKIPPED", "orchestration is inactive", origin="orchestration is inactive"), s(2, "SKIPPED")],
         ("FAILED", "orchestration is inactive")),
        ([s(1, "SUCCESS"), s(2, "RUNNING")], ("FAILED", "step 2 `t2` has no final outcome (RUNNING)")),
    ],
)
def test_summarize(steps: list[dict], expected: tuple) -> None:
    assert summarize(steps) == expected


@pytest.mark.parametrize(
    ("outcome", "ti_state", "cancelled", "status"),
    [
        ({"status": "SUCCESS"}, "success", None, "SUCCESS"),
        ({"status": "PARTIAL"}, "success", None, "PARTIAL"),
        ({"status": "SKIPPED"}, "skipped", None, "SKIPPED"),
        ({"status": "WAITING"}, "deferred", None, "WAITING"),
        ({"status": "RUNNING"}, "deferred", None, "RUNNING"),
        (None, "running", None, "RUNNING"),
        (None, None, None, "NOT_STARTED"),
        (None, "scheduled", None, "NOT_STARTED"),
        ({"status": "RUNNING"}, "failed", "cancelled by ann", "CANCELLED"),  # stopped by a cancellation
        ({"status": "RUNNING"}, "failed", None, "FAILED"),  # marked failed by hand
        (None, "skipped", "cancelled by ann", "SKIPPED"),  # never started: Airflow skipped it on cancel
        ({"status": "WAITING"}, "success", None, "SUCCESS"),  # marked success by hand
    ],
)
def test_step_view(outcome: dict | None, ti_state: str | None, cancelled: str | None, status: str) -> None:
    view = step_view(1, "t1", outcome, ti_state, cancelled)
    assert view["status"] == status
    assert (view["step"], view["task"]) == (1, "t1")


def test_step_view_of_a_cancelled_instance_says_who() -> None:
    assert step_view(1, "t", {"status": "RUNNING"}, "failed", "cancelled by ann")["reason"] == "cancelled by ann"
    skipped = step_view(2, "u", None, "skipped", "cancelled by ann")
    assert skipped["reason"] == "not started: cancelled by ann"


RUNNING_OUTCOME = {"status": "RUNNING", "task_run_id": "i1__step_1__t1", "reason": "first step"}


@pytest.mark.parametrize(
    ("run_state", "partial", "status"),
    [("success", None, "SUCCESS"), ("success", "`work` reported PARTIAL", "PARTIAL"), ("failed", None, "FAILED")],
)
def test_a_step_failed_by_airflow_after_its_task_run_ended_takes_the_run_outcome(
    run_state: str, partial: str | None, status: str
) -> None:
    # Airflow 3.3 may fail a deferred step that resumes before its deferral was reported (stale executor event).
    assert needs_task_run_state(RUNNING_OUTCOME, "failed")
    view = step_view(1, "t1", RUNNING_OUTCOME, "failed", task_run_state=run_state, task_run_partial=partial)
    assert view["status"] == status
    assert "apache/airflow#72716" in view["reason"]


@pytest.mark.parametrize(
    ("outcome", "ti_state", "cancelled", "run_state", "status"),
    [
        (RUNNING_OUTCOME, "failed", "cancelled by ann", "failed", "CANCELLED"),  # the cancel failed the run
        (RUNNING_OUTCOME, "failed", None, "running", "FAILED"),  # stopped by hand while its run went on
        ({"status": "WAITING"}, "failed", None, None, "FAILED"),  # never launched
    ],
)
def test_no_reconciliation_otherwise(outcome, ti_state, cancelled, run_state, status) -> None:
    assert step_view(1, "t1", outcome, ti_state, cancelled, task_run_state=run_state)["status"] == status


def test_needs_task_run_state_only_for_a_launched_step_failed_in_airflow() -> None:
    assert not needs_task_run_state(RUNNING_OUTCOME, "deferred")
    assert not needs_task_run_state({"status": "SUCCESS", "task_run_id": "x"}, "failed")
    assert not needs_task_run_state({"status": "RUNNING"}, "failed")
    assert not needs_task_run_state(None, "failed")
