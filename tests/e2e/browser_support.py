"""What the browser tests share besides the ``browser`` fixture (tests/e2e/conftest.py)."""

from __future__ import annotations

from typing import Any


def sign_in(context: Any, user: str, *, fab: bool = False) -> Any:
    """A page of ``context`` signed in as ``user`` through the auth manager's own login page (the test users'
    password is their name): the SimpleAuthManager's, or with ``fab`` the FAB auth manager's form (its
    fields are named ``username`` and ``password``; Enter submits it)."""
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/auth/login/" if fab else "/auth/login")
    if fab:
        page.locator("input[name=username]").fill(user)
        page.locator("input[name=password]").fill(user)
        page.locator("input[name=password]").press("Enter")
    else:
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill(user)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    return page
