"""Who may see and do what on the pages: Airflow's own authentication and authorization, plus CSRF.

- **Authentication** is Airflow's ``get_user``, the dependency the REST API
  uses. Inside Airflow's UI the page is an iframe on the same origin, so the
  browser sends Airflow's ``_token`` cookie (set at login, scoped to Airflow's
  base path) and Airflow's token-refresh middleware, which wraps mounted plugin
  apps too, sees it like any UI request; an ``Authorization: Bearer`` header
  wins when present, as in the API. Without a valid token a page request is
  redirected to the auth manager's login page with ``next`` pointing back; a
  request from an iframe (``Sec-Fetch-Dest: iframe``) gets a 401 page instead,
  because a login page inside Airflow's own UI frame would nest the UI.
- **Authorization** is the API's: :func:`require` runs the same
  ``requires_dag`` check the API routes declare, on every action, server-side.
  Pages only *hide* the buttons a user may not use (:func:`allowed`).
- **CSRF**: cookie authentication lets any site make the browser send the
  cookie, so every POST must come from this origin (``Origin``, else
  ``Referer``) and carry :func:`csrf_token`, an HMAC of the user and a
  timestamp keyed with the API server's ``[api] secret_key`` (valid 12 hours).
  The cookie's ``SameSite=Lax`` is a further layer, not relied upon. The REST API
  holds cookie-authenticated writes to the same rule (:func:`cookie_write_guard`):
  same origin, or the token in the ``X-CSRF-Token`` header; Bearer calls are unchanged.
- **Flash messages** ride a signed, short-lived cookie (post/redirect/get).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param
from itsdangerous import BadSignature, URLSafeTimedSerializer

from airflow_batchtasks.plugins.api.deps import requires_dag
from airflow_batchtasks.plugins.data.access import DagAccessEntity, allowed_dag_ids

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from starlette.responses import Response

CSRF_MAX_AGE = 12 * 3600
#: Header in which a script of the pages sends :func:`csrf_token` with a REST API write.
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FLASH_COOKIE = "bt_flash"
FLASH_MAX_AGE = 120


class LoginRequired(Exception):
    """No valid Airflow credentials on a page request (answered by a login redirect or a 401 page)."""


class CsrfRejected(Exception):
    """A POST without this origin or without a valid form token (answered 403, nothing done)."""


def _secret() -> bytes:
    from airflow.configuration import conf

    key = conf.get("api", "secret_key", fallback="") or conf.get("api_auth", "jwt_secret", fallback="")
    if not key:  # Airflow itself refuses to run the API server without one; be explicit anyway
        raise RuntimeError("[api] secret_key is not set: the pages cannot sign their forms")
    return key.encode()


async def page_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> BaseUser:
    """Airflow's ``get_user`` for a page: a missing, expired or invalid token becomes :class:`LoginRequired`."""
    try:
        return await get_user(request, None, bearer)
    except HTTPException as exc:
        if exc.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
            raise LoginRequired(str(exc.detail)) from None
        raise


PageUser = Annotated[BaseUser, Depends(page_user)]


def login_url(request: Request) -> str:
    """The auth manager's login page, coming back to this page afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return get_auth_manager().get_url_login(next_url=target)


def require(user: BaseUser, method: ResourceMethod, name: str, entity: DagAccessEntity | None = None) -> None:
    """The API's own check for ``method`` on DAG ``name`` (403 HTTPException when refused)."""
    requires_dag(method, entity)(name, user)


def allowed(
    user: BaseUser, method: ResourceMethod, names: Iterable[str], entity: DagAccessEntity | None = None
) -> set[str]:
    """Names among ``names`` on which ``user`` may ``method`` (to decide which buttons a page shows)."""
    return allowed_dag_ids(user, method, names, entity)


# ----------------------------------------------------------------------------- CSRF


def _sign(user: BaseUser, stamp: str) -> str:
    message = f"batchtasks-ui|{user.get_id()}|{stamp}".encode()
    return hmac.new(_secret(), message, hashlib.sha256).hexdigest()


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


def action_user(request: Request, user: PageUser, csrf: Annotated[str, Form()] = "") -> BaseUser:
    """The caller of a POST action, once the request passed the CSRF checks."""
    check_csrf(request, user, csrf)
    return user


ActionUser = Annotated[BaseUser, Depends(action_user)]


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
    user = await get_user(request, None, None)  # 401 without a session, as every route
    if _same_origin(request) or _token_valid(user, request.headers.get(CSRF_HEADER, "")):
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN,
                        "a request signed in by the session cookie must come from this Airflow's pages "
                        f"(Origin/Referer) or carry their {CSRF_HEADER} header; API clients send a Bearer token")


# ----------------------------------------------------------------------------- flash messages


def _flash_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(), salt="batchtasks-ui-flash")


def set_flash(response: Response, request: Request, kind: str, text: str, **extra: Any) -> None:
    """Show ``text`` (kind ``ok`` or ``error``) on the next page this browser loads."""
    value = _flash_serializer().dumps({"kind": kind, "text": text[:1500], **extra})
    response.set_cookie(
        FLASH_COOKIE, value, max_age=FLASH_MAX_AGE, path=ui_root(request) or "/", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )


def read_flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = _flash_serializer().loads(raw, max_age=FLASH_MAX_AGE)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def clear_flash(request: Request, response: Response) -> None:
    response.delete_cookie(FLASH_COOKIE, path=ui_root(request) or "/")


def ui_root(request: Request) -> str:
    """The path the pages are mounted at (``/batchtasks/ui`` below Airflow's base path)."""
    return str(request.scope.get("root_path", "")).rstrip("/")
