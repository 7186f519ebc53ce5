"""What in a definition runs code or reaches secrets: the parts whose writing needs more than DAG edit."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from airflow_batchtasks.definitions.code_features import (
    NOTIFY_EXTRAS,
    added_features,
    code_features,
    exposed_connections,
    template_reasons,
)

PLAIN_SQL = """
kind: task
name: daily_sales
schedule: "0 6 * * *"
params: {region: {default: EU}}
source:
  type: sql
  conn_id: shop
  query: "select * from sales where region = '{{ params.region }}' and day = '{{ ds }}'"
output: {name: "sales_{{ ds_nodash }}_{{ yesterday() | date_format('%Y%m%d') }}.csv"}
destinations: [{type: sftp, conn_id: vendor, path: "/in/{{ macros.ds_add(ds, -1) }}"}]
notify: {on_failure: {to: [ops@example.com], subject: "{{ task }} {{ status_text }}: {{ files | length }} files"}}
"""

PYTHON_TASK = """
kind: task
name: split
schedule: "0 6 * * *"
source: {type: python}
processing:
  inline: print("hello")
  requirements: [requests]
destinations: [{type: sftp, conn_id: outbox, path: /out}]
"""


def load(text: str, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(text)
    data.update(changes)
    return data


def fields(data: dict[str, Any]) -> list[str]:
    return [f.field for f in code_features(data)]


def test_a_plain_sql_task_runs_no_code() -> None:
    assert code_features(load(PLAIN_SQL)) == []


def test_projects_and_orchestrations_without_templates_run_no_code() -> None:
    project = load("kind: project\nname: sales\nparams: {region: EU}\nnotify: {on_failure: {to: [a@example.com]}}\n")
    orchestration = load("kind: orchestration\nname: nightly\nsteps: [{task: a}, {task: b, starts_after: '02:00'}]\n")
    assert code_features(project) == code_features(orchestration) == []


def test_a_python_task_runs_its_processing_script() -> None:
    found = code_features(load(PYTHON_TASK))
    assert [f.field for f in found] == ["processing", "source"]
    assert all(f.right == "connections" for f in found)
    assert "processing script" in found[0].describe()


@pytest.mark.parametrize("processing", [
    {"script": "scripts/split.py"},
    {"from": {"type": "git", "conn_id": "gitlab", "path": "data/s/-/split.py"}},
    {"from": {"type": "url", "url": "https://example.com/split.py"}},
    {"inline": "pass", "entrypoint": "run.py"},
])
def test_any_processing_on_a_sql_source_is_code(processing: dict[str, Any]) -> None:
    assert fields(load(PLAIN_SQL, processing=processing)) == ["processing"]


@pytest.mark.parametrize("source", [
    {"type": "ssh", "conn_id": "box", "command": "ls /tmp"},
    {"type": "ssh", "conn_id": "box", "command_from": {"type": "local", "path": "commands/cleanup.sh"}},
])
def test_an_ssh_source_is_code(source: dict[str, Any]) -> None:
    data = load(PLAIN_SQL, source=source)
    del data["destinations"]
    assert "source" in fields(data)


@pytest.mark.parametrize("location", [
    {"type": "url", "conn_id": "web", "url": "https://other.example.com/q.sql"},
    {"type": "git", "conn_id": "gitlab", "path": "data/queries/-/daily.sql"},
    # any fetched query: its text is rendered as a template the definition does not show
    {"type": "sftp", "conn_id": "vendor", "path": "/queries/daily.sql"},
    {"type": "local", "path": "queries/daily.sql"},
])
def test_a_query_fetched_at_run_time_is_code(location: dict[str, Any]) -> None:
    data = load(PLAIN_SQL, source={"type": "sql", "conn_id": "shop", "query_from": location})
    assert fields(data) == ["source.query_from"]


def test_expose_connections_names_every_connection_of_the_definition() -> None:
    data = load(PLAIN_SQL, processing={"inline": "pass", "expose_connections": True},
                output={"gpg": {"recipient": "a@example.com", "key_conn_id": "keys"}})
    data["notify"]["on_failure"]["conn_id"] = "smtp_ops"
    assert exposed_connections(data) == ["keys", "shop", "smtp_ops", "vendor"]
    exposed = [f for f in code_features(data) if f.field == "processing.expose_connections"]
    assert len(exposed) == 1 and "`shop`" in exposed[0].what
    assert exposed_connections(load(PLAIN_SQL, processing={"inline": "pass"})) == []


@pytest.mark.parametrize("template", [
    "{{ ds }} {{ ds_nodash }} {{ ts }} {{ run_id }} {{ params.region }} {{ dag_run.conf.x }}",
    "{{ macros.ds_add(ds, -1) }} {{ macros.ds_format(ds, '%Y-%m-%d', '%Y%m%d') }}",
    "{{ macros.batchtasks.yesterday() }} {{ last_day_of_month() }} {{ add_days(ds, 3) | date_format('%Y') }}",
    "{{ data_interval_start.in_timezone('Europe/Paris').format('YYYYMMDD') }} {{ logical_date.strftime('%Y') }}",
    "{{ macros.datetime.now().strftime('%H') }} {{ params.get('region', 'EU') | lower }}",
    "{% for r in ['EU', 'US'] %}{{ r }}{% endfor %}{% set day = ds %}{{ day }}",
    "{% macro part(x) %}p_{{ x }}{% endmacro %}{{ part(ds) }}",
    "no template at all {not jinja}",
])
def test_run_data_templates_are_not_code(template: str) -> None:
    assert template_reasons(template) == ([], "connections")


@pytest.mark.parametrize(("template", "reason"), [
    ("{{ conn.warehouse.password }}", "reads `conn`"),
    ("{{ macros.yaml.unsafe_load('!!python/object/apply:os.system [id]') }}", "calls `macros.yaml.unsafe_load`"),
    ("{% set m = macros %}{{ m.json }}", "uses `macros` beyond the date macros"),
    ("{{ ti.get_template_context() }}", "uses `ti`"),
    ("{{ task.dag }}", "uses `task`"),  # outside notify, `task` is the operator object
    ("{{ dag_run.parse_file('/tmp/x', proto='pickle', allow_pickle=True) }}", "calls `dag_run.parse_file`"),
    ("{% set f = dag_run.parse_file %}{{ f('x') }}", "calls `f`"),
    ("{% macro f() %}{% endmacro %}{% set f = dag_run.parse_file %}{{ f('x') }}", "calls `f`"),
    ("{{ (params | attr('get'))('x') }}", "calls `<filter>`"),
    ("{% for conn in [1] %}{% endfor %}{{ conn.warehouse.password }}", "reads `conn`"),
    ("{% include 'loader.py' %}", "includes or imports"),
    ("{{ unclosed", "cannot be read as a template"),
])
def test_templates_reaching_beyond_run_data_are_code(template: str, reason: str) -> None:
    reasons, right = template_reasons(template)
    assert any(reason in r for r in reasons), reasons
    assert right == "connections"


def test_reading_variables_needs_the_variables_right_only() -> None:
    assert template_reasons("{{ var.value.get('outbox', '/tmp') }}/{{ ds }}") == (
        ["reads `var` (Airflow variables)"], "variables")
    reasons, right = template_reasons("{{ var.value.x }}{{ conn.x.password }}")
    assert right == "connections" and len(reasons) == 2


def test_a_gpg_key_from_a_variable_needs_the_variables_right() -> None:
    data = load(PLAIN_SQL, output={"gpg": {"recipient": "a@example.com", "key_variable": "vendor_key"}})
    assert [(f.field, f.right) for f in code_features(data)] == [("output.gpg.key_variable", "variables")]


def test_notify_templates_may_use_the_notify_extras() -> None:
    assert template_reasons("{{ task }} {{ status_text }} {{ error_line }}", notify=True) == ([], "connections")
    found = code_features(load(PLAIN_SQL, destinations=[{"type": "local", "path": "/out/{{ task.dag_id }}"}]),
                          local_roots=["/out"])
    assert [(f.field, f.what) for f in found] == [("destinations[0].path", "a template that uses `task`, "
                                                   "which is not run data")]


def test_notify_extras_match_what_the_notify_step_renders_with() -> None:
    from airflow_batchtasks.operators.notify import NotifyOperator

    extras = NotifyOperator._template_extras(SimpleNamespace(batch_task="t"), "success", [], [])  # type: ignore[arg-type]
    assert set(extras) == NOTIFY_EXTRAS


def test_a_project_notify_template_is_checked_too() -> None:
    project = load("kind: project\nname: sales\n"
                   "notify: {on_failure: {to: [a@example.com], message: '{{ conn.warehouse.password }}'}}\n")
    assert fields(project) == ["notify.on_failure.message"]


def test_the_restricted_macros_really_run_code_in_airflows_sandbox() -> None:
    """Why ``macros`` is restricted: Airflow's sandboxed renderer lets a template run any Python."""
    import airflow.sdk.execution_time.macros as macros
    from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

    template = "{{ macros.yaml.unsafe_load('!!python/object/apply:os.getpid []') }}"
    assert SandboxedEnvironment().from_string(template).render(macros=macros) == str(os.getpid())
    assert template_reasons(template)[0]


def test_a_reschedule_keeps_the_code_and_adds_nothing() -> None:
    old = load(PYTHON_TASK)
    assert added_features(old, load(PYTHON_TASK, schedule="0 7 * * *", description="later")) == []
    assert added_features(old, load(PLAIN_SQL)) == []  # dropping the code adds none


def test_a_code_change_a_create_and_an_exposure_are_new_code() -> None:
    old = load(PYTHON_TASK)
    changed = load(PYTHON_TASK, processing={"inline": "print('other')", "requirements": ["requests"]})
    assert [f.field for f in added_features(old, changed)] == ["processing"]
    assert [f.field for f in added_features(None, old)] == ["processing", "source"]
    exposed = load(PYTHON_TASK, processing={**old["processing"], "expose_connections": True},
                   destinations=[{"type": "sftp", "conn_id": "vendor", "path": "/in"}])
    assert [f.field for f in added_features(old, exposed)] == ["processing", "processing.expose_connections"]


def test_with_exposure_a_new_connection_is_new_code() -> None:
    """The same script with one more connection named: the script now gets that connection's secrets."""
    old = load(PYTHON_TASK, processing={"inline": "pass", "expose_connections": True})
    new = load(PYTHON_TASK, processing={"inline": "pass", "expose_connections": True},
               destinations=[{"type": "sftp", "conn_id": "vendor", "path": "/in"}])
    assert [f.field for f in added_features(old, new)] == ["processing.expose_connections"]


def test_a_template_is_new_where_it_was_not_before() -> None:
    old = load(PLAIN_SQL, output={"name": "{{ var.value.prefix }}.csv"})
    assert added_features(old, load(PLAIN_SQL, output={"name": "{{ var.value.prefix }}.csv"}, run_rank=2)) == []
    moved = added_features(old, load(PLAIN_SQL, output={"name": "x.csv"},
                                     destinations=[{"type": "sftp", "conn_id": "v", "path": "{{ var.value.prefix }}"}]))
    assert [(f.field, f.right) for f in moved] == [("destinations[0].path", "variables")]


def test_data_that_is_not_a_mapping_has_no_features() -> None:
    assert code_features(["kind", "task"]) == []  # type: ignore[arg-type]
    assert exposed_connections({"processing": "x"}) == []


# ----------------------------------------------------------------------------- local paths and local_roots

ROOTS = ("/srv/outbox", "/srv/inbox/")


def local_fields(data: dict[str, Any], roots: tuple[str, ...] = ROOTS) -> list[tuple[str, str]]:
    return [(f.field, f.right) for f in code_features(data, local_roots=roots)
            if "local_roots" in f.what]


@pytest.mark.parametrize("path", [
    "/srv/outbox", "/srv/outbox/", "/srv/outbox/vendor", "/srv/outbox/{{ params.sub }}",
    "/srv/outbox/day_{{ ds_nodash }}", "/srv/inbox/a/b",
])
def test_a_local_destination_inside_a_root_needs_dag_edit_only(path: str) -> None:
    assert local_fields(load(PLAIN_SQL, destinations=[{"type": "local", "path": path}])) == []


@pytest.mark.parametrize("path", [
    "/opt/airflow/dags",              # the DAGs folder: a `.py` file there is code the dag-processor runs
    "/srv/outbox/../../opt/airflow/dags",  # `..` in the literal folder
    "/srv/outbox-other",              # a sibling whose name starts like a root
    "/srv",                           # the parent of a root
    "{{ params.dir }}",               # the folder is chosen by a template: outside
    "/srv/out{{ ds }}",               # the literal folder is /srv/
    "out",                            # relative to the worker's working folder
])
def test_a_local_destination_outside_every_root_is_code_bearing(path: str) -> None:
    data = load(PLAIN_SQL, destinations=[{"type": "sftp", "conn_id": "v", "path": "/x"},
                                         {"type": "local", "path": path}])
    assert local_fields(data) == [("destinations[1]", "connections")]


def test_without_roots_every_local_path_is_code_bearing() -> None:
    data = load(PLAIN_SQL, destinations=[{"type": "local", "path": "/srv/outbox"}])
    assert local_fields(data, ()) == [("destinations[0]", "connections")]
    assert [f.field for f in code_features(data)] == ["destinations[0]"], "no roots given: none configured"


def test_a_local_file_source_is_checked_like_a_destination() -> None:
    def source(path: str) -> dict[str, Any]:
        return load(PLAIN_SQL, source={"type": "file", "location": {"type": "local", "path": path}})

    assert local_fields(source("/srv/inbox/sales_*.csv")) == []
    assert local_fields(source("/srv/inbox/{{ ds }}/sales.csv")) == []
    assert local_fields(source("/opt/airflow/airflow.cfg")) == [("source.location", "connections")]
    assert local_fields(source("/srv/inbox/../../etc/passwd")) == [("source.location", "connections")]
    sftp = load(PLAIN_SQL, source={"type": "file", "location": {"type": "sftp", "conn_id": "v", "path": "/etc/x"}})
    assert local_fields(sftp) == [], "another host's files: its connection decides what it may read"


def test_the_feature_names_the_folder_and_the_setting() -> None:
    data = load(PLAIN_SQL, destinations=[{"type": "local", "path": "/opt/airflow/dags"}])
    (feature,) = code_features(data, local_roots=ROOTS)
    assert feature.describe() == ("`destinations[0]`: writes files into the worker's folder `/opt/airflow/dags`, "
                                  "which is not inside `[batchtasks] local_roots`")


def test_a_kept_local_path_is_not_new_and_a_moved_one_is() -> None:
    old = load(PLAIN_SQL, destinations=[{"type": "local", "path": "/opt/airflow/dags"}])
    assert added_features(old, load(PLAIN_SQL, destinations=[{"type": "local", "path": "/opt/airflow/dags"}],
                                    schedule="@daily"), local_roots=ROOTS) == []
    moved = load(PLAIN_SQL, destinations=[{"type": "local", "path": "/opt/airflow/dags/x"}])
    assert [f.field for f in added_features(old, moved, local_roots=ROOTS)] == ["destinations[0]"]
    inside = load(PLAIN_SQL, destinations=[{"type": "local", "path": "/srv/outbox"}])
    assert added_features(old, inside, local_roots=ROOTS) == []


@pytest.mark.parametrize("text", ["{{ 'x' * 10 ** 10 }}", "{{ 'x' | center(10000000000) }}",
                                  "{{ '%09999999999d' % 1 }}", "{{ ('x' ~ 'y') * 10000000000 }}"])
def test_reading_a_template_never_evaluates_its_constants(text: str) -> None:
    """Jinja's compiler folds constant expressions; the check of a template someone sent must not, or a few
    bytes would cost the API server minutes and gigabytes (it took 7 s and 1 GB for `'x' * 10**9`)."""
    import time

    started = time.monotonic()
    assert template_reasons(text) == ([], "connections")
    assert time.monotonic() - started < 1
