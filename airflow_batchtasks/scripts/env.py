"""The environment variables a processing script runs with.

The script does **not** inherit the worker's environment: a worker's
environment holds ``AIRFLOW_CONN_*`` URIs, ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``
and cloud credentials, and a script must only get connection secrets when its
task opts in (``processing.expose_connections: true``). So it starts from a
short allow-list (:data:`INHERITED`) and adds the ``BATCHTASK_*`` variables.

Variables (all strings):

- ``BATCHTASK_NAME``, ``BATCHTASK_DESCRIPTION``, ``BATCHTASK_PROJECT``, ``BATCHTASK_OWNERS`` (comma-separated)
- ``BATCHTASK_DAG_ID``, ``BATCHTASK_RUN_ID``, ``BATCHTASK_TRY_NUMBER``, ``BATCHTASK_LOGICAL_DATE`` (ISO),
  ``BATCHTASK_DS`` (``YYYY-MM-DD``), ``BATCHTASK_DS_NODASH``
- ``BATCHTASK_PARAMS``: every run parameter as one JSON object;
  ``BATCHTASK_PARAM_<NAME>``: each one (name upper-cased, other characters than letters/digits as ``_``;
  strings as they are, other values as JSON)
- ``BATCHTASK_WORK_DIR``: the folder for new files (also the working directory);
  ``BATCHTASK_INPUT_FILES``: JSON list of the input files
- ``BATCHTASK_ARGS``: JSON list of the run's value of each declared param, in the order the definition
  declares them, as text (:func:`as_text`: ``None`` is ``""``) -- the same strings as ``sys.argv[2:]``

The command line (:func:`script_argv`), so that a script written for a scheduler that passes its job
arguments positionally (OpenSpecimen's ``arg1 arg2``) runs as written:

- the task declares params: ``sys.argv[1]`` is the first input file (``""`` when there is none, as
  for a ``python`` source; all of them are in ``BATCHTASK_INPUT_FILES``), ``sys.argv[2:]`` the param
  values as in ``BATCHTASK_ARGS``, except that a sensitive param's is ``""`` (any user of the worker can
  read a command line);
- it declares none: ``sys.argv[1:]`` is the list of input files, as before params were passed.
- only with ``expose_connections: true``: ``BATCHTASK_CONNECTIONS`` (JSON list of ids) and, per connection
  the task uses, ``BATCHTASK_CONN_<ID>_URI``, ``_TYPE``, ``_HOST``, ``_PORT``, ``_LOGIN``, ``_PASSWORD``,
  ``_SCHEMA``, ``_EXTRA`` (JSON).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_batchtasks.definitions import masking
from airflow_batchtasks.scripts.log_lines import Redactor

if TYPE_CHECKING:
    from airflow.sdk import Context

PREFIX = "BATCHTASK_"
# What a script may inherit from the worker: locale, time zone, temp folder, proxies and CA bundles.
INHERITED = (
    "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
# Keys of connection extras whose values are secrets (private keys, tokens...).
_SENSITIVE = re.compile(r"pass|secret|token|key|credential|auth|private", re.IGNORECASE)


def env_name(name: str) -> str:
    """``my-param.x`` -> ``MY_PARAM_X``."""
    return _NOT_ALNUM.sub("_", name).strip("_").upper()


def as_text(value: Any) -> str:
    """A value as an environment variable or a command-line word holds it: strings as they are, others as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def script_args(params: Any, names: Iterable[str]) -> list[str]:
    """The run's value of each declared param ``names`` (declaration order) as text, for argv and ``BATCHTASK_ARGS``.

    ``params`` is the run's ``params`` (the defaults with the run's ``conf`` applied), so a value
    the run did not give is the param's default, as ``BATCHTASK_PARAM_<NAME>`` has it.
    """
    values = params or {}
    return [as_text(values.get(name)) for name in names]


def script_argv(inputs: list[str], args: list[str], names: Sequence[str]) -> list[str]:
    """``sys.argv[1:]`` of the script: the input files alone when the task declares no params ``names`` (as it
    always was), else the first input file (``""`` without one) then the param values.

    A param whose name is sensitive (``db_password``, ``api_token``: what the masker hides) is ``""`` here:
    a command line is readable by every user of the worker (``/proc/<pid>/cmdline``, ``ps``), the
    environment only by the same user; its value is in ``BATCHTASK_ARGS`` and ``BATCHTASK_PARAM_<NAME>``.
    """
    if not names:
        return list(inputs)
    shown = ["" if masking.is_sensitive(name) else value for name, value in zip(names, args, strict=False)]
    return [inputs[0] if inputs else "", *shown]


def inherited_env(bin_dir: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in INHERITED if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
    env["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)])
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the task log as they are printed, not at exit
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def metadata_env(
    *,
    task: str,
    description: str,
    project: str | None,
    owners: str,
    context: Context,
    work_dir: str,
    inputs: list[str],
    args: Sequence[str] = (),
) -> dict[str, str]:
    logical_date = context.get("logical_date")
    env = {
        "NAME": task,
        "DESCRIPTION": description,
        "PROJECT": project or "",
        "OWNERS": owners,
        "DAG_ID": context["dag"].dag_id if context.get("dag") else task,
        "RUN_ID": context.get("run_id") or "",
        "TRY_NUMBER": str(getattr(context.get("ti"), "try_number", "") or ""),
        "LOGICAL_DATE": logical_date.isoformat() if logical_date else "",
        "DS": context.get("ds") or "",
        "DS_NODASH": context.get("ds_nodash") or "",
        "WORK_DIR": work_dir,
        "INPUT_FILES": json.dumps(inputs),
        "ARGS": json.dumps(list(args)),
    }
    params = dict(context.get("params") or {})
    env["PARAMS"] = json.dumps(params, default=str)
    for name, value in params.items():
        env[f"PARAM_{env_name(name)}"] = as_text(value)
    return {PREFIX + k: v for k, v in env.items()}


def connection_env(conn_ids: Iterable[str], redact: Redactor) -> dict[str, str]:
    """The opt-in connection variables; every secret in them is registered with the masker and ``redact``."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    env: dict[str, str] = {}
    ids = list(dict.fromkeys(conn_ids))
    for conn_id in ids:
        conn = BaseHook.get_connection(conn_id)
        uri = conn.get_uri()
        extra = conn.extra_dejson or {}
        secrets = [uri]
        if conn.password:
            secrets += [conn.password, quote(conn.password, safe="")]
        secrets += [str(v) for k, v in extra.items() if _SENSITIVE.search(k) and v]
        if extra:
            secrets.append(json.dumps(extra))
        for secret in secrets:
            mask_secret(secret)
        redact.add(*secrets)
        prefix = f"{PREFIX}CONN_{env_name(conn_id)}_"
        env.update({
            prefix + "URI": uri,
            prefix + "TYPE": conn.conn_type or "",
            prefix + "HOST": conn.host or "",
            prefix + "PORT": str(conn.port or ""),
            prefix + "LOGIN": conn.login or "",
            prefix + "PASSWORD": conn.password or "",
            prefix + "SCHEMA": conn.schema or "",
            prefix + "EXTRA": json.dumps(extra),
        })
    env[f"{PREFIX}CONNECTIONS"] = json.dumps(ids)
    return env
