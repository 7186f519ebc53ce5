"""The YAML editor component (plugins/static/editor.js) in a real browser, without Airflow.

The test writes a small page into its temporary folder, serves it and the real editor.js /
editor.css / ui.css / theme.js from loopback with the pages' own Content-Security-Policy, and
drives Debian's Chromium through Playwright as a user would: completion of keys, enum values,
connection ids and task names from the definitions' JSON Schema and the pickers' lists; hover
help; the server's diagnostics at their line and YAML syntax errors while typing; the
orchestration chain following the text; leaving the editor with the keyboard; light and dark.
Every test also checks the page reported no CSP violation and no script error.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from airflow_batchtasks.definitions.schema import definition_schema
from airflow_batchtasks.plugins.http_guards import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.e2e
expect.set_options(timeout=10_000)

STATIC = Path(__file__).resolve().parents[2] / "airflow_batchtasks" / "plugins" / "static"

#: Runs before anything else on the page: records CSP violations and script errors.
WATCH_JS = """
window.cspViolations = [];
window.scriptErrors = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
window.addEventListener("error", function (e) { window.scriptErrors.push(String(e.message)); });
"""

#: What an authoring page does: mount the editor on its textarea, draw the chain from the text.
PAGE_JS = """
(function () {
  var schema = JSON.parse(document.getElementById("schema").textContent);
  var textarea = document.getElementById("yaml");
  var chainBox = document.getElementById("chain");
  window.changes = [];
  var chain = BatchTasksEditor.chain(chainBox, null);
  function redraw(text) {
    var obj = null;
    try { obj = BatchTasksEditor.yaml.parse(text); } catch (e) { return; }
    if (obj && obj.kind === "orchestration") { chain.update(obj); }
  }
  window.chainHandle = chain;
  window.editor = BatchTasksEditor.mount(textarea, {
    schema: schema,
    completions: {connections: ["shop_db", "vendor_sftp"], tasks: ["extract_sales", "send_report"]},
    onChange: function (text) { window.changes.push(text); redraw(text); }
  });
  redraw(textarea.value);
  window.editorReady = true;
})();
"""

PAGE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>editor test</title>
<link rel="icon" href="data:,">
<script src="/watch.js"></script>
<script src="/static/theme.js"></script>
<link rel="stylesheet" href="/static/ui.css">
<link rel="stylesheet" href="/static/editor.css">
<script src="/static/editor.js"></script>
</head>
<body>
<main>
<button id="before" type="button">Before</button>
<label for="yaml">Definition (YAML)</label>
<textarea id="yaml" name="yaml"></textarea>
<button id="after" type="button">Save</button>
<div id="chain"></div>
</main>
<script type="application/json" id="schema">__SCHEMA__</script>
<script src="/page.js"></script>
</body>
</html>
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, *args: object, files: dict[str, tuple[str, bytes]], **kw: object) -> None:
        self.files = files
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        if path.startswith("/static/"):
            file = STATIC / path.removeprefix("/static/")
            if file.parent != STATIC or not file.is_file():
                self.send_error(404)
                return
            kind = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[file.suffix]
            found = (kind, file.read_bytes())
        elif path in self.files:
            found = self.files[path]
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", found[0] + "; charset=utf-8")
        self.send_header("Content-Length", str(len(found[1])))
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(found[1])

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test page on loopback (written to the module's temporary folder, then served from memory)."""
    folder = tmp_path_factory.mktemp("editor_page")
    schema = json.dumps(definition_schema()).replace("</", "<\\/")
    pages = {"/": PAGE_HTML.replace("__SCHEMA__", schema), "/watch.js": WATCH_JS, "/page.js": PAGE_JS}
    files: dict[str, tuple[str, bytes]] = {}
    for route, text in pages.items():
        name = "index.html" if route == "/" else route.lstrip("/")
        (folder / name).write_text(text)
        files[route] = ("text/html" if route == "/" else "text/javascript", (folder / name).read_bytes())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, files=files))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.goto(site)
    page.wait_for_function("window.editorReady === true")
    yield page
    violations = page.evaluate("window.cspViolations")
    errors = page.evaluate("window.scriptErrors")
    context.close()
    assert violations == [], f"CSP violations: {violations}"
    assert errors == [] and console_errors == [], f"script errors: {errors} {console_errors}"


def _set_text(page: Page, text: str) -> None:
    """Put ``text`` in the editor (as a page would load a definition), cursor at the end."""
    page.evaluate("t => window.editor.setValue(t)", text)
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")


def _options(page: Page) -> list[str]:
    box = page.locator(".cm-tooltip-autocomplete")
    expect(box).to_be_visible()
    page.wait_for_timeout(120)  # CodeMirror ignores Enter in the first 75 ms of a list (a typist's guard)
    return box.locator("li .cm-completionLabel").all_inner_texts()


def _value(page: Page) -> str:
    return page.evaluate("document.getElementById('yaml').value")


def test_schema_completion_with_the_keyboard(page: Page) -> None:
    """Keys and enum values from the schema, connection ids and task names from the pickers' lists."""
    editor = page.locator(".cm-content")
    expect(editor).to_have_attribute("aria-label", "Definition (YAML)")
    editor.click()
    page.keyboard.type("kind: task\nsou")
    page.keyboard.press("Control+Space")
    assert "source" in _options(page)
    page.keyboard.press("Enter")  # the only match is selected
    assert _value(page).startswith("kind: task\nsource:\n  ")

    page.keyboard.type("ty")
    page.keyboard.press("Control+Space")
    assert _options(page)[0] == "type"
    page.keyboard.press("Enter")  # "type: ", then the values open by themselves
    assert set(_options(page)) >= {"sql", "file", "python", "ssh", "http"}
    page.keyboard.type("sq")
    page.keyboard.press("Enter")
    assert "  type: sql" in _value(page)

    # with `type: sql` known, the SQL source's keys are offered, not the other sources' ones
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Space")
    offered = _options(page)
    assert {"conn_id", "query", "include_headers"} <= set(offered)
    assert "type" not in offered and "command" not in offered and "endpoint" not in offered
    page.keyboard.type("conn")
    page.keyboard.press("Enter")
    assert _options(page) == ["shop_db", "vendor_sftp"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert "  conn_id: vendor_sftp" in _value(page)

    # an empty file: `kind` first, and its values
    _set_text(page, "")
    page.keyboard.type("ki")
    page.keyboard.press("Control+Space")
    assert _options(page) == ["kind"]
    page.keyboard.press("Enter")
    assert sorted(_options(page)) == ["orchestration", "project", "task"]
    page.keyboard.press("Escape")

    _set_text(page, "kind: orchestration\nname: nightly\nsteps:\n  - task: ")
    page.keyboard.press("Control+Space")
    assert _options(page) == ["extract_sales", "send_report"]
    page.keyboard.press("Enter")
    assert "  - task: extract_sales" in _value(page)
    _set_text(page, _value(page) + "\n    run_on_parent_failure: ")
    page.keyboard.press("Control+Space")
    assert sorted(_options(page)) == ["false", "true"]


def test_hover_shows_the_schema_help(page: Page) -> None:
    _set_text(page, "kind: task\nname: daily_sales\nschedule: '@daily'\n")
    line = page.locator(".cm-line").nth(2)
    box = line.bounding_box()
    assert box
    page.mouse.move(box["x"] + 12, box["y"] + box["height"] / 2)
    tip = page.locator(".cm-bt-hover")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("schedule")
    expect(tip).to_contain_text(
        "cron, @hourly/@daily/@weekly/@monthly, none, {once: ISO datetime}, or {after: [task_a, task_b]}"
    )
    expect(tip).to_contain_text("default: none")


def test_server_diagnostics_and_yaml_syntax_errors(page: Page) -> None:
    _set_text(page, "kind: task\nname: bad\nsource:\n  type: sql\n")
    page.evaluate("window.editor.setDiagnostics([{line: 3, message: 'source.conn_id: Field required'}])")
    marker = page.locator(".cm-gutter-lint .cm-gutterElement").filter(has=page.locator(".cm-lint-marker-error"))
    expect(marker).to_have_count(1)
    # the marker sits on line 3, next to the underlined range
    line3 = page.locator(".cm-line").nth(2).bounding_box()
    mark = marker.bounding_box()
    assert line3 and mark and abs(mark["y"] - line3["y"]) < 4
    expect(page.locator(".cm-line").nth(2).locator(".cm-lintRange-error")).to_have_text("source:")
    marker.hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("source.conn_id: Field required")
    page.evaluate("window.editor.setDiagnostics([])")
    expect(page.locator(".cm-lint-marker-error")).to_have_count(0)

    # a syntax error is found locally while typing, and goes when it is fixed
    page.keyboard.type("- oops")
    expect(page.locator(".cm-lint-marker-error")).not_to_have_count(0)
    page.locator(".cm-lintRange-error").first.hover()
    expect(page.locator(".cm-tooltip-lint")).to_contain_text("YAML:")
    for _ in "- oops":
        page.keyboard.press("Backspace")
    expect(page.locator(".cm-lint-marker-error")).to_have_count(0)


def test_orchestration_chain_follows_the_text(page: Page) -> None:
    _set_text(page, "kind: orchestration\nname: nightly\ntimezone: Europe/Paris\nsteps:\n"
                    "  - task: extract_sales\n    starts_after: '02:00'\n"
                    "  - task: send_report\n"
                    "  - task: cleanup\n    run_on_parent_failure: true\n    timezone: UTC\n")
    page.keyboard.type(" ")  # a user's keystroke: onChange redraws the chain
    chain = page.locator("#chain")
    expect(chain.locator(".bt-chain-task")).to_have_text(["extract_sales", "send_report", "cleanup"])
    expect(chain.locator(".bt-chain-when").first).to_have_text("starts after 02:00 Europe/Paris")
    expect(chain.locator(".bt-chain-condition")).to_have_text(["on success", "always (run on parent failure)"])

    # rename a step as a user would: the picture follows the text
    page.locator(".cm-line", has_text="send_report").get_by_text("send_report").dblclick()
    page.keyboard.type("publish_report")
    expect(chain.locator(".bt-chain-task")).to_have_text(["extract_sales", "publish_report", "cleanup"])
    # the page may also hand it an object (e.g. after reordering steps in its form)
    page.evaluate("window.chainHandle.update({kind: 'orchestration', steps: [{task: 'b'}, {task: 'a', "
                  "starts_after: '05:30', timezone: 'Asia/Tokyo', run_on_parent_failure: true}]})")
    expect(chain.locator(".bt-chain-task")).to_have_text(["b", "a"])
    expect(chain.locator(".bt-chain-when").nth(1)).to_have_text("starts after 05:30 Asia/Tokyo")
    expect(chain.locator(".bt-chain-condition")).to_have_text(["always (run on parent failure)"])


def test_keyboard_leaves_the_editor_and_tab_indents(page: Page) -> None:
    _set_text(page, "kind: task\nsource:")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # inside the editor Tab indents...
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")  # ...and Escape then Tab moves on, so focus is never trapped
    assert page.evaluate("document.activeElement.id") == "after"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    # the textarea is still the form's field, kept equal to the editor
    assert _value(page) == page.evaluate("window.editor.getValue()")
    assert page.evaluate("window.changes.length") > 0
    # read-only (a folder the server may not write): focusable and readable, not editable
    page.evaluate("window.editor.setReadOnly(true)")
    expect(page.locator(".cm-content")).to_have_attribute("aria-readonly", "true")
    before = _value(page)
    page.keyboard.type("x")
    assert _value(page) == before


def test_light_and_dark_follow_the_page(page: Page, tmp_path: Path) -> None:
    _set_text(page, "kind: task\nname: colors\n")
    editor = page.locator(".cm-editor")
    page.evaluate("document.documentElement.classList.add('light')")
    light = editor.evaluate("e => getComputedStyle(e).backgroundColor")
    keyword = page.locator(".cm-line").first.locator("span").first
    light_key = keyword.evaluate("e => getComputedStyle(e).color")
    page.evaluate("document.documentElement.classList.replace('light', 'dark')")
    expect(editor).not_to_have_css("background-color", light)
    assert keyword.evaluate("e => getComputedStyle(e).color") != light_key
    page.screenshot(path=str(tmp_path / "editor_dark.png"))
