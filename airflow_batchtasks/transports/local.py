"""Files on the machine running the step (on a cluster: a mount every worker sees)."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import IO

from airflow_batchtasks.storage.local_roots import check_local_path
from airflow_batchtasks.storage.records import WRITE_BLOCK
from airflow_batchtasks.transports.base import DestinationExists, is_leftover_part, log_removed_leftovers, temp_name


class LocalDestination:
    """A folder on the machine running the deliver step (a shared mount on a cluster)."""

    def __init__(self, path: str) -> None:
        self.folder = Path(path)

    def put(self, src: IO[bytes], name: str, overwrite: bool) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        if final.exists() and not overwrite:
            raise DestinationExists(f"{final} exists and overwrite is false")
        leftovers = [p for p in self.folder.iterdir() if is_leftover_part(p.name, name)]
        for path in leftovers:
            path.unlink(missing_ok=True)
        log_removed_leftovers([p.name for p in leftovers], str(self.folder))
        tmp = self.folder / temp_name(name)
        try:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, WRITE_BLOCK)
                out.flush()
                os.fsync(out.fileno())
            if overwrite:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)
                except FileExistsError as exc:
                    raise DestinationExists(f"{final} exists and overwrite is false") from exc
                tmp.unlink()
        finally:
            tmp.unlink(missing_ok=True)
        return str(final)

    def close(self) -> None:
        pass


class LocalReader:
    """A folder on the machine running the step (on a cluster: a mount every worker sees).

    With ``[batchtasks] local_roots`` set, only folders and files inside a root (or inside ``also``)
    are listed or opened (:func:`~airflow_batchtasks.storage.local_roots.check_local_path`); a path
    outside fails the step without retry. ``what`` names the field in that error.
    """

    case_sensitive = True

    def __init__(self, what: str = "source.location.path", also: tuple[str, ...] = ()) -> None:
        self.what = what
        self.also = also

    def list_files(self, folder: str) -> list[str]:
        check_local_path(folder, self.what, self.also)
        return [p.name for p in Path(folder).iterdir() if p.is_file()]

    def open(self, path: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        check_local_path(path, self.what, self.also)
        return open(path, "rb")  # noqa: SIM115 - returned as the context manager itself

    def close(self) -> None:
        pass
