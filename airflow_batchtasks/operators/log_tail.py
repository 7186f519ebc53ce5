"""The last lines a step logged, kept in memory while it runs, for its failure record.

A step's own ``self.log`` is a structlog logger whose lines never pass through
stdlib logging, so a structlog processor copies them; hooks and libraries log
through stdlib logging and are caught by a handler on the root logger. Both are
in place only while the step runs (a wrapper on the logger itself would make
every line's ``loc`` point at the wrapper). Lines are redacted with Airflow's
secrets masker when the tail is read: in a real run the task log is masked by
the supervisor process, so the raw lines in this process may still hold a
password.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

TAIL_LINES = 50
MAX_LINE = 2000


def redact(text: str) -> str:
    """Mask every secret Airflow knows in this process (connection passwords and extras, masked variables)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as airflow_redact
    except ImportError:  # Airflow 3.1 kept it elsewhere
        try:
            from airflow.sdk.execution_time.secrets_masker import redact as airflow_redact
        except ImportError:
            return text
    return str(airflow_redact(text))


class LogTail:
    """A bounded buffer of formatted log lines (``LEVEL message``), newest last."""

    def __init__(self, size: int = TAIL_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=size)

    def add(self, level: str, message: str) -> None:
        for line in str(message).splitlines() or [""]:
            if len(line) > MAX_LINE:
                line = line[:MAX_LINE] + " [...]"
            self._lines.append(f"{level.upper()} {line}")

    def lines(self) -> list[str]:
        return [redact(line) for line in self._lines]


class _TailProcessor:
    """A structlog processor that copies each event's level and message into the tail, unchanged."""

    def __init__(self, tail: LogTail) -> None:
        self._tail = tail

    def __call__(self, logger: Any, method_name: str, event_dict: Any) -> Any:
        with contextlib.suppress(Exception):
            self._tail.add(str(event_dict.get("level") or method_name), str(event_dict.get("event", "")))
        return event_dict


class _TailHandler(logging.Handler):
    def __init__(self, tail: LogTail) -> None:
        super().__init__(logging.INFO)
        self._tail = tail

    def emit(self, record: logging.LogRecord) -> None:
        # a log line that cannot be formatted is not worth failing a step
        with contextlib.suppress(Exception):
            self._tail.add(record.levelname, f"{record.name}: {record.getMessage()}")


@contextmanager
def capturing(tail: LogTail) -> Iterator[None]:
    """Copy what is logged in this process, through structlog or stdlib logging, into ``tail`` during the block.

    The processor goes into structlog's live processor list just before the renderer, so every logger,
    including ones already bound and cached, passes it; should a structlog version ever hand out a copy,
    the excerpt only loses those lines.
    """
    import structlog

    processors = structlog.get_config()["processors"]
    processor = _TailProcessor(tail)
    if isinstance(processors, list):
        processors.insert(max(len(processors) - 1, 0), processor)
    handler = _TailHandler(tail)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        if isinstance(processors, list):
            with contextlib.suppress(ValueError):
                processors.remove(processor)
