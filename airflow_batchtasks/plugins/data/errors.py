"""Outcomes the data layer reports without knowing HTTP; the API maps each to one status code."""

from __future__ import annotations


class DataError(Exception):
    """Base: ``str(exc)`` is a message safe to show to the caller."""

    status_code = 400


class NotFound(DataError):
    status_code = 404


class Conflict(DataError):
    """The target exists but its state does not allow the action (a running run, a terminal instance)."""

    status_code = 409


class Invalid(DataError):
    """Bad input; ``errors`` holds one message per problem (``file:line: field: message`` for definitions)."""

    status_code = 422

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


class ReadOnly(DataError):
    """The definitions folder is not writable through the API (``[batchtasks] definitions_writable``)."""

    status_code = 405
