"""Run a real Airflow 3 on 127.0.0.1 for end-to-end tests and the demo.

Why this module lives in ``dev/`` and not in ``tests/``: the demo (``python -m dev.demo``) and the e2e tests
both need it, and the demo must not depend on the test tree. ``tests/e2e/airflow_instance.py`` re-exports it.

Why four processes (``api-server``, ``scheduler``, ``dag-processor``, ``triggerer``) instead of
``airflow standalone``: standalone is a thin parent that starts exactly these four commands anyway, but it
merges their output into one pipe, insists on managing the admin password itself, only detects readiness by
polling the DB, and stops its children on Ctrl-C only -- a SIGTERM kills the parent and orphans the
components. Running the components ourselves gives one log file per component (so a failure says which
component died and why), lets us pre-write the users/passwords, use the HTTP health endpoint for readiness,
and stop everything reliably by killing each component's process group. Startup speed is the same.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import importlib.metadata
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

#: username -> SimpleAuthManager role. Every user's password is its username (see ``PASSWORDS``).
USERS: dict[str, str] = {"admin": "admin", "viewer": "viewer", "user": "user", "op": "op"}
PASSWORDS: dict[str, str] = {name: name for name in USERS}

COMPONENTS: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
#: Methods that can be sent again without doing anything twice (RFC 9110, 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
#: username -> FAB role, for ``auth_manager=FAB_AUTH_MANAGER`` (same users and passwords as above).
FAB_ROLES: dict[str, str] = {"admin": "Admin", "viewer": "Viewer", "user": "User", "op": "Op"}


class AirflowError(RuntimeError):
    """Airflow did not start, died, or an API call failed; the message carries the evidence."""


def free_port() -> int:
    """Return a currently free TCP port on 127.0.0.1 (tiny race window, acceptable for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:``port`` (SO_REUSEADDR like uvicorn: TIME_WAIT is fine)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def airflow_executable() -> list[str]:
    """The ``airflow`` CLI of *this* interpreter's environment, independent of ``$PATH``."""
    script = Path(sys.executable).parent / "airflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def tail(path: Path, lines: int = 60) -> str:
    """Last ``lines`` lines of a text file, or a note that it does not exist."""
    if not path.exists():
        return f"<{path} does not exist>"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class AirflowInstance:
    """A real Airflow 3 (SQLite, LocalExecutor, SimpleAuthManager) bound to 127.0.0.1:``port``.

    ``home`` becomes ``AIRFLOW_HOME`` (airflow.cfg, airflow.db, task logs in ``logs/``, component logs in
    ``process_logs/``). Secrets are kept across restarts of the same home so encrypted connections survive.
    ``env`` is added to the components' environment last, so it can override any option
    (``AIRFLOW__SECTION__KEY``) and add connections (``AIRFLOW_CONN_*``, JSON or URI) and variables.
    Inherited ``AIRFLOW*`` variables of the calling process are dropped so a developer's shell cannot leak
    into the instance. DAGs are paused at creation (Airflow's default): call ``unpause``.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        *,
        triggerer: bool = True,
        startup_timeout: float = 180.0,
        reuse_migrated_db: bool = True,
        auth_manager: str = SIMPLE_AUTH_MANAGER,
    ) -> None:
        self.home = Path(home).resolve()
        self.dags_folder = Path(dags_folder).resolve()
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.extra_env = dict(env or {})
        self.components = COMPONENTS if triggerer else tuple(c for c in COMPONENTS if c != "triggerer")
        self.startup_timeout = startup_timeout
        self.reuse_migrated_db = reuse_migrated_db
        self.auth_manager = auth_manager
        self.log_dir = self.home / "process_logs"
        self.startup_seconds: float | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._tokens: dict[str, str] = {}
        self._client: httpx.Client | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> AirflowInstance:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def env(self) -> dict[str, str]:
        """Environment of every Airflow process started by this instance (also used by ``cli``)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        base.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW_CONFIG=str(self.home / "airflow.cfg"),
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
        )
        base.update(self.extra_env)
        return base

    def start(self) -> None:
        """Write config, migrate the DB, start the components and wait until the health endpoint is green."""
        if self._procs:
            raise AirflowError("already started")
        if not port_is_free(self.port):  # else the health checks could talk to whatever holds the port
            raise AirflowError(f"port {self.port} is already in use")
        started = time.monotonic()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self._write_config()
        try:
            self._migrate()
            if self.auth_manager == FAB_AUTH_MANAGER:
                self._create_fab_users()
            for name in self.components:
                self._spawn(name)
            self._wait_healthy(started + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM each component, wait up to ``timeout``, then SIGKILL each component's process group.

        SIGTERM goes to the component's main process only, which shuts its own children down in order (a
        group-wide SIGTERM makes the triggerer wait 10 s for its already-killed child); the SIGKILL of the
        group afterwards guarantees nothing survives (executor workers, task supervisors, parsers).
        """
        procs, self._procs = self._procs, {}
        leftovers = _descendants(procs.values())
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        try:
            for proc in procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.1, deadline - time.monotonic()))
        finally:  # also on a second Ctrl-C: never leave orphans behind
            for proc in procs.values():
                _killpg(proc, signal.SIGKILL)
                proc.wait()
            for child in leftovers:  # processes that left the group (setsid) but are still ours
                with contextlib.suppress(Exception):  # already gone
                    child.kill()
            if self._client is not None:
                self._client.close()
                self._client = None
            self._tokens.clear()

    def _spawn(self, name: str) -> None:
        # Own session per component: stop() can kill the whole tree (executor workers, task
        # supervisors, parser processes, uvicorn workers) with one killpg per component.
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self._procs[name] = subprocess.Popen(
                [*airflow_executable(), name],
                cwd=self.home,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop_component(self, name: str, timeout: float = 15.0) -> None:
        """Stop one component (e.g. ``api-server``) the way :meth:`stop` does, the others keep running."""
        proc = self._procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        _killpg(proc, signal.SIGKILL)
        proc.wait()

    def start_component(self, name: str) -> None:
        """Start a component :meth:`stop_component` stopped and wait until Airflow is healthy again."""
        self._spawn(name)
        self._wait_healthy(time.monotonic() + self.startup_timeout)

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.poll() is None for p in self._procs.values())

    def cli(
        self, *args: str, log_name: str | None = None, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` against this home. Output is captured, or appended to ``log_name``.log."""
        command = [*airflow_executable(), *args]
        if log_name is None:
            return subprocess.run(
                command, cwd=self.home, env=self.env, capture_output=True, text=True, timeout=timeout
            )
        with open(self.log_dir / f"{log_name}.log", "a") as log:
            return subprocess.run(
                command,
                cwd=self.home,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
            )

    def process_logs(self, lines: int = 60) -> str:
        """Tails of all component logs, for failure messages."""
        names = ["db-migrate", *self.components]
        return "\n".join(
            f"===== {n} (last {lines} lines) =====\n{tail(self.log_dir / f'{n}.log', lines)}" for n in names
        )

    # ------------------------------------------------------------------ config
    def _write_config(self) -> None:
        """Write airflow.cfg (a manual ``AIRFLOW_HOME=... airflow ...`` sees the same setup) + passwords."""
        cfg_path = self.home / "airflow.cfg"
        old = configparser.ConfigParser(interpolation=None)
        old.read(cfg_path)

        def keep(section: str, key: str, new: str) -> str:
            return old.get(section, key, fallback="") or new

        from cryptography.fernet import Fernet  # airflow dependency

        api_url = self.base_url
        settings: dict[str, dict[str, Any]] = {
            "core": {
                "dags_folder": self.dags_folder,
                "executor": "LocalExecutor",
                "load_examples": False,
                # LocalExecutor forks `parallelism` workers up front: keep it small on small machines.
                "parallelism": 4,
                "auth_manager": self.auth_manager,
                "simple_auth_manager_users": ",".join(f"{u}:{r}" for u, r in USERS.items()),
                "simple_auth_manager_passwords_file": self.home / "simple_auth_manager_passwords.json",
                "fernet_key": keep("core", "fernet_key", Fernet.generate_key().decode()),
                # Task supervisors talk to the api-server through this URL (default is localhost:8080!).
                "execution_api_server_url": f"{api_url}/execution/",
                # Re-serialise changed DAGs immediately (default 30 s) so tests see edits quickly.
                "min_serialized_dag_update_interval": 1,
            },
            # Keep sqlite3's default 5 s busy timeout: see api() for why a longer one makes things worse.
            "database": {"sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}"},
            "api": {
                "host": "127.0.0.1",
                "port": self.port,
                "base_url": api_url,
                "workers": 1,
                "secret_key": keep("api", "secret_key", secrets.token_urlsafe(32)),
                "expose_config": True,
                "expose_stacktrace": True,  # 500s carry the real error instead of "see logs for ID x"
            },
            # Must be identical in scheduler (signs task tokens) and api-server (verifies them); Airflow
            # generates a random one per process if airflow.cfg lacks it.
            "api_auth": {
                "jwt_secret": keep("api_auth", "jwt_secret", base64.b64encode(os.urandom(64)).decode())
            },
            "logging": {
                "base_log_folder": self.home / "logs",
                "colored_console_log": False,
                # Defaults 8793/8794 would collide between concurrent instances.
                "worker_log_server_port": free_port(),
                "trigger_log_server_port": free_port(),
            },
            "scheduler": {"scheduler_idle_sleep_time": 0.5, "scheduler_heartbeat_sec": 2},
            "dag_processor": {
                "refresh_interval": 2,  # look for new/removed files every 2 s (default 300)
                "min_file_process_interval": 5,  # re-parse known files every 5 s (default 30)
                "bundle_refresh_check_interval": 1,
                "stale_dag_threshold": 10,
                "print_stats_interval": 0,
            },
        }
        cfg = configparser.ConfigParser(interpolation=None)
        cfg.read_dict({s: {k: str(v) for k, v in opts.items()} for s, opts in settings.items()})
        with open(cfg_path, "w") as fh:
            cfg.write(fh)
        cfg_path.chmod(0o600)
        (self.home / "simple_auth_manager_passwords.json").write_text(json.dumps(PASSWORDS) + "\n")

    def _migrate(self) -> None:
        """``airflow db migrate``, or copy a DB migrated earlier by the same code (saves ~5 s).

        The copy is only used for a brand-new home; an existing DB is always migrated for real. Its name
        holds a hash of everything that decides the tables it carries (see ``_template_key``), so a
        template made by an older checkout (other provider tables or migrations) is never reused.
        """
        db = self.home / "airflow.db"
        template = Path(tempfile.gettempdir()) / f"airflow-runner-{_template_key()}.db"
        if self.reuse_migrated_db and not db.exists() and template.exists():
            shutil.copyfile(template, db)
            self._enable_wal()
            return
        migrate = self.cli("db", "migrate", log_name="db-migrate", timeout=300)
        if migrate.returncode != 0:
            raise AirflowError(
                f"`airflow db migrate` failed (rc={migrate.returncode}):\n"
                + tail(self.log_dir / "db-migrate.log")
            )
        self._enable_wal()
        if self.reuse_migrated_db and not template.exists():
            partial = template.with_suffix(f".{os.getpid()}.tmp")
            with sqlite3.connect(db) as src, sqlite3.connect(partial) as dst:
                src.backup(dst)  # consistent copy even in WAL mode
            os.replace(partial, template)

    def _create_fab_users(self) -> None:
        """``airflow users create`` for each of ``USERS`` with its ``FAB_ROLES`` role (kept if it exists)."""
        for name, role in FAB_ROLES.items():
            done = self.cli("users", "create", "--username", name, "--password", PASSWORDS[name], "--role", role,
                            "--firstname", name, "--lastname", "test", "--email", f"{name}@example.com", timeout=300)
            if done.returncode != 0 and "already exist" not in done.stdout + done.stderr:
                raise AirflowError(f"`airflow users create {name}` failed:\n{done.stdout}\n{done.stderr}")

    def _enable_wal(self) -> None:
        """Switch the DB to WAL (persistent): readers no longer block the one writer.

        With the default rollback journal, five processes polling one SQLite file on a busy 2-core machine
        hit "database is locked" much more often (see ``api``).
        """
        with sqlite3.connect(self.home / "airflow.db") as db:
            db.execute("PRAGMA journal_mode=WAL")

    def _wait_healthy(self, deadline: float) -> None:
        wanted = [c.replace("-", "_") for c in self.components if c != "api-server"]
        last = "no answer yet"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                health = self.client.get("/api/v2/monitor/health", timeout=5).json()
                last = json.dumps(health)
                if all((health.get(c) or {}).get("status") == "healthy" for c in wanted):
                    return
            except (httpx.HTTPError, ValueError) as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise AirflowError(
            f"Airflow at {self.base_url} not healthy after {self.startup_timeout:.0f}s; last health: {last}\n"
            + self.process_logs()
        )

    def _check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self._procs.items() if p.poll() is not None}
        if dead:
            raise AirflowError(f"Airflow component(s) exited: {dead}\n" + self.process_logs())

    # ------------------------------------------------------------------ HTTP API
    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.base_url, timeout=30)
        return self._client

    def token(self, username: str = "admin") -> str:
        """JWT for ``username`` from ``POST /auth/token`` (SimpleAuthManager), cached per user."""
        if username not in self._tokens:
            resp = self.client.post(
                "/auth/token", json={"username": username, "password": PASSWORDS.get(username, username)}
            )
            _raise_for(resp, f"login as {username!r}")
            self._tokens[username] = resp.json()["access_token"]
        return self._tokens[username]

    def api(
        self,
        method: str,
        path: str,
        username: str | None = "admin",
        *,
        replay_if: Callable[[], bool] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """Raw call (``path`` like ``/api/v2/dags``) as ``username`` (None: anonymous); no status check.

        A 500 "database is locked" is sent again (up to 5 times) when that cannot do anything twice: for
        idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) always; for any other (POST, PATCH) only if
        the caller passes ``replay_if`` and it answers True after the failure, i.e. it checked that the
        failed attempt left nothing behind (``trigger`` looks for the run it named). Otherwise the 500 is
        returned as it came: the failure may have come after the request had done its work (an endpoint
        that acts, then writes its audit entry), and a blind replay would do it twice.

        Why the 500 happens: on SQLite the api-server can deadlock itself. The audit-log dependency of
        write endpoints commits synchronously on the event loop while a task-execution request holds the
        write lock and needs that same loop to commit; sqlite3's busy timeout (5 s) breaks the tie by
        failing our request.
        """
        headers = dict(kw.pop("headers", None) or {})
        if username is not None:
            headers.setdefault("Authorization", f"Bearer {self.token(username)}")
        for _ in range(5):
            resp = self.client.request(method, path, headers=headers, **kw)
            if not (resp.status_code >= 500 and "database is locked" in resp.text):
                break
            if method.upper() not in IDEMPOTENT_METHODS and (replay_if is None or not replay_if()):
                break
            time.sleep(0.5)
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.api(method, path, **kw)
        _raise_for(resp, f"{method} {path}")
        return resp.json()

    def import_errors(self) -> list[dict[str, Any]]:
        return self._json("GET", "/api/v2/importErrors", params={"limit": 1000})["import_errors"]

    def wait_for_dag(self, dag_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the dag-processor has parsed and stored ``dag_id``; return the DAG's API record."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            resp = self.api("GET", f"/api/v2/dags/{dag_id}")
            if resp.status_code == 200:
                return resp.json()
            if resp.status_code != 404:
                _raise_for(resp, f"GET dag {dag_id}")
            if time.monotonic() > deadline:
                errors = json.dumps(self.import_errors(), indent=1)
                raise AirflowError(
                    f"DAG {dag_id!r} not parsed after {timeout:.0f}s. Import errors: {errors}\n"
                    + self.process_logs()
                )
            time.sleep(0.5)

    def unpause(self, dag_id: str) -> None:
        # Sets a state rather than changing it by a step: sending it twice is the same as once.
        self._json("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}, replay_if=lambda: True)

    def pause(self, dag_id: str) -> None:
        self._json("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": True}, replay_if=lambda: True)

    def trigger(
        self,
        dag_id: str,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | str | None = None,
        username: str = "admin",
    ) -> str:
        """Create a manual DAG run; return its run_id. ``logical_date`` must be timezone-aware if given.

        The run id is chosen here, in Airflow's own format, so a failed attempt can be checked: it is only
        sent again when no run of that id exists (see ``api``).
        """
        if isinstance(logical_date, datetime):
            logical_date = logical_date.isoformat()
        run_id = f"manual__{datetime.now(timezone.utc).isoformat()}"
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}

        def not_created() -> bool:
            return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").status_code == 404

        resp = self.api(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body, username=username, replay_if=not_created
        )
        if resp.status_code >= 500 and not not_created():
            return run_id  # the request failed after creating the run: it exists, and only once
        _raise_for(resp, f"POST /api/v2/dags/{dag_id}/dagRuns")
        return resp.json()["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._json("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        """Poll until the run is ``success`` or ``failed``; return that state."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            state = self.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_RUN_STATES:
                return state
            if time.monotonic() > deadline:
                tis = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
                raise AirflowError(
                    f"Run {dag_id}/{run_id} still {state!r} after {timeout:.0f}s; tasks: {tis}\n"
                    + self.process_logs()
                )
            time.sleep(0.5)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self._json("GET", path, params={"limit": 1000})["task_instances"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task's log as text, one line per event (``timestamp level logger: event k=v``)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        data = self._json(
            "GET",
            path,
            params={"full_content": "true", "map_index": map_index},
            headers={"Accept": "application/json"},
        )
        return "\n".join(_format_log_entry(e) for e in data.get("content") or [])


#: Context keys repeated on every task log event; dropped from ``task_log`` text to keep it readable.
_LOG_CONTEXT_KEYS = frozenset(
    {"dag_id", "run_id", "task_id", "ti_id", "map_index", "try_number", "filename", "lineno", "loc"}
)


def _format_log_entry(entry: Any) -> str:
    if not isinstance(entry, dict):
        return str(entry)
    entry = {k: v for k, v in entry.items() if k not in _LOG_CONTEXT_KEYS}
    head = " ".join(str(entry.pop(k)) for k in ("timestamp", "level", "logger") if entry.get(k))
    event = entry.pop("event", "")
    extra = " ".join(f"{k}={v}" for k, v in entry.items())
    return f"{head}: {event} {extra}".rstrip()


def _template_key() -> str:
    """Airflow's version + a hash of the provider's table models and migrations (the tables a migrated DB holds)."""
    import hashlib

    import airflow_batchtasks.db

    digest = hashlib.sha256()
    folder = Path(airflow_batchtasks.db.__file__).parent
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".py", ".ini", ".mako")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{importlib.metadata.version('apache-airflow-core')}-{digest.hexdigest()[:16]}"


def _raise_for(resp: httpx.Response, what: str) -> None:
    if resp.is_error:
        raise AirflowError(f"{what} -> HTTP {resp.status_code}: {resp.text[:2000]}")


def _killpg(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _descendants(procs: Iterable[subprocess.Popen[bytes]]) -> list[Any]:
    """All descendant processes (psutil is a dev dependency; without it we rely on killpg alone)."""
    try:
        import psutil
    except ImportError:
        return []
    found = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            found.extend(psutil.Process(proc.pid).children(recursive=True))
    return found
