"""Bounded rendering of a query template on the API server, for the query preview.

The preview renders a template that any reader may send (an unsaved definition), in the API
server's own process. Jinja's sandbox stops code, not work: nested loops, ``range``, ``{% set %}``
doubling a string, ``'x' * 10**9`` or ``'%0999999999d' | format(1)`` can each take minutes or gigabytes
from a few bytes of template. So before rendering, the template's syntax tree must hold only what a
query of run data needs (output, names and attributes, constants, conditions, filters that keep a
value, the date helpers' calls, concatenation, one level of ``for`` over given values) and, while
rendering, its output stops at :data:`MAX_OUTPUT` characters. Work is then bounded by the size of the
request (the arguments a loop walks over) times the size of the template.
"""

from __future__ import annotations

from typing import Any

from jinja2 import nodes

from airflow_batchtasks.arguments.binding import KEEPING_FILTERS
from airflow_batchtasks.definitions.date_helpers import FILTERS
from airflow_batchtasks.plugins.data.errors import Invalid

#: Characters of rendered query the preview produces at most.
MAX_OUTPUT = 1_000_000
_ALLOWED = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Getattr, nodes.Getitem, nodes.Slice,
    nodes.Const, nodes.Filter, nodes.Test, nodes.If, nodes.Compare, nodes.Operand, nodes.And, nodes.Or,
    nodes.Not, nodes.Neg, nodes.Pos, nodes.CondExpr, nodes.For, nodes.Tuple, nodes.List, nodes.Dict,
    nodes.Pair, nodes.Keyword, nodes.Concat, nodes.Add, nodes.Sub, nodes.Call,
)
_FILTERS = KEEPING_FILTERS | set(FILTERS) | {"lower", "upper", "trim", "title", "capitalize"}


def _refuse(what: str) -> Invalid:
    return Invalid(f"source.query: the preview does not render {what}; the extract step does: "
                   "preview a simpler template, or run the task")


def _check(node: nodes.Node, in_loop: bool) -> None:
    if not isinstance(node, _ALLOWED):
        raise _refuse(f"`{type(node).__name__}` ({{% set %}}, macros, blocks, `*`, `%`, `**` are left out)")
    if isinstance(node, nodes.For):
        if in_loop or node.recursive:
            raise _refuse("a loop inside a loop")
        in_loop = True
    elif isinstance(node, nodes.Filter) and node.name not in _FILTERS:
        raise _refuse(f"the filter `{node.name}`")
    elif isinstance(node, nodes.Call):
        target = node.node
        while isinstance(target, nodes.Getattr):
            target = target.node
        if not (isinstance(target, nodes.Name) and target.name == "macros") or node.dyn_args or node.dyn_kwargs:
            raise _refuse("calls other than the date macros (`macros.batchtasks.…`, `macros.ds_add`…)")
    for child in node.iter_child_nodes():
        _check(child, in_loop)


def check_shape(template: str) -> None:
    """Refuse a template whose shape does not bound its work (parsed only: compiling folds constants).

    :raises Invalid: naming what the preview does not render
    """
    from jinja2 import TemplateSyntaxError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        tree = SandboxedEnvironment().parse(template)
    except TemplateSyntaxError as exc:
        raise Invalid(f"source.query: line {exc.lineno}: {exc.message}") from None
    _check(tree, in_loop=False)


def bounded_render(template: str, context: Any, env: Any) -> str:
    """Render ``template`` with ``env`` (the binder's sandbox) if its shape bounds the work; cut at the limit.

    :raises Invalid: the template holds something the preview does not render, or its output is too long
    """
    _check(env.parse(template), in_loop=False)
    size, parts = 0, []
    for part in env.from_string(template).generate(context):
        size += len(part)
        if size > MAX_OUTPUT:
            raise Invalid(f"source.query: the rendered query passes {MAX_OUTPUT:,} characters: the preview stops "
                          "there")
        parts.append(part)
    return "".join(parts)
