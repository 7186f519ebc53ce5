"""The file source keeps a fetched file's bytes unless the definition asks for a format."""

from __future__ import annotations

import pytest

from airflow_batchtasks.dag_factory.steps import file_output_format
from airflow_batchtasks.definitions.models import Task


@pytest.mark.parametrize(
    ("output", "expected"),
    [(None, "keep"), ({"name": "x.csv"}, "keep"), ({"format": "pipe"}, "pipe"), ({"delimiter": ";"}, "csv"),
     ({"format": "keep", "delimiter": ";"}, "keep")],
)
def test_file_sources_keep_their_bytes_unless_a_format_is_asked(output: dict | None, expected: str) -> None:
    doc = {"kind": "task", "name": "t", "source": {"type": "file", "location": {"type": "local", "path": "/x/*.csv"}}}
    if output is not None:
        doc["output"] = output
    assert file_output_format(Task.model_validate(doc)) == expected
