"""Transport helpers: wildcard patterns and the temporary names of atomic puts."""

from __future__ import annotations

import pytest

from airflow_batchtasks.transports.base import is_leftover_part, split_pattern, temp_name


def test_split_pattern_allows_wildcards_in_the_file_name_only() -> None:
    assert split_pattern("/out/sales_*.csv") == ("/out", "sales_*.csv")
    assert split_pattern("daily.sql") == (".", "daily.sql")
    with pytest.raises(ValueError, match="only allowed in the file name"):
        split_pattern("/out/*/sales.csv")
    with pytest.raises(ValueError, match="names a folder"):
        split_pattern("/out/")


def test_leftover_parts_are_only_this_names_temporaries() -> None:
    assert is_leftover_part(temp_name("a.csv"), "a.csv")
    assert not is_leftover_part(temp_name("a.csv"), "b.csv")
    assert not is_leftover_part(temp_name("xa.csv"), "a.csv")
    assert not is_leftover_part(".a.csv.notahexstring.part", "a.csv")
    assert not is_leftover_part("a.csv", "a.csv")
