"""Fetch a query, command or script from where a definition says it lives (``query_from`` & co).

``location`` is the definition's ``Location`` as a dict: ``{type, conn_id, path, url, ref, cache}``.

- ``sftp`` / ``ftp`` / ``smb`` / ``local``: the file at ``path`` (a relative ``local`` path is
  relative to the definitions folder) through the same readers as the file source;
- ``url``: an HTTP(S) GET of ``url``. With ``conn_id`` (an HTTP connection) the official HttpHook
  configures the request: extra fields become headers and login/password basic auth, as in every
  Airflow HTTP task; a password without a login is sent as ``Authorization: Bearer <password>``.
  A relative ``url`` is joined to the connection's host;
- ``git``: a file of a GitLab repository through its raw-file API, ``conn_id`` naming an HTTP
  connection to the GitLab server whose password is an access token (sent as ``PRIVATE-TOKEN``);
  ``path`` is ``<group>/<project>/-/<file path>`` (as in GitLab's own URLs), ``ref`` a branch, tag
  or commit (default: the project's default branch). Other forges: use ``url`` with their raw URL.

With ``cache: true`` the fetched bytes are kept (before any templating, so run arguments still
apply to the cached copy) under ``<archive_url>/_cache/<task>/``; when the location cannot be
reached the last copy is used and a WARNING says so. Without a copy the error stands.
"""

from __future__ import annotations

import hashlib
import json
import logging
import posixpath
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow_batchtasks.storage.paths import PathEscapes, archive_root, archive_segment

if TYPE_CHECKING:
    from airflow.sdk import Context

# A query or script, not a data file: refuse anything bigger rather than exhaust the worker's memory.
MAX_BYTES = 16 * 1024 * 1024
HTTP_TIMEOUT = (10, 120)

_log = logging.getLogger(__name__)


class LocationError(RuntimeError):
    """A location could not be read (and no cached copy could stand in)."""


def describe(location: dict[str, Any]) -> str:
    """``url https://...`` / ``sftp vendor:/queries/q.sql``: what the logs call a location (no secrets)."""
    # a query string may carry a token (``?private_token=...``): never log it
    target = (location.get("url") or "").split("?", 1)[0] if location["type"] == "url" else location.get("path")
    conn = f"{location['conn_id']}:" if location.get("conn_id") else ""
    ref = f"@{location['ref']}" if location.get("ref") else ""
    return f"{location['type']} {conn}{target}{ref}"


def fetch_text(location: dict[str, Any], context: Context, log: logging.Logger | None = None) -> str:
    """The text at ``location`` (UTF-8, a leading byte-order mark dropped), from the cache if unreachable."""
    return fetch_bytes(location, context, log).decode("utf-8-sig")


def fetch_bytes(location: dict[str, Any], context: Context, log: logging.Logger | None = None) -> bytes:
    """The bytes at ``location``; see the module doc for the types and the cache."""
    log = log or _log
    try:
        data = _fetch(location)
    except PathEscapes:
        raise  # outside [batchtasks] local_roots: no retry, and no cached copy stands in for a refusal
    except Exception as exc:
        if not location.get("cache"):
            raise LocationError(f"cannot read {describe(location)}: {exc}") from exc
        cached = _read_cache(location, context)
        if cached is None:
            raise LocationError(f"cannot read {describe(location)} and there is no cached copy: {exc}") from exc
        data, fetched_at = cached
        log.warning(
            "Cannot read %s (%s: %s); using the cached copy fetched at %s",
            describe(location), type(exc).__name__, exc, fetched_at,
        )
        return data
    log.info("Fetched %s (%d bytes)", describe(location), len(data))
    if location.get("cache"):
        _write_cache(location, context, data)
    return data


def _fetch(location: dict[str, Any]) -> bytes:
    kind = location["type"]
    if kind == "url":
        return _fetch_url(location["url"], location.get("conn_id"), "Authorization")
    if kind == "git":
        return _fetch_url(_gitlab_raw_endpoint(location["path"], location.get("ref")), location["conn_id"],
                          "PRIVATE-TOKEN")
    return _fetch_file(location)


def _fetch_file(location: dict[str, Any]) -> bytes:
    from airflow_batchtasks.transports.registry import open_reader

    path = location["path"]
    if location["type"] == "local":
        from airflow_batchtasks import config
        from airflow_batchtasks.transports.local import LocalReader

        folder = str(config.definitions_folder())
        path = path if posixpath.isabs(path) else posixpath.join(folder, path)
        # [batchtasks] local_roots: the definitions folder (queries kept next to definitions) is allowed too
        reader: Any = LocalReader(f"location `{location['path']}`", also=(folder,))
    else:
        reader = open_reader(location["type"], location.get("conn_id"))
    try:
        with reader.open(path) as fh:
            return _limited(fh.read(MAX_BYTES + 1), path)
    finally:
        reader.close()


def _limited(data: bytes, where: str) -> bytes:
    if len(data) > MAX_BYTES:
        raise LocationError(f"{where} is larger than {MAX_BYTES // (1024 * 1024)} MB: not a query or script")
    return data


def _gitlab_raw_endpoint(path: str, ref: str | None) -> str:
    project, sep, file_path = path.strip("/").partition("/-/")
    if not sep or not project or not file_path:
        raise LocationError(
            f"git path `{path}` must be `<group>/<project>/-/<file path>`, e.g. `data/queries/-/sales/daily.sql`"
        )
    endpoint = f"/api/v4/projects/{quote(project, safe='')}/repository/files/{quote(file_path, safe='')}/raw"
    return f"{endpoint}?ref={quote(ref, safe='')}" if ref else endpoint


def _fetch_url(url: str, conn_id: str | None, token_header: str) -> bytes:
    import requests

    if not conn_id:
        response = requests.get(url, timeout=HTTP_TIMEOUT, stream=True)
    else:
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method="GET", http_conn_id=conn_id)
        conn = hook.get_connection(conn_id)
        headers = {}
        extra_headers = {k.lower() for k in conn.extra_dejson}
        if conn.password and not conn.login and token_header.lower() not in extra_headers:
            value = conn.password if token_header == "PRIVATE-TOKEN" else f"Bearer {conn.password}"
            headers[token_header] = value
        session = hook.get_conn(headers=headers)
        if not url.startswith(("http://", "https://")):
            url = hook.url_from_endpoint(url)
        response = session.get(url, timeout=HTTP_TIMEOUT, stream=True)
    with response:
        response.raise_for_status()
        data = response.raw.read(MAX_BYTES + 1, decode_content=True)
    return _limited(data, url.split("?", 1)[0])


# -- cache ------------------------------------------------------------------------------------------


def _cache_file(location: dict[str, Any], context: Context) -> Any:
    identity = {k: location.get(k) for k in ("type", "conn_id", "path", "url", "ref")}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]
    dag_id = context["ti"].dag_id
    return archive_root() / "_cache" / archive_segment(dag_id) / digest


def _read_cache(location: dict[str, Any], context: Context) -> tuple[bytes, str] | None:
    path = _cache_file(location, context)
    meta = path.parent / (path.name + ".json")
    if not path.exists():
        return None
    fetched_at = json.loads(meta.read_text()).get("fetched_at", "?") if meta.exists() else "?"
    return path.read_bytes(), fetched_at


def _write_cache(location: dict[str, Any], context: Context, data: bytes) -> None:
    """Write through temporary names so a concurrent reader never sees half a copy."""
    path = _cache_file(location, context)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"location": describe(location), "fetched_at": datetime.now(timezone.utc).isoformat()}
    for target, body in ((path, data), (path.parent / (path.name + ".json"), json.dumps(meta).encode())):
        tmp = target.parent / f".{target.name}.tmp"
        tmp.write_bytes(body)
        tmp.rename(target)
