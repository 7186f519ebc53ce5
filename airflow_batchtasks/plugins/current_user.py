"""Who is calling: Airflow's ``get_user``, the same on every supported Airflow version.

Airflow 3.2+ read the Bearer header, else the ``_token`` cookie its login sets. 3.1's ``get_user``
takes no request and reads only the header, so the pages (opened from Airflow's menu, with the cookie
alone), their scripts' calls to the REST API and the CSRF check of cookie writes would all be refused
there; on 3.1 the cookie is read here and resolved exactly as 3.1 resolves a Bearer token.
"""

from __future__ import annotations

import inspect
from typing import Annotated

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import bearer_scheme, get_user
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials


async def current_user(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None
) -> BaseUser:
    """The caller, from the Bearer token or the UI's session cookie (401 without either, as Airflow's routes)."""
    if "request" in inspect.signature(get_user).parameters:
        return await get_user(request, None, bearer)
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = bearer.credentials if bearer is not None and bearer.scheme.lower() == "bearer" else None
    return await resolve_user_from_token(header or request.cookies.get(COOKIE_NAME_JWT_TOKEN))
