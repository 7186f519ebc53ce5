"""Run arguments in shell command lines: rendered through Airflow's own Jinja sandbox, run by real shells.

Every rendered line is executed by ``bash`` and ``dash`` (the usual login shells of a remote host):
the program must receive the hostile value as exactly one argument, and nothing of it may run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.definitions._internal.templater import SandboxedEnvironment

from airflow_batchtasks.arguments.binding import ArgumentTemplateError
from airflow_batchtasks.arguments.shell_words import ShellBinder

SHELLS = [shell for shell in ("bash", "dash") if shutil.which(shell)]

HOSTILE = [
    "x; touch {pwned}",
    "$(touch {pwned})",
    "`touch {pwned}`",
    "a\ntouch {pwned}",
    "'; touch {pwned}; '",
    "\"; touch {pwned}; \"",
    "\\'\\\"; touch {pwned} #",
    "${{IFS}}$HOME ~ * -n",
    "",
]


class _Run:
    def __init__(self, conf: dict[str, Any]) -> None:
        self.conf = conf
        self.run_id = "manual__1"


def render(template: str, params: dict[str, Any]) -> str:
    binder = ShellBinder()
    env = binder.environment(SandboxedEnvironment())
    text = env.from_string(template).render(**binder.context({"params": params, "dag_run": _Run(params)}))
    return binder.finish(text)


def args_received(shell: str, command: str) -> list[str]:
    """The arguments ``printf`` got (each printed between NUL bytes), after ``shell`` parsed the line."""
    done = subprocess.run([shell, "-c", command], capture_output=True, check=True)
    return done.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("template", "around"),
    [
        ("printf '%s\\0' {x}", "{}"),
        ("printf '%s\\0' '{x}'", "{}"),
        ("printf '%s\\0' \"{x}\"", "{}"),
        ("printf '%s\\0' 'at {x} end'", "at {} end"),
        ("printf '%s\\0' \"at {x} end\"", "at {} end"),
        ("printf '%s\\0' --v={x}", "--v={}"),
        ("printf '%s\\0' {{{{ params.x.value }}}}", "{}"),
        ("printf '%s\\0' {{{{ dag_run.conf['x'] }}}}", "{}"),
        ("v=$(printf '%s.' {x}); printf '%s\\0' \"${{v%.}}\"", "{}"),
    ],
)
@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_value_is_one_literal_argument(
    tmp_path: Path, shell: str, template: str, around: str, hostile: str
) -> None:
    pwned = tmp_path / "pwned"
    value = hostile.format(pwned=pwned)
    command = render(template.format(x="{{ params.x }}"), {"x": value})

    assert args_received(shell, command) == [around.format(value)], command
    assert not pwned.exists(), command


@pytest.mark.parametrize(
    ("template", "where"),
    [
        ("echo `echo {{ params.x }}`", "inside backquotes"),
        ("echo $'a{{ params.x }}'", "inside $'...' quotes"),
        ("echo ${X:-{{ params.x }}}", "inside ${...}"),
        ("echo $(( {{ params.x }} + 1 ))", "inside arithmetic"),
        ("(( n = {{ params.x }} ))", "inside arithmetic"),
        ("[[ {{ params.x }} -eq 1 ]] && echo", "inside [[ ... ]]"),
        ('echo "$(echo {{ params.x }})"', "inside a $(...) that is itself inside quotes"),
        ("cat <<EOF\n{{ params.x }}\nEOF", "after a here-document"),
        ("echo ${{ params.x }}", "right after a `$`"),
        ("echo \\{{ params.x }}", "right after a backslash"),
        ('echo "a\\{{ params.x }}"', "right after a backslash"),
    ],
)
def test_places_where_quoting_cannot_help_are_refused_with_the_argument_name(template: str, where: str) -> None:
    message = f"run argument `params.x` cannot be quoted safely {where}"
    with pytest.raises(ArgumentTemplateError, match=re.escape(message)):
        render(template, {"x": "a"})


def test_a_comment_keeps_the_value_on_its_line() -> None:
    command = render("printf '%s\\0' ok # note {{ params.x }}\nprintf '%s\\0' next", {"x": "a\ntouch /x"})

    assert args_received("sh", command) == ["ok", "next"]


def test_lists_are_one_word_per_item_and_unquoted_is_the_opt_out() -> None:
    command = render("printf '%s\\0' {{ params.files }} {{ params.opts | unquoted }}",
                     {"files": ["a b", "c;d"], "opts": "-1 -2"})

    assert args_received("sh", command) == ["a b", "c;d", "-1", "-2"]


def test_a_transformed_argument_is_refused() -> None:
    with pytest.raises(ArgumentTemplateError, match=r"run argument `params.x` goes through `\| upper`"):
        render("echo {{ params.x | upper }}", {"x": "a"})


def test_the_authors_own_text_is_untouched() -> None:
    assert render("echo 'it''s' \"$HOME\" {{ params.x }} # {{ params.x }}", {"x": "v"}) == (
        "echo 'it''s' \"$HOME\" v # v"
    )
