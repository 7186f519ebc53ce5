"""The series' verdict and the paused check, on a stand-in task instance (the real thing runs in tests/e2e)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_batchtasks.compat import AirflowFailException, AirflowSkipException
from airflow_batchtasks.operators.project_series import (
    OUTCOME_KEY,
    REPORT_KEY,
    ProjectTaskRunOperator,
    SeriesResultOperator,
    dag_is_paused,
)


class FakeTI:
    dag_id = "project__sales"
    run_id = "manual__1"

    def __init__(self, states: dict[str, str], outcomes: dict[str, dict[str, Any]], paused: bool | None = None):
        self.states, self.outcomes, self.pushed = states, outcomes, {}
        if paused is not None:
            self.get_dag = lambda dag_id: SimpleNamespace(is_paused=paused)

    def get_task_states(self, dag_id: str, task_ids: list[str], run_ids: list[str]) -> dict[str, Any]:
        assert dag_id == self.dag_id and run_ids == [self.run_id]
        return {self.run_id: {t: self.states[t] for t in task_ids if t in self.states}}

    def xcom_pull(self, task_ids: str, key: str) -> Any:
        assert key == OUTCOME_KEY
        return self.outcomes.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def test_the_result_names_what_failed_and_what_was_skipped() -> None:
    ti = FakeTI(
        states={"run_a": "success", "run_b": "failed", "run_c": "skipped", "run_d": "failed"},
        outcomes={
            "run_a": {"outcome": "success"},
            "run_b": {"outcome": "failed", "reason": "its run r1 failed (see that run's log)"},
            "run_c": {"outcome": "skipped", "reason": "it is disabled (its DAG is paused)"},
        },
    )
    op = SeriesResultOperator(task_id="series_result", tasks=["a", "b", "c", "d"], excluded={"z": "disabled"})
    with pytest.raises(AirflowFailException) as failed:
        op.execute({"ti": ti})
    report = ti.pushed[REPORT_KEY]
    assert report["ok"] == ["a"]
    assert report["failed"] == {"b": "its run r1 failed (see that run's log)",
                                "d": "step run_d ended failed (see its log)"}
    assert report["skipped"] == {"c": "it is disabled (its DAG is paused)"}
    assert str(failed.value) == report["text"] == (
        "Series: 1 of 4 task(s) succeeded, 2 failed, 1 skipped\n"
        "failed: b: its run r1 failed (see that run's log)\n"
        "failed: d: step run_d ended failed (see its log)\n"
        "skipped: c: it is disabled (its DAG is paused)\n"
        "not in the series: z: disabled"
    )


def test_skipped_tasks_alone_do_not_fail_the_project_run() -> None:
    ti = FakeTI({"run_a": "success", "run_c": "skipped"},
                {"run_a": {"outcome": "success"}, "run_c": {"outcome": "skipped", "reason": "paused"}})
    report = SeriesResultOperator(task_id="series_result", tasks=["a", "c"]).execute({"ti": ti})
    assert report["skipped"] == {"c": "paused"} and report["failed"] == {}


def test_a_paused_task_is_skipped_with_its_reason_before_anything_is_triggered() -> None:
    ti = FakeTI({}, {}, paused=True)
    op = ProjectTaskRunOperator(task_id="run_a", trigger_dag_id="a", wait_for_completion=True, deferrable=True)
    with pytest.raises(AirflowSkipException, match="task a skipped: it is disabled"):
        op.execute({"ti": ti})
    assert ti.pushed[OUTCOME_KEY]["outcome"] == "skipped"
    assert dag_is_paused(FakeTI({}, {}, paused=False), "a") is False
    assert dag_is_paused(FakeTI({}, {}), "a") is None, "Airflow 3.1: no GetDag, the state is unknown"
