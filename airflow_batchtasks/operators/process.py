"""Process step: a user's Python script may rewrite, split or produce the run's files.

How a script is run (the README documents it for users):

- in its own cached virtual environment with the task's ``requirements`` (``venvs``);
- in a fresh local temporary folder, the one place where local disk is right:
  the staged input files are downloaded into it and new files are written
  beside them; it is deleted afterwards;
- with its command line as ``scripts.env.script_argv`` builds it: when the task declares no
  params, ``sys.argv[1:]`` is the input files; when it does, ``sys.argv[1]`` is the first input
  file (``""`` without one, e.g. a ``python`` source; all are in ``BATCHTASK_INPUT_FILES``) and
  ``sys.argv[2:]`` the run's value of each param in declaration order, as text (also
  ``BATCHTASK_ARGS``, a JSON list), so a script that reads positional job arguments runs as written;
- with ``BATCHTASK_*`` environment variables and nothing else of the worker's
  environment (``scripts.env``), connection secrets only on opt-in;
- its stdout and stderr go to the task log line by line, as they are printed;
- run arguments may not choose its code: ``requirements`` and ``from`` that use ``params`` or
  ``dag_run.conf`` fail the step (a package or a URL picked by whoever triggers the run would be
  code they chose); ``script`` and ``entrypoint`` may, since they stay inside their folders.

Its result: when the last non-empty stdout line is a Python or JSON list of
paths (``print(out_paths)``), exactly those files are the output (``[]`` = no
file); otherwise the input files, possibly rewritten in place. Exit code 0 is
success, :data:`~airflow_batchtasks.operators.partial.PARTIAL_EXIT_CODE` (3)
is success with some records failed (PARTIAL), anything else fails the step
with the end of stderr in the error.
"""

from __future__ import annotations

import ast
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from airflow_batchtasks import config
from airflow_batchtasks.arguments.binding import refuse_arguments
from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.lineage.steps import ProcessLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.partial import PARTIAL_EXIT_CODE, mark_partial
from airflow_batchtasks.operators.progress import Progress
from airflow_batchtasks.scripts.env import connection_env, inherited_env, metadata_env, script_args, script_argv
from airflow_batchtasks.scripts.log_lines import LineLogger, Redactor
from airflow_batchtasks.scripts.source import ScriptSourceError, materialize
from airflow_batchtasks.scripts.venvs import ensure_venv
from airflow_batchtasks.storage.paths import check_file_name, storage_path
from airflow_batchtasks.storage.records import WRITE_BLOCK, md5_of

if TYPE_CHECKING:
    from airflow.sdk import Context

READ_SIZE = 64 * 1024


class ProcessOperator(ProcessLineage, BatchStepOperator):
    """Run the task's processing script on the files of ``input_step`` (or on nothing, for a python source).

    :param script: path of a script file or package folder, relative to the definitions folder
    :param inline: the script's code
    :param location: where to fetch the script (a ``Location`` as a dict), read at run time
    :param entrypoint: file to run inside a multi-file package
    :param requirements: packages installed into the script's own environment (templated)
    :param expose_connections: give the script the connections in ``connection_ids`` (with secrets)
    :param connection_ids: the connections the task uses
    :param input_step: task id whose returned files are the input; ``None`` for no input
    :param project: project name, for ``BATCHTASK_PROJECT``
    :param description: task description, for ``BATCHTASK_DESCRIPTION``
    :param arg_names: the task's declared params in declaration order: their values are ``sys.argv[2:]``
        and ``BATCHTASK_ARGS`` (taken from the definition, not from the run, so the order is the author's)
    """

    template_fields: Sequence[str] = ("script", "entrypoint", "location", "requirements")
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        script: str | None = None,
        inline: str | None = None,
        location: dict[str, Any] | None = None,
        entrypoint: str | None = None,
        requirements: Sequence[str] = (),
        expose_connections: bool = False,
        connection_ids: Sequence[str] = (),
        input_step: str | None = "extract",
        project: str | None = None,
        description: str = "",
        arg_names: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.script = script
        self.inline = inline
        self.location = location
        self.entrypoint = entrypoint
        self.requirements = list(requirements)
        self.expose_connections = expose_connections
        self.connection_ids = list(connection_ids)
        self.input_step = input_step
        self.project = project
        self.description = description
        self.arg_names = list(arg_names)
        self._proc: subprocess.Popen[bytes] | None = None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as usual, after checking that no run argument chooses a package or where the code comes from."""
        refuse_arguments(self, self.requirements, "processing.requirements", context, jinja_env, "a package to install")
        refuse_arguments(self, self.location, "processing.from", context, jinja_env, "where the script comes from")
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        upstream: list[dict[str, Any]] = []
        if self.input_step:
            upstream = context["ti"].xcom_pull(task_ids=self.input_step) or []
        try:
            python = ensure_venv(self.requirements, self.log)
        except ValueError as exc:
            raise AirflowFailException(f"processing.requirements: {exc}") from exc
        with tempfile.TemporaryDirectory(prefix=f"batchtasks-{self.batch_task}-") as tmp:
            work = Path(tmp) / "work"
            work.mkdir()
            try:
                entry = materialize(
                    Path(tmp) / "script", definitions_folder=config.definitions_folder(), script=self.script,
                    inline=self.inline, location=self.location, entrypoint=self.entrypoint, context=context,
                )
            except ScriptSourceError as exc:
                raise AirflowFailException(str(exc)) from exc
            inputs = [self._download(item, work) for item in upstream]
            redact = Redactor()
            env = inherited_env(str(python.parent))
            local_inputs = [str(i["local"]) for i in inputs]
            args = script_args(context.get("params"), self.arg_names)
            env.update(metadata_env(
                task=self.batch_task, description=self.description, project=self.project, owners=self.owner,
                context=context, work_dir=str(work), inputs=local_inputs, args=args,
            ))
            if self.expose_connections:
                env.update(connection_env(self.connection_ids, redact))
                self.log.info("Connections given to the script: %s", ", ".join(self.connection_ids) or "none")
            code, last_line, stderr_tail = self._run(
                [str(python), str(entry), *script_argv(local_inputs, args, self.arg_names)], env, work, redact,
                Progress.of(context, "process"),
            )
            if code == PARTIAL_EXIT_CODE:
                mark_partial(context, self.log, f"the processing script exited with {PARTIAL_EXIT_CODE}")
            elif code != 0:
                how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                tail = "\n".join(stderr_tail) or "(nothing on stderr)"
                raise AirflowException(f"the processing script {how}; end of its stderr:\n{tail}")
            outputs = self._outputs(last_line, work, inputs)
            return [self._stage(context, out) for out in outputs]

    def on_kill(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)

    # -- steps of execute -------------------------------------------------------------------------

    def _download(self, item: dict[str, Any], work: Path) -> dict[str, Any]:
        name = check_file_name(item["name"])
        local = work / name
        with storage_path(item["url"]).open("rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, WRITE_BLOCK)
        return {**item, "local": local, "md5_before": md5_of(local)[1]}

    def _run(
        self, cmd: list[str], env: dict[str, str], work: Path, redact: Redactor, progress: Progress | None = None
    ) -> tuple[int, str | None, list[str]]:
        """Run the script, streaming both pipes into the log from this thread; return (code, last line, stderr).

        ``progress`` hears the lines of stdout so far (what a running script's page shows).
        """
        self.log.info("Running %s", " ".join(cmd[1:]))
        out = LineLogger(self.log.info, redact)
        err = LineLogger(self.log.warning, redact)
        chunks: queue.Queue[tuple[LineLogger, bytes | None]] = queue.Queue()
        self._proc = proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: on_kill/timeouts stop the script's children too
        )
        readers = [
            threading.Thread(target=_pump, args=(pipe, sink, chunks), daemon=True)
            for pipe, sink in ((proc.stdout, out), (proc.stderr, err))
        ]
        for reader in readers:
            reader.start()
        try:
            open_pipes = len(readers)
            while open_pipes:
                sink, chunk = chunks.get()
                if chunk is None:
                    open_pipes -= 1
                else:
                    sink.feed(chunk)
                    if progress is not None and sink is out:
                        progress.lines(out.lines)
            out.close()
            err.close()
            return proc.wait(), out.last_non_empty, list(err.tail)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self._proc = None

    def _outputs(self, last_line: str | None, work: Path, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        paths = returned_paths(last_line)
        if paths is None:
            if inputs:
                self.log.info("The script returned no list of paths: the input file(s) are the output")
            else:
                self.log.info("The script returned no list of paths and had no input: no output file")
            return [{**i, "path": i["local"]} for i in inputs]
        self.log.info("The script returned %d file(s)", len(paths))
        by_path = {i["local"].resolve(): i for i in inputs}
        outputs, names = [], set()
        root = work.resolve()
        for raw in paths:
            path = (work / raw).resolve()
            if root not in path.parents:
                raise AirflowFailException(f"returned path {raw} is outside the work folder {work}: refused")
            if not path.is_file():
                raise AirflowFailException(f"returned path {raw} is not a file")
            if path.name in names:
                raise AirflowFailException(f"two returned files are named {path.name}: names must be unique")
            names.add(path.name)
            outputs.append({**by_path.get(path, {}), "name": path.name, "path": path})
        return outputs

    def _stage(self, context: Context, out: dict[str, Any]) -> dict[str, Any]:
        path: Path = out["path"]
        try:
            name = check_file_name(path.name)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        target = self.staging(context, "process") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, WRITE_BLOCK)
        size, md5 = md5_of(target)
        # rows: kept for an input the script left as it was; 0 for an empty file; else unknown.
        rows = out.get("rows") if out.get("md5_before") == md5 else (0 if size == 0 else None)
        self.log.info("Output %s: %d bytes%s", name, size, "" if rows is None else f", {rows} rows")
        return {"name": name, "url": str(target), "rows": rows}


def returned_paths(line: str | None) -> list[str] | None:
    """The list of paths a script printed as its last line (Python or JSON list of strings), else ``None``."""
    text = (line or "").strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None
    return None


def _pump(pipe: IO[bytes], sink: LineLogger, chunks: queue.Queue[tuple[LineLogger, bytes | None]]) -> None:
    """Reader thread: move a pipe's bytes to the main thread, which logs them (``None`` = closed)."""
    try:
        while chunk := pipe.read1(READ_SIZE):  # type: ignore[attr-defined]
            chunks.put((sink, chunk))
    finally:
        pipe.close()
        chunks.put((sink, None))
