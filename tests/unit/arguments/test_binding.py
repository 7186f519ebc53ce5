"""Run arguments seen through templates (SQL binding, URL encoding): rendered by Airflow's own Jinja sandbox."""

from __future__ import annotations

import re
from typing import Any

import pytest
from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

from airflow_batchtasks.arguments.binding import ArgBinder, ArgumentTemplateError
from airflow_batchtasks.operators.http import UrlBinder
from airflow_batchtasks.sql.params import ParamBinder, QueryParamError

HOSTILE = "' or 1=1 --"


class _Run:
    run_id = "manual__1"

    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf


def _render(binder: ArgBinder, template: str, params: dict[str, Any], conf: dict[str, Any] | None = None) -> str:
    env = binder.environment(SandboxedEnvironment())
    context = binder.context({"params": params, "dag_run": _Run(conf if conf is not None else params)})
    return env.from_string(template).render(**context)


def sql(template: str, params: dict[str, Any], conf: dict[str, Any] | None = None) -> tuple[str, list[Any]]:
    binder = ParamBinder()
    return binder.finish(_render(binder, template, params, conf), "qmark")


@pytest.mark.parametrize(
    "written",
    [
        "'{{ params.x }}'", "'{{ params.x.value }}'", "{{ params['x'] }}", "'{{ params.get('x') }}'",
        "{{ dag_run.conf.x }}", "{{ dag_run.conf['x'] | string }}", "{{ \"'\" ~ params.x ~ \"'\" }}",
        "{{ params.x | attr('value') }}", "{% set v = params.x %}{{ v }}", "{{ params.x | e }}",
        "{{ params.x[:] }}", "{{ params.x | default('y') }}",
        "{% for v in [params.x] %}{{ v }}{% endfor %}",
    ],
)
def test_every_way_of_writing_an_argument_in_sql_is_bound(written: str) -> None:
    assert sql(f"select 1 where a = {written}", {"x": HOSTILE}) == ("select 1 where a = ?", [HOSTILE])


def test_keys_and_values_of_the_run_conf_are_bound_in_loops() -> None:
    query, values = sql("{% for k, v in dag_run.conf.items() %}{{ k }}={{ v }} {% endfor %}", {},
                        {HOSTILE: "v1", "k2": HOSTILE})
    assert (query, values) == ("?=? ?=? ", [HOSTILE, "v1", "k2", HOSTILE])


@pytest.mark.parametrize(
    "attribute", ["_values", "__bt_values__", "x.__bt_value__", "x._mapping", "x.__class__"],
)
def test_the_raw_value_is_out_of_the_templates_reach(attribute: str) -> None:
    query, _ = sql(f"{{{{ params.{attribute} }}}}", {"x": HOSTILE})
    assert HOSTILE not in query


def test_dag_run_attributes_that_dump_the_conf_are_hidden() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        sql("{{ dag_run.model_dump() }}", {"x": HOSTILE})
    assert sql("{{ dag_run.run_id }}", {}) == ("manual__1", [])


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("{{ params.x | upper }}", "`params.x` goes through `| upper`"),
        ("{{ params.x | replace('o', '0') }}", "`params.x` goes through `| replace`"),
        ("{{ params.x | trim }}", "`params.x` goes through `| trim`"),
        ("{{ params.x | urlencode }}", "`params.x` goes through `| urlencode`"),
        ("{{ params.l | map('upper') | join }}", "`params.l` goes through `| map`"),
        ("{{ (params.x ~ '') | upper }}", "`params.x` was transformed inside the template"),
        ("{{ params.x | unquoted }}", "`| unquoted` is not available in queries"),
    ],
)
def test_a_transformed_argument_is_refused_with_its_name(written: str, message: str) -> None:
    with pytest.raises(QueryParamError, match=re.escape(message)):
        sql(f"select {written}", {"x": "some value", "l": ["a"]})


def test_numbers_through_int_are_plain_numbers() -> None:
    assert sql("select {{ params.n | int }}", {"n": "42"}) == ("select 42", [])


def test_an_argument_inside_a_longer_sql_string_is_refused() -> None:
    with pytest.raises(QueryParamError, match="`params.x` is part of a longer quoted string"):
        sql("select 'a{{ params.x }}'", {"x": "b"})


def url(template: str, params: dict[str, Any]) -> str:
    binder = UrlBinder()
    return binder.finish(_render(binder, template, params))


def test_url_arguments_are_one_encoded_segment_and_unquoted_opts_out() -> None:
    assert url("/api/{{ params.t }}/users?q={{ params.q }}&ids={{ params.ids }}",
               {"t": "../admin@evil:1", "q": "a b&c=d#e", "ids": [1, 2]}) == (
        "/api/..%2Fadmin%40evil%3A1/users?q=a%20b%26c%3Dd%23e&ids=1%2C2"
    )
    assert url("/api/{{ params.t | unquoted }}", {"t": "a/b?c"}) == "/api/a/b?c"


def test_errors_are_value_errors() -> None:
    assert issubclass(ArgumentTemplateError, ValueError)
