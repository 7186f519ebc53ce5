"""Run arguments in a shell command line become one quoted word each, never shell syntax.

``command: "export.sh {{ params.day }}"`` with a run argument ``x; rm -rf ~``
must run ``export.sh`` with that text as its one argument. The command is
rendered with every run argument as a marker (``arguments.binding``); this module then
reads the rendered line the way a POSIX shell tokenizes it and replaces each
marker by the value quoted for the place it is in:

- outside quotes: ``shlex.quote(value)`` (``--day={{ params.day }}`` stays one word);
- inside single quotes the author wrote (``'{{ params.x }}'``, ``'from {{ params.x }} on'``):
  the quote is closed, the quoted value inserted and the quote reopened, so the value is still
  literal text of that one word (for ``'{{ params.x }}'`` the author's quotes are simply dropped);
- inside double quotes, the same with ``"``: ``$``, backquotes and ``\\`` in the value stay text;
- inside a ``#`` comment: the value without line breaks (a newline would end the comment).

Where quoting cannot make a value inert, the argument is refused with an error naming it:
inside backquotes, ``$'...'``, ``${...}``, arithmetic (``$((...))``, ``((...))``, ``$[...]``),
``[[ ... ]]`` (bash evaluates ``-eq`` operands as arithmetic, which runs ``a[$(cmd)]``), a
``$(...)`` inside double quotes, and anywhere after a here-document (``<<``). A list becomes one
word per item; ``None`` an empty word.

The author opts out explicitly with ``{{ params.x | unquoted }}``: the text is pasted as it is
(for a trusted argument that holds several options on purpose). Quoting protects the remote
shell's own parsing only: a command that runs its arguments as code (``eval``, ``sh -c``,
``ssh host ...``, ``sudo sh -c``) needs its own care.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from airflow_batchtasks.arguments.binding import MARKER_RE, ArgBinder, ArgumentTemplateError, as_text

# Characters after which a `#` starts a comment and `((`/`[[` a compound command.
_WORD_BREAK = " \t\n;&|()<>"
# What a marker may be inside: plain shell (top level or `$(...)`), optionally in one quote or comment.
_OPEN = {"N", "CS"}
_QUOTES = {"SQ", "DQ", "CMT"}
_REFUSED = {
    "BQ": "inside backquotes (use $(...) instead)",
    "DSQ": "inside $'...' quotes",
    "PE": "inside ${...}",
    "AR": "inside arithmetic ($((...)), ((...)), $[...])",
    "DB": "inside [[ ... ]] (bash evaluates its -eq/-lt operands as code: use [ ... ] or compare in a variable)",
}


class ShellBinder(ArgBinder):
    """Renders run arguments as markers, then makes each one a quoted shell word."""

    def __init__(self) -> None:
        super().__init__("quoted as one shell word each (write `| unquoted` to paste one as it is)")

    def finish(self, rendered: str) -> str:
        """The command line with every marker replaced by its quoted value."""
        self.check_leftovers(MARKER_RE.sub("", rendered))
        return _Scanner(rendered, self).run()


def _words(value: Any) -> str:
    """Unquoted position: one quoted word per list item, else one word."""
    if isinstance(value, (list, tuple)):
        return " ".join(shlex.quote(as_text(v)) for v in value) if value else "''"
    return shlex.quote(as_text(value))


class _Scanner:
    """A single pass over the rendered line that tracks the POSIX shell's quoting state."""

    def __init__(self, text: str, binder: ShellBinder) -> None:
        self.text = text
        self.binder = binder
        self.out: list[str] = []
        self.stack: list[list[Any]] = [["N", 0, ""]]  # [state, depth of `(` inside it, what closes it]
        self.heredoc = False
        self.i = 0

    def run(self) -> str:
        text = self.text
        while self.i < len(text):
            match = MARKER_RE.match(text, self.i)
            if match:
                self._marker(match)
                continue
            self._step()
        return "".join(self.out)

    # -- markers ---------------------------------------------------------------------------------

    def _marker(self, match: re.Match[str]) -> None:
        name, value = self.binder.name_of(match), self.binder.value_of(match)
        self.i = match.end()
        states = [entry[0] for entry in self.stack]
        where = next((_REFUSED[s] for s in states if s in _REFUSED), None)
        if where is None and self.heredoc:
            where = "after a here-document (<<): pass it as an argument or through a here-string (<<<)"
        if where is None and any(s == "CS" for s in states) and any(s in ("DQ", "SQ") for s in states[:-1]):
            where = "inside a $(...) that is itself inside quotes"
        if where is None and not (set(states[:-1]) <= _OPEN and (states[-1] in _OPEN or states[-1] in _QUOTES)):
            where = "in this position"
        if where is None and self.out and self.out[-1] == "$":  # `$'...'` would read backslash escapes
            where = "right after a `$`"
        if where:
            raise ArgumentTemplateError(
                f"run argument `{name}` cannot be quoted safely {where}; "
                "move it, or write `| unquoted` if its text is trusted"
            )
        state = states[-1]
        if state in _OPEN:
            self.out.append(_words(value))
        elif state == "CMT":
            self.out.append(shlex.quote(as_text(value).replace("\n", " ").replace("\r", " ")))
        else:
            quote = "'" if state == "SQ" else '"'
            word = shlex.quote(as_text(value))
            # `'{{ x }}'` exactly: drop the author's now useless quotes instead of adding empty ones
            if self.out and self.out[-1] == quote and self.text.startswith(quote, self.i):
                self.out[-1] = word
                self.i += 1
                self.stack.pop()
            else:
                self.out.append(quote + word + quote)

    # -- the author's text -------------------------------------------------------------------------

    def _escape(self) -> None:
        """A backslash and the character it escapes; never the start of a run argument (it would be cut)."""
        match = MARKER_RE.match(self.text, self.i + 1)
        if match:
            raise ArgumentTemplateError(
                f"run argument `{self.binder.name_of(match)}` cannot be quoted safely right after a backslash; "
                "move it, or write `| unquoted` if its text is trusted"
            )
        self._emit(2)

    def _emit(self, count: int) -> None:
        self.out.append(self.text[self.i:self.i + count])
        self.i += count

    def _at(self, token: str) -> bool:
        return self.text.startswith(token, self.i)

    def _word_start(self) -> bool:
        return self.i == 0 or self.text[self.i - 1] in _WORD_BREAK

    def _step(self) -> None:
        state = self.stack[-1][0]
        char = self.text[self.i]
        if state == "SQ":
            if char == "'":
                self.stack.pop()
            self._emit(1)
        elif state == "CMT":
            if char == "\n":
                self.stack.pop()
            self._emit(1)
        elif state in ("DSQ", "BQ"):
            if char == "\\":
                self._escape()
                return
            if char == ("'" if state == "DSQ" else "`"):
                self.stack.pop()
            self._emit(1)
        elif state == "DQ":
            if char == "\\":
                self._escape()
            elif char == '"':
                self.stack.pop()
                self._emit(1)
            elif not self._expansion():
                self._emit(1)
        else:
            self._plain(state, char)

    def _expansion(self) -> bool:
        """``$((``, ``$[``, ``$(``, ``${``, backquote: push their state (plain text and double quotes)."""
        for token, state, closer in (
            ("$((", "AR", "))"), ("$[", "AR", "]"), ("$(", "CS", ")"), ("${", "PE", "}"), ("`", "BQ", "`"),
        ):
            if self._at(token):
                self.stack.append([state, 0, closer])
                self._emit(len(token))
                return True
        return False

    def _plain(self, state: str, char: str) -> None:
        """Unquoted text: top level, ``$(...)``, ``${...}``, arithmetic or ``[[ ... ]]``."""
        top = self.stack[-1]
        if char == "\\":
            self._escape()
        elif top[1] == 0 and state != "N" and self._at(top[2]):
            self.stack.pop()  # the `)`, `))`, `]`, `}` or `]]` that closes it
            self._emit(len(top[2]))
        elif char == "'" and state != "AR":
            self._push("SQ", "'", 1)
        elif self._at("$'"):
            self._push("DSQ", "'", 2)
        elif char == '"':
            self._push("DQ", '"', 1)
        elif self._expansion():
            pass
        elif char == "(" and state != "N" and not self._at("(("):
            top[1] += 1
            self._emit(1)
        elif char == ")" and top[1] > 0:
            top[1] -= 1
            self._emit(1)
        elif char == "#" and self._word_start() and state in _OPEN:
            self._push("CMT", "\n", 1)
        elif self._at("((") and self._word_start():
            self._push("AR", "))", 2)
        elif self._at("[[") and self._word_start():
            self._push("DB", "]]", 2)
        elif self._at("<<<"):
            self._emit(3)
        elif self._at("<<"):
            self.heredoc = True
            self._emit(2)
        else:
            self._emit(1)

    def _push(self, state: str, closer: str, length: int) -> None:
        self.stack.append([state, 0, closer])
        self._emit(length)
