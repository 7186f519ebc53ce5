"""``airflow batchtasks validate|list|schema|cron|init``: exit codes and what the user reads."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from airflow_batchtasks import cli
from tests.airflow_compat import batchtasks_cli

BAD = """
kind: task
name: bad_task
schedule: every day
source:
  type: sql
  conn_id: warehouse
  query: select 1
destination: []
"""


@pytest.fixture
def valid_folder(write, sql_task, defs: Path) -> Path:
    write(
        "sales.yaml",
        "kind: project\nname: sales\nrun_in_series: true\n---\n"
        + sql_task(
            "daily",
            "schedule: '@daily'\ndestinations:\n  - {type: sftp, conn_id: vendor_sftp, path: /in}\n",
            project="sales",
        ),
    )
    write(
        "more.yaml",
        sql_task("manual", "enabled: false\n")
        + "---\n"
        + sql_task("once", "schedule: {once: '2026-12-01T10:00:00Z'}\n"),
    )
    write("orch.yaml", "kind: orchestration\nname: nightly\nschedule: '0 1 * * *'\nsteps:\n  - task: daily\n")
    return defs


def ns(**kwargs) -> argparse.Namespace:
    return argparse.Namespace(**kwargs)


# -- validate ----------------------------------------------------------------------------------


def test_validate_ok_prints_counts(valid_folder: Path, capsys) -> None:
    cli.validate(ns(path=str(valid_folder), no_connections=True))

    out = capsys.readouterr()
    assert out.out == f"OK: {valid_folder}: 1 project(s), 3 task(s), 1 orchestration(s)\n"
    assert out.err == ""


def test_validate_reports_every_error_and_exits_1(valid_folder: Path, write, capsys) -> None:
    write("bad.yaml", BAD)
    write("syntax.yaml", "kind: task\nname: [x\n")
    write("later.yaml", "kind: task\nname: later\nsource:\n  type: ssh\n  conn_id: box\n  command: ls\n"
          "destinations:\n  - {type: local, path: /x}\n")

    with pytest.raises(SystemExit) as exc:
        cli.validate(ns(path=str(valid_folder), no_connections=True))

    assert exc.value.code == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{valid_folder}/bad.yaml:3: schedule: `every day` is not a valid cron expression: expected 5 fields "
        "(minute hour day month weekday) or one of @annually, @daily, @hourly, @monthly, @weekly, @yearly, or `none`",
        f"{valid_folder}/bad.yaml:8: destination: unknown key `destination` (did you mean `destinations`?)",
        f"{valid_folder}/later.yaml:7: destinations: an `ssh` source has no output file: remove `destinations`",
        f"{valid_folder}/syntax.yaml:3: invalid YAML: did not find expected ',' or ']'",
    ]
    assert out.err == (f"4 error(s) in {valid_folder}; valid: 1 project(s), 3 task(s), 1 orchestration(s)\n")


def test_validate_a_single_file(valid_folder: Path, capsys) -> None:
    cli.validate(ns(path=str(valid_folder / "more.yaml"), no_connections=True))

    assert capsys.readouterr().out == f"OK: {valid_folder}/more.yaml: 0 project(s), 2 task(s), 0 orchestration(s)\n"


def test_validate_uses_the_configured_folder(valid_folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(valid_folder))

    cli.validate(ns(path=None, no_connections=True))

    assert capsys.readouterr().out.startswith(f"OK: {valid_folder}: ")


def test_validate_command_line_warns_about_missing_connections_only(valid_folder: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "home"), AIRFLOW_CONN_WAREHOUSE="sqlite:///:memory:")

    proc = subprocess.run(
        [*batchtasks_cli(), "validate", str(valid_folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == f"OK: {valid_folder}: 1 project(s), 3 task(s), 1 orchestration(s)"
    warnings = [line for line in lines if "warning:" in line]
    assert warnings == [
        f"{valid_folder}/sales.yaml:14: warning: destinations[0].conn_id: "
        "connection `vendor_sftp` is not defined here (needed at run time)"
    ]


def test_validate_warns_about_secrets_in_parameter_defaults(valid_folder: Path, write, capsys) -> None:
    write("secret_default.yaml", "kind: task\nname: with_secret\n"
          "source: {type: sql, conn_id: warehouse, query: 'select 1'}\n"
          "params:\n  region: {default: EU}\n  db_password: {default: hunter2}\n"
          "  api_token: {description: given per run}\n")

    cli.validate(ns(path=str(valid_folder), no_connections=True))

    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if "warning:" in line] == [
        f"{valid_folder}/secret_default.yaml:6: warning: params.db_password.default: a secret as a parameter "
        "default is shown in clear on Airflow's trigger form and DAG details: keep it in a connection or Variable"
    ]
    assert "hunter2" not in out


def test_validate_command_line_exit_code(valid_folder: Path, write, tmp_path: Path) -> None:
    write("bad.yaml", BAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_AIRFLOW"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "home")

    proc = subprocess.run(
        [*batchtasks_cli(), "validate", "--no-connections", str(valid_folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )

    assert proc.returncode == 1
    assert f"{valid_folder}/bad.yaml:8: destination: unknown key `destination`" in proc.stdout
    assert "2 error(s)" in proc.stderr


# -- list --------------------------------------------------------------------------------------


def test_list_table(valid_folder: Path, write, capsys) -> None:
    write("bad.yaml", BAD)

    cli.list_definitions(ns(path=str(valid_folder), output="table"))

    out = capsys.readouterr()
    rows = [line.split() for line in out.out.splitlines()]
    assert rows[0] == ["KIND", "NAME", "PROJECT", "SCHEDULE", "ENABLED", "SOURCE", "DESTINATIONS"]
    by_name = {r[1]: r for r in rows[1:]}
    assert set(by_name) == {"manual", "once", "daily", "sales", "nightly"}
    assert by_name["manual"] == ["task", "manual", "none", "no", "sql"]
    assert out.out.splitlines()[1].index("manual") == out.out.splitlines()[0].index("NAME")
    assert out.err == "(2 definition error(s): run `airflow batchtasks validate`)\n"


def test_list_json(valid_folder: Path, capsys) -> None:
    cli.list_definitions(ns(path=str(valid_folder), output="json"))

    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["daily"] == {
        "kind": "task",
        "name": "daily",
        "project": "sales",
        "schedule": "0 0 * * *",
        "enabled": "yes",
        "source": "sql",
        "destinations": "sftp",
    }
    assert rows["manual"]["enabled"] == "no"
    assert rows["once"]["schedule"] == "once 2026-12-01 10:00:00+00:00"
    assert rows["sales"]["kind"] == "project" and rows["sales"]["source"] == "series"
    assert rows["nightly"] == {
        "kind": "orchestration",
        "name": "nightly",
        "project": "",
        "schedule": "0 1 * * *",
        "enabled": "yes",
        "source": "1 steps",
        "destinations": "",
    }


# -- schema ------------------------------------------------------------------------------------


def test_schema_prints_json_schema(capsys) -> None:
    cli.schema(ns())

    schema = json.loads(capsys.readouterr().out)
    assert {"Project", "Task", "Orchestration"} <= set(schema["$defs"])
    assert schema["$defs"]["Task"]["additionalProperties"] is False


# -- cron --------------------------------------------------------------------------------------


def test_cron_describes_and_lists_next_times(capsys) -> None:
    cli.cron(ns(expr="0 6 * * 1-5", tz="Europe/Paris", count=3))

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "0 6 * * 1-5 (Europe/Paris): At 06:00 AM, Monday through Friday"
    assert len(lines) == 4
    times = [datetime.fromisoformat(line.strip()) for line in lines[1:]]
    assert times == sorted(times)
    assert all((t.hour, t.minute) == (6, 0) and t.weekday() < 5 for t in times)
    assert {t.utcoffset().total_seconds() for t in times} <= {3600, 7200}


def test_cron_preset(capsys) -> None:
    cli.cron(ns(expr="@weekly", tz="UTC", count=1))

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "0 0 * * 0 (UTC): At 12:00 AM, only on Sunday"
    assert datetime.fromisoformat(lines[1].strip()).weekday() == 6


@pytest.mark.parametrize(
    ("expr", "tz", "count", "message"),
    [
        ("61 * * * *", "UTC", 5, "error: `61 * * * *` is not a valid cron expression"),
        ("0 6 * * *", "Europe/Pari", 5, "error: unknown time zone `Europe/Pari`"),
        ("0 6 * * *", "UTC", 0, "error: count must be between 1 and 100"),
    ],
)
def test_cron_bad_input_exits_1(capsys, expr: str, tz: str, count: int, message: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.cron(ns(expr=expr, tz=tz, count=count))

    assert exc.value.code == 1
    out = capsys.readouterr()
    assert out.err.startswith(message) and out.out == ""


# -- init --------------------------------------------------------------------------------------


def test_init_writes_a_working_loader(tmp_path: Path, valid_folder: Path, monkeypatch, capsys) -> None:
    dags = tmp_path / "dags"
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(valid_folder))

    cli.init(ns(dags_folder=str(dags), force=False))

    loader = dags / cli.LOADER_FILE
    assert loader.read_text() == cli.LOADER_TEXT
    assert capsys.readouterr().out == f"Loader written: {loader}\nDefinitions folder: {valid_folder}\n"
    # The file really turns the definitions into DAGs (Airflow's DAG discovery needs "airflow" and "dag").
    namespace: dict = {"__name__": "batchtasks_dags"}
    exec(compile(loader.read_text(), str(loader), "exec"), namespace)
    assert {"daily", "manual", "once", "project__sales"} <= set(namespace)
    text = loader.read_text().lower()
    assert "airflow" in text and "dag" in text


def test_init_is_idempotent_and_refuses_to_overwrite_other_content(tmp_path: Path, capsys) -> None:
    dags = tmp_path / "dags"
    cli.init(ns(dags_folder=str(dags), force=False))
    cli.init(ns(dags_folder=str(dags), force=False))  # same content: fine
    loader = dags / cli.LOADER_FILE
    loader.write_text("# my own DAG file\n")
    capsys.readouterr()

    with pytest.raises(SystemExit) as exc:
        cli.init(ns(dags_folder=str(dags), force=False))

    assert exc.value.code == 1
    assert capsys.readouterr().err == f"error: {loader} exists with other content; use --force to replace it\n"
    assert loader.read_text() == "# my own DAG file\n"

    cli.init(ns(dags_folder=str(dags), force=True))
    assert loader.read_text() == cli.LOADER_TEXT


def test_init_shards_replace_the_single_loader_and_build_every_dag_once(
    tmp_path: Path, valid_folder: Path, monkeypatch, capsys
) -> None:
    dags = tmp_path / "dags"
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(valid_folder))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # a private index cache
    cli.init(ns(dags_folder=str(dags), force=False))  # the one-file layout of earlier versions

    cli.init(ns(dags_folder=str(dags), force=False, shards=3))

    files = sorted(p.name for p in dags.iterdir())
    assert files == [cli.shard_file(k, 3) for k in range(3)] == [
        "batchtasks_dags_shard_00_of_03.py", "batchtasks_dags_shard_01_of_03.py", "batchtasks_dags_shard_02_of_03.py",
    ]
    assert f"Removed the loader of the previous layout: {dags / cli.LOADER_FILE}" in capsys.readouterr().out
    built: list[str] = []
    for name in files:
        namespace: dict = {"__name__": name.removesuffix(".py")}
        exec(compile((dags / name).read_text(), name, "exec"), namespace)
        built += [k for k in namespace if not k.startswith("__") and k != "load_shard"]
    assert {"daily", "manual", "once", "project__sales"} <= set(built)
    assert len(built) == len(set(built))  # no DAG in two loader files

    cli.init(ns(dags_folder=str(dags), force=False, shards=1))  # and back
    assert sorted(p.name for p in dags.iterdir()) == [cli.LOADER_FILE]


def test_init_picks_shards_for_a_large_folder(tmp_path: Path, defs: Path, monkeypatch, capsys) -> None:
    many = "".join(f"---\nkind: project\nname: p{i}\n" for i in range(1200))
    (defs / "projects.yaml").write_text(many)
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(defs))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))

    cli.init(ns(dags_folder=str(tmp_path / "dags"), force=False))

    assert len(list((tmp_path / "dags").glob(cli.SHARD_GLOB))) == 4  # 1,200 definitions, ~350 per shard
    assert "Loaders written: 4 shards" in capsys.readouterr().out


def test_one_loader_file_up_to_a_shard_s_worth_of_definitions_then_one_shard_per_that_many() -> None:
    per = cli.DEFINITIONS_PER_SHARD
    assert [cli.shards_for(n) for n in (0, 1, per, per + 1, 2 * per, 2 * per + 1)] == [1, 1, 1, 2, 2, 3]


def test_init_keeps_a_foreign_file_that_looks_like_a_shard(tmp_path: Path, capsys) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    mine = dags / "batchtasks_dags_shard_00_of_02.py"
    mine.write_text("# my own DAG file\n")

    with pytest.raises(SystemExit):
        cli.init(ns(dags_folder=str(dags), force=False, shards=4))

    assert mine.read_text() == "# my own DAG file\n"
    assert not list(dags.glob("*_of_04.py"))


def test_commands_are_registered() -> None:
    (group,) = cli.get_cli_commands()

    assert group.name == "batchtasks"
    assert [c.name for c in group.subcommands] == [
        "validate", "list", "schema", "cron", "init", "orchestration", "import",
    ]


def test_validate_looks_for_every_connection_a_task_names(tmp_path: Path) -> None:
    """Not only the source's and the destinations': query_from, a file location, processing.from, the gpg
    key and the mail connection are needed at run time too, each named at its own line."""
    from airflow_batchtasks.definitions.catalog import load_catalog

    (tmp_path / "uses.yaml").write_text(
        "kind: task\n"
        "name: uses_all\n"
        "source:\n"
        "  type: sql\n"
        "  conn_id: missing_db\n"
        "  query_from: {type: sftp, conn_id: missing_query_host, path: /q/daily.sql}\n"
        "processing:\n"
        "  from: {type: ftp, conn_id: missing_script_host, path: /s/fix.py}\n"
        "output:\n"
        "  name: out.csv\n"
        "  gpg: {key_conn_id: missing_key, recipient: ops@example.com}\n"
        "destinations:\n"
        "  - {type: smb, conn_id: missing_share, path: /in}\n"
        "notify:\n"
        "  on_failure: {to: [ops@example.com], conn_id: missing_smtp}\n"
        "---\n"
        "kind: task\n"
        "name: fetches\n"
        "source:\n"
        "  type: file\n"
        "  location: {type: sftp, conn_id: missing_file_host, path: '/out/*.csv'}\n",
        encoding="utf-8",
    )
    catalog = load_catalog(tmp_path)
    assert catalog.errors == [], [str(e) for e in catalog.errors]

    warnings = cli._connection_warnings(catalog)

    where = {w.split(": warning: ")[1].split(":")[0]: w.split(": warning: ")[0] for w in warnings}
    file = tmp_path / "uses.yaml"
    assert where == {
        "source.conn_id": f"{file}:5",
        "source.query_from.conn_id": f"{file}:6",
        "processing.from.conn_id": f"{file}:8",
        "output.gpg.key_conn_id": f"{file}:11",
        "destinations[0].conn_id": f"{file}:13",
        "notify.on_failure.conn_id": f"{file}:15",
        "source.location.conn_id": f"{file}:21",
    }
    assert catalog.tasks["uses_all"].model.connection_ids(include_notify=False) == [
        "missing_db", "missing_query_host", "missing_script_host", "missing_share", "missing_key",
    ]
