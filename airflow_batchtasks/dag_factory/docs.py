"""The DAG doc shown in Airflow's UI: description, where it is defined, the definition itself."""

from __future__ import annotations

from airflow_batchtasks.definitions.yaml_source import Document


def definition_doc(title: str, description: str, doc: Document) -> str:
    body = doc.text.rstrip()
    fence = "~~~~" if "```" in body else "```"
    return (
        f"### {title}\n\n{description or '_No description._'}\n\n"
        f"Defined in `{doc.file}` (line {doc.line}):\n\n{fence}yaml\n{body}\n{fence}\n"
    )
