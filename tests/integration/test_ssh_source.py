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


# -- run arguments never become shell code ------------------------------------------------------------

#: What someone who may trigger a run could pass; ``{pwned}`` is a file the injected command would create.
HOSTILE = {
    "semicolon": "x; touch {pwned}",
    "subst": "$(touch {pwned})",
    "backticks": "`touch {pwned}`",
    "newline": "a\ntouch {pwned}",
    "single_quote": "'; touch {pwned}; '",
    "double_quote": "\"; touch {pwned}; \"",
    "dollars": "${{HOME}} $HOME \\ end",
}

#: How an author may write an argument into a command; ``{v}`` is where the expression goes, and what
#: the remote program must receive around the value.
FORMS = {
    "bare": ("{v}", "{value}"),
    "single_quoted": ("'{v}'", "{value}"),
    "double_quoted": ('"{v}"', "{value}"),
    "inside_single_quotes": ("'before {v} after'", "before {value} after"),
    "inside_double_quotes": ('"before {v} after $USER"', "before {value} after {user}"),
    "option_word": ("--value={v}", "--value={value}"),
}


def _hostile_task(name: str, command: str, params: dict[str, str]) -> str:
    import json

    declared = {key: {"default": "plain"} for key in params}
    return (f"kind: task\nname: {name}\nschedule: none\nparams: {json.dumps(declared)}\n"
            f"source: {json.dumps({'type': 'ssh', 'conn_id': 'box', 'command': command})}\n")


@pytest.mark.parametrize("form", list(FORMS))
def test_hostile_run_arguments_reach_the_command_as_one_literal_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer, form: str,
) -> None:
    pwned = sshd_server.root / f"pwned-{form}"
    values = {key: text.format(pwned=pwned) for key, text in HOSTILE.items()}
    out = sshd_server.root / f"received-{form}"
    out.mkdir()
    written, expected = FORMS[form]
    # printf '%s|' prints each argument it gets followed by `|`: one argument, one `|`
    command = "; ".join(
        f"printf '%s|' {written.format(v='{{ params.' + key + ' }}')} > {out}/{key}" for key in values
    )
    result = run_definition(tmp_path, monkeypatch, _hostile_task("remote_hostile", command, values),
                            "remote_hostile", conf=values)

    assert result.state == "success", result.steps
    assert not pwned.exists(), "a run argument ran as a shell command"
    for key, value in values.items():
        received = (out / key).read_text()
        assert received == expected.format(value=value, user=sshd_server.username) + "|", (key, received)


@pytest.mark.parametrize(
    "expression", ["{{ params.x.value }}", "{{ params['x'] }}", "{{ params.get('x') }}", "{{ dag_run.conf.x }}",
                   "{{ dag_run.conf['x'] | string }}", "{{ '' ~ params.x }}"],
)
def test_every_way_of_writing_an_argument_is_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer, expression: str,
) -> None:
    pwned = sshd_server.root / "pwned-ways"
    value = f"x; touch {pwned}"
    out = sshd_server.root / "ways.txt"
    result = run_definition(tmp_path, monkeypatch, _hostile_task(
        "remote_ways", f"printf '%s|' {expression} > {out}", {"x": value}), "remote_ways", conf={"x": value})

    assert result.state == "success", result.steps
    assert not pwned.exists()
    assert out.read_text() == value + "|"


def test_unquoted_is_the_explicit_opt_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer,
) -> None:
    out = sshd_server.root / "opt-out.txt"
    command = f"printf '[%s]' {{{{ params.opts }}}} {{{{ params.opts | unquoted }}}} > {out}"
    result = run_definition(tmp_path, monkeypatch, _hostile_task("remote_opt_out", command, {"opts": ""}),
                            "remote_opt_out", conf={"opts": "-a -l"})

    assert result.state == "success", result.steps
    assert out.read_text() == "[-a -l][-a][-l]", "quoted: one word; `| unquoted`: the shell splits it"


def test_an_argument_where_quoting_cannot_help_fails_the_step_without_running_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    pwned = sshd_server.root / "pwned-refused"
    ran = sshd_server.root / "refused-ran.txt"
    command = f"touch {ran}; echo `echo {{{{ params.x }}}}`"
    result = run_definition(tmp_path, monkeypatch, _hostile_task("remote_refused", command, {"x": ""}),
                            "remote_refused", conf={"x": f"\\`touch {pwned}\\`"})
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps == {"extract": "failed"}
    assert "source.command: run argument `params.x` cannot be quoted safely inside backquotes" in log
    assert not ran.exists(), "nothing of the command ran"
    assert not pwned.exists()


def test_a_run_argument_cannot_choose_where_command_from_is_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: str, sshd_server: SshServer,
    capfd: pytest.CaptureFixture[str],
) -> None:
    scripts = tmp_path / "definitions" / "commands"
    scripts.mkdir(parents=True)
    ran = sshd_server.root / "chosen-ran.txt"
    (scripts / "other.sh").write_text(f"touch {ran}\n")
    result = run_definition(tmp_path, monkeypatch, _hostile_task(
        "remote_chosen", "unused", {"script": ""},
    ).replace('"command": "unused"', '"command_from": {"type": "local", "path": "commands/{{ params.script }}"}'),
        "remote_chosen", conf={"script": "other.sh"})
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert "source.command_from: run argument `params.script` cannot choose where the command comes from" in log
    assert not ran.exists()
