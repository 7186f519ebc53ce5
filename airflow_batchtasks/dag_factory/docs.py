"""The DAG doc shown in Airflow's UI: description, where it is defined, the definition itself.

Every reader of the DAG sees its doc, so the definition is shown as the API
shows it: secrets masked (comments kept) and the file named relative to the
definitions folder, not by its path on the server.
"""

from __future__ import annotations

from airflow_batchtasks import config
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.yaml_source import Document


def definition_doc(title: str, description: str, doc: Document) -> str:
    body = masking.mask_text(doc.text.rstrip() + "\n", doc.data).rstrip()
    fence = "~~~~" if "```" in body else "```"
    where = masking.relative_path(doc.file, config.definitions_folder())
    return (
        f"### {title}\n\n{masking.mask_string(description) or '_No description._'}\n\n"
        f"Defined in `{where}` (line {doc.line}):\n\n{fence}yaml\n{body}\n{fence}\n"
    )
