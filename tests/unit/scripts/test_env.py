"""The environment a processing script runs with: names, values, nothing of Airflow's."""

from __future__ import annotations

import os

import pytest

from airflow_batchtasks.scripts.env import as_text, env_name, inherited_env, script_args, script_argv


def test_env_names_and_values() -> None:
    assert env_name("my-param.x") == "MY_PARAM_X"
    assert env_name("vendor_sftp") == "VENDOR_SFTP"
    assert (as_text("EU"), as_text(3), as_text(None), as_text([1, "a"])) == ("EU", "3", "", '[1, "a"]')


def test_scripts_inherit_no_airflow_setting_or_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://u:pw@h/db")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")

    env = inherited_env("/venv/bin")

    assert not [k for k in env if k.startswith("AIRFLOW") or k.startswith("AWS")]
    assert env["PATH"].split(os.pathsep)[0] == "/venv/bin"
    assert env["LC_ALL"] == "C.UTF-8"


def test_positional_arguments_follow_the_declared_params() -> None:
    params = {"days": 5, "region": "US", "note": None, "ids": [1, 2], "dry": False}
    args = script_args(params, ["region", "days", "note", "ids", "dry", "missing"])
    assert args == ["US", "5", "", "[1, 2]", "false", ""]
    # declared params: the first input file (or "") then the values; none declared: the input files as before
    assert script_argv(["/w/a.csv", "/w/b.csv"], args[:2], ["region", "days"]) == ["/w/a.csv", "US", "5"]
    assert script_argv([], args[:2], ["region", "days"]) == ["", "US", "5"]
    assert script_argv(["/w/a.csv", "/w/b.csv"], [], []) == ["/w/a.csv", "/w/b.csv"]
    # a secret never on the command line, which every user of the worker can read (ps)
    assert script_argv([], ["US", "s3cret"], ["region", "db_password"]) == ["", "US", ""]
