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


def every_call() -> tuple[Progress, list[dict[str, Any]]]:
    """A progress that pushes on every call (its period already over each time)."""
    clock, pushed = Clock(), []

    def tick() -> float:
        clock.now += 10
        return clock.now

    return Progress(pushed.append, "step", every=3, clock=tick), pushed


def test_lines_of_output_are_pushed_in_their_own_format() -> None:
    clock, pushed = Clock(), []
    progress = Progress(pushed.append, "process", every=3, clock=clock)
    progress.lines(5)
    clock.now += 3
    progress.lines(120)
    assert pushed == [{"step": "process", "lines": 120}]


def test_a_file_source_download_reports_the_bytes_fetched(tmp_path: Any) -> None:
    from contextlib import contextmanager

    from airflow_batchtasks.operators.file import FileExtractOperator

    class Reader:
        @contextmanager
        def open(self, path: str) -> Any:
            yield io.BytesIO(b"a,b\n" + b"1,2\n" * 100_000)

    op = FileExtractOperator(
        task_id="extract", batch_task="t", location={"type": "local", "path": "/in/x.csv"}, output_format={}
    )
    op._progress, pushed = every_call()
    op._progress._step = "extract"
    got = op._fetch(Reader(), "/in/x.csv", tmp_path / "x.csv")
    assert got["rows"] is None and (tmp_path / "x.csv").stat().st_size == 400_004
    assert pushed and all(p["step"] == "extract" and p["size"] is None for p in pushed)
    assert [p["bytes"] for p in pushed] == sorted(p["bytes"] for p in pushed) and pushed[-1]["bytes"] <= 400_004


def test_a_processing_script_reports_its_lines_of_output(tmp_path: Any) -> None:
    import logging
    import sys
    from types import SimpleNamespace

    from airflow_batchtasks.operators.process import ProcessOperator
    from airflow_batchtasks.scripts.log_lines import Redactor

    progress, pushed = every_call()
    script = "import sys, time\nfor i in range(30):\n    print('line', i, flush=True)\n    time.sleep(0.01)\n"
    runner = SimpleNamespace(log=logging.getLogger("test_progress"), _proc=None)
    code, last, _ = ProcessOperator._run(runner, [sys.executable, "-c", script], {}, tmp_path, Redactor(), progress)
    assert code == 0 and last == "line 29"
    counts = [p["lines"] for p in pushed]
    assert counts and counts == sorted(counts) and 0 < counts[-1] <= 30, counts

