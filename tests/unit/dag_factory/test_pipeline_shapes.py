"""Which steps each source type gets, and the definitions that have no file to process or send."""

from __future__ import annotations

import pytest

from airflow_batchtasks.definitions.models import Task
from airflow_batchtasks.naming import INVALID_TAG

SOURCES = {
    "sql": "{type: sql, conn_id: db, query: select 1}",
    "python": "{type: python}",
    "ssh": "{type: ssh, conn_id: box, command: uptime}",
    "http": "{type: http, conn_id: api, endpoint: /run}",
    "http_kept": "{type: http, conn_id: api, endpoint: /users, keep_response: true}",
}


def _upstream_chain(dag) -> list[str]:
    """Task ids from the first step down, following the single downstream of each."""
    [first] = [t for t in dag.tasks if not t.upstream_task_ids]
    chain = [first.task_id]
    while first.downstream_task_ids:
        [next_id] = first.downstream_task_ids
        first = dag.get_task(next_id)
        chain.append(first.task_id)
    return chain


@pytest.mark.parametrize(
    ("source", "processing", "steps"),
    [
        ("sql", False, ["extract", "package", "deliver"]),
        ("sql", True, ["extract", "process", "package", "deliver"]),
        ("python", True, ["process", "package", "deliver"]),
        ("ssh", False, ["extract"]),
        ("http", False, ["extract"]),
        ("http_kept", False, ["extract", "package", "deliver"]),
        ("http_kept", True, ["extract", "process", "package", "deliver"]),
    ],
)
def test_steps_by_source(build_from, source: str, processing: bool, steps: list[str]) -> None:
    text = f"kind: task\nname: shaped\nsource: {SOURCES[source]}\n"
    if processing:
        text += "processing: {inline: 'print(1)', requirements: [tabulate]}\n"
    dag = build_from({"a.yaml": text})["shaped"]

    assert INVALID_TAG not in dag.tags, dag.doc_md
    assert _upstream_chain(dag) == steps


def test_process_step_arguments(build_from) -> None:
    dag = build_from({"a.yaml": (
        "kind: task\nname: p\nproject: sales\ndescription: Splits\n"
        "source: {type: sql, conn_id: db, query: select 1}\n"
        "processing: {script: scripts/split.py, requirements: [tabulate], expose_connections: true}\n"
        "destinations: [{type: sftp, conn_id: vendor, path: /in}]\n"
        "---\nkind: project\nname: sales\n"
    )})["p"]
    process = dag.get_task("process")

    assert process.script == "scripts/split.py"
    assert process.requirements == ["tabulate"]
    assert process.expose_connections is True
    assert process.connection_ids == ["db", "vendor"]
    assert process.input_step == "extract"
    assert (process.project, process.description) == ("sales", "Splits")
    assert set(process.template_fields) >= {"script", "requirements"}


@pytest.mark.parametrize(
    ("source", "extra", "line", "message"),
    [
        ("ssh", "destinations: [{type: local, path: /x}]", 4,
         "destinations: an `ssh` source has no output file: remove `destinations`"),
        ("ssh", "processing: {inline: 'print(1)'}", 4,
         "processing: an `ssh` source has no output file: remove `processing`"),
        ("http", "destinations: [{type: local, path: /x}]", 4,
         "destinations: an `http` source without `keep_response: true` has no output file for `destinations`"),
    ],
)
def test_nothing_to_process_or_deliver_is_an_error(build_from, defs, source, extra, line, message) -> None:
    dag = build_from({"a.yaml": f"kind: task\nname: nofile\nsource: {SOURCES[source]}\n{extra}\n"})["nofile"]

    assert INVALID_TAG in dag.tags
    assert f"{defs}/a.yaml:{line}: {message}" in dag.doc_md


def test_connection_ids_are_every_connection_the_definition_names() -> None:
    task = Task.model_validate({
        "kind": "task", "name": "t",
        "source": {"type": "sql", "conn_id": "db", "query_from": {"type": "sftp", "conn_id": "repo", "path": "q.sql"}},
        "processing": {"from": {"type": "url", "url": "https://x/s.py", "conn_id": "web"}},
        "output": {"gpg": {"recipient": "v@example.com", "key_conn_id": "keys"}},
        "destinations": [{"type": "sftp", "conn_id": "vendor", "path": "/in"}, {"type": "local", "path": "/x"},
                         {"type": "sftp", "conn_id": "db", "path": "/dup"}],
    })

    assert task.connection_ids() == ["db", "repo", "web", "vendor", "keys"]
