"""Parts of a valid definition this version cannot run yet, reported like definition errors.

A definition can be valid against the schema and still ask for something no
operator does yet; rather than building a DAG that would pretend to run it,
the loader makes the error placeholder, ``airflow batchtasks validate`` fails,
and Task Details shows the error, all from this one check.
"""

from __future__ import annotations

from airflow_batchtasks.definitions.catalog import Entry
from airflow_batchtasks.definitions.errors import DefinitionError, parse_field
from airflow_batchtasks.definitions.models import Task


def unsupported_features(task: Task) -> list[tuple[str, str]]:
    """Parts of a valid definition this version cannot run yet, as (field, message).

    They are reported like definition errors instead of producing a DAG that
    would pretend to run them.
    """
    problems = []
    if task.source.type not in ("sql", "file", "python", "ssh", "http"):
        problems.append(("source.type", f"source type `{task.source.type}` is not supported by this version yet"))
    if task.output.format in ("text", "keep") and task.source.type == "sql":
        problems.append(("output.format", f"format `{task.output.format}` needs a file source"))
    return problems


def unsupported_errors(entry: Entry) -> list[DefinitionError]:
    """:func:`unsupported_features` as definition errors pointing at the field's line."""
    task: Task = entry.model
    return [
        DefinitionError(entry.doc.file, entry.doc.line_of(parse_field(f)), f, m, name=task.name, kind="task")
        for f, m in unsupported_features(task)
    ]
