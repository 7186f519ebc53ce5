"""Memority orchestration XML to orchestration YAML: each mapping rule, the messages, and hostile input.

Every converted document is loaded with the project's own loader (catalog) next to task definitions of
the names its steps run, so "validates" means what `airflow batchtasks validate` means.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from datetime import time as local_time
from pathlib import Path

import pytest

from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.importers.memority import ImportResult, convert_file, convert_tree, safe_name
from airflow_batchtasks.importers.safe_xml import MAX_DEPTH, XmlError, parse_xml

UTC = timezone.utc  # datetime.UTC is 3.11+; the unit tests also run on Python 3.10
FIXTURES = Path(__file__).parent / "fixtures"
NS = 'xmlns:dmn="http://www.memority.com/domino_sync/1_0"'


def definition(body: str, steps: str | None = None, identifier: str = "orch") -> bytes:
    """A Memority definition; ``steps`` default: one plain step running task ``t1``."""
    steps = steps if steps is not None else "<orchestratedTask><taskId>t1</taskId></orchestratedTask>"
    return (f'<?xml version="1.0"?>\n<dmn:OrchestrationTaskDefinition {NS} id="{identifier}">\n{body}\n'
            f"<orchestratedTasks>\n{steps}\n</orchestratedTasks>\n</dmn:OrchestrationTaskDefinition>\n").encode()


def convert(data: bytes) -> ImportResult:
    return convert_tree(parse_xml(data, "in.xml"), "in.xml")


def load(result: ImportResult, folder: Path):
    """Write the converted files and stub tasks for their steps; load them with the project's loader."""
    folder.mkdir(exist_ok=True)
    tasks = sorted({t for o in result.orchestrations for t in o.tasks})
    for orchestration in result.orchestrations:
        (folder / orchestration.file_name).write_text(orchestration.text)
    (folder / "tasks.yaml").write_text("---\n".join(
        f"kind: task\nname: {t}\nsource: {{type: sql, conn_id: db, query: select 1}}\n" for t in tasks))
    catalog = load_catalog(folder)
    assert catalog.errors == []
    return {name: entry.model for name, entry in catalog.orchestrations.items()}


def warnings(converted) -> list:
    """What a run would do differently (notes, such as taskType having no key, are left out)."""
    return [m for m in converted.messages if m.level == "warning"]


def only(data: bytes, tmp_path: Path):
    result = convert(data)
    [model] = load(result, tmp_path / "defs").values()
    return model, result.orchestrations[0]


# -- the sample ---------------------------------------------------------------------------------


def test_the_sample_definition_converts_to_an_orchestration_that_loads(tmp_path: Path) -> None:
    result = convert_file(FIXTURES / "sample.xml")

    models = load(result, tmp_path / "defs")

    orch = models["sample_orchestration_task"]
    assert orch.description == "Description of Sample Orchestration Task"
    assert orch.active is True
    assert orch.timezone == "UTC"
    assert orch.execution_time_limit == local_time(12, 12)
    assert orch.execution_duration_limit is None
    assert orch.schedule.once == datetime(2020, 5, 18, 10, 12, 39, 527000, tzinfo=UTC)
    assert [(s.task, s.starts_after, s.timezone, s.run_on_parent_failure) for s in orch.steps] == [
        ("test_exportTaskId", local_time(12, 13), "UTC", True),
        ("test_importTaskId", local_time(12, 13), "UTC", False),
    ]
    [converted] = result.orchestrations
    assert converted.file_name == "sample_orchestration_task.yaml"
    assert "# Memority name: Sample Orchestration Task" in converted.text
    assert "must exist as a task definition (kind: task)" in converted.text
    # taskType has no equivalent: said for each step, with its line
    assert [(m.line, m.element) for m in converted.messages if "taskType" in m.element] == [
        (14, "orchestratedTasks/orchestratedTask[1]/taskType"),
        (23, "orchestratedTasks/orchestratedTask[2]/taskType"),
    ]


def test_a_root_holding_several_definitions(tmp_path: Path) -> None:
    result = convert_file(FIXTURES / "export_many.xml")

    models = load(result, tmp_path / "defs")

    assert sorted(models) == ["nightly_identity_sync", "weekly_reconciliation"]
    nightly = models["nightly_identity_sync"]
    assert nightly.active is False
    assert nightly.timezone == "Europe/Paris"
    assert nightly.schedule == "0 1 * * MON-FRI"
    assert nightly.execution_duration_limit == timedelta(hours=4, minutes=30)
    # a step's time without a zone is UTC in Memority, whatever the orchestration's zone
    assert (nightly.steps[1].starts_after, nightly.steps[1].timezone) == (local_time(3, 30), "UTC")
    weekly = models["weekly_reconciliation"]
    assert weekly.schedule is None  # `L` (last day of the month) has no cron equivalent
    assert weekly.steps[0].timezone == "America/New_York"
    rendered = [m.render("x.xml") for m in result.messages]
    assert rendered == ["x.xml:53: warning: SynchronizationTaskDefinition: not an OrchestrationTaskDefinition: "
                        "not converted"]
    assert not result.failed


# -- each rule ----------------------------------------------------------------------------------


def test_a_step_without_condition_writes_run_on_parent_failure_false_and_says_why(tmp_path: Path) -> None:
    model, converted = only(definition(""), tmp_path)

    assert model.steps[0].run_on_parent_failure is False
    lines = converted.text.splitlines()
    at = lines.index("    run_on_parent_failure: false")
    comment = " ".join(line.strip("# ") for line in lines[:at] if line.startswith("    #"))
    assert "No taskExecutionCondition" in comment
    assert "will always run" in comment and "orchestration process stops" in comment
    assert any("no taskExecutionCondition" in m.text for m in converted.messages)


@pytest.mark.parametrize(("condition", "expected"), [
    ("<taskExecutionCondition><executeOnParentTaskFailure>true</executeOnParentTaskFailure>"
     "</taskExecutionCondition>", True),
    ("<taskExecutionCondition><executeOnParentTaskFailure>false</executeOnParentTaskFailure>"
     "</taskExecutionCondition>", False),
    ("<taskExecutionCondition/>", False),
])
def test_execute_on_parent_task_failure(condition: str, expected: bool, tmp_path: Path) -> None:
    steps = f"<orchestratedTask><taskId>a</taskId></orchestratedTask><orchestratedTask><taskId>b</taskId>" \
            f"{condition}</orchestratedTask>"

    model, converted = only(definition("", steps), tmp_path)

    assert model.steps[1].run_on_parent_failure is expected
    assert converted.text.count("\n    run_on_parent_failure: ") == 2  # always written out


def test_limits_time_zone_and_active(tmp_path: Path) -> None:
    model, _ = only(definition("<active>false</active><executionTimeLimit>03:00:00</executionTimeLimit>"
                               "<timeZone>Europe/Paris</timeZone>"), tmp_path)

    assert model.active is False
    assert model.execution_time_limit == local_time(3, 0)
    assert model.timezone == "Europe/Paris"


def test_both_limits_keep_the_time_limit_and_say_so(tmp_path: Path) -> None:
    model, converted = only(definition("<executionTimeLimit>03:00</executionTimeLimit>\n"
                                       "<executionDurationLimit>PT4H</executionDurationLimit>"), tmp_path)

    assert (model.execution_time_limit, model.execution_duration_limit) == (local_time(3, 0), None)
    assert [(m.line, m.element) for m in warnings(converted)] == [(4, "executionDurationLimit")]


@pytest.mark.parametrize(("quartz", "cron"), [
    ("0 0 1 * * ?", "0 1 * * *"),
    ("0 30 2 ? * MON-FRI", "30 2 * * MON-FRI"),
    ("0 0 6 ? * 2,4,6", "0 6 * * 1,3,5"),  # Quartz weekdays count from 1 = Sunday
    ("0 0/15 * * * ?", "0-59/15 * * * *"),
    ("0 0 12 1 1/3 ? *", "0 12 1 1-12/3 *"),
])
def test_quartz_cron_schedules(quartz: str, cron: str, tmp_path: Path) -> None:
    plan = f"<executionPlan><scheduleType>CRON</scheduleType><cronExpression>{quartz}</cronExpression></executionPlan>"

    model, converted = only(definition(plan), tmp_path)

    assert model.schedule == cron
    assert warnings(converted) == []


@pytest.mark.parametrize(("quartz", "reason"), [
    ("*/10 * * * * ?", "more than once a minute"),
    ("0 0 12 ? * 6L", "no cron equivalent"),
    ("0 0 12 ? * 2#1", "no cron equivalent"),
    ("0 0 12 * * ? 2030", "year field"),
    ("0 0 25 * * ?", "not valid cron"),
    ("every day", "6 or 7"),
])
def test_quartz_cron_without_equivalent_is_reported_and_not_scheduled(quartz: str, reason: str,
                                                                      tmp_path: Path) -> None:
    plan = (f"<executionPlan>\n<scheduleType>CRON</scheduleType>\n<cronExpression>{quartz}</cronExpression>\n"
            "</executionPlan>")

    model, converted = only(definition(plan), tmp_path)

    assert model.schedule is None
    [message] = warnings(converted)
    assert (message.line, message.element) == (5, "executionPlan/cronExpression")
    assert reason in message.text


def test_seconds_of_a_quartz_cron_are_dropped_with_a_warning(tmp_path: Path) -> None:
    plan = "<executionPlan><cronExpression>30 0 1 * * ?</cronExpression></executionPlan>"

    model, converted = only(definition(plan), tmp_path)

    assert model.schedule == "0 1 * * *"
    assert "seconds field `30` is dropped" in warnings(converted)[0].text


def test_an_interval_plan_is_reported(tmp_path: Path) -> None:
    plan = "<executionPlan><scheduleType>PERIODIC</scheduleType><interval>3600</interval></executionPlan>"

    model, converted = only(definition(plan), tmp_path)

    assert model.schedule is None
    assert "`PERIODIC` with interval `3600`" in warnings(converted)[0].text


def test_no_plan_is_no_schedule(tmp_path: Path) -> None:
    model, _ = only(definition(""), tmp_path)

    assert model.schedule is None


@pytest.mark.parametrize(("code", "zone"), [("GMT+2", "Etc/GMT-2"), ("UTC-05:00", "Etc/GMT+5"), ("Z", "UTC"),
                                            ("Asia/Tokyo", "Asia/Tokyo")])
def test_java_time_zone_codes(code: str, zone: str, tmp_path: Path) -> None:
    model, _ = only(definition(f"<timeZone>{code}</timeZone>"), tmp_path)

    assert model.timezone == zone


@pytest.mark.parametrize(("xml_id", "name"), [("nightly sync/v2", "nightly_sync_v2"), ("-x", "_-x"),
                                              ("project__a", "orchestration_project__a"), ("ok.name-1", "ok.name-1")])
def test_ids_become_safe_dag_ids(xml_id: str, name: str) -> None:
    assert safe_name(xml_id) == name


def test_unmappable_elements_are_listed_with_their_lines(tmp_path: Path) -> None:
    body = ("<active>maybe</active>\n<executionTimeLimit>25:00</executionTimeLimit>\n"
            "<executionDurationLimit>P1Y</executionDurationLimit>\n<owner>ops</owner>")
    steps = ("<orchestratedTask>\n<taskId>t1</taskId>\n<retries>3</retries>\n<taskStartsAfter>noon</taskStartsAfter>"
             "\n</orchestratedTask>\n<chainedTask/>")

    model, converted = only(definition(body, steps), tmp_path)

    assert (model.active, model.execution_time_limit, model.execution_duration_limit) == (True, None, None)
    found = [(m.line, m.element) for m in warnings(converted)]
    assert found == [
        (3, "active"), (4, "executionTimeLimit"), (5, "executionDurationLimit"), (6, "owner"),
        (10, "orchestratedTasks/orchestratedTask[1]/retries"),
        (11, "orchestratedTasks/orchestratedTask[1]/taskStartsAfter"),
        (13, "orchestratedTasks/chainedTask[2]"),
    ]
    for line, element in found:  # the reviewer of the YAML reads them too
        assert f"#   line {line}: warning: {element}:" in converted.text


def test_definitions_that_cannot_be_converted_are_errors() -> None:
    no_id = definition("").replace(b' id="orch"', b"")
    no_steps = definition("", steps="")

    for data in (no_id, no_steps):
        result = convert(data)
        assert result.failed and result.orchestrations == []
        assert result.messages[0].level == "error"
    assert "no `id`" in convert(no_id).messages[0].text
    assert "at least one step" in convert(no_steps).messages[0].text


def test_a_file_without_any_definition() -> None:
    result = convert(b"<other><thing/></other>")

    assert result.failed
    assert [m.render("f") for m in result.messages][-1].startswith("f:1: error: other: no OrchestrationTaskDefinition")


# -- bad and hostile XML --------------------------------------------------------------------------


def test_malformed_xml_says_where() -> None:
    with pytest.raises(XmlError) as info:
        parse_xml(b"<a>\n<b>\n</a>", "bad.xml")

    assert str(info.value) == "bad.xml:3: not well-formed XML: mismatched tag (column 3)"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<dmn:OrchestrationTaskDefinition xmlns:dmn="http://www.memority.com/domino_sync/1_0" id="x">
<name>&lol9;</name></dmn:OrchestrationTaskDefinition>
"""


def test_billion_laughs_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(XmlError) as info:
        parse_xml(BILLION_LAUGHS, "lol.xml")

    assert time.monotonic() - started < 1
    assert info.value.line == 2
    assert "DOCTYPE" in info.value.message and "refused" in info.value.message


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY s SYSTEM "file://{secret}">]>\n'
           f'<dmn:OrchestrationTaskDefinition {NS} id="x"><name>&s;</name></dmn:OrchestrationTaskDefinition>')

    with pytest.raises(XmlError) as info:
        parse_xml(xxe.encode(), "xxe.xml")

    assert "TOP SECRET" not in str(info.value)
    assert "refused" in str(info.value)


def test_deep_nesting_and_huge_files_are_refused(tmp_path: Path) -> None:
    deep = b"<a>" * (MAX_DEPTH + 1) + b"</a>" * (MAX_DEPTH + 1)
    with pytest.raises(XmlError, match="nested deeper"):
        parse_xml(deep, "deep.xml")

    huge = tmp_path / "huge.xml"
    with huge.open("wb") as f:
        f.truncate(11 * 1024 * 1024)
    with pytest.raises(XmlError, match="MB limit"):
        convert_file(huge)


@pytest.mark.parametrize(("fire", "expected", "message"), [
    ("2026-12-01T10:00:00+01:00", datetime(2026, 12, 1, 9, 0, tzinfo=UTC), None),
    ("2026-12-01T10:00:00", datetime(2026, 12, 1, 10, 0), "read in the orchestration's timezone"),
    ("next tuesday", None, "not an ISO-8601 date-time"),
])
def test_once_fire_times(fire: str, expected: datetime | None, message: str | None, tmp_path: Path) -> None:
    plan = f"<executionPlan><scheduleType>ONCE</scheduleType><fireTime>{fire}</fireTime></executionPlan>"

    model, converted = only(definition(plan), tmp_path)

    assert (model.schedule.once if model.schedule else None) == expected
    texts = [m.text for m in converted.messages if m.element == "executionPlan/fireTime"]
    if message is None:
        assert texts == []
    else:
        [text] = texts
        assert message in text


def test_text_is_kept_as_written_whatever_its_characters(tmp_path: Path) -> None:
    text = 'Sync: "users" # not a comment\n\tnext line, été, 日本, {not: a map}, - [x]'
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")

    model, _ = only(definition(f"<description>{escaped}</description>"), tmp_path)

    assert model.description == text


def test_an_orchestration_named_like_one_of_its_tasks_is_warned_about() -> None:
    result = convert(definition("", identifier="t1"))

    assert any(m.element == "id" and "must differ" in m.text for m in result.orchestrations[0].messages)


@pytest.mark.parametrize(("written", "expected", "note"), [
    ("03:00", local_time(3, 0), None),
    ("03:00:15", local_time(3, 0, 15), None),
    ("03:00:00.000", local_time(3, 0), None),
    ("03:00:15.250", local_time(3, 0, 15), "fraction of a second"),
])
def test_iso_local_times(written: str, expected: local_time, note: str | None, tmp_path: Path) -> None:
    model, converted = only(definition(f"<executionTimeLimit>{written}</executionTimeLimit>"), tmp_path)

    assert model.execution_time_limit == expected
    notes = [m.text for m in converted.messages if m.element == "executionTimeLimit"]
    assert notes == [] if note is None else (len(notes) == 1 and note in notes[0])


def test_definitions_grouped_deeper_in_an_export(tmp_path: Path) -> None:
    data = (f'<export {NS}>\n<orchestrationTasks>\n'
            f'<dmn:OrchestrationTaskDefinition id="a"><orchestratedTasks><orchestratedTask><taskId>t1</taskId>'
            f'</orchestratedTask></orchestratedTasks></dmn:OrchestrationTaskDefinition>\n</orchestrationTasks>\n'
            f'<connectors><connector id="ldap"/></connectors>\n</export>').encode()

    result = convert(data)

    assert sorted(load(result, tmp_path / "defs")) == ["a"]
    assert [m.render("e.xml") for m in result.messages] == [
        "e.xml:5: warning: connectors: not an OrchestrationTaskDefinition: not converted"]
