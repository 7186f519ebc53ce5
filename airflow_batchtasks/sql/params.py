"""Run arguments in a query become bind parameters, never SQL text.

A query template such as ``where region = '{{ params.region }}'`` would let a
run argument like ``EU' or 1=1 --`` rewrite the query. Instead, while the
query is rendered, every run argument (``params`` and ``dag_run.conf``, however
the template reaches it: see :mod:`airflow_batchtasks.arguments.binding`) renders as a unique marker;
afterwards each marker, together with the quotes the author put around it, is
replaced by the driver's placeholder and its value is passed to
``cursor.execute`` separately. Lists become one placeholder per item
(``in ({{ params.regions }})``). Reading an argument in ``{% if %}``/``{% for %}``
works as usual; transforming one inside the query (``| upper``) is refused
with a clear error, because the result could no longer be bound safely: do
that in SQL instead. There is no way to paste an argument into the SQL text.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from airflow_batchtasks.arguments.binding import ArgBinder, ArgumentTemplateError

# A marker is bound whole: either quoted on both sides ('M') or bare (M); one inside a longer
# literal ('x_M') is refused, since the result would silently change the query's meaning.
_MARKER_RE = re.compile("'\x00btBind(\\d+)Mk\x00'|(?<!')\x00btBind(\\d+)Mk\x00(?!')")

#: Raised for every argument that cannot be bound (``arguments.binding`` raises the same class).
QueryParamError = ArgumentTemplateError


class ParamBinder(ArgBinder):
    """Collects the values behind markers while a query renders, then makes the final SQL."""

    def __init__(self) -> None:
        super().__init__("bound as SQL parameters")

    def unquoted(self, value: Any) -> str:
        raise QueryParamError(
            "`| unquoted` is not available in queries: run arguments are always bound as SQL parameters"
        )

    def finish(self, rendered: str, paramstyle: str) -> tuple[str, list[Any]]:
        """Replace markers (and quotes around them) with placeholders; return SQL and ordered values."""
        sql, bound = self.bind(rendered, paramstyle)
        return sql, [value for _, _, value in bound]

    def bind(self, rendered: str, paramstyle: str) -> tuple[str, list[tuple[str, str, Any]]]:
        """:meth:`finish`, with each value's placeholder and the argument it comes from (what a preview shows):
        ``[(placeholder, name, value)]`` in the order the driver takes them; list items are ``name[i]``."""
        leftover = _MARKER_RE.sub("", rendered)
        inside = re.search("\x00btBind(\\d+)Mk\x00", leftover)
        if inside:
            raise QueryParamError(
                f"run argument `{self.names[int(inside.group(1))]}` is part of a longer quoted string in the "
                "query; it is bound as a SQL parameter, so build the string in SQL instead, "
                "e.g. like '%' || {{ params.x }} || '%'"
            )
        self.check_leftovers(leftover)
        ordered: list[tuple[str, str, Any]] = []
        if not _MARKER_RE.search(rendered):
            return rendered, ordered
        if paramstyle in ("format", "pyformat"):
            rendered = rendered.replace("%", "%%")

        def placeholder(match: re.Match[str]) -> str:
            index = int(match.group(1) or match.group(2))
            value, name = self.values[index], self.names[index]
            many = isinstance(value, (list, tuple))
            items = list(value) if many else [value]
            if not items:
                raise QueryParamError("an empty list cannot be bound as SQL parameters")
            marks = []
            for i, item in enumerate(items):
                mark = _placeholder(paramstyle, len(ordered) + 1)
                ordered.append((mark, f"{name}[{i}]" if many else name, item))
                marks.append(mark)
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


def prepare_query(
    template: str, context: Any, jinja_env: Any, render: Any = None,
) -> tuple[ParamBinder, str, list[str]]:
    """What the extract step does to a query before it runs: remove ``USE``/``GO``
    (:func:`~airflow_batchtasks.sql.rewrite.strip_unsupported_statements`), then render it with run arguments
    as markers. Returns the binder, the rendered text (give both to :meth:`ParamBinder.bind` or ``finish``
    with a paramstyle) and the removed statements. Nothing is executed.

    :param render: the operator's ``render_template(template, context, env)``; default: the environment's own
        ``from_string(...).render(context)`` (what a preview outside a run uses)
    """
    from airflow_batchtasks.sql.rewrite import strip_unsupported_statements

    template, removed = strip_unsupported_statements(template or "")
    binder = ParamBinder()
    env = binder.environment(jinja_env)
    bound = binder.context(context)
    rendered = render(template, bound, env) if render is not None else env.from_string(template).render(bound)
    return binder, rendered, removed
