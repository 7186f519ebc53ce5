"""The comparison every fast-path test makes: the same extract with and without fast paths.

A fast path (COPY, arrow-odbc) is only correct if it writes the portable path's very bytes, so each
driver's tests run both and compare.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_batchtasks.sql.extract import PORTABLE, extract

LOG = logging.getLogger("extract_paths")


def both_paths(
    hook: Any, query_for: Callable[[str], tuple[str, Any]], tmp_path: Path, output: dict[str, Any], headers: bool = True
) -> tuple[bytes, str, bytes, int]:
    """Run the extract with and without fast paths; return (fast bytes, fast path used, portable bytes, rows)."""
    results = []
    for fast in (True, False):
        target = tmp_path / f"{'fast' if fast else 'portable'}.csv"
        rows, path = extract(
            hook, query_for, target, output, include_headers=headers, batch_size=5000, log=LOG, fast_paths=fast
        )
        results.append((target.read_bytes(), path, rows))
    (fast_bytes, fast_path, fast_rows), (portable_bytes, portable_path, portable_rows) = results
    assert portable_path == PORTABLE
    assert fast_rows == portable_rows
    return fast_bytes, fast_path, portable_bytes, fast_rows
