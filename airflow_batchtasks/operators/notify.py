"""The ``notify`` step: email (and SMS-gateway messages) after a run succeeded or finally failed.

It is the DAG's teardown: it runs once every step is done, after the last
retry, whatever happened, and it does not count for the run's state, so a
notification that fails shows as a failed ``notify`` task while a successful
run stays successful (``DagRun`` ignores teardowns unless
``on_failure_fail_dagrun``). The outcome comes from the states of the run's
other tasks (through the Task SDK, no DB access); the failing step's error and
log excerpt from the failure record it wrote (``step_failure``). A retry sends only the
messages an earlier try did not get through (``notify.sent``).

Subject and message are rendered when sending, not as template fields, because
they may use what is only known then: ``status``, ``status_text``, ``task``,
``files`` (name, size, md5, rows), ``failed_step``, ``error``, ``error_line``,
``failures``, besides the run's context and the date helpers.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_batchtasks.compat import AirflowException, AirflowSkipException
from airflow_batchtasks.notify.attachments import gather_attachments, gather_embedded
from airflow_batchtasks.notify.mail import (
    DEFAULT_MESSAGE,
    DEFAULT_SUBJECT,
    Report,
    build_email,
    build_sms,
    split_recipients,
)
from airflow_batchtasks.notify.sent import SentLog
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.step_failure import read_failure

if TYPE_CHECKING:
    from airflow.sdk import Context

FAILED = {"failed", "upstream_failed"}


class NotifyOperator(BatchStepOperator):
    """Send the ``on_success`` or ``on_failure`` notification of a batch task's run.

    :param on_success: the definition's ``notify.on_success`` (``to``, ``cc``, ``conn_id``, ``attach``,
        ``embed``, ``subject``, ``message``) or ``None``
    :param on_failure: the same for a run that failed
    :param encoding: the output files' encoding, to embed them as text
    """

    # Rendered at send time (see the module doc): nothing to render before execute.
    template_fields: Sequence[str] = ()
    ui_color = "#fff3c4"

    def __init__(
        self, *, on_success: dict[str, Any] | None = None, on_failure: dict[str, Any] | None = None,
        encoding: str = "utf-8", **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.on_success = on_success
        self.on_failure = on_failure
        self.encoding = encoding

    def execute(self, context: Context) -> dict[str, Any]:
        states = self._step_states(context)
        failed_steps = sorted(t for t, s in states.items() if s == "failed")
        if any(s in FAILED for s in states.values()):
            status, target = "failed", self.on_failure
        elif any(s == "skipped" for s in states.values()):
            raise AirflowSkipException(f"steps were skipped ({states}): no notification")
        else:
            status, target = "success", self.on_success
        if not target:
            raise AirflowSkipException(f"the run {status}; no notification is configured for that")
        failures = [self._failure(context, t) for t in failed_steps]
        files = self._files(context)
        extra = self._template_extras(status, files, failures)
        render_ctx = {**context, **extra}
        subject = self._fill(target.get("subject") or DEFAULT_SUBJECT, render_ctx)
        message = self._fill(target.get("message") or DEFAULT_MESSAGE, render_ctx)
        report = Report(self.batch_task, context["run_id"], extra["status_text"], message, files, failures)
        attachments = gather_attachments(files, report.notes) if target.get("attach") else []
        if target.get("embed"):
            report.embedded = gather_embedded(files, self.encoding, report.notes, attachments)
        for note in report.notes:
            self.log.warning("Notification: %s", note)
        to = [self._fill(a, render_ctx) for a in target.get("to") or []]
        cc = [self._fill(a, render_ctx) for a in target.get("cc") or []]
        sent = SentLog.for_try(context, self.dag_id, self.retries or 0)
        return self._send(target.get("conn_id") or "smtp_default", to, cc, subject, message, report, attachments,
                          sent)

    def _step_states(self, context: Context) -> dict[str, str]:
        run_id = context["run_id"]
        found = context["ti"].get_task_states(dag_id=self.dag_id, run_ids=[run_id])
        return {t: str(s) for t, s in (found.get(run_id) or {}).items() if t != self.task_id and s is not None}

    def _failure(self, context: Context, task_id: str) -> dict[str, Any]:
        record = read_failure(self.dag_id, context["run_id"], task_id) or {
            "task_id": task_id,
            "error": "no details were recorded (the step was killed, timed out or failed before it started); "
                     "see its log",
        }
        from airflow.configuration import conf

        base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
        try_part = f"?try_number={record['try_number']}" if record.get("try_number") else ""
        record["log_url"] = f"{base}/dags/{self.dag_id}/runs/{quote(context['run_id'])}/tasks/{task_id}{try_part}"
        return record

    def _files(self, context: Context) -> list[dict[str, Any]]:
        """The delivered files, else those packaged (a run that failed while delivering)."""
        ti = context["ti"]
        for step in ("deliver", "package"):
            if step in self.upstream_task_ids:
                files = ti.xcom_pull(task_ids=step)
                if files:
                    return list(files)
        return []

    def _template_extras(self, status: str, files: list[dict[str, Any]], failures: list[dict[str, Any]]) -> dict:
        first = failures[0] if failures else {}
        error = str(first.get("error", ""))
        return {
            "task": self.batch_task,
            "status": status,
            "status_text": "succeeded" if status == "success" else "FAILED",
            "files": [{k: f.get(k) for k in ("name", "size", "md5", "rows")} for f in files],
            "failed_step": first.get("task_id", ""),
            "error": error,
            "error_line": next((line for line in error.splitlines() if line.strip()), ""),
            "failures": failures,
        }

    def _fill(self, template: str, context: dict[str, Any]) -> str:
        return str(self.render_template(template, context, self.get_template_env()))

    def _send(self, conn_id: str, to: list[str], cc: list[str], subject: str, message: str, report: Report,
              attachments: list[Any], sent: SentLog) -> dict[str, Any]:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        mail_to, sms_to = split_recipients(to)
        mail_cc, sms_cc = split_recipients(cc)
        sms = sms_to + sms_cc
        with SmtpHook(smtp_conn_id=conn_id) as hook:
            # The hook's send_email_smtp only builds HTML mails from local files; a text+HTML mail and the
            # plain SMS need our own messages, sent over the connection the hook opened and logged in.
            client = getattr(hook, "_smtp_client", None)
            if client is None:
                raise AirflowException(f"SMTP connection `{conn_id}` did not open a client")
            sender = _sender(hook)
            if (mail_to or mail_cc) and "email" in sent:
                self.log.info("The email to %s went out in an earlier try: not sent again", mail_to + mail_cc)
            elif mail_to or mail_cc:
                client.send_message(build_email(sender, mail_to, mail_cc, subject, report, attachments))
                sent.add("email")
                self.log.info("Emailed %s (cc %s): %s; %d attachment(s)", mail_to, mail_cc, subject, len(attachments))
            for number in sms:
                if f"sms:{number}" in sent:
                    self.log.info("The short message to %s went out in an earlier try: not sent again", number)
                    continue
                client.send_message(build_sms(sender, number, message))
                sent.add(f"sms:{number}")
                self.log.info("Sent a short message to %s", number)
        return {"status": report.status_text, "to": mail_to + mail_cc, "sms": sms, "subject": subject}


def _sender(hook: Any) -> str:
    """The connection's ``from_email``, else Airflow's ``[email] from_email``, else ``airflow@<this host>``."""
    from airflow.configuration import conf

    return hook.from_email or conf.get("email", "from_email", fallback=None) or f"airflow@{socket.getfqdn()}"
