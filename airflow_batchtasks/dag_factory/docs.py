"""The DAG doc shown in Airflow's UI: description, where it is defined, the definition itself.

Every reader of the DAG sees its doc, so the definition is shown as the API
shows it: secrets masked (comments kept) and the file named relative to the
definitions folder, not by its path on the server.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from airflow_batchtasks import config
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.yaml_source import Document


def definition_doc(title: str, description: str, doc: Document) -> str:
    body = masking.mask_text(doc.text.rstrip() + "\n", doc.data).rstrip()
    fence = "~~~~" if "```" in body else "```"
    where = masking.relative_path(doc.file, _definitions_root())
    return (
        f"### {title}\n\n{masking.mask_string(description) or '_No description._'}\n\n"
        f"Defined in `{where}` (line {doc.line}):\n\n{fence}yaml\n{body}\n{fence}\n"
    )


def _definitions_root() -> Path:
    """The definitions folder, resolved once per configuration: reading Airflow's config for each of thousands
    of DAGs is a measurable part of the parse (the environment is the part tests and deployments change)."""
    environment = ("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", "AIRFLOW__CORE__DAGS_FOLDER")
    return _root_for(*(os.environ.get(name) for name in environment))


@functools.lru_cache(maxsize=8)
def _root_for(*_environment: str | None) -> Path:
    return config.definitions_folder().resolve()
