"""The query a SQL task will run, for a chosen date and run arguments, without running anything.

The preview goes through the extract step's own preparation
(:func:`~airflow_batchtasks.sql.params.prepare_query`): ``USE <db>`` and ``GO`` removed and listed,
the template rendered in Airflow's sandboxed environment with the DAG's macros and filters, and every
run argument bound as a placeholder of the chosen paramstyle (``qmark``, ``?``, by default: what
ODBC takes and what Airflow's rendered-template view shows) with its value listed next to it. Values
of arguments named like secrets (``db_password``) are ``***`` (:mod:`airflow_batchtasks.definitions.masking`).

What it does not do, by design:

- open a connection or execute anything: the API server never talks to a task's database;
- fetch ``source.query_from``: that text lives on an SFTP/FTP/SMB server, a URL, a git repository or the
  worker's disk, and the API server opens no connection (nor reads worker files); the answer says so and
  previews inline ``query`` texts only;
- render a template that reaches beyond run data (``var``, ``conn``, ``macros`` modules, method calls:
  see :func:`~airflow_batchtasks.definitions.code_features.template_reasons`): the preview's context holds
  run data only, so such a query is refused with the reasons instead of being rendered half-way;
- render more work than a query of run data needs: a reader may send any template, and it renders in
  the API server's process, so its shape and output are bounded first
  (:mod:`~airflow_batchtasks.plugins.data.preview_budget`).

The run's dates come from ``date`` (``YYYY-MM-DD``, default today in UTC): ``logical_date`` is that day at
00:00 UTC, as for a run whose logical date is that day, so ``ds`` is ``date``.
"""

from __future__ import annotations

import types
from datetime import date as date_type
from datetime import datetime, timedelta, timezone
from typing import Any

import jinja2

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.catalog import Catalog, add_documents, resolve
from airflow_batchtasks.definitions.code_features import SAFE_MACROS, template_reasons
from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.definitions.models import Task
from airflow_batchtasks.plugins.data import catalog_cache
from airflow_batchtasks.plugins.data import definitions_store as store
from airflow_batchtasks.plugins.data.errors import Invalid, NotFound
from airflow_batchtasks.plugins.data.preview_budget import bounded_render, check_shape
from airflow_batchtasks.sql.params import QueryParamError, prepare_query

PARAMSTYLES = ("qmark", "format", "pyformat", "numeric", "named")

QUERY_FROM_NOTE = (
    "The query is fetched from `source.query_from` ({where}) when the extract step runs. The API server never "
    "opens connections or reads the workers' files, so it cannot show that text: only inline `source.query` "
    "texts are previewed."
)


def saved_task(name: str) -> Task:
    """The task's model as the DAG is built from it (project defaults merged)."""
    entry = catalog_cache.get_catalog().tasks.get(name)
    if entry is None:
        raise NotFound(f"unknown task `{name}` (or its definition has errors)")
    return entry.model


def unsaved_task(body: str | dict[str, Any]) -> Task:
    """A task model from an unsaved definition, with the current projects' defaults merged (422 with errors)."""
    doc = store.single_document(store.document_text(body), "<body>")
    if doc.data.get("kind") != "task":
        raise Invalid(f"only tasks have a query to preview, not a {doc.data.get('kind')}")
    current = catalog_cache.get_catalog()
    catalog = Catalog(projects=dict(current.projects))
    add_documents(catalog, [doc])
    resolve(catalog)
    errors = [e for e in catalog.errors if e.kind == "task"] or catalog.errors
    if errors or doc.data["name"] not in catalog.tasks:
        shown = [masking.mask_message(str(e), masking.secret_values(doc.data, True)) for e in errors]
        raise Invalid("the definition is not valid", shown or ["the definition is not a valid task"])
    return catalog.tasks[doc.data["name"]].model


def run_day(text: str | None) -> datetime:
    """``YYYY-MM-DD`` -> that day at 00:00 UTC (today when empty); 422 otherwise."""
    if not text:
        today = datetime.now(timezone.utc).date()
        return datetime(today.year, today.month, today.day, tzinfo=timezone.utc)
    try:
        day = date_type.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"date: `{text}` is not a date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def params_of(task: Task) -> Any:
    """The task's run arguments as the DAG declares them (Airflow ``Param`` objects in a ``ParamsDict``)."""
    from airflow.sdk.definitions.param import ParamsDict

    from airflow_batchtasks.dag_factory.task_dag import _param

    return ParamsDict({name: _param(spec) for name, spec in task.params.items()})


def run_values(task: Task, args: str | None, params: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(``dag_run.conf``, ``params``) of a manual run with ``args`` (``k=v ...``, positional values)
    or ``params``, validated as Run now validates them."""
    from airflow_batchtasks.plugins.data.actions import _merged, check_params, parse_and_check

    if args and params:
        raise Invalid("give `args` or `params`, not both")
    declared = params_of(task)
    if args:
        conf = parse_and_check(args, declared)
    else:
        conf = dict(params or {})
        check_params(conf, declared)
    merged = _merged(declared, conf)
    return conf, {key: merged[key] for key in merged}


def _macros() -> Any:
    """``macros`` as the preview offers it: the date macros a template may use without more rights only."""
    from airflow.sdk.execution_time import macros as airflow_macros

    found = {name: getattr(airflow_macros, name) for name in SAFE_MACROS if hasattr(airflow_macros, name)}
    found.update(datetime=datetime, timedelta=timedelta, batchtasks=types.SimpleNamespace(**MACROS))
    return types.SimpleNamespace(**found)


def run_context(day: datetime, conf: dict[str, Any], params: dict[str, Any], task: str) -> dict[str, Any]:
    """The run data of a manual run on ``day`` (what a query template may use without more rights)."""
    import pendulum

    when = pendulum.instance(day)
    run_id = f"manual__{when.isoformat()}"
    dag_run = types.SimpleNamespace(
        conf=conf, run_id=run_id, dag_id=task, logical_date=when, run_after=when, run_type="manual",
        data_interval_start=when, data_interval_end=when, start_date=when,
    )
    return {
        "ds": when.strftime("%Y-%m-%d"), "ds_nodash": when.strftime("%Y%m%d"),
        "ts": when.isoformat(), "ts_nodash": when.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": when.isoformat().replace("-", "").replace(":", ""),
        "logical_date": when, "data_interval_start": when, "data_interval_end": when,
        "run_id": run_id, "dag_run": dag_run, "params": params, "try_number": 1, "macros": _macros(),
    }


def _environment() -> Any:
    """What a generated DAG's ``get_template_env`` builds (Airflow's sandbox, StrictUndefined, the date
    helpers), from the class every supported Airflow has (3.3's ``create_template_env`` is not in 3.1)."""
    from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, extensions=["jinja2.ext.do"], cache_size=0)
    env.globals.update(MACROS)
    env.filters.update(FILTERS)
    return env


def _shown_value(name: str, value: Any) -> Any:
    key = name.split(".")[-1].split("[")[0]
    if masking.is_sensitive(key):
        return masking.MASK
    return masking.mask_data(value) if isinstance(value, dict) else value


def preview(
    task: Task, *, args: str | None = None, params: dict[str, Any] | None = None, date: str | None = None,
    paramstyle: str = "qmark",
) -> dict[str, Any]:
    """``{query, removed, parameters: [{placeholder, name, value}], paramstyle, date, note}``; never executes."""
    if paramstyle not in PARAMSTYLES:
        raise Invalid(f"paramstyle: `{paramstyle}` is not one of {', '.join(PARAMSTYLES)}")
    source = task.source
    if source.type != "sql":
        raise Invalid(f"task `{task.name}` has a `{source.type}` source: only `sql` sources have a query")
    day = run_day(date)
    answer: dict[str, Any] = {"query": None, "removed": [], "parameters": [], "paramstyle": paramstyle,
                              "date": day.date().isoformat(), "note": None}
    if source.query_from is not None:
        location = source.query_from
        where = f"`{location.type}` {location.url or location.path}"
        answer["note"] = QUERY_FROM_NOTE.format(where=where)
        return answer
    check_shape(source.query or "")  # before anything else reads the template: bounded work only
    reasons, _ = template_reasons(source.query or "")
    if reasons:
        raise Invalid("source.query: the preview renders run data only, and this template "
                      + "; ".join(reasons) + " (see the definition for its text)")
    conf, values = run_values(task, args, params)
    secrets = masking.secret_values({"params": values, "conf": conf})
    try:
        binder, rendered, removed = prepare_query(source.query or "", run_context(day, conf, values, task.name),
                                                  _environment(), render=bounded_render)
        sql, bound = binder.bind(rendered, paramstyle)
    except Invalid:
        raise
    except (QueryParamError, jinja2.TemplateError, TypeError, ValueError, AttributeError, ArithmeticError,
            RecursionError) as exc:
        raise Invalid(masking.mask_message(f"source.query: {exc}", secrets)) from None
    answer.update(
        query=sql, removed=removed,
        parameters=[{"placeholder": mark, "name": name, "value": _shown_value(name, value)}
                    for mark, name, value in bound],
    )
    return answer
