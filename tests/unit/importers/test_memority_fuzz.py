"""Whatever text a Memority file holds in its elements, the import converts it (or reports it): it never
crashes and never produces YAML that fails to load (the converter checks each document it writes)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_batchtasks.importers.memority import convert_tree
from airflow_batchtasks.importers.safe_xml import parse_xml

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150)
# Characters XML 1.0 allows (no other control characters), YAML-special ones included.
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\n\t:#'\"{}[]&*!|>%@`"),
               max_size=40)
FIELDS = ("description", "name", "active", "executionTimeLimit", "executionDurationLimit", "timeZone")
STEP_FIELDS = ("taskId", "taskStartsAfter", "timeZone", "taskType")
QUARTZ = st.lists(st.sampled_from(["0", "00", "30", "*", "?", "1/5", "0-59/15", "MON-FRI", "2,4,6", "L", "2#1", "7",
                                   "JAN", "25", "\n"]), min_size=5, max_size=8).map(" ".join)


@FUZZ
@given(identifier=TEXT.filter(str.strip), top=st.fixed_dictionaries({k: TEXT for k in FIELDS}),
       step=st.fixed_dictionaries({k: TEXT for k in STEP_FIELDS}), flag=TEXT, cron=TEXT | QUARTZ, fire=TEXT)
def test_any_element_text_converts_or_is_reported(identifier, top, step, flag, cron, fire) -> None:
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in top.items())
    steps = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in step.items())
    data = (f'<dmn:OrchestrationTaskDefinition xmlns:dmn="urn:m" id="{escape(identifier, {chr(34): "&quot;"})}">'
            f"{body}<orchestratedTasks><orchestratedTask>{steps}<taskExecutionCondition><executeOnParentTaskFailure>"
            f"{escape(flag)}</executeOnParentTaskFailure></taskExecutionCondition></orchestratedTask>"
            f"<orchestratedTask><taskId>second</taskId></orchestratedTask></orchestratedTasks>"
            f"<executionPlan><cronExpression>{escape(cron)}</cronExpression><fireTime>{escape(fire)}</fireTime>"
            "</executionPlan></dmn:OrchestrationTaskDefinition>")

    result = convert_tree(parse_xml(data.encode(), "f.xml"), "f.xml")  # the converter validates what it makes

    if result.orchestrations:
        assert result.orchestrations[0].tasks[-1] == "second"
    else:
        assert result.failed and result.messages
