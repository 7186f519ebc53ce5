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
from airflow_batchtasks.plugins.data import audit

router = APIRouter(tags=["Orchestrations"])


@router.post("/orchestrations/{name}/instances", response_class=PlainTextResponse)
def launch(
    name: str, user: RunCreator, conf: Annotated[dict[str, Any] | None, Body(embed=False)] = None
) -> PlainTextResponse:
    """Launch an instance asynchronously; the body of the answer is its id (404 unknown, 409 inactive)."""
    with audit.audited(user, "orchestration_launch", name) as entry:
        instance_id = instances.launch(name, conf, user=user.get_name())
        entry.run_id = instance_id
    return PlainTextResponse(instance_id)


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
