"""Run arguments in a query become bind parameters, never SQL text.

A query template such as ``where region = '{{ params.region }}'`` would let a
run argument like ``EU' or 1=1 --`` rewrite the query. Instead, while the
query is rendered, every run argument (``params`` and ``dag_run.conf``)
renders as a unique marker; afterwards each marker, together with the quotes
the author put around it, is replaced by the driver's placeholder and its
value is passed to ``cursor.execute`` separately. Lists become one
placeholder per item (``in ({{ params.regions }})``). Reading an argument in
``{% if %}``/``{% for %}`` works as usual; transforming one inside the query
(``| upper``, arithmetic) is refused with a clear error, because the result
could no longer be bound safely: do that in SQL instead.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

_MARKER = "\x00btBind{}Mk\x00"
# A marker is bound whole: either quoted on both sides ('M') or bare (M); one inside a longer
# literal ('x_M') is refused, since the result would silently change the query's meaning.
_MARKER_RE = re.compile("'\x00btBind(\\d+)Mk\x00'|(?<!')\x00btBind(\\d+)Mk\x00(?!')")
_REMNANT_RE = re.compile("\x00btbind\\d+mk\x00", re.IGNORECASE)


class QueryParamError(ValueError):
    """A run argument was used in the query in a way that cannot be bound."""


class Bound:
    """A run argument seen through the query template: renders as a marker, compares as its value."""

    __slots__ = ("_binder", "_name", "value")

    def __init__(self, binder: ParamBinder, name: str, value: Any) -> None:
        self._binder = binder
        self._name = name
        self.value = value

    def __str__(self) -> str:
        return self._binder.marker(self.value)

    __html__ = __str__

    def __bool__(self) -> bool:
        return bool(self.value)

    def __eq__(self, other: object) -> bool:
        return self.value == (other.value if isinstance(other, Bound) else other)

    def __hash__(self) -> int:
        return hash(self.value) if self.value.__hash__ else id(self)

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Iterator[Any]:
        for i, item in enumerate(self.value):
            yield Bound(self._binder, f"{self._name}[{i}]", item)

    def __contains__(self, item: object) -> bool:
        return item in self.value

    def __getattr__(self, attr: str) -> Any:
        if isinstance(self.value, Mapping) and attr in self.value:
            return Bound(self._binder, f"{self._name}.{attr}", self.value[attr])
        raise QueryParamError(
            f"run argument `{self._name}` is used as `{self._name}.{attr}` in the query; "
            "run arguments are bound as SQL parameters, so use them as they are and transform them in SQL"
        )

    def __getitem__(self, key: Any) -> Bound:
        return Bound(self._binder, f"{self._name}[{key!r}]", self.value[key])


class BoundMapping(Mapping[str, Any]):
    """``params`` / ``dag_run.conf`` as the query template sees them."""

    def __init__(self, binder: ParamBinder, values: Mapping[str, Any], prefix: str) -> None:
        self._binder = binder
        self._values = values
        self._prefix = prefix

    def __getitem__(self, key: str) -> Bound:
        return Bound(self._binder, f"{self._prefix}.{key}", self._values[key])

    def __getattr__(self, key: str) -> Bound:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


class _DagRunView:
    """The run as the query template sees it: everything as usual but ``conf`` is bound."""

    def __init__(self, dag_run: Any, binder: ParamBinder) -> None:
        self._dag_run = dag_run
        self.conf = BoundMapping(binder, getattr(dag_run, "conf", None) or {}, "dag_run.conf")

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._dag_run, attr)


class ParamBinder:
    """Collects the values behind markers while a query renders, then makes the final SQL."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def marker(self, value: Any) -> str:
        self.values.append(value)
        return _MARKER.format(len(self.values) - 1)

    def context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        bound = dict(context)
        bound["params"] = BoundMapping(self, context.get("params") or {}, "params")
        if context.get("dag_run") is not None:
            bound["dag_run"] = _DagRunView(context["dag_run"], self)
        return bound

    def finish(self, rendered: str, paramstyle: str) -> tuple[str, list[Any]]:
        """Replace markers (and quotes around them) with placeholders; return SQL and ordered values."""
        leftover = _MARKER_RE.sub("", rendered)
        if "\x00btBind" in leftover:
            raise QueryParamError(
                "a run argument is part of a longer quoted string in the query; it is bound as a SQL "
                "parameter, so build the string in SQL instead, e.g. like '%' || {{ params.x }} || '%'"
            )
        if _REMNANT_RE.search(leftover):
            raise QueryParamError(
                "a run argument was transformed inside the query template (e.g. `| upper`); "
                "run arguments are bound as SQL parameters, so transform them in SQL instead"
            )
        ordered: list[Any] = []
        if not _MARKER_RE.search(rendered):
            return rendered, ordered
        if paramstyle in ("format", "pyformat"):
            rendered = rendered.replace("%", "%%")

        def placeholder(match: re.Match[str]) -> str:
            value = self.values[int(match.group(1) or match.group(2))]
            items = list(value) if isinstance(value, (list, tuple)) else [value]
            if not items:
                raise QueryParamError("an empty list cannot be bound as SQL parameters")
            marks = []
            for item in items:
                ordered.append(item)
                marks.append(_placeholder(paramstyle, len(ordered)))
            return ", ".join(marks)

        return _MARKER_RE.sub(placeholder, rendered), ordered


def _placeholder(paramstyle: str, position: int) -> str:
    if paramstyle == "qmark":
        return "?"
    if paramstyle in ("format", "pyformat"):
        return "%s"
    if paramstyle == "numeric":
        return f":{position}"
    if paramstyle == "named":
        return f":p{position}"
    raise QueryParamError(f"unsupported DB-API paramstyle `{paramstyle}`")


def driver_paramstyle(conn: Any) -> str:
    """The DB-API paramstyle of the module a connection object comes from."""
    module = type(conn).__module__.split(".")[0]
    return getattr(sys.modules.get(module), "paramstyle", "qmark")


def named_values(values: list[Any], paramstyle: str) -> list[Any] | dict[str, Any]:
    if paramstyle == "named":
        return {f"p{i + 1}": v for i, v in enumerate(values)}
    return values
