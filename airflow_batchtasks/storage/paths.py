"""Where staged and archived files live, and the checks that keep every write inside its folder.

Task names and run ids become folder names. Run ids contain ``:`` and ``+``,
which some object stores and file systems dislike, and callers of Airflow's
trigger API choose them freely (``..``, ``a/b``...), so each becomes one
path-safe segment by :func:`archive_segment`, which is injective: two task
names (``x`` and ``x.``) or two run ids never share a folder, and the folder
names the archive has always used for ordinary names and Airflow's own run ids
are unchanged. File names come from templates that can include run
arguments, so a name that tries to leave its folder is refused, and so is a
rendered destination path that leaves the folder its definition names
(:func:`check_destination_path`).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from typing import TYPE_CHECKING

from airflow_batchtasks import config
from airflow_batchtasks.compat import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Airflow's own run ids (``manual__2026-11-20T10:00:00.123456+00:00``): their ``:`` and ``+`` sit at fixed
# places, so the lossy cleaning of :func:`safe_segment` keeps them apart; their folders stay as they were.
_RUN_TYPES = "(manual|scheduled|backfill|operator_triggered|asset_triggered|asset_materialization|dataset_triggered)"
_AIRFLOW_RUN_ID = re.compile(
    _RUN_TYPES + r"__\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00(_[A-Za-z0-9]{1,16})?"
)
# ...and what they become: a caller-chosen run id spelled like that must not land in their folder.
_CLEANED_AIRFLOW_RUN_ID = re.compile(
    _RUN_TYPES + r"__\d{4}-\d\d-\d\dT\d\d_\d\d_\d\d(\.\d{1,6})?_00_00(_[A-Za-z0-9]{1,16})?"
)
#: Separates the readable part of an escaped segment from its digest; never produced by ``safe_segment``.
_ESCAPE = "~"


class PathEscapes(AirflowFailException, ValueError):
    """A rendered path or name would write outside the folder it belongs to.

    An ``AirflowFailException``: the step fails without retry, since the same arguments would
    escape again (a ``ValueError`` too, for callers that check names outside a step).
    """


def safe_segment(value: str) -> str:
    """A single path segment from any string (``:`` and ``+`` of run ids become ``_``); not injective."""
    cleaned = _UNSAFE.sub("_", value).strip(".")
    return cleaned or "_"


def archive_segment(value: str) -> str:
    """The folder name of a task name or run id in staging and the archive: one segment, injective.

    A value that is already a clean segment (and does not look like a cleaned Airflow run id), or
    that is one of Airflow's own run ids, keeps the name :func:`safe_segment` always gave it, so
    existing archives stay where they are. Anything else (``x.``, ``..``, ``a/b``, ``a:b``) becomes
    its cleaned form plus ``~`` and a digest of the exact value: ``~`` appears in no other form.
    """
    cleaned = safe_segment(value)
    if _AIRFLOW_RUN_ID.fullmatch(value):
        return cleaned
    if cleaned == value and not _CLEANED_AIRFLOW_RUN_ID.fullmatch(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return f"{cleaned[:120]}{_ESCAPE}{digest}"


def legacy_segments(value: str) -> list[str]:
    """Folder names ``value`` may also have been archived under by earlier versions (to read, never write)."""
    old = safe_segment(value)
    return [] if old == archive_segment(value) else [old]


def check_file_name(name: str) -> str:
    """Return ``name`` if it is a plain file name; refuse separators, ``..`` and hidden names."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\x00" in name:
        raise PathEscapes(f"file name `{name}` must be a plain name (no folder, no leading dot)")
    return name


def storage_path(url: str) -> ObjectStoragePath:
    """A path in staging or the archive, through ``[batchtasks] storage_conn_id`` when one is set.

    Also rebuilds a staged path from the URL a previous step returned through XCom.
    """
    from airflow.sdk import ObjectStoragePath

    conn_id = config.storage_conn_id()
    return ObjectStoragePath(url, conn_id=conn_id) if conn_id else ObjectStoragePath(url)


def staging_dir(dag_id: str, run_id: str, step: str) -> ObjectStoragePath:
    return storage_path(config.staging_url()) / archive_segment(dag_id) / archive_segment(run_id) / step


def archive_dir(dag_id: str, run_id: str) -> ObjectStoragePath:
    return archive_root() / archive_segment(dag_id) / archive_segment(run_id)


def archive_root() -> ObjectStoragePath:
    return storage_path(config.archive_url())


def archived_file(dag_id: str, run_id: str, md5: str, name: str) -> ObjectStoragePath:
    """``<archive>/<task>/<run>/<md5[:12]>/<name>``, checked to lie under the archive root."""
    if not re.fullmatch(r"[0-9a-f]{32}", md5):
        raise PathEscapes(f"md5 `{md5}` is not an md5 digest")
    root = archive_root()
    path = archive_dir(dag_id, run_id) / md5[:12] / check_file_name(name)
    check_within(root.path, path.path, "archive")
    return path


def is_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or lies under it, both normalised (no disk access)."""
    base, target = posixpath.normpath(root), posixpath.normpath(path)
    return target == base or target.startswith(base.rstrip("/") + "/")


def check_within(root: str, path: str, what: str) -> str:
    """Return ``path`` if it lies under ``root`` once normalised; :class:`PathEscapes` otherwise."""
    if not is_within(path, root):
        raise PathEscapes(f"{what} path `{path}` is outside `{root}`")
    return path


# -- destination paths ------------------------------------------------------------------------------

_EXPRESSION = re.compile(r"\{[{%#]")


def destination_folder(template: str) -> str:
    """The folder a destination ``path`` template names: what run arguments can never leave.

    It is the literal text of the template before its first Jinja expression (``{{``, ``{%``
    or ``{#``), cut after its last ``/``: ``/data/out/{{ params.sub }}`` names ``/data/out/``,
    ``/data/out_{{ ds }}`` names ``/data/``. A path without expression names itself. A template
    that starts with an expression (or has no ``/`` before it) names no folder of its own: ``""``,
    meaning relative to where the connection starts (its login folder; the worker's working
    folder for ``local``), so its rendered path must be relative.
    """
    match = _EXPRESSION.search(template)
    if match is None:
        return template
    literal = template[: match.start()]
    cut = literal.rfind("/")
    return literal[: cut + 1] if cut >= 0 else ""


def check_destination_path(template: str, rendered: str, folder: str | None = None) -> str:
    """Return ``rendered`` (the destination ``path`` after templating) if it stays in its folder.

    Refused (:class:`PathEscapes`): a ``..`` segment (``/`` and ``\\`` both separate, for SMB),
    a NUL byte, a path outside ``folder`` (default :func:`destination_folder` of ``template``;
    the deliver step passes the rendered path up to the first run argument), or an absolute path
    where the folder is relative.
    """
    where = f"destination path `{rendered}`"
    if template != rendered:
        where += f" (rendered from `{template}`)"
    if "\x00" in rendered:
        raise PathEscapes(f"{where} holds a NUL byte")
    if ".." in re.split(r"[/\\]", rendered):
        raise PathEscapes(f"{where} contains `..`: run arguments cannot choose a folder outside the definition's")
    if folder is None:
        folder = destination_folder(template)
    if folder == "":
        if rendered.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", rendered):
            raise PathEscapes(
                f"{where} is absolute but the definition names no folder before its first template expression; "
                "start the path with a literal folder (e.g. `/data/out/{{ params.sub }}`)"
            )
        return rendered
    if not rendered.startswith(folder):
        raise PathEscapes(f"{where} is outside `{folder}`, the folder the definition names")
    return rendered
