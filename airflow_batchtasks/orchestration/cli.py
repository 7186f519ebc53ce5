"""``airflow batchtasks orchestration launch|cancel|delete|report``: instances from the command line.

Declared here, registered by ``airflow_batchtasks.cli``; like it, this module is imported
whenever ``airflow`` starts, so the work is imported inside each command. The CLI runs
with metadata-DB access, like Airflow's own ``airflow dags trigger``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand


def _guard(action: Callable[[], Any]) -> Any:
    """Run an instances action; its NotFound/Conflict become a message and exit code 1 (no traceback)."""
    from airflow_batchtasks.orchestration.instances import OrchestrationError

    try:
        return action()
    except OrchestrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def launch(args: argparse.Namespace) -> None:
    from airflow_batchtasks.orchestration import instances

    conf = json.loads(args.conf) if args.conf else None
    print(_guard(lambda: instances.launch(args.name, conf, user=args.user or getpass.getuser(), triggered_by="cli")))


def cancel(args: argparse.Namespace) -> None:
    from airflow_batchtasks.orchestration import instances

    _guard(lambda: instances.cancel(args.name, args.instance_id, args.user or getpass.getuser()))
    print(f"cancelled: {args.instance_id}")


def delete(args: argparse.Namespace) -> None:
    from airflow_batchtasks.orchestration import instances

    _guard(lambda: instances.delete(args.name, args.instance_id))
    print(f"deleted: {args.instance_id}")


def report(args: argparse.Namespace) -> None:
    from airflow_batchtasks.orchestration import instances

    if args.instance_id:
        result: Any = _guard(lambda: instances.report(args.name, args.instance_id))
    else:
        result = _guard(lambda: instances.reports(args.name))
    print(json.dumps(result, indent=2))


ARG_NAME = Arg(("name",), help="Orchestration name (its DAG id)")
ARG_INSTANCE = Arg(("instance_id",), help="Instance id (the DAG run id)")
ARG_INSTANCE_OPT = Arg(("instance_id",), nargs="?", help="Instance id (default: every instance, newest first)")
ARG_CONF = Arg(("--conf",), help="JSON object passed as the instance's DAG run conf")
ARG_USER = Arg(("--user",), help="Who does it, for the run and its note (default: the OS user)")

ORCHESTRATION_COMMAND = GroupCommand(
    name="orchestration",
    help="Orchestration instances: launch, cancel, delete, report",
    subcommands=[
        ActionCommand("launch", "Launch an instance now; prints its id", launch, [ARG_NAME, ARG_CONF, ARG_USER]),
        ActionCommand("cancel", "Cancel a running instance", cancel, [ARG_NAME, ARG_INSTANCE, ARG_USER]),
        ActionCommand("delete", "Delete a finished instance and its report", delete, [ARG_NAME, ARG_INSTANCE]),
        ActionCommand("report", "Print an instance's report (JSON)", report, [ARG_NAME, ARG_INSTANCE_OPT]),
    ],
)
