"""The one masking module every surface uses: Airflow's key-name rules over data, YAML text, run arguments.

Pure logic (Airflow's configured masker is read, nothing is mocked); the surfaces themselves are
tested against a real api-server in ``tests/e2e/test_secrets_masked.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.masking import MASK

TEXT = """\
kind: task
name: vendor_call
description: Deactivates users   # shown
x-shared: &tok "Bearer SharedTok-4411"
params:
  db_password: {default: DefaultPw-9f3k, description: Database password, type: string}
  api_token:
    default: tok-default-77   # comment kept
    description: Token of the vendor API
  region: {default: EU, enum: [EU, US]}
source:
  type: http
  conn_id: vendor
  endpoint: /users?api_key=QueryKey-19&page=2
  headers:
    Authorization: "Bearer HdrTok-7Qm2"   # the vendor's token
    X-Api-Key: ApiKey-55zz
    X-Trace: trace-visible
    Proxy-Authorization: *tok
  json:
    user: bob
    credentials: {password: JsonPw-3kd9, realm: realm-visible}
    deep: {a: {b: {c: {d: {e: {f: {g: {token: 123456}}}}}}}}
    note: |
      two
      lines
  data: "postgres://etl:UrlPw-0042@db:5432/x"
"""
SECRETS = ("SharedTok-4411", "DefaultPw-9f3k", "tok-default-77", "QueryKey-19", "HdrTok-7Qm2", "ApiKey-55zz",
           "JsonPw-3kd9", "123456", "UrlPw-0042")


@pytest.fixture
def data() -> dict:
    return yaml.safe_load(TEXT)


@pytest.mark.parametrize("key", ["password", "db_password", "Authorization", "X-Api-Key", "api-token",
                                 "PRIVATE_KEY", "client_secret", "apikey"])
def test_airflow_sensitive_names_are_hidden(key: str) -> None:
    assert masking.is_sensitive(key)


@pytest.mark.parametrize("key", ["region", "user", "X-Trace", "description", "conn_id", 5, None])
def test_other_names_are_not(key: object) -> None:
    assert not masking.is_sensitive(key)


def test_the_sensitive_names_are_airflows_plus_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = masking.sensitive_fields()
    assert {"password", "token", "authorization", "api_key", "secret"} <= fields
    assert not masking.is_sensitive("vendor_pin")
    monkeypatch.setattr(masking._masker(), "sensitive_variables_fields", [*fields, "pin"])
    assert masking.is_sensitive("vendor_pin")


def test_switching_airflows_hiding_off_shows_values(monkeypatch: pytest.MonkeyPatch) -> None:
    masker = masking._masker()
    if hasattr(masker, "hide_sensitive_var_conn_fields"):  # Airflow 3.2+: the masker holds the switch
        monkeypatch.setattr(masker, "hide_sensitive_var_conn_fields", False)
    else:  # Airflow 3.1: only the config has it
        monkeypatch.setenv("AIRFLOW__CORE__HIDE_SENSITIVE_VAR_CONN_FIELDS", "False")
    assert masking.mask_data({"password": "x1234"}) == {"password": "x1234"}


def test_definition_data_hides_every_secret_and_keeps_the_rest(data: dict) -> None:
    shown = masking.mask_definition(data)
    text = repr(shown)
    assert [s for s in SECRETS if s in text] == []
    headers = shown["source"]["headers"]
    assert headers == {"Authorization": MASK, "X-Api-Key": MASK, "X-Trace": "trace-visible",
                       "Proxy-Authorization": MASK}
    assert shown["x-shared"] == MASK  # the anchor a header took its token from
    assert shown["source"]["json"]["credentials"] == {"password": MASK, "realm": "realm-visible"}
    assert shown["source"]["json"]["deep"]["a"]["b"]["c"]["d"]["e"]["f"]["g"] == {"token": MASK}  # any depth
    assert shown["source"]["endpoint"] == "/users?api_key=***&page=2"
    assert shown["source"]["data"] == "postgres://etl:***@db:5432/x"
    # a sensitive run argument hides its values, not what describes it
    assert shown["params"]["db_password"] == {"default": MASK, "description": "Database password", "type": "string"}
    assert shown["params"]["region"] == {"default": "EU", "enum": ["EU", "US"]}
    assert shown["description"] == "Deactivates users"


def test_plain_data_masks_whole_values_under_sensitive_keys() -> None:
    conf = {"db_password": "RunPw-1", "region": "US", "limit": 5, "api_token": 12345, "flag": True,
            "nested": [{"secret": ["a1234", "b1234"]}], "empty_password": ""}
    assert masking.mask_data(conf) == {"db_password": MASK, "region": "US", "limit": 5, "api_token": MASK,
                                       "flag": True, "nested": [{"secret": [MASK, MASK]}], "empty_password": ""}


def test_yaml_text_keeps_comments_and_means_the_masked_data(data: dict) -> None:
    shown = masking.mask_text(TEXT, data)
    assert [s for s in SECRETS if s in shown] == []
    assert "# the vendor's token" in shown and "# comment kept" in shown and "# shown" in shown
    assert "note: |\n      two\n      lines\n" in shown  # untouched scalars keep their style
    assert yaml.safe_load(shown) == masking.mask_definition(data)


def test_text_without_secrets_is_returned_as_is() -> None:
    text = "kind: task   # hi\nname: t\nparams: {region: EU}\n"
    assert masking.mask_text(text) == text


def test_text_that_cannot_be_rewritten_in_place_is_dumped_masked() -> None:
    text = "kind: task\nname: t\nheaders: {Authorization: !!binary aGVsbG8gd29ybGQ=}\n"
    shown = masking.mask_text(text)
    assert yaml.safe_load(shown) == {"kind": "task", "name": "t", "headers": {"Authorization": MASK}}


def test_an_alias_bomb_is_walked_once_per_node() -> None:
    levels = ["a0: &a0 {token: SecretTok-9, x: y}"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 4)]
    text = "\n".join(levels) + "\n"
    construct = yaml.SafeLoader("").construct_object
    scalars = list(masking._scalars(masking._first_node(text), "walk", True, (), set(), construct))
    # 3 levels of 9 aliases expand to 729 mappings (within the parse budget); the walk sees the mapping's two values
    assert [(node.value, mode) for node, mode, _path in scalars] == [("SecretTok-9", "all"), ("y", "walk")]
    assert masking._rewrite(text, lambda value, mode, _p: masking._mask_scalar(value, mode)).count(MASK) == 1


def test_a_masked_definition_written_back_keeps_the_stored_secrets(data: dict) -> None:
    shown = masking.mask_text(TEXT, data)
    edited = shown.replace("Deactivates users", "Deactivates users (v2)").replace("trace-visible", "trace-2")
    written = masking.restore_text(edited, data)
    expected = {**data, "description": "Deactivates users (v2)"}
    expected["source"] = {**data["source"], "headers": {**data["source"]["headers"], "X-Trace": "trace-2"}}
    assert yaml.safe_load(written) == expected
    assert "# the vendor's token" in written and MASK not in written


def test_a_new_value_or_a_mask_where_nothing_was_stored_is_kept(data: dict) -> None:
    new = masking.mask_definition(data)
    new["source"]["headers"]["Authorization"] = "Bearer NewTok-1"  # a changed secret wins
    new["source"]["headers"]["X-New-Token"] = MASK  # nothing stored there: kept as given
    restored = masking.restore(new, data)
    assert restored["source"]["headers"]["Authorization"] == "Bearer NewTok-1"
    assert restored["source"]["headers"]["X-New-Token"] == MASK
    assert restored["source"]["headers"]["X-Api-Key"] == "ApiKey-55zz"
    assert restored["params"]["db_password"]["default"] == "DefaultPw-9f3k"


def test_run_argument_text_is_masked_by_name() -> None:
    assert masking.mask_args("db_password=RunPw-1 region=US") == "db_password=*** region=US"
    assert masking.mask_args("note='two words' api_token=x") == "'note=two words' api_token=***"
    assert masking.mask_args("EU 2026-11-20") == "*** ***"  # positional: its name is unknown here
    assert masking.mask_args("region=EU db_password='unclosed") == MASK
    assert masking.mask_args("region='unclosed") == "region='unclosed"
    assert masking.args_secrets("x=1 api_token='unclosed") == ["x=1 api_token='unclosed"]
    assert masking.args_secrets("db_password=RunPw-1 region=US") == ["db_password=RunPw-1 region=US", "RunPw-1"]
    assert masking.args_secrets("region=US") == [] and masking.args_secrets("EU") == []


def test_messages_lose_the_secrets_they_quote() -> None:
    message = "argument `api_secret_id`: `BadSecret-77` is not a valid integer"
    assert masking.mask_message(message, ["BadSecret-77", "1"]) == (
        "argument `api_secret_id`: `***` is not a valid integer")
    assert masking.mask_message("cannot reach https://etl:Pw-12345@db/x") == "cannot reach https://etl:***@db/x"


def test_secrets_registered_for_task_logs() -> None:
    seen: list[str] = []
    masking.register_secrets({"headers": {"Authorization": "Bearer HdrTok-7Qm2", "X-Trace": "t"},
                              "json": {"password": "JsonPw-3kd9"}}, seen.append)
    assert sorted(seen) == ["Bearer HdrTok-7Qm2", "HdrTok-7Qm2", "JsonPw-3kd9"]


def test_server_paths_become_relative_to_the_definitions_folder(tmp_path: Path) -> None:
    root = tmp_path / "defs"
    (root / "sub").mkdir(parents=True)
    assert masking.relative_path(str(root / "sub" / "a.yaml"), root) == "sub/a.yaml"
    assert masking.relative_path("/elsewhere/b.yaml", root) == "b.yaml"
    message = f"`x` is already defined at {root}/sub/a.yaml:3; folder {root}"
    assert masking.hide_paths(message, root) == "`x` is already defined at sub/a.yaml:3; folder ."


def test_masking_parses_within_the_budget() -> None:
    """Text that never went through the loader (a PUT body, a file read back) cannot crash or stall masking."""
    deep = "a: " + "[" * 60_000 + "]" * 60_000 + "\n"
    assert masking.mask_text(deep) == MASK
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
    assert masking.mask_text(bomb) == MASK


def test_a_form_body_hides_its_secret_fields() -> None:
    assert masking.mask_string("client_secret=Form-Secret-1&grant_type=client_credentials") == (
        "client_secret=***&grant_type=client_credentials")
    assert masking.mask_string("a=b and more") == "a=b and more"


def test_run_arguments_named_like_secrets_are_hidden_from_task_logs() -> None:
    from types import SimpleNamespace

    from airflow.sdk._shared.secrets_masker import _secrets_masker  # the masker of the running task's log

    from airflow_batchtasks.operators.base import register_run_secrets

    register_run_secrets({"params": {"db_password": "RunArg-Secret-77", "region": "EU"},
                          "dag_run": SimpleNamespace(conf={"api_token": "Conf-Secret-88"})})
    logged = _secrets_masker().redact("bound RunArg-Secret-77 and Conf-Secret-88 for EU")
    assert logged == "bound *** and *** for EU"
