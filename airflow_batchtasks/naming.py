"""How the provider names and tags the DAGs it makes, and how anyone tells them apart again.

The DAG factory writes these names and tags; the plugin, the listener and the
CLI read them back from Airflow's metadata to decide which DAGs are batch
tasks, projects, orchestrations or resend DAGs. Both sides import this one
module, so a rule changed here changes everywhere at once. The names are part
of the public contract (DAG ids and tags users filter on in Airflow's UI).

Imports nothing: definitions (reserved names) and every layer above use it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

#: Every DAG the provider makes carries this tag.
TAG = "batchtasks"
#: An orchestration's DAG (besides :data:`TAG`).
ORCHESTRATION_TAG = "orchestration"
#: A placeholder DAG standing for a definition that does not load (besides :data:`TAG`).
INVALID_TAG = "batchtasks:invalid"
#: A resend DAG: not a batch task (no :data:`TAG`), runs resends of archived files.
RESEND_TAG = "batchtasks:resend"
#: The placeholder DAG of errors no single definition owns (a file that does not parse).
ERRORS_DAG_ID = "batchtasks_definition_errors"
#: Project DAG ids are this prefix and the project's name; task names may not start with it.
PROJECT_PREFIX = "project__"
RESEND_DAG_PREFIX = "batchtasks_resend"
#: Tag prefixes of the task list's filters: ``project:<name>``, ``owner:<name>``.
PROJECT_TAG_PREFIX = "project:"
OWNER_TAG_PREFIX = "owner:"


def project_dag_id(name: str) -> str:
    """``project__<name>``: the DAG that runs a project's tasks in series."""
    return f"{PROJECT_PREFIX}{name}"


def is_project_dag_id(dag_id: str) -> bool:
    return dag_id.startswith(PROJECT_PREFIX)


def project_tag(project: str) -> str:
    return f"{PROJECT_TAG_PREFIX}{project}"


def owner_tag(owner: str) -> str:
    return f"{OWNER_TAG_PREFIX}{owner}"


def project_of(tags: Iterable[str]) -> str | None:
    """The project a DAG belongs to, from its ``project:<name>`` tag."""
    return next((t.removeprefix(PROJECT_TAG_PREFIX) for t in tags if t.startswith(PROJECT_TAG_PREFIX)), None)


def owners_of(tags: Iterable[str]) -> list[str]:
    """The owners of a DAG, from its ``owner:<name>`` tags, sorted."""
    return sorted(t.removeprefix(OWNER_TAG_PREFIX) for t in tags if t.startswith(OWNER_TAG_PREFIX))


def is_batch_task_dag(dag_id: str, tags: Iterable[str]) -> bool:
    """Whether a DAG stands for one batch task: ours, not a project, an orchestration or the errors DAG.

    A task whose definition does not load still counts (its placeholder carries the task's name).
    """
    tags = set(tags)
    return (
        TAG in tags and ORCHESTRATION_TAG not in tags
        and not is_project_dag_id(dag_id) and dag_id != ERRORS_DAG_ID
    )


def resend_dag_id(queue: str | None) -> str:
    """``batchtasks_resend`` for the default queue, ``batchtasks_resend__<queue>`` for the others.

    Queue names may hold ``:`` and ``@``, which DAG ids may not: such a name is cleaned and a short
    digest of the exact name keeps two queues apart.
    """
    if not queue:
        return RESEND_DAG_PREFIX
    if re.fullmatch(r"[A-Za-z0-9_.-]+", queue):
        return f"{RESEND_DAG_PREFIX}__{queue}"
    digest = hashlib.sha256(queue.encode()).hexdigest()[:8]
    return f"{RESEND_DAG_PREFIX}__{re.sub(r'[^A-Za-z0-9_.-]', '_', queue)}_{digest}"


def is_resend_dag_id(dag_id: str) -> bool:
    return dag_id == RESEND_DAG_PREFIX or dag_id.startswith(f"{RESEND_DAG_PREFIX}__")
