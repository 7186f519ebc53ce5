"""DAG parse cost of airflow-batchtasks, side by side with plain Python and dag-factory.

The DAG processor re-parses every DAG file every ``min_file_process_interval``,
and each worker re-parses the file of the DAG it runs, so parse time and memory
are what a YAML-to-DAG layer costs in production. This script builds the same
workload three ways and fills an ``airflow.dag_processing.dagbag.DagBag`` with
each, every time in a fresh interpreter so that import costs count the same for
every case. The workload: 1,000 three-step task DAGs (extract -> package ->
deliver, same operators, same arguments) and ``--orchestrations`` orchestration
DAGs (default 2 per 1,000 tasks: the issue's 20 at 10,000), each chaining 5
different tasks of the workload (``step_1__<task>`` >> ... >> ``report``) with a
mix of schedules (cron, once, none, inactive), time or duration limits,
``starts_after`` times in their own time zones and ``run_on_parent_failure``:

* plain Python: ``airflow.sdk.DAG`` code with the arguments written out (the floor);
  an orchestration is the DAG ``build_orchestration_dag`` builds, written out;
* airflow-batchtasks: YAML definitions (orchestrations in the file of their first
  step's task) and the one-line ``load_dags`` loader;
* dag-factory 1.1.0: equivalent dag-factory YAML (step rules and limits as ``__type__``
  objects) and its ``load_yaml_dags`` loader;
* airflow-batchtasks under Airflow's parsing context (what a worker does to run one task),
  for one task DAG and, when there are orchestrations, for one orchestration DAG.

Before measuring, a small workload (25 task DAGs, 5 orchestrations: one of each
variant) is built all three ways and compared DAG by DAG (task ids, dependencies,
operator classes and the arguments that matter): the run stops if they differ.

With ``--per-process`` the cases are parsed as Airflow's dag-processor parses them: every DAG file in
its own process forked from one that imported Airflow and froze its heap, ``--parsing-processes`` at a
time (Airflow's default is 2). Then airflow-batchtasks is measured both with its one loader file and
with the sharded loader files ``airflow batchtasks init --shards N`` writes, and the report gives each
case's total CPU, its wall time, its slowest parse unit and the peak RSS of one parsing process.

Run ``uv run python benchmarks/parse_cost.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import pprint
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/London")
DB_CONN = "bench_db"
SFTP_CONN = "bench_sftp"
PROJECT_PARAMS = {"region": "EU"}
DAY_OFFSET = {"default": 1, "description": "Days back from the run date", "type": "integer"}
MACRO_NAMES = (
    "today",
    "yesterday",
    "tomorrow",
    "add_days",
    "add_months",
    "first_day_of_month",
    "last_day_of_month",
    "first_day_of_previous_month",
    "last_day_of_previous_month",
    "date_format",
)
OPERATORS = "airflow_batchtasks.operators"
TASKS_PER_DAG = 3
# What the loader passes for `exponential: false` on Airflow 3.3 (a float multiplier there, 0 = off).
NO_BACKOFF = 0
CONTEXT_ENV = "_AIRFLOW_PARSING_CONTEXT_DAG_ID"

# Targets this project commits to, and figures measured elsewhere for the report.
MAX_VS_PLAIN = 1.5
MIN_SPEEDUP_VS_DAGFACTORY = 2.0
MAX_ONE_DAG_SHARE = 0.05
NOISY_SPREAD = 1.3
MAX_UNIT_S = 5.0
MAX_RSS_VS_PLAIN = 1.2
REFERENCE = "reference figures measured elsewhere: plain 2.0-3.0 s, dag-factory 9.3-11.8 s"


# --------------------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Spec:
    """One batch task, independent of how it is written down, so the three cases cannot drift apart."""

    name: str
    project: str
    owner: str
    timezone: str
    cron: str
    description: str
    query: str
    output_name: str
    destination: str
    retries: int
    retry_delay_s: int


def make_specs(tasks: int, files: int, projects: int) -> list[list[Spec]]:
    """``tasks`` specs split over ``files`` groups; every file belongs to one project (as teams organise them)."""
    groups: list[list[Spec]] = [[] for _ in range(files)]
    for i in range(tasks):
        f = i % files
        p = f % projects
        name = f"bench_t{i:04d}"
        groups[f].append(
            Spec(
                name=name,
                project=f"proj_{p}",
                owner=f"team_{p}",
                timezone=ZONES[p % len(ZONES)],
                cron=f"{i % 60} {i % 24} * * *",
                description=f"Benchmark extract {i} of the sales table",
                query=(
                    f"select id, day, region, amount from sales_{i % 7}\n"
                    "where region = '{{ params.region }}' and day = '{{ yesterday() }}' order by id"
                ),
                output_name=f"{name}_{{{{ ds_nodash }}}}.csv",
                destination=f"/outbox/{p}/{name}",
                retries=i % 3,
                retry_delay_s=30 * (1 + i % 4),
            )
        )
    return groups


def output_format(spec: Spec) -> dict[str, Any]:
    """The ``output`` block as the loader hands it to SqlExtractOperator (pydantic model_dump with defaults)."""
    return {
        "name": spec.output_name,
        "format": "csv",
        "delimiter": None,
        "quoting": "minimal",
        "line_terminator": "\n",
        "line_suffix": "",
        "encoding": "utf-8",
        "gpg": None,
        "zip": None,
    }


def destinations(spec: Spec) -> list[dict[str, Any]]:
    """The destinations as the loader hands them to DeliverOperator."""
    return [{"type": "sftp", "conn_id": SFTP_CONN, "path": spec.destination, "overwrite": True, "skip_empty": False}]


def dag_params() -> dict[str, dict[str, Any]]:
    """Param keyword arguments, as the loader derives them (project default + typed, nullable task param)."""
    day_offset = {**DAY_OFFSET, "type": [DAY_OFFSET["type"], "null"]}
    return {"region": {"default": PROJECT_PARAMS["region"]}, "day_offset": day_offset}


# Orchestrations: each chains STEPS_PER_ORCHESTRATION of the workload's tasks (no task is in two of them).
# The variants cycle so that every few orchestrations cover each schedule kind and each limit.
STEPS_PER_ORCHESTRATION = 5
ORCHESTRATIONS_PER_1000_TASKS = 2
ONCE_AT = "2026-05-18T10:12:39+00:00"


@dataclass(frozen=True)
class StepSpec:
    """One step of an orchestration: the task it runs and the conditions it starts under."""

    task: str
    starts_after: str | None  # "HH:MM" local time
    timezone: str | None  # None: the orchestration's
    run_on_parent_failure: bool


@dataclass(frozen=True)
class OrchSpec:
    """One orchestration, independent of how it is written down (as :class:`Spec` is for a task).

    At most one of ``cron`` / ``once`` (neither: launched on demand), at most one of the two limits
    (the model makes them exclusive). ``active: false`` keeps ``cron`` in the YAML, as a user pausing a
    chain would, and the DAG then has no schedule.
    """

    name: str
    description: str
    timezone: str
    active: bool
    cron: str | None
    once: str | None
    time_limit: str | None  # "HH:MM", in the orchestration's time zone
    duration_limit_h: int | None
    steps: tuple[StepSpec, ...]
    file: int  # the definitions file (index) it is written in: that of its first step's task


def default_orchestrations(tasks: int) -> int:
    """2 per 1,000 tasks: the issue's 20 orchestrations at 10,000 definitions, 2 at 1,000, 60 at 30,000."""
    return tasks * ORCHESTRATIONS_PER_1000_TASKS // 1000


def make_orchestrations(groups: list[list[Spec]], count: int) -> list[OrchSpec]:
    """``count`` orchestrations of 5 different tasks each; step ``j`` of orchestration ``k`` runs task
    ``j * count + k``, so one chain spans files and projects, as chains across teams' tasks do.

    Variant ``k % 5``: 0 cron + time limit, 1 cron + duration limit, 2 ``once`` + time limit,
    3 on demand + duration limit, 4 inactive (cron kept in the YAML) + time limit. In every chain step 2
    runs on parent failure, step 3 waits for 02:30 in another time zone than the orchestration's, step 4
    waits for 03:15 in the orchestration's, step 5 runs on parent failure in every other chain.
    """
    specs = sorted((s for g in groups for s in g), key=lambda s: s.name)
    if count * STEPS_PER_ORCHESTRATION > len(specs):
        raise ValueError(f"{count} orchestrations of {STEPS_PER_ORCHESTRATION} different tasks need "
                         f"{count * STEPS_PER_ORCHESTRATION} tasks; the workload has {len(specs)}")
    files = len(groups)
    out = []
    for k in range(count):
        variant = k % 5
        zone = ZONES[k % len(ZONES)]
        chain = [specs[j * count + k] for j in range(STEPS_PER_ORCHESTRATION)]
        steps = tuple(
            StepSpec(
                task=spec.name,
                starts_after={2: "02:30", 3: "03:15"}.get(j),
                timezone=ZONES[(k + 1) % len(ZONES)] if j == 2 else None,
                run_on_parent_failure=j == 1 or (j == 4 and k % 2 == 0),
            )
            for j, spec in enumerate(chain)
        )
        first = int(chain[0].name.removeprefix("bench_t"))
        out.append(
            OrchSpec(
                name=f"bench_chain{k:03d}",
                description=f"Benchmark chain {k}: {STEPS_PER_ORCHESTRATION} extracts one after another",
                timezone=zone,
                active=variant != 4,
                cron=f"{k % 60} {1 + k % 4} * * *" if variant in (0, 1, 4) else None,
                once=ONCE_AT if variant == 2 else None,
                time_limit={0: "06:00", 2: "12:12", 4: "07:30"}.get(variant),
                duration_limit_h={1: 4, 3: 6}.get(variant),
                steps=steps,
                file=first % files,
            )
        )
    return out


# --------------------------------------------------------------------------- case 1: airflow-batchtasks


def ours_task_doc(spec: Spec) -> dict[str, Any]:
    """A task definition as a user would write it."""
    return {
        "kind": "task",
        "name": spec.name,
        "project": spec.project,
        "description": spec.description,
        "schedule": spec.cron,
        "retries": {"count": spec.retries, "delay": f"{spec.retry_delay_s}s"},
        "params": {"day_offset": dict(DAY_OFFSET)},
        "source": {"type": "sql", "conn_id": DB_CONN, "query": spec.query, "include_headers": True},
        "output": {"name": spec.output_name, "format": "csv"},
        "destinations": [{"type": "sftp", "conn_id": SFTP_CONN, "path": spec.destination}],
    }


def ours_project_doc(spec: Spec) -> dict[str, Any]:
    """The project a file's tasks belong to: owners, time zone and params merged into every task."""
    return {
        "kind": "project",
        "name": spec.project,
        "description": f"Benchmark project {spec.project}",
        "owners": [spec.owner],
        "timezone": spec.timezone,
        "params": dict(PROJECT_PARAMS),
    }


def ours_orchestration_doc(orch: OrchSpec) -> dict[str, Any]:
    """An orchestration as a user writes it (docs/orchestrations.md): steps naming tasks, conditions, limits."""
    doc: dict[str, Any] = {"kind": "orchestration", "name": orch.name, "description": orch.description}
    if not orch.active:
        doc["active"] = False
    if orch.cron:
        doc["schedule"] = orch.cron
    elif orch.once:
        doc["schedule"] = {"once": orch.once}
    doc["timezone"] = orch.timezone
    if orch.time_limit:
        doc["execution_time_limit"] = orch.time_limit
    if orch.duration_limit_h:
        doc["execution_duration_limit"] = f"PT{orch.duration_limit_h}H"
    steps = []
    for step in orch.steps:
        item: dict[str, Any] = {"task": step.task}
        if step.starts_after:
            item["starts_after"] = step.starts_after
        if step.timezone:
            item["timezone"] = step.timezone
        if step.run_on_parent_failure:
            item["run_on_parent_failure"] = True
        steps.append(item)
    doc["steps"] = steps
    return doc


def write_ours(root: Path, groups: list[list[Spec]], orchestrations: Sequence[OrchSpec] = ()) -> Path:
    """Definitions under ``root/definitions``, the loader file under ``root/dags``; returns the DAG folder.

    An orchestration is written after the tasks of the file holding its first step's task, as the
    team owning that task would keep it.
    """
    defs = root / "definitions"
    defs.mkdir(parents=True)
    projects = {g[0].project: ours_project_doc(g[0]) for g in groups if g}
    dump_all(defs / "projects.yaml", list(projects.values()))
    for i, group in enumerate(groups):
        docs = [ours_task_doc(s) for s in group] + [ours_orchestration_doc(o) for o in orchestrations if o.file == i]
        dump_all(defs / f"tasks_{i:03d}.yaml", docs)
    dags = root / "dags"
    dags.mkdir()
    (dags / "batchtasks_dags.py").write_text(
        f"from airflow_batchtasks.dag_factory import load_dags\n\nload_dags(globals(), {str(defs)!r})\n"
    )
    return dags


def write_ours_sharded(root: Path, defs: Path, shards: int) -> Path:
    """The loader files of ``airflow batchtasks init --shards N`` (same text), pointed at ``defs``."""
    from airflow_batchtasks.cli import shard_file, shard_text

    dags = root / "dags"
    dags.mkdir(parents=True)
    for k in range(shards):
        text = shard_text(k, shards).replace(f"load_shard(globals(), {k}, {shards})",
                                             f"load_shard(globals(), {k}, {shards}, {str(defs)!r})")
        (dags / shard_file(k, shards)).write_text(text)
    return dags


def default_shards(tasks: int) -> int:
    """What ``airflow batchtasks init`` picks for this many definitions."""
    from airflow_batchtasks.cli import shards_for

    return shards_for(tasks)


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (queries) as ``|`` blocks, the way people write them by hand."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_all(path: Path, docs: list[dict[str, Any]]) -> None:
    path.write_text(yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, explicit_start=True, width=120))


# --------------------------------------------------------------------------- case 2: plain Python (the floor)

PLAIN_MODULE = '''"""Generated by benchmarks/parse_cost.py: batch task DAGs as plain airflow.sdk code."""

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param

from airflow_batchtasks.definitions.date_helpers import FILTERS, MACROS
from airflow_batchtasks.operators.deliver import DeliverOperator
from airflow_batchtasks.operators.package import PackageOperator
from airflow_batchtasks.operators.sql import SqlExtractOperator


def build(name, project, owner, timezone, cron, description, query, output_format, destinations,
          retries, retry_delay_s, params):
    tz = pendulum.timezone(timezone)
    with DAG(
        dag_id=name,
        description=description,
        schedule=CronTriggerTimetable(cron, timezone=tz, run_immediately=False),
        catchup=False,
        max_active_runs=1,
        tags=["batchtasks", f"project:{project}", f"owner:{owner}"],
        params={key: Param(**kwargs) for key, kwargs in params.items()},
        default_args={
            "owner": owner,
            "retries": retries,
            "retry_delay": timedelta(seconds=retry_delay_s),
            "retry_exponential_backoff": %(backoff)r,
        },
        doc_md=f"### Batch task `{name}`\\n\\n{description}\\n",
        is_paused_upon_creation=False,
        user_defined_macros=MACROS,
        user_defined_filters=FILTERS,
    ) as dag:
        extract = SqlExtractOperator(
            task_id="extract",
            batch_task=name,
            conn_id=%(db)r,
            query=query,
            query_from=None,
            output_name=output_format["name"],
            output_format=output_format,
            include_headers=True,
            require_rows=False,
        )
        package = PackageOperator(task_id="package", batch_task=name, zip_name=None, skip_empty_zip=False, gpg=None)
        deliver = DeliverOperator(task_id="deliver", batch_task=name, destinations=destinations)
        extract >> package >> deliver
    return dag


SPECS = %(specs)s

for _spec in SPECS:
    globals()[_spec["name"]] = build(**_spec)
'''


# Appended to a plain module that holds orchestrations: what build_orchestration_dag builds, written out.
PLAIN_ORCHESTRATIONS = '''

from datetime import time

from airflow_batchtasks.operators.orchestration import OrchestrationReportOperator, OrchestrationStepOperator
from airflow_batchtasks.orchestration.rules import Limits, StepRules


def build_orchestration(name, description, timezone, active, cron, once, time_limit, duration_limit_h, steps):
    tz = pendulum.timezone(timezone)
    if cron:
        schedule, start_date = CronTriggerTimetable(cron, timezone=tz, run_immediately=False), None
    elif once:
        schedule, start_date = "@once", pendulum.parse(once)
    else:
        schedule, start_date = None, None
    limits = Limits(
        active=active,
        timezone=timezone,
        time_limit=time.fromisoformat(time_limit) if time_limit else None,
        duration_limit=timedelta(hours=duration_limit_h) if duration_limit_h else None,
    )
    with DAG(
        dag_id=name,
        description=description,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=["batchtasks", "orchestration"],
        doc_md=f"### Orchestration `{name}`\\n\\n{description}\\n",
        is_paused_upon_creation=not active,
    ) as dag:
        first = f"step_1__{steps[0]['task']}"
        previous = None
        for number, step in enumerate(steps, start=1):
            rules = StepRules(
                step=number,
                task=step["task"],
                starts_after=time.fromisoformat(step["starts_after"]) if step["starts_after"] else None,
                timezone=step["timezone"] or timezone,
                run_on_parent_failure=step["run_on_parent_failure"],
                task_enabled=True,
            )
            op = OrchestrationStepOperator(
                orchestration=name,
                rules=rules,
                limits=limits,
                parent_task_id=previous.task_id if previous else None,
                first_task_id=first,
            )
            if previous is not None:
                previous >> op
            previous = op
        report = OrchestrationReportOperator(
            orchestration=name, steps=[(number, step["task"]) for number, step in enumerate(steps, start=1)]
        )
        previous >> report
    return dag


ORCHESTRATIONS = %(orchestrations)s

for _orch in ORCHESTRATIONS:
    globals()[_orch["name"]] = build_orchestration(**_orch)
'''


def plain_orchestration(orch: OrchSpec) -> dict[str, Any]:
    """The arguments of the generated ``build_orchestration()`` for one orchestration DAG."""
    return {
        "name": orch.name,
        "description": orch.description,
        "timezone": orch.timezone,
        "active": orch.active,
        "cron": orch.cron if orch.active else None,
        "once": orch.once if orch.active else None,
        "time_limit": orch.time_limit,
        "duration_limit_h": orch.duration_limit_h,
        "steps": [
            {"task": st.task, "starts_after": st.starts_after, "timezone": st.timezone,
             "run_on_parent_failure": st.run_on_parent_failure}
            for st in orch.steps
        ],
    }


def plain_spec(spec: Spec) -> dict[str, Any]:
    """The arguments of the generated ``build()`` for one DAG."""
    return {
        "name": spec.name,
        "project": spec.project,
        "owner": spec.owner,
        "timezone": spec.timezone,
        "cron": spec.cron,
        "description": spec.description,
        "query": spec.query,
        "output_format": output_format(spec),
        "destinations": destinations(spec),
        "retries": spec.retries,
        "retry_delay_s": spec.retry_delay_s,
        "params": dag_params(),
    }


def write_plain(root: Path, groups: list[list[Spec]], modules: int, orchestrations: Sequence[OrchSpec] = ()) -> Path:
    """``modules`` .py files holding all the DAGs; returns the DAG folder.

    Orchestration ``k`` goes to module ``k % modules``; a module without one has no orchestration code.
    """
    dags = root / "dags"
    dags.mkdir(parents=True)
    specs = [s for g in groups for s in g]
    size = -(-len(specs) // modules)
    for m in range(modules):
        chunk = [plain_spec(s) for s in specs[m * size : (m + 1) * size]]
        specs_text = pprint.pformat(chunk, width=120, sort_dicts=False)
        text = PLAIN_MODULE % {"db": DB_CONN, "backoff": NO_BACKOFF, "specs": specs_text}
        mine = [plain_orchestration(o) for k, o in enumerate(orchestrations) if k % modules == m]
        if mine:
            text += PLAIN_ORCHESTRATIONS % {"orchestrations": pprint.pformat(mine, width=120, sort_dicts=False)}
        (dags / f"plain_dags_{m:02d}.py").write_text(text)
    return dags


# --------------------------------------------------------------------------- case 3: dag-factory 1.1.0


def typed(import_path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """dag-factory's ``__type__`` notation: an object built from its import path at load time."""
    node: dict[str, Any] = {"__type__": import_path, **kwargs}
    if args:
        node["__args__"] = list(args)
    return node


def dagfactory_dag(spec: Spec) -> dict[str, Any]:
    """One DAG in dag-factory's YAML, with the same arguments as the other two cases."""
    tz = typed("pendulum.timezone", spec.timezone)
    return {
        "description": spec.description,
        "schedule": typed("airflow.sdk.CronTriggerTimetable", spec.cron, timezone=tz, run_immediately=False),
        "tags": ["batchtasks", f"project:{spec.project}", f"owner:{spec.owner}"],
        "params": {key: typed("airflow.sdk.Param", **kwargs) for key, kwargs in dag_params().items()},
        "default_args": {
            "retries": spec.retries,
            "retry_delay": typed("datetime.timedelta", seconds=spec.retry_delay_s),
        },
        "doc_md": f"### Batch task `{spec.name}`\n\n{spec.description}\n",
        "tasks": {
            "extract": {
                "operator": f"{OPERATORS}.sql.SqlExtractOperator",
                "batch_task": spec.name,
                "conn_id": DB_CONN,
                "query": spec.query,
                "query_from": None,
                "output_name": spec.output_name,
                "output_format": output_format(spec),
                "include_headers": True,
                "require_rows": False,
            },
            "package": {
                "operator": f"{OPERATORS}.package.PackageOperator",
                "batch_task": spec.name,
                "zip_name": None,
                "skip_empty_zip": False,
                "gpg": None,
                "dependencies": ["extract"],
            },
            "deliver": {
                "operator": f"{OPERATORS}.deliver.DeliverOperator",
                "batch_task": spec.name,
                "destinations": destinations(spec),
                "dependencies": ["package"],
            },
        },
    }


def _clock(hhmm: str | None) -> dict[str, Any] | None:
    """A ``datetime.time`` in dag-factory's notation."""
    if not hhmm:
        return None
    hours, minutes = hhmm.split(":")
    return typed("datetime.time", int(hours), int(minutes))


def dagfactory_orchestration(orch: OrchSpec) -> dict[str, Any]:
    """The DAG ``build_orchestration_dag`` builds for ``orch``, in dag-factory's YAML: the same operators
    with the same arguments, rules and limits as ``__type__`` objects, steps chained by ``dependencies``."""
    rules_type = "airflow_batchtasks.orchestration.rules"
    limits = typed(
        f"{rules_type}.Limits",
        active=orch.active,
        timezone=orch.timezone,
        time_limit=_clock(orch.time_limit),
        duration_limit=typed("datetime.timedelta", hours=orch.duration_limit_h) if orch.duration_limit_h else None,
    )
    dag: dict[str, Any] = {"description": orch.description}
    if orch.active and orch.cron:
        tz = typed("pendulum.timezone", orch.timezone)
        dag["schedule"] = typed("airflow.sdk.CronTriggerTimetable", orch.cron, timezone=tz, run_immediately=False)
    elif orch.active and orch.once:
        dag["schedule"] = "@once"
        dag["start_date"] = orch.once
    dag.update(
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=not orch.active,
        tags=["batchtasks", "orchestration"],
        doc_md=f"### Orchestration `{orch.name}`\n\n{orch.description}\n",
    )
    tasks: dict[str, Any] = {}
    ids = [f"step_{n}__{st.task}" for n, st in enumerate(orch.steps, start=1)]
    for n, (task_id, st) in enumerate(zip(ids, orch.steps, strict=True), start=1):
        rules = typed(
            f"{rules_type}.StepRules",
            step=n,
            task=st.task,
            starts_after=_clock(st.starts_after),
            timezone=st.timezone or orch.timezone,
            run_on_parent_failure=st.run_on_parent_failure,
            task_enabled=True,
        )
        tasks[task_id] = {
            "operator": f"{OPERATORS}.orchestration.OrchestrationStepOperator",
            "orchestration": orch.name,
            "rules": rules,
            "limits": limits,
            "parent_task_id": ids[n - 2] if n > 1 else None,
            "first_task_id": ids[0],
            **({"dependencies": [ids[n - 2]]} if n > 1 else {}),
        }
    tasks["report"] = {
        "operator": f"{OPERATORS}.orchestration.OrchestrationReportOperator",
        "orchestration": orch.name,
        "steps": [typed("builtins.tuple", [n, st.task]) for n, st in enumerate(orch.steps, start=1)],
        "dependencies": [ids[-1]],
    }
    dag["tasks"] = tasks
    return dag


def dagfactory_default(spec: Spec) -> dict[str, Any]:
    """The per-file ``default`` block: what every DAG of the file (one project) shares."""
    return {
        "default_args": {"owner": spec.owner, "retry_exponential_backoff": NO_BACKOFF},
        "catchup": False,
        "max_active_runs": 1,
        "is_paused_upon_creation": False,
        "user_defined_macros": {n: f"airflow_batchtasks.definitions.date_helpers.{n}" for n in MACRO_NAMES},
    }


def write_dagfactory(root: Path, groups: list[list[Spec]], orchestrations: Sequence[OrchSpec] = ()) -> Path:
    """dag-factory configs under ``root/configs`` and the loader file its docs show; returns the DAG folder.

    An orchestration goes to ``chains_<i>.yaml`` beside the ``dags_<i>.yaml`` that holds the tasks of
    our file ``i``: a dag-factory file's ``default`` block (the task DAGs' owner, back-off, macros) would
    apply to every DAG of the file, and an orchestration DAG has none of them.
    """
    configs = root / "configs"
    configs.mkdir(parents=True)
    for i in sorted({o.file for o in orchestrations}):
        chains = {o.name: dagfactory_orchestration(o) for o in orchestrations if o.file == i}
        (configs / f"chains_{i:03d}.yaml").write_text(yaml.dump(chains, Dumper=_Dumper, sort_keys=False, width=120))
    for i, group in enumerate(groups):
        config = {"default": dagfactory_default(group[0]), **{s.name: dagfactory_dag(s) for s in group}}
        (configs / f"dags_{i:03d}.yaml").write_text(yaml.dump(config, Dumper=_Dumper, sort_keys=False, width=120))
    dags = root / "dags"
    dags.mkdir()
    (dags / "dagfactory_dags.py").write_text(
        "# airflow DAG loader for dag-factory YAML configs\n"
        "from dagfactory import load_yaml_dags\n\n"
        f"load_yaml_dags(globals_dict=globals(), dags_folder={str(configs)!r}, "
        f"defaults_config_path={str(configs)!r})\n"
    )
    return dags


# --------------------------------------------------------------------------- the child: one DagBag fill


def child(folder: str, result_path: str, profile_path: str | None, gc_freeze: bool) -> None:
    """Import Airflow, fill a DagBag from ``folder``, write timings and counts as JSON.

    Runs in a fresh interpreter so every case pays its own imports (pydantic,
    dag-factory, the operators) inside the measured fill, on top of the same
    ``airflow.sdk`` baseline. With ``gc_freeze`` the imported heap is frozen
    first, as Airflow's DAG processor manager does before forking its parsers;
    otherwise every full collection during the fill also walks Airflow's own objects.
    """
    import gc
    import resource

    start = time.perf_counter()
    import airflow.sdk  # noqa: F401  (the baseline every case pays)

    imported = time.perf_counter()
    rss_imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from airflow.dag_processing.dagbag import DagBag

    if gc_freeze:
        gc.freeze()
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    fill_start, cpu_start = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=folder)
    fill_end, cpu_end = time.perf_counter(), time.process_time()
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    dags = workload_dags(bag.dags)
    result = {
        "import_s": imported - start,
        "fill_s": fill_end - fill_start,
        "cpu_s": cpu_end - cpu_start,
        "dags": len(dags),
        "tasks": sum(len(d.tasks) for d in dags.values()),
        "dag_ids": sorted(dags)[:5],
        "import_errors": dict(list(bag.import_errors.items())[:3]),
        "import_error_count": len(bag.import_errors),
        "rss_import_mb": rss_imported / 1024,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    Path(result_path).write_text(json.dumps(result))


def per_process_child(folder: str, result_path: str, processes: int) -> None:
    """Parse every DAG file of ``folder`` in its own forked process, ``processes`` at a time, as the
    dag-processor does (its manager imports Airflow, freezes the heap and forks one parser per file).

    Each parser reports its own wall and CPU time, peak RSS, DAGs, Airflow tasks and import errors.
    """
    import gc
    import resource

    import airflow.sdk  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag

    gc.freeze()
    files = sorted(str(p) for p in Path(folder).iterdir() if p.suffix == ".py")
    out_dir = Path(result_path).parent / "units"
    out_dir.mkdir(exist_ok=True)
    running: dict[int, str] = {}
    start, cpu_children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    pending = list(files)
    while pending or running:
        while pending and len(running) < processes:
            path = pending.pop(0)
            unit_out = out_dir / (Path(path).name + ".json")
            pid = os.fork()
            if pid == 0:  # the parser
                code = 0
                try:
                    t0, c0 = time.perf_counter(), time.process_time()
                    bag = DagBag(dag_folder=path)
                    dags = workload_dags(bag.dags)
                    unit_out.write_text(json.dumps({
                        "file": Path(path).name,
                        "wall_s": time.perf_counter() - t0,
                        "cpu_s": time.process_time() - c0,
                        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        "dags": len(dags),
                        "tasks": sum(len(d.tasks) for d in dags.values()),
                        "import_errors": {k: v[-300:] for k, v in list(bag.import_errors.items())[:2]},
                    }))
                except BaseException:  # noqa: BLE001 - reported by the parent, never back into the loop
                    import traceback

                    (out_dir / (Path(path).name + ".crash")).write_text(traceback.format_exc())
                    code = 1
                os._exit(code)
            running[pid] = path
        pid, _status = os.wait()
        running.pop(pid, None)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    units = [json.loads((out_dir / (Path(f).name + ".json")).read_text()) for f in files
             if (out_dir / (Path(f).name + ".json")).exists()]
    crashes = [p.read_text()[-1500:] for p in sorted(out_dir.glob("*.crash"))]
    result = {
        "fill_s": wall,
        "cpu_s": (after.ru_utime + after.ru_stime) - (cpu_children.ru_utime + cpu_children.ru_stime),
        "units": len(files),
        "units_done": len(units),
        "max_unit_s": max((u["wall_s"] for u in units), default=0.0),
        "max_unit_cpu_s": max((u["cpu_s"] for u in units), default=0.0),
        "rss_mb": max((u["rss_mb"] for u in units), default=0.0),
        "dags": sum(u["dags"] for u in units),
        "tasks": sum(u["tasks"] for u in units),
        "dag_ids": [],
        "import_error_count": sum(len(u["import_errors"]) for u in units),
        "import_errors": [u["import_errors"] for u in units if u["import_errors"]][:2] + crashes[:1],
        "import_s": 0.0,
        "rss_import_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    for unit in units:
        (out_dir / (unit["file"] + ".json")).unlink()
    Path(result_path).write_text(json.dumps(result))


# --------------------------------------------------------------------------- equivalence check (child side)

DAG_ATTRS = (
    "description",
    "timetable",
    "start_date",
    "catchup",
    "max_active_runs",
    "is_paused_upon_creation",
    "access_control",
)
TASK_ATTRS = (
    "task_type",
    "owner",
    "retries",
    "retry_delay",
    "retry_exponential_backoff",
    "batch_task",
    "conn_id",
    "query",
    "query_from",
    "output_name",
    "output_format",
    "include_headers",
    "require_rows",
    "zip_name",
    "skip_empty_zip",
    "gpg",
    "destinations",
    # the orchestration DAGs' steps and report (None on the task DAGs' operators)
    "orchestration",
    "rules",
    "limits",
    "parent_task_id",
    "first_task_id",
    "steps",
    "trigger_dag_id",
    "wait_for_completion",
    "deferrable",
    "reset_dag_run",
    "poke_interval",
    "allowed_states",
    "failed_states",
    "trigger_rule",
    "upstream_task_ids",
    "downstream_task_ids",
)


def dag_summary(dag: Any) -> dict[str, str]:
    """What must be equal across the cases for the comparison to be fair.

    Not compared: doc_md (each tool writes its own), user_defined_filters
    (dag-factory has no way to pass them) and dag-factory's own `dagfactory` tag.
    """
    out = {a: _stable_repr(getattr(dag, a)) for a in DAG_ATTRS}
    out["tags"] = repr(sorted(set(dag.tags) - {"dagfactory"}))
    out["params"] = repr({k: (p.value, p.description, p.schema) for k, p in dag.params.items()})
    out["macros"] = repr(sorted(dag.user_defined_macros or {}))
    out["task_ids"] = repr(sorted(dag.task_ids))
    for task in dag.tasks:
        out.update({f"{task.task_id}.{a}": _stable_repr(getattr(task, a, None)) for a in TASK_ATTRS})
    return out


def _stable_repr(value: Any) -> str:
    """``repr``, comparable across interpreters: sets sorted (their order follows the string hash seed),
    objects without a ``__repr__`` of their own (``@once``, no schedule) as class name and attributes."""
    if isinstance(value, (set, frozenset)):
        return repr(sorted(value))
    if type(value).__repr__ is object.__repr__:
        return f"{type(value).__qualname__}({sorted(vars(value).items()) if hasattr(value, '__dict__') else ''})"
    return repr(value)


def workload_dags(dags: dict[str, Any]) -> dict[str, Any]:
    """The workload's DAGs: without the provider's resend DAG, which our loader adds once whatever the workload."""
    return {dag_id: dag for dag_id, dag in dags.items() if "batchtasks:resend" not in (dag.tags or ())}


def verify_child(root: str, result_path: str) -> None:
    """Fill the three DagBags of a small workload and list every DAG that differs from the plain one."""
    from airflow.dag_processing.dagbag import DagBag

    bags = {key: workload_dags(DagBag(dag_folder=f"{root}/{key}/dags").dags) for key in ("plain", "ours", "dagfactory")}
    diffs = []
    for dag_id, dag in bags["plain"].items():
        want = dag_summary(dag)
        for key in ("ours", "dagfactory"):
            got = dag_summary(bags[key][dag_id]) if dag_id in bags[key] else {}
            diffs += [f"{key} {dag_id} {k}: {got.get(k)} != {v}" for k, v in want.items() if got.get(k) != v]
            diffs += [f"{key} {dag_id} {k}: {v} not in plain" for k, v in got.items() if k not in want]
    orchestrations = sum(1 for d in bags["ours"].values() if "orchestration" in (d.tags or ()))
    result = {"dags": {k: len(v) for k, v in bags.items()}, "orchestrations": orchestrations, "diffs": diffs[:10]}
    Path(result_path).write_text(json.dumps(result))


# --------------------------------------------------------------------------- the parent: cases, runs, table


@dataclass
class Case:
    """A DAG folder to parse and what a correct parse of it yields."""

    key: str
    label: str
    folder: Path
    expect_dags: int
    expect_tasks: int  # Airflow tasks: 3 per batch task DAG, steps + 1 (report) per orchestration DAG
    dag_id: str | None = None
    gc_freeze: bool = True
    processes: int = 0  # > 0: parse file by file in that many forked parsers (--per-process)
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)

    def best(self, key: str) -> float:
        return min(r[key] for r in self.runs)

    def spread(self) -> float:
        """Slowest over fastest wall time: how much the neighbours disturbed this case."""
        return max(r["fill_s"] for r in self.runs) / self.best("fill_s")


def child_env(home: Path, case: Case) -> dict[str, str]:
    """Same settings for every child: throwaway AIRFLOW_HOME, no examples, no import timeout, no telemetry.

    Bytecode goes to a private cache (PYTHONPYCACHEPREFIX) that the warm-up round
    fills: a DAG processor has .pyc files for its packages and DAG files, so no case
    should pay compile time, and nothing gets written into the repository or the venv
    (even when the caller set PYTHONDONTWRITEBYTECODE).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("_AIRFLOW_PARSING_CONTEXT")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home.parent / "pycache")
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(case.folder),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="0",
        AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY="False",
        DO_NOT_TRACK="1",
        SCARF_NO_ANALYTICS="1",
    )
    if case.dag_id:
        env[CONTEXT_ENV] = case.dag_id
    return env


def run_child(case: Case, home: Path, profile_path: Path | None = None) -> dict[str, Any]:
    """One fresh interpreter filling one DagBag; fails loudly with the child's output if it crashed."""
    result_path = home / f"result_{case.key}.json"
    result_path.unlink(missing_ok=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(case.folder), "--result", str(result_path)]
    if case.processes:
        cmd += ["--processes", str(case.processes)]
    if case.gc_freeze:
        cmd.append("--gc-freeze")
    if profile_path:
        cmd += ["--profile-out", str(profile_path)]
    proc = subprocess.run(cmd, env=child_env(home, case), capture_output=True, text=True)
    if proc.returncode != 0 or not result_path.exists():
        output = proc.stdout[-3000:] + proc.stderr[-3000:]
        raise RuntimeError(f"{case.label}: child failed ({proc.returncode})\n{output}")
    return json.loads(result_path.read_text())


def check(case: Case, result: dict[str, Any]) -> None:
    """A fast parse that lost DAGs proves nothing: every run must build exactly the expected DAGs."""
    problems = []
    if result.get("units_done", 0) != result.get("units", 0):
        problems.append(f"{result['units'] - result['units_done']} parser(s) crashed: {result['import_errors']}")
    if result["import_error_count"]:
        problems.append(f"{result['import_error_count']} import error(s): {result['import_errors']}")
    if result["dags"] != case.expect_dags:
        problems.append(f"{result['dags']} DAGs instead of {case.expect_dags}")
    if result["tasks"] != case.expect_tasks:
        problems.append(f"{result['tasks']} Airflow tasks instead of {case.expect_tasks}")
    if case.dag_id and result["dag_ids"] != [case.dag_id]:
        problems.append(f"built {result['dag_ids']} instead of only {case.dag_id}")
    if problems:
        raise AssertionError(f"{case.label}: " + "; ".join(problems))


VERIFY_TASKS = 25
VERIFY_ORCHESTRATIONS = 5  # one of each variant, 5 steps each: every task of the small workload is in a chain


def verify(root: Path, home: Path) -> None:
    """Check on 25 task DAGs and 5 orchestration DAGs that the three cases build the same DAGs, so the
    timings compare like with like.

    The plain and dag-factory cases restate what the loader derives (``output_format``
    mirrors the pydantic model's dump, the step rules and limits what the orchestration
    model resolves); this catches them drifting apart.
    """
    groups = make_specs(VERIFY_TASKS, 5, 2)
    orchestrations = make_orchestrations(groups, VERIFY_ORCHESTRATIONS)
    write_ours(root / "ours", groups, orchestrations)
    write_plain(root / "plain", groups, 2, orchestrations)
    write_dagfactory(root / "dagfactory", groups, orchestrations)
    total = VERIFY_TASKS + VERIFY_ORCHESTRATIONS
    case = Case("verify", "equivalence check", root / "plain" / "dags", total, 0)
    result_path = home / "result_verify.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--verify-child", str(root), "--result", str(result_path)]
    proc = subprocess.run(cmd, env=child_env(home, case), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"equivalence check failed to run\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    result = json.loads(result_path.read_text())
    if result["diffs"] or set(result["dags"].values()) != {total} or result["orchestrations"] != VERIFY_ORCHESTRATIONS:
        raise AssertionError(f"the cases do not build the same DAGs: {result}")
    print(f"equivalence check: the three cases build the same {VERIFY_TASKS} task DAGs and {VERIFY_ORCHESTRATIONS} "
          "orchestration DAGs (task ids, dependencies, operators and arguments)", flush=True)


def orchestration_count(args: argparse.Namespace) -> int:
    """``--orchestrations``, or its default for ``--tasks``."""
    return default_orchestrations(args.tasks) if args.orchestrations is None else args.orchestrations


def build_cases(root: Path, args: argparse.Namespace) -> list[Case]:
    """Write the three DAG folders; the parsing-context cases reuse ours with one DAG id set
    (a task DAG, and an orchestration DAG when there are orchestrations)."""
    groups = make_specs(args.tasks, args.files, args.projects)
    orchestrations = make_orchestrations(groups, orchestration_count(args))
    dags = args.tasks + len(orchestrations)
    tasks = args.tasks * TASKS_PER_DAG + len(orchestrations) * (STEPS_PER_ORCHESTRATION + 1)
    target = groups[len(groups) // 2][0].name
    ours = write_ours(root / "ours", groups, orchestrations)
    plain = write_plain(root / "plain", groups, args.plain_modules, orchestrations)
    cases = [
        Case("plain", "plain Python (floor)", plain, dags, tasks),
        Case("ours", "airflow-batchtasks", ours, dags, tasks),
        Case("dagfactory", "dag-factory 1.1.0", write_dagfactory(root / "dagfactory", groups, orchestrations),
             dags, tasks),
        Case("one", f"airflow-batchtasks, one DAG (`{target}`)", ours, 1, TASKS_PER_DAG, dag_id=target),
    ]
    if orchestrations:
        chain = orchestrations[len(orchestrations) // 2].name
        cases.append(Case("one_orch", f"airflow-batchtasks, one orchestration DAG (`{chain}`)", ours, 1,
                          STEPS_PER_ORCHESTRATION + 1, dag_id=chain))
    if args.per_process:
        shards = args.shards or default_shards(args.tasks)
        sharded = write_ours_sharded(root / "ours_sharded", root / "ours" / "definitions", shards)
        cases.insert(2, Case("sharded", f"airflow-batchtasks, {shards} shard files", sharded, dags, tasks))
        for case in cases:
            case.processes = args.parsing_processes if case.dag_id is None else 0
    cases = [c for c in cases if not args.cases or c.key in args.cases]
    for case in cases:
        case.gc_freeze = not args.no_gc_freeze
    return cases


def measure(cases: list[Case], home: Path, repeat: int, warmup: int) -> None:
    """Round-robin over the cases so drift (thermal, cache, noisy neighbours) hits every case alike.

    Warm-up rounds are discarded: they write the .pyc files of the generated
    modules and Airflow's config, which a real DAG processor has long done.
    """
    for round_no in range(warmup + repeat):
        for case in cases:
            if round_no < warmup and case.key == "dagfactory":
                continue  # no generated Python to compile, and by far the longest case
            result = run_child(case, home)
            check(case, result)
            if round_no >= warmup:
                case.runs.append(result)
            tag = "warm-up" if round_no < warmup else f"run {round_no - warmup + 1}/{repeat}"
            line = f"{result['fill_s']:6.2f} s (CPU {result['cpu_s']:5.2f} s) {result['rss_mb']:5.0f} MB"
            print(f"  {tag:>9}  {case.label:<62} {line}", flush=True)


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base else "-"


def table(cases: dict[str, Case]) -> str:
    """The Markdown table: fill wall seconds (median), ratios to plain and dag-factory, then best, CPU, peak RSS.

    Best and CPU seconds are shown too because wall time on a shared machine
    also measures the neighbours; the ratios use the median wall time, as the targets do.
    """
    plain = cases["plain"].median("fill_s")
    dagf = cases["dagfactory"].median("fill_s")
    base = cases["plain"]
    rows = [
        "| case | seconds (median) | vs plain | vs dag-factory | best s | CPU s (median) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| `import airflow.sdk` (baseline, not in the rows below) | {base.median('import_s'):.2f} | - | - "
        f"| {base.best('import_s'):.2f} | - | {base.median('rss_import_mb'):.0f} |",
    ]
    for case in cases.values():
        fill = case.median("fill_s")
        rows.append(
            f"| {case.label} | {fill:.2f} | {ratio(fill, plain)} | {ratio(fill, dagf)} | {case.best('fill_s'):.2f} "
            f"| {case.median('cpu_s'):.2f} | {case.median('rss_mb'):.0f} |"
        )
    return "\n".join(rows)


def per_process_table(cases: dict[str, Case]) -> str:
    """The dag-processor view: total CPU of all parsers, wall time with N parsers, the slowest unit, RSS."""
    plain = cases["plain"].median("cpu_s") if "plain" in cases else 0.0
    rows = [
        "| case | parse units | total CPU s | vs plain (CPU) | wall s, "
        f"{next(iter(cases.values())).processes or '-'} parsers | slowest unit s (CPU) | peak RSS of one parser MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases.values():
        if not case.processes:
            continue
        rows.append(
            f"| {case.label} | {case.runs[0]['units']} | {case.median('cpu_s'):.1f} | "
            f"{ratio(case.median('cpu_s'), plain)} | {case.median('fill_s'):.1f} | "
            f"{case.median('max_unit_s'):.2f} ({case.median('max_unit_cpu_s'):.2f}) | {case.median('rss_mb'):.0f} |"
        )
    for key in ("one", "one_orch"):
        if key in cases and "sharded" in cases:
            one = cases[key]
            rows.append(f"| {one.label} (one fill, not forked) | 1 | {one.median('cpu_s'):.2f} | "
                        f"{one.median('cpu_s') / cases['sharded'].median('cpu_s'):.1%} of the sharded total | "
                        f"{one.median('fill_s'):.2f} | - | {one.median('rss_mb'):.0f} |")
    return "\n".join(rows)


def per_process_targets(cases: dict[str, Case]) -> str:
    """The scale-out commitments of the sharded loader."""
    if "sharded" not in cases or "plain" not in cases:
        return "(targets need the plain and sharded cases)"
    sharded, plain = cases["sharded"], cases["plain"]
    cpu = sharded.median("cpu_s") / plain.median("cpu_s")
    rss = sharded.median("rss_mb") / plain.median("rss_mb")
    # judged on CPU: on a quiet machine a parser's wall time is its CPU time, on a shared one the
    # neighbours' share; the wall time is shown beside it
    slowest, slowest_cpu = sharded.median("max_unit_s"), sharded.median("max_unit_cpu_s")
    checks = [
        (cpu <= MAX_VS_PLAIN, f"total parse CPU ≤ {MAX_VS_PLAIN}× plain Python: {cpu:.2f}×"),
        (slowest_cpu <= MAX_UNIT_S, f"no parse unit over {MAX_UNIT_S:.0f} s of CPU: slowest "
                                    f"{slowest_cpu:.2f} s CPU ({slowest:.2f} s wall on this machine's load)"),
        (rss <= MAX_RSS_VS_PLAIN, f"peak RSS per parser ≤ {MAX_RSS_VS_PLAIN:.2f}× plain's: "
                                  f"{sharded.median('rss_mb'):.0f} / {plain.median('rss_mb'):.0f} MB = {rss:.2f}×"),
    ]
    for key, what in (("one", "one DAG"), ("one_orch", "one orchestration DAG")):
        if key in cases:
            share = cases[key].median("cpu_s") / sharded.median("cpu_s")
            checks.append((share <= MAX_ONE_DAG_SHARE,
                           f"{what} ≤ {MAX_ONE_DAG_SHARE:.0%} of the full parse: {share:.1%}"))
    return "\n".join(f"- {'PASS' if ok else 'MISS'} {what}" for ok, what in checks)


def ratios(top: Case, bottom: Case) -> tuple[float, float, float]:
    """``top / bottom`` of the fill: median wall time, best wall time, median CPU time."""
    return (
        top.median("fill_s") / bottom.median("fill_s"),
        top.best("fill_s") / bottom.best("fill_s"),
        top.median("cpu_s") / bottom.median("cpu_s"),
    )


def targets(cases: dict[str, Case]) -> str:
    """The three commitments, judged on the median wall time; best and CPU ratios alongside."""
    vs_plain = ratios(cases["ours"], cases["plain"])
    speedup = ratios(cases["dagfactory"], cases["ours"])
    share = ratios(cases["one"], cases["ours"])
    checks = [
        (vs_plain[0] <= MAX_VS_PLAIN, f"ours ≤ {MAX_VS_PLAIN}× plain Python", "{:.2f}×", vs_plain),
        (speedup[0] >= MIN_SPEEDUP_VS_DAGFACTORY, "ours ≥ 2× faster than dag-factory", "{:.2f}× faster", speedup),
        (share[0] <= MAX_ONE_DAG_SHARE, f"one DAG ≤ {MAX_ONE_DAG_SHARE:.0%} of the full parse", "{:.1%}", share),
    ]
    if "one_orch" in cases:
        chain = ratios(cases["one_orch"], cases["ours"])
        checks.append((chain[0] <= MAX_ONE_DAG_SHARE,
                       f"one orchestration DAG ≤ {MAX_ONE_DAG_SHARE:.0%} of the full parse", "{:.1%}", chain))
    lines = []
    for ok, what, fmt, (median, best, cpu) in checks:
        shown = f"{fmt.format(median)} (best {fmt.format(best)}, CPU {fmt.format(cpu)})"
        lines.append(f"- {'PASS' if ok else 'MISS'} {what}: {shown}")
    return "\n".join(lines)


def report(cases: list[Case], args: argparse.Namespace) -> None:
    by_key = {c.key: c for c in cases}
    print(
        f"\n{args.tasks} DAGs × {TASKS_PER_DAG} tasks + {orchestration_count(args)} orchestration DAGs × "
        f"{STEPS_PER_ORCHESTRATION} steps + report, {args.files} YAML files, {args.projects} projects; "
        f"median of {args.repeat} run(s), each in a fresh interpreter; seconds = wall time of the DagBag fill; "
        f"gc.freeze() before the fill: {'no' if args.no_gc_freeze else 'yes (as the DAG processor does)'}.\n"
    )
    if args.per_process:
        print(per_process_table(by_key))
        print("\nTargets:\n" + per_process_targets(by_key))
    else:
        print(table(by_key))
        print("\nTargets:\n" + targets(by_key))
    print(f"\n({REFERENCE})")
    for case in cases:
        runs = ", ".join(f"{r['fill_s']:.2f}" for r in case.runs)
        print(f"  wall runs of {case.label}: {runs}")
    print(f"  1-min load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s)")
    noisy = [c.label for c in cases if c.spread() > NOISY_SPREAD]
    if noisy:
        print(
            f"  warning: runs of {', '.join(noisy)} differ by more than {NOISY_SPREAD}×: the machine is busy; "
            "trust the best and CPU columns, or rerun with a higher --repeat"
        )


def profile(cases: list[Case], key: str, home: Path, top: int) -> None:
    """One extra child under cProfile; prints the hottest calls overall and in airflow_batchtasks."""
    import pstats

    case = next((c for c in cases if c.key == key), None)
    if case is None:  # one_orch without orchestrations, or a case left out by --cases
        print(f"\n(no {key} case in this run: nothing to profile)")
        return
    out = home / f"profile_{key}.pstats"
    run_child(case, home, profile_path=out)
    print(f"\n### cProfile of the DagBag fill: {case.label} (stats kept in {out})\n")
    stats = pstats.Stats(str(out))
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("cumulative").print_stats("airflow_batchtasks", top)
    stats.sort_stats("tottime").print_stats(top)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per case (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds before measuring")
    parser.add_argument("--tasks", type=int, default=1000, help="DAGs per case")
    parser.add_argument("--files", type=int, default=100, help="YAML files the tasks are spread over")
    parser.add_argument("--projects", type=int, default=5, help="projects the files belong to")
    parser.add_argument("--orchestrations", type=int,
                        help=f"orchestrations of {STEPS_PER_ORCHESTRATION} different tasks each "
                             f"(default: {ORCHESTRATIONS_PER_1000_TASKS} per 1,000 tasks, so 20 at 10,000)")
    parser.add_argument("--plain-modules", type=int, default=10, help=".py files of the plain Python case")
    parser.add_argument("--profile", choices=["plain", "ours", "dagfactory", "one", "one_orch"],
                        help="also cProfile this case")
    parser.add_argument("--top", type=int, default=30, help="rows per cProfile listing")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders and print where")
    parser.add_argument("--no-verify", action="store_true", help="skip the equivalence check of the three cases")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="do not gc.freeze() the imported heap before the fill (Airflow's DAG processor does freeze it)",
    )
    parser.add_argument("--per-process", action="store_true",
                        help="parse file by file in forked parsers, as the dag-processor does; adds the sharded loader")
    parser.add_argument("--parsing-processes", type=int, default=2, help="parsers at a time with --per-process")
    parser.add_argument("--shards", type=int, help="shard files of the sharded case (default: what init picks)")
    parser.add_argument("--cases", nargs="+", choices=["plain", "ours", "sharded", "dagfactory", "one", "one_orch"],
                        help="only these cases (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--processes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--gc-freeze", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--verify-child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child and args.processes:
        per_process_child(args.child, args.result, args.processes)
        return
    if args.child:
        child(args.child, args.result, args.profile_out, args.gc_freeze)
        return
    if args.verify_child:
        verify_child(args.verify_child, args.result)
        return
    root = Path(tempfile.mkdtemp(prefix="batchtasks-parse-cost-"))
    home = root / "airflow_home"
    home.mkdir()
    try:
        if not args.no_verify:
            verify(root / "verify", home)
        cases = build_cases(root, args)
        print(f"generated under {root}; measuring...", flush=True)
        measure(cases, home, args.repeat, args.warmup)
        report(cases, args)
        if args.profile:
            profile(cases, args.profile, home, args.top)
    finally:
        if args.keep:
            print(f"\nkept {root}")
        else:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
