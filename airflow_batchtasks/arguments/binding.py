"""Run arguments seen through a template: each one renders as a marker, never as its text.

Whoever may trigger a run chooses its arguments (``params``, ``dag_run.conf``),
so their text must never become part of a query, a shell line or a URL as code.
While such a template renders, every run argument is a :class:`Bound`: it
prints as a unique marker and keeps its value aside. After rendering, the
caller replaces each marker by a safe form of the value (a SQL bind
placeholder, one quoted shell word, a URL-encoded segment: see
``sql.params``, ``arguments.shell_words`` and ``operators.http``).

Everything a template author writes in the ordinary way keeps the argument
bound: ``params.x``, ``params['x']``, ``params.get('x')``, ``params.x.value``
(as with Airflow's ``Param``), ``dag_run.conf.x``, items of lists and keys of
dicts, loops, ``| string``, ``~`` concatenation, ``| int`` / ``| float``
(a number cannot carry code). A filter that changes the text (``| upper``,
``| replace``) would only change the marker, so it is refused by
:meth:`ArgBinder.check_leftovers` with the argument's name: transform the
value where it is used (in SQL, in the remote shell) instead.

The value is kept in ``__dunder__`` slots because Airflow's Jinja sandbox lets
templates read ``_single_underscore`` attributes but never ``__dunder__`` ones.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

_MARKER = "\x00btBind{}Mk\x00"
MARKER_RE = re.compile("\x00btBind(\\d+)Mk\x00")
# What is left of a marker a filter changed (`| upper`, `| urlencode`, `| truncate`).
_REMNANT_RE = re.compile("btbind(\\d+)mk", re.IGNORECASE)
#: Filters that keep a run argument whole (or make it a number or a list of arguments): not guarded.
KEEPING_FILTERS = frozenset({
    "string", "e", "escape", "safe", "default", "d", "attr", "first", "last", "list", "length", "count",
    "int", "float", "join", "unquoted",
})
# Attributes of Airflow's DagRun that hand out the whole run, `conf` included, unbound.
_DAG_RUN_DUMPS = ("dict", "json", "copy")
_MAPPING_METHODS = ("get", "items", "keys", "values")


class ArgumentTemplateError(ValueError):
    """A run argument was used in a template in a way its value cannot be kept safe."""


class Bound:
    """A run argument seen through a template: renders as a marker, compares as its value."""

    __slots__ = ("__bt_binder__", "__bt_name__", "__bt_value__")

    def __init__(self, binder: ArgBinder, name: str, value: Any) -> None:
        self.__bt_binder__ = binder
        self.__bt_name__ = name
        self.__bt_value__ = value

    def __str__(self) -> str:
        return self.__bt_binder__.marker(self.__bt_name__, self.__bt_value__)

    __html__ = __str__

    def __bool__(self) -> bool:
        return bool(self.__bt_value__)

    def __eq__(self, other: object) -> bool:
        return self.__bt_value__ == raw(other)

    def __hash__(self) -> int:
        value = self.__bt_value__
        return hash(value) if value.__hash__ else id(self)

    def __len__(self) -> int:
        return len(self.__bt_value__)

    def __int__(self) -> int:
        return int(self.__bt_value__)

    def __float__(self) -> float:
        return float(self.__bt_value__)

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.__bt_value__, Mapping):
            return iter(self._mapping())
        return (Bound(self.__bt_binder__, f"{self.__bt_name__}[{i}]", item) for i, item in enumerate(self.__bt_value__))

    def _mapping(self) -> BoundMapping:
        return BoundMapping(self.__bt_binder__, self.__bt_value__, self.__bt_name__)

    def __contains__(self, item: object) -> bool:
        return raw(item) in self.__bt_value__

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        value = self.__bt_value__
        if isinstance(value, Mapping) and attr in value:
            return Bound(self.__bt_binder__, f"{self.__bt_name__}.{attr}", value[attr])
        if attr == "value":
            return self  # `params.x.value`, as written for Airflow's Param: the same argument, still bound
        if attr in _MAPPING_METHODS and isinstance(value, Mapping):
            return getattr(self._mapping(), attr)
        raise ArgumentTemplateError(
            f"run argument `{self.__bt_name__}` is used as `{self.__bt_name__}.{attr}` in the template; "
            f"run arguments are {self.__bt_binder__.kept_as}, so use them as they are"
        )

    def __getitem__(self, key: Any) -> Bound:
        return Bound(self.__bt_binder__, f"{self.__bt_name__}[{key!r}]", self.__bt_value__[raw(key)])


def as_text(value: Any, separator: str = " ") -> str:
    """An argument's value as text: ``None`` empty, lists joined by ``separator``, dicts as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return separator.join(as_text(v, separator) for v in value)
    return json.dumps(value, default=str) if isinstance(value, dict) else str(value)


def raw(value: Any) -> Any:
    """The value behind a :class:`Bound` (anything else as it is)."""
    return value.__bt_value__ if isinstance(value, Bound) else value


class BoundMapping(Mapping[str, Any]):
    """``params`` / ``dag_run.conf`` as the template sees them: every value a :class:`Bound`."""

    __slots__ = ("__bt_binder__", "__bt_prefix__", "__bt_values__")

    def __init__(self, binder: ArgBinder, values: Mapping[str, Any], prefix: str) -> None:
        self.__bt_binder__ = binder
        self.__bt_values__ = values
        self.__bt_prefix__ = prefix

    def __getitem__(self, key: Any) -> Bound:
        key = raw(key)
        return Bound(self.__bt_binder__, f"{self.__bt_prefix__}.{key}", self.__bt_values__[key])

    def __getattr__(self, key: str) -> Bound:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc

    def __iter__(self) -> Iterator[Bound]:
        # keys are bound too: whoever triggers a run also chooses the keys of `dag_run.conf`
        return (Bound(self.__bt_binder__, f"a key of {self.__bt_prefix__}", key) for key in self.__bt_values__)

    def __len__(self) -> int:
        return len(self.__bt_values__)


class DagRunView:
    """The run as the template sees it: everything as usual but ``conf`` is bound."""

    __slots__ = ("__bt_run__", "conf")

    def __init__(self, dag_run: Any, binder: ArgBinder) -> None:
        self.__bt_run__ = dag_run
        self.conf = BoundMapping(binder, getattr(dag_run, "conf", None) or {}, "dag_run.conf")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr.startswith("model_") or attr in _DAG_RUN_DUMPS:
            raise AttributeError(attr)
        return getattr(self.__bt_run__, attr)


class ArgBinder:
    """Collects the values behind markers while a template renders.

    :param kept_as: how the caller keeps arguments safe, for error messages ("bound as SQL parameters")
    """

    def __init__(self, kept_as: str) -> None:
        self.kept_as = kept_as
        self.values: list[Any] = []
        self.names: list[str] = []

    def marker(self, name: str, value: Any) -> str:
        self.values.append(value)
        self.names.append(name)
        return _MARKER.format(len(self.values) - 1)

    def context(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``context`` in which ``params`` and ``dag_run.conf`` are bound."""
        bound = dict(context)
        bound["params"] = BoundMapping(self, context.get("params") or {}, "params")
        if context.get("dag_run") is not None:
            bound["dag_run"] = DagRunView(context["dag_run"], self)
        return bound

    def unquoted(self, value: Any) -> str:
        """The ``unquoted`` filter: the author's explicit opt-out, the argument's text pasted as it is."""
        return as_text(raw(value))

    def environment(self, jinja_env: Any) -> Any:
        """``jinja_env`` with guarded filters and ``unquoted`` (an overlay: the DAG's own environment is unchanged).

        A filter that would change an argument's text (``| lower``, ``| replace``, ``| trim``) only
        sees its marker, so its result would be silently wrong or lost: it is refused with the
        argument's name. Filters that keep the argument whole (:data:`KEEPING_FILTERS`) work as usual.
        """
        env = jinja_env.overlay()
        env.filters = {
            name: func if name in KEEPING_FILTERS else self._guarded(name, func)
            for name, func in jinja_env.filters.items()
        }
        env.filters["unquoted"] = self.unquoted
        return env

    def _guarded(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        position = 0 if getattr(func, "jinja_pass_arg", None) is None else 1  # after context/environment

        @functools.wraps(func)  # keeps Jinja's pass_context/pass_environment mark
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if len(args) > position and isinstance(args[position], Bound):
                raise ArgumentTemplateError(
                    f"run argument `{args[position].__bt_name__}` goes through `| {name}` in the template; "
                    f"run arguments are {self.kept_as}, so use them as they are and transform them where "
                    "they are used"
                )
            return func(*args, **kwargs)

        return guarded

    def value_of(self, match: re.Match[str]) -> Any:
        return self.values[int(match.group(1))]

    def name_of(self, match: re.Match[str]) -> str:
        return self.names[int(match.group(1))]

    def check_leftovers(self, text: str) -> None:
        """Refuse a marker a filter changed: the argument's value would silently be lost or altered."""
        remnant = _REMNANT_RE.search(text)
        if remnant is None and "\x00" not in text:
            return
        index = int(remnant.group(1)) if remnant else -1
        name = f"`{self.names[index]}`" if 0 <= index < len(self.names) else "a run argument"
        raise ArgumentTemplateError(
            f"run argument {name} was transformed inside the template (e.g. `| upper`, `| replace`); "
            f"run arguments are {self.kept_as}, so use them as they are and transform them where they are used"
        )


def first_argument_at(text: str) -> int | None:
    """Where the first run argument's text begins in a rendered template (its marker, or what a filter left
    of it); ``None`` when no argument's text is there."""
    starts = [m.start() for m in (MARKER_RE.search(text), _REMNANT_RE.search(text)) if m]
    if "\x00" in text:
        starts.append(text.index("\x00"))
    return min(starts) if starts else None


def argument_used(render: Callable[..., Any], template: Any, context: Mapping[str, Any], jinja_env: Any) -> str | None:
    """The first run argument ``template`` puts into its result, ``None`` if none.

    For fields where arguments may not go at all, such as those that choose which code runs (a
    package to install, where a script or command is fetched from): no quoting makes that safe.
    ``render`` is the operator's ``render_template``.
    """
    binder = ArgBinder("not allowed in this field")
    rendered = render(template, binder.context(context), binder.environment(jinja_env))
    for text in _texts(rendered):
        found = MARKER_RE.search(text) or _REMNANT_RE.search(text)
        if found:
            return binder.names[int(found.group(1))]
    return None


def refuse_arguments(operator: Any, template: Any, key: str, context: Context, jinja_env: Any, what: str) -> None:
    """Fail the step (not retried) when ``template`` of field ``key`` uses a run argument.

    :param what: what an argument would choose there, for the message ("where the query comes from")
    """
    from airflow_batchtasks.arguments.run_dates import fill_run_dates
    from airflow_batchtasks.compat import AirflowFailException

    fill_run_dates(context)
    try:
        name = argument_used(operator.render_template, template, context, jinja_env or operator.get_template_env())
    except ArgumentTemplateError as exc:
        raise AirflowFailException(f"{key}: {exc}") from exc
    if name:
        raise AirflowFailException(f"{key}: run argument `{name}` cannot choose {what}")


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _texts(item)
