"""The ``[batchtasks]`` configuration section, read in one place.

Defaults live in get_provider_info (so ``airflow config list`` shows them);
these helpers only resolve the ones that depend on other settings.
"""

from __future__ import annotations

import os
from pathlib import Path

SECTION = "batchtasks"


def _get(key: str, fallback: str = "") -> str:
    from airflow.configuration import conf

    return conf.get(SECTION, key, fallback=fallback) or fallback


def definitions_folder() -> Path:
    """Where the YAML definitions live; default ``<dags_folder>/batchtasks``."""
    value = _get("definitions_folder")
    if value:
        return Path(os.path.expanduser(value))
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder")) / "batchtasks"


def _home_url(key: str, leaf: str) -> str:
    value = _get(key)
    if value:
        return value
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return f"file://{Path(home).resolve()}/batchtasks/{leaf}"


def staging_url() -> str:
    """Object-storage URL where steps hand files to each other (never a worker's local disk)."""
    return _home_url("staging_url", "staging")


def archive_url() -> str:
    """Object-storage URL of the file history (archived deliveries and their records)."""
    return _home_url("archive_url", "archive")


def storage_conn_id() -> str | None:
    """The Airflow connection staging and the archive are reached through (``s3://`` on a cluster), if any."""
    return _get("storage_conn_id") or None


def venv_cache() -> Path:
    """Local folder of the processing scripts' cached virtual environments.

    Local disk on purpose: a virtual environment only works on the machine (and
    at the path) where it was built, so it cannot live in object storage.
    """
    value = _get("venv_cache")
    if value:
        return Path(os.path.expanduser(value))
    home = os.environ.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
    return Path(home).resolve() / "batchtasks" / "venvs"


def notify_max_attachment_mb() -> float:
    """Largest total size of the files a notification attaches or embeds (mail servers refuse big messages)."""
    try:
        return max(0.0, float(_get("notify_max_attachment_mb", "10")))
    except ValueError:
        return 10.0


def definitions_writable() -> bool:
    return _get("definitions_writable", "true").lower() in ("1", "true", "yes", "on")


def test_clock_enabled() -> bool:
    """Whether orchestration instances may run on a test clock (see ``orchestration/clock.py``). Never in production."""
    return _get("test_clock_enabled", "false").lower() in ("1", "true", "yes", "on")


def orchestration_poll_interval() -> int:
    """Seconds between two checks of a step's task run by the triggerer (lower: faster chains, more queries)."""
    try:
        return max(1, int(_get("orchestration_poll_interval", "5")))
    except ValueError:
        return 5


def _positive(key: str, default: str, kind: type[int] | type[float]) -> int | float:
    """A setting that must be a positive number: a wrong value is a configuration error that names it."""
    value = _get(key, default)
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(f"[batchtasks] {key} must be a positive {'integer' if kind is int else 'number'}, "
                         f"not {value!r}")
    return number


def project_run_timeout_minutes() -> float:
    """The time limit of a project's run (``project__<name>``), in minutes (default 1440: a day).

    Why a limit: a step waits for its task's run, and a run of a DAG paused in Airflow never starts; on
    Airflow 3.1 a step cannot read the pause before triggering (3.2+ skips it), so without a limit a series
    would wait forever. At the limit Airflow's scheduler ends the project run (``dagrun_timeout``) and the
    series report says which task was still waiting and why.
    """
    return _positive("project_run_timeout", "1440", float)


def sql_batch_size() -> int:
    """Rows per fetch round trip when a query streams to a file (``fetchmany``, server-side cursors, arrow-odbc)."""
    return int(_positive("sql_batch_size", "10000", int))


def max_request_bytes() -> int:
    """Largest request body the plugin's API and pages read (``max_request_mb``; larger ones get 413)."""
    return int(_positive("max_request_mb", "4", float) * 1024 * 1024)


def local_roots() -> tuple[str, ...]:
    """Folders of this machine that definitions may read and write with `local` paths (``local_roots``).

    Empty (the default): a `local` path written through the REST API needs the code right, and run time
    checks nothing (definitions put in the folder by their authors keep working). Each entry must be an
    absolute folder (``~`` expanded); a relative one is a configuration error, not a silent no-op.
    """
    value = _get("local_roots")
    roots = [os.path.expanduser(part.strip()) for part in value.split(",") if part.strip()]
    relative = [r for r in roots if not os.path.isabs(r)]
    if relative:
        raise ValueError(f"[batchtasks] local_roots must list absolute folders, not {', '.join(relative)!s}")
    return tuple(os.path.normpath(r) for r in roots)
