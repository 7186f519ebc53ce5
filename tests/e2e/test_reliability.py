"""Faults and races against a real Airflow: a worker killed mid-delivery, a burst of triggers, a paused task.

One Airflow for the module (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor),
driven through the provider's REST API as a user would:

- a task process killed with SIGKILL while it writes a large file to a local destination (caught by
  watching the destination folder for the upload's hidden ``.part`` file and killing the process that
  holds it open): the retry delivers, the destination never shows a partial file under the final
  name, and the file history holds one record;
- 20 triggers of one task at the same moment from 20 threads: never two runs in progress at once
  (sampled all along, and checked again from the runs' start and end times), the others queued, all end;
- an orchestration whose step's task is disabled: the step fails at once with "paused", never waits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.e2e.airflow_instance import AirflowInstance
from tests.e2e.api_support import call, ok, serving, start_api_airflow, wait_for, wait_run
from tests.servers import SshServer
from tests.servers.fixtures import sshd_server  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

#: Lines of the large file: 700 MiB, so writing it takes long enough to be caught half-way.
BIG_LINES = 700 * 1024
BIG_LINE = b"y" * 1023 + b"\n"

BIG = f"""
kind: task
name: big_delivery
description: One large file to a local folder
retries: {{count: 2, delay: 1s}}
source: {{type: python}}
processing:
  inline: |
    import os
    path = os.path.join(os.environ["BATCHTASK_WORK_DIR"], "big.txt")
    line = b"y" * 1023 + b"\\n"
    with open(path, "wb") as fh:
        for _ in range({BIG_LINES}):
            fh.write(line)
    print([path])
destinations:
  - type: local
    path: __BIG_OUT__
"""

#: One step (an SSH command that takes a few seconds), so runs would overlap if they could.
BURST = """
kind: task
name: burst_target
description: Sleeps on the SSH server
source: {type: ssh, conn_id: box, command: "sleep 3"}
"""

PAUSED = """
kind: task
name: dormant_export
enabled: false
source: {type: ssh, conn_id: box, command: "echo never"}
---
kind: task
name: after_dormant
source: {type: ssh, conn_id: box, command: "echo after"}
---
kind: orchestration
name: through_dormant
steps:
  - task: dormant_export
  - task: after_dormant
"""


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def airflow(root: Path, sshd_server: SshServer) -> Iterator[AirflowInstance]:  # noqa: F811
    big_out = root / "big_out"
    big_out.mkdir()
    instance = start_api_airflow(
        root,
        extra_definitions={"big_delivery": BIG.replace("__BIG_OUT__", str(big_out)), "burst_target": BURST,
                           "paused": PAUSED},
        env={"AIRFLOW_CONN_BOX": json.dumps(sshd_server.connection("ssh"))},
    )
    with serving(instance, ("big_delivery", "burst_target", "dormant_export", "after_dormant", "through_dormant"),
                 timeout=180):
        yield instance


def expected_big_md5() -> str:
    digest = hashlib.md5()
    for _ in range(BIG_LINES):
        digest.update(BIG_LINE)
    return digest.hexdigest()


def holders(airflow: AirflowInstance, path: Path) -> list[psutil.Process]:
    """Processes of this Airflow's scheduler tree (executor workers, supervisors, tasks) holding ``path`` open."""
    scheduler = psutil.Process(airflow._procs["scheduler"].pid)  # noqa: SLF001 - the harness keeps the handles
    found = []
    for proc in scheduler.children(recursive=True):
        try:
            if any(f.path == str(path) for f in proc.open_files()):
                found.append(proc)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def test_a_worker_killed_mid_delivery_is_retried_without_a_partial_file_or_a_second_record(
    airflow: AirflowInstance, root: Path
) -> None:
    out = root / "big_out"
    run = ok(call(airflow, "POST", "/tasks/big_delivery/runs", json={}))
    part_name = re.compile(r"\.big\.txt\.[0-9a-f]{12}\.part")

    def half_written() -> tuple[Path, int, list[psutil.Process]] | None:
        for entry in out.iterdir():
            size = entry.stat().st_size if part_name.fullmatch(entry.name) else 0
            if 0 < size < BIG_LINES * len(BIG_LINE) // 2:
                writers = holders(airflow, entry)
                if writers:
                    return entry, size, writers
        return None

    part, size_at_kill, writers = wait_for("the deliver step writing big.txt", half_written, timeout=600, every=0.02)
    for proc in writers:
        os.kill(proc.pid, signal.SIGKILL)
    killed = {p.pid for p in writers}
    print(f"\nkilled {sorted(killed)} at {size_at_kill / 2**20:.0f} MiB of {BIG_LINES / 1024:.0f} MiB")
    assert not (out / "big.txt").exists(), "nothing under the final name while the upload was half done"

    done = wait_run(airflow, "big_delivery", run["run_id"], timeout=900)
    assert done["state"] == "success", done
    deliver = next(s for s in done["steps"] if s["step"] == "deliver")
    assert deliver["try_number"] == 2, "the killed try failed and the retry delivered"
    assert sorted(p.name for p in out.iterdir()) == ["big.txt"], "no partial file, no leftover .part"
    assert not part.exists()
    want = expected_big_md5()
    assert hashlib.md5((out / "big.txt").read_bytes()).hexdigest() == want
    assert (out / "big.txt").stat().st_size == BIG_LINES * len(BIG_LINE)

    history = ok(call(airflow, "GET", "/tasks/big_delivery/files"))
    assert history["total"] == 1, history
    [record] = history["files"]
    assert (record["name"], record["md5"], record["run_id"]) == ("big.txt", want, run["run_id"])
    assert len(record["destinations"]) == 1 and record["destinations"][0]["path"] == str(out / "big.txt")


def test_twenty_simultaneous_triggers_run_one_at_a_time(airflow: AirflowInstance) -> None:
    dag_id, count = "burst_target", 20
    airflow.token("admin")  # fetched once, before the threads share it
    answers: list[Any] = [None] * count
    gate = threading.Barrier(count)

    def trigger(i: int) -> None:
        gate.wait()
        answers[i] = call(airflow, "POST", f"/tasks/{dag_id}/runs", json={})

    most_running = 0
    samples = 0
    saw_queued = False
    stop = threading.Event()

    def sample() -> None:
        nonlocal most_running, samples, saw_queued
        while not stop.is_set():
            resp = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
            if resp.status_code == 200:
                states = [r["state"] for r in resp.json()["dag_runs"]]
                most_running = max(most_running, states.count("running"))
                saw_queued = saw_queued or "queued" in states
                samples += 1
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [threading.Thread(target=trigger, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        failed = [(a.status_code, a.text[:300]) for a in answers if a.status_code != 200]
        assert failed == [], f"every trigger is answered with its queued run: {failed}"
        run_ids = [a.json()["run_id"] for a in answers]
        assert len(set(run_ids)) == count, "twenty distinct runs"

        def all_ended() -> list[dict[str, Any]] | None:
            runs = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
            return runs if len(runs) == count and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = wait_for("the twenty runs to end", all_ended, timeout=1200, every=1)
    finally:
        stop.set()
        sampler.join()
    print(f"\n{samples} samples of the runs' states; most running at once: {most_running}")
    assert samples > 20 and saw_queued, "sampled while the runs waited"
    assert most_running == 1, f"at most one run in progress at any moment (saw {most_running})"
    assert {r["state"] for r in runs} == {"success"}
    spans = sorted((datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"])) for r in runs)
    overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
    assert overlaps == [], "each run started after the previous one ended"


def test_an_orchestration_step_on_a_disabled_task_fails_at_once_as_paused(airflow: AirflowInstance) -> None:
    assert airflow.api("GET", "/api/v2/dags/dormant_export").json()["is_paused"] is True
    started = time.monotonic()
    launched = call(airflow, "POST", "/orchestrations/through_dormant/instances", user="user")
    assert launched.status_code == 200, launched.text
    instance = launched.text

    def ended() -> dict[str, Any] | None:
        report = ok(call(airflow, "GET", f"/orchestrations/through_dormant/instances/{instance}"))
        return report if report["status"] not in ("QUEUED", "RUNNING") else None

    report = wait_for("the instance to end", ended, timeout=300)
    waited = time.monotonic() - started
    assert report["status"] == "FAILED", report
    first, second = report["steps"]
    assert first["status"] == "FAILED" and "paused" in first["reason"], first
    assert "paused" in report["reason"], report["reason"]
    assert second["status"] == "SKIPPED", "the chain stops after the failed step"
    runs = airflow.api("GET", "/api/v2/dags/dormant_export/dagRuns").json()
    assert runs["total_entries"] == 0, "no run of the paused task was queued to wait on"
    print(f"\nthe instance ended {report['status']} in {waited:.0f} s")
