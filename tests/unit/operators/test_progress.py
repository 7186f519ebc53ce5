"""Progress pushes of a running step: throttled by time, never failing the step, bytes counted as read."""

from __future__ import annotations

import io
from typing import Any

from airflow_batchtasks.operators.progress import CountingSource, Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rows_pushed_at_most_once_per_period() -> None:
    clock, pushed = Clock(), []
    progress = Progress(pushed.append, "extract", every=3, clock=clock)
    for rows in range(0, 10_000, 100):  # a fast extract: no time passes, nothing is pushed
        progress.rows(rows)
    assert pushed == []
    clock.now += 3
    progress.rows(12_345)
    progress.rows(12_400)
    assert pushed == [{"step": "extract", "rows": 12_345}]
    clock.now += 3.5
    progress.rows(20_000)
    assert pushed[-1] == {"step": "extract", "rows": 20_000}


def test_a_failing_push_is_given_up_and_never_raises() -> None:
    clock, calls = Clock(), []

    def push(value: dict[str, Any]) -> None:
        calls.append(value)
        raise RuntimeError("API server away")

    progress = Progress(push, "deliver", every=1, clock=clock)
    for _ in range(5):
        clock.now += 2
        progress.sent(10, 100)
    assert len(calls) == 1, "after one failure the step stops trying"


def test_upload_reads_report_bytes_of_size() -> None:
    clock, pushed = Clock(), []
    progress = Progress(pushed.append, "deliver", every=1, clock=clock)

    class Stored:
        def open(self, mode: str = "rb") -> Any:
            return io.BytesIO(b"x" * 1000)

    with CountingSource(Stored(), 1000, progress).open("rb") as fh:
        assert fh.read(400) == b"x" * 400
        clock.now += 1
        fh.read(200)
        assert fh.tell() == 600, "other file methods are the file's own"
    assert pushed == [{"step": "deliver", "bytes": 600, "size": 1000}]
