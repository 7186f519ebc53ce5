"""Which messages of a notification were already sent, so a retry of ``notify`` sends only the rest.

One notification is several SMTP messages (the email, one per SMS-gateway number). When the
server refuses one of them, the step fails and retries; without a memory of what went through,
the retry would mail everyone again. The memory is a small JSON file in the run's staging
(shared by every worker, like the failure records), scoped to the task instance's current
series of tries: Airflow's own ``max_tries - retries + 1``, the first try of the series, which a
retry keeps and a clear moves on. A cleared run therefore notifies again, as a new run would.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from airflow_batchtasks.storage.paths import staging_dir

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)

NOTIFY = "notify"


class SentLog:
    """The keys (``email``, ``sms:<address>``) already sent in this series of tries."""

    def __init__(self, dag_id: str, run_id: str, first_try: int) -> None:
        self.path = staging_dir(dag_id, run_id, NOTIFY) / f"sent-from-try-{first_try}.json"
        self.keys: list[str] = self._read()

    @classmethod
    def for_try(cls, context: Context, dag_id: str, retries: int) -> SentLog:
        ti = context["ti"]
        max_tries = getattr(ti, "max_tries", None)
        first_try = (max_tries - retries + 1) if isinstance(max_tries, int) and max_tries >= retries else 1
        return cls(dag_id, context["run_id"], first_try)

    def _read(self) -> list[str]:
        try:
            return list(json.loads(self.path.read_text())) if self.path.exists() else []
        except (OSError, ValueError) as exc:  # unreadable: sending again beats not sending at all
            log.warning("cannot read %s (%s): every message of this notification is sent", self.path, exc)
            return []

    def __contains__(self, key: str) -> bool:
        return key in self.keys

    def add(self, key: str) -> None:
        self.keys.append(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.keys))
