"""``/pickers``: the lists the authoring pages pick from (names and ids only, never a secret).

- ``/pickers/connections?types=sftp,ssh``: connection ids and types (needs Airflow's connection read);
- ``/pickers/variables``: variable names (needs Airflow's variable read);
- ``/pickers/timezones``: IANA time zone names (authentication only);
- ``/pickers/projects`` and ``/pickers/tasks``: the definitions the caller may read (as ``GET /definitions``).

A caller without the right gets 403, as Airflow's own list routes answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from airflow_batchtasks.plugins.api.deps import GetUserDep, SessionDep, forbid_unless
from airflow_batchtasks.plugins.api.routes.definitions import _readable
from airflow_batchtasks.plugins.data import catalog_cache, pickers
from airflow_batchtasks.plugins.data.access import readable_dag_ids

router = APIRouter(tags=["Pickers"])


class ConnectionItem(BaseModel):
    conn_id: str
    conn_type: str


class ConnectionPicks(BaseModel):
    connections: list[ConnectionItem]


class VariablePicks(BaseModel):
    variables: list[str] = Field(description="variable names (never their values)")


class TimezonePicks(BaseModel):
    timezones: list[str]


class ProjectItem(BaseModel):
    name: str


class ProjectPicks(BaseModel):
    projects: list[ProjectItem]


class TaskItem(BaseModel):
    name: str
    project: str | None


class TaskPicks(BaseModel):
    tasks: list[TaskItem]


@router.get("/pickers/connections", response_model=ConnectionPicks)
def pick_connections(
    user: GetUserDep,
    session: SessionDep,
    types: Annotated[str | None, Query(description="comma-separated connection types, e.g. `sftp,ssh`")] = None,
) -> ConnectionPicks:
    """Connection ids and types (of ``types`` if given); 403 without Airflow's connection read right."""
    forbid_unless(pickers.may_read_connections(user))
    found = pickers.connections(session, pickers.parse_types(types))
    return ConnectionPicks(connections=[ConnectionItem(**c) for c in found])


@router.get("/pickers/variables", response_model=VariablePicks)
def pick_variables(user: GetUserDep, session: SessionDep) -> VariablePicks:
    """Variable names; 403 without Airflow's variable read right."""
    forbid_unless(pickers.may_read_variables(user))
    return VariablePicks(variables=pickers.variables(session))


@router.get("/pickers/timezones", response_model=TimezonePicks)
def pick_timezones(user: GetUserDep) -> TimezonePicks:
    """IANA time zone names, sorted."""
    return TimezonePicks(timezones=pickers.timezones())


@router.get("/pickers/projects", response_model=ProjectPicks)
def pick_projects(user: GetUserDep) -> ProjectPicks:
    """Projects the caller may read (the project's DAG or one of its tasks' DAGs)."""
    readable = readable_dag_ids(user)
    catalog = catalog_cache.get_catalog()
    found = pickers.named(catalog.projects.items(), lambda n: _readable(user, "project", n, readable))
    return ProjectPicks(projects=[ProjectItem(name=n) for n, _ in found])


@router.get("/pickers/tasks", response_model=TaskPicks)
def pick_tasks(user: GetUserDep) -> TaskPicks:
    """Tasks the caller may read, with their project."""
    readable = readable_dag_ids(user)
    catalog = catalog_cache.get_catalog()
    found = pickers.named(catalog.tasks.items(), lambda n: readable is None or n in readable)
    return TaskPicks(tasks=[TaskItem(name=n, project=e.model.project) for n, e in found])
