"""The DAG naming rules every part of the provider reads back from Airflow's tags and ids."""

from __future__ import annotations

import pytest

from airflow_batchtasks import naming


@pytest.mark.parametrize(
    ("dag_id", "tags", "expected"),
    [
        ("sales_daily", ["batchtasks", "project:sales", "owner:ana"], True),
        ("broken_task", ["batchtasks", "batchtasks:invalid"], True),  # a task whose definition does not load
        ("project__sales", ["batchtasks", "project:sales"], False),
        ("nightly", ["batchtasks", "orchestration"], False),
        ("batchtasks_definition_errors", ["batchtasks", "batchtasks:invalid"], False),
        ("batchtasks_resend", ["batchtasks:resend"], False),
        ("someone_elses_dag", ["etl"], False),
    ],
)
def test_which_dags_are_batch_tasks(dag_id: str, tags: list[str], expected: bool) -> None:
    assert naming.is_batch_task_dag(dag_id, tags) is expected


def test_project_and_owner_tags_read_back() -> None:
    tags = ["batchtasks", naming.project_tag("sales"), naming.owner_tag("zoe"), naming.owner_tag("ana")]

    assert naming.project_of(tags) == "sales"
    assert naming.owners_of(tags) == ["ana", "zoe"]
    assert naming.project_of(["batchtasks"]) is None
    assert naming.is_project_dag_id(naming.project_dag_id("sales"))
