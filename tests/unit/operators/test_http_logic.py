"""The http step's PARTIAL reason from a response."""

from __future__ import annotations

import pytest

from airflow_batchtasks.operators.http import partial_reason


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (207, b"", "the API answered 207 Multi-Status"),
        (200, b'{"status": "partial", "failed": 2}', 'the API answered "status": "PARTIAL"'),
        (200, b'{"status": "OK"}', None),
        (200, b'[{"status": "PARTIAL"}]', None),
        (200, b"not json", None),
        (202, b"", None),
    ],
)
def test_partial_reason(status: int, body: bytes, reason: str | None) -> None:
    assert partial_reason(status, body) == reason
