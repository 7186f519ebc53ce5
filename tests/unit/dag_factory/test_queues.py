"""Per-step worker queues: ``queue`` for every step, ``queues.<step>`` for one, errors for steps that do not exist.

The queue is what pins a step to a set of Celery workers (the multi-worker e2e test relies on it), so a
wrong mapping must fail loudly at validation rather than quietly run on the default queue.
"""

from __future__ import annotations

import json

import pytest

from airflow_batchtasks.definitions.schema import definition_schema
from airflow_batchtasks.naming import INVALID_TAG

SQL_TASK = (
    "kind: task\nname: routed\n"
    "source: {type: sql, conn_id: db, query: select 1}\n"
    "destinations: [{type: sftp, conn_id: vendor, path: /in}]\n"
)


def _queues(dag) -> dict[str, str]:
    return {t.task_id: t.queue for t in dag.tasks}


def test_queue_per_step_overrides_the_task_queue(build_from) -> None:
    dag = build_from({"a.yaml": SQL_TASK + "queue: workers_a\nqueues: {deliver: workers_b}\n"})["routed"]

    assert INVALID_TAG not in dag.tags, dag.doc_md
    assert _queues(dag) == {"extract": "workers_a", "package": "workers_a", "deliver": "workers_b"}


def test_without_queues_every_step_keeps_airflows_default_queue(build_from) -> None:
    from airflow.configuration import conf

    default = conf.get("operators", "default_queue")
    dag = build_from({"a.yaml": SQL_TASK + "queues: {extract: only_extract}\n"})["routed"]

    assert _queues(dag) == {"extract": "only_extract", "package": default, "deliver": default}


def test_queue_survives_serialization(build_from) -> None:
    """What the scheduler sees is the serialized DAG: the queue must be in it, not only on the operator."""
    from tests.airflow_compat import DagSerialization

    dag = build_from({"a.yaml": SQL_TASK + "queues: {extract: qa, deliver: qb}\n"})["routed"]
    data = json.dumps(DagSerialization.to_dict(dag))
    restored = DagSerialization.from_dict(json.loads(data))

    assert {t.task_id: t.queue for t in restored.tasks}["extract"] == "qa"
    assert {t.task_id: t.queue for t in restored.tasks}["deliver"] == "qb"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("queues: {process: q}", "queues: this task has no `process` step to give a queue to"),
        ("queues: {uploads: q}", "queues.uploads"),
        ("queue: 'a,b'", "queue: "),
        ("queues: {deliver: 'has space'}", "queues.deliver: "),
    ],
)
def test_bad_queues_are_definition_errors(build_from, defs, extra: str, message: str) -> None:
    dag = build_from({"a.yaml": SQL_TASK + extra + "\n"})["routed"]

    assert INVALID_TAG in dag.tags
    assert f"{defs}/a.yaml:5: {message}" in dag.doc_md


def test_ssh_task_has_no_deliver_queue(build_from, defs) -> None:
    text = "kind: task\nname: cmd\nsource: {type: ssh, conn_id: box, command: uptime}\nqueues: {deliver: q}\n"
    dag = build_from({"a.yaml": text})["cmd"]

    assert INVALID_TAG in dag.tags
    assert f"{defs}/a.yaml:4: queues: this task has no `deliver` step to give a queue to" in dag.doc_md


def test_schema_offers_queue_keys() -> None:
    task = definition_schema()["$defs"]["Task"]["properties"]

    assert task["queue"]["anyOf"][0]["pattern"] == r"^[A-Za-z0-9_.:@-]{1,200}$"
    assert task["queues"]["propertyNames"]["enum"] == ["extract", "process", "package", "deliver", "notify"]
