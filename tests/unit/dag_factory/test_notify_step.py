"""The ``notify`` teardown in a task's DAG, and the gpg/notify definitions it is built from."""

from __future__ import annotations

import pytest
from airflow.sdk import TriggerRule
from pydantic import ValidationError

from airflow_batchtasks.definitions.models import Gpg

NOTIFY = """
notify:
  on_success: {to: [team@example.com], attach: true}
  on_failure: {to: [oncall@example.com, 5551234567@sms.example.net], conn_id: mail}
destinations: [{type: local, path: /tmp/out}]
"""


def test_notify_is_a_teardown_after_every_step_that_does_not_count_for_the_run(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("mailed", NOTIFY)})["mailed"]

    notify = dag.get_task("notify")
    assert notify.is_teardown and notify.trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert not notify.on_failure_fail_dagrun
    assert notify.upstream_task_ids == {"extract", "package", "deliver"}
    assert notify.on_success["to"] == ["team@example.com"] and notify.on_success["attach"] is True
    assert notify.on_failure["conn_id"] == "mail"
    # the last step is the run's leaf: Airflow skips teardowns when it decides the run's state
    assert [t.task_id for t in dag.topological_sort()] == ["extract", "package", "deliver", "notify"]


@pytest.mark.parametrize("extra", ["", "notify: {}\n", "notify: {on_success: null}\n"])
def test_no_notify_step_without_a_target(build_from, sql_task, extra: str) -> None:
    dag = build_from({"a.yaml": sql_task("quiet", extra)})["quiet"]

    assert "notify" not in dag.task_ids


def test_project_notify_default_gives_its_tasks_a_notify_step(build_from, sql_task) -> None:
    dags = build_from({"a.yaml": "kind: project\nname: p\nnotify: {on_failure: {to: [x@example.com]}}\n---\n"
                                 + sql_task("child", project="p")})

    assert dags["child"].get_task("notify").on_failure["to"] == ["x@example.com"]


def test_gpg_reaches_the_package_step(build_from, sql_task) -> None:
    dag = build_from({"a.yaml": sql_task("secret", "output: {gpg: {recipient: v@example.com, key_variable: k}}\n")})[
        "secret"]

    assert dag.get_task("package").gpg == {"recipient": "v@example.com", "key_conn_id": None, "key_variable": "k",
                                           "compress_level": 1}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"recipient": "v@example.com"}, "one of `key_conn_id` or `key_variable` is required"),
        ({"recipient": "v@example.com", "key_conn_id": "c", "key_variable": "k"}, "give only one of"),
        ({"recipient": "v@example.com", "key_conn_id": "c", "compress_level": 10}, "less than or equal to 9"),
    ],
)
def test_gpg_needs_exactly_one_key_source(spec: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Gpg.model_validate(spec)
