"""The list pages' filter forms come from one set of macros (``templates/_filters.html``).

The pages themselves (labels, ids, what a filter does) are tested in a browser by
``tests/e2e/test_runs_view.py``, ``test_audit_e2e.py`` and ``test_ui_browser.py``; this keeps the
markup from being copied into a page again, and renders the macros as a page would.
"""

from __future__ import annotations

import re

import jinja2
import pytest

from airflow_batchtasks.plugins.views.render import STATUS_CLASS, TEMPLATES_DIR

PAGES = ("runs_list.html", "audit.html", "task_list.html")


@pytest.mark.parametrize("page", PAGES)
def test_each_list_page_builds_its_filters_from_the_macros(page: str) -> None:
    text = (TEMPLATES_DIR / page).read_text()
    assert '{% import "_filters.html" as filt with context %}' in text
    assert "{% call filt.form(" in text
    for copied in ('class="filters card"', 'name="limit"', "Apply filters", "Clear filters", 'type="date"'):
        assert copied not in text, f"{page} repeats {copied!r}: use the macros of _filters.html"


def test_the_macros_render_the_controls_a_page_needs() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)
    html = env.from_string(
        '{% import "_filters.html" as filt with context %}'
        '{% call filt.form("/runs", "Filter runs") %}{{ filt.statuses(["New", "Failed"], ["Failed"], {"New": 2}) }}'
        '{{ filt.search("task", "Task contains", "<x>") }}{{ filt.date("from", "From", "2026-01-02") }}'
        '{{ filt.choice("project", "Project", ["p1"], "gone") }}{{ filt.per_page([25, 50], 50) }}{% endcall %}'
    ).render(STATUS_CLASS=STATUS_CLASS)
    html = re.sub(r"\s+", " ", html)
    assert '<form class="filters card" method="get" action="/runs" role="search" aria-label="Filter runs">' in html
    assert 'value="Failed" checked>' in html and 'value="New">' in html
    assert '<span class="count">2</span>' in html and '<span class="count">0</span>' in html
    assert '<label for="f-task">Task contains</label>' in html and 'value="&lt;x&gt;"' in html, "escaped"
    assert 'id="f-from" type="date" name="from" value="2026-01-02"' in html
    assert "<option selected>gone</option>" in html, "a chosen value no longer offered stays chosen"
    assert "<option selected>50</option>" in html
    assert '<a class="button" href="/runs">Clear filters</a>' in html
