"""Load a folder of definition files into a checked, resolved catalog.

Loading never raises for bad input: every problem becomes a DefinitionError
and the valid definitions are still returned, so one broken file never hides
the others. Project defaults (params, notify, timezone, owners, access) are merged
into their tasks here, once, so nothing downstream needs to know projects
exist except to read ``owners``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from airflow_batchtasks.definitions.errors import DefinitionError, format_field
from airflow_batchtasks.definitions.models import KINDS, After, Orchestration, Project, Task
from airflow_batchtasks.definitions.yaml_source import Document, load_documents, parse_documents
from airflow_batchtasks.naming import PROJECT_PREFIX, is_project_dag_id

SUFFIXES = (".yaml", ".yml")


@dataclass
class Entry:
    """A valid definition with the document it came from (for doc_md and error positions)."""

    model: Any
    doc: Document


@dataclass
class Catalog:
    """What a definitions folder declares, split into valid entries and errors."""

    projects: dict[str, Entry] = field(default_factory=dict)
    tasks: dict[str, Entry] = field(default_factory=dict)
    orchestrations: dict[str, Entry] = field(default_factory=dict)
    errors: list[DefinitionError] = field(default_factory=list)
    warnings: list[DefinitionError] = field(default_factory=list)

    def by_kind(self, kind: str) -> dict[str, Entry]:
        return {"project": self.projects, "task": self.tasks, "orchestration": self.orchestrations}[kind]

    def owners_of(self, task: Task) -> list[str]:
        project = self.projects.get(task.project or "")
        return list(project.model.owners) if project else []

    def project_tasks(self, project: str) -> list[Task]:
        """Enabled tasks of a project in the order a series run uses: run_rank, then name."""
        tasks = [e.model for e in self.tasks.values() if e.model.project == project and e.model.enabled]
        return sorted(tasks, key=lambda t: (t.run_rank, t.name))


def _known_keys() -> list[str]:
    keys: set[str] = set()
    seen: set[type] = set()

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
            for sub in _models_in(info.annotation):
                walk(sub)

    for model in KINDS.values():
        walk(model)
    return sorted(keys)


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        yield from _models_in(meta)
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and origin is not annotation:
        yield from _models_in(origin)


_KNOWN_KEYS: list[str] | None = None


def _suggest(word: str, choices: Iterable[str]) -> str:
    hint = get_close_matches(str(word), list(choices), n=1, cutoff=0.7)
    return f" (did you mean `{hint[0]}`?)" if hint else ""


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Keep only the parts of pydantic's ``loc`` that are real keys of the document.

    ``loc`` also holds union tags (``source.sql.query``) and validator names; a part
    that is not in the data is kept only when it is the last one (a missing key).
    """
    path: list[str | int] = []
    node = data
    aliases = {"from_": "from", "json_body": "json"}
    for i, part in enumerate(loc):
        key = aliases.get(part, part) if isinstance(part, str) else part
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if in_list or isinstance(node, dict) and key in node:
            path.append(key)
            node = node[key]
        elif i == len(loc) - 1 and isinstance(node, dict) and node.get("type") != key:
            path.append(key)
    return tuple(path)


def _message(err: dict[str, Any], path: tuple[str | int, ...]) -> str:
    global _KNOWN_KEYS
    kind = err["type"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    key = path[-1] if path else ""
    if kind == "extra_forbidden":
        if _KNOWN_KEYS is None:
            _KNOWN_KEYS = _known_keys()
        return f"unknown key `{key}`{_suggest(str(key), _KNOWN_KEYS)}"
    if kind == "missing":
        return f"required key `{key}` is missing"
    if kind == "union_tag_invalid":
        tags = err.get("ctx", {}).get("expected_tags", "")
        return f"unknown type `{err.get('ctx', {}).get('tag')}`: expected one of {tags}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"`{err.get('input')}` is not allowed here: expected {expected}"
    if kind in ("model_type", "dict_type") and isinstance(err.get("input"), (str, int, float, bool)):
        return f"expected a mapping of keys here, got `{err.get('input')}`"
    return msg


def validation_errors(doc: Document, exc: ValidationError, name: str | None, kind: str) -> list[DefinitionError]:
    """Turn pydantic's errors into file:line:field errors for one document."""
    out: list[DefinitionError] = []
    seen: set[tuple[int, str, str]] = set()
    for err in exc.errors():
        path = _data_path(doc.data, tuple(err["loc"]))
        line = doc.line_of(path)
        if err["type"] == "missing":
            line = doc.line_of(path[:-1])
        message = _message(err, path)
        key = (line, format_field(path), message)
        if key in seen:
            continue
        seen.add(key)
        out.append(DefinitionError(doc.file, line, format_field(path), message, name=name, kind=kind))
    return out


def validate_document(doc: Document) -> tuple[Any | None, list[DefinitionError]]:
    """The document as a model of its kind, or the errors that keep it from being one."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [DefinitionError(doc.file, doc.line, "", "a definition must be a mapping with a `kind`")]
    kind = data.get("kind")
    name = data.get("name") if isinstance(data.get("name"), str) else None
    if not isinstance(kind, str) or kind not in KINDS:
        where = doc.line_of(("kind",))
        if kind is None:
            message = "missing `kind`: expected one of project, task, orchestration"
        else:
            message = f"unknown kind `{kind}`: expected one of project, task, orchestration{_suggest(kind, KINDS)}"
        return None, [DefinitionError(doc.file, where, "kind", message, name=name)]
    try:
        return KINDS[kind].model_validate(data), []
    except ValidationError as exc:
        return None, validation_errors(doc, exc, name, kind)


def iter_files(root: Path) -> list[Path]:
    """Definition files under ``root`` (or ``root`` itself), sorted so loads are deterministic."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def load_catalog(root: Path | str, only: str | None = None) -> Catalog:
    """Load, validate and resolve every definition under ``root``.

    :param only: a DAG id; when given, only the files that can matter to that DAG are
        parsed (its definition and what it references). Used under Airflow's parsing
        context, where a worker needs one DAG, not a thousand.
    """
    root = Path(root)
    catalog = Catalog()
    if not root.exists():
        catalog.errors.append(DefinitionError(str(root), 0, "", "definitions folder does not exist"))
        return catalog
    files = iter_files(root)
    docs: list[Document] = []
    if only is None:
        for path in files:
            found, errors = load_documents(path)
            docs.extend(found)
            catalog.errors.extend(errors)
    else:
        docs = _targeted_documents(files, only, catalog)
    add_documents(catalog, docs)
    resolve(catalog, partial=only is not None)
    return catalog


def add_documents(
    catalog: Catalog,
    docs: Iterable[Document],
    validate: Callable[[Document], tuple[Any | None, list[DefinitionError]]] = validate_document,
) -> None:
    """Validate documents into the catalog; a name used twice by one kind is an error on the later one.

    ``validate``: :func:`validate_document`, or a cache of its results (models are never changed
    in place: :func:`resolve` replaces an entry's model with a copy).
    """
    for doc in docs:
        model, errors = validate(doc)
        catalog.errors.extend(errors)
        if model is None:
            continue
        entries = catalog.by_kind(model.kind)
        clash = entries.get(model.name)
        if clash is None and model.kind != "project":
            other = catalog.orchestrations if model.kind == "task" else catalog.tasks
            clash = other.get(model.name)
        if clash is not None:
            catalog.errors.append(
                DefinitionError(
                    doc.file,
                    doc.line_of(("name",)),
                    "name",
                    f"`{model.name}` is already defined at {clash.doc.file}:{clash.doc.line_of(('name',))} "
                    "(task and orchestration names are DAG ids and must be unique)",
                    name=model.name,
                    kind=model.kind,
                )
            )
            continue
        entries[model.name] = Entry(model, doc)


def resolve(catalog: Catalog, partial: bool = False) -> None:
    """Check cross-references and merge project defaults into tasks.

    :param partial: the catalog holds only some files, so a missing reference is not an error here
        (the full parse reports it).
    """
    broken_projects = {e.name for e in catalog.errors if e.kind == "project" and e.name}
    for name, entry in list(catalog.tasks.items()):
        task: Task = entry.model
        project_entry = catalog.projects.get(task.project) if task.project else None
        if task.project and project_entry is None:
            if not partial:
                if task.project in broken_projects:
                    msg = f"project `{task.project}` has errors (fix them first)"
                else:
                    msg = f"unknown project `{task.project}`{_suggest(task.project, catalog.projects)}"
                _drop(catalog, catalog.tasks, name, ("project",), msg)
            continue
        project: Project | None = project_entry.model if project_entry else None
        if project is None:
            if task.timezone is None:
                entry.model = task.model_copy(update={"timezone": "UTC"})
            continue
        notify = task.notify
        if project.notify is not None:
            base = project.notify.model_dump(exclude_none=True)
            base.update(task.notify.model_dump(exclude_none=True) if task.notify else {})
            notify = type(project.notify).model_validate(base)
        entry.model = task.model_copy(
            update={
                "timezone": task.timezone or project.timezone,
                "params": {**project.params, **task.params},
                "notify": notify,
                "access": merge_access(project.access, task.access),
            }
        )
    _check_after(catalog, partial)
    for name, entry in list(catalog.orchestrations.items()):
        orch: Orchestration = entry.model
        for i, step in enumerate(orch.steps):
            if step.task not in catalog.tasks and not partial:
                _drop(catalog, catalog.orchestrations, name, ("steps", i, "task"),
                      f"unknown task `{step.task}`{_suggest(step.task, catalog.tasks)}")
                break


def _check_after(catalog: Catalog, partial: bool) -> None:
    """``schedule: {after: [...]}`` names tasks that exist, deliver files, and are not the task itself."""
    for entries in (catalog.tasks, catalog.orchestrations):
        for name, entry in list(entries.items()):
            schedule = entry.model.schedule
            if not isinstance(schedule, After):
                continue
            for i, other in enumerate(schedule.after):
                found = catalog.tasks.get(other)
                if other == name:
                    msg = f"`{other}` is this task: a task cannot wait for its own deliveries"
                elif found is None and other in catalog.orchestrations:
                    msg = f"`{other}` is an orchestration: `after` names tasks (their deliveries)"
                elif found is None and not partial:
                    broken = {e.name for e in catalog.errors if e.kind == "task" and e.name}
                    msg = (f"task `{other}` has errors (fix them first)" if other in broken
                           else f"unknown task `{other}`{_suggest(other, catalog.tasks)}")
                elif found is not None and not found.model.destinations:
                    msg = f"task `{other}` has no `destinations`: it never delivers"
                else:
                    continue
                _drop(catalog, entries, name, ("schedule", "after", i), msg)
                break


def merge_access(
    project: dict[str, list[str]] | None, task: dict[str, list[str]] | None
) -> dict[str, list[str]] | None:
    """A task's ``access``: its project's plus its own, per role (a union: a task can widen, never narrow).

    Why a union: a project's roles are who owns the project's data; a task adding a role (a consumer team
    that may run one export) must not silently take the owners off it. None when neither says anything
    (the DAG then gets no ``access_control``, and the auth manager's global permissions alone decide).
    """
    if project is None and task is None:
        return None
    merged: dict[str, list[str]] = {role: list(rights) for role, rights in (project or {}).items()}
    for role, rights in (task or {}).items():
        merged[role] = list(dict.fromkeys([*merged.get(role, []), *rights]))
    return merged


def _drop(catalog: Catalog, entries: dict[str, Entry], name: str, path: tuple[str | int, ...], msg: str) -> None:
    entry = entries.pop(name)
    catalog.errors.append(
        DefinitionError(entry.doc.file, entry.doc.line_of(path), format_field(path), msg,
                        name=name, kind=entry.model.kind)
    )


def _name_pattern(names: Iterable[str], key: str = "name") -> re.Pattern[str]:
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"^\s*-?\s*{key}\s*:\s*[\"']?(?:{alternatives})[\"']?\s*(?:#.*)?$", re.MULTILINE)


def _targeted_documents(files: list[Path], dag_id: str, catalog: Catalog) -> list[Document]:
    """Parse only the files that can define ``dag_id`` and what it references.

    A cheap text scan picks candidate files; they are then parsed for real, and
    references (project, orchestration steps, a project's tasks) are followed the same way.
    """
    texts: dict[Path, str] = {}
    for path in files:
        try:
            texts[path] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    wanted = {dag_id.removeprefix(PROJECT_PREFIX)}
    pattern = _name_pattern(wanted)
    if is_project_dag_id(dag_id):
        pattern = re.compile(pattern.pattern + "|" + _name_pattern(wanted, "project").pattern, re.MULTILINE)
    parsed: set[Path] = set()
    docs: list[Document] = []

    def take(pat: re.Pattern[str]) -> list[Document]:
        new: list[Document] = []
        for path, text in texts.items():
            if path not in parsed and pat.search(text):
                parsed.add(path)
                found, errors = parse_documents(text, str(path))
                catalog.errors.extend(errors)
                new.extend(found)
        return new

    frontier = take(pattern)
    while frontier:
        docs.extend(frontier)
        refs: set[str] = set()
        for doc in frontier:
            data = doc.data if isinstance(doc.data, dict) else {}
            if isinstance(data.get("project"), str):
                refs.add(data["project"])
            for step in data.get("steps") or []:
                if isinstance(step, dict) and isinstance(step.get("task"), str):
                    refs.add(step["task"])
            schedule = data.get("schedule")
            if isinstance(schedule, dict) and isinstance(schedule.get("after"), list):
                refs.update(n for n in schedule["after"] if isinstance(n, str))
        frontier = take(_name_pattern(refs)) if refs else []
    return docs
