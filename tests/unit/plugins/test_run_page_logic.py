"""The run page's pure parts: progress text, log tails (bounded, Airflow's source group left out), file previews."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from airflow_batchtasks.plugins.data.file_preview import first_lines, no_preview_reason, preview_file
from airflow_batchtasks.plugins.data.progress import progress_text, size_text
from airflow_batchtasks.plugins.data.run_logs import MAX_LINE, line_text, tail_lines


def test_progress_text() -> None:
    assert progress_text({"step": "extract", "rows": 12345}) == "12,345 rows"
    assert progress_text({"step": "deliver", "bytes": 40 * 2**20, "size": 100 * 2**20}) == \
        "40.0 MiB of 100.0 MiB (40%)"
    assert progress_text('{"step": "deliver", "bytes": 512, "size": null}') == "512 B sent"
    assert progress_text({"step": "extract", "bytes": 3 * 2**20, "size": None}) == "3.0 MiB fetched"
    assert progress_text({"step": "process", "lines": 1200}) == "1,200 lines of output"
    assert progress_text({"step": "extract", "lines": 1}) == "1 line of output"
    assert progress_text({"step": "x"}) is None
    assert progress_text("not json") is None
    assert size_text(1536) == "1.5 KiB"


def msg(event: str, level: str = "info") -> SimpleNamespace:
    stamp = datetime(2026, 12, 4, 1, 2, 3, tzinfo=timezone.utc)
    return SimpleNamespace(event=event, model_dump=lambda: {"event": event, "timestamp": stamp, "level": level})


def test_tail_keeps_the_last_lines_without_the_source_group() -> None:
    stream = [msg("::group::Log message source details"), msg("/var/log/x.log"), msg("::endgroup::")]
    stream += [msg(f"line {i}") for i in range(1000)]
    lines, truncated, complete = tail_lines(iter(stream), 300)
    assert len(lines) == 300 and truncated and complete
    assert lines[0] == "2026-12-04T01:02:03Z INFO line 700"
    assert lines[-1].endswith("line 999")
    assert not any("x.log" in line for line in lines)


def test_tail_stops_at_the_time_budget() -> None:
    ticks = iter(range(0, 10**6, 5))
    lines, _, complete = tail_lines((msg(f"l{i}") for i in range(5000)), 10, budget=1, clock=lambda: next(ticks))
    assert not complete and len(lines) == 10


def test_long_lines_are_cut() -> None:
    assert len(line_text(msg("y" * (MAX_LINE * 3))) or "") <= MAX_LINE + 2


def test_no_preview_of_encrypted_or_zipped_files() -> None:
    assert "encrypted" in (no_preview_reason("out_20260101.csv.gpg") or "")
    assert "zip" in (no_preview_reason("out.zip") or "")
    assert "zip" in (no_preview_reason("out.dat", b"PK\x03\x04rest") or "")
    assert no_preview_reason("out.csv", b"a,b\n1,2\n") is None


def test_first_lines_bounded_by_rows_and_bytes() -> None:
    head = b"".join(b"%d,x\n" % i for i in range(100))
    lines, truncated = first_lines(head, more=False, max_rows=50)
    assert lines[0] == "0,x" and len(lines) == 50 and truncated
    lines, truncated = first_lines(b"a,b\n1,2\n3,", more=True)
    assert lines == ["a,b", "1,2"] and truncated, "the line cut by the byte limit is left out"
    assert first_lines(b"a,b\n1,2\n", more=False) == (["a,b", "1,2"], False)


def test_preview_reads_at_most_max_bytes(tmp_path) -> None:  # noqa: ANN001
    big = tmp_path / "big.csv"
    big.write_bytes(b"id,name\n" + b"1,abc\n" * 100_000)
    info = SimpleNamespace(id="f1", name="big.csv", size=big.stat().st_size)
    shown = preview_file(info, big, max_rows=50, max_bytes=1024)
    assert shown.lines[0] == "id,name" and len(shown.lines) == 50 and shown.truncated and shown.reason is None
    enc = preview_file(SimpleNamespace(id="f2", name="big.csv.gpg", size=10), big)
    assert enc.lines == [] and "encrypted" in (enc.reason or "")
