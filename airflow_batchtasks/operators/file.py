"""Extract step for ``source.type: file``: fetch the matching files into staging, reformatted or kept.

Each file streams from the location straight into staging (ObjectStoragePath), because the next
step may run on another worker; nothing stays on this worker's disk. Reformatting happens here
rather than in ``package`` so every later step (processing scripts, zip, gpg, deliver) sees the
file in its final format, exactly as with a SQL source, and the XCom shape is the same:
``[{"name", "url", "rows"}]``.

No matching file fails the step with a normal (retryable) error: a file that is late often
arrives before the retry, which is what the task's ``retries`` are for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.formats.transcode import (
    copy_bytes,
    copy_counting_lines,
    reformat_delimited,
    reformat_text,
)
from airflow_batchtasks.lineage.steps import FileSourceLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.progress import CountingReader, Progress
from airflow_batchtasks.storage.paths import check_file_name
from airflow_batchtasks.transports.base import FileReader, matching_files, split_pattern
from airflow_batchtasks.transports.registry import reader_for

if TYPE_CHECKING:
    from airflow.sdk import Context

REFORMATS = {"csv": reformat_delimited, "tsv": reformat_delimited, "pipe": reformat_delimited, "text": reformat_text}


class FileExtractOperator(FileSourceLineage, BatchStepOperator):
    """Fetch the files matching a location's path (wildcards in the file name) into staging.

    :param location: ``{type: sftp|ftp|smb|local, conn_id, path}``; ``path`` is templated and may end
        in a pattern such as ``sales_*.csv`` (hidden files match only patterns starting with ``.``)
    :param input_format: the definition's ``source.input`` (delimiter, encoding, quotechar, header),
        or None when not given (then ``keep`` does not count rows)
    :param output_format: the ``output`` block; ``format: keep`` copies the bytes unchanged
    :param output_name: new name for the file (templated); only when exactly one file matches.
        None keeps each file's own name
    """

    template_fields: Sequence[str] = ("location", "output_name")
    ui_color = "#cfe8ff"
    #: the running step's progress (set by ``execute``; None when ``_fetch`` runs alone)
    _progress: Progress | None = None

    def __init__(
        self,
        *,
        location: dict[str, Any],
        output_format: dict[str, Any],
        input_format: dict[str, Any] | None = None,
        output_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.location = location
        self.input_format = input_format
        self.output_format = output_format
        self.output_name = output_name

    def execute(self, context: Context) -> list[dict[str, Any]]:
        path = self.location["path"]
        try:
            split_pattern(path)
        except ValueError as exc:
            raise AirflowFailException(f"source.location.path: {exc}") from exc
        where = f"{self.location['type']} {self.location.get('conn_id') or ''} {path}".replace("  ", " ")
        reader = reader_for(self.location)
        try:
            found = [p for p in matching_files(reader, path) if _visible(p, path)]
            if not found:
                raise AirflowException(f"no file matches {where}")
            self.log.info("%d file(s) match %s: %s", len(found), where, ", ".join(found))
            names = self._output_names(found)
            target_dir = self.staging(context, "extract")
            target_dir.mkdir(parents=True, exist_ok=True)
            self._progress = Progress.of(context, "extract")
            return [self._fetch(reader, remote, target_dir / name) for remote, name in zip(found, names, strict=True)]
        finally:
            reader.close()

    def _output_names(self, found: list[str]) -> list[str]:
        names = [self.output_name] if self.output_name and len(found) == 1 else [p.rsplit("/", 1)[-1] for p in found]
        if self.output_name and len(found) > 1:
            raise AirflowFailException(
                f"output.name renames a single file, but {len(found)} files match: "
                "omit output.name to keep their names, or zip them (output.zip)"
            )
        try:
            return [check_file_name(n) for n in names]
        except ValueError as exc:
            raise AirflowFailException(f"output.name: {exc}") from exc

    def _fetch(self, reader: FileReader, remote: str, target: Any) -> dict[str, Any]:
        fmt = self.output_format.get("format", "keep")
        with reader.open(remote) as raw:
            # bytes fetched so far (the servers give no size up front: the page shows "3.0 MiB fetched")
            src = raw if self._progress is None else CountingReader(raw, None, self._progress)
            if fmt == "keep":
                with target.open("wb") as dst:
                    if self.input_format is None:
                        rows: int | None = None if copy_bytes(src, dst) else 0
                    else:
                        rows = copy_counting_lines(src, dst, bool(self.input_format.get("header", True)))
            else:
                encoding = self.output_format.get("encoding") or "utf-8"
                with target.open("w", encoding=encoding, newline="") as dst:
                    rows = REFORMATS[fmt](src, dst, self.input_format or {}, self.output_format)
        how = "kept as is" if fmt == "keep" else f"reformatted to {fmt}"
        self.log.info("%s -> %s (%s, %s data rows)", remote, target.name, how, "unknown" if rows is None else rows)
        # source: the file read, for its lineage (lineage.steps.FileSourceLineage)
        return {"name": target.name, "url": str(target), "rows": rows, "source": remote}


def _visible(found: str, pattern: str) -> bool:
    """Like a shell glob: a wildcard does not pick up hidden files (``.x.part`` uploads in progress)."""
    name = found.rsplit("/", 1)[-1]
    wanted = pattern.rsplit("/", 1)[-1]
    return not name.startswith(".") or wanted.startswith(".")
