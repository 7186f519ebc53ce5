"""The list queries run with the cyclic collector paused, and leave it as they found it."""

from __future__ import annotations

import gc
import threading

import pytest

from airflow_batchtasks.plugins.data.gc_pauses import without_gc_pauses


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_during_the_call_and_back_after_it_even_on_error() -> None:
    seen = []

    @without_gc_pauses
    def query(fail: bool) -> str:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("bad filter")
        return "page"

    assert query(False) == "page"
    with pytest.raises(ValueError):
        query(True)
    assert seen == [False, False]
    assert gc.isenabled()


def test_overlapping_calls_resume_only_when_the_last_one_ends() -> None:
    first_in, release = threading.Event(), threading.Event()

    @without_gc_pauses
    def slow() -> None:
        first_in.set()
        release.wait(5)

    @without_gc_pauses
    def quick() -> bool:
        return gc.isenabled()

    worker = threading.Thread(target=slow)
    worker.start()
    first_in.wait(5)
    assert quick() is False
    assert not gc.isenabled()  # the slow call still runs: the collector stays paused
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_collector_the_process_disabled_stays_disabled() -> None:
    gc.disable()
    without_gc_pauses(lambda: None)()
    assert not gc.isenabled()
