"""A real Airflow 3 on CeleryExecutor: PostgreSQL metadata DB, Redis broker, Celery workers on their own queues.

Why a subclass of :class:`dev.airflow_runner.AirflowInstance` and not options on it: everything else (config
file, users, health checks, REST helpers, stopping process groups) is the same, and the LocalExecutor path
stays as simple as the tests that use it. What changes here:

- ``[core] executor = CeleryExecutor``, the metadata DB and Celery's result backend on PostgreSQL (SQLite
  cannot serve several machines; Celery refuses it as a result backend anyway), Redis as the broker;
- one ``airflow celery worker`` per :class:`CeleryWorker`, each with its own working folder (cwd and
  ``TMPDIR``), its own log-server port and its own queues, as if it were another machine; its task
  instances report ``hostname`` = the worker's name (see ``dev/worker_identity.py``), so a test can tell
  which worker ran which step.

The servers themselves (PostgreSQL, Redis, an S3 store) are the caller's: tests start them from
``tests/servers``, a benchmark may reuse them between runs.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dev.airflow_runner import AirflowError, AirflowInstance, airflow_executable, free_port, tail

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CeleryWorker:
    """One ``airflow celery worker``: its name (also the task instances' ``hostname``), queues and slots."""

    name: str
    queues: Sequence[str]
    concurrency: int = 2


class CeleryAirflowInstance(AirflowInstance):
    """Airflow with CeleryExecutor bound to 127.0.0.1; ``workers`` start after the other components are healthy.

    :param database_url: SQLAlchemy URL of an empty PostgreSQL database for Airflow's metadata
        (``postgresql+psycopg2://user:password@host:port/db``); Celery's results go there too
    :param broker_url: Celery broker, e.g. ``redis://127.0.0.1:6390/0``
    :param workers: the Celery workers to start
    :param parallelism: ``[core] parallelism`` (task instances the scheduler keeps running at once)
    :param executor: ``LocalExecutor`` runs the same setup (PostgreSQL metadata, no workers) so a benchmark
        can compare the two executors on the same database
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        database_url: str,
        broker_url: str,
        workers: Sequence[CeleryWorker],
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        parallelism: int = 8,
        executor: str = "CeleryExecutor",
        triggerer: bool = True,
        startup_timeout: float = 240.0,
    ) -> None:
        super().__init__(home, dags_folder, env=env, port=port, triggerer=triggerer,
                         startup_timeout=startup_timeout, reuse_migrated_db=False)
        self.database_url = database_url
        self.broker_url = broker_url
        self.workers = tuple(workers)
        self.parallelism = parallelism
        self.executor = executor
        if executor != "CeleryExecutor" and self.workers:
            raise ValueError(f"{executor} runs tasks itself: Celery workers make no sense with it")

    def worker_dir(self, name: str) -> Path:
        """The worker's own working folder (its cwd; ``tmp/`` in it is its ``TMPDIR``)."""
        return self.home / "workers" / name

    def _write_config(self) -> None:
        super()._write_config()
        path = self.home / "airflow.cfg"
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.read(path)
        changes = {
            "core": {"executor": self.executor, "parallelism": str(self.parallelism)},
            "database": {
                "sql_alchemy_conn": self.database_url,
                # Five components plus the workers' result-backend connections share one small server.
                "sql_alchemy_pool_size": "3",
                "sql_alchemy_max_overflow": "5",
            },
            "celery": {
                "broker_url": self.broker_url,
                "result_backend": "db+" + self.database_url.replace("+psycopg2", ""),
                "sync_parallelism": "1",
                "worker_enable_remote_control": "False",
            },
        }
        for section, options in changes.items():
            if not cfg.has_section(section):
                cfg.add_section(section)
            for key, value in options.items():
                cfg.set(section, key, value)
        with open(path, "w") as fh:
            cfg.write(fh)

    def _enable_wal(self) -> None:
        """Nothing to do: the metadata DB is PostgreSQL, not SQLite."""

    def start(self) -> None:
        super().start()
        started = time.monotonic()
        try:
            for worker in self.workers:
                self._start_worker(worker)
            for worker in self.workers:
                self._wait_worker_ready(worker, started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise

    def _start_worker(self, worker: CeleryWorker) -> None:
        folder = self.worker_dir(worker.name)
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        pythonpath = os.pathsep.join(p for p in (str(REPO), self.env.get("PYTHONPATH", "")) if p)
        env = {
            **self.env,
            "BATCHTASKS_WORKER_NAME": worker.name,
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "dev.worker_identity.hostname",
            "PYTHONPATH": pythonpath,
            "TMPDIR": str(folder / "tmp"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        }
        command = [
            *airflow_executable(), "celery", "worker", "--queues", ",".join(worker.queues),
            "--concurrency", str(worker.concurrency), "--celery-hostname", f"{worker.name}@%h",
            "--without-gossip", "--without-mingle",
        ]
        with open(self.log_dir / f"worker-{worker.name}.log", "ab") as log:
            self._procs[f"worker-{worker.name}"] = subprocess.Popen(
                command, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_worker_ready(self, worker: CeleryWorker, deadline: float) -> None:
        """Celery prints ``<name>@<host> ready.`` once it consumes from the broker."""
        log = self.log_dir / f"worker-{worker.name}.log"
        while time.monotonic() < deadline:
            self._check_alive()
            if log.exists() and f"{worker.name}@" in (text := log.read_text(errors="replace")) and " ready." in text:
                return
            time.sleep(0.5)
        raise AirflowError(f"Celery worker {worker.name} not ready:\n{tail(log)}")

    def process_logs(self, lines: int = 60) -> str:
        workers = "\n".join(
            f"===== worker-{w.name} (last {lines} lines) =====\n{tail(self.log_dir / f'worker-{w.name}.log', lines)}"
            for w in self.workers
        )
        return super().process_logs(lines) + "\n" + workers
