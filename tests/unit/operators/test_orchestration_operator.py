"""Small pieces of the orchestration step operator that need no running Airflow."""

from __future__ import annotations

import pytest

from airflow_batchtasks.operators.orchestration import _state


def test_states_from_the_task_api_compare_as_plain_values() -> None:
    # The task API answers with the SDK's generated enums, whose str() is "DagRunState.SUCCESS":
    # comparing str(state) with "failed" silently never matched.
    from airflow.sdk.api.datamodels._generated import DagRunState

    assert str(DagRunState.FAILED) != "failed"
    assert _state(DagRunState.FAILED) == "failed"
    assert _state("success") == "success"
    assert _state(None) == "None"


class _Dag:
    def __init__(self, paused: bool) -> None:
        self.is_paused = paused


class _TiWithDag:
    """Airflow 3.2+: the task API answers the DAG's pause state."""

    def __init__(self, paused: bool) -> None:
        self.paused = paused

    def get_dag(self, dag_id: str) -> _Dag:
        return _Dag(self.paused)


class _TiWithoutDag:
    """Airflow 3.1: no ``get_dag`` in the task API."""


def _step(task_enabled: bool):
    from airflow_batchtasks.operators.orchestration import OrchestrationStepOperator
    from airflow_batchtasks.orchestration.rules import Limits, StepRules

    return OrchestrationStepOperator(
        orchestration="nightly", rules=StepRules(step=1, task="export_users", task_enabled=task_enabled),
        limits=Limits(),
    )


@pytest.mark.parametrize(
    ("ti", "task_enabled", "reason"),
    [
        (_TiWithDag(paused=True), True, "the DAG of task `export_users` is paused in Airflow"),
        (_TiWithDag(paused=False), False, None),  # enabled in Airflow since: Airflow's state decides
        (_TiWithDag(paused=False), True, None),
        (_TiWithoutDag(), False, "task `export_users` is disabled (enabled: false): its DAG is paused in Airflow"),
        (_TiWithoutDag(), True, None),
    ],
)
def test_a_paused_task_is_seen_with_or_without_the_task_api_s_dag_state(
    ti: object, task_enabled: bool, reason: str | None
) -> None:
    assert _step(task_enabled)._target_paused(ti) == reason


def test_without_the_dag_state_the_log_says_what_is_not_checked(capfd: pytest.CaptureFixture[str]) -> None:
    assert _step(True)._target_paused(_TiWithoutDag()) is None
    assert "no way to read whether DAG export_users is paused" in capfd.readouterr().out, "not False without a word"
