"""The loader entry point: definitions folder -> DAGs in the calling module's globals.

The one-line loader file written by ``airflow batchtasks init`` calls
``load_dags(globals())``. Under Airflow's parsing context (a worker running
one task) only the requested DAG is built from only the files it needs.
Errors never raise out of here: an exception would make Airflow drop every
DAG of the loader file, so each failure is isolated to its own DAG.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

from airflow_batchtasks import config
from airflow_batchtasks.dag_factory.error_dag import build_error_dag
from airflow_batchtasks.dag_factory.known_roles import drop_unknown_roles, published_roles
from airflow_batchtasks.dag_factory.orchestration_dag import build_orchestration_dag
from airflow_batchtasks.dag_factory.project_dag import build_project_dag
from airflow_batchtasks.dag_factory.resend_dag import build_resend_dag, resend_queues
from airflow_batchtasks.dag_factory.task_dag import build_task_dag
from airflow_batchtasks.definitions.catalog import Catalog, load_catalog
from airflow_batchtasks.definitions.errors import DefinitionError
from airflow_batchtasks.definitions.models import is_task_dag_id
from airflow_batchtasks.definitions.unsupported import unsupported_errors
from airflow_batchtasks.naming import ERRORS_DAG_ID, is_resend_dag_id, project_dag_id

log = logging.getLogger(__name__)


def _wanted_dag_id() -> str | None:
    from airflow.sdk import get_parsing_context

    return get_parsing_context().dag_id


def build_dags(
    catalog: Catalog,
    only: str | None = None,
    owned: Callable[[str], bool] | None = None,
    resend: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """Every DAG the catalog defines (or just ``only``), invalid ones as error placeholders.

    ``owned``: for a shard, whether a definition file is its own; the catalog then also holds other
    shards' files (to validate against) whose DAGs and errors are theirs to build. ``resend``: the
    resend DAGs to build (default: those of the catalog's tasks).
    """
    dags: dict[str, Any] = {}
    errors: dict[str | None, list[DefinitionError]] = {}
    mine = owned or (lambda _file: True)
    for err in catalog.errors:
        if not mine(err.file):
            continue
        named = (
            err.name
            if err.kind in ("task", "orchestration", None)
            and err.name
            and err.name not in catalog.tasks
            and err.name not in catalog.orchestrations
            else None
        )
        if named is not None and not is_task_dag_id(named):
            named = None  # an invalid name cannot be a DAG id: show it on the errors DAG
        errors.setdefault(named, []).append(err)

    # task -> destinations, for `schedule: {after: [...]}` (the named tasks' delivery aliases)
    delivering = {name: entry.model.destinations for name, entry in catalog.tasks.items()}
    for name, entry in catalog.tasks.items():
        if (only and name != only) or not mine(entry.doc.file):
            continue
        if is_resend_dag_id(name):  # shown on the errors DAG: the name belongs to a resend DAG
            errors.setdefault(None, []).append(DefinitionError(
                entry.doc.file, entry.doc.line, "name", f"`{name}` is reserved for the provider's resend DAGs", name,
                kind="task"))
            continue
        problems = unsupported_errors(entry)
        if problems:
            errors.setdefault(name, []).extend(problems)
            continue
        try:
            dags[name] = build_task_dag(entry, catalog.owners_of(entry.model), delivering)
        except Exception as exc:  # one DAG's failure must not hide the others
            log.exception("batch task %s could not be built", name)
            errors.setdefault(name, []).append(DefinitionError(entry.doc.file, entry.doc.line, "", str(exc), name))

    for name, entry in catalog.projects.items():
        dag_id = project_dag_id(name)
        if (only and dag_id != only) or not (entry.model.run_in_series or entry.model.schedule):
            continue
        if not mine(entry.doc.file):
            continue
        tasks = [t for t in catalog.project_tasks(name) if t.name in dags or only or _built_elsewhere(catalog, t, mine)]
        disabled_tasks = sorted(
            t for t, e in catalog.tasks.items() if e.model.project == name and not e.model.enabled
        )
        excluded = {t: "disabled (enabled: false)" for t in disabled_tasks}
        dags[dag_id] = build_project_dag(entry, tasks, excluded=excluded)

    disabled = frozenset(name for name, entry in catalog.tasks.items() if not entry.model.enabled)
    for name, entry in catalog.orchestrations.items():
        if (only and name != only) or not mine(entry.doc.file):
            continue
        if is_resend_dag_id(name):  # an orchestration here would be what the API triggers for a resend
            errors.setdefault(None, []).append(DefinitionError(
                entry.doc.file, entry.doc.line, "name", f"`{name}` is reserved for the provider's resend DAGs", name,
                kind="orchestration"))
            continue
        try:
            dags[name] = build_orchestration_dag(entry, disabled, delivering)
        except Exception as exc:  # one DAG's failure must not hide the others
            log.exception("orchestration %s could not be built", name)
            errors.setdefault(name, []).append(
                DefinitionError(entry.doc.file, entry.doc.line, "", str(exc), name, kind="orchestration")
            )

    for dag_id, queue in (resend_queues(catalog) if resend is None else resend).items():
        if (only and dag_id != only) or dag_id in dags:
            continue
        try:
            dags[dag_id] = build_resend_dag(dag_id, queue)
        except Exception:  # never hide the batch tasks' DAGs
            log.exception("resend DAG %s could not be built", dag_id)

    for name, errs in errors.items():
        dag_id = name or ERRORS_DAG_ID
        if only and dag_id != only:
            continue
        if dag_id in dags:
            continue
        dags[dag_id] = build_error_dag(dag_id, errs)
    return dags


def _built_elsewhere(catalog: Catalog, task: Any, mine: Callable[[str], bool]) -> bool:
    """Whether another shard builds ``task``'s DAG: its file is not ours and it loads (a valid model
    without an unsupported feature; a rarer build failure there is that shard's error DAG)."""
    entry = catalog.tasks[task.name]
    return not mine(entry.doc.file) and not unsupported_errors(entry)


def load_dags(namespace: MutableMapping[str, Any], folder: str | Path | None = None) -> Catalog:
    """Build the batch task DAGs into ``namespace`` (a loader module's ``globals()``)."""
    root = Path(folder) if folder else config.definitions_folder()
    only = _wanted_dag_id()
    roles = published_roles()
    catalog = load_catalog(root, only=only)
    catalog.errors.extend(drop_unknown_roles(catalog, roles))
    dags = build_dags(catalog, only)
    if only and only not in dags:
        # The text scan of the targeted load missed it (a flow-style document, the
        # errors DAG...): a full load is slower but never wrong.
        catalog = load_catalog(root)
        catalog.errors.extend(drop_unknown_roles(catalog, roles))
        dags = build_dags(catalog, only)
    if catalog.errors:
        log.warning("%d definition error(s) under %s", len(catalog.errors), root)
    namespace.update(dags)
    return catalog
