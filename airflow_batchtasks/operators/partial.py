"""PARTIAL: a step that succeeded while reporting that some records failed.

Airflow has no such state, and failing the step would retry (and repeat) the
records that did succeed, so the step ends ``success`` and says so in an XCom
under its own key: ``partial`` = ``{"partial": true, "reason": ...}``. The
file list a step returns stays unchanged for the steps after it.
Orchestrations read this key to show a PARTIAL step (which counts as success
for the chain, per the contract).

Who reports it: a processing script exiting with :data:`PARTIAL_EXIT_CODE`;
an ``http`` call answered with 207 Multi-Status or a JSON body whose
``status`` is ``"PARTIAL"``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

PARTIAL_XCOM_KEY = "partial"
PARTIAL_EXIT_CODE = 3


def mark_partial(context: Context, log: logging.Logger, reason: str) -> dict[str, Any]:
    """Record on the running task instance that this step ended PARTIAL; return what was recorded."""
    value = {"partial": True, "reason": reason}
    log.warning("PARTIAL: %s", reason)
    context["ti"].xcom_push(key=PARTIAL_XCOM_KEY, value=value)
    return value
