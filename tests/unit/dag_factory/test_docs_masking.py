"""DAG docs are read by every viewer of the DAG: secrets masked, files named relative to the definitions folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

TOKEN = "HdrTok-7Qm2xV"


@pytest.fixture(autouse=True)
def _configured(defs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(defs))


def test_a_task_doc_masks_its_secrets_and_keeps_comments(build_from: Callable[..., dict], defs: Path) -> None:
    dag = build_from({"vendor/call.yaml": f"""
kind: task
name: vendor_call
description: Calls the vendor
source:
  type: http
  conn_id: vendor_api
  endpoint: /x
  headers:
    Authorization: "Bearer {TOKEN}"   # the token
    X-Trace: trace-visible
"""})["vendor_call"]
    assert TOKEN not in dag.doc_md and str(defs) not in dag.doc_md
    assert 'Authorization: "***"   # the token' in dag.doc_md and "X-Trace: trace-visible" in dag.doc_md
    assert "Defined in `vendor/call.yaml` (line 1)" in dag.doc_md


def test_an_error_placeholder_names_files_relative_to_the_folder(build_from: Callable[..., dict], defs: Path) -> None:
    dags = build_from({"a.yaml": "kind: task\nname: twice\nsource: {type: python}\nprocessing: {inline: x}\n",
                       "b.yaml": "kind: task\nname: twice\nsource: {type: python}\nprocessing: {inline: x}\n",
                       "c.yaml": "kind: task\nname: broken\nsource: {type: nope}\n"})
    docs = "\n".join(d.doc_md for d in dags.values() if d.doc_md and "Invalid" in d.doc_md)
    assert "b.yaml:2: name: `twice` is already defined at a.yaml:2" in docs
    assert "c.yaml:3: source: unknown type `nope`" in docs
    assert str(defs) not in docs
