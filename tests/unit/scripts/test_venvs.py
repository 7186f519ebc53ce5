"""Requirements of a processing script's virtualenv."""

from __future__ import annotations

import pytest

from airflow_batchtasks.scripts.venvs import env_key, normalize_requirements


def test_requirements_are_normalized_and_options_refused() -> None:
    assert normalize_requirements([" tabulate ", "pandas>=2", "tabulate", ""]) == ["pandas>=2", "tabulate"]
    assert env_key(["a", "b"]) == env_key(normalize_requirements(["b", "a", "a"]))
    assert env_key(["a"]) != env_key(["a==1"])
    for bad in ("--index-url=http://evil.example/simple", "-r /etc/passwd", "-e ."):
        with pytest.raises(ValueError, match="options are not allowed"):
            normalize_requirements(["pandas", bad])
