"""A small index of a definitions folder: which file declares which names, read without validating.

Why: with a sharded loader (``airflow batchtasks init --shards N``) each loader file builds the DAGs
of only its own definition files, in its own parsing process. Validating those correctly still needs
the rest of the folder: the project a task inherits ``access``, ``params`` and time zone from, the
tasks an orchestration's steps name, the tasks a project DAG runs, and every other use of a name
(names are DAG ids and must be unique folder-wide). The index answers "which files do I need for
that" from one cheap YAML read per file (no line indexes, no models), and is cached on disk keyed by
each file's size and mtime, so a parse re-reads only the files that changed since the last one.

The shard of a file depends only on its path relative to the folder and the number of shards, so
adding or removing a file never moves another file's DAGs to another loader file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Bump when the summary's shape changes: an older cache is then ignored, never misread.
INDEX_VERSION = 2


def shard_of(relative_path: str, count: int) -> int:
    """The shard (0..count-1) of a definition file, from its path relative to the definitions folder.

    A digest, not Python's ``hash()`` (salted per process): every parsing process must agree.
    """
    if count <= 1:
        return 0
    digest = hashlib.sha256(relative_path.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True, slots=True)
class DocSummary:
    """What the index keeps of one document: enough to find the files another one depends on."""

    kind: str | None
    name: str | None
    project: str | None = None
    steps: tuple[str, ...] = ()
    has_dag: bool = False  # a project with its own DAG (run_in_series or a schedule)
    deliver_queue: str | None = None  # a task with destinations: the queue its resends run on
    resends: bool = False


@dataclass(slots=True)
class FileSummary:
    stamp: tuple[int, int]  # (size, mtime_ns): a change of either re-reads the file
    docs: list[DocSummary] = field(default_factory=list)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def summarize(data: Any) -> DocSummary | None:
    """The summary of one loaded YAML document (None for an empty one)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return DocSummary(None, None)
    kind, name = _text(data.get("kind")), _text(data.get("name"))
    steps = tuple(
        s["task"] for s in data.get("steps") or [] if isinstance(s, dict) and isinstance(s.get("task"), str)
    ) if isinstance(data.get("steps"), list) else ()
    queues = data.get("queues") if isinstance(data.get("queues"), dict) else {}
    return DocSummary(
        kind=kind,
        name=name,
        project=_text(data.get("project")),
        steps=steps,
        has_dag=bool(data.get("run_in_series") or data.get("schedule")),
        deliver_queue=_text(queues.get("deliver")) or _text(data.get("queue")),
        resends=kind == "task" and bool(data.get("destinations")),
    )


def summarize_file(path: Path, stamp: tuple[int, int]) -> FileSummary:
    """Read ``path`` once; a file that does not load keeps the documents before the error (the full
    parse of its own shard reports the error with its line)."""
    summary = FileSummary(stamp)
    try:
        text = path.read_text(encoding="utf-8")
        for data in yaml.load_all(text, Loader=_Loader):
            doc = summarize(data)
            if doc is not None:
                summary.docs.append(doc)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        pass
    return summary


def cache_path(root: Path) -> Path:
    """Where the index of ``root`` is kept between parses: the temporary directory of this machine
    (the definitions folder may be read-only; the index is rebuilt from it whenever it is missing)."""
    key = hashlib.sha256(str(root.resolve()).encode("utf-8")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "airflow-batchtasks" / f"index-{key}.json"


class CatalogIndex:
    """The index of one definitions folder: ``files`` (relative path -> summary), in sorted path order."""

    def __init__(self, root: Path, files: dict[str, FileSummary]) -> None:
        self.root = root
        self.files = files
        self._by_name: dict[str, list[str]] | None = None
        self._by_project: dict[str, list[str]] | None = None

    def by_name(self) -> dict[str, list[str]]:
        """Name -> the files that declare a definition with that name (any kind), in load order."""
        if self._by_name is None:
            out: dict[str, list[str]] = {}
            for rel, summary in self.files.items():
                for doc in summary.docs:
                    if doc.name and rel not in out.setdefault(doc.name, []):
                        out[doc.name].append(rel)
            self._by_name = out
        return self._by_name

    def by_project(self) -> dict[str, list[str]]:
        """Project name -> the files holding tasks of that project."""
        if self._by_project is None:
            out: dict[str, list[str]] = {}
            for rel, summary in self.files.items():
                for doc in summary.docs:
                    if doc.kind == "task" and doc.project and rel not in out.setdefault(doc.project, []):
                        out[doc.project].append(rel)
            self._by_project = out
        return self._by_project

    def shard_files(self, shard: int, count: int) -> list[str]:
        return [rel for rel in self.files if shard_of(rel, count) == shard]

    def needed_files(self, own: Iterable[str]) -> list[str]:
        """``own`` and every file their validation depends on, in load order.

        Followed: the files declaring the same names (uniqueness is decided in load order), the
        projects of every task read, the tasks of an orchestration's steps, and the tasks of a project
        that has its own DAG. Only ``own``'s orchestrations and projects pull in more tasks: another
        shard's are validated there. Two passes over the summaries, with no folder-wide map built:
        a shard's memory should grow with its own files, not with the folder.
        """
        own = list(own)
        needed: set[str] = set(own)
        names: set[str] = set()
        dag_projects: set[str] = set()
        for rel in own:
            for doc in self.files[rel].docs:
                if doc.name:
                    names.add(doc.name)
                if doc.project:
                    names.add(doc.project)
                if doc.kind == "orchestration":
                    names.update(doc.steps)
                if doc.kind == "project" and doc.name and doc.has_dag:
                    dag_projects.add(doc.name)
        projects: set[str] = set()
        for rel, summary in self.files.items():
            if rel in needed or any(
                doc.name in names or (doc.kind == "task" and doc.project in dag_projects) for doc in summary.docs
            ):
                needed.add(rel)
                projects.update(doc.project for doc in summary.docs if doc.project)
        projects -= names
        if projects:  # the projects of tasks read only to validate against
            for rel, summary in self.files.items():
                if any(doc.name in projects for doc in summary.docs):
                    needed.add(rel)
        return [rel for rel in self.files if rel in needed]

    def resend_queues(self) -> set[str | None]:
        """The deliver queues of every task with destinations: each has a resend DAG."""
        return {doc.deliver_queue for s in self.files.values() for doc in s.docs if doc.resends}

    def definition_count(self, rels: Iterable[str] | None = None) -> int:
        chosen = self.files if rels is None else rels
        return sum(len(self.files[rel].docs) for rel in chosen)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _read_cache(path: Path) -> dict[str, FileSummary]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != INDEX_VERSION:
            return {}
        return {
            rel: FileSummary((size, mtime), [
                DocSummary(kind, name, project, tuple(steps), has_dag, queue, resends)
                for kind, name, project, steps, has_dag, queue, resends in docs
            ])
            for rel, (size, mtime, docs) in raw["files"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # a missing or damaged cache is rebuilt, never trusted


def _write_cache(path: Path, files: dict[str, FileSummary]) -> None:
    """Atomically (a temporary file, then rename): parsing processes write it side by side."""
    # lists, not objects with keys: a shard reads this at every parse, and at 30,000 definitions the
    # keyed form cost more memory than the shard's own DAGs
    payload = {
        "version": INDEX_VERSION,
        "files": {
            rel: [*s.stamp, [[d.kind, d.name, d.project, list(d.steps), d.has_dag, d.deliver_queue, d.resends]
                             for d in s.docs]]
            for rel, s in files.items()
        },
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".index-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass  # no cache: the next parse reads the files again, correct but slower


def load_index(root: Path, paths: list[Path], use_cache: bool = True) -> CatalogIndex:
    """The index of ``paths`` (the definition files under ``root``, sorted), re-reading only changed files."""
    cache = cache_path(root) if use_cache else None
    cached = _read_cache(cache) if cache else {}
    files: dict[str, FileSummary] = {}
    changed = False
    for path in paths:
        rel = path.relative_to(root).as_posix() if path != root else path.name
        stamp = _stamp(path)
        if stamp is None:
            continue
        hit = cached.get(rel)
        if hit is not None and hit.stamp == stamp:
            files[rel] = hit
        else:
            files[rel] = summarize_file(path, stamp)
            changed = True
    if cache and (changed or len(files) != len(cached)):
        _write_cache(cache, files)
    return CatalogIndex(root, files)
