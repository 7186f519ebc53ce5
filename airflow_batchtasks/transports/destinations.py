"""A definition's destinations as the deliver and resend steps use them: keys, containment, one atomic put.

Destination paths are templates; before anything is sent, each rendered path
is checked to stay inside the folder its definition names
(:func:`~airflow_batchtasks.storage.paths.check_destination_path`) and, for
``local``, inside ``[batchtasks] local_roots``. The deliver step renders with
the run's context; a resend renders for the run that made the file, with a
plain sandboxed environment and the date helpers (no run arguments are live
any more: they are values of that past run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.storage.local_roots import check_local_path
from airflow_batchtasks.storage.paths import PathEscapes, check_destination_path, check_file_name
from airflow_batchtasks.transports.registry import open_destination


class DestinationRefused(ValueError):
    """A destination path cannot be rendered for a past run, or leaves its folder."""


def destination_key(spec: dict[str, Any]) -> str:
    return f"{spec['type']}:{spec.get('conn_id') or ''}:{spec['path']}"


def describe_destination(spec: dict[str, Any]) -> str:
    return f"{spec['type']} {spec.get('conn_id') or ''} {spec['path']}".replace("  ", " ")


def contained_destinations(
    templates: Sequence[str], rendered: Sequence[dict[str, Any]], folders: Sequence[str | None] | None = None
) -> list[dict[str, Any]]:
    """``rendered`` destinations, each path checked against its template (see ``check_destination_path``),
    or against ``folders`` (see ``operators.deliver.argument_folder``) when given.

    A `local` path must also lie inside ``[batchtasks] local_roots`` when that is set (``check_local_path``).

    :raises PathEscapes: naming the destination (``destinations[<i>].path``) and why
    """
    for index, (template, spec) in enumerate(zip(templates, rendered, strict=True)):
        try:
            check_destination_path(template, spec["path"], folders[index] if folders else None)
        except PathEscapes as exc:
            raise PathEscapes(f"destinations[{index}].path: {exc}") from None
        if spec["type"] == "local":
            check_local_path(spec["path"], f"destinations[{index}].path")
    return list(rendered)


def put_file(src: Any, name: str, spec: dict[str, Any]) -> str:
    """Put the stored file ``src`` as ``name`` at destination ``spec`` (atomic); returns where it landed."""
    check_file_name(name)
    destination = open_destination(spec)
    try:
        with src.open("rb") as fh:
            return destination.put(fh, name, bool(spec.get("overwrite", True)))
    finally:
        destination.close()


def render_path(path: str, context: dict[str, Any]) -> str:
    """A destination path template rendered for a past run (sandboxed, undefined names are errors).

    :raises jinja2.TemplateError: the template cannot be rendered with this context
    """
    if "{{" not in path and "{%" not in path:
        return path
    env = SandboxedEnvironment(undefined=StrictUndefined)
    env.filters.update(FILTERS)
    return env.from_string(path).render(**{**context, **MACROS})


def rendered_destinations(destinations: list[dict[str, Any]], context: dict[str, Any]) -> list[dict[str, Any]]:
    """Destinations rendered for a past run (a resend), each checked to stay inside its folder.

    :raises DestinationRefused: a path cannot be rendered or leaves its folder
    """
    from jinja2 import TemplateError

    rendered = []
    for index, spec in enumerate(destinations):
        try:
            rendered.append({**spec, "path": render_path(spec["path"], context)})
        except TemplateError as exc:
            raise DestinationRefused(f"destinations[{index}].path `{spec['path']}` cannot be rendered for this run: "
                                f"{exc}") from None
    try:
        return contained_destinations([d["path"] for d in destinations], rendered)
    except PathEscapes as exc:
        raise DestinationRefused(str(exc)) from None
