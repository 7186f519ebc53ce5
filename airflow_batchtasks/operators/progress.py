"""Progress of a running extract or upload, told to the API server through a small XCom.

Workers under Airflow 3's Task SDK have no database: the only channel from a running task to the API
server is the task API, and ``ti.xcom_push`` goes through it at once (not at the end of the task). So a
step pushes ``batchtasks_progress`` (``{"step", "rows"}``, ``{"step", "bytes", "size"}`` or, for a
script or remote command, ``{"step", "lines"}``: lines of output so far) while it works, and the run
pages read it back for running runs (``plugins/data/progress.py``). Who pushes: the SQL extract (every
path, COPY included: rows), a file source's downloads (bytes fetched), processing scripts and the
``ssh`` source (lines of output), deliveries and resends (bytes sent of the file's size).

Cheap by construction: a push is a round trip to the API server, so :class:`Progress` pushes at most
once every :data:`EVERY_SECONDS`, and the per-call cost between pushes is one clock read. A push that
fails is logged once and never fails the step: progress is a courtesy, the data is what matters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import IO, Any

#: The XCom key the pages read (``plugins/data/progress.py`` uses the same name).
PROGRESS_KEY = "batchtasks_progress"
#: Seconds between two pushes (a push is one request to the API server).
EVERY_SECONDS = 3.0

log = logging.getLogger(__name__)


class Progress:
    """Throttled progress pushes of one step: ``rows(n)`` during an extract, ``sent(n, size)`` during an upload."""

    def __init__(self, push: Callable[[dict[str, Any]], None], step: str, every: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._push = push
        self._step = step
        self._every = every
        self._clock = clock
        self._last = clock()  # the first push waits one period: a fast step never pushes at all
        self._broken = False

    @classmethod
    def of(cls, context: Any, step: str) -> Progress:
        """Progress pushed as the running task instance's XCom ``batchtasks_progress``."""
        ti = context["ti"]
        return cls(lambda value: ti.xcom_push(key=PROGRESS_KEY, value=value), step)

    def rows(self, count: int) -> None:
        """``count`` rows written so far (pushed only when the period has passed)."""
        if self._due():
            self._send({"step": self._step, "rows": int(count)})

    def lines(self, count: int) -> None:
        """``count`` lines of output so far (a script or remote command, whose rows are not known)."""
        if self._due():
            self._send({"step": self._step, "lines": int(count)})

    def sent(self, done: int, size: int | None) -> None:
        """``done`` bytes of a file of ``size`` bytes (None: not known) moved so far (sent, or fetched)."""
        if self._due():
            self._send({"step": self._step, "bytes": int(done), "size": size})

    def _due(self) -> bool:
        """Whether a push is due: between pushes a call costs this one clock read."""
        if self._broken:
            return False
        now = self._clock()
        if now - self._last < self._every:
            return False
        self._last = now
        return True

    def _send(self, value: dict[str, Any]) -> None:
        try:
            self._push(value)
        except Exception as exc:  # noqa: BLE001 - progress must never fail the step
            self._broken = True
            log.warning("Progress not reported (the step goes on): %s", exc)


class CountingReader:
    """A binary file that reports how many bytes were read from it (what an upload has sent)."""

    def __init__(self, raw: IO[bytes], size: int | None, progress: Progress) -> None:
        self._raw = raw
        self._size = size
        self._progress = progress
        self._done = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._done += len(data)
        self._progress.sent(self._done, self._size)
        return data

    def __getattr__(self, name: str) -> Any:  # seek, tell, close, name...: the file's own
        return getattr(self._raw, name)


class CountingSource:
    """A stored file (anything with ``open("rb")``) whose reads report upload progress."""

    def __init__(self, src: Any, size: int | None, progress: Progress) -> None:
        self._src = src
        self._size = size
        self._progress = progress

    def open(self, mode: str = "rb") -> Any:
        import contextlib

        @contextlib.contextmanager
        def opened() -> Any:
            with self._src.open(mode) as fh:
                yield CountingReader(fh, self._size, self._progress)

        return opened()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._src, name)
