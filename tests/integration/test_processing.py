"""Processing scripts for real: SQLite extract -> script in its own virtualenv -> local destination.

Each run goes through ``dag.test()``, whose task log is this process's stdout
(``capfd``). Requirements are really installed from PyPI into the cached
environment (``uv`` when present).
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.integration.pipeline import migrate_metadata_db, run_definition, set_connection, xcom
from tests.servers import PostgresServer

pytestmark = pytest.mark.integration

# The example of the seed document (Atlas Hub "Processing Script"), character for character.
SEED_SPLIT_SCRIPT = """import sys
import csv
from pathlib import Path

outPaths = []
input_file = sys.argv[1]

# this is where any new files should be placed
baseDir = Path(input_file).parent

# ...do something here with input...
# example write something into several files
with open(Path(input_file), 'r') as source:
  r = csv.reader(source)

  for x, row in enumerate(r):
    currentFile = Path(baseDir / f'test-{x}.txt')
    outPaths.append(str(currentFile))

    with open(currentFile, 'w') as fp:
      fp.write(str(row))

# print the new paths back
print(outPaths)
"""

PASSWORD = "Pa55-w0rd-never-logged"


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(1, "apple"), (2, "pear")])
    set_connection(monkeypatch, "shop", conn_type="sqlite", host=str(db))
    return "shop"


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer) -> str:
    """A PostgreSQL connection as a role with a password of its own: the secret a script may or may not get."""
    postgres_server.execute("drop table if exists script_items")
    postgres_server.execute("create table script_items (id int, name text)")
    postgres_server.execute("insert into script_items values (1, 'apple'), (2, 'pear')")
    postgres_server.execute(
        f"do $$ begin if not exists (select from pg_roles where rolname = 'script_reader') then "
        f"create role script_reader login password '{PASSWORD}'; end if; end $$", superuser=True,
    )
    postgres_server.execute("grant select on script_items to script_reader")
    set_connection(
        monkeypatch, "warehouse", conn_type="postgres", host=postgres_server.host, port=postgres_server.port,
        login="script_reader", password=PASSWORD, schema=postgres_server.database,
    )
    return "warehouse"


def _defs(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    folder.mkdir(exist_ok=True)
    return folder


def _indent(code: str, spaces: int = 4) -> str:
    return "".join(" " * spaces + line + "\n" for line in code.splitlines())


def test_the_seed_split_example_works_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str) -> None:
    scripts = _defs(tmp_path) / "scripts"
    scripts.mkdir()
    (scripts / "split.py").write_text(SEED_SPLIT_SCRIPT)
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: split_rows
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select 1 union all select 2", include_headers: false}}
processing: {{script: scripts/split.py}}
destinations: [{{type: local, path: '{out}'}}]
""", "split_rows")

    assert result.state == "success", result.steps
    assert set(result.steps) == {"extract", "process", "package", "deliver"}
    assert sorted(p.name for p in out.iterdir()) == ["test-0.txt", "test-1.txt"]
    assert (out / "test-0.txt").read_text() == "['1']"
    assert (out / "test-1.txt").read_text() == "['2']"
    staged = xcom(result, "process")
    assert [f["name"] for f in staged] == ["test-0.txt", "test-1.txt"]


def test_requirements_are_installed_in_an_isolated_env_that_the_second_run_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "venvs"
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__VENV_CACHE", str(cache))
    out = tmp_path / "out"
    script = """
import os, sys
from pathlib import Path
from tabulate import tabulate
try:
    import airflow
    isolated = "no"
except ImportError:
    isolated = "yes"
target = Path(os.environ["BATCHTASK_WORK_DIR"]) / "table.txt"
target.write_text(tabulate([["isolated", isolated], ["python", sys.prefix]], tablefmt="plain") + "\\n")
print([str(target)])
"""
    definition = f"""
kind: task
name: py_table
schedule: none
source: {{type: python}}
processing:
  requirements: [tabulate]
  inline: |
{_indent(script)}
destinations: [{{type: local, path: '{out}'}}]
"""
    result = run_definition(tmp_path, monkeypatch, definition, "py_table")
    assert result.state == "success", result.steps
    assert set(result.steps) == {"process", "package", "deliver"}, "a python source has no empty extract step"
    table = (out / "table.txt").read_text().splitlines()
    assert table[0].split() == ["isolated", "yes"], "the script must not see Airflow's packages"
    env_dir = Path(table[1].split()[1])
    assert env_dir.parent == cache
    first_log = capfd.readouterr().out
    assert "Creating environment" in first_log

    marker = env_dir / ".batchtasks-ready.json"
    built = marker.stat().st_mtime_ns
    result = run_definition(tmp_path, monkeypatch, definition, "py_table")
    assert result.state == "success", result.steps
    second_log = capfd.readouterr().out
    assert "Reusing environment" in second_log and "Creating environment" not in second_log
    assert marker.stat().st_mtime_ns == built, "the environment was not rebuilt"
    assert sorted(p.name for p in cache.iterdir()) == sorted([env_dir.name, f"{env_dir.name}.lock"])


def _env_dump_task(conn_id: str, out: Path, expose: bool) -> str:
    script = """
import json, os, sys
from pathlib import Path
dump = Path(os.environ["BATCHTASK_WORK_DIR"]) / "env.json"
dump.write_text(json.dumps({"env": dict(os.environ), "argv": sys.argv[1:]}))
for key, value in sorted(os.environ.items()):
    print(key, "=", value)
print([str(dump)])
"""
    return f"""
kind: project
name: shop_project
description: Shop
owners: [alice, bob]
---
kind: task
name: env_dump
project: shop_project
description: Dumps its environment
schedule: none
params: {{region: {{default: EU}}, days: {{default: 3}}}}
source: {{type: sql, conn_id: {conn_id}, query: "select id, name from script_items order by id"}}
processing:
  expose_connections: {str(expose).lower()}
  inline: |
{_indent(script)}
destinations: [{{type: local, path: '{out}'}}]
"""


def test_script_gets_metadata_and_params_but_no_secret_without_opt_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__SECRET_PROBE", "worker-only-setting")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _env_dump_task(warehouse, out, expose=False), "env_dump",
                            conf={"region": "US"})
    log = capfd.readouterr().out
    assert result.state == "success", result.steps

    dumped = json.loads((out / "env.json").read_text())
    env = dumped["env"]
    assert env["BATCHTASK_NAME"] == "env_dump"
    assert env["BATCHTASK_PROJECT"] == "shop_project"
    assert env["BATCHTASK_DESCRIPTION"] == "Dumps its environment"
    assert env["BATCHTASK_OWNERS"] == "alice,bob"
    assert env["BATCHTASK_DAG_ID"] == "env_dump"
    assert env["BATCHTASK_RUN_ID"] == result.run_id
    assert env["BATCHTASK_PARAM_REGION"] == "US", "a run argument overrides the default"
    assert env["BATCHTASK_PARAM_DAYS"] == "3"
    assert json.loads(env["BATCHTASK_PARAMS"]) == {"region": "US", "days": 3}
    assert len(env["BATCHTASK_DS_NODASH"]) == 8
    inputs = json.loads(env["BATCHTASK_INPUT_FILES"])
    assert len(inputs) == 1
    assert dumped["argv"] == [inputs[0], "US", "3"], "the input file, then the params in declaration order"
    assert json.loads(env["BATCHTASK_ARGS"]) == ["US", "3"]
    assert Path(dumped["argv"][0]).name.startswith("env_dump_")
    assert Path(dumped["argv"][0]).parent == Path(env["BATCHTASK_WORK_DIR"])
    assert not [k for k in env if k.startswith(("BATCHTASK_CONN", "AIRFLOW"))], "no connection, no worker setting"
    assert PASSWORD not in json.dumps(env)
    assert PASSWORD not in log
    assert "BATCHTASK_NAME = env_dump" in log, "the script's stdout is in the task log"


def test_python_source_gets_its_params_as_positional_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenSpecimen-style job reading ``sys.argv`` runs as written: argv[1] is "" (no input file), then the
    params in declaration order as text, a value the run did not give being the default (None as "")."""
    out = tmp_path / "out"
    script = """
import json, os, sys
from pathlib import Path
dump = Path(os.environ["BATCHTASK_WORK_DIR"]) / "args.json"
dump.write_text(json.dumps({"argv": sys.argv[1:], "args": os.environ["BATCHTASK_ARGS"]}))
print([str(dump)])
"""
    definition = f"""
kind: task
name: py_args
schedule: none
params:
  region: {{default: EU}}
  days: {{default: 1, type: integer}}
  note: {{default: null, type: string}}
  dry: {{default: false, type: boolean}}
source: {{type: python}}
processing:
  inline: |
{_indent(script)}
destinations: [{{type: local, path: '{out}'}}]
"""
    result = run_definition(tmp_path, monkeypatch, definition, "py_args", conf={"days": 5, "region": "US"})
    assert result.state == "success", result.steps
    dumped = json.loads((out / "args.json").read_text())
    assert dumped["argv"] == ["", "US", "5", "", "false"]
    assert json.loads(dumped["args"]) == ["US", "5", "", "false"]


def test_a_task_without_params_keeps_its_input_files_as_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str
) -> None:
    out = tmp_path / "out"
    script = """
import json, os, sys
from pathlib import Path
dump = Path(os.environ["BATCHTASK_WORK_DIR"]) / "argv.json"
dump.write_text(json.dumps({"argv": sys.argv[1:], "inputs": os.environ["BATCHTASK_INPUT_FILES"],
                            "args": os.environ["BATCHTASK_ARGS"]}))
print([str(dump)])
"""
    definition = f"""
kind: task
name: no_params
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select id, name from items order by id"}}
processing:
  inline: |
{_indent(script)}
destinations: [{{type: local, path: '{out}'}}]
"""
    result = run_definition(tmp_path, monkeypatch, definition, "no_params")
    assert result.state == "success", result.steps
    dumped = json.loads((out / "argv.json").read_text())
    assert dumped["argv"] == json.loads(dumped["inputs"]) and len(dumped["argv"]) == 1
    assert json.loads(dumped["args"]) == []


def test_expose_connections_gives_the_secrets_to_the_script_but_never_to_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: str, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, _env_dump_task(warehouse, out, expose=True), "env_dump")
    log = capfd.readouterr().out
    assert result.state == "success", result.steps

    env = json.loads((out / "env.json").read_text())["env"]
    assert env["BATCHTASK_CONN_WAREHOUSE_PASSWORD"] == PASSWORD
    assert env["BATCHTASK_CONN_WAREHOUSE_LOGIN"] == "script_reader"
    assert env["BATCHTASK_CONN_WAREHOUSE_TYPE"] == "postgres"
    assert PASSWORD in env["BATCHTASK_CONN_WAREHOUSE_URI"]
    assert json.loads(env["BATCHTASK_CONNECTIONS"]) == ["warehouse"]
    assert "BATCHTASK_CONN_WAREHOUSE_PASSWORD = ***" in log, "the script printed it; the log shows it masked"
    assert PASSWORD not in log


def test_a_script_may_rewrite_its_input_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str) -> None:
    out = tmp_path / "out"
    script = """
import sys
path = sys.argv[1]
text = open(path).read()
open(path, "w").write(text.upper())
print("rewrote", path)
"""
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: upper_items
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select id, name from items order by id"}}
output: {{name: items.csv}}
processing:
  inline: |
{_indent(script)}
destinations: [{{type: local, path: '{out}'}}]
""", "upper_items")
    assert result.state == "success", result.steps
    assert (out / "items.csv").read_text() == "ID,NAME\n1,APPLE\n2,PEAR\n"
    assert [f["rows"] for f in xcom(result, "process")] == [None], "rewritten: row count unknown"


def test_multi_file_package_runs_its_entrypoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str) -> None:
    package = _defs(tmp_path) / "scripts" / "counter"
    package.mkdir(parents=True)
    (package / "helpers.py").write_text("def count(path):\n    return sum(1 for _ in open(path))\n")
    (package / "run.py").write_text(
        "import sys, os\nfrom helpers import count\n"
        "target = os.path.join(os.environ['BATCHTASK_WORK_DIR'], 'count.txt')\n"
        "open(target, 'w').write(str(count(sys.argv[1])))\nprint(f'[\"{target}\"]')\n"
    )
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: count_lines
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select id from items"}}
processing: {{script: scripts/counter, entrypoint: run.py}}
destinations: [{{type: local, path: '{out}'}}]
""", "count_lines")
    assert result.state == "success", result.steps
    assert (out / "count.txt").read_text() == "3"
    assert not (package / "count.txt").exists()


def test_a_failing_script_fails_the_step_with_its_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: broken_script
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select 1"}}
processing:
  inline: |
    import sys
    print("starting")
    print("cannot parse row 7: bad date", file=sys.stderr)
    sys.exit(2)
destinations: [{{type: local, path: '{out}'}}]
""", "broken_script")
    log = capfd.readouterr().out
    assert result.state == "failed"
    assert result.steps["process"] == "failed"
    assert result.steps["deliver"] == "upstream_failed"
    assert "cannot parse row 7: bad date" in log
    assert "the processing script exited with code 2" in log
    assert not out.exists()


def test_exit_code_3_is_partial_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str) -> None:
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: partial_script
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select id from items", include_headers: false}}
output: {{name: ids.csv}}
processing:
  inline: |
    import sys
    print("record 2 rejected", file=sys.stderr)
    sys.exit(3)
destinations: [{{type: local, path: '{out}'}}]
""", "partial_script")
    assert result.state == "success", result.steps
    assert xcom(result, "process", "partial") == {
        "partial": True, "reason": "the processing script exited with 3"}
    assert xcom(result, "extract", "partial") is None
    assert (out / "ids.csv").read_text() == "1\n2\n"


def test_returned_paths_outside_the_work_folder_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shop: str, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "not_yours.txt"
    secret.write_text("private")
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: sneaky_script
schedule: none
source: {{type: sql, conn_id: {shop}, query: "select 1"}}
processing:
  inline: |
    print(["{secret}"])
destinations: [{{type: local, path: '{out}'}}]
""", "sneaky_script")
    assert result.steps["process"] == "failed"
    assert "is outside the work folder" in capfd.readouterr().out
    assert not out.exists()


def test_scripts_from_a_location_single_file_and_zipped_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared_scripts"
    shared.mkdir()
    (shared / "hello.py").write_text(
        "import os\np = os.path.join(os.environ['BATCHTASK_WORK_DIR'], 'hello.txt')\n"
        "open(p, 'w').write('hello from a location')\nprint([p])\n"
    )
    with zipfile.ZipFile(shared / "tool.zip", "w") as archive:
        archive.writestr(
            "cli.py", "import os\nfrom tool.core import make\nprint([make(os.environ['BATCHTASK_WORK_DIR'])])\n"
        )
        archive.writestr("tool/__init__.py", "")
        archive.writestr("tool/core.py", "import os\ndef make(d):\n    p = os.path.join(d, 'tool.txt')\n"
                                         "    open(p, 'w').write('made by a zipped package')\n    return p\n")
    out = tmp_path / "out"
    for name, processing in (
        ("from_file", f"{{from: {{type: local, path: '{shared / 'hello.py'}'}}}}"),
        ("from_zip", f"{{from: {{type: local, path: '{shared / 'tool.zip'}'}}, entrypoint: cli.py}}"),
    ):
        result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: {name}
schedule: none
source: {{type: python}}
processing: {processing}
destinations: [{{type: local, path: '{out}'}}]
""", name)
        assert result.state == "success", (name, result.steps)
    assert (out / "hello.txt").read_text() == "hello from a location"
    assert (out / "tool.txt").read_text() == "made by a zipped package"


def test_an_inline_entrypoint_cannot_write_outside_the_scripts_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    import tempfile
    import uuid

    from airflow_batchtasks.definitions.catalog import load_catalog

    escaped = f"escaped-{uuid.uuid4().hex}.py"
    # written as it is, the definition is refused when loaded, with file, line and key
    defs = tmp_path / "static"
    defs.mkdir()
    (defs / "task.yaml").write_text(
        "kind: task\nname: py_escape\nschedule: none\nsource: {type: python}\n"
        f"processing:\n  inline: print(1)\n  entrypoint: ../../{escaped}\n"
    )
    [error] = load_catalog(defs).errors
    assert "task.yaml:" in str(error) and "processing.entrypoint" in str(error)
    assert "must be a relative path inside the script's folder" in str(error)

    # chosen by a run argument, it is refused when the step runs, before anything is written
    out = tmp_path / "out"
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: py_escape
schedule: none
params: {{entry: {{default: main.py}}}}
source: {{type: python}}
processing:
  inline: print([])
  entrypoint: "{{{{ params.entry }}}}"
destinations: [{{type: local, path: '{out}'}}]
""", "py_escape", conf={"entry": f"../../{escaped}"})
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps["process"] == "failed"
    assert f"processing.entrypoint `../../{escaped}` leaves" in log
    assert not (Path(tempfile.gettempdir()) / escaped).exists(), "the script was written outside its folder"


@pytest.mark.parametrize(
    ("processing", "message"),
    [
        ('{inline: "print([])", requirements: ["{{ params.lib }}"]}',
         "processing.requirements: run argument `params.lib` cannot choose a package to install"),
        ("{from: {type: local, path: '{{ params.lib }}'}}",
         "processing.from: run argument `params.lib` cannot choose where the script comes from"),
    ],
)
def test_run_arguments_cannot_choose_the_scripts_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], processing: str,
    message: str,
) -> None:
    result = run_definition(tmp_path, monkeypatch, f"""
kind: task
name: py_chosen
schedule: none
params: {{lib: {{default: tabulate}}}}
source: {{type: python}}
processing: {processing}
""", "py_chosen", conf={"lib": "evil @ https://attacker.invalid/evil.whl"})
    log = capfd.readouterr().out

    assert result.state == "failed"
    assert result.steps["process"] == "failed"
    assert message in log
    assert "attacker.invalid" not in log.split(message)[0], "nothing was fetched or installed before the refusal"
