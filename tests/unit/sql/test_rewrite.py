"""Statements removed from queries before they run (pure text logic, no database needed)."""

from __future__ import annotations

import pytest

from airflow_batchtasks.sql.rewrite import strip_unsupported_statements


@pytest.mark.parametrize(
    ("sql", "expected", "removed"),
    [
        ("USE sales;\nSELECT * FROM dbo.orders\n", "SELECT * FROM dbo.orders\n", ["USE sales;"]),
        ("use [Sales DB]\nGO\nselect 1\ngo\n", "select 1\n", ["use [Sales DB]", "GO", "go"]),
        ("USE sales; SELECT 1", "SELECT 1", ["USE sales;"]),
        ("select 1\nGO 5\nselect 2", "select 1\nselect 2", ["GO 5"]),
        ("  USE \"x\" ;\r\nselect 1\r\n", "select 1\r\n", ['USE "x" ;']),
    ],
)
def test_use_and_go_are_removed_and_reported(sql: str, expected: str, removed: list[str]) -> None:
    assert strip_unsupported_statements(sql) == (expected, removed)


@pytest.mark.parametrize(
    "sql",
    [
        "select use_count, going from t",
        "select 'USE sales;' as note",
        "select a -- GO here\nfrom t\nwhere b = 'GO'",
        "SELECT * FROM goals\nWHERE category = 'GOTO'",
    ],
)
def test_text_that_only_looks_like_them_is_untouched(sql: str) -> None:
    assert strip_unsupported_statements(sql) == (sql, [])
