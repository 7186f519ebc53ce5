"""Keep Python's cyclic garbage collector out of the list queries that build tens of thousands of rows.

Why: the API server's heap holds millions of long-lived objects (Airflow, its routes, the serialized DAGs
it caches). A query that materialises 10,000-30,000 rows allocates enough objects to trigger collections,
and a full one walks that whole heap: measured at 10,000 tasks, a status-filtered All Tasks page spent
about 170 of its 400 ms in the collector, and it caused the page's slowest calls. The rows are plain
tuples freed by reference counting when the call returns, so the collector has nothing to find in them.

The collector is paused while any such call runs (a count, since the server runs requests in threads)
and resumes when the last one ends; cycles made meanwhile are collected then. A collector the process
had disabled on its own is left as it was.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_active = 0
_paused = False  # whether we disabled the collector (not the process before us)


def _enter() -> None:
    global _active, _paused
    with _lock:
        _active += 1
        if _active == 1 and gc.isenabled():
            gc.disable()
            _paused = True


def _leave() -> None:
    global _active, _paused
    with _lock:
        _active -= 1
        if _active == 0 and _paused:
            _paused = False
            gc.enable()


def without_gc_pauses(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with the cyclic collector paused (see the module's docstring)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        _enter()
        try:
            return func(*args, **kwargs)
        finally:
            _leave()

    return wrapper
