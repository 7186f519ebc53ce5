"""The processing scripts' environment cache, with real installs from PyPI.

Concurrency is tested with real processes racing for the same environment,
the fallback installer by taking the branch a worker without ``uv`` takes.
"""

from __future__ import annotations

import logging
import multiprocessing
import subprocess
from pathlib import Path

import pytest

from airflow_batchtasks.scripts import venvs
from airflow_batchtasks.scripts.venvs import READY_MARKER, ensure_venv, env_key, normalize_requirements

pytestmark = pytest.mark.integration

REQUIREMENT = "tabulate==0.9.0"


class ListLog(logging.Logger):
    """A logger that keeps its messages, so a test can see what ensure_venv decided."""

    def __init__(self) -> None:
        super().__init__("venv-test", logging.DEBUG)
        self.messages: list[str] = []

    def _log(self, level, msg, args, *a, **k):  # type: ignore[no-untyped-def, override]
        self.messages.append(msg % args if args else msg)


def _build_in_child(cache: str, start: multiprocessing.synchronize.Event, results) -> None:  # type: ignore[name-defined]
    log = ListLog()
    start.wait()
    python = ensure_venv([REQUIREMENT], log, Path(cache))
    results.put((str(python), log.messages))


def test_concurrent_runs_build_one_environment_and_both_use_it(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_build_in_child, args=(str(tmp_path), start, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    pythons = {python for python, _ in outcomes}
    assert len(pythons) == 1
    built = [msgs for _, msgs in outcomes if any(m.startswith("Creating environment") for m in msgs)]
    assert len(built) == 1, [msgs for _, msgs in outcomes]
    python = pythons.pop()
    version = subprocess.run([python, "-c", "import tabulate; print(tabulate.__version__)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "0.9.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([Path(python).parents[1].name,
                                                                  f"{Path(python).parents[1].name}.lock"])


def test_an_interrupted_build_is_rebuilt(tmp_path: Path) -> None:
    key = env_key(normalize_requirements([]))
    leftover = tmp_path / key
    (leftover / "bin").mkdir(parents=True)
    (leftover / "half-installed").write_text("x")
    log = ListLog()

    python = ensure_venv([], log, tmp_path)

    assert any("Removing the unfinished environment" in m for m in log.messages)
    assert not (leftover / "half-installed").exists()
    assert (leftover / READY_MARKER).exists()
    assert subprocess.run([python, "-c", "print(1)"], capture_output=True, check=True).stdout == b"1\n"


def test_without_uv_it_falls_back_to_venv_and_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Forces the branch a worker without uv takes; the venv and the pip install below are real.
    monkeypatch.setattr(venvs, "find_uv", lambda: None)
    log = ListLog()

    python = ensure_venv([REQUIREMENT], log, tmp_path)

    assert any("with venv + pip" in m for m in log.messages)
    out = subprocess.run([python, "-c", "import tabulate; print(tabulate.__version__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "0.9.0"
