"""The definitions of the contract load as written, with the defaults users rely on."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.definitions.models import Once

# The examples of the definition reference (docs/definitions.md), verbatim apart from the "..." placeholders.
CONTRACT_EXAMPLES = r"""
kind: project
name: sales                 # unique among projects
description: Sales extracts
owners: [alice, bob]        # Airflow user names; drive "My Tasks" and the owner cloud
run_in_series: true         # true: the project DAG runs its tasks one by one by run_rank
schedule: "0 6 * * *"       # optional project trigger (see schedule below)
timezone: Europe/Paris
params: {region: EU}        # shared parameters, a task's own params override
notify: {on_failure: {to: [data-team@example.com]}}   # default for its tasks
---
kind: task
name: daily_sales           # unique among tasks; the DAG id is exactly this name
project: sales              # optional
description: Yesterday's sales to the vendor
enabled: true               # false: the DAG is paused and never scheduled
schedule: "0 6 * * *"       # cron | @hourly @daily @weekly @monthly | none (manual only)
timezone: Europe/Paris
run_rank: 10                # order inside a project that runs in series
retries: {count: 3, delay: 5m, max_delay: 1h, exponential: true}
params:                     # run arguments, shown on Airflow's trigger form, overridable per run
  region: {default: EU, description: Sales region}
source:                     # exactly one source type
  type: sql                 # sql | file | python | ssh | http
  conn_id: warehouse        # any Airflow SQL connection (odbc, postgres, sqlite, ...)
  query: "select * from sales where day = '{{ macros.ds_add(ds, -1) }}'"
  include_headers: true
  require_rows: false       # true: zero rows is a failure
processing:                 # optional: a Python script that may rewrite or split the file(s)
  script: scripts/split.py  # path in the definitions folder; or inline: "...", or from: {type: ..., ...}
  entrypoint: main.py       # for multi-file packages
  requirements: [pandas]    # installed in the script's own isolated environment
output:
  name: "sales_{{ ds_nodash }}.csv"   # omit: file sources keep their names, others get <task>_<ds_nodash>.csv
  format: csv               # csv | tsv | pipe | text | keep
  delimiter: ","            # overrides the format's delimiter
  quoting: minimal          # minimal | all | nonnumeric | none
  line_terminator: "\n"
  line_suffix: ""           # characters appended to each line
  encoding: utf-8
  gpg: {recipient: vendor@example.com, key_conn_id: vendor_gpg}  # encrypt, ".gpg" appended
  zip: {name: "sales_{{ ds_nodash }}.zip"}                          # zipped after encryption
destinations:               # zero or more; every delivered file is also archived (file history)
  - type: sftp              # sftp | ftp | smb | local
    conn_id: vendor_sftp
    path: /incoming
    overwrite: true
    skip_empty: true        # no upload (and no zip) when the output has no data rows
notify:
  on_success: {to: [team@example.com], attach: true, embed: false, subject: "Sales", message: "Done"}
  on_failure: {to: [oncall@example.com, 5551234567@sms.example.net]}
---
kind: task
name: deactivate_users
source: {type: http, conn_id: api, endpoint: /api/users/deactivate, method: POST, json: {all: true},
         headers: {X-Token: abc}, expect_status: [200, 202]}
---
kind: task
name: fetch_files
source: {type: file, location: {type: sftp, conn_id: vendor, path: /out/*.csv}, input: {delimiter: ";"}}
---
kind: task
name: run_script
source: {type: ssh, conn_id: box, command: "ls -l"}
---
kind: task
name: python_only
source: {type: python}
processing: {inline: "print('hi')", expose_connections: true}
---
kind: task
name: once_only
schedule: {once: "2026-12-01T10:00:00Z"}
source: {type: sql, conn_id: warehouse, query_from: {type: git, conn_id: repo, path: q/daily.sql, cache: true}}
---
kind: orchestration
name: nightly_identity_sync # the DAG id is exactly this name
description: Export, then import
active: true                # false: it cannot be launched (and is never scheduled)
schedule: "0 1 * * *"       # or {once: "2020-05-18T10:12:39Z"} or none
timezone: UTC
execution_time_limit: "03:00"     # no step is started after this local time...
steps:                      # run one after another, never in parallel
  - task: daily_sales
  - task: deactivate_users
    starts_after: "03:30"   # wait for this local time (in the step's timezone) before starting
    timezone: Europe/Paris
    run_on_parent_failure: true   # default false: a failed previous step stops the chain
"""


def test_the_contract_examples_are_valid(write, defs: Path) -> None:
    write("contract.yaml", CONTRACT_EXAMPLES)

    catalog = load_catalog(defs)

    assert catalog.errors == []
    assert list(catalog.tasks) == [
        "daily_sales",
        "deactivate_users",
        "fetch_files",
        "run_script",
        "python_only",
        "once_only",
    ]
    task = catalog.tasks["daily_sales"].model
    assert task.retries.delay == timedelta(minutes=5) and task.retries.max_delay == timedelta(hours=1)
    assert task.output.line_terminator == "\n"
    assert task.destinations[0].skip_empty is True
    assert catalog.tasks["deactivate_users"].model.source.json_body == {"all": True}
    assert catalog.tasks["once_only"].model.schedule == Once(once=datetime(2026, 12, 1, 10, tzinfo=timezone.utc))
    orch = catalog.orchestrations["nightly_identity_sync"].model
    assert orch.execution_time_limit == time(3, 0)
    assert orch.steps[1].starts_after == time(3, 30) and orch.steps[1].run_on_parent_failure
    assert orch.steps[0].run_on_parent_failure is False


def test_defaults_of_a_minimal_task(write, sql_task, defs: Path) -> None:
    write("a.yaml", sql_task("minimal"))

    task = load_catalog(defs).tasks["minimal"].model

    assert task.enabled is True and task.schedule is None and task.run_rank == 0
    assert (task.retries.count, task.retries.delay, task.retries.exponential) == (0, timedelta(minutes=5), False)
    assert task.output.format == "csv" and task.output.effective_delimiter == ","
    assert task.destinations == [] and task.notify is None
    assert task.source.include_headers is True and task.source.require_rows is False


def test_schedule_forms(write, sql_task, defs: Path) -> None:
    for name, schedule in [("a", "none"), ("b", "None"), ("c", "'@daily'"), ("d", "'  30 2 * * 1 '"), ("e", "null")]:
        write(f"{name}.yaml", sql_task(name, f"schedule: {schedule}\n"))

    tasks = load_catalog(defs).tasks

    assert [tasks[n].model.schedule for n in "abcde"] == [None, None, "0 0 * * *", "30 2 * * 1", None]


def test_param_shorthand_and_full_form(write, sql_task, defs: Path) -> None:
    write(
        "a.yaml",
        sql_task(
            "p",
            "params:\n  region: EU\n  day: {default: null, type: string, required: true}\n"
            "  size: {default: 3, enum: [1, 3, 5]}\n",
        ),
    )

    params = load_catalog(defs).tasks["p"].model.params

    assert params["region"].default == "EU" and params["region"].type is None
    assert params["day"].required is True and params["day"].type == "string"
    assert params["size"].enum == [1, 3, 5]


def test_output_delimiter_follows_the_format(write, sql_task, defs: Path) -> None:
    for fmt, extra in [("tsv", ""), ("pipe", ""), ("csv", "  delimiter: ';'\n")]:
        write(f"{fmt}.yaml", sql_task(f"out_{fmt}", f"output:\n  format: {fmt}\n{extra}"))

    tasks = load_catalog(defs).tasks

    assert [tasks[f"out_{f}"].model.output.effective_delimiter for f in ("tsv", "pipe", "csv")] == ["\t", "|", ";"]


@pytest.mark.parametrize(("written", "hint"), [("17:30", "'17:30'"), ("7:05:09", "'07:05:09'")])
def test_an_unquoted_time_read_as_a_number_says_to_quote_it(written: str, hint: str) -> None:
    """YAML 1.1 reads 17:30 as 1050 (base 60); the error names the time the author wrote and the fix."""
    from airflow_batchtasks.definitions.catalog import validate_document
    from airflow_batchtasks.definitions.yaml_source import parse_documents

    docs, _ = parse_documents(f"kind: orchestration\nname: o\nsteps:\n  - task: a\n    starts_after: {written}\n",
                              "o.yaml")
    _, errors = validate_document(docs[0])

    assert [(e.line, e.field) for e in errors] == [(5, "steps[0].starts_after")]
    assert f"quote it: {hint}" in errors[0].message
