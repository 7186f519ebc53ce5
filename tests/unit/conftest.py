"""Shared fixtures of the unit tests: definition folders written into ``tmp_path``.

Unit tests run without a metadata database or servers: they load real YAML
files with the real loader and build real DAG objects.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

PARSING_CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


@pytest.fixture(autouse=True)
def _no_parsing_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's parsing context leaking in from the environment would make the loader build one DAG only."""
    monkeypatch.delenv(PARSING_CONTEXT_ENV, raising=False)
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_TASK_ID", raising=False)


@pytest.fixture
def defs(tmp_path: Path) -> Path:
    """An empty definitions folder."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    return folder


@pytest.fixture
def write(defs: Path) -> Callable[[str, str], Path]:
    """``write("sales.yaml", yaml_text)`` writes a (dedented) definition file into ``defs``."""

    def _write(name: str, text: str) -> Path:
        path = defs / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def sql_task() -> Callable[..., str]:
    """YAML of a minimal valid SQL task; ``extra`` is appended as more top-level keys."""

    def _task(name: str, extra: str = "", project: str | None = None) -> str:
        text = f"kind: task\nname: {name}\n"
        if project:
            text += f"project: {project}\n"
        text += "source:\n  type: sql\n  conn_id: warehouse\n  query: select 1\n"
        return text + dedent(extra)

    return _task


@pytest.fixture
def build_from(defs: Path, write) -> Callable[..., dict]:
    """``build_from({"a.yaml": text, ...})``: write the files, load the folder, return its DAGs by id."""
    from airflow_batchtasks.dag_factory.loader import build_dags
    from airflow_batchtasks.definitions.catalog import load_catalog

    def _build(files: dict[str, str] | None = None) -> dict:
        for name, text in (files or {}).items():
            write(name, text)
        return build_dags(load_catalog(defs))

    return _build
