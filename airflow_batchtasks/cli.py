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


def init(args: argparse.Namespace) -> None:
    from airflow.configuration import conf

    from airflow_batchtasks import config

    dags_folder = Path(args.dags_folder or conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    target = dags_folder / LOADER_FILE
    if target.exists() and target.read_text() != LOADER_TEXT and not args.force:
        print(f"error: {target} exists with other content; use --force to replace it", file=sys.stderr)
        sys.exit(1)
    target.write_text(LOADER_TEXT)
    print(f"Loader written: {target}")
    print(f"Definitions folder: {config.definitions_folder()}")


ARG_PATH = Arg(("path",), nargs="?", help="Definitions folder or file (default: [batchtasks] definitions_folder)")
ARG_NO_CONN = Arg(("--no-connections",), action="store_true", help="Do not look up the connections used")
ARG_OUTPUT = Arg(("-o", "--output"), choices=["table", "json"], default="table", help="Output format")
ARG_EXPR = Arg(("expr",), help="Cron expression (5 fields) or @hourly/@daily/@weekly/@monthly")
ARG_TZ = Arg(("--tz",), default="UTC", help="IANA time zone of the schedule")
ARG_COUNT = Arg(("--count",), type=int, default=5, help="How many next fire times to show")
ARG_DAGS = Arg(("--dags-folder",), help="DAGs folder (default: [core] dags_folder)")
ARG_FORCE = Arg(("--force",), action="store_true", help="Replace an existing loader file")


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
                ActionCommand("init", "Write the DAG loader file into the DAGs folder", init, [ARG_DAGS, ARG_FORCE]),
                ORCHESTRATION_COMMAND,
                IMPORT_COMMAND,
            ],
        )
    ]
