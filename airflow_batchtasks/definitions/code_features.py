"""What in a definition runs code or reaches secrets, so that writing it needs more than DAG edit.

A definition is DAG authoring: some of its parts run code on a worker or on a remote host, or hand
credentials to something. Airflow's ordinary "User" role may edit DAGs but not connections, so the
API asks for more before such parts are written (see the REST API's definition routes). This module
only *names* those parts, from the definition's data as parsed from YAML (not the validated model:
an invalid body must not slip through, and a definition's meaning is in its data), so the decision
is pure and testable.

The parts (each a :class:`CodeFeature`):

- ``processing``: a processing script (``script``, ``inline`` or ``from``, with its ``entrypoint``
  and ``requirements``: pip installs run code too). ``source.type: python`` always comes with one;
- ``source`` of type ``ssh``: a shell command (``command`` or ``command_from``) on the connection's host;
- ``source.query_from`` of any type: the fetched text is rendered as a template at run time, and
  the definition does not show it (with a ``url``/``git`` location the connection's credentials go
  to that URL);
- ``processing.expose_connections``: hands the secrets of every connection the definition names to
  the script (the writer must be allowed to edit each of them, see :func:`exposed_connections`);
- a template (any string with ``{{``/``{%``) that reaches beyond run data: Airflow renders it in a
  sandbox whose context still holds ``conn`` (every connection), ``ti`` (the whole context again),
  operator objects, and ``macros`` modules such as ``macros.yaml`` (``unsafe_load`` runs any Python).
  See :func:`template_reasons` for what a template may use without more rights. Reading Airflow
  Variables (``var``, or ``output.gpg.key_variable``) needs the right to read variables instead;
- a ``local`` file source (``source.location``) or destination (``destinations[<i>]``) whose folder is
  not inside ``[batchtasks] local_roots`` (passed in as ``local_roots``; none: every local path): it
  reads or writes the worker's file system as the worker, e.g. ``x.py`` into the DAGs folder. The folder
  is the path's literal folder (:func:`~airflow_batchtasks.storage.local_roots.literal_folder`): one
  chosen by a template, or relative to the worker's working folder, is outside.

:func:`added_features` compares a replacement with the current definition: a part that is the same
value at the same place is not new code (a reschedule of a python task needs only DAG edit).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
import jinja2.meta
import jinja2.sandbox
from jinja2 import nodes

from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.storage.local_roots import literal_folder, template_inside

#: What a feature needs besides DAG edit: Airflow's connection edit right, or its variable read right.
Right = Literal["connections", "variables"]

#: Run data: names of Airflow's template context that are plain values of the run (and the
#: provider's date helpers), safe in any template.
RUN_DATA = frozenset({
    "ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date",
    "data_interval_start", "data_interval_end", "prev_data_interval_start_success",
    "prev_data_interval_end_success", "prev_start_date_success", "prev_end_date_success",
    "run_id", "dag_run", "params", "try_number",
    *MACROS, *FILTERS,
    # Jinja's own globals
    "range", "dict", "lipsum", "cycler", "joiner", "namespace",
})
#: Names the notify step adds for its subject, message and addresses (``task`` is the task's name
#: there, not the operator); kept equal to the notify step's template extras by a unit test.
NOTIFY_EXTRAS = frozenset({"task", "status", "status_text", "files", "failed_step", "error", "error_line", "failures"})
#: ``macros.<name>`` a template may use: Airflow's date macros and the provider's helpers. Not the
#: modules Airflow also puts there (``yaml``, ``json``, ``dateutil``, ``time``...).
SAFE_MACROS = frozenset({"ds_add", "ds_format", "ds_format_locale", "datetime_diff_for_humans",
                         "datetime", "timedelta", "batchtasks"})
#: Methods a template may call on run data (strings, dates, mappings); any other call needs the code
#: right, since the sandbox lets templates call public methods of whatever objects they reach.
SAFE_METHODS = frozenset({
    "get", "items", "keys", "values",
    "strftime", "isoformat", "format", "replace", "date", "timestamp", "weekday", "isoweekday",
    "in_timezone", "in_tz", "add", "subtract", "start_of", "end_of",
    "to_date_string", "to_datetime_string", "to_iso8601_string",
    "upper", "lower", "strip", "lstrip", "rstrip", "split", "rsplit", "join", "startswith", "endswith",
    "zfill", "title", "capitalize",
    "now", "today", "utcnow", "strptime", "fromisoformat",  # ``macros.datetime.now()`` & co
})



@jinja2.pass_context
def _never_called(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - the environment never renders
    raise RuntimeError("the parse-only environment does not render")


class _AnyName(dict):  # type: ignore[type-arg]
    """Filters/tests of a parse-only environment: every name exists (only the renderer knows them).

    Each is a context-taking stub, so the compiler that finds a template's free names
    (``jinja2.meta``) cannot fold a filter over constants (``'x' | center(10**9)``) while it compiles.
    """

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: Any, default: Any = None) -> Any:
        return _never_called

    def __getitem__(self, key: Any) -> Any:
        return _never_called


class _ParseOnly(jinja2.sandbox.SandboxedEnvironment):
    """Airflow's template language (with its extensions), for reading templates someone sent, never rendering.

    Jinja's compiler evaluates constant expressions while it compiles (``'x' * 10**9``); a sandbox with
    every operator intercepted makes it leave them for a run time that never comes, so reading a template
    costs time and memory in proportion to its text only.
    """

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})


_ENV = _ParseOnly(extensions=["jinja2.ext.do"])
_ENV.filters = _AnyName()
_ENV.tests = _AnyName()
_FILE_TAGS = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@dataclass(frozen=True)
class CodeFeature:
    """One code-bearing part: where (``field`` as written in YAML), what it does, and its value.

    ``value`` is the part as canonical JSON: the same value at the same ``field`` is the same code.
    """

    field: str
    what: str
    value: str
    right: Right = "connections"

    def describe(self) -> str:
        return f"`{self.field}`: {self.what}"


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def code_features(data: Mapping[str, Any], local_roots: Sequence[str] = ()) -> list[CodeFeature]:
    """Every part of a definition (its YAML data) that runs code or reaches secrets; see the module doc.

    ``local_roots``: the configured ``[batchtasks] local_roots``; a `local` path outside them is a part.
    """
    if not isinstance(data, Mapping):
        return []
    found: list[CodeFeature] = []
    covered: set[str] = set()  # parts reported whole: their strings are not scanned again
    source = data.get("source")
    source = source if isinstance(source, Mapping) else {}
    processing = data.get("processing")
    if processing is not None:
        found.append(CodeFeature("processing", "runs a processing script", _canonical(processing)))
        covered.add("processing")
        exposed = exposed_connections(data)
        if exposed:
            names = ", ".join(f"`{c}`" for c in exposed)
            found.append(CodeFeature("processing.expose_connections",
                                     f"hands the secrets of connections {names} to the script", _canonical(exposed)))
    if source.get("type") == "python":
        found.append(CodeFeature("source", "a `python` source runs the processing script", _canonical(source)))
        covered.add("source")
    elif source.get("type") == "ssh":
        found.append(CodeFeature("source", "runs a shell command over ssh", _canonical(source)))
        covered.add("source")
    elif source.get("query_from") is not None:
        found.append(CodeFeature(
            "source.query_from", "fetches a query at run time and renders it as a template "
            "(its text is not part of the definition)", _canonical(source["query_from"]),
        ))
        covered.add("source.query_from")
    output = data.get("output")
    gpg = output.get("gpg") if isinstance(output, Mapping) else None
    if isinstance(gpg, Mapping) and gpg.get("key_variable") is not None:
        found.append(CodeFeature("output.gpg.key_variable", "reads an Airflow variable (the public key)",
                                 _canonical(gpg["key_variable"]), "variables"))
    found.extend(_local_paths(data, source, local_roots))
    for field, text in _strings(data):
        if any(field == c or field.startswith((c + ".", c + "[")) for c in covered):
            continue
        reasons, right = template_reasons(text, notify=field.startswith("notify."))
        if reasons:
            found.append(CodeFeature(field, "a template that " + "; ".join(reasons), _canonical(text), right))
    return found


def exposed_connections(data: Mapping[str, Any]) -> list[str]:
    """Connections a script gets with ``processing.expose_connections: true`` (else ``[]``).

    Every connection the definition names (any ``conn_id`` / ``key_conn_id``): a superset of what the
    process step hands over, so the check never misses one.
    """
    processing = data.get("processing") if isinstance(data, Mapping) else None
    if not isinstance(processing, Mapping) or not processing.get("expose_connections"):
        return []
    found = [v for k, v in _items(data) if k.rsplit(".", 1)[-1] in ("conn_id", "key_conn_id") and isinstance(v, str)]
    return sorted(set(found))


def added_features(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], local_roots: Sequence[str] = ()
) -> list[CodeFeature]:
    """Features of ``new`` that ``old`` (the current definition; None for a new one) does not have as is."""
    before = set(code_features(old, local_roots)) if old is not None else set()
    return [f for f in code_features(new, local_roots) if f not in before]


def _local_paths(data: Mapping[str, Any], source: Mapping[str, Any], roots: Sequence[str]) -> list[CodeFeature]:
    """The `local` file source and destinations whose literal folder is outside ``roots``."""
    places: list[tuple[str, Any, str]] = []
    if source.get("type") == "file":
        places.append(("source.location", source.get("location"), "reads files from"))
    destinations = data.get("destinations")
    if isinstance(destinations, list):
        places.extend((f"destinations[{i}]", d, "writes files into") for i, d in enumerate(destinations))
    found = []
    for field, spec, verb in places:
        path = spec.get("path") if isinstance(spec, Mapping) and spec.get("type") == "local" else None
        if isinstance(path, str) and not template_inside(path, roots):
            folder = literal_folder(path) or path
            found.append(CodeFeature(field, f"{verb} the worker's folder `{folder}`, which is not inside "
                                            "`[batchtasks] local_roots`", _canonical(path)))
    return found


# ----------------------------------------------------------------------------- templates


def template_reasons(text: str, *, notify: bool = False) -> tuple[list[str], Right]:
    """Why rendering ``text`` could run code or read secrets (``[]``: only run data), and the right it needs.

    ``notify``: the string is a notification's subject, message or address, rendered with the notify
    step's extras. A text that is no template (no ``{{``/``{%``) has no reasons.
    """
    if "{{" not in text and "{%" not in text:
        return [], "connections"
    try:
        tree = _ENV.parse(text)
    except jinja2.TemplateSyntaxError:
        # Airflow could not render it either, but what it would do is not for this check to guess.
        return ["cannot be read as a template"], "connections"
    allowed = RUN_DATA | NOTIFY_EXTRAS if notify else RUN_DATA
    code: list[str] = []
    variables: list[str] = []
    if any(True for _ in tree.find_all(_FILE_TAGS)):
        code.append("includes or imports other templates")
    for name in sorted(jinja2.meta.find_undeclared_variables(tree)):
        if name == "var":
            variables.append("reads `var` (Airflow variables)")
        elif name == "conn":
            code.append("reads `conn` (Airflow connections)")
        elif name != "macros" and name not in allowed:
            code.append(f"uses `{name}`, which is not run data")
    code.extend(_macro_and_call_reasons(tree, allowed))
    return code + variables, "variables" if variables and not code else "connections"


def _macro_and_call_reasons(tree: nodes.Template, allowed: frozenset[str]) -> list[str]:
    reasons: list[str] = []
    locals_ = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    macros_ok = {id(n.node) for n in tree.find_all(nodes.Getattr)
                 if isinstance(n.node, nodes.Name) and n.node.name == "macros" and n.attr in SAFE_MACROS}
    for name in tree.find_all(nodes.Name):
        if name.name == "macros" and name.ctx == "load" and id(name) not in macros_ok:
            reasons.append("uses `macros` beyond the date macros")
            break
    defined_macros = {m.name for m in tree.find_all(nodes.Macro)}
    for call in tree.find_all(nodes.Call):
        callee = call.node
        if isinstance(callee, nodes.Name):
            ok = callee.name not in locals_ and (callee.name in defined_macros or callee.name in allowed)
        elif isinstance(callee, nodes.Getattr):
            ok = callee.attr in SAFE_METHODS or (id(callee.node) in macros_ok) or _is_helper(callee)
        else:
            ok = False
        if not ok:
            reasons.append(f"calls `{_show(callee)}`")
    return list(dict.fromkeys(reasons))


def _is_helper(node: nodes.Getattr) -> bool:
    """``macros.batchtasks.<helper>``: the provider's date helpers as Airflow macros."""
    inner = node.node
    return (isinstance(inner, nodes.Getattr) and inner.attr == "batchtasks" and isinstance(inner.node, nodes.Name)
            and inner.node.name == "macros" and node.attr in MACROS)


def _show(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return f"{_show(node.node)}.{node.attr}"
    return f"<{type(node).__name__.lower()}>"


# ----------------------------------------------------------------------------- walking the data


def _items(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(``a.b[0].c``, value) for every value of nested mappings and lists."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            yield sub, item
            yield from _items(item, sub)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            sub = f"{path}[{i}]"
            yield sub, item
            yield from _items(item, sub)


def _strings(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for path, value in _items(data):
        if isinstance(value, str):
            yield path, value
