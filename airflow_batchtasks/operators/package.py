"""Package step: encrypt and zip when asked, then the md5 and size of each final file.

Encryption comes first (".gpg" appended to each name), then the zip, as the
seed says: the zip then holds the encrypted files. The md5 is taken of the
exact bytes that will be delivered (after both), so a consumer and the resend
check can verify the file they hold.
"""

from __future__ import annotations

import shutil
import time
import zipfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.compat import AirflowFailException
from airflow_batchtasks.formats.gpg import GPG_SUFFIX, GpgSpec, encryptor
from airflow_batchtasks.lineage.steps import PackageLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.storage.paths import check_file_name, storage_path
from airflow_batchtasks.storage.records import WRITE_BLOCK, md5_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class PackageOperator(PackageLineage, BatchStepOperator):
    """Turn the extracted files into the files to deliver, with md5 and size.

    :param zip_name: when set, every file goes into one zip of this name (templated)
    :param skip_empty_zip: do not build the zip when the output has no data rows
        (every destination skips empty output, so the zip would never be sent)
    :param gpg: ``output.gpg`` (``recipient``, ``key_conn_id`` or ``key_variable``, ``compress_level``;
        templated): encrypt every file before zipping, see :mod:`~airflow_batchtasks.formats.gpg`
    """

    template_fields: Sequence[str] = ("zip_name", "gpg")
    ui_color = "#e8dcff"

    def __init__(
        self, *, zip_name: str | None = None, skip_empty_zip: bool = False, gpg: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.zip_name = zip_name
        self.skip_empty_zip = skip_empty_zip
        self.gpg = gpg

    def execute(self, context: Context) -> list[dict[str, Any]]:
        # the step before: `process` when the task has a processing script, else `extract`
        previous = "process" if "process" in self.upstream_task_ids else "extract"
        files: list[dict[str, Any]] = context["ti"].xcom_pull(task_ids=previous) or []
        # rows is None for a kept file of unknown content: it counts as data, never as empty
        counts = [f.get("rows") for f in files]
        rows = None if None in counts else sum(counts)
        if self.gpg and files:
            files = self._encrypt(context, files)
        if self.zip_name and files and not (self.skip_empty_zip and rows == 0):
            files = [self._zip(context, files, rows)]
        packaged = []
        for item in files:
            size, md5 = md5_of(storage_path(item["url"]))
            self.log.info("%s: %d bytes, md5 %s", item["name"], size, md5)
            packaged.append({**item, "size": size, "md5": md5})
        return packaged

    def _encrypt(self, context: Context, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        folder = self.staging(context, "package")
        folder.mkdir(parents=True, exist_ok=True)
        encrypted = []
        with encryptor(GpgSpec.from_dict(self.gpg or {}), self.log) as gpg:
            for item in files:
                name = item["name"] + GPG_SUFFIX
                target = folder / name
                gpg.encrypt(storage_path(item["url"]), target)
                self.log.info("Encrypted %s into %s", item["name"], name)
                encrypted.append({**item, "name": name, "url": str(target), "encrypted": True})
        return encrypted

    def _zip(self, context: Context, files: list[dict[str, Any]], rows: int | None) -> dict[str, Any]:
        try:
            name = check_file_name(self.zip_name or "")
        except ValueError as exc:
            raise AirflowFailException(f"output.zip.name: {exc}") from exc
        target = self.staging(context, "package") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
            for item in files:
                # ciphertext does not compress: deflating a .gpg member would only burn CPU
                member = zipfile.ZipInfo(item["name"], date_time=_now_tuple())
                member.compress_type = zipfile.ZIP_STORED if item.get("encrypted") else zipfile.ZIP_DEFLATED
                member.external_attr = 0o600 << 16  # what ZipFile.open(name, "w") gives a member
                source = storage_path(item["url"])
                member.file_size = source.stat().st_size  # lets zipfile switch to zip64 above 2 GiB by itself
                with source.open("rb") as src, archive.open(member, "w") as dst:
                    shutil.copyfileobj(src, dst, WRITE_BLOCK)
        self.log.info("Zipped %d file(s) into %s", len(files), name)
        return {"name": name, "url": str(target), "rows": rows, "encrypted": any(f.get("encrypted") for f in files)}


def _now_tuple() -> tuple[int, int, int, int, int, int]:
    return time.localtime(time.time())[:6]
