"""Definitions CRUD on the YAML files of the definitions folder.

The folder stays the single source of truth (the dag-processor reads it; it
cannot read the database), so the API edits files: a definition is one YAML
document, replaced or removed in place so the other documents and comments of
its file survive. Before anything is written the WHOLE folder is validated as
it would be after the change, and the change is refused (with file:line:field
messages) if it introduces an error anywhere: a deleted project that tasks
still use, a name clash with another file, a bad key. Errors that were already
there before the change do not block it, so one broken file never freezes the
folder. Files are replaced atomically (temporary file + rename) under a lock.

What leaves this module is masked (:mod:`airflow_batchtasks.definitions.masking`):
definitions come back with their secrets as ``***`` (data and YAML text), and
errors name files relative to the definitions folder, never the server's paths.
A definition written back with those masks keeps the stored secrets.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airflow_batchtasks import config
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.catalog import (
    SUFFIXES,
    Catalog,
    Entry,
    add_documents,
    iter_files,
    resolve,
    validate_document,
)
from airflow_batchtasks.definitions.errors import DefinitionError
from airflow_batchtasks.definitions.models import KINDS, NAME_RE
from airflow_batchtasks.definitions.yaml_source import Document, compose_documents, parse_documents
from airflow_batchtasks.plugins.data import catalog_cache
from airflow_batchtasks.plugins.data.errors import Conflict, Invalid, NotFound, ReadOnly
from airflow_batchtasks.plugins.data.models import Definition

_thread_lock = threading.Lock()

#: What a disabled copy sets, per kind (projects have no such switch).
DISABLED_KEY = {"task": "enabled", "orchestration": "active"}


# ----------------------------------------------------------------------------- reading


def relative(file: str, root: Path | None = None) -> str:
    return masking.relative_path(file, root or catalog_cache.definitions_root())


def to_definition(entry: Entry, kind: str) -> Definition:
    """The definition as a viewer may see it: secrets masked in its data and in its text (comments kept)."""
    data = entry.doc.data if isinstance(entry.doc.data, dict) else {}
    return Definition(
        kind=kind, name=entry.model.name, file=relative(entry.doc.file), line=entry.doc.line,
        yaml=masking.mask_text(entry.doc.text.rstrip() + "\n", data), data=masking.mask_definition(data),
    )


def find(kind: str, name: str, catalog: Catalog | None = None) -> Entry:
    if kind not in KINDS:
        raise NotFound(f"unknown kind `{kind}`: expected one of {', '.join(KINDS)}")
    catalog = catalog or catalog_cache.get_catalog()
    entry = catalog.by_kind(kind).get(name)
    if entry is None:
        broken = [e for e in catalog.errors if e.name == name and e.kind == kind]
        if broken:
            raise NotFound(f"{kind} `{name}` has errors and cannot be read as a definition: {broken[0]}")
        raise NotFound(f"unknown {kind} `{name}`")
    return entry


def list_definitions(kind: str | None = None) -> tuple[list[Definition], list[DefinitionError]]:
    """Valid definitions (optionally of one kind) and the folder's current errors (see :func:`display`)."""
    if kind is not None and kind not in KINDS:
        raise Invalid(f"unknown kind `{kind}`: expected one of {', '.join(KINDS)}")
    catalog = catalog_cache.get_catalog()
    kinds = [kind] if kind else list(KINDS)
    found = [to_definition(e, k) for k in kinds for e in catalog.by_kind(k).values()]
    errors = [e for e in catalog.errors if kind is None or e.kind in (kind, None)]
    return sorted(found, key=lambda d: (d.kind, d.name)), errors


def display(err: DefinitionError) -> str:
    """``file:line: field: message`` with files relative to the definitions folder (in the message too)."""
    root = catalog_cache.definitions_root()
    message = masking.mask_message(masking.hide_paths(err.message, root))
    return str(DefinitionError(relative(err.file, root), err.line, err.field, message, err.name, err.kind,
                               err.severity))


def _shown(errors: list[str], *documents: Any) -> list[str]:
    """Error lines without the secrets of the ``documents`` they are about (an error may quote a value)."""
    secrets = [s for data in documents if isinstance(data, dict) for s in masking.secret_values(data, True)]
    return [masking.mask_message(e, secrets) for e in errors]


# ----------------------------------------------------------------------------- input


def document_text(body: str | dict[str, Any]) -> str:
    """YAML text of a request body: YAML as given, or a JSON object dumped as YAML."""
    if isinstance(body, dict):
        return yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return body if body.endswith("\n") else body + "\n"


def single_document(text: str, display: str) -> Document:
    docs, errors = parse_documents(text, display, max_documents=1)
    if errors:
        raise Invalid("the definition is not valid YAML", [str(e) for e in errors])
    if len(docs) != 1:
        raise Invalid(f"expected exactly one YAML document, got {len(docs)}")
    doc = docs[0]
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") not in KINDS or not isinstance(data.get("name"), str):
        raise Invalid("a definition is a mapping with a `kind` (project, task, orchestration) and a `name`")
    return doc


# ----------------------------------------------------------------------------- validation


#: (file shown, digest of its text) -> its documents, each with its validation result, and its parse errors.
_ParsedFile = tuple[list[tuple[Document, tuple[Any, list[DefinitionError]]]], list[DefinitionError]]
_parsed_files: OrderedDict[tuple[str, str], _ParsedFile] = OrderedDict()
_parsed_lock = threading.Lock()


def _parsed(display: str, text: str, keep: int) -> _ParsedFile:
    """The documents of one file's text, parsed and validated once per text.

    Every validation round trip of the editor checks the whole folder twice (as it is, and with
    the change); with a thousand definitions, parsing and validating them each time took over half
    a second. A file whose text did not change is taken from here; ``keep`` bounds the entries
    (the folder's files, each as it is and as last edited).
    """
    key = (display, hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest())
    with _parsed_lock:
        hit = _parsed_files.get(key)
        if hit is not None:
            _parsed_files.move_to_end(key)
            return hit
    docs, errors = parse_documents(text, display)
    parsed = ([(doc, validate_document(doc)) for doc in docs], errors)
    with _parsed_lock:
        _parsed_files[key] = parsed
        while len(_parsed_files) > keep:
            _parsed_files.popitem(last=False)
    return parsed


def _folder_catalog(root: Path, overrides: dict[Path, str | None]) -> Catalog:
    """The catalog the folder would give with ``overrides`` (path -> new text, None = deleted) applied."""
    catalog = Catalog()
    checked: dict[int, tuple[Any, list[DefinitionError]]] = {}
    docs: list[Document] = []
    paths = set(iter_files(root)) if root.exists() else set()
    paths |= set(overrides)
    for path in sorted(paths):
        text = overrides[path] if path in overrides else _read(path)
        if text is None:
            continue
        found, errors = _parsed(relative(str(path), root), text, keep=2 * len(paths) + 16)
        for doc, result in found:
            checked[id(doc)] = result
            docs.append(doc)
        catalog.errors.extend(errors)
    add_documents(catalog, docs, validate=lambda doc: checked[id(doc)])
    resolve(catalog)
    return catalog


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _error_key(err: DefinitionError, changed: set[str]) -> str:
    # Lines move inside an edited file, so there an error is identified without its line.
    if err.file in changed:
        return f"{err.file}|{err.name}|{err.kind}|{err.field}|{err.message}"
    return str(err)


def new_errors(root: Path, overrides: dict[Path, str | None]) -> list[str]:
    """Errors the change would introduce anywhere in the folder (pre-existing ones are not counted)."""
    changed = {relative(str(p), root) for p in overrides}
    before = {_error_key(e, changed) for e in _folder_catalog(root, {}).errors}
    after = _folder_catalog(root, overrides)
    return [str(e) for e in after.errors if _error_key(e, changed) not in before]


def validate_text(text: str, file: str | None = None) -> list[str]:
    """Errors that writing one definition would introduce: as a replacement if it exists, else as new.

    ``file``: validate it as added to that file instead.
    """
    root = catalog_cache.definitions_root()
    doc = single_document(text, file or "<body>")
    kind, name = doc.data["kind"], doc.data["name"]
    existing = catalog_cache.get_catalog().by_kind(kind).get(name)
    if file is None and existing is not None:
        path = Path(existing.doc.file)
        text = masking.restore_text(text, existing.doc.data, doc.data)
        errors = new_errors(root, {path: _replace_document(path, existing.doc.line, text)})
        return _shown(errors, doc.data, existing.doc.data)
    path = _target(root, file or f"{name}.yaml")
    current = _read(path) if path.exists() else None
    merged = text if not current or not current.strip() else current.rstrip("\n") + "\n---\n" + text
    return _shown(new_errors(root, {path: merged}), doc.data)


# ----------------------------------------------------------------------------- writing


def _check_writable() -> None:
    if not config.definitions_writable():
        raise ReadOnly("definitions are read-only here: [batchtasks] definitions_writable is false")


def _target(root: Path, file: str) -> Path:
    """A definitions file path from a client-given relative name, never outside the folder."""
    rel = Path(file)
    hidden = any(p.startswith(".") for p in rel.parts)
    if rel.is_absolute() or ".." in rel.parts or hidden or not file.endswith(SUFFIXES):
        raise Invalid(f"file `{file}` must be a relative *.yaml/*.yml path inside the definitions folder")
    path = (root / rel).resolve()
    if root not in path.parents:
        raise Invalid(f"file `{file}` is outside the definitions folder")
    return path


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One writer at a time, across threads and API-server worker processes."""
    root.mkdir(parents=True, exist_ok=True)
    with _thread_lock, open(root / ".batchtasks-write.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write(path: Path, text: str | None) -> None:
    if text is None or not text.strip():
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    catalog_cache.invalidate()


@dataclass
class _Span:
    start: int
    end: int
    line: int
    #: where the document's region begins: after the previous document and its `---` line,
    #: so comments written above a document belong to it
    region: int = 0


def _spans(text: str) -> list[_Span]:
    """Character span of every non-empty YAML document of ``text`` (as parse_documents sees them)."""
    spans = []
    previous_end = 0
    # within the parse budget; from a broken or over-budget document on, the text is left as it is
    with contextlib.suppress(yaml.YAMLError):
        for _, node in compose_documents(text):
            if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
                continue
            start = node.start_mark.index
            markers = list(re.finditer(r"^---[^\n]*\n", text[previous_end:start], re.MULTILINE))
            region = previous_end + (markers[-1].end() if markers else 0)
            spans.append(_Span(start, node.end_mark.index, node.start_mark.line + 1, region))
            previous_end = node.end_mark.index
    return spans


def _replace_document(path: Path, line: int, new_text: str | None) -> str | None:
    """The file's text with the document starting at ``line`` replaced (or removed when ``new_text`` is None)."""
    text = path.read_text(encoding="utf-8")
    span = next((s for s in _spans(text) if s.line == line), None)
    if span is None:
        raise Conflict(f"{path.name} changed while editing: try again")
    end = span.end
    if new_text is None:
        # drop the document and the `---` that introduced it, keep the others intact
        head = text[: span.start].rstrip()
        if head.endswith("---"):
            head = head[:-3].rstrip()
        rest = text[end:].lstrip("\n")
        if head and rest.strip():
            merged = head + "\n" + (rest if rest.startswith("---") else "---\n" + rest)
        else:
            merged = (head + "\n") if head else rest
        return merged if merged.strip().strip("-").strip() else None
    if end < len(text) and text[end - 1 : end] != "\n" and text[end:end + 1] == "\n":
        end += 1
    # New text that brings its own leading comments replaces the old ones instead of stacking on them.
    start = span.region if new_text.lstrip().startswith("#") else span.start
    return text[:start] + new_text + text[end:]


def _apply(root: Path, overrides: dict[Path, str | None], *documents: Any) -> None:
    """Write the change if it introduces no error; else Invalid with the errors (secrets of ``documents``
    masked in them)."""
    errors = _shown(new_errors(root, overrides), *documents)
    if errors:
        raise Invalid(f"the change would introduce {len(errors)} error(s)", errors)
    for path, text in overrides.items():
        _write(path, text)


def create(body: str | dict[str, Any], file: str | None = None) -> Definition:
    """Add a new definition (``file``: where, relative; default ``<name>.yaml``, appended if it exists)."""
    _check_writable()
    root = catalog_cache.definitions_root()
    text = document_text(body)
    doc = single_document(text, file or "<body>")
    kind, name = doc.data["kind"], doc.data["name"]
    if not NAME_RE.match(name):
        raise Invalid(f"`{name}` is not a valid name: use letters, digits, `_`, `-` or `.`")
    with _locked(root):
        catalog = catalog_cache.get_catalog()
        if name in catalog.by_kind(kind) or any(e.name == name and e.kind == kind for e in catalog.errors):
            raise Conflict(f"{kind} `{name}` already exists")
        path = _target(root, file or f"{name}.yaml")
        current = _read(path) if path.exists() else None
        merged = text if not current or not current.strip() else current.rstrip("\n") + "\n---\n" + text
        _apply(root, {path: merged}, doc.data)
    return to_definition(find(kind, name), kind)


def update(kind: str, name: str, body: str | dict[str, Any]) -> Definition:
    """Replace a definition in place; its kind and name cannot change (use duplicate for a copy).

    A value sent back exactly as it was shown masked (``***``) keeps the stored secret
    (:func:`~airflow_batchtasks.definitions.masking.restore_text`), so editing a definition read
    from this API never writes ``***`` over a token.
    """
    _check_writable()
    root = catalog_cache.definitions_root()
    text = document_text(body)
    doc = single_document(text, "<body>")
    if doc.data["kind"] != kind or doc.data["name"] != name:
        raise Invalid(f"the body defines {doc.data['kind']} `{doc.data['name']}`, not {kind} `{name}`")
    with _locked(root):
        entry = find(kind, name)
        path = Path(entry.doc.file)
        text = masking.restore_text(text, entry.doc.data, doc.data)
        _apply(root, {path: _replace_document(path, entry.doc.line, text)}, doc.data, entry.doc.data)
    return to_definition(find(kind, name), kind)


def delete(kind: str, name: str) -> None:
    _check_writable()
    root = catalog_cache.definitions_root()
    with _locked(root):
        entry = find(kind, name)
        path = Path(entry.doc.file)
        _apply(root, {path: _replace_document(path, entry.doc.line, None)})


def duplicate(kind: str, name: str, new_name: str) -> Definition:
    """A copy under ``new_name``, disabled (task) or inactive (orchestration), in a file next to the original."""
    _check_writable()
    root = catalog_cache.definitions_root()
    entry = find(kind, name)
    folder = Path(entry.doc.file).parent
    rel = (folder / f"{new_name}.yaml").relative_to(root).as_posix() if folder.is_relative_to(root) else None
    return create(renamed_copy(entry.doc, new_name, DISABLED_KEY.get(kind)), rel or f"{new_name}.yaml")


def renamed_copy(doc: Document, new_name: str, off_key: str | None) -> str:
    """The document's own text with ``name`` (and ``enabled``/``active``) changed, comments kept.

    Falls back to a plain YAML dump of the data when the text cannot be edited line by line
    (flow style, multi-line values); either way the result is checked to mean exactly the copy.
    """
    wanted = {**doc.data, "name": new_name}
    if off_key:
        wanted[off_key] = False
    lines = doc.text.splitlines(keepends=True)
    try:
        lines = _set_line(lines, doc, "name", new_name)
        if off_key and (off_key,) in doc.lines:
            lines = _set_line(lines, doc, off_key, "false")
        elif off_key:
            at = doc.lines[("name",)] - doc.line + 1
            indent = re.match(r"\s*", lines[at - 1]).group(0)
            lines.insert(at, f"{indent}{off_key}: false\n")
        text = "".join(lines)
        parsed = [loader.construct_document(node) for loader, node in compose_documents(text)][:1]
        if parsed == [wanted]:
            return text if text.endswith("\n") else text + "\n"
    except (KeyError, IndexError, ValueError, yaml.YAMLError):
        pass
    return document_text(wanted)


def _set_line(lines: list[str], doc: Document, key: str, value: str) -> list[str]:
    index = doc.lines[(key,)] - doc.line
    line = lines[index]
    match = re.match(rf"^(\s*{re.escape(key)}\s*:\s*)([^#\n]*?)(\s*(#.*)?)(\n?)$", line)
    if match is None:
        raise ValueError(line)
    lines = list(lines)
    lines[index] = f"{match.group(1)}{value}{match.group(3)}{match.group(5)}"
    return lines
