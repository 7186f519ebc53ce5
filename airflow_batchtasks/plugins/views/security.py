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
- **CSRF**: every POST must come from this origin and carry the form token
  (:mod:`airflow_batchtasks.plugins.csrf`, shared with the REST API).
- **Flash messages** ride a signed, short-lived cookie (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import bearer_scheme
from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials
from itsdangerous import BadSignature, URLSafeTimedSerializer

from airflow_batchtasks.plugins.api.deps import requires_dag
from airflow_batchtasks.plugins.csrf import check_csrf, secret_key
from airflow_batchtasks.plugins.current_user import current_user
from airflow_batchtasks.plugins.data.access import DagAccessEntity, allowed_dag_ids

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from starlette.responses import Response

FLASH_COOKIE = "bt_flash"
FLASH_MAX_AGE = 120


class LoginRequired(Exception):
    """No valid Airflow credentials on a page request (answered by a login redirect or a 401 page)."""


async def page_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> BaseUser:
    """Airflow's ``get_user`` for a page: a missing, expired or invalid token becomes :class:`LoginRequired`."""
    try:
        return await current_user(request, bearer)
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


def action_user(request: Request, user: PageUser, csrf: Annotated[str, Form()] = "") -> BaseUser:
    """The caller of a POST action, once the request passed the CSRF checks."""
    check_csrf(request, user, csrf)
    return user


ActionUser = Annotated[BaseUser, Depends(action_user)]


# ----------------------------------------------------------------------------- flash messages


def _flash_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(), salt="batchtasks-ui-flash")


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
