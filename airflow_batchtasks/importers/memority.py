"""Memority orchestration task definitions (XML) to orchestration definitions (YAML).

Why a converter and not a second definition format: the orchestration YAML is the one format the
loader, the editor and the API check; a migration converts once, shows what it could not carry
over, and the user then owns plain YAML. Every XML element the converter cannot carry over exactly
becomes a :class:`Message` with its line (printed by the command) *and* a comment in the YAML (so
the reviewer of the file sees it too). Each produced document is checked with the project's own
validator before it is returned: the importer never writes a definition that fails to load.

The mapping (also in the docs' "Migrating from Memority" section):

========================================  =====================================================
Memority                                  orchestration YAML
========================================  =====================================================
``id`` (attribute)                        ``name`` (the DAG id; unsafe characters become ``_``)
``name`` / ``description``                ``description`` (the description, else the name)
``active``                                ``active``
``executionTimeLimit`` + ``timeZone``     ``execution_time_limit`` + ``timezone``
``executionDurationLimit``                ``execution_duration_limit``
``executionPlan`` ONCE + ``fireTime``     ``schedule: {once: ...}``
``executionPlan`` cron (Quartz)           ``schedule: "<5-field cron>"``
``orchestratedTask/taskId``               ``steps[n].task``
``taskStartsAfter`` + ``timeZone``        ``starts_after`` + ``timezone``
``executeOnParentTaskFailure``            ``run_on_parent_failure`` (always written out)
``taskType``                              (none: a step runs the named task, whatever it does)
========================================  =====================================================
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from airflow_batchtasks.definitions.catalog import validate_document
from airflow_batchtasks.definitions.models import Once
from airflow_batchtasks.definitions.timing import check_timezone, parse_duration, parse_local_time
from airflow_batchtasks.definitions.yaml_source import parse_documents
from airflow_batchtasks.importers.quartz_cron import CronNotConvertible, quartz_to_cron
from airflow_batchtasks.importers.safe_xml import Element, read_xml
from airflow_batchtasks.naming import PROJECT_PREFIX

DEFINITION_TAG = "OrchestrationTaskDefinition"
#: Namespaces whose attributes say nothing about the definition (schema locations and the like).
_IGNORED_ATTR = {"schemaLocation", "noNamespaceSchemaLocation"}
_LOCAL_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$")
_GMT_OFFSET = re.compile(r"^(?:GMT|UTC)([+-])(\d{1,2})(?::?(00))?$")
_TOP_FIELDS = {"id", "name", "description", "active", "orchestratedTasks", "executionTimeLimit", "timeZone",
               "executionDurationLimit", "executionPlan"}
_STEP_FIELDS = {"taskId", "taskType", "taskStartsAfter", "timeZone", "taskExecutionCondition"}
_CRON_FIELDS = ("cronExpression", "cron", "expression")
NO_CONDITION_COMMENT = (
    "No taskExecutionCondition in the Memority XML, and Memority's own text disagrees on what that\n"
    "means: its property table says the task \"will always run, even if the execution of its parent\n"
    "task failed\"; its prose says \"if the parent task execution fails with such a fatal error, the\n"
    "orchestration process stops\". The importer keeps this format's default (false: a failed previous\n"
    "step stops the chain) and writes it out so the choice is visible: set true for the other reading."
)


@dataclass(frozen=True)
class Message:
    """Something the converter could not carry over exactly: where (line, element path) and what."""

    line: int
    element: str
    text: str
    level: str = "warning"  # "note": nothing lost that changes a run; "warning": it does; "error": not converted

    def render(self, file: str) -> str:
        return f"{file}:{self.line}: {self.level}: {self.element}: {self.text}"


@dataclass
class Converted:
    """One orchestration definition: its name, the file name to write, the YAML text, its messages."""

    name: str
    file_name: str
    text: str
    line: int
    tasks: list[str]
    messages: list[Message] = field(default_factory=list)


@dataclass
class ImportResult:
    """What one XML file gave: the converted orchestrations, and messages about the file itself
    (definitions that could not be converted, elements that are not definitions)."""

    orchestrations: list[Converted] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(m.level == "error" for m in self.messages) or not self.orchestrations


def convert_file(path: Path) -> ImportResult:
    """Read and convert ``path``; raises :class:`~airflow_batchtasks.importers.safe_xml.XmlError` on bad XML."""
    return convert_tree(read_xml(path), str(path))


def convert_tree(root: Element, file: str) -> ImportResult:
    """Convert the orchestration definitions of a parsed document (the root, or those it holds)."""
    result = ImportResult()
    definitions = _definitions(root)
    if root.tag != DEFINITION_TAG:  # an export: say which of its parts hold no definition
        for child in root.children:
            if not _definitions(child):
                result.messages.append(Message(child.line, child.tag, f"not an {DEFINITION_TAG}: not converted"))
    if not definitions:
        result.messages.append(Message(root.line, root.tag, f"no {DEFINITION_TAG} element found: the root must "
                                       "be one, or hold them", "error"))
    names: dict[str, int] = {}
    for element in definitions:
        converted = _Converter(element, file).convert()
        if isinstance(converted, Message):
            result.messages.append(converted)
            continue
        if converted.name in names:
            result.messages.append(Message(element.line, DEFINITION_TAG, f"`{converted.name}` is already the "
                                           f"name of the definition at line {names[converted.name]}: not "
                                           "converted", "error"))
            continue
        names[converted.name] = element.line
        result.orchestrations.append(converted)
    return result


def _definitions(element: Element) -> list[Element]:
    """The definitions in ``element``, at any depth (exports group them), in document order."""
    if element.tag == DEFINITION_TAG:
        return [element]
    return [found for child in element.children for found in _definitions(child)]


def safe_name(identifier: str) -> str:
    """A definition name (DAG id) from a Memority id: unsafe characters become ``_``, at most 200 characters."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", identifier.strip())
    if not name or not re.match(r"[A-Za-z0-9_]", name[0]):
        name = "_" + name
    if name.startswith(PROJECT_PREFIX):  # reserved for project DAGs
        name = "orchestration_" + name
    return name[:200]


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML ones), so no value is read as another type."""
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in text.splitlines()]


class _Converter:
    """One ``OrchestrationTaskDefinition`` element to one YAML document, collecting messages."""

    def __init__(self, element: Element, file: str):
        self.element = element
        self.file = file
        self.messages: list[Message] = []

    def note(self, element: Element, path: str, text: str, level: str = "warning") -> None:
        self.messages.append(Message(element.line, path, text, level))

    # -- values ------------------------------------------------------------------------------------

    def boolean(self, element: Element, path: str, default: bool) -> bool:
        text = element.text.lower()
        if text in ("true", "false"):
            return text == "true"
        self.note(element, path, f"`{element.text}` is not true or false: {str(default).lower()} is used")
        return default

    def local_time(self, element: Element, path: str) -> str | None:
        """``HH:mm[:ss[.SSS]]`` (ISO-8601 local time, as Java writes it) as ``HH:MM`` or ``HH:MM:SS``."""
        m = _LOCAL_TIME.match(element.text)
        text, fraction = None, None
        if m:
            hours, minutes, seconds, fraction = m.groups()
            text = f"{hours}:{minutes}" + (f":{seconds}" if seconds and seconds != "00" else "")
            try:
                parse_local_time(text)
            except ValueError:  # 25:00, 12:60
                text = None
        if text is None:
            self.note(element, path, f"`{element.text}` is not an ISO-8601 local time (HH:mm[:ss]): not mapped")
        elif fraction and int(fraction):
            self.note(element, path, f"the fraction of a second of `{element.text}` is dropped", "note")
        return text

    def timezone(self, element: Element | None, path: str) -> str:
        """An IANA zone for a Java time zone code; Memority's default UTC when absent or unknown."""
        if element is None:
            return "UTC"
        code = element.text
        if code in ("Z", "GMT", "UTC"):
            return "UTC"
        if m := _GMT_OFFSET.match(code):
            hours = int(m.group(2))
            if hours == 0:
                return "UTC"
            if hours <= 12:
                # Etc/GMT zones count the other way round: GMT+2 is Etc/GMT-2
                zone = f"Etc/GMT{'-' if m.group(1) == '+' else '+'}{hours}"
                self.note(element, path, f"`{code}` becomes `{zone}` (a fixed offset, no daylight saving)", "note")
                return zone
        try:
            return check_timezone(code)
        except ValueError as exc:
            self.note(element, path, f"{exc}: UTC (Memority's default) is used")
            return "UTC"

    def duration(self, element: Element, path: str) -> str | None:
        text = element.text.upper()
        try:
            if not text.startswith("P"):
                raise ValueError
            parse_duration(text)
        except ValueError:
            self.note(element, path, f"`{element.text}` is not an ISO-8601 duration this format reads (PnDTnHnMnS, "
                                     "no years or months, not negative): not mapped")
            return None
        return text

    # -- the definition ----------------------------------------------------------------------------

    def convert(self) -> Converted | Message:
        root = self.element
        identifier = root.attrs.get("id") or (root.find("id").text if root.find("id") is not None else "")
        if not identifier:
            return Message(root.line, DEFINITION_TAG, "no `id` (attribute or element): not converted", "error")
        name = safe_name(identifier)
        if name != identifier:
            self.note(root, "id", f"`{identifier}` is not a valid DAG id: the orchestration is named `{name}`")
        for attr in root.attrs:
            if attr not in ("id", *_IGNORED_ATTR):
                self.note(root, f"@{attr}", "attribute not mapped")
        seen: set[str] = set()
        for child in root.children:
            if child.tag not in _TOP_FIELDS:
                self.note(child, child.tag, "element not mapped (unknown to the importer)")
            elif child.tag in seen:
                self.note(child, child.tag, "repeated: only the first one is used")
            seen.add(child.tag)

        lines: list[str] = ["kind: orchestration", f"name: {_q(name)}"]
        display, description = root.find("name"), root.find("description")
        text = description.text if description is not None and description.text else (display.text if display else "")
        if display is not None and description is not None and description.text and display.text != description.text:
            lines += _comment(f"Memority name: {display.text}")
            self.note(display, "name", "the display name has no key of its own: the description is used, the "
                                       "name is kept as a comment", "note")
        if text:
            lines.append(f"description: {_q(text)}")
        active = root.find("active")
        lines.append(f"active: {str(self.boolean(active, 'active', True) if active else True).lower()}")
        lines += self.schedule(root.find("executionPlan"))
        lines.append(f"timezone: {_q(self.timezone(root.find('timeZone'), 'timeZone'))}")
        lines += self.limits(root)
        tasks, step_lines = self.steps(root.find("orchestratedTasks"))
        if not tasks:
            return Message(root.line, "orchestratedTasks", f"`{identifier}`: no orchestrated task with a taskId "
                                                           "(an orchestration needs at least one step): not converted",
                           "error")
        lines += step_lines
        if name in tasks:
            self.note(root, "id", f"`{name}` is also the name of a task its steps run: task and orchestration "
                                  "names are both DAG ids and must differ; rename one before loading")
        header = [
            f"Imported from Memority OrchestrationTaskDefinition `{identifier}`",
            f"({Path(self.file).name}, line {root.line}) by `airflow batchtasks import memority`.",
            "Each step's task must exist as a task definition (kind: task) of that name before this loads:",
            f"  {', '.join(dict.fromkeys(tasks))}",
            "(`airflow batchtasks validate` reports each one that is missing).",
        ]
        self.messages.sort(key=lambda m: m.line)
        if self.messages:
            header.append("Not carried over exactly (also printed by the import):")
            header += [f"  line {m.line}: {m.level}: {m.element}: {m.text}" for m in self.messages]
        yaml_text = "\n".join(_comment("\n".join(header)) + lines) + "\n"
        self.check(yaml_text)
        return Converted(name, f"{name}.yaml", yaml_text, root.line, tasks, self.messages)

    def check(self, yaml_text: str) -> None:
        """The project's own validator on the produced document: a failure is a bug of this converter."""
        docs, errors = parse_documents(yaml_text, self.file)
        model = None
        if docs and not errors:
            model, errors = validate_document(docs[0])
        if model is None or len(docs) != 1:
            raise AssertionError("the importer produced an invalid definition: "
                                 + "; ".join(str(e) for e in errors) + "\n" + yaml_text)

    def schedule(self, plan: Element | None) -> list[str]:
        if plan is None:
            return ["schedule: none  # no executionPlan: launched on demand only"]
        kind_el = plan.find("scheduleType")
        kind = kind_el.text.upper() if kind_el is not None else ""
        fire, interval = plan.find("fireTime"), plan.find("interval")
        cron_el = next((c for c in plan.children if c.tag in _CRON_FIELDS), None)
        known = {"scheduleType", "fireTime", "interval", *_CRON_FIELDS}
        for child in plan.children:
            if child.tag not in known:
                self.note(child, f"executionPlan/{child.tag}", "element not mapped (unknown to the importer)")
        if kind == "ONCE":
            if interval is not None and interval.text not in ("", "0"):
                self.note(interval, "executionPlan/interval", f"interval `{interval.text}` of a ONCE plan is ignored")
            if fire is None or not fire.text:
                self.note(plan, "executionPlan", "ONCE without a fireTime: no schedule")
                return ["schedule: none"]
            try:  # the model's own parser: what it accepts here, the loader accepts
                when = Once.model_validate({"once": fire.text}).once
            except ValidationError:
                self.note(fire, "executionPlan/fireTime", f"`{fire.text}` is not an ISO-8601 date-time: no schedule")
                return ["schedule: none"]
            if when.tzinfo is None:
                self.note(fire, "executionPlan/fireTime", "no offset in the fire time: it is read in the "
                                                          "orchestration's timezone", "note")
            return [f"schedule: {{once: {_q(fire.text)}}}"]
        if cron_el is not None and cron_el.text:
            path = f"executionPlan/{cron_el.tag}"
            try:
                cron, notes = quartz_to_cron(cron_el.text)
            except (CronNotConvertible, ValueError) as exc:
                self.note(cron_el, path, f"{exc}: no schedule (write one by hand)")
                return [f"schedule: none  # Memority cron {_q(cron_el.text)} could not be converted"]
            for text in notes:
                self.note(cron_el, path, text)
            if fire is not None:
                self.note(fire, "executionPlan/fireTime", "the first fire time of a cron plan is not kept: the "
                                                          "schedule starts when the DAG is first unpaused", "note")
            return [f"schedule: {_q(cron)}  # Memority (Quartz) cron: {' '.join(cron_el.text.split())}"]
        where = kind_el or plan
        self.note(where, "executionPlan/scheduleType", f"schedule type `{kind or '(none)'}` "
                  + (f"with interval `{interval.text}` " if interval is not None else "")
                  + "has no cron equivalent the importer can be sure of: no schedule (write one by hand)")
        return ["schedule: none"]

    def limits(self, root: Element) -> list[str]:
        time_el, duration_el = root.find("executionTimeLimit"), root.find("executionDurationLimit")
        limit = self.local_time(time_el, "executionTimeLimit") if time_el is not None else None
        duration = self.duration(duration_el, "executionDurationLimit") if duration_el is not None else None
        if limit and duration:
            self.note(duration_el, "executionDurationLimit", "both limits are set (Memority makes them mutually "
                      "exclusive): the time limit is kept, the duration limit is not mapped")
            duration = None
        lines = []
        if limit:
            lines.append(f"execution_time_limit: {_q(limit)}")
        if duration:
            lines.append(f"execution_duration_limit: {_q(duration)}")
        return lines

    def steps(self, container: Element | None) -> tuple[list[str], list[str]]:
        tasks: list[str] = []
        lines = ["steps:"]
        if container is None:
            return tasks, lines
        for index, step in enumerate(container.children, start=1):
            path = f"orchestratedTasks/{step.tag}[{index}]"
            if step.tag != "orchestratedTask":
                self.note(step, path, "element not mapped (unknown to the importer)")
                continue
            converted = self.step(step, path)
            if converted:
                step_lines, task = converted
                tasks.append(task)
                lines += step_lines
        return tasks, lines

    def step(self, step: Element, path: str) -> tuple[list[str], str] | None:
        seen: set[str] = set()
        for child in step.children:
            if child.tag not in _STEP_FIELDS:
                self.note(child, f"{path}/{child.tag}", "element not mapped (unknown to the importer)")
            elif child.tag in seen:
                self.note(child, f"{path}/{child.tag}", "repeated: only the first one is used")
            seen.add(child.tag)
        task_el = step.find("taskId")
        if task_el is None or not task_el.text:
            self.note(step, path, "no taskId: the step is left out", "error")
            return None
        task = safe_name(task_el.text)
        if task != task_el.text:
            self.note(task_el, f"{path}/taskId", f"`{task_el.text}` is not a valid task name: the step runs `{task}`")
        out = [f"  - task: {_q(task)}"]
        type_el = step.find("taskType")
        if type_el is not None:
            out += _comment(f"Memority taskType {type_el.text}: the task definition says what it does", "    ")
            self.note(type_el, f"{path}/taskType", f"`{type_el.text}` has no equivalent: a step runs the task "
                                                   "definition it names, whatever that task does", "note")
        starts = step.find("taskStartsAfter")
        zone = step.find("timeZone")
        starts_after = self.local_time(starts, f"{path}/taskStartsAfter") if starts is not None else None
        if starts_after:
            out.append(f"    starts_after: {_q(starts_after)}")
        if starts_after and zone is None:
            out += _comment("No timeZone on the step: Memority reads taskStartsAfter in UTC.", "    ")
        if starts_after or zone is not None:
            # Memority reads a step's time in UTC unless it says otherwise; here the default would be
            # the orchestration's zone, so the step's zone is always written out.
            out.append(f"    timezone: {_q(self.timezone(zone, f'{path}/timeZone'))}")
        condition = step.find("taskExecutionCondition")
        flag = condition.find("executeOnParentTaskFailure") if condition is not None else None
        if condition is not None:
            for child in condition.children:
                if child.tag != "executeOnParentTaskFailure":
                    self.note(child, f"{path}/taskExecutionCondition/{child.tag}", "condition not mapped (unknown "
                                                                                    "to the importer)")
        if flag is not None:
            value = self.boolean(flag, f"{path}/taskExecutionCondition/executeOnParentTaskFailure", False)
        else:
            value = False
            if condition is None:
                out += _comment(NO_CONDITION_COMMENT, "    ")
                self.note(step, path, "no taskExecutionCondition (Memority's text disagrees on its meaning): "
                                      "`run_on_parent_failure: false` is written, see the comment", "note")
            else:
                out += _comment("taskExecutionCondition without executeOnParentTaskFailure: false (its default).",
                                "    ")
        out.append(f"    run_on_parent_failure: {str(value).lower()}")
        return out, task
