"""A definition's ``access`` (role -> read / run / edit) as the ``access_control`` of its DAGs.

Why these permissions: they are what Airflow's FAB auth manager checks for the requests our routes
make (``plugins/data/access.py`` asks ``is_authorized_dag``; FAB answers from the role's permissions on
``DAG:<id>`` and ``DAG Run:<id>``, the only two per-DAG resources it has):

- ``read``: see the DAG and its runs (``can_read`` on both);
- ``run``: start runs (``can_create`` on ``DAG Run:<id>``), delete orchestration instances
  (``can_delete``), and everything FAB ties to edit on the DAG itself: skip, retry, cancel retry,
  enable/disable (``can_edit`` on ``DAG:<id>``, with the role's global ``DAG Runs``/``Task Instances``
  edit, which has no per-DAG form);
- ``edit``: change or delete the definition. Our definition writes ask for edit *and* delete on the DAG,
  and only ``edit`` grants ``can_delete`` on ``DAG:<id>``, so a role that may only run cannot rewrite what
  it runs. Since FAB ties skip/retry/enable to DAG edit, ``edit`` allows those too, but not starting runs.

Every right includes reading (a role that may run a task it cannot see would be an odd role). Other auth
managers ignore ``access_control``; the FAB auth manager syncs it into its roles whenever the
dag-processor writes the DAG (see docs/permissions.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

DAGS = "DAGs"
DAG_RUNS = "DAG Runs"

#: right -> FAB resource -> actions. The only resources FAB accepts in ``access_control`` are these two.
RIGHTS: dict[str, dict[str, frozenset[str]]] = {
    "read": {DAGS: frozenset({"can_read"}), DAG_RUNS: frozenset({"can_read"})},
    "run": {
        DAGS: frozenset({"can_read", "can_edit"}),
        DAG_RUNS: frozenset({"can_read", "can_create", "can_delete"}),
    },
    "edit": {DAGS: frozenset({"can_read", "can_edit", "can_delete"}), DAG_RUNS: frozenset({"can_read"})},
}


def access_control(access: Mapping[str, Iterable[str]] | None) -> dict[str, dict[str, set[str]]] | None:
    """``access`` as Airflow's ``DAG(access_control=...)``: role -> {"DAGs": {...}, "DAG Runs": {...}}.

    None stays None (the DAG declares nothing; FAB then leaves its per-DAG permissions alone), and ``{}``
    stays ``{}`` (FAB revokes every per-DAG permission a non-Admin role holds on the DAG): so
    ``access: {}`` is how a definition takes back what an earlier version granted.
    """
    if access is None:
        return None
    control: dict[str, dict[str, set[str]]] = {}
    for role, rights in access.items():
        resources: dict[str, set[str]] = {}
        for right in rights:
            for resource, actions in RIGHTS[right].items():
                resources.setdefault(resource, set()).update(actions)
        control[role] = resources
    return control
