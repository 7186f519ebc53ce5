"""Run now, skip, retry and cancel retry: each through the code Airflow's own REST API runs.

- run now: ``TriggerDAGRunPostBody.validate_context`` + ``dag.create_dagrun`` (as
  ``POST /api/v2/dags/{dag_id}/dagRuns``), ``triggering_user_name`` = the caller;
- skip: set the run failed (as ``PATCH .../dagRuns/{id}`` with ``state=failed``):
  Airflow marks the not-yet-run steps skipped, which is how a skipped run is
  recognised (a failed run none of whose steps ran);
- retry: clear the whole run (as ``POST .../dagRuns/{id}/clear``);
- cancel retry: ``dag.set_task_instance_state(FAILED)`` on the step waiting for
  its retry (as ``PATCH .../taskInstances/{task_id}``).

So Airflow's UI, its REST API, its listeners and its audit log see exactly what
they would see had the user clicked in Airflow (:mod:`airflow_batchtasks.airflow_calls` holds the
per-version code of those endpoints).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagTag
from airflow.models.dagrun import DagRun
from airflow.models.taskinstance import TaskInstance as TI
from sqlalchemy import select

from airflow_batchtasks import airflow_calls
from airflow_batchtasks.naming import INVALID_TAG
from airflow_batchtasks.plugins.data import runs
from airflow_batchtasks.plugins.data.errors import Conflict, Invalid, NotFound
from airflow_batchtasks.plugins.data.models import RunInfo
from airflow_batchtasks.plugins.data.status import NOT_STARTED_TI_STATES

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.models.dagbag import DBDagBag
    from sqlalchemy.orm import Session

#: Step states during which cancel-retry refuses (a step is running).
ACTIVE_TI_STATES = ("queued", "running", "restarting", "deferred", "up_for_reschedule", "awaiting_input")

_dag_bag: DBDagBag | None = None


def dag_bag() -> DBDagBag:
    """The API server's way to read serialized DAGs (a cached DB DagBag, as Airflow's routes use)."""
    global _dag_bag
    if _dag_bag is None:
        from airflow.api_fastapi.common.dagbag import create_dag_bag

        _dag_bag = create_dag_bag()
    return _dag_bag


# ----------------------------------------------------------------------------- arguments


def _coerce(name: str, raw: str, schema: dict[str, Any]) -> Any:
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    kinds = [k for k in kinds if k != "null"]
    kind = kinds[0] if len(kinds) == 1 else None
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind == "boolean":
            lowered = raw.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(raw)
            return lowered in ("true", "1", "yes")
        if kind == "array":
            value = json.loads(raw) if raw.startswith("[") else [v for v in raw.split(",") if v != ""]
            if not isinstance(value, list):
                raise ValueError(raw)
            return value
        if kind == "object":
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError(raw)
            return value
    except ValueError:
        raise Invalid(f"argument `{name}`: `{raw}` is not a valid {kind}") from None
    return raw


_NAME_LIKE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def parse_args(args: str, params: Any) -> dict[str, Any]:
    """``"region=EU day=2026-11-20"`` or ``"EU 2026-11-20"`` -> ``{"region": "EU", "day": "2026-11-20"}``.

    Shell-style quoting keeps spaces inside a value (``note='two words'``). A token whose part
    before ``=`` reads like a name (``region=EU``) is ``key=value``, and an undeclared key is a 422
    (``regio=EU`` is a typo, not a region); any other token (``EU``, ``2026-11-20``, ``'a b'``,
    ``=x``) is a positional value. Positional values fill the declared params not given by key,
    in the order the definition declares them (the order Airflow keeps in the serialized DAG), which
    is how an OpenSpecimen job's ``arg1 arg2`` carries over. Values are converted to the param's
    JSON-schema type (integer, number, boolean, array, object).
    """
    try:
        tokens = shlex.split(args)
    except ValueError as exc:
        raise Invalid(f"args: cannot split `{args}`: {exc}") from None
    names = list(params.keys())
    keyed: dict[str, str] = {}
    positional: list[str] = []
    for token in tokens:
        key, sep, raw = token.partition("=")
        if not (sep and _NAME_LIKE.match(key)):
            positional.append(token)
        elif key not in names:
            raise Invalid(f"unknown argument `{key}`: {_known(params)}")
        elif key in keyed:
            raise Invalid(f"argument `{key}` is given twice")
        else:
            keyed[key] = raw
    free = [name for name in names if name not in keyed]
    if len(positional) > len(free):
        raise Invalid(f"args: `{positional[len(free)]}` is one value too many: {_known(params, ordered=True)}")
    raws = {**keyed, **dict(zip(free, positional, strict=False))}
    return {  # declaration order, as the script's sys.argv will have them
        name: _coerce(name, raws[name], dict(getattr(params.get_param(name), "schema", {}) or {}))
        for name in names
        if name in raws
    }


def args_for_audit(args: str | None, params: Any) -> str | None:
    """``args`` as Airflow's audit log should record it: every value named by its param (``EU 5`` ->
    ``region=EU days=5``), so the audit's masking by name hides a secret param given positionally.

    When ``args`` cannot be read, positional tokens are recorded as ``***``: which param they were meant
    for is unknown, so any of them may be a secret.
    """
    if not args:
        return args
    try:
        values = parse_args(args, params)
    except Invalid:
        try:
            tokens = shlex.split(args)
        except ValueError:
            return "***"
        names = set(params.keys())
        return " ".join(t if t.partition("=")[0] in names and "=" in t else "***" for t in tokens)
    from airflow_batchtasks.scripts.env import as_text

    return " ".join(f"{name}={shlex.quote(as_text(value))}" for name, value in values.items())


def parse_and_check(args: str, params: Any) -> dict[str, Any]:
    """:func:`parse_args` then :func:`check_params` (Airflow's own validation of each value)."""
    conf = parse_args(args, params)
    check_params(conf, params)
    return conf


def _known(params: Any, *, ordered: bool = False) -> str:
    """The declared params: by name, or in declaration order (``ordered``) where positions matter."""
    names = list(params.keys()) if ordered else sorted(params.keys())
    if not names:
        return "this task takes no arguments"
    return f"this task accepts{' in this order' if ordered else ''} {', '.join(f'`{n}`' for n in names)}"


def _merged(params: Any, values: dict[str, Any]) -> Any:
    """``params`` with ``values`` applied: ``deep_merge`` on Airflow 3.2+; 3.1's ParamsDict has no such method,
    and a deep copy updated with the values is what it does there."""
    if hasattr(params, "deep_merge"):
        return params.deep_merge(values)
    merged = copy.deepcopy(params)
    merged.update(values)
    return merged


def check_params(values: dict[str, Any], params: Any) -> None:
    """Unknown keys and Airflow's own param validation, as a 422 naming the argument."""
    from airflow_batchtasks.compat import ParamValidationError

    for key in values:
        if key not in set(params.keys()):
            raise Invalid(f"unknown argument `{key}`: {_known(params)}")
    try:
        _merged(params, values).validate()
    except (ParamValidationError, ValueError) as exc:  # the serialized DAG's params raise ValueError on 3.2
        first = str(exc).strip().splitlines()[0]
        raise Invalid(re.sub(r"^Invalid input for param ([^:]+):", r"argument `\1`:", first)) from None


# ----------------------------------------------------------------------------- actions


def _run(session: Session, task: str, run_id: str) -> DagRun:
    """A run of batch task ``task``: the bulk routes take any names, and must not act on other DAGs."""
    runs.task_dag(session, task)
    run = session.scalar(select(DagRun).where(DagRun.dag_id == task, DagRun.run_id == run_id))
    if run is None:
        raise NotFound(f"unknown run `{run_id}` of task `{task}`")
    return run


def _info(session: Session, task: str, run_id: str) -> RunInfo:
    row = runs.get_run_row(session, task, run_id)
    return runs.run_info(row.DagRun, row.task_status, row.skipped)


def trigger(
    session: Session, task: str, user: BaseUser, *, args: str | None = None, params: dict[str, Any] | None = None
) -> RunInfo:
    """Queue a run of ``task`` now with ``args`` (``k=v ...`` and/or positional values) or ``params``.

    Returns the queued run."""
    from airflow_batchtasks.compat import ParamValidationError

    dag_model = runs.task_dag(session, task)
    if args is not None and params is not None:
        raise Invalid("give `args` or `params`, not both")
    if dag_model.has_import_errors:
        raise Conflict(f"task `{task}` has import errors: fix its definition first")
    if session.scalar(select(DagTag.name).where(DagTag.dag_id == task, DagTag.name == INVALID_TAG)):
        raise Conflict(f"task `{task}` has definition errors: fix them before running it")
    if dag_model.is_paused:
        raise Conflict(f"task `{task}` is disabled (its DAG is paused): enable it to run it")
    if not _enabled_in_definition(task):
        raise Conflict(f"task `{task}` is disabled (`enabled: false` in its definition): enable it to run it")
    dag = dag_bag().get_latest_version_of_dag(task, session=session)
    if dag is None:
        raise NotFound(f"task `{task}` has no serialized DAG yet")
    if args is not None:
        conf = parse_and_check(args, dag.params)
    else:
        conf = dict(params or {})
        check_params(conf, dag.params)
    try:
        run = airflow_calls.create_manual_run(dag, conf, user, session)
    except (ParamValidationError, ValueError) as exc:
        raise Invalid(str(exc).splitlines()[0]) from None
    session.commit()
    return _info(session, task, run.run_id)


def _enabled_in_definition(task: str) -> bool:
    """The definition's ``enabled`` (True when the definition cannot be read: the DAG's own state decides then).

    Airflow applies a DAG's ``is_paused_upon_creation`` only when it creates the DAG, so a hand edit to
    ``enabled: false`` leaves the DAG unpaused; the task is still disabled, and Run now says so.
    """
    from airflow_batchtasks.plugins.data import catalog_cache

    try:
        entry = catalog_cache.get_catalog().tasks.get(task)
    except Exception:  # an unreadable folder: the DAG's paused state is the only switch left
        return True
    return entry is None or bool(entry.model.enabled)


def not_started(session: Session, run: DagRun) -> bool:
    started = session.scalar(
        select(TI.task_id).where(
            TI.dag_id == run.dag_id, TI.run_id == run.run_id,
            TI.state.is_not(None), TI.state.not_in(NOT_STARTED_TI_STATES),
        ).limit(1)
    )
    return started is None


def skip(session: Session, task: str, run_id: str, user: BaseUser) -> RunInfo:
    """Skip a run that has not started processing (Alumio's skip of a *New* task); Conflict otherwise."""
    run = _run(session, task, run_id)
    if run.state not in ("queued", "running"):
        raise Conflict(f"run `{run_id}` already ended ({run.state}): only a run not yet processing can be skipped")
    if not not_started(session, run):
        raise Conflict(f"run `{run_id}` is already processing: only a run not yet processing can be skipped")
    dag = dag_bag().get_dag_for_run(run, session=session)
    if dag is None:
        raise NotFound(f"the DAG of run `{run_id}` is not serialized")
    airflow_calls.fail_run(dag, run, session)
    _note(session, run, f"Skipped by {user.get_name()} (Batch Tasks)", user)
    session.commit()
    return _info(session, task, run_id)


def retry(session: Session, task: str, run_id: str, user: BaseUser) -> RunInfo:
    """Run a finished, failed or skipped run again (all its steps cleared); Conflict while it is in progress."""
    run = _run(session, task, run_id)
    if run.state not in ("success", "failed"):
        raise Conflict(f"run `{run_id}` is still in progress ({run.state}): it can be retried once it ended")
    dag = dag_bag().get_dag_for_run(run, session=session)
    if dag is None:
        raise NotFound(f"the DAG of run `{run_id}` is not serialized")
    airflow_calls.clear_run(dag, run, user, session)
    _note(session, run, f"Retried by {user.get_name()} (Batch Tasks)", user)
    session.commit()
    return _info(session, task, run_id)


def cancel_retry(session: Session, task: str, user: BaseUser) -> RunInfo:
    """Fail the steps waiting for an automatic retry (no more retries); Conflict while a step runs."""
    from airflow.utils.state import TaskInstanceState

    runs.task_dag(session, task)
    active_runs = session.scalars(
        select(DagRun).where(DagRun.dag_id == task, DagRun.state == "running").order_by(DagRun.id.desc())
    ).all()
    for run in active_runs:
        tis = session.scalars(select(TI).where(TI.dag_id == task, TI.run_id == run.run_id)).all()
        busy = [ti.task_id for ti in tis if ti.state in ACTIVE_TI_STATES]
        waiting = [ti for ti in tis if ti.state == "up_for_retry"]
        if not waiting:
            continue
        if busy:
            raise Conflict(f"step `{busy[0]}` of run `{run.run_id}` is running: cancel the retry once it stopped")
        dag = dag_bag().get_dag_for_run(run, session=session)
        if dag is None:
            raise NotFound(f"the DAG of run `{run.run_id}` is not serialized")
        for ti in waiting:
            dag.set_task_instance_state(
                task_id=ti.task_id, run_id=run.run_id, map_indexes=None if ti.map_index < 0 else [ti.map_index],
                state=TaskInstanceState.FAILED, commit=True, session=session,
            )
        _note(session, run, f"Retry cancelled by {user.get_name()} (Batch Tasks)", user)
        session.commit()
        return _info(session, task, run.run_id)
    raise Conflict(f"task `{task}` has no pending retry")


def set_enabled(session: Session, task: str, enabled: bool) -> bool:
    """Enable (unpause) or disable (pause) the task's DAG, as ``PATCH /api/v2/dags/{id}`` with ``is_paused``.

    Airflow's pause switch is the task's on/off: the definition's ``enabled`` only sets the
    state a new DAG starts in. Returns whether anything changed (already in that state: False).
    """
    dag = runs.task_dag(session, task)
    if dag.is_paused == (not enabled):
        return False
    dag.is_paused = not enabled
    session.commit()
    return True


def _note(session: Session, run: DagRun, text: str, user: BaseUser) -> None:
    """Leave the action on the run's note, as a user of Airflow's UI would see it."""
    fresh = session.get(DagRun, run.id)
    if fresh is not None:
        airflow_calls.set_note(fresh, text, user)
