"""The paths a processing script returns on its last line."""

from __future__ import annotations

import pytest

from airflow_batchtasks.operators.process import returned_paths


@pytest.mark.parametrize(
    ("line", "paths"),
    [
        ("['/w/test-0.txt', '/w/test-1.txt']", ["/w/test-0.txt", "/w/test-1.txt"]),
        ('["/w/a b.csv"]', ["/w/a b.csv"]),
        ("  []  ", []),
        ("done", None),
        ("[1, 2]", None),
        ("[PosixPath('/w/a')]", None),
        ("[unclosed", None),
        (None, None),
    ],
)
def test_returned_paths(line: str | None, paths: list[str] | None) -> None:
    assert returned_paths(line) == paths
