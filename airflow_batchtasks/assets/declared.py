"""The assets a batch task's DAG declares when it is parsed: what its deliveries update, what its file source reads,
and what a ``schedule: {after: [...]}`` waits for.

Why aliases for deliveries: a delivered file's URI holds the rendered folder and file name
(``sales_{{ ds }}.csv``), known only when the deliver step runs. Airflow activates an asset only
while its name and its URI are each used by no other active asset, so one asset whose URI changed
every run would collide with itself. Each destination therefore gets a stable
:class:`~airflow.sdk.AssetAlias` (named from the task and the destination, declared at parse time),
and each run adds the file's own asset (name = URI) through it. A DAG scheduled ``after`` a task
waits on that task's aliases, which Airflow resolves to whatever files they produced.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_batchtasks.assets.uris import Address, connection_address, file_uri

#: Prefix of every alias the provider declares (``batchtasks/<task>/<destination>``).
ALIAS_PREFIX = "batchtasks/"


def delivery_alias_names(task: str, destinations: Sequence[Any]) -> list[str]:
    """One alias name per destination: ``batchtasks/<task>/<type>:<conn_id>`` (``local`` for a local folder).

    Stable while the destination keeps its type and connection (its path may change, or be templated);
    a second destination on the same connection gets ``#2``, a third ``#3``, in definition order.
    """
    names: list[str] = []
    for dest in destinations:
        kind, conn = _get(dest, "type"), _get(dest, "conn_id")
        base = f"{ALIAS_PREFIX}{task}/{kind}" + (f":{conn}" if conn else "")
        count = sum(1 for n in names if n == base or n.startswith(base + "#"))
        names.append(base if count == 0 else f"{base}#{count + 1}")
    return names


def delivery_outlets(task: str, destinations: Sequence[Any]) -> list[Any]:
    """The deliver step's ``outlets``: one :class:`~airflow.sdk.AssetAlias` per destination."""
    from airflow.sdk import AssetAlias

    return [AssetAlias(name) for name in delivery_alias_names(task, destinations)]


def after_condition(after: Sequence[str], destinations_of: Mapping[str, Sequence[Any]]) -> Any:
    """The Airflow schedule for ``{after: [a, b]}``: every named task (all) has delivered to any destination.

    ``destinations_of``: task name -> its destinations. A task missing from it (a worker's partial
    parse, where only this DAG's files are read) waits on its first destination's likely alias; the
    scheduler uses the full parse, which always has it.
    """
    from airflow.sdk import AssetAlias, AssetAll, AssetAny

    per_task = []
    for name in after:
        aliases = [AssetAlias(a) for a in delivery_alias_names(name, destinations_of.get(name) or [])]
        if not aliases:
            aliases = [AssetAlias(f"{ALIAS_PREFIX}{name}")]
        per_task.append(aliases[0] if len(aliases) == 1 else AssetAny(*aliases))
    return per_task[0] if len(per_task) == 1 else AssetAll(*per_task)


def source_inlets(location: Mapping[str, Any] | None) -> list[Any]:
    """The ``inlets`` of a ``file`` source's extract step: the file it reads, when its path names one file.

    A templated path or a wildcard names no file before the run, so it declares nothing. A remote
    location needs its connection's host; when the connection cannot be read while parsing, nothing
    is declared either (the DAG must still load).
    """
    if not location:
        return []
    path = str(location.get("path") or "")
    if not path or "{{" in path or "{%" in path or any(c in path.rsplit("/", 1)[-1] for c in "*?["):
        return []
    from airflow.sdk import Asset

    kind = str(location.get("type"))
    address = None if kind == "local" else _parse_time_address(str(location.get("conn_id") or ""))
    if kind != "local" and address is None:
        return []
    try:
        return [Asset(file_uri(kind, path, None, address))]
    except ValueError:
        return []


@functools.lru_cache(maxsize=256)
def _parse_time_address(conn_id: str) -> Address | None:
    """A connection's address while parsing, or None; failures are cached too (one lookup per parse)."""
    try:
        return connection_address(conn_id)
    except Exception:  # noqa: BLE001 - an unreachable or missing connection must not break the parse
        return None


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)
