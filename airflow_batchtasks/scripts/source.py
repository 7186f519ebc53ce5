"""Where a processing script's code comes from, copied into the run's own folder.

Three sources, as in the definition's ``processing`` block:

- ``script``: a file, or a folder (a multi-file package, run through its
  ``entrypoint``, default ``main.py``) inside the definitions folder. Paths
  are relative to that folder and may not leave it (``../../etc/passwd``,
  absolute paths and symlinks pointing outside are refused), since the
  definitions folder is what users are allowed to ship.
- ``inline``: the code itself, written as ``entrypoint`` (default ``main.py``) inside the
  run's script folder; an ``entrypoint`` that leaves that folder (``../..``) is refused.
- ``from``: a :class:`~airflow_batchtasks.definitions.models.Location`
  (sftp, ftp, smb, url, git, local) read through ``transports.locations``:
  the script's text, or with ``entrypoint`` a zip archive of the package.

The code is always copied next to the run (never executed in place) so a
script that writes beside itself cannot change the definitions.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_ENTRYPOINT = "main.py"


class ScriptSourceError(ValueError):
    """The definition points at code that cannot be used; the message says which key and why."""


def inside(base: Path, relative: str, what: str) -> Path:
    """``base / relative`` resolved, refusing anything that ends up outside ``base``."""
    if not relative or Path(relative).is_absolute():
        raise ScriptSourceError(f"{what} `{relative}` must be a relative path inside {base}")
    root = base.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ScriptSourceError(f"{what} `{relative}` leaves {base}: refused")
    return target


def materialize(
    dest: Path,
    *,
    definitions_folder: Path,
    script: str | None = None,
    inline: str | None = None,
    location: dict[str, Any] | None = None,
    entrypoint: str | None = None,
    context: Context = None,
) -> Path:
    """Put the script's code into the empty folder ``dest``; return the file to run."""
    dest.mkdir(parents=True, exist_ok=True)
    if script is not None:
        source = inside(definitions_folder, script, "processing.script")
        if source.is_dir():
            _copy_tree(source, dest)
            return _entrypoint(dest, entrypoint or DEFAULT_ENTRYPOINT)
        if not source.is_file():
            raise ScriptSourceError(f"processing.script `{script}` not found in {definitions_folder}")
        if entrypoint:
            raise ScriptSourceError(
                f"processing.entrypoint is for multi-file packages: `{script}` is a file, give its folder instead"
            )
        target = dest / source.name
        shutil.copyfile(source, target)
        return target
    if inline is not None:
        target = _entry_path(dest, entrypoint or DEFAULT_ENTRYPOINT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(inline, encoding="utf-8")
        return target
    if location is not None:
        return _from_location(dest, location, entrypoint, context)
    raise ScriptSourceError("processing needs one of `script`, `inline` or `from`")


def _from_location(dest: Path, location: dict[str, Any], entrypoint: str | None, context: Context) -> Path:
    from airflow_batchtasks.transports import locations

    if entrypoint:
        # A multi-file package travels as one zip archive (a single fetch, whatever the location type).
        data = locations.fetch_bytes(location, context)
        _unzip(data, dest, locations.describe(location))
        return _entrypoint(dest, entrypoint)
    target = dest / DEFAULT_ENTRYPOINT
    target.write_text(locations.fetch_text(location, context), encoding="utf-8")
    return target


def _unzip(data: bytes, dest: Path, where: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ScriptSourceError(
            f"processing.from {where}: with `entrypoint` the location must hold a zip of the package"
        ) from exc
    with archive:
        for member in archive.namelist():
            inside(dest, member, f"zip member of {where}")  # no `../` or absolute members
        archive.extractall(dest)


def _entry_path(package: Path, entrypoint: str) -> Path:
    """Where the entrypoint is: a file strictly inside the script's folder (``..``, absolute, the folder: refused)."""
    path = inside(package, entrypoint, "processing.entrypoint")
    if path == package.resolve():
        raise ScriptSourceError(f"processing.entrypoint `{entrypoint}` must name a file inside the script's folder")
    return path


def _entrypoint(package: Path, entrypoint: str) -> Path:
    path = _entry_path(package, entrypoint)
    if not path.is_file():
        raise ScriptSourceError(f"processing.entrypoint `{entrypoint}` is not a file of the package")
    return path


def _copy_tree(source: Path, dest: Path) -> None:
    # symlinks=False copies the linked content; links leaving the definitions folder are refused first.
    root = source.resolve()
    for link in (p for p in source.rglob("*") if p.is_symlink()):
        target = link.resolve()
        if target != root and root not in target.parents:
            raise ScriptSourceError(f"{link} links outside the script's folder: refused")
    shutil.copytree(source, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
