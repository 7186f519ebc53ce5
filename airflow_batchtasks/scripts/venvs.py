"""Isolated, cached virtual environments for processing scripts.

A script must not see (or break) the worker's own packages, and installing
its requirements on every run would make a one-second script take a minute,
so each distinct set of requirements gets one environment, kept under
``[batchtasks] venv_cache`` and named by a hash of the requirements and the
Python that runs them.

Concurrency: several workers on one machine may want the same environment at
once. Creation happens under an exclusive lock file (``<key>.lock``) and the
environment only counts as ready once its marker file exists (written last,
atomically); a folder without the marker is the leftover of a crash and is
rebuilt. The environment is built at its final path rather than in a
temporary folder renamed at the end, because virtual environments are not
relocatable: pip/uv write the absolute path into every console script's
shebang (``bin/tabulate`` would point at the temporary folder).

Installer: ``uv`` when it is on the PATH or beside the worker's Python
(seconds), else ``python -m venv`` and pip.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from airflow_batchtasks import config

READY_MARKER = ".batchtasks-ready.json"
KEY_VERSION = "1"  # bump when the layout of an environment changes


class VenvError(RuntimeError):
    """The environment could not be created; the message holds the installer's output."""


def normalize_requirements(requirements: list[str]) -> list[str]:
    """Strip, de-duplicate and sort; refuse options (``-r``, ``--index-url``...) that would reach the installer."""
    cleaned = sorted({r.strip() for r in requirements if r and r.strip()})
    for req in cleaned:
        if req.startswith("-") or "\n" in req:
            raise ValueError(f"requirement `{req}` is not a package specifier (options are not allowed)")
    return cleaned


def python_identity() -> str:
    """What an environment depends on besides its requirements: the interpreter it links to."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    version = ".".join(map(str, sys.version_info[:3]))
    return f"{sys.implementation.name}-{version}-{os.path.realpath(base)}"


def env_key(requirements: list[str]) -> str:
    payload = json.dumps({"v": KEY_VERSION, "python": python_identity(), "requirements": requirements})
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def venv_python(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def ensure_venv(requirements: list[str], log: logging.Logger, cache: Path | None = None) -> Path:
    """Return the Python of a ready environment with ``requirements`` installed, creating it at most once."""
    reqs = normalize_requirements(requirements)
    root = cache or config.venv_cache()
    key = env_key(reqs)
    env_dir = root / key
    if (env_dir / READY_MARKER).exists():
        log.info("Reusing environment %s (requirements: %s)", env_dir, ", ".join(reqs) or "none")
        return venv_python(env_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{key}.lock", log):
        if (env_dir / READY_MARKER).exists():  # built by another process while we waited
            log.info("Reusing environment %s, built meanwhile by another run", env_dir)
            return venv_python(env_dir)
        if env_dir.exists():
            log.warning("Removing the unfinished environment %s (an earlier build was interrupted)", env_dir)
            shutil.rmtree(env_dir)
        started = time.monotonic()
        try:
            _build(env_dir, reqs, log)
        except BaseException:
            shutil.rmtree(env_dir, ignore_errors=True)
            raise
        _write_marker(env_dir, reqs)
        log.info("Environment ready in %.1fs: %s", time.monotonic() - started, env_dir)
    return venv_python(env_dir)


@contextlib.contextmanager
def _locked(lock_path: Path, log: logging.Logger) -> Iterator[None]:
    with open(lock_path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("Waiting for another run that is creating the same environment (%s)", lock_path.name)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def find_uv() -> str | None:
    """``uv`` on the PATH, or installed next to the worker's Python (a venv that was not activated)."""
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if os.access(beside, os.X_OK) else None)


def _build(env_dir: Path, reqs: list[str], log: logging.Logger) -> None:
    uv = find_uv()
    python = sys.executable
    if uv:
        log.info("Creating environment %s with uv; installing: %s", env_dir, ", ".join(reqs) or "nothing")
        # --no-config: a uv.toml/pyproject.toml near the worker's cwd must not change what gets installed.
        _run([uv, "venv", "--no-config", "--quiet", "--python", python, str(env_dir)], log)
        if reqs:
            _run([uv, "pip", "install", "--no-config", "--python", str(venv_python(env_dir)), *reqs], log)
        return
    log.info("Creating environment %s with venv + pip (uv not found); installing: %s", env_dir,
             ", ".join(reqs) or "nothing")
    _run([python, "-m", "venv", str(env_dir)], log)
    if reqs:
        _run([str(venv_python(env_dir)), "-m", "pip", "install", "--disable-pip-version-check",
              "--no-input", *reqs], log)


def _run(cmd: list[str], log: logging.Logger) -> None:
    # cwd: a neutral folder, so no project configuration near the worker's cwd applies.
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False)
    for line in (proc.stdout + proc.stderr).splitlines():
        if line.strip():
            log.info("  %s", line)
    if proc.returncode != 0:
        raise VenvError(f"`{' '.join(cmd[:3])} ...` failed with exit code {proc.returncode}:\n{proc.stderr[-4000:]}")


def _write_marker(env_dir: Path, reqs: list[str]) -> None:
    marker = env_dir / READY_MARKER
    tmp = env_dir / f".{READY_MARKER}.tmp"
    tmp.write_text(json.dumps({"requirements": reqs, "python": python_identity(), "created": time.time()}))
    os.replace(tmp, marker)
