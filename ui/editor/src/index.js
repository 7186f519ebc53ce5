// window.BatchTasksEditor: the YAML editor of the Batch Tasks authoring pages.
//
//   mount(textarea, {schema, completions: {connections: [str], tasks: [str]}, onChange(text), label, readOnly})
//     -> {getValue(), setValue(text), setDiagnostics([{line, message, severity?}]), focus(), destroy(),
//         setCompletions({...}), setSchema(schema), setReadOnly(bool), view}
//   completions may also hold projects: [str] and timezones: [str]; connections may be
//   [{conn_id, conn_type}] as the pickers API gives them. setValue does not call onChange.
//   chain(container, orchestration) -> {update(orchestration), destroy()}
//   yaml: the `yaml` package (parseDocument, parse, stringify, isMap, ...)
//
// The textarea stays the form field: it is hidden and kept equal to the editor's text, so a page
// works without this bundle too (the textarea is then the editor).
import "./csp-styles.js";
import * as YAML from "yaml";
import { EditorState, Compartment } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars, hoverTooltip,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  syntaxHighlighting, defaultHighlightStyle, indentOnInput, bracketMatching, indentUnit, foldGutter, foldKeymap,
} from "@codemirror/language";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { lintGutter, setDiagnostics as lintSetDiagnostics, forEachDiagnostic, lintKeymap } from "@codemirror/lint";
import { yaml as yamlLanguage } from "@codemirror/lang-yaml";
import { oneDarkHighlightStyle } from "@codemirror/theme-one-dark";
import { chain as drawChain } from "./chain.js";
import { schemaCompletion, schemaHover } from "./assist.js";

// ---- light / dark: follow the page (html.dark / html.light set by theme.js, else the system) ----

const baseTheme = EditorView.theme({
  "&": {
    color: "var(--bt-fg, #18181b)",
    backgroundColor: "var(--bt-panel, #ffffff)",
    border: "1px solid var(--bt-border, #e4e4e7)",
    borderRadius: "6px",
    fontSize: "13px",
  },
  "&.cm-focused": { outline: "2px solid var(--bt-focus, #2563eb)", outlineOffset: "1px" },
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.5" },
  ".cm-gutters": {
    backgroundColor: "var(--bt-subtle, #f4f4f5)",
    color: "var(--bt-muted, #52525b)",
    borderRight: "1px solid var(--bt-border, #e4e4e7)",
  },
  ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--bt-subtle, #f4f4f5) 60%, transparent)" },
  ".cm-activeLineGutter": { backgroundColor: "var(--bt-border, #e4e4e7)" },
  ".cm-tooltip": {
    backgroundColor: "var(--bt-panel, #ffffff)",
    color: "var(--bt-fg, #18181b)",
    border: "1px solid var(--bt-border, #e4e4e7)",
  },
  ".cm-tooltip-autocomplete > ul > li[aria-selected]": {
    backgroundColor: "var(--bt-accent, #1e4976)",
    color: "var(--bt-accent-fg, #ffffff)",
  },
  ".cm-bt-hover": { padding: "6px 8px", maxWidth: "28rem", fontFamily: "var(--bt-font, sans-serif)", fontSize: "12.5px" },
  ".cm-bt-hover-title": { fontWeight: "600" },
  ".cm-bt-hover-type": { color: "var(--bt-muted, #52525b)", fontFamily: "ui-monospace, monospace" },
  ".cm-bt-hover-description": { marginTop: "4px" },
  ".cm-bt-hover-values": { marginTop: "4px", color: "var(--bt-muted, #52525b)" },
  ".cm-completionInfo": { maxWidth: "24rem" },
});

const lightTheme = [EditorView.theme({}, { dark: false }), syntaxHighlighting(defaultHighlightStyle)];
const darkTheme = [
  EditorView.theme({
    ".cm-cursor, .cm-dropCursor": { borderLeftColor: "#e4e4e7" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "#3f3f46" },
  }, { dark: true }),
  syntaxHighlighting(oneDarkHighlightStyle),
];

function pageIsDark() {
  const root = document.documentElement;
  if (root.classList.contains("dark") || root.getAttribute("data-theme") === "dark") return true;
  if (root.classList.contains("light") || root.getAttribute("data-theme") === "light") return false;
  return !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches);
}

// ---- diagnostics: the server's (setDiagnostics) and the YAML parser's (as you type) ----

function lineRange(doc, lineNumber) {
  const n = Math.min(Math.max(1, Math.floor(Number(lineNumber)) || 1), doc.lines);
  const line = doc.line(n);
  const indent = /^\s*/.exec(line.text)[0].length;
  return { from: line.from + Math.min(indent, line.length), to: line.to };
}

function syntaxDiagnostics(doc) {
  const text = doc.toString();
  const out = [];
  let docs;
  try {
    docs = YAML.parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    return [{ from: 0, to: 0, severity: "error", message: String(e && e.message ? e.message : e), source: "yaml" }];
  }
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs) && docs && docs.errors) list.push(docs);
  for (const d of list) {
    for (const err of d.errors || []) {
      let [from, to] = err.pos || [0, 0];
      from = Math.max(0, Math.min(from, text.length));
      to = Math.max(from, Math.min(to, text.length));
      if (to === from && to < text.length) to = from + 1;
      const message = String(err.message || err).split("\n")[0].replace(/ at line \d+, column \d+:?\s*$/, "");
      out.push({ from, to, severity: "error", message: `YAML: ${message}`, source: "yaml" });
    }
  }
  return out;
}

function serverDiagnostics(state) {
  const kept = [];
  forEachDiagnostic(state, (d, from, to) => { if (d.source === "server") kept.push({ ...d, from, to }); });
  return kept;
}

// ---- mount ----

function labelOf(textarea, options) {
  if (options.label) return String(options.label);
  const aria = textarea.getAttribute("aria-label");
  if (aria) return aria;
  if (textarea.id) {
    const label = document.querySelector(`label[for="${CSS.escape(textarea.id)}"]`);
    if (label && label.textContent.trim()) return label.textContent.trim();
  }
  return "YAML definition";
}

export function mount(textarea, options = {}) {
  if (!textarea || textarea.tagName !== "TEXTAREA") throw new Error("BatchTasksEditor.mount: needs a <textarea>");
  const ctx = {
    schema: options.schema || null,
    completions: { connections: [], tasks: [], ...(options.completions || {}) },
  };
  const onChange = typeof options.onChange === "function" ? options.onChange : null;
  const theme = new Compartment();
  const access = new Compartment();
  const readOnlyExtensions = (on) => [EditorState.readOnly.of(!!on),
    EditorView.contentAttributes.of({ "aria-readonly": on ? "true" : "false" })];
  let silent = 0;
  let syntaxTimer = null;
  let view = null;

  function relint() {
    syntaxTimer = null;
    if (!view) return;
    const all = [...serverDiagnostics(view.state), ...syntaxDiagnostics(view.state.doc)];
    view.dispatch(lintSetDiagnostics(view.state, all));
  }

  const host = document.createElement("div");
  host.className = "bt-editor";
  textarea.insertAdjacentElement("afterend", host);
  textarea.hidden = true;
  textarea.classList.add("bt-editor-source");

  const state = EditorState.create({
    doc: textarea.value,
    extensions: [
      lineNumbers(),
      highlightActiveLineGutter(),
      foldGutter(),
      lintGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentUnit.of("  "),
      EditorState.tabSize.of(2),
      indentOnInput(),
      bracketMatching(),
      closeBrackets(),
      highlightActiveLine(),
      yamlLanguage(),
      autocompletion({ override: [schemaCompletion(ctx)], icons: false, activateOnTyping: true }),
      hoverTooltip(schemaHover(ctx), { hoverTime: 300 }),
      keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...foldKeymap, ...completionKeymap,
        ...lintKeymap, indentWithTab]),
      EditorView.contentAttributes.of({ "aria-label": labelOf(textarea, options), "aria-multiline": "true" }),
      EditorView.lineWrapping,
      baseTheme,
      theme.of(pageIsDark() ? darkTheme : lightTheme),
      access.of(readOnlyExtensions(options.readOnly || textarea.readOnly)),
      EditorView.updateListener.of((update) => {
        if (!update.docChanged) return;
        const text = update.state.doc.toString();
        textarea.value = text;
        if (syntaxTimer) clearTimeout(syntaxTimer);
        syntaxTimer = setTimeout(relint, 250);
        if (!silent && onChange) onChange(text);
      }),
    ],
  });
  view = new EditorView({ state, parent: host });
  relint();

  // follow the page's theme switches
  const applyTheme = () => view && view.dispatch({ effects: theme.reconfigure(pageIsDark() ? darkTheme : lightTheme) });
  const observer = window.MutationObserver ? new MutationObserver(applyTheme) : null;
  if (observer) observer.observe(document.documentElement, { attributes: true, attributeFilter: ["class", "data-theme"] });
  const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (media && media.addEventListener) media.addEventListener("change", applyTheme);

  // a label pointing at the hidden textarea now focuses the editor
  const label = textarea.id ? document.querySelector(`label[for="${CSS.escape(textarea.id)}"]`) : null;
  const onLabelClick = (event) => { event.preventDefault(); view.focus(); };
  if (label) label.addEventListener("click", onLabelClick);

  return {
    view,
    getValue() { return view.state.doc.toString(); },
    setValue(text) {
      const value = text === null || text === undefined ? "" : String(text);
      if (value === view.state.doc.toString()) return;
      silent++;
      try {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
      } finally {
        silent--;
      }
      textarea.value = value;
      relint();
    },
    setDiagnostics(list) {
      const doc = view.state.doc;
      const server = (Array.isArray(list) ? list : []).map((d) => ({
        ...lineRange(doc, d.line),
        severity: d.severity === "warning" || d.severity === "info" ? d.severity : "error",
        message: String(d.message || ""),
        source: "server",
      }));
      view.dispatch(lintSetDiagnostics(view.state, [...server, ...syntaxDiagnostics(doc)]));
    },
    setCompletions(completions) { ctx.completions = { connections: [], tasks: [], ...(completions || {}) }; },
    setSchema(schema) { ctx.schema = schema || null; },
    setReadOnly(on) {
      textarea.readOnly = !!on;
      view.dispatch({ effects: access.reconfigure(readOnlyExtensions(on)) });
    },
    focus() { view.focus(); },
    destroy() {
      if (syntaxTimer) clearTimeout(syntaxTimer);
      if (observer) observer.disconnect();
      if (media && media.removeEventListener) media.removeEventListener("change", applyTheme);
      if (label) label.removeEventListener("click", onLabelClick);
      textarea.value = view.state.doc.toString();
      view.destroy();
      view = null;
      host.remove();
      textarea.hidden = false;
      textarea.classList.remove("bt-editor-source");
    },
  };
}

export function chain(container, orchestration) {
  return drawChain(container, orchestration, (text) => YAML.parse(text));
}

export { YAML as yaml };
