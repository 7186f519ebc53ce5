"""CSRF: cookie-authenticated writes must come from this Airflow's pages, for the API and the pages alike.

Cookie authentication lets any site make the browser send Airflow's session
cookie, so every write authenticated by it must come from this origin
(``Origin``, else ``Referer``) and, for the pages' forms, carry
:func:`csrf_token`: an HMAC of the user and a timestamp keyed with the API
server's ``[api] secret_key`` (valid 12 hours). The REST API holds
cookie-authenticated writes to the same rule (:func:`cookie_write_guard`):
same origin, or the token in the ``X-CSRF-Token`` header; Bearer calls are
unchanged. Shared by ``plugins/api`` and ``plugins/views``, so it sits below both.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import HTTPException, Request, status
from fastapi.security.utils import get_authorization_scheme_param

from airflow_batchtasks.plugins.current_user import current_user

CSRF_MAX_AGE = 12 * 3600
#: Header in which a script of the pages sends :func:`csrf_token` with a REST API write.
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Exception):
    """A POST without this origin or without a valid form token (answered 403, nothing done)."""


def secret_key() -> bytes:
    from airflow.configuration import conf

    key = conf.get("api", "secret_key", fallback="") or conf.get("api_auth", "jwt_secret", fallback="")
    if not key:  # Airflow itself refuses to run the API server without one; be explicit anyway
        raise RuntimeError("[api] secret_key is not set: the pages cannot sign their forms")
    return key.encode()


def _sign(user: BaseUser, stamp: str) -> str:
    message = f"batchtasks-ui|{user.get_id()}|{stamp}".encode()
    return hmac.new(secret_key(), message, hashlib.sha256).hexdigest()


def csrf_token(user: BaseUser) -> str:
    stamp = str(int(time.time()))
    return f"{stamp}.{_sign(user, stamp)}"


def _same_origin(request: Request) -> bool:
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return False
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return urlsplit(source).netloc.lower() == host.split(",")[0].strip().lower()


def _token_valid(user: BaseUser, token: str) -> bool:
    stamp, _, mac = token.partition(".")
    fresh = stamp.isdigit() and 0 <= time.time() - int(stamp) <= CSRF_MAX_AGE
    return fresh and hmac.compare_digest(mac, _sign(user, stamp))


def check_csrf(request: Request, user: BaseUser, token: str) -> None:
    if not _same_origin(request):
        raise CsrfRejected("the form was not sent from this Airflow's pages (Origin/Referer check)")
    if not _token_valid(user, token):
        raise CsrfRejected("the form has expired or was not issued to you: reload the page and try again")


async def cookie_write_guard(request: Request) -> None:
    """REST API dependency: a write authenticated by the session cookie comes from this origin or the pages.

    A Bearer token is sent on purpose by its holder, so Bearer calls pass unchanged;
    a cookie is sent by the browser to whoever asks, so a cookie-authenticated
    POST/PUT/PATCH/DELETE needs this origin (``Origin``, else ``Referer``) or the
    pages' CSRF token in the :data:`CSRF_HEADER` header. Refused: 403, nothing done.
    """
    if request.method in _SAFE_METHODS:
        return
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() == "bearer" and credentials:
        return
    user = await current_user(request)  # 401 without a session, as every route
    if _same_origin(request) or _token_valid(user, request.headers.get(CSRF_HEADER, "")):
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN,
                        "a request signed in by the session cookie must come from this Airflow's pages "
                        f"(Origin/Referer) or carry their {CSRF_HEADER} header; API clients send a Bearer token")
