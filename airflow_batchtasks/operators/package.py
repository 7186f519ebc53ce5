"""Package step: zip when asked, then the md5 and size of each final file.

The md5 is taken of the exact bytes that will be delivered (after zipping),
so a consumer and the resend check can verify the file they hold.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from typing import Any

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.operators.base import BatchStepOperator, storage_path
from airflow_batchtasks.storage.paths import check_file_name
from airflow_batchtasks.storage.records import CHUNK, md5_of


class PackageOperator(BatchStepOperator):
    """Turn the extracted files into the files to deliver, with md5 and size.

    :param zip_name: when set, every file goes into one zip of this name (templated)
    :param skip_empty_zip: do not build the zip when the output has no data rows
        (every destination skips empty output, so the zip would never be sent)
    """

    template_fields: Sequence[str] = ("zip_name",)
    ui_color = "#e8dcff"

    def __init__(self, *, zip_name: str | None = None, skip_empty_zip: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.zip_name = zip_name
        self.skip_empty_zip = skip_empty_zip

    def execute(self, context: Any) -> list[dict[str, Any]]:
        # the step before: `process` when the task has a processing script, else `extract`
        previous = "process" if "process" in self.upstream_task_ids else "extract"
        files: list[dict[str, Any]] = context["ti"].xcom_pull(task_ids=previous) or []
        # rows is None for a kept file of unknown content: it counts as data, never as empty
        counts = [f.get("rows") for f in files]
        rows = None if None in counts else sum(counts)
        if self.zip_name and files and not (self.skip_empty_zip and rows == 0):
            files = [self._zip(context, files, rows)]
        packaged = []
        for item in files:
            size, md5 = md5_of(storage_path(item["url"]))
            self.log.info("%s: %d bytes, md5 %s", item["name"], size, md5)
            packaged.append({**item, "size": size, "md5": md5})
        return packaged

    def _zip(self, context: Any, files: list[dict[str, Any]], rows: int | None) -> dict[str, Any]:
        try:
            name = check_file_name(self.zip_name or "")
        except ValueError as exc:
            raise AirflowFailException(f"output.zip.name: {exc}") from exc
        target = self.staging(context, "package") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in files:
                with storage_path(item["url"]).open("rb") as src, archive.open(item["name"], "w") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        self.log.info("Zipped %d file(s) into %s", len(files), name)
        return {"name": name, "url": str(target), "rows": rows}
