"""The asset event a delivery adds: the delivered file's asset, through its destination's alias, with its record.

Called by the deliver step for every destination that holds the file at the end of the step (also
those an earlier try delivered: Airflow emits a step's asset events only when the step succeeds, so a
failed try emitted none). The event's ``extra`` is the file record the file history shows
(``GET /batchtasks/api/v1/tasks/<task>/files``): name, size, md5, rows, run id, plus where it went.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_batchtasks.assets.uris import destination_uri

log = logging.getLogger(__name__)


def delivery_extra(record: Any, spec: dict[str, Any], uri: str) -> dict[str, Any]:
    """The event's ``extra``: the file record (no credential: a URI holds host and path only)."""
    return {
        "batch_task": record.task,
        "run_id": record.run_id,
        "name": record.name,
        "size": record.size,
        "md5": record.md5,
        "rows": record.rows,
        "destination": spec["type"],
        "conn_id": spec.get("conn_id"),
        "uri": uri,
    }


def add_delivery_event(context: Any, alias: str, spec: dict[str, Any], name: str, record: Any) -> str | None:
    """Add the asset event of file ``name`` delivered to ``spec`` through alias ``alias``; returns its URI.

    Never fails the delivery: the file is already where it belongs. A URI that cannot be made (a
    connection without a host) is logged and the event left out.
    """
    from airflow.sdk import Asset, AssetAlias

    try:
        uri = destination_uri(spec, name)
    except Exception as exc:  # noqa: BLE001 - the file is delivered; the asset is a report of it
        log.warning("No asset event for %s at %s %s: %s", name, spec["type"], spec.get("conn_id") or "", exc)
        return None
    context["outlet_events"][AssetAlias(alias)].add(Asset(uri), extra=delivery_extra(record, spec, uri))
    return uri
