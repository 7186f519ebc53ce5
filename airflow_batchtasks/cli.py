"""``airflow batchtasks ...`` commands (registered through provider info ``cli``).

This module is imported every time the ``airflow`` command starts, so it only
declares the commands; each command's work is imported when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand

from airflow_batchtasks.importers.cli import IMPORT_COMMAND
from airflow_batchtasks.orchestration.cli import ORCHESTRATION_COMMAND

LOADER_FILE = "batchtasks_dags.py"
LOADER_TEXT = (
    "# Airflow DAG loader of airflow-batchtasks (written by `airflow batchtasks init`): "
    "builds the DAGs of the YAML definitions.\n"
    "from airflow_batchtasks.dag_factory import load_dags; load_dags(globals())\n"
)



def _schedule_text(schedule: Any) -> str:
    """A schedule as ``list`` shows it: the cron text, ``once <when>``, ``after a, b`` or ``none``."""
    if schedule is None or isinstance(schedule, str):
        return str(schedule or "none")
    if getattr(schedule, "after", None):
        return "after " + ", ".join(schedule.after)
    return f"once {schedule.once}"

def _definitions_path(args: argparse.Namespace) -> Path:
    from airflow_batchtasks import config

    return Path(args.path) if getattr(args, "path", None) else config.definitions_folder()


def _connection_warnings(catalog) -> list[str]:
    """Connections are resolved at run time; a missing one here is only worth a warning."""
    from airflow.models.connection import Connection

    from airflow_batchtasks.definitions.errors import DefinitionError, format_field

    wanted: dict[str, DefinitionError] = {}
    for entry in catalog.tasks.values():
        for path, conn_id in entry.model.connection_uses():
            if conn_id not in wanted:
                wanted[conn_id] = DefinitionError(
                    entry.doc.file, entry.doc.line_of(path), format_field(path),
                    f"connection `{conn_id}` is not defined here (needed at run time)", severity="warning",
                )
    warnings = []
    for conn_id, warning in sorted(wanted.items()):
        try:
            Connection.get_connection_from_secrets(conn_id)
        except Exception:  # noqa: BLE001 - missing, or no metadata DB here: either way only a warning
            warnings.append(str(warning))
    return warnings


def _secret_default_warnings(catalog) -> list[str]:
    """A parameter named like a secret with a default: the provider masks it, Airflow's trigger form and DAG
    details show it as written, so the author hears it here."""
    from airflow_batchtasks.definitions.errors import DefinitionError, format_field
    from airflow_batchtasks.definitions.masking import is_sensitive

    warnings = []
    for entries in (catalog.projects, catalog.tasks):
        for entry in entries.values():
            for name, spec in entry.model.params.items():
                if is_sensitive(name) and spec.default not in (None, ""):
                    path = ("params", name, "default")
                    warnings.append(str(DefinitionError(
                        entry.doc.file, entry.doc.line_of(path), format_field(path),
                        "a secret as a parameter default is shown in clear on Airflow's trigger form and DAG "
                        "details: keep it in a connection or Variable", severity="warning")))
    return warnings


def validate(args: argparse.Namespace) -> None:
    from airflow_batchtasks.definitions.catalog import load_catalog
    from airflow_batchtasks.definitions.unsupported import unsupported_errors

    root = _definitions_path(args)
    catalog = load_catalog(root)
    errors = list(catalog.errors)
    for entry in catalog.tasks.values():
        errors.extend(unsupported_errors(entry))
    for line in _connection_warnings(catalog) if not args.no_connections else []:
        print(line)
    for line in _secret_default_warnings(catalog):
        print(line)
    for err in sorted(errors, key=lambda e: (e.file, e.line)):
        print(err)
    counts = f"{len(catalog.projects)} project(s), {len(catalog.tasks)} task(s), "
    counts += f"{len(catalog.orchestrations)} orchestration(s)"
    if errors:
        print(f"{len(errors)} error(s) in {root}; valid: {counts}", file=sys.stderr)
        sys.exit(1)
    print(f"OK: {root}: {counts}")


def list_definitions(args: argparse.Namespace) -> None:
    from airflow_batchtasks.definitions.catalog import load_catalog

    catalog = load_catalog(_definitions_path(args))
    rows = []
    for entry in catalog.tasks.values():
        t = entry.model
        rows.append(["task", t.name, t.project or "", _schedule_text(t.schedule), "yes" if t.enabled else "no",
                     t.source.type, ",".join(d.type for d in t.destinations)])
    for entry in catalog.projects.values():
        p = entry.model
        rows.append(["project", p.name, "", str(p.schedule or "none"), "", "series" if p.run_in_series else "", ""])
    for entry in catalog.orchestrations.values():
        o = entry.model
        rows.append(["orchestration", o.name, "", _schedule_text(o.schedule), "yes" if o.active else "no",
                     f"{len(o.steps)} steps", ""])
    if args.output == "json":
        keys = ["kind", "name", "project", "schedule", "enabled", "source", "destinations"]
        print(json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=2))
        return
    header = ["KIND", "NAME", "PROJECT", "SCHEDULE", "ENABLED", "SOURCE", "DESTINATIONS"]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if catalog.errors:
        print(f"({len(catalog.errors)} definition error(s): run `airflow batchtasks validate`)", file=sys.stderr)


def schema(args: argparse.Namespace) -> None:
    from airflow_batchtasks.definitions.schema import definition_schema

    print(json.dumps(definition_schema(), indent=2))


def cron(args: argparse.Namespace) -> None:
    from airflow_batchtasks.definitions.cron_text import describe_cron

    try:
        result = describe_cron(args.expr, args.tz, args.count)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"{result['expression']} ({result['timezone']}): {result['description']}")
    for when in result["next"]:
        print(f"  {when}")


#: Definitions per loader file ``init`` aims at when it picks the number of shards itself: one loader file
#: up to this many, one shard per this many above. A parser then holds about as many DAGs as a few plain
#: DAG files, which keeps its peak memory near theirs (measured in docs/performance.md).
DEFINITIONS_PER_SHARD = 350
SHARD_GLOB = "batchtasks_dags_shard_*.py"


def shard_file(shard: int, count: int) -> str:
    """``batchtasks_dags_shard_03_of_16.py``: the count is in the name, so a new ``init --shards`` never
    leaves a loader of the old layout looking current."""
    width = max(2, len(str(count)))
    return f"batchtasks_dags_shard_{shard:0{width}d}_of_{count:0{width}d}.py"


def shard_text(shard: int, count: int) -> str:
    return (
        "# Airflow DAG loader of airflow-batchtasks (written by `airflow batchtasks init`): "
        f"builds shard {shard} of {count} of the YAML definitions' DAGs.\n"
        f"from airflow_batchtasks.dag_factory import load_shard; load_shard(globals(), {shard}, {count})\n"
    )


def _is_ours(path: Path) -> bool:
    """A loader file ``init`` wrote (so it may replace or remove it without ``--force``)."""
    try:
        text = path.read_text()
    except OSError:
        return False
    return text == LOADER_TEXT or text.startswith("# Airflow DAG loader of airflow-batchtasks") and (
        "load_shard(globals()" in text)


def shards_for(defined: int) -> int:
    """Loader files for ``defined`` definitions: 1 up to :data:`DEFINITIONS_PER_SHARD`, else one per that many."""
    return max(1, -(-defined // DEFINITIONS_PER_SHARD))


def _auto_shards() -> int:
    """:func:`shards_for` the definitions folder (1 when it does not exist)."""
    from airflow_batchtasks import config
    from airflow_batchtasks.definitions.catalog import iter_files
    from airflow_batchtasks.definitions.catalog_index import load_index

    root = config.definitions_folder()
    if not root.is_dir():
        return 1
    with load_index(root, iter_files(root)) as index:
        defined = index.definition_count()
    return shards_for(defined)


def init(args: argparse.Namespace) -> None:
    """Write the loader file(s); replace the other layout's files it wrote before (never a file it did not write,
    unless ``--force``): one DAG built by two loader files would flip between them at every parse."""
    from airflow.configuration import conf

    from airflow_batchtasks import config

    dags_folder = Path(args.dags_folder or conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    count = getattr(args, "shards", None) or _auto_shards()
    if count < 1:
        print("error: --shards must be 1 or more", file=sys.stderr)
        sys.exit(1)
    wanted = {LOADER_FILE: LOADER_TEXT} if count == 1 else {
        shard_file(k, count): shard_text(k, count) for k in range(count)
    }
    existing = [dags_folder / LOADER_FILE, *sorted(dags_folder.glob(SHARD_GLOB))]
    for path in existing:
        if path.exists() and wanted.get(path.name) != path.read_text() and not _is_ours(path) and not args.force:
            print(f"error: {path} exists with other content; use --force to replace it", file=sys.stderr)
            sys.exit(1)
    for path in existing:
        if path.exists() and path.name not in wanted:
            path.unlink()
            print(f"Removed the loader of the previous layout: {path}")
    for name, text in wanted.items():
        (dags_folder / name).write_text(text)
    if count == 1:
        print(f"Loader written: {dags_folder / LOADER_FILE}")
    else:
        print(f"Loaders written: {count} shards, {dags_folder / shard_file(0, count)} ... "
              f"{shard_file(count - 1, count)}")
    print(f"Definitions folder: {config.definitions_folder()}")


ARG_PATH = Arg(("path",), nargs="?", help="Definitions folder or file (default: [batchtasks] definitions_folder)")
ARG_NO_CONN = Arg(("--no-connections",), action="store_true", help="Do not look up the connections used")
ARG_OUTPUT = Arg(("-o", "--output"), choices=["table", "json"], default="table", help="Output format")
ARG_EXPR = Arg(("expr",), help="Cron expression (5 fields) or @hourly/@daily/@weekly/@monthly")
ARG_TZ = Arg(("--tz",), default="UTC", help="IANA time zone of the schedule")
ARG_COUNT = Arg(("--count",), type=int, default=5, help="How many next fire times to show")
ARG_DAGS = Arg(("--dags-folder",), help="DAGs folder (default: [core] dags_folder)")
ARG_FORCE = Arg(("--force",), action="store_true", help="Replace an existing loader file")
ARG_SHARDS = Arg(("--shards",), type=int, default=None,
                 help="Number of loader files, each parsing a stable part of the definitions in its own process "
                      "(default: 1 up to 350 definitions, else one per 350)")


def get_cli_commands() -> list[GroupCommand]:
    return [
        GroupCommand(
            name="batchtasks",
            help="Batch task definitions (airflow-batchtasks)",
            subcommands=[
                ActionCommand("validate", "Check definition files; exit 1 on any error", validate,
                              [ARG_PATH, ARG_NO_CONN]),
                ActionCommand("list", "List the defined tasks, projects and orchestrations", list_definitions,
                              [ARG_PATH, ARG_OUTPUT]),
                ActionCommand("schema", "Print the JSON Schema of definition files", schema, []),
                ActionCommand("cron", "Explain a cron expression and show its next fire times", cron,
                              [ARG_EXPR, ARG_TZ, ARG_COUNT]),
                ActionCommand("init", "Write the DAG loader file(s) into the DAGs folder", init,
                              [ARG_DAGS, ARG_FORCE, ARG_SHARDS]),
                ORCHESTRATION_COMMAND,
                IMPORT_COMMAND,
            ],
        )
    ]
