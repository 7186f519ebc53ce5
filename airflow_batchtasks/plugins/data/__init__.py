"""Queries and actions behind the REST API, reusable by the UI pages.

Functions here take an SQLAlchemy session (and the caller's identity where an
action needs it), return plain pydantic models and raise the exceptions of
:mod:`.errors`; they know nothing of HTTP, so a server-rendered page can call
exactly what the API calls.
"""
