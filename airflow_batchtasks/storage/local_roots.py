"""``[batchtasks] local_roots``: the folders of the worker that `local` paths of definitions may use.

A `local` path reads or writes the worker's own file system with the worker's identity: a file
source can read ``airflow.cfg`` into the archive, a destination can write ``x.py`` into the DAGs
folder, which the dag-processor then runs. So the deployment names the folders meant for exchange
files, and

- writing a definition through the REST API whose `local` path is outside every root is writing
  code (:mod:`airflow_batchtasks.definitions.code_features`, decided on the path's literal folder:
  :func:`literal_folder`, pure, no disk access);
- when roots are set, a step refuses a rendered `local` path that is outside every root once
  symbolic links are resolved (:func:`check_local_path`, on the worker), for every definition,
  whoever wrote it. Without roots nothing is checked at run time, as before the setting existed.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence

from airflow_batchtasks import config
from airflow_batchtasks.storage.paths import PathEscapes, destination_folder, is_within


def literal_folder(template: str) -> str:
    """The folder a `local` path template names (as for destinations), normalised; ``""`` if relative.

    ``/srv/out/{{ params.sub }}`` names ``/srv/out``; ``{{ params.dir }}`` and ``out`` name no absolute
    folder (a template or the worker's working folder decides), ``/srv/out/../../etc`` names ``/etc``.
    """
    folder = destination_folder(template)
    return posixpath.normpath(folder) if posixpath.isabs(folder) else ""


def inside(path: str, roots: Sequence[str]) -> bool:
    """Whether absolute ``path`` is one of ``roots`` or lies under one (both normalised, no disk access)."""
    return posixpath.isabs(path) and any(is_within(path, root) for root in roots)


def template_inside(template: str, roots: Sequence[str]) -> bool:
    """Whether every path ``template`` can render to stays inside ``roots``: its literal folder is inside one."""
    folder = literal_folder(template)
    return bool(folder) and inside(folder, roots)


def check_local_path(path: str, what: str, also: Sequence[str] = ()) -> str:
    """Return ``path`` if the configured roots (plus ``also``) allow it; :class:`PathEscapes` otherwise.

    No roots configured: everything is allowed (``also`` alone never restricts). The path and the
    roots are resolved (``realpath``: a relative path against the working folder, symbolic links
    followed), so a link inside a root that points outside is refused too. ``what`` names the field
    in the error, e.g. ``destinations[0].path``.
    """
    roots = config.local_roots()
    if not roots:
        return path
    real = os.path.realpath(path)
    allowed = [os.path.realpath(r) for r in (*roots, *also)]
    if inside(real, allowed):
        return path
    shown = f"`{path}`" if real == path else f"`{path}` (really `{real}`)"
    raise PathEscapes(
        f"{what}: local path {shown} is outside [batchtasks] local_roots ({', '.join(roots)}): "
        "the worker reads and writes only those folders"
    )
