"""The data layer's surfaces hide secrets and server paths: definitions (data and text), errors, audit entries.

Definitions are real files in a temporary definitions folder; the audit details are the pure part of
an entry (what is written is checked against a real api-server in ``tests/e2e/test_secrets_masked.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airflow_batchtasks.plugins.data import audit
from airflow_batchtasks.plugins.data import definitions_store as store
from airflow_batchtasks.plugins.data.errors import Invalid

TOKEN = "HdrTok-7Qm2xV"
PASSWORD = "DefaultPw-9f3k2W"
TASK = f"""\
# vendor call
kind: task
name: vendor
description: Calls the vendor
params:
  db_password: {{default: {PASSWORD}, description: Database password}}
source:
  type: http
  conn_id: vendor_api
  endpoint: /x
  headers:
    Authorization: "Bearer {TOKEN}"   # the token
    X-Trace: trace-visible
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "definitions"
    root.mkdir()
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(root))
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_WRITABLE", "True")
    (root / "vendor.yaml").write_text(TASK)
    (root / "zz_clash.yaml").write_text("kind: task\nname: vendor\nsource: {type: python}\nprocessing: {inline: x}\n")
    store.catalog_cache.invalidate()
    return root


def test_a_definition_is_read_masked_with_its_comments(folder: Path) -> None:
    shown = store.to_definition(store.find("task", "vendor"), "task")
    assert TOKEN not in shown.model_dump_json() and PASSWORD not in shown.model_dump_json()
    assert shown.data["source"]["headers"] == {"Authorization": "***", "X-Trace": "trace-visible"}
    assert "# the token" in shown.yaml and yaml.safe_load(shown.yaml) == shown.data


def test_folder_errors_name_files_relative_to_the_folder(folder: Path) -> None:
    _, errors = store.list_definitions()
    shown = [store.display(e) for e in errors]
    assert shown == ["zz_clash.yaml:2: name: `vendor` is already defined at vendor.yaml:3 "
                     "(task and orchestration names are DAG ids and must be unique)"]


def test_a_masked_definition_written_back_keeps_the_stored_secrets(folder: Path) -> None:
    shown = store.to_definition(store.find("task", "vendor"), "task").yaml
    saved = store.update("task", "vendor", shown.replace("Calls the vendor", "Calls the vendor (v2)"))
    on_disk = (folder / "vendor.yaml").read_text()
    assert TOKEN in on_disk and PASSWORD in on_disk and "***" not in on_disk and "(v2)" in on_disk
    assert "# the token" in on_disk and on_disk.startswith("# vendor call\n")
    assert TOKEN not in saved.model_dump_json()
    assert store.validate_text(shown) == [], "the masked text validates as the definition it would write"


def test_errors_about_a_body_do_not_quote_its_secrets(folder: Path) -> None:
    body = f"kind: task\nname: other\nparams: {{api_token: {{default: {TOKEN}, type: {TOKEN}}}}}\n" \
           "source: {type: python}\n"
    errors = store.validate_text(body)
    assert errors and all(TOKEN not in e for e in errors), errors
    with pytest.raises(Invalid) as refused:
        store.create(body)
    assert all(TOKEN not in e for e in refused.value.errors), refused.value.errors


def test_audit_details_are_masked_like_airflows_own_audit_log() -> None:
    details = {"args": "db_password=RunPw-1xYb region=US", "params": {"api_token": "Tok-8yTr", "region": "US"}}
    assert audit.masked(details) == {"args": "db_password=*** region=US",
                                     "params": {"api_token": "***", "region": "US"}}
    assert {"RunPw-1xYb", "Tok-8yTr"} <= set(audit.secrets_of(details))


def test_an_audited_refusal_does_not_echo_the_secret_to_the_caller() -> None:
    with pytest.raises(Invalid) as refused, audit.audited("op", "run", None, args="api_secret_id=BadSecret-77"):
        raise Invalid("argument `api_secret_id`: `BadSecret-77` is not a valid integer")
    assert str(refused.value) == "argument `api_secret_id`: `***` is not a valid integer"
    assert refused.value.errors == ["argument `api_secret_id`: `***` is not a valid integer"]

