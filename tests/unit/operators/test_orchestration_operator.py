"""Small pieces of the orchestration step operator that need no running Airflow."""

from __future__ import annotations

from airflow_batchtasks.operators.orchestration import _state


def test_states_from_the_task_api_compare_as_plain_values() -> None:
    # The task API answers with the SDK's generated enums, whose str() is "DagRunState.SUCCESS":
    # comparing str(state) with "failed" silently never matched.
    from airflow.sdk.api.datamodels._generated import DagRunState

    assert str(DagRunState.FAILED) != "failed"
    assert _state(DagRunState.FAILED) == "failed"
    assert _state("success") == "success"
    assert _state(None) == "None"
