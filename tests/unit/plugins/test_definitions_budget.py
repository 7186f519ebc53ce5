"""Editing a definition through the API parses its file within the budget, whatever else the file holds.

A file may hold a valid definition followed by a document nested 60,000 deep (written
on disk by anyone with access to the folder). Editing the valid one used to compose the
whole file with libyaml's recursive composer, which killed the API server (SIGSEGV).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.plugins.data import definitions_store as store

TASK = "kind: task\nname: a\nsource: {type: sql, conn_id: c, query: 'select 1'}\n"
DEEP = "[" * 60_000 + "]" * 60_000 + "\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE", "True")
    (tmp_path / "main.yaml").write_text(TASK + "---\n" + DEEP)
    store.catalog_cache.invalidate()
    return tmp_path


def test_a_definition_before_an_over_budget_document_can_be_edited_and_deleted(folder: Path) -> None:
    definitions, errors = store.list_definitions()
    assert [d.name for d in definitions] == ["a"]
    assert [store.display(e) for e in errors] == [
        "main.yaml:5: [0][0][0][0][0][0][0][0]...: nested deeper than 64 levels (the limit for a definition)"
    ]

    store.update("task", "a", TASK.replace("select 1", "select 2"))
    assert (folder / "main.yaml").read_text() == TASK.replace("select 1", "select 2") + "---\n" + DEEP

    store.delete("task", "a")
    assert (folder / "main.yaml").read_text().strip() == ("---\n" + DEEP).strip(), "the broken one is left as it was"
