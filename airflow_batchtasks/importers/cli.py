"""``airflow batchtasks import memority FILE.xml [--out DIR] [--force]``: definitions from other products.

Declared here, registered by ``airflow_batchtasks.cli``; like it, this module is imported whenever
``airflow`` starts, so the conversion is imported inside the command.

Output goes to the configured definitions folder by default, like ``validate`` and ``list`` read from
it: an imported orchestration is a definition like any other. Nothing is ever overwritten unless
``--force`` is given, and either every file of an import is written or none is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from airflow.cli.cli_config import ActionCommand, Arg, GroupCommand


def import_memority(args: argparse.Namespace) -> None:
    from airflow_batchtasks import config
    from airflow_batchtasks.compat import AIRFLOW_V_3_2_PLUS
    from airflow_batchtasks.importers.memority import convert_file
    from airflow_batchtasks.importers.safe_xml import XmlError

    source = Path(args.file)
    try:
        result = convert_file(source)
    except XmlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    for message in [*result.messages, *(m for o in result.orchestrations for m in o.messages)]:
        print(message.render(str(source)), file=sys.stderr)
    out = Path(args.out) if args.out else config.definitions_folder()
    targets = [(out / o.file_name, o) for o in result.orchestrations]
    existing = [str(path) for path, _ in targets if path.exists()]
    if existing and not args.force:
        print(f"error: {', '.join(existing)} already exist(s): nothing written; use --force to replace",
              file=sys.stderr)
        sys.exit(1)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for path, _ in targets:  # all files checked writable before the first is written
            if path.exists() and not path.is_file():
                raise IsADirectoryError(f"{path} is not a file")
    except OSError as exc:
        print(f"error: cannot write into {out}: {exc}", file=sys.stderr)
        sys.exit(1)
    for path, orchestration in targets:
        path.write_text(orchestration.text, encoding="utf-8")
        print(f"written: {path} (orchestration `{orchestration.name}`, {len(orchestration.tasks)} step(s), "
              f"{len(orchestration.messages)} message(s))")
    if targets:
        tasks = sorted({t for _, o in targets for t in o.tasks})
        print(f"The steps run these tasks, which must be defined (kind: task): {', '.join(tasks)}")
        command = "airflow batchtasks" if AIRFLOW_V_3_2_PLUS else "airflow-batchtasks"  # 3.1: no provider CLI
        print(f"Then check: {command} validate {out}")
    if result.failed:
        print(f"error: {source}: some definitions were not converted (see the errors above)", file=sys.stderr)
        sys.exit(1)


ARG_FILE = Arg(("file",), metavar="FILE.xml",
               help="Memority XML file: one OrchestrationTaskDefinition, or a root holding several")
ARG_OUT = Arg(("--out",), metavar="DIR",
              help="Folder to write the YAML files into (default: the configured definitions folder, option "
                   "definitions_folder of section batchtasks)")
ARG_FORCE = Arg(("--force",), action="store_true", help="Replace existing files of the same names")

IMPORT_COMMAND = GroupCommand(
    name="import",
    help="Convert definitions of other products into batchtasks definitions",
    subcommands=[
        ActionCommand("memority", "Memority orchestration task definitions (XML) to orchestration YAML",
                      import_memority, [ARG_FILE, ARG_OUT, ARG_FORCE]),
    ],
)
