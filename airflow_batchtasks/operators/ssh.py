"""Extract step for ``source.type: ssh``: run a command on a remote host; its output is the run's log.

The connection comes from Airflow's SSHHook (keys, host-key checks, proxies
are its business). The command runs through our own read loop rather than
``SSHHook.exec_ssh_client_command`` because that one keeps the whole output
in memory, logs chunks rather than lines, and gives up after ten silent
seconds (``CMD_TIMEOUT``), which a quiet nightly batch job easily is. Here a
command runs as long as it needs: the step's ``execution_timeout`` is the
limit, and killing the task closes the channel.

Run arguments (``params``, ``dag_run.conf``) in the command are quoted as one
shell word each (``shell_words``); ``| unquoted`` pastes one as it is. They may
not choose where a ``command_from`` is fetched from: that would be choosing the code.
"""

from __future__ import annotations

import selectors
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_batchtasks.arguments.binding import ArgumentTemplateError, refuse_arguments
from airflow_batchtasks.arguments.shell_words import ShellBinder
from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.progress import Progress
from airflow_batchtasks.scripts.log_lines import LineLogger, Redactor

if TYPE_CHECKING:
    from airflow.sdk import Context

READ_SIZE = 32 * 1024


class SshCommandOperator(BatchStepOperator):
    """Run ``command`` (or the text fetched from ``command_from``) on ``conn_id``'s host; non-zero exit fails.

    :param conn_id: Airflow SSH connection
    :param command: shell command line (templated; run arguments quoted as one shell word each)
    :param command_from: a ``Location`` (as a dict) whose text is the command; fetched and rendered
        while templates render, so the UI's rendered template shows the command that ran
    """

    template_fields: Sequence[str] = ("command", "command_from")
    template_fields_renderers = {"command": "bash"}
    ui_color = "#e0e0e0"

    def __init__(
        self, *, conn_id: str, command: str | None = None, command_from: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.command = command
        self.command_from = command_from
        self._client: Any = None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the other fields as usual; the command (or the text ``command_from`` points at) with quoting.

        So the UI's "Rendered Template" shows the command that ran, quotes included, as for ``query_from``.
        """
        template, self.command = self.command, None  # rendered below, with run arguments quoted
        refuse_arguments(self, self.command_from, "source.command_from", context, jinja_env,
                         "where the command comes from")
        super().render_template_fields(context, jinja_env)
        if template is None and self.command_from:
            from airflow_batchtasks.transports.locations import LocationError, fetch_text

            try:
                template = fetch_text(self.command_from, context, self.log)
            except LocationError as exc:
                raise AirflowException(f"source.command_from: {exc}") from exc
        if template is not None:
            self.command = self._render_quoted(template, context, jinja_env or self.get_template_env())

    def _render_quoted(self, template: str, context: Context, jinja_env: Any) -> str:
        binder = ShellBinder()
        env = binder.environment(jinja_env)
        field = "source.command" if self.command_from is None else "source.command_from"
        try:
            return binder.finish(str(self.render_template(template, binder.context(context), env)))
        except ArgumentTemplateError as exc:
            raise AirflowFailException(f"{field}: {exc}") from exc

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow.providers.ssh.hooks.ssh import SSHHook

        command = self.command or ""
        hook = SSHHook(ssh_conn_id=self.conn_id)
        self.log.info("Running on %s:\n%s", self.conn_id, command)
        with hook.get_conn() as client:
            self._client = client
            try:
                code, err_tail = self._run(client, command, Progress.of(context, "extract"))
            finally:
                self._client = None
        if code != 0:
            tail = "\n".join(err_tail) or "(nothing on stderr)"
            raise AirflowException(f"the remote command exited with code {code}; end of its stderr:\n{tail}")
        self.log.info("The remote command exited with code 0")
        return []  # no output file: an ssh task's result is its log

    def on_kill(self) -> None:
        if self._client is not None:
            self._client.close()

    def _run(self, client: Any, command: str, progress: Progress | None = None) -> tuple[int, list[str]]:
        """Stream stdout (info) and stderr (warning) line by line until the command exits.

        ``progress`` hears the lines of stdout so far (the run page's progress of a long command).
        """
        redact = Redactor()
        out = LineLogger(self.log.info, redact)
        err = LineLogger(self.log.warning, redact)
        channel = client.get_transport().open_session()
        try:
            channel.exec_command(command)
            channel.shutdown_write()  # no stdin: a command waiting for input ends instead of hanging
            with selectors.DefaultSelector() as selector:
                selector.register(channel, selectors.EVENT_READ)
                while True:
                    # a short timeout: stderr-only output and the exit status do not always wake the selector
                    selector.select(timeout=1)
                    # checked before reading: SSH sends the exit status after all data, so once it is
                    # here, reading until the buffers are empty gets everything
                    exited = channel.exit_status_ready()
                    while channel.recv_ready():
                        out.feed(channel.recv(READ_SIZE))
                        if progress is not None:
                            progress.lines(out.lines)
                    while channel.recv_stderr_ready():
                        err.feed(channel.recv_stderr(READ_SIZE))
                    if exited:
                        break
            out.close()
            err.close()
            return channel.recv_exit_status(), list(err.tail)
        finally:
            channel.close()
