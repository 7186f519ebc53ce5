"""``/orchestrations/{name}/instances``: Memority's instance API over :mod:`airflow_batchtasks.orchestration.instances`.

Launch answers 200 with the instance id as a plain-text body (not JSON), as the
seed does; ``~cancel`` answers 200 with an empty body; delete answers 204.
Permissions are Airflow's on the orchestration's DAG runs (launch = create,
read = read, cancel = edit, delete = delete).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status
from fastapi.responses import PlainTextResponse

from airflow_batchtasks.orchestration import instances
from airflow_batchtasks.plugins.api.deps import RunCreator, RunDeleter, RunEditor, RunReader
from airflow_batchtasks.plugins.data import audit, catalog_cache
from airflow_batchtasks.plugins.data.access import DagAccessEntity, MissingRight, is_authorized

router = APIRouter(tags=["Orchestrations"])


@router.post("/orchestrations/{name}/instances", response_class=PlainTextResponse)
def launch(
    name: str, user: RunCreator, conf: Annotated[dict[str, Any] | None, Body(embed=False)] = None
) -> PlainTextResponse:
    """Launch an instance asynchronously; the body of the answer is its id (404 unknown, 409 inactive).

    Launching runs the steps' tasks, so it also needs the right to run each of them (DAG-run create on
    its DAG): a role granted one orchestration does not reach the tasks of a project it has no rights on.
    """
    with audit.audited(user, "orchestration_launch", name) as entry:
        _require_step_rights(user, name)
        instance_id = instances.launch(name, conf, user=user.get_name())
        entry.run_id = instance_id
    return PlainTextResponse(instance_id)


def _require_step_rights(user: Any, name: str) -> None:
    entry = catalog_cache.get_catalog().orchestrations.get(name)
    tasks = sorted({step.task for step in entry.model.steps}) if entry is not None else []
    if not tasks or is_authorized(user, "POST", tasks, DagAccessEntity.RUN):
        return
    denied = [t for t in tasks if not is_authorized(user, "POST", [t], DagAccessEntity.RUN)]
    if denied:
        raise MissingRight(f"Forbidden: this orchestration runs {', '.join(f'`{t}`' for t in denied)}, which you "
                           "may not run (DAG-run create on its DAG)")


@router.get("/orchestrations/{name}/instances")
def list_instances(
    name: str, user: RunReader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """Reports of the orchestration's instances, newest first."""
    return instances.reports(name, limit=limit)


@router.get("/orchestrations/{name}/instances/{instance_id}")
def get_instance(name: str, instance_id: str, user: RunReader) -> dict[str, Any]:
    """Report: status, start, end, reason it stopped, and each step's status and times."""
    return instances.report(name, instance_id)


@router.post("/orchestrations/{name}/instances/{instance_id}/~cancel", response_class=Response)
def cancel(name: str, instance_id: str, user: RunEditor) -> Response:
    """Cancel a running or queued instance: 200 with an empty body; 409 if it already ended."""
    with audit.audited(user, "orchestration_cancel", name, instance_id):
        instances.cancel(name, instance_id, user.get_name())
    return Response(status_code=status.HTTP_200_OK)


@router.delete("/orchestrations/{name}/instances/{instance_id}", status_code=204, response_class=Response)
def delete(name: str, instance_id: str, user: RunDeleter) -> Response:
    """Delete the instance and its report: 204."""
    with audit.audited(user, "orchestration_delete", name, instance_id):
        instances.delete(name, instance_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
