"""Pure logic of the processing/ssh/http steps: log lines, redaction, returned paths, PARTIAL, env names."""

from __future__ import annotations

import os

import pytest

from airflow_batchtasks.operators.http import partial_reason
from airflow_batchtasks.operators.log_lines import LineLogger, LineSplitter, Redactor
from airflow_batchtasks.operators.python_script import returned_paths
from airflow_batchtasks.operators.script_env import as_text, env_name, inherited_env
from airflow_batchtasks.operators.venvs import env_key, normalize_requirements


def test_line_splitter_rebuilds_lines_across_chunks() -> None:
    splitter = LineSplitter()
    got = list(splitter.feed(b"first ha")) + list(splitter.feed(b"lf\r\nsecond\n\nthi")) + list(splitter.flush())

    assert got == ["first half", "second", "", "thi"]


def test_line_splitter_keeps_multibyte_characters_split_between_chunks() -> None:
    data = "café\n".encode()
    splitter = LineSplitter()

    assert list(splitter.feed(data[:4])) + list(splitter.feed(data[4:])) == ["café"]


def test_redactor_hides_longest_secret_first_and_ignores_tiny_values() -> None:
    redact = Redactor(["abc123", "abc123-full-uri", "x"])

    assert redact("uri=abc123-full-uri pw=abc123 x") == "uri=*** pw=*** x"


def test_line_logger_redacts_cuts_long_lines_and_remembers_the_last_line() -> None:
    shown: list[str] = []
    lines = LineLogger(shown.append, Redactor(["s3cret"]), keep=2)
    lines.feed(b"one s3cret\n" + b"y" * 10_050 + b"\n['/w/a.csv']\n  \n")
    lines.close()

    assert shown[0] == "one ***"
    assert shown[1].endswith("... [50 more characters]")
    assert lines.last_non_empty == "['/w/a.csv']"
    assert list(lines.tail) == ["['/w/a.csv']", "  "]


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("['/w/test-0.txt', '/w/test-1.txt']", ["/w/test-0.txt", "/w/test-1.txt"]),
        ('["/w/a b.csv"]', ["/w/a b.csv"]),
        ("  []  ", []),
        ("done", None),
        ("[1, 2]", None),
        ("[PosixPath('/w/a')]", None),
        ("[unclosed", None),
        (None, None),
    ],
)
def test_returned_paths(line: str | None, paths: list[str] | None) -> None:
    assert returned_paths(line) == paths


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (207, b"", "the API answered 207 Multi-Status"),
        (200, b'{"status": "partial", "failed": 2}', 'the API answered "status": "PARTIAL"'),
        (200, b'{"status": "OK"}', None),
        (200, b'[{"status": "PARTIAL"}]', None),
        (200, b"not json", None),
        (202, b"", None),
    ],
)
def test_partial_reason(status: int, body: bytes, reason: str | None) -> None:
    assert partial_reason(status, body) == reason


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


def test_requirements_are_normalized_and_options_refused() -> None:
    assert normalize_requirements([" tabulate ", "pandas>=2", "tabulate", ""]) == ["pandas>=2", "tabulate"]
    assert env_key(["a", "b"]) == env_key(normalize_requirements(["b", "a", "a"]))
    assert env_key(["a"]) != env_key(["a==1"])
    for bad in ("--index-url=http://evil.example/simple", "-r /etc/passwd", "-e ."):
        with pytest.raises(ValueError, match="options are not allowed"):
            normalize_requirements(["pandas", bad])
