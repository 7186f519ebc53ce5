"""The sharded loader: one loader file per stable part of the definitions folder.

Why: Airflow parses each DAG file in its own process, in parallel (``[dag_processor]
parsing_processes``), and kills a file's parse after ``dag_file_processor_timeout``. With one loader
file every batch-task DAG is built in one process, so at some size the whole catalog times out at
once and the other parsing processes sit idle. ``airflow batchtasks init --shards N`` writes N loader
files; shard ``k`` calls :func:`load_shard` and builds the DAGs of the definition files whose path
hashes to ``k`` (:func:`~airflow_batchtasks.definitions.catalog_index.shard_of`), so each shard has
its own parse, timeout and import error, and a file's DAGs never move when another file is added.

A shard still validates against the whole folder: the cached
:class:`~airflow_batchtasks.definitions.catalog_index.CatalogIndex` names the few other files it
needs (projects, step tasks, a project DAG's tasks, other uses of the same names); those are loaded
and validated too, but only the shard's own DAGs and errors come out of it.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from airflow_batchtasks import config
from airflow_batchtasks.dag_factory.loader import _wanted_dag_id, build_dags, load_dags
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.catalog import Catalog, add_documents, iter_files, resolve
from airflow_batchtasks.definitions.catalog_index import load_index
from airflow_batchtasks.definitions.yaml_source import load_documents
from airflow_batchtasks.naming import ERRORS_DAG_ID, resend_dag_id

log = logging.getLogger(__name__)

#: Above this many definitions in one shard, the log says to write more shards.
SHARD_WARN_DEFINITIONS = 1000


class ShardDefinitionErrors(Exception):
    """Errors of a shard's files that no definition owns (a file that is not YAML, a document without a
    valid name, a name declared twice). Raised so that Airflow's Import Errors lists them under this
    shard's loader file; the other shards are not affected."""


def shard_catalog(root: Path, shard: int, count: int) -> tuple[Catalog, set[str], dict[str, str | None]]:
    """The catalog a shard validates against, its own files (as catalog file names) and its resend DAGs.

    Shard 0 also builds the resend DAGs (one per deliver queue of the whole folder, from the index).
    """
    paths = iter_files(root)
    base = root if root.is_dir() else root.parent
    with load_index(base, paths) as index:
        own = index.shard_files(shard, count)
        needed = index.needed_files(own)
        defined = index.definition_count(own)
        queues = index.resend_queues() if shard == 0 else set()
    catalog = Catalog()
    docs = []
    for rel in needed:
        found, errors = load_documents(base / rel)
        docs.extend(found)
        catalog.errors.extend(errors)
    add_documents(catalog, docs)
    resolve(catalog)
    if defined > SHARD_WARN_DEFINITIONS:
        log.warning("shard %d of %d holds %d definitions: run `airflow batchtasks init --shards %d --force` "
                    "for smaller, faster parses", shard, count, defined, count * 2)
    resend = {resend_dag_id(q): q for q in sorted(queues, key=str)}
    return catalog, {str(base / rel) for rel in own}, resend


def load_shard(
    namespace: MutableMapping[str, Any], shard: int, count: int, folder: str | Path | None = None
) -> Catalog:
    """Build shard ``shard`` of ``count`` into ``namespace`` (a loader file's ``globals()``).

    Under Airflow's parsing context (a worker running one task of this file) the targeted load of
    :func:`load_dags` builds just that DAG, whichever shard it is in.
    """
    root = Path(folder) if folder else config.definitions_folder()
    if _wanted_dag_id():
        return load_dags(namespace, root)
    if not root.exists():
        raise ShardDefinitionErrors(f"definitions folder does not exist: {root}")
    catalog, own, resend = shard_catalog(root, shard, count)
    dags = build_dags(catalog, owned=own.__contains__, resend=resend)
    unowned = dags.pop(ERRORS_DAG_ID, None)
    if unowned is not None:
        # the placeholder's lines are already masked; paths relative to the definitions folder
        lines = [masking.hide_paths(line, root) for line in unowned.get_task("definition_error").errors]
        raise ShardDefinitionErrors(
            f"shard {shard} of {count}: definition errors no single definition owns:\n" + "\n".join(lines))
    namespace.update(dags)
    return catalog
