"""``[core] hostname_callable`` for test workers that share one machine.

Airflow records on each task instance the ``hostname`` of the worker that ran it. Two Celery workers on
the same machine would both report its FQDN, so a test could not tell which worker ran a step; each test
worker sets ``BATCHTASKS_WORKER_NAME`` and reports that instead. Without the variable it is Airflow's
default (the FQDN), so the callable is harmless anywhere else.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("BATCHTASKS_WORKER_NAME") or socket.getfqdn()
