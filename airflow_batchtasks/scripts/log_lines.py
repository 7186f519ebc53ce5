"""Turn a child's output (a script's pipes, a remote command's channel) into task-log lines.

Output arrives in arbitrary chunks; logging chunks would split lines and glue
others together, so bytes are buffered until a newline. Every line passes
through :class:`Redactor` before it is logged: Airflow's secrets masker does
the same in a real run, but it is not active everywhere (``dag.test()``,
custom logging setups), and a secret we handed to a script ourselves must
never be printed back by it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator

REDACTED = "***"
# Lines longer than this are cut in the log (the child's output itself is not changed).
MAX_LINE = 10_000


class LineSplitter:
    """Feed bytes in any chunking, get back complete decoded lines (without their newline)."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self._buffer = b""
        self._encoding = encoding

    def feed(self, chunk: bytes) -> Iterator[str]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            yield self._decode(raw)

    def flush(self) -> Iterator[str]:
        """The last line when the output did not end with a newline."""
        if self._buffer:
            raw, self._buffer = self._buffer, b""
            yield self._decode(raw)

    def _decode(self, raw: bytes) -> str:
        return raw.rstrip(b"\r").decode(self._encoding, "replace")


class Redactor:
    """Replace known secret values in text; longest first so a secret inside another is not half-shown."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        # Very short values (``1``, ``a``) would shred every line without protecting anything.
        self._secrets.extend(s for s in secrets if isinstance(s, str) and len(s) >= 3)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


class LineLogger:
    """Log each complete line of a stream through ``emit`` after redaction; keep the last lines for errors.

    :param emit: called with one redacted line (e.g. ``log.info``)
    :param redact: the :class:`Redactor` of this run
    :param keep: how many of the last lines to remember (for the failure message)
    """

    def __init__(self, emit: Callable[[str], None], redact: Redactor, keep: int = 20) -> None:
        self._emit = emit
        self._redact = redact
        self._splitter = LineSplitter()
        self.tail: deque[str] = deque(maxlen=keep)
        self.last_non_empty: str | None = None
        self.lines = 0  # lines seen so far: a script's progress (``operators.progress``)

    def feed(self, chunk: bytes) -> None:
        for line in self._splitter.feed(chunk):
            self._line(line)

    def close(self) -> None:
        for line in self._splitter.flush():
            self._line(line)

    def _line(self, line: str) -> None:
        self.lines += 1
        if line.strip():
            self.last_non_empty = line
        shown = self._redact(line)
        if len(shown) > MAX_LINE:
            shown = shown[:MAX_LINE] + f"... [{len(shown) - MAX_LINE} more characters]"
        self.tail.append(shown)
        self._emit(shown)
