"""Definition errors that always say where: file, line and field.

Users fix YAML by hand; an error that only says "validation failed" sends them
hunting. Every problem found while loading is one of these, collected (never
raised one by one) so a single run of ``validate`` shows them all.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DefinitionError:
    """One problem in one definition file.

    :param file: path of the YAML file, as given to the loader
    :param line: 1-based line of the offending key or value (0 when unknown)
    :param field: dotted field path inside the document, e.g. ``destinations[0].type``
    :param message: plain-language explanation, with a suggestion where obvious
    :param name: the definition's ``name`` when it could be read, so a broken task keeps its DAG id
    :param kind: the definition's ``kind`` when it could be read
    """

    file: str
    line: int
    field: str
    message: str
    name: str | None = None
    kind: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f"{self.field}: " if self.field else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{field}{self.message}"


class DefinitionsInvalid(Exception):
    """Raised by strict callers (CLI, API writes) when a set of definitions has errors."""

    def __init__(self, errors: list[DefinitionError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def format_field(path: tuple[str | int, ...]) -> str:
    """Render ``("destinations", 0, "type")`` as ``destinations[0].type``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse_field(field: str) -> tuple[str | int, ...]:
    """Inverse of :func:`format_field`: ``destinations[0].type`` -> ``("destinations", 0, "type")``."""
    path: list[str | int] = []
    for part in field.split("."):
        name, *indexes = part.replace("]", "").split("[")
        if name:
            path.append(name)
        path.extend(int(i) for i in indexes)
    return tuple(path)
