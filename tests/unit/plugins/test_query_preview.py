"""Query preview: the query as the extract step prepares it (USE/GO removed, run arguments bound), never run;
and the Task Details' in-place edits of a definition's text (reschedule, enable/disable)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from airflow_batchtasks.definitions.models import Task
from airflow_batchtasks.plugins.data import query_preview as qp
from airflow_batchtasks.plugins.data.errors import Invalid
from airflow_batchtasks.plugins.views.task_detail import set_top_keys
from airflow_batchtasks.sql.params import prepare_query

QUERY = (
    "USE sales;\n"
    "select * from orders\n"
    "where region = '{{ params.region }}' and token = {{ params.api_token }}\n"
    "  and day = '{{ ds }}' and shop in ({{ params.shops }}) and next = '{{ macros.ds_add(ds, 1) }}'\n"
    "GO\n"
)


def task(query: str | None = QUERY, **extra: Any) -> Task:
    source: dict[str, Any] = {"type": "sql", "conn_id": "db"}
    if query is not None:
        source["query"] = query
    else:
        source["query_from"] = {"type": "sftp", "conn_id": "files", "path": "/q/orders.sql"}
    data = {
        "kind": "task", "name": "orders", "source": source,
        "params": {"region": "EU", "api_token": "t0ps3cret", "shops": {"default": [1, 2], "type": "array"}},
        **extra,
    }
    return Task.model_validate(data)


def test_use_and_go_removed_and_arguments_bound_with_their_values() -> None:
    answer = qp.preview(task(), args="region=US", date="2026-03-01")
    assert answer["removed"] == ["USE sales;", "GO"]
    assert answer["query"] == (
        "select * from orders\nwhere region = ? and token = ?\n"
        "  and day = '2026-03-01' and shop in (?, ?) and next = '2026-03-02'"  # Jinja drops the last newline
    )
    assert answer["parameters"] == [
        {"placeholder": "?", "name": "params.region", "value": "US"},
        {"placeholder": "?", "name": "params.api_token", "value": "***"},
        {"placeholder": "?", "name": "params.shops[0]", "value": 1},
        {"placeholder": "?", "name": "params.shops[1]", "value": 2},
    ]
    assert answer["date"] == "2026-03-01" and answer["note"] is None
    assert "t0ps3cret" not in repr(answer)


def test_paramstyles_number_the_placeholders() -> None:
    answer = qp.preview(task(), paramstyle="named")
    assert [p["placeholder"] for p in answer["parameters"]] == [":p1", ":p2", ":p3", ":p4"]
    assert ":p1 and token = :p2" in answer["query"]
    with pytest.raises(Invalid, match="paramstyle"):
        qp.preview(task(), paramstyle="dollar")


def test_the_preview_is_the_operator_preparation() -> None:
    """Same function as the extract step: same text, same values, whichever renders it."""
    from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

    env = SandboxedEnvironment(extensions=["jinja2.ext.do"])  # what a DAG's template env is, on every version
    context = {"params": {"x": "a'b"}, "ds": "2026-01-01"}
    binder, rendered, removed = prepare_query("GO\nselect '{{ params.x }}', '{{ ds }}'", context, env)
    assert removed == ["GO"]
    assert binder.finish(rendered, "format") == ("select %s, '2026-01-01'", ["a'b"])
    assert binder.bind(rendered, "qmark") == ("select ?, '2026-01-01'", [("?", "params.x", "a'b")])


def test_secret_named_arguments_are_masked_in_errors_too() -> None:
    with pytest.raises(Invalid) as err:
        qp.preview(task(), args="api_token=zz9 region=EU shops=1 nope=1")
    assert "zz9" not in str(err.value) and "nope" in str(err.value)


def test_bad_arguments_and_dates_are_422() -> None:
    with pytest.raises(Invalid, match="unknown argument `colour`"):
        qp.preview(task(), args="EU tok 1 colour=red")
    with pytest.raises(Invalid, match="`red` is one value too many"):
        qp.preview(task(), args="EU tok 1 red")
    with pytest.raises(Invalid, match="unknown argument `colour`"):
        qp.preview(task(), params={"colour": "red"})
    with pytest.raises(Invalid, match="date: `2026-13-01`"):
        qp.preview(task(), date="2026-13-01")
    with pytest.raises(Invalid, match="not both"):
        qp.preview(task(), args="region=US", params={"region": "US"})


def test_transforming_an_argument_is_refused_as_the_extract_step_refuses_it() -> None:
    with pytest.raises(Invalid, match=r"`params.region` goes through `\| upper`"):
        qp.preview(task("select '{{ params.region | upper }}'"))


def test_templates_beyond_run_data_are_not_rendered() -> None:
    with pytest.raises(Invalid, match="reads `conn`"):
        qp.preview(task("select '{{ conn.db.password }}'"))
    with pytest.raises(Invalid, match="reads `var`"):
        qp.preview(task("select '{{ var.value.secret }}'"))


def test_query_from_is_not_fetched_and_the_answer_says_so() -> None:
    answer = qp.preview(task(None))
    assert answer["query"] is None and answer["parameters"] == []
    assert "never opens connections" in answer["note"] and "/q/orders.sql" in answer["note"]


def test_only_sql_sources_have_a_query() -> None:
    ssh = Task.model_validate({"kind": "task", "name": "s", "source": {"type": "ssh", "conn_id": "h", "command": "ls"}})
    with pytest.raises(Invalid, match="only `sql` sources"):
        qp.preview(ssh)


def test_default_date_is_today_utc() -> None:
    from datetime import datetime, timezone

    assert qp.run_day(None).date() == datetime.now(timezone.utc).date()
    assert qp.run_day("2026-02-03").isoformat() == "2026-02-03T00:00:00+00:00"


# ----------------------------------------------------------------------------- in-place edits


DEFINITION = """\
# orders for the shop
kind: task
name: orders   # DAG id
schedule: '0 6 * * *'  # every morning
source:
  type: sql
  conn_id: db
  query: select 1
"""


def test_reschedule_keeps_comments_and_the_other_keys() -> None:
    edited = set_top_keys(DEFINITION, {"schedule": '"*/5 * * * *"', "timezone": '"Europe/Paris"'})
    assert "# orders for the shop" in edited and "# every morning" in edited and "# DAG id" in edited
    assert yaml.safe_load(edited) == {**yaml.safe_load(DEFINITION), "schedule": "*/5 * * * *",
                                      "timezone": "Europe/Paris"}


def test_enabled_is_added_after_the_name_when_absent() -> None:
    edited = set_top_keys(DEFINITION, {"enabled": "false"})
    assert edited.splitlines()[3] == "enabled: false"
    assert yaml.safe_load(edited)["enabled"] is False


def test_a_block_schedule_is_replaced_whole() -> None:
    text = "kind: task\nname: a\nschedule:\n  once: 2026-01-01T00:00:00\n\n# the source\nsource: {type: sql}\n"
    edited = set_top_keys(text, {"schedule": "none"})
    assert edited == "kind: task\nname: a\nschedule: none\n\n# the source\nsource: {type: sql}\n"


def test_flow_style_falls_back_to_a_dump_that_means_the_same() -> None:
    edited = set_top_keys("{kind: task, name: a, enabled: true}", {"enabled": "false"})
    assert yaml.safe_load(edited) == {"kind": "task", "name": "a", "enabled": False}


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("{% for a in params.shops %}{% for b in params.shops %}x{% endfor %}{% endfor %}", "loop inside a loop"),
        ("{% for i in range(99999) %}{% endfor %}", "calls other than the date macros"),
        ("{% set a = 'xx' %}{% set a = a ~ a %}{{ a }}", "`Assign`"),
        ("{{ 'x' * 1000000000 }}", "`Mul`"),
        ("{{ '%0999999999d' % 1 }}", "`Mod`"),
        ("{{ 'x' | center(1000000000) }}", "the filter `center`"),
        ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "`Macro`"),
        ("{{ lipsum(100000) }}", "calls other than the date macros"),
    ],
)
def test_a_template_that_could_stall_the_api_server_is_refused_before_it_renders(query: str, refusal: str) -> None:
    """Any reader may preview an unsaved definition, and it renders in the API server: a few bytes of loops,
    doublings or padding must not cost minutes or gigabytes there."""
    import time

    started = time.monotonic()
    with pytest.raises(Invalid, match="the preview does not render") as refused:
        qp.preview(task(query))

    assert refusal in str(refused.value)
    assert time.monotonic() - started < 2


def test_a_loop_over_run_arguments_still_previews_and_its_output_is_capped() -> None:
    shown = qp.preview(task("select * from t where shop in ({% for s in params.shops %}{{ s }},{% endfor %}0)"),
                       params={"shops": [3, 4]})
    assert shown["query"].startswith("select * from t where shop in (")
    assert [p["value"] for p in shown["parameters"]] == [3, 4]

    with pytest.raises(Invalid, match="passes 1,000,000 characters"):
        qp.preview(task("{% for s in params.shops %}{{ params.region }}{% endfor %}"),
                   params={"shops": list(range(200_000)), "region": "EU-" * 10})
