"""Extract step for ``source.type: http``: a batch task that calls an API endpoint (Cymmetri-style).

The call goes through Airflow's HttpHook, so the connection holds the base
URL and credentials: ``login``/``password`` give HTTP basic auth (the hook's
own behaviour); a connection extra ``{"bearer_token": "..."}``, or a password
without a login (as for ``url`` locations), sends ``Authorization: Bearer
<token>`` instead. The extra ``bearer_token`` is not sent as a header of its
own, which the hook would otherwise do with every extra key; other extra keys
stay what the hook makes of them (default headers, ``timeout``, ``verify``...).

A status outside ``expect_status`` fails the step with the status and the
start of the body in the log. Retries apply to 5xx, 408, 425 and 429 (often transient); any other
4xx fails at once (credentials, path or body are wrong: asking again cannot help). 207
Multi-Status, or a JSON body with ``"status": "PARTIAL"``, ends the step
PARTIAL (see ``operators.partial``); 207 is accepted even when not listed.
With ``keep_response`` the body is streamed to staging as the output file.

Run arguments (``params``, ``dag_run.conf``) in ``endpoint`` are URL-encoded as
one path segment or query value each (``/`` ``?`` ``&`` ``@`` ``:`` included), so
an argument can neither change the path's shape nor the host; ``| unquoted``
pastes one as it is. Whatever the template, the final URL must stay on the
connection's scheme, host and port: an endpoint with its own scheme or host
(``https://other``, ``//other``, ``@other`` on a connection without a host) is
refused before any request is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from airflow.providers.http.hooks.http import HttpHook

from airflow_batchtasks.arguments.binding import MARKER_RE, ArgBinder, ArgumentTemplateError, as_text
from airflow_batchtasks.compat import AirflowException, AirflowFailException
from airflow_batchtasks.definitions.masking import register_secrets
from airflow_batchtasks.lineage.steps import HttpLineage
from airflow_batchtasks.operators.base import BatchStepOperator
from airflow_batchtasks.operators.partial import mark_partial
from airflow_batchtasks.operators.step_failure import permanent_client_error
from airflow_batchtasks.storage.paths import check_file_name
from airflow_batchtasks.storage.records import write_blocks

if TYPE_CHECKING:
    from airflow.sdk import Context

BEARER_EXTRA = "bearer_token"
MULTI_STATUS = 207
SHOWN_BODY = 2000  # characters of a body put in the log / error
PARTIAL_SCAN_LIMIT = 10 * 1024 * 1024  # a kept body larger than this is not parsed for a PARTIAL status
CHUNK = 1024 * 1024
# `https://other/...`, `//other/...` (also with backslashes, which browsers and some parsers read as `/`)
_OWN_ORIGIN = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?[/\\]{2}")


class BatchHttpHook(HttpHook):
    """HttpHook that sends a bearer token: extra ``bearer_token``, or a password without a login."""

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None) -> Any:
        session = super().get_conn(headers, extra_options)
        token = session.headers.pop(BEARER_EXTRA, None)
        if not token:
            conn = self.get_connection(self.http_conn_id)
            token = conn.password if conn.password and not conn.login else None
        if token:
            from airflow.sdk.log import mask_secret

            mask_secret(token)
            session.auth = None  # the token wins over login/password
            if not (headers and any(k.lower() == "authorization" for k in headers)):
                session.headers["Authorization"] = f"Bearer {token}"
        return session


class HttpCallOperator(HttpLineage, BatchStepOperator):
    """Call ``method endpoint`` on ``conn_id`` and check the status; optionally keep the body as the output.

    :param conn_id: Airflow HTTP connection (base URL, auth, default headers in extra)
    :param endpoint: path (and query) appended to the connection's URL (templated; run arguments URL-encoded)
    :param method: GET, POST, PUT, PATCH or DELETE
    :param json_body: sent as JSON (templated, also inside nested values)
    :param data: raw body (form string) when there is no ``json_body`` (templated)
    :param headers: extra request headers (templated)
    :param expect_status: statuses that count as success
    :param keep_response: write the body to staging as the run's output file
    :param output_name: the output file's name when ``keep_response`` (templated)
    """

    template_fields: Sequence[str] = ("endpoint", "json_body", "data", "headers", "output_name")
    template_fields_renderers = {"json_body": "json", "headers": "json"}
    ui_color = "#ffe0cc"

    def __init__(
        self,
        *,
        conn_id: str,
        endpoint: str,
        method: str = "POST",
        json_body: Any = None,
        data: str | None = None,
        headers: dict[str, str] | None = None,
        expect_status: Sequence[int] = (200,),
        keep_response: bool = False,
        output_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.endpoint = endpoint
        self.method = method.upper()
        self.json_body = json_body
        self.data = data
        self.headers = dict(headers or {})
        self.expect_status = list(expect_status)
        self.keep_response = keep_response
        self.output_name = output_name

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the other fields as usual, and ``endpoint`` with every run argument URL-encoded."""
        template, self.endpoint = self.endpoint, ""
        super().render_template_fields(context, jinja_env)
        binder = UrlBinder()
        env = binder.environment(jinja_env or self.get_template_env())
        try:
            self.endpoint = binder.finish(str(self.render_template(template, binder.context(context), env)))
        except ArgumentTemplateError as exc:
            raise AirflowFailException(f"source.endpoint: {exc}") from exc

    def execute(self, context: Context) -> list[dict[str, Any]]:
        hook = BatchHttpHook(method=self.method, http_conn_id=self.conn_id)
        check_stays_on_host(hook, self.endpoint)
        request: dict[str, Any] = {}
        if self.json_body is not None:
            request["json"] = self.json_body
        # sensitive headers and body values (rendered) are hidden from this task's log, e.g. an echoing API
        form = dict(parse_qsl(self.data, keep_blank_values=True)) if isinstance(self.data, str) else self.data
        register_secrets({"endpoint": self.endpoint, "headers": self.headers, "json": self.json_body, "data": form})
        self.log.info("%s %s on connection %s", self.method, self.endpoint, self.conn_id)
        response = hook.run(
            self.endpoint, data=self.data, headers=self.headers,
            extra_options={"check_response": False, "stream": self.keep_response}, **request,
        )
        try:
            status = response.status_code
            if status not in self.expect_status and status != MULTI_STATUS:
                body = _text(response.content)
                message = (
                    f"{self.method} {self.endpoint} answered {status} {response.reason}, "
                    f"expected {self.expect_status}; body: {_shorten(body)}"
                )
                if permanent_client_error(status):
                    raise AirflowFailException(f"{message} (a client error: not retried)")
                raise AirflowException(message)
            if self.keep_response:
                files, head = self._keep(context, response)
            else:
                files, head = [], response.content
            self.log.info("Answered %s %s (%s)", status, response.reason, response.headers.get("Content-Type", "-"))
            if head:
                self.log.info("Response: %s", _shorten(_text(head)))
        finally:
            response.close()
        reason = partial_reason(status, head)
        if reason:
            mark_partial(context, self.log, reason)
        return files

    def _keep(self, context: Context, response: Any) -> tuple[list[dict[str, Any]], bytes]:
        """Stream the body to staging; return the output file and the body (or its start, if huge)."""
        try:
            name = check_file_name(self.output_name or "")
        except ValueError as exc:
            raise AirflowFailException(f"output.name: {exc}") from exc
        target = self.staging(context, "extract") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        size, head = 0, bytearray()
        with target.open("wb") as fh:
            for chunk in response.iter_content(CHUNK):
                write_blocks(fh, chunk)
                size += len(chunk)
                if len(head) <= PARTIAL_SCAN_LIMIT:
                    head += chunk
        self.log.info("Response body kept as %s (%d bytes)", name, size)
        body = bytes(head) if size <= PARTIAL_SCAN_LIMIT else bytes(head[:SHOWN_BODY])
        return [{"name": name, "url": str(target), "rows": 0 if size == 0 else None}], body


class UrlBinder(ArgBinder):
    """Renders run arguments as markers, then URL-encodes each one (``quote(value, safe="")``)."""

    def __init__(self) -> None:
        super().__init__("URL-encoded (write `| unquoted` to paste one as it is)")

    def finish(self, rendered: str) -> str:
        self.check_leftovers(MARKER_RE.sub("", rendered))
        return MARKER_RE.sub(lambda m: quote(as_text(self.value_of(m), ","), safe=""), rendered)


def check_stays_on_host(hook: HttpHook, endpoint: str) -> None:
    """Refuse an endpoint that would send the call (and the connection's credentials) to another origin."""
    if _OWN_ORIGIN.match(endpoint):
        raise AirflowFailException(
            f"source.endpoint `{endpoint}` has its own scheme or host: an endpoint is a path on the connection's URL"
        )
    base, url = hook.url_from_endpoint(""), hook.url_from_endpoint(endpoint)
    if _origin(url) is None or _origin(url) != _origin(base):
        raise AirflowFailException(
            f"source.endpoint `{endpoint}` makes the URL {url}, which is not on the host of connection "
            f"`{hook.http_conn_id}` ({base}): refused"
        )


def _origin(url: str) -> tuple[str | None, str | None, int | None] | None:
    """Scheme, host and port as ``requests`` will read them (urllib3's parser), ``None`` if unreadable."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parsed = parse_url(url)
    except LocationParseError:
        return None
    return parsed.scheme, parsed.host, parsed.port


def partial_reason(status: int, body: bytes) -> str | None:
    """Why a response means PARTIAL (207, or a JSON object whose ``status`` is ``PARTIAL``), else ``None``."""
    if status == MULTI_STATUS:
        return "the API answered 207 Multi-Status"
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return None
    if isinstance(document, dict) and str(document.get("status", "")).upper() == "PARTIAL":
        return 'the API answered "status": "PARTIAL"'
    return None


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_BODY else text[:SHOWN_BODY] + f"... [{len(text) - SHOWN_BODY} more characters]"
