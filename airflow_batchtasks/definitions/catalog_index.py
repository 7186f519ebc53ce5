"""A small index of a definitions folder: which file declares which names, read without validating.

Why: with a sharded loader (``airflow batchtasks init --shards N``) each loader file builds the DAGs
of only its own definition files, in its own parsing process. Validating those correctly still needs
the rest of the folder: the project a task inherits ``access``, ``params`` and time zone from, the
tasks an orchestration's steps name, the tasks a project DAG runs, and every other use of a name
(names are DAG ids and must be unique folder-wide). The index answers "which files do I need for
that" from one cheap YAML read per file (no line indexes, no models), and is cached on disk keyed by
each file's size and mtime, so a parse re-reads only the files that changed since the last one.

The cache is a SQLite file with an index on names and projects: a shard asks it for the files it needs
instead of loading the summaries of the whole folder (at 30,000 definitions that load cost each shard
13-17 MB of memory and 0.1-0.3 s of CPU, paid by every shard of every parse).

The shard of a file depends only on its path relative to the folder and the number of shards, so
adding or removing a file never moves another file's DAGs to another loader file.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Bump when the summary's shape changes: an older cache is then rebuilt, never misread.
INDEX_VERSION = 3
#: Most values in one SQL ``IN (...)`` list (SQLite allows 32,766 parameters; stay far below).
_CHUNK = 900
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS files (rel TEXT PRIMARY KEY, size INTEGER, mtime INTEGER)",
    "CREATE TABLE IF NOT EXISTS docs (rel TEXT, seq INTEGER, kind TEXT, name TEXT, project TEXT, steps TEXT,"
    " has_dag INTEGER, deliver_queue TEXT, resends INTEGER)",
    "CREATE INDEX IF NOT EXISTS docs_rel ON docs (rel)",
    "CREATE INDEX IF NOT EXISTS docs_name ON docs (name)",
    "CREATE INDEX IF NOT EXISTS docs_project ON docs (project)",
)


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
    return Path(tempfile.gettempdir()) / "airflow-batchtasks" / f"index-{key}.sqlite3"


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class CatalogIndex:
    """The index of one definitions folder: its files (relative paths, in load order) and, in SQLite,
    what each declares. Queries answer only for the files listed now (another parsing process may have
    indexed a file added since this one listed the folder). Close it when done (or use ``with``)."""

    def __init__(self, root: Path, rels: list[str], db: sqlite3.Connection) -> None:
        self.root = root
        self.rels = rels
        self._order = {rel: i for i, rel in enumerate(rels)}
        self._db = db

    def __enter__(self) -> CatalogIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _rels_where(self, column: str, values: Iterable[str], extra: str = "") -> set[str]:
        """The listed files with a document whose ``column`` is one of ``values`` (and ``extra``)."""
        found: set[str] = set()
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            found.update(r for (r,) in self._db.execute(
                f"SELECT DISTINCT rel FROM docs WHERE {column} IN ({marks}){extra}", chunk))
        return {r for r in found if r in self._order}

    def _docs_of(self, rels: Iterable[str]) -> Iterator[DocSummary]:
        for chunk in _chunks(rels):
            marks = ",".join("?" * len(chunk))
            for kind, name, project, steps, has_dag, queue, resends in self._db.execute(
                "SELECT kind, name, project, steps, has_dag, deliver_queue, resends FROM docs "
                f"WHERE rel IN ({marks})", chunk,
            ):
                yield DocSummary(kind, name, project, tuple(json.loads(steps)), bool(has_dag), queue, bool(resends))

    def shard_files(self, shard: int, count: int) -> list[str]:
        return [rel for rel in self.rels if shard_of(rel, count) == shard]

    def needed_files(self, own: Iterable[str]) -> list[str]:
        """``own`` and every file their validation depends on, in load order.

        Followed: the files declaring the same names (uniqueness is decided in load order), the
        projects of every task read, the tasks of an orchestration's steps, and the tasks of a project
        that has its own DAG. Only ``own``'s orchestrations and projects pull in more tasks: another
        shard's are validated there. Indexed lookups, no folder-wide map: a shard's memory grows with
        its own files, not with the folder.
        """
        own = list(own)
        names: set[str] = set()
        dag_projects: set[str] = set()
        for doc in self._docs_of(own):
            if doc.name:
                names.add(doc.name)
            if doc.project:
                names.add(doc.project)
            if doc.kind == "orchestration":
                names.update(doc.steps)
            if doc.kind == "project" and doc.name and doc.has_dag:
                dag_projects.add(doc.name)
        needed = set(own) | self._rels_where("name", names)
        needed |= self._rels_where("project", dag_projects, " AND kind = 'task'")
        projects = {doc.project for doc in self._docs_of(needed) if doc.project} - names
        if projects:  # the projects of tasks read only to validate against
            needed |= self._rels_where("name", projects)
        return sorted(needed, key=self._order.__getitem__)

    def resend_queues(self) -> set[str | None]:
        """The deliver queues of every task with destinations: each has a resend DAG."""
        rows = self._db.execute("SELECT DISTINCT rel, deliver_queue FROM docs WHERE resends = 1")
        return {queue for rel, queue in rows if rel in self._order}

    def definition_count(self, rels: Iterable[str] | None = None) -> int:
        chosen = self._order if rels is None else set(rels)
        rows = self._db.execute("SELECT rel, count(*) FROM docs GROUP BY rel")
        return sum(n for rel, n in rows if rel in chosen)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _connect(path: Path | None) -> sqlite3.Connection:
    """The cache at ``path`` with the current schema (a cache of another version, or a damaged one, is
    emptied and rebuilt, never trusted); an in-memory index when there is no usable cache file."""
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=60, isolation_level=None)
            try:
                _prepare(db)
                return db
            except sqlite3.DatabaseError:
                db.close()
                path.unlink(missing_ok=True)  # damaged: start again
                db = sqlite3.connect(path, timeout=60, isolation_level=None)
                _prepare(db)
                return db
        except (OSError, sqlite3.Error):
            pass  # no cache: this parse indexes the folder in memory, correct but slower
    db = sqlite3.connect(":memory:", isolation_level=None)
    _prepare(db)
    return db


def _prepare(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA:
        db.execute(statement)
    row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    if row is None or row[0] != str(INDEX_VERSION):
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM docs")
        db.execute("DELETE FROM files")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(INDEX_VERSION),))
        db.execute("COMMIT")


def _store(db: sqlite3.Connection, summaries: dict[str, FileSummary], gone: list[str]) -> None:
    """Replace the rows of the changed files and drop the removed ones, in one write transaction
    (parsing processes update the cache side by side; each sees a whole state)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for rel in [*summaries, *gone]:
            db.execute("DELETE FROM docs WHERE rel = ?", (rel,))
            db.execute("DELETE FROM files WHERE rel = ?", (rel,))
        for rel, summary in summaries.items():
            db.execute("INSERT INTO files VALUES (?, ?, ?)", (rel, *summary.stamp))
            db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
                (rel, seq, d.kind, d.name, d.project, json.dumps(list(d.steps)), int(d.has_dag), d.deliver_queue,
                 int(d.resends))
                for seq, d in enumerate(summary.docs)
            ])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def load_index(root: Path, paths: list[Path], use_cache: bool = True) -> CatalogIndex:
    """The index of ``paths`` (the definition files under ``root``, sorted), re-reading only changed files."""
    listed: dict[str, tuple[Path, tuple[int, int]]] = {}
    for path in paths:
        rel = path.relative_to(root).as_posix() if path != root else path.name
        stamp = _stamp(path)
        if stamp is not None:
            listed[rel] = (path, stamp)
    db = _connect(cache_path(root) if use_cache else None)
    try:
        known = {rel: (size, mtime) for rel, size, mtime in db.execute("SELECT rel, size, mtime FROM files")}
        changed = {rel: summarize_file(path, stamp) for rel, (path, stamp) in listed.items() if known.get(rel) != stamp}
        gone = [rel for rel in known if rel not in listed]
        if changed or gone:
            _store(db, changed, gone)
    except BaseException:
        db.close()
        raise
    return CatalogIndex(root, list(listed), db)
