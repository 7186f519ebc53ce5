"""``source.type: ssh`` against the real sshd of the test session: the command's output is the run's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection
from tests.servers import SshServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch, sshd_server: SshServer) -> str:
    set_connection(monkeypatch, "box", **sshd_server.connection("ssh"))
    return "box"


def _task(name: str, source: str) -> str:
    return f"kind: task\nname: {name}\nschedule: none\nparams: {{who: {{default: world}}}}\nsource: {source}\n"


def test_command_output_streams_into_the_log_line_by_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    marker = sshd_server.root / "ran.txt"
    # printf without a newline, a pause, then the rest: one log line, not two chunks
    command = (
        f"echo hello-{{{{ params.who }}}}-{{{{ ds_nodash }}}}; printf 'first half '; sleep 1; echo 'second half'; "
        f"echo oops >&2; echo done > {marker}"
    )
    source = f"{{type: ssh, conn_id: {box}, command: \"{command}\"}}"
    result = run_definition(tmp_path, monkeypatch, _task("remote_hello", source), "remote_hello", conf={"who": "team"})
    log = capfd.readouterr().out

    assert result.state == "success", result.steps
    assert list(result.steps) == ["extract"], "no file: no package/deliver steps"
    assert marker.read_text() == "done\n", "the command really ran on the host"
    assert "hello-team-" in log
    assert "first half second half" in log
    assert "oops" in log
    assert "The remote command exited with code 0" in log


def test_a_non_zero_exit_fails_the_task_with_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, capfd: pytest.CaptureFixture[str]
) -> None:
    result = run_definition(tmp_path, monkeypatch, _task(
        "remote_fail", f"{{type: ssh, conn_id: {box}, command: 'echo working; echo disk full >&2; exit 7'}}"
    ), "remote_fail")
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps == {"extract": "failed"}
    assert "working" in log
    assert "the remote command exited with code 7; end of its stderr:\ndisk full" in log


def test_a_quiet_long_command_is_not_cut_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, capfd: pytest.CaptureFixture[str]
) -> None:
    # SSHHook.exec_ssh_client_command gives up after 10 silent seconds; a batch job may be quiet for longer.
    result = run_definition(tmp_path, monkeypatch, _task(
        "remote_quiet", f"{{type: ssh, conn_id: {box}, command: 'sleep 11; echo finally'}}"
    ), "remote_quiet")
    assert result.state == "success", result.steps
    assert "finally" in capfd.readouterr().out


def test_command_from_a_file_in_the_definitions_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    scripts = tmp_path / "definitions" / "commands"
    scripts.mkdir(parents=True)
    target = sshd_server.root / "from_file.txt"
    (scripts / "cleanup.sh").write_text(
        "set -e\n"
        "echo 'cleaning for {{ params.who }}'\n"
        f"echo cleaned > {target}\n"
    )
    result = run_definition(tmp_path, monkeypatch, _task(
        "remote_script", f"{{type: ssh, conn_id: {box}, command_from: {{type: local, path: commands/cleanup.sh}}}}"
    ), "remote_script")
    assert result.state == "success", result.steps
    assert target.read_text() == "cleaned\n"
    assert "cleaning for world" in capfd.readouterr().out
