"""Bad definitions: every problem is reported as ``<file>:<line>: <field>: <message>``.

The table is the contract users see in ``airflow batchtasks validate`` and in the
placeholder DAGs: exact strings, so a lost line number or a vague message fails.
File names are shown as the loader was given them (here: the absolute folder path).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.definitions.catalog import load_catalog

# Lines 1-6; keys appended by a case start at line 7.
TASK = """\
kind: task
name: daily_sales
source:
  type: sql
  conn_id: warehouse
  query: select 1
"""

CRON_HELP = (
    "expected 5 fields (minute hour day month weekday) "
    "or one of @annually, @daily, @hourly, @monthly, @weekly, @yearly, or `none`"
)
NAME_HELP = "use letters, digits, `_`, `-` or `.` (it becomes an Airflow DAG id)"
LOCAL_TIME_HELP = "is not a local time: use HH:MM or HH:MM:SS (24-hour), e.g. 03:30"


def orchestration(steps: str, extra: str = "") -> str:
    return "kind: orchestration\nname: nightly\n" + extra + "steps:\n" + steps


CASES: list[tuple[str, str | dict[str, str], list[str]]] = [
    (
        "unknown key with suggestion",
        TASK + "destination:\n  - type: local\n    path: /out\n",
        ["a.yaml:7: destination: unknown key `destination` (did you mean `destinations`?)"],
    ),
    (
        "unknown nested key",
        TASK + "output:\n  fromat: csv\n",
        ["a.yaml:8: output.fromat: unknown key `fromat` (did you mean `format`?)"],
    ),
    (
        "unknown key inside a list item",
        TASK + "destinations:\n  - type: local\n    path: /out\n    overwrit: true\n",
        ["a.yaml:10: destinations[0].overwrit: unknown key `overwrit` (did you mean `overwrite`?)"],
    ),
    (
        "missing name",
        "kind: task\nsource:\n  type: sql\n  conn_id: warehouse\n  query: select 1\n",
        ["a.yaml:1: name: required key `name` is missing"],
    ),
    (
        "missing source",
        "kind: task\nname: daily_sales\n",
        ["a.yaml:1: source: required key `source` is missing"],
    ),
    (
        "missing conn_id points at its parent",
        "kind: task\nname: daily_sales\nsource:\n  type: sql\n  query: select 1\n",
        ["a.yaml:3: source.conn_id: required key `conn_id` is missing"],
    ),
    (
        "kind typo with suggestion",
        "kind: tsak\nname: daily_sales\n",
        ["a.yaml:1: kind: unknown kind `tsak`: expected one of project, task, orchestration (did you mean `task`?)"],
    ),
    (
        "wrong kind without a close match",
        "name: x\nkind: pipeline\n",
        ["a.yaml:2: kind: unknown kind `pipeline`: expected one of project, task, orchestration"],
    ),
    (
        "missing kind",
        "name: daily_sales\n",
        ["a.yaml:1: kind: missing `kind`: expected one of project, task, orchestration"],
    ),
    (
        "kind that is not a string",
        "kind: [task]\nname: daily_sales\n",
        ["a.yaml:1: kind: unknown kind `['task']`: expected one of project, task, orchestration"],
    ),
    (
        "invalid cron",
        TASK + "schedule: '61 * * * *'\n",
        [f"a.yaml:7: schedule: `61 * * * *` is not a valid cron expression: {CRON_HELP}"],
    ),
    (
        "six-field cron (seconds) is rejected",
        TASK + "schedule: '0 6 * * * *'\n",
        [f"a.yaml:7: schedule: `0 6 * * * *` is not a valid cron expression: {CRON_HELP}"],
    ),
    (
        "schedule of the wrong type",
        TASK + "schedule: 5\n",
        ["a.yaml:7: schedule: `5` is not a schedule: use a cron expression, @daily..., `none`, {once: <datetime>} "
         "or {after: [<task>, ...]}"],
    ),
    (
        "once with a bad datetime",
        TASK + "schedule: {once: tomorrow}\n",
        ["a.yaml:7: schedule.once: Input should be a valid datetime or date, input is too short"],
    ),
    (
        "once with an unknown key",
        TASK + "schedule:\n  once: 2026-12-01T10:00:00Z\n  every: 1d\n",
        ["a.yaml:9: schedule.every: unknown key `every`"],
    ),
    (
        "invalid time zone with suggestion",
        TASK + "timezone: Europe/Pari\n",
        [
            "a.yaml:7: timezone: unknown time zone `Europe/Pari`: use an IANA name like Europe/Paris "
            "(did you mean `Europe/Paris`?)"
        ],
    ),
    (
        "invalid project time zone",
        "kind: project\nname: sales\ntimezone: Mars/Olympus\n",
        ["a.yaml:3: timezone: unknown time zone `Mars/Olympus`: use an IANA name like Europe/Paris"],
    ),
    (
        "invalid duration in retries.delay",
        TASK + "retries:\n  count: 2\n  delay: 5 minutes\n",
        [
            "a.yaml:9: retries.delay: `5 minutes` is not a duration: "
            "use ISO-8601 like PT4H or a short form like 90s, 5m, 4h, 1d"
        ],
    ),
    (
        "negative retry count",
        TASK + "retries: {count: -1}\n",
        ["a.yaml:7: retries.count: Input should be greater than or equal to 0"],
    ),
    (
        "retries not a mapping",
        TASK + "retries: 3\n",
        ["a.yaml:7: retries: expected a mapping of keys here, got `3`"],
    ),
    (
        "starts_after 25:00",
        orchestration("  - task: a\n    starts_after: '25:00'\n"),
        [f"a.yaml:5: steps[0].starts_after: `25:00` {LOCAL_TIME_HELP}"],
    ),
    (
        "execution_time_limit 25:00",
        orchestration("  - task: a\n", "execution_time_limit: '25:00'\n"),
        [f"a.yaml:3: execution_time_limit: `25:00` {LOCAL_TIME_HELP}"],
    ),
    (
        "both time limits",
        orchestration("  - task: a\n", "execution_time_limit: '03:00'\nexecution_duration_limit: PT4H\n"),
        [
            "a.yaml:4: execution_duration_limit: `execution_time_limit` and `execution_duration_limit` "
            "are mutually exclusive"
        ],
    ),
    (
        "both query and query_from",
        "kind: task\nname: daily_sales\nsource:\n  type: sql\n  conn_id: warehouse\n  query: select 1\n"
        "  query_from: {type: local, path: q.sql}\n",
        ["a.yaml:3: source: give only one of `query` or `query_from`, not both"],
    ),
    (
        "neither query nor query_from",
        "kind: task\nname: daily_sales\nsource:\n  type: sql\n  conn_id: warehouse\n",
        ["a.yaml:3: source: one of `query` or `query_from` is required"],
    ),
    (
        "query_from sftp without conn_id",
        "kind: task\nname: daily_sales\nsource:\n  type: sql\n  conn_id: warehouse\n"
        "  query_from:\n    type: sftp\n    path: q.sql\n",
        ["a.yaml:6: source.query_from: a `sftp` location needs `conn_id`"],
    ),
    (
        "unknown source type",
        "kind: task\nname: daily_sales\nsource:\n  type: mongo\n  conn_id: warehouse\n",
        ["a.yaml:3: source: unknown type `mongo`: expected one of 'sql', 'file', 'python', 'ssh', 'http'"],
    ),
    (
        "source not a mapping",
        "kind: task\nname: daily_sales\nsource: sql\n",
        ["a.yaml:3: source: Input should be a valid dictionary or object to extract fields from"],
    ),
    (
        "bad output.format",
        TASK + "output:\n  format: xlsx\n",
        ["a.yaml:8: output.format: `xlsx` is not allowed here: expected 'csv', 'tsv', 'pipe', 'text' or 'keep'"],
    ),
    (
        "bad quoting",
        TASK + "output:\n  quoting: always\n",
        ["a.yaml:8: output.quoting: `always` is not allowed here: expected 'minimal', 'all', 'nonnumeric' or 'none'"],
    ),
    (
        "delimiter longer than one character",
        TASK + "output:\n  delimiter: ';;'\n",
        ["a.yaml:8: output.delimiter: String should have at most 1 character"],
    ),
    (
        "destination sftp without conn_id",
        TASK + "destinations:\n  - type: local\n    path: /out\n  - type: sftp\n    path: /incoming\n",
        ["a.yaml:10: destinations[1]: a `sftp` destination needs `conn_id`"],
    ),
    (
        "unknown destination type",
        TASK + "destinations:\n  - type: s3\n    path: /out\n",
        ["a.yaml:8: destinations[0].type: `s3` is not allowed here: expected 'sftp', 'ftp', 'smb' or 'local'"],
    ),
    (
        "notify without recipients",
        TASK + "notify:\n  on_failure:\n    to: []\n",
        ["a.yaml:9: notify.on_failure.to: List should have at least 1 item after validation, not 0"],
    ),
    (
        "param spec with an unknown key",
        TASK + "params:\n  region: {default: EU, descripton: Sales region}\n",
        ["a.yaml:8: params.region.descripton: unknown key `descripton` (did you mean `description`?)"],
    ),
    (
        "task referencing an unknown project, with suggestion",
        {"a.yaml": "kind: project\nname: sales\n---\n" + TASK + "project: sale\n"},
        ["a.yaml:10: project: unknown project `sale` (did you mean `sales`?)"],
    ),
    (
        "task of a project that is itself invalid",
        {"a.yaml": "kind: project\nname: sales\nowners: alice\n", "b.yaml": TASK + "project: sales\n"},
        [
            "a.yaml:3: owners: Input should be a valid list",
            "b.yaml:7: project: project `sales` has errors (fix them first)",
        ],
    ),
    (
        "project param spec with an unknown key",
        "kind: project\nname: sales\nparams:\n  filters: {region: EU}\n",
        ["a.yaml:4: params.filters.region: unknown key `region`"],
    ),
    (
        "orchestration step naming an unknown task, with suggestion",
        TASK + "---\n" + orchestration("  - task: daily_sales\n  - task: daily_sale\n"),
        ["a.yaml:12: steps[1].task: unknown task `daily_sale` (did you mean `daily_sales`?)"],
    ),
    (
        "orchestration step that is not a mapping",
        orchestration("  - daily_sales\n"),
        ["a.yaml:4: steps[0]: expected a mapping of keys here, got `daily_sales`"],
    ),
    (
        "steps empty",
        "kind: orchestration\nname: nightly\nsteps: []\n",
        ["a.yaml:3: steps: List should have at least 1 item after validation, not 0"],
    ),
    (
        "steps missing",
        "kind: orchestration\nname: nightly\n",
        ["a.yaml:1: steps: required key `steps` is missing"],
    ),
    (
        "duplicate task name across files names the first location",
        {"a.yaml": TASK, "b.yaml": "# the same task again\n\n" + TASK},
        [
            "b.yaml:4: name: `daily_sales` is already defined at <root>/a.yaml:2 "
            "(task and orchestration names are DAG ids and must be unique)"
        ],
    ),
    (
        "task and orchestration with the same name",
        {"a.yaml": TASK, "b.yaml": "kind: orchestration\nname: daily_sales\nsteps:\n  - task: daily_sales\n"},
        [
            "b.yaml:2: name: `daily_sales` is already defined at <root>/a.yaml:2 "
            "(task and orchestration names are DAG ids and must be unique)"
        ],
    ),
    (
        "duplicate YAML key",
        "kind: task\nname: daily_sales\nsource:\n  type: sql\n  conn_id: warehouse\n  conn_id: other\n  query: x\n",
        ["a.yaml:6: source.conn_id: duplicate key `conn_id`"],
    ),
    (
        "YAML syntax error with its line",
        "kind: task\nname: daily_sales\nsource: {type: sql\noutput: {}\n",
        ["a.yaml:4: invalid YAML: did not find expected ',' or '}'"],
    ),
    (
        "bad indentation",
        "kind: task\nname: daily_sales\n  source: x\n",
        ["a.yaml:3: invalid YAML: mapping values are not allowed in this context"],
    ),
    (
        "non-mapping document",
        "- kind: task\n- name: daily_sales\n",
        ["a.yaml:1: a definition must be a mapping with a `kind`"],
    ),
    (
        "second document is a scalar",
        TASK + "---\njust some text\n",
        ["a.yaml:8: a definition must be a mapping with a `kind`"],
    ),
    (
        "name with spaces",
        TASK.replace("name: daily_sales", "name: daily sales"),
        [f"a.yaml:2: name: `daily sales` is not a valid name: {NAME_HELP}"],
    ),
    (
        "name with the reserved project__ prefix",
        TASK.replace("name: daily_sales", "name: project__sales"),
        ["a.yaml:2: name: `project__sales`: names starting with `project__` are reserved for project DAGs"],
    ),
    (
        "python source without processing",
        "kind: task\nname: daily_sales\nsource:\n  type: python\n",
        ["a.yaml:1: processing: a `python` source runs the processing script: add `processing`"],
    ),
    (
        "processing without a script",
        "kind: task\nname: daily_sales\nsource: {type: python}\nprocessing:\n  requirements: [pandas]\n",
        ["a.yaml:4: processing: one of `script` or `inline` or `from` is required"],
    ),
    (
        "processing with two scripts",
        "kind: task\nname: daily_sales\nsource: {type: python}\nprocessing:\n  script: a.py\n  inline: print(1)\n",
        ["a.yaml:4: processing: give only one of `script` or `inline` or `from`, not several"],
    ),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_definition_error_text(defs: Path, files: str | dict[str, str], expected: list[str]) -> None:
    for name, text in ({"a.yaml": files} if isinstance(files, str) else files).items():
        (defs / name).write_text(text, encoding="utf-8")

    catalog = load_catalog(defs)

    want = [f"{defs}/{line}".replace("<root>", str(defs)) for line in expected]
    assert [str(e) for e in catalog.errors] == want


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_every_error_of_a_file_is_reported_and_other_files_still_load(defs: Path, write, sql_task) -> None:
    write(
        "broken.yaml",
        """
        kind: task
        name: broken
        schedule: 'every day'
        timezone: Nowhere/Land
        source:
          type: sql
          conn_id: warehouse
          query: select 1
        output:
          format: xlsx
        destination: []
        """,
    )
    write("syntax.yaml", "kind: task\nname: [oops\n")
    write("good.yaml", sql_task("good_one") + "---\n" + sql_task("good_two"))
    # A valid task in the same file as a broken one still loads.
    write("mixed.yaml", sql_task("good_three") + "---\nkind: task\nname: bad_neighbour\n")

    catalog = load_catalog(defs)

    assert sorted(catalog.tasks) == ["good_one", "good_three", "good_two"]
    lines = [str(e).removeprefix(f"{defs}/") for e in sorted(catalog.errors, key=lambda e: (e.file, e.line))]
    assert lines == [
        f"broken.yaml:3: schedule: `every day` is not a valid cron expression: {CRON_HELP}",
        "broken.yaml:4: timezone: unknown time zone `Nowhere/Land`: use an IANA name like Europe/Paris",
        "broken.yaml:10: output.format: `xlsx` is not allowed here: expected 'csv', 'tsv', 'pipe', 'text' or 'keep'",
        "broken.yaml:11: destination: unknown key `destination` (did you mean `destinations`?)",
        "mixed.yaml:8: source: required key `source` is missing",
        "syntax.yaml:3: invalid YAML: did not find expected ',' or ']'",
    ]
    # Errors keep the definition's name and kind, so a broken task keeps its DAG id.
    assert {(e.name, e.kind) for e in catalog.errors if e.file.endswith("broken.yaml")} == {("broken", "task")}


def test_errors_carry_file_line_and_field(defs: Path, write) -> None:
    write("x.yaml", TASK + "destinations:\n  - type: ftp\n    path: /in\n")

    (error,) = load_catalog(defs).errors

    assert (error.file, error.line, error.field) == (f"{defs}/x.yaml", 8, "destinations[0]")
    assert error.message == "a `ftp` destination needs `conn_id`"


def test_relative_folder_gives_relative_file_names(defs: Path, write, monkeypatch: pytest.MonkeyPatch) -> None:
    write("a.yaml", TASK + "timezone: Europe/Pari\n")
    monkeypatch.chdir(defs.parent)

    (error,) = load_catalog(defs.name).errors

    assert str(error).startswith(f"{defs.name}/a.yaml:7: timezone: ")


def test_missing_folder_is_an_error_not_an_exception(tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path / "nope")

    assert [str(e) for e in catalog.errors] == [f"{tmp_path}/nope: definitions folder does not exist"]
