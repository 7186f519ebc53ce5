"""``airflow-batchtasks``: the ``airflow batchtasks ...`` commands as a console script of their own.

Why it exists: Airflow registers provider CLI commands through the provider-info key ``cli``, which
Airflow 3.2 introduced; Airflow 3.1 ignores the key, so there ``airflow batchtasks`` does not exist. This
script offers the very same commands (same definitions, same argument parser code as Airflow's) on
every supported version: ``airflow-batchtasks validate``, ``airflow-batchtasks init``, ...
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    # Airflow's own helper, so options, help and defaults match `airflow batchtasks` exactly.
    from airflow.cli.cli_parser import _add_command

    from airflow_batchtasks.cli import get_cli_commands

    [group] = get_cli_commands()
    parser = argparse.ArgumentParser(prog="airflow-batchtasks", description=group.help)
    subparsers = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    subparsers.required = True
    for command in group.subcommands:
        _add_command(subparsers, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
