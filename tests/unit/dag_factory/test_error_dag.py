"""Invalid definitions stay visible in the UI as placeholder DAGs, never hiding valid ones."""

from __future__ import annotations

import pytest

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.dag_factory.error_dag import DefinitionErrorOperator
from airflow_batchtasks.naming import ERRORS_DAG_ID, INVALID_TAG

BAD_TASK = """
kind: task
name: bad_task
schedule: "0 6 * * *"
source:
  type: sql
  conn_id: warehouse
  query: select 1
destination:
  - {type: local, path: /out}
"""


def test_invalid_task_keeps_its_dag_id_as_a_placeholder(build_from, sql_task, defs) -> None:
    dags = build_from({"bad.yaml": BAD_TASK, "good.yaml": sql_task("good_task")})

    assert sorted(dags) == ["bad_task", "good_task"]
    dag = dags["bad_task"]
    assert set(dag.tags) == {"batchtasks", INVALID_TAG}
    assert f"{defs}/bad.yaml:8: destination: unknown key `destination` (did you mean `destinations`?)" in dag.doc_md
    assert dag.description.startswith("INVALID DEFINITION: ")
    assert dag.timetable.can_be_scheduled is False
    assert dag.is_paused_upon_creation is True
    assert dag.task_ids == ["definition_error"]
    assert dags["good_task"].task_ids != ["definition_error"]


def test_an_invalid_orchestration_placeholder_is_tagged_as_an_orchestration(build_from, sql_task, defs) -> None:
    bad = "kind: orchestration\nname: nightly\nsteps: [{task: good_task, starts_after: '25:00'}]\n"
    dags = build_from({"orch.yaml": bad, "good.yaml": sql_task("good_task")})

    assert set(dags["nightly"].tags) == {"batchtasks", INVALID_TAG, "orchestration"}
    assert dags["nightly"].doc_md.startswith("### Invalid orchestration definition")
    assert "orchestration" not in dags["good_task"].tags


def test_placeholder_lists_all_errors_of_the_task(build_from, defs) -> None:
    text = BAD_TASK.replace('schedule: "0 6 * * *"', "schedule: nope\ntimezone: Europe/Pari")

    doc = build_from({"bad.yaml": text})["bad_task"].doc_md

    assert f"{defs}/bad.yaml:3: schedule: `nope` is not a valid cron expression" in doc
    assert f"{defs}/bad.yaml:4: timezone: unknown time zone `Europe/Pari`" in doc
    assert f"{defs}/bad.yaml:9: destination: unknown key" in doc


def test_yaml_syntax_error_goes_to_the_errors_dag(build_from, sql_task, defs) -> None:
    dags = build_from({"broken.yaml": "kind: task\nname: [x\n", "good.yaml": sql_task("good_task")})

    assert sorted(dags) == [ERRORS_DAG_ID, "good_task"]
    dag = dags[ERRORS_DAG_ID]
    assert INVALID_TAG in dag.tags
    assert f"`{defs}/broken.yaml:3: invalid YAML: did not find expected ',' or ']'`" in dag.doc_md


def test_invalid_name_goes_to_the_errors_dag_instead_of_breaking_the_load(build_from, sql_task, defs) -> None:
    dags = build_from({"a.yaml": sql_task("my task"), "b.yaml": sql_task("project__x"), "c.yaml": sql_task("ok")})

    assert sorted(dags) == [ERRORS_DAG_ID, "ok"]
    doc = dags[ERRORS_DAG_ID].doc_md
    assert f"{defs}/a.yaml:2: name: `my task` is not a valid name" in doc
    assert f"{defs}/b.yaml:2: name: `project__x`: names starting with `project__` are reserved" in doc


def test_duplicate_name_keeps_the_first_and_reports_the_second(build_from, sql_task, defs) -> None:
    dags = build_from({"a.yaml": sql_task("twice"), "b.yaml": sql_task("twice")})

    assert set(dags["twice"].task_ids) == {"extract", "package", "deliver"}
    assert f"{defs}/b.yaml:2: name: `twice` is already defined at {defs}/a.yaml:2" in dags[ERRORS_DAG_ID].doc_md


@pytest.mark.parametrize(
    ("extra", "line", "field", "message"),
    [
        (
            "source: {type: sql, conn_id: db, query: x}\noutput:\n  format: keep\n",
            5,
            "output.format",
            "format `keep` needs a file source",
        ),
    ],
)
def test_valid_but_unsupported_feature_is_a_placeholder(build_from, defs, extra, line, field, message) -> None:
    dags = build_from({"a.yaml": "kind: task\nname: later\n" + extra})

    dag = dags["later"]
    assert INVALID_TAG in dag.tags
    assert f"`{defs}/a.yaml:{line}: {field}: {message}`" in dag.doc_md


def test_error_operator_fails_without_retry() -> None:
    op = DefinitionErrorOperator(task_id="definition_error", errors=["a.yaml:1: name: bad"])

    assert op.retries == 0
    with pytest.raises(AirflowFailException, match="invalid definition:\na.yaml:1: name: bad"):
        op.execute({})
