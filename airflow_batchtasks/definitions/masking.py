"""What a viewer may see of a definition, a run's arguments or an error: secrets masked, server paths hidden.

Every surface that shows definitions or run arguments (the REST API, the
pages, the DAG docs, the audit entries, error messages) goes through this one
module, so they all hide the same things:

- **Airflow's own key-name rules** decide what is a secret: a value is hidden
  when its key contains one of the names Airflow's secrets masker hides
  (``password``, ``token``, ``authorization``, ``api_key``, ``secret``...,
  plus ``[core] sensitive_var_conn_names``), compared the way Airflow 3.3
  compares them (lower case, non-word characters as ``_``, so the header
  ``X-Api-Key`` is ``x_api_key``). ``[core] hide_sensitive_var_conn_fields =
  False`` turns key masking off, as it does in Airflow.
- Under a sensitive key every value is hidden, at any depth (a header
  ``Authorization``, ``password`` inside a ``json:`` body, ``headers`` of a
  nested call); numbers too, not only strings. A run argument declared under
  ``params`` with a sensitive name hides its ``default`` and ``enum`` but keeps
  its description and type, so the trigger form stays readable.
- Values Airflow's masker already knows (connection passwords and extras it
  was told about) are replaced wherever they appear; so are the password of a
  URL (``https://user:***@host``) and sensitive URL query arguments.
- The YAML *text* of a definition keeps its comments and layout: only the
  masked scalars are rewritten in place, found by their positions in the YAML
  node tree. The result is parsed back and must equal the masked data, else
  the masked data is dumped instead (comments lost, never a secret shown).

Writing back: a client that read a masked definition and sends it back (PUT)
sends ``***`` where the secrets were. :func:`restore_text` puts the stored
value back wherever the incoming value is exactly the mask at a path where the
stored definition has a value, so an edit of the description never replaces a
token with ``***``. A mask at a path that did not exist before is kept as
given.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from airflow_batchtasks.definitions.yaml_source import compose_documents

MASK = "***"


#: Walk modes: what the value under a key is.
_WALK, _ALL, _PARAMS, _SPEC = "walk", "all", "params", "spec"
#: The keys of a run argument's spec that hold its values (the rest describes it).
_SPEC_VALUES = frozenset({"default", "enum", "examples"})

_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^\s/@:]*:)(?P<secret>[^\s/@]+)(?=@)", re.IGNORECASE)
#: ``Authorization`` values: the credential after its scheme is a secret of its own.
_AUTH_SCHEME = re.compile(r"^(?:bearer|basic|token|digest|apikey|bot)\s+(?P<credential>\S+)$", re.IGNORECASE)
_QUERY_ARG = re.compile(r"(?P<head>(?:^|[?&;])(?P<key>[^=&#\s?;]+)=)(?P<value>[^&#\s]*)")  # URL or form body


# ----------------------------------------------------------------------------- Airflow's masker


@functools.cache
def _masker_module() -> Any:
    """Airflow's secrets masker: ``airflow._shared`` in the api-server and dag-processor of 3.1-3.3, the task
    SDK's copy where only the SDK is installed, the pre-3.0 location last."""
    for name in (
        "airflow._shared.secrets_masker",
        "airflow.sdk._shared.secrets_masker",
        "airflow.sdk.execution_time.secrets_masker",
        "airflow.utils.log.secrets_masker",
    ):
        try:
            return __import__(name, fromlist=["redact"])
        except ImportError:
            continue
    return None


def _masker() -> Any:
    module = _masker_module()
    getter = getattr(module, "_secrets_masker", None)
    return getter() if callable(getter) else None


@functools.cache
def _configured_fields() -> frozenset[str]:
    """Airflow's default sensitive names and ``[core] sensitive_var_conn_names``, read from the config."""
    fields = set(getattr(_masker_module(), "DEFAULT_SENSITIVE_FIELDS", ()) or _FALLBACK_FIELDS)
    try:
        from airflow.configuration import conf

        extra = conf.get("core", "sensitive_var_conn_names", fallback="") or ""
    except Exception:  # no Airflow config (a bare definitions check): the defaults alone
        extra = ""
    fields |= {f.strip().lower() for f in extra.split(",") if f.strip()}
    return frozenset(fields)


#: Only used if no Airflow masker can be imported at all (Airflow 3.1's list).
_FALLBACK_FIELDS = frozenset({
    "access_token", "api_key", "apikey", "authorization", "passphrase", "passwd", "password",
    "private_key", "secret", "token", "keyfile_dict", "service_account",
})


def _hiding_enabled() -> bool:
    masker = _masker()
    if masker is not None and hasattr(masker, "hide_sensitive_var_conn_fields"):
        return bool(masker.hide_sensitive_var_conn_fields)
    try:
        from airflow.configuration import conf

        return conf.getboolean("core", "hide_sensitive_var_conn_fields", fallback=True)
    except Exception:
        return True


_fields_seen: tuple[int, int, frozenset[str]] = (0, 0, frozenset())


def sensitive_fields() -> frozenset[str]:
    """The names Airflow masks here: the masker's configured list (set at Airflow start), else the config's."""
    global _fields_seen
    masker = _masker()
    configured = getattr(masker, "sensitive_variables_fields", None) if masker is not None else None
    if not configured:
        return _configured_fields()
    if _fields_seen[:2] != (id(configured), len(configured)):  # Airflow assigns a new list when it reconfigures
        _fields_seen = (id(configured), len(configured), frozenset(str(f).lower() for f in configured))
    return _fields_seen[2]


@functools.lru_cache(maxsize=8192)
def _names_sensitive(key: str, fields: frozenset[str]) -> bool:
    normalized = re.sub(r"\W+", "_", key.strip().lower())
    return any(field in normalized for field in fields)


def is_sensitive(key: Any) -> bool:
    """Whether the value under ``key`` is a secret by Airflow's rules (``should_hide_value_for_key``)."""
    if not isinstance(key, str) or not _hiding_enabled():
        return False
    return _names_sensitive(key, sensitive_fields())


def _known_secrets(text: str) -> str:
    """``text`` with every value Airflow's masker was told about (connection passwords...) replaced."""
    masker = _masker()
    replacer = getattr(masker, "replacer", None) if masker is not None else None
    return replacer.sub(MASK, text) if replacer is not None else text


def known_secrets_key() -> Any:
    """What :func:`_known_secrets` replaces, as a value that changes when the masker is told about another
    secret (its compiled pattern, rebuilt on each new secret): lets a cache of masked text know it is stale."""
    masker = _masker()
    return getattr(masker, "replacer", None) if masker is not None else None


def mask_string(text: str) -> str:
    """A string shown where no key says it is secret: known secrets, URL passwords, sensitive URL arguments."""
    text = _known_secrets(text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    if "=" in text:
        text = _QUERY_ARG.sub(lambda m: m["head"] + MASK if is_sensitive(m["key"]) and m["value"] else m[0], text)
    return text


# ----------------------------------------------------------------------------- data


def _child_mode(mode: str, key: Any, top: bool) -> str:
    """The walk mode of the value under ``key`` of a mapping walked in ``mode`` (``top``: a document's root)."""
    if mode == _ALL:
        return _ALL
    if mode == _PARAMS:
        return _SPEC if is_sensitive(key) else _WALK
    if mode == _SPEC and key in _SPEC_VALUES:
        return _ALL
    if is_sensitive(key):
        return _ALL
    if top and key == "params":
        return _PARAMS
    return _WALK


def _mask_scalar(value: Any, mode: str) -> Any:
    if mode in (_ALL, _SPEC):
        return value if value is None or isinstance(value, bool) or value == "" else MASK
    return mask_string(value) if isinstance(value, str) else value


def _mask(value: Any, mode: str, top: bool = False) -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, _child_mode(mode, k, top)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v, _ALL if mode == _SPEC else mode) for v in value]
    return _mask_scalar(value, mode)


def _hidden(original: Any, masked: Any) -> Iterator[str]:
    """The values (as text) that masking changed, comparing ``original`` with its ``masked`` copy; for an
    ``Authorization``-style value (``Bearer x``) its credential alone too."""
    if isinstance(original, dict) and isinstance(masked, dict):
        for k, v in original.items():
            yield from _hidden(v, masked.get(k))
    elif isinstance(original, (list, tuple)) and isinstance(masked, list):
        for o, m in zip(original, masked, strict=False):
            yield from _hidden(o, m)
    elif original != masked and original not in (None, "") and not isinstance(original, (bool, dict, list)):
        yield str(original)
        scheme = _AUTH_SCHEME.match(str(original))
        if scheme:
            yield scheme["credential"]


def _min_length() -> int:
    return int(getattr(_masker(), "min_length_to_mask", 5) or 5)


def _scrub(value: Any, secrets: list[str]) -> Any:
    """Every string of ``value`` with ``secrets`` (longest first) replaced: a secret found under a sensitive
    key is hidden wherever else it appears (an anchor it came from, an endpoint that repeats it)."""
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
    return value


def _secrets_of(original: Any, masked: Any) -> list[str]:
    shortest = _min_length()
    return sorted({s for s in _hidden(original, masked) if len(s) >= shortest}, key=len, reverse=True)


def _masked(value: Any, mode: str, top: bool = False) -> Any:
    masked = _mask(value, mode, top)
    secrets = _secrets_of(value, masked)
    return _scrub(masked, secrets) if secrets else masked


def mask_data(value: Any) -> Any:
    """A copy of ``value`` (mappings, lists, scalars) with every secret replaced by ``***``."""
    return _masked(value, _WALK)


def mask_definition(data: Any) -> Any:
    """A definition document's data, masked; its top-level ``params`` are run arguments (see the module doc)."""
    return _masked(data, _WALK, top=True)


def mask_params(params: dict[str, Any]) -> dict[str, Any]:
    """Run arguments as declared (name -> spec or value), defaults of sensitive names masked."""
    return _masked(params, _PARAMS)


def secret_values(value: Any, definition: bool = False) -> list[str]:
    """Every value masking hides in ``value`` (as text, longest first), to scrub them from messages about it.

    ``definition``: ``value`` is a definition document (see :func:`mask_definition`).
    """
    masked = mask_definition(value) if definition else mask_data(value)
    return sorted(set(_hidden(value, masked)), key=len, reverse=True)


def mask_message(text: str, secrets: Iterable[str] = ()) -> str:
    """An error or log message with ``secrets`` (longest first) and every known secret replaced."""
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):  # "1" is no secret
        text = text.replace(secret, MASK)
    return mask_string(text)


def _arg_tokens(args: str) -> list[tuple[str | None, str]] | None:
    """``(name, value)`` per token of a run-arguments text (name None for a positional value); None when the
    text does not split like a shell line."""
    try:
        tokens = shlex.split(args)
    except ValueError:
        return None
    out: list[tuple[str | None, str]] = []
    for token in tokens:
        key, sep, value = token.partition("=")
        out.append((key, value) if sep else (None, token))
    return out


def _names_a_secret(args: str) -> bool:
    return any(is_sensitive(name) for name in re.findall(r"([^\s=\"']+)=", args))


def _arg_hidden(name: str | None, value: str) -> bool:
    return name is None or is_sensitive(name) and value != ""


def mask_args(args: str) -> str:
    """Run arguments as text (``region=EU db_password=x``): values of sensitive names masked.

    A positional value (no ``name=``) cannot be told apart from a secret here, so it is masked; text
    that does not split like a shell line is masked whole if it names a sensitive argument.
    """
    tokens = _arg_tokens(args)
    if tokens is None:
        return MASK if _names_a_secret(args) else args
    shown = []
    for name, value in tokens:
        if _arg_hidden(name, value):
            shown.append(MASK if name is None else f"{name}={MASK}")
        else:
            token = f"{name}={mask_string(value)}"
            shown.append(shlex.quote(token) if any(c.isspace() for c in value) else token)
    return " ".join(shown)


def args_secrets(args: str) -> list[str]:
    """The values of sensitive names in ``args``, and the whole text when there are any (an error may quote
    it all). Positional values are not among them: an error quoting one is about that value, not a secret's."""
    tokens = _arg_tokens(args)
    if tokens is None:
        return [args] if _names_a_secret(args) else []
    hidden = [value for name, value in tokens if name is not None and _arg_hidden(name, value)]
    return [args, *hidden] if hidden else []


def register_secrets(value: Any, mask_secret: Callable[[str], None] | None = None) -> None:
    """Tell Airflow's masker (of the running task) every secret in ``value``, so task logs hide them too."""
    if mask_secret is None:
        try:
            from airflow.sdk.log import mask_secret
        except ImportError:  # pragma: no cover - outside a task SDK install
            module = _masker_module()
            mask_secret = getattr(module, "mask_secret", None)
    if mask_secret is None:
        return
    for secret in secret_values(value):  # with the credential of a `Bearer x`: an API may quote it alone
        mask_secret(secret)


# ----------------------------------------------------------------------------- YAML text


def _first_node(text: str) -> yaml.Node | None:
    """The first document's node tree, composed within the parse budget (a text that never went through
    the loader cannot make this crash or expand an alias bomb)."""
    for _loader, node in compose_documents(text):
        if node is not None:
            return node
    return None


_Scalar = tuple[yaml.ScalarNode, str, tuple[Any, ...]]


def _scalars(node: yaml.Node, mode: str, top: bool, path: tuple[Any, ...], seen: set[tuple[int, str]],
             construct: Callable[[yaml.Node], Any]) -> Iterator[_Scalar]:
    """Every scalar node of the tree with its walk mode and data path; a node shared by aliases is visited
    once per mode (so an alias bomb costs its node count, not its expansion)."""
    mark = (id(node), mode)
    if mark in seen:
        return
    seen.add(mark)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":merge"):
                yield from _scalars(value_node, mode, top, path, seen, construct)  # `<<: *base`
            elif isinstance(key_node, yaml.ScalarNode):
                key = construct(key_node)
                yield from _scalars(value_node, _child_mode(mode, key, top), False, (*path, key), seen, construct)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _scalars(item, _ALL if mode == _SPEC else mode, False, (*path, i), seen, construct)
    elif isinstance(node, yaml.ScalarNode):
        yield node, mode, path


def _value_span(text: str, node: yaml.ScalarNode) -> tuple[int, int]:
    """Where the scalar's own text is: after its anchor (``&a``) and tag (``!!str``), before trailing blanks."""
    start, end = node.start_mark.index, node.end_mark.index
    while start < end and text[start] in "&!":
        while start < end and not text[start].isspace():
            start += 1
        while start < end and text[start].isspace():
            start += 1
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return start, end


def _yaml_scalar(value: Any) -> str:
    """``value`` as one YAML flow scalar (a JSON string is a valid double-quoted YAML scalar)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).strip().removesuffix("...").strip()


def _rewrite(text: str, replace: Callable[[Any, str, tuple[Any, ...]], Any]) -> str | None:
    """``text`` with each scalar rewritten in place where ``replace(value, mode, path)`` differs from its value;
    None when the text does not parse."""
    try:
        node = _first_node(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return text
    constructor = yaml.SafeLoader("")
    construct = functools.partial(constructor.construct_object, deep=True)
    edits: dict[int, tuple[int, str]] = {}
    for scalar, mode, path in _scalars(node, _WALK, True, (), set(), construct):
        value = construct(scalar)
        new = replace(value, mode, path)
        if type(new) is not type(value) or new != value:
            start, end = _value_span(text, scalar)
            edits[start] = (end, _yaml_scalar(new))
    out, last = [], 0
    for start in sorted(edits):
        end, new_text = edits[start]
        out.append(text[last:start] + new_text)
        last = end
    out.append(text[last:])
    return "".join(out)


def _first_data(text: str) -> Any:
    """The first document's data, parsed within the budget (raises ``yaml.YAMLError``, BudgetExceeded included)."""
    for loader, node in compose_documents(text):
        return loader.construct_document(node)
    return None


def _parses_to(text: str, expected: Any) -> bool:
    try:
        return bool(_first_data(text) == expected)
    except yaml.YAMLError:
        return False


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def mask_text(text: str, data: Any | None = None) -> str:
    """A definition's YAML text (one document) with its secrets masked, comments and layout kept.

    ``data``: the document's data when the caller has it (saves a parse). Text that cannot be
    rewritten in place to mean exactly the masked data is replaced by a dump of the masked data.
    """
    if data is None:
        try:
            data = _first_data(text)
        except yaml.YAMLError:
            return MASK
    masked = mask_definition(data)
    if masked == data and _known_secrets(text) == text:
        return text
    secrets = _secrets_of(data, masked)
    rewritten = _rewrite(text, lambda value, mode, _path: _scrub(_mask_scalar(value, mode), secrets))
    if rewritten is not None:
        rewritten = _known_secrets(rewritten)
        if _parses_to(rewritten, masked):
            return rewritten
    return _dump(masked)


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        if isinstance(data, dict) and part in data or isinstance(data, list) and isinstance(part, int) \
                and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _restore(new: Any, old: Any, shown: Any) -> Any:
    """``new`` with each value that is exactly what was shown for a hidden ``old`` value set back to it."""
    if isinstance(new, dict) and isinstance(old, dict) and isinstance(shown, dict):
        return {k: _restore(v, old[k], shown.get(k)) if k in old else v for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list) and isinstance(shown, list):
        return [_restore(v, old[i], shown[i]) if i < min(len(old), len(shown)) else v for i, v in enumerate(new)]
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)):
        return new
    return old if shown != old and new == shown else new


def restore(new: Any, old: Any) -> Any:
    """A definition written back: where ``new`` holds what masking showed for a value of the stored ``old``
    (``***``, or a URL with ``***`` for its password), the stored value is kept."""
    return _restore(new, old, mask_definition(old))


def restore_text(text: str, old: Any, new: Any = None) -> str:
    """Incoming YAML text of a definition with the masks put back to the stored values (see :func:`restore`).

    ``new``: the text's data when the caller has parsed it already (within the parse budget).
    """
    if new is None:
        try:
            new = _first_data(text)
        except yaml.YAMLError:
            return text  # the caller reports the syntax error
    shown = mask_definition(old)
    wanted = _restore(new, old, shown)
    if wanted == new:
        return text
    rewritten = _rewrite(text, lambda value, _mode, path: _restore(value, _at(old, path), _at(shown, path)))
    if rewritten is not None and _parses_to(rewritten, wanted):
        return rewritten
    return _dump(wanted)


# ----------------------------------------------------------------------------- server paths


@functools.lru_cache(maxsize=4096)
def relative_path(file: str, root: Path) -> str:
    """``file`` relative to the definitions folder ``root``; a file outside it shows its name only.

    Cached: every DAG of a file asks, and resolving paths is system calls (a folder of thousands of
    definitions spread over hundreds of files asks hundreds of distinct questions, not thousands).
    """
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(file).name


def hide_paths(text: str, root: Path) -> str:
    """A message with the definitions folder's absolute path taken out (files named relative to it)."""
    for base in {str(root), str(root.resolve())}:
        if base and base != "/":
            text = text.replace(base.rstrip("/") + "/", "").replace(base, ".")
    return text
