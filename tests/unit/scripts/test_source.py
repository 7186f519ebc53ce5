"""Where a processing script's code comes from, with real files: the definitions folder may not be left."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from airflow_batchtasks.scripts.source import ScriptSourceError, _unzip, materialize


@pytest.fixture
def defs(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    (folder / "scripts" / "pkg").mkdir(parents=True)
    (folder / "scripts" / "one.py").write_text("print(1)\n")
    (folder / "scripts" / "pkg" / "run.py").write_text("import helper\n")
    (folder / "scripts" / "pkg" / "helper.py").write_text("X = 1\n")
    (tmp_path / "outside.py").write_text("print('not yours')\n")
    return folder


def test_a_script_file_is_copied_and_run_from_the_copy(tmp_path: Path, defs: Path) -> None:
    entry = materialize(tmp_path / "run", definitions_folder=defs, script="scripts/one.py")

    assert entry == tmp_path / "run" / "one.py"
    assert entry.read_text() == "print(1)\n"


def test_a_package_folder_runs_its_entrypoint(tmp_path: Path, defs: Path) -> None:
    entry = materialize(tmp_path / "run", definitions_folder=defs, script="scripts/pkg", entrypoint="run.py")

    assert entry == (tmp_path / "run" / "run.py").resolve()
    assert (tmp_path / "run" / "helper.py").read_text() == "X = 1\n"


@pytest.mark.parametrize(
    ("script", "entrypoint", "message"),
    [
        ("../outside.py", None, "leaves"),
        ("/etc/passwd", None, "must be a relative path"),
        ("scripts/missing.py", None, "not found"),
        ("scripts/pkg", "../one.py", "leaves"),
        ("scripts/pkg", "main.py", "is not a file of the package"),
        ("scripts/one.py", "main.py", "is a file, give its folder"),
    ],
)
def test_refused_script_paths(tmp_path: Path, defs: Path, script: str, entrypoint: str | None, message: str) -> None:
    with pytest.raises(ScriptSourceError, match=message):
        materialize(tmp_path / "run", definitions_folder=defs, script=script, entrypoint=entrypoint)


def test_a_symlink_out_of_the_definitions_folder_is_refused(tmp_path: Path, defs: Path) -> None:
    (defs / "scripts" / "pkg" / "secrets.txt").symlink_to(tmp_path / "outside.py")

    with pytest.raises(ScriptSourceError, match="links outside"):
        materialize(tmp_path / "run", definitions_folder=defs, script="scripts/pkg", entrypoint="run.py")


def test_inline_code_becomes_main_py(tmp_path: Path, defs: Path) -> None:
    entry = materialize(tmp_path / "run", definitions_folder=defs, inline="print('hi')\n")

    assert entry.name == "main.py" and entry.read_text() == "print('hi')\n"


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_a_zipped_package_is_unpacked_but_a_member_leaving_it_is_refused(tmp_path: Path) -> None:
    _unzip(_zip({"main.py": "import lib\n", "lib/__init__.py": ""}), tmp_path / "ok", "url x")
    assert (tmp_path / "ok" / "lib" / "__init__.py").exists()

    with pytest.raises(ScriptSourceError, match="leaves"):
        _unzip(_zip({"main.py": "", "../../evil.py": "boom"}), tmp_path / "bad", "url x")
    assert not (tmp_path / "evil.py").exists()
    with pytest.raises(ScriptSourceError, match="must hold a zip"):
        _unzip(b"print(1)", tmp_path / "notzip", "url x")


@pytest.mark.parametrize("entrypoint", ["../../escaped.py", "/tmp/escaped.py", "sub/../../escaped.py", "."])
def test_an_inline_script_entrypoint_stays_in_the_script_folder(
    tmp_path: Path, defs: Path, entrypoint: str
) -> None:
    with pytest.raises(ScriptSourceError, match="processing.entrypoint"):
        materialize(tmp_path / "box" / "run", definitions_folder=defs, inline="print(1)\n", entrypoint=entrypoint)
    assert not (tmp_path / "escaped.py").exists()
    assert not (tmp_path / "box" / "escaped.py").exists()


def test_an_inline_script_may_name_a_file_in_a_subfolder(tmp_path: Path, defs: Path) -> None:
    entry = materialize(tmp_path / "run", definitions_folder=defs, inline="print(1)\n", entrypoint="tools/job.py")

    assert entry == (tmp_path / "run" / "tools" / "job.py").resolve()
    assert entry.read_text() == "print(1)\n"
