// Completion and hover help driven by the definitions' JSON Schema and the pickers' lists.
import { startCompletion } from "@codemirror/autocomplete";
import { pathAt, keyAt } from "./yamlpath.js";
import { schemaAt, propertiesOf, valuesOf, typeLabel, describe, shapeOf } from "./schema.js";

const PLAIN = /^[A-Za-z0-9_./@:+-]*$/;

function isConnectionKey(name) {
  return name === "conn_id" || /_conn_id$/.test(name);
}

/** Which picker list a value position takes, from its key and parents. */
function pickerFor(path) {
  const segs = path.segments;
  const last = segs[segs.length - 1];
  if (!last || last.item) return null;
  if (isConnectionKey(last.key)) return "connections";
  if (last.key === "task" && segs.length === 3 && segs[0].key === "steps" && segs[1].item) return "tasks";
  if (last.key === "project" && segs.length === 1) return "projects";
  if (last.key === "timezone") return "timezones";
  return null;
}

function quoteIfNeeded(value) {
  const s = String(value);
  return PLAIN.test(s) && !/^[@`]/.test(s) && s !== "" ? s : JSON.stringify(s);
}

function pad(n) {
  return " ".repeat(n);
}

export function schemaCompletion(ctx) {
  return (context) => {
    const text = context.state.doc.toString();
    const path = pathAt(text, context.pos);
    if (!path) return null;
    if (!context.explicit && path.prefix === "" && path.mode === "key") return null;
    const root = ctx.schema;
    const found = root ? schemaAt(root, path) : null;
    const options = [];
    if (path.mode === "key") {
      if (!found) return null;
      const present = found.present || {};
      for (const prop of propertiesOf(root, found.schema, present)) {
        if (prop.name in present) continue;
        const shape = shapeOf(root, prop.schema);
        const info = describe(root, prop.schema);
        const hasValues = valuesOf(root, prop.schema).length > 0;
        const name = prop.name;
        options.push({
          label: name,
          type: "property",
          detail: info.type,
          info: info.description || undefined,
          boost: prop.required ? 2 : 0,
          apply(view, completion, from, to) {
            let insert;
            if (shape === "map") insert = `${name}:\n${pad(path.keyCol + 2)}`;
            else if (shape === "list") insert = `${name}:\n${pad(path.keyCol + 2)}- `;
            else insert = `${name}: `;
            view.dispatch({ changes: { from, to, insert }, selection: { anchor: from + insert.length }, userEvent: "input.complete" });
            if (shape === "scalar" && (hasValues || pickerFor({ segments: [...path.segments, { key: name }] }))) {
              setTimeout(() => startCompletion(view), 0);
            }
          },
        });
      }
    } else {
      const before = context.state.sliceDoc(path.from - 1, path.from);
      const lead = before === ":" ? " " : "";
      if (found) {
        for (const v of valuesOf(root, found.schema)) {
          options.push({
            label: String(v.value),
            type: v.kind === "example" ? "text" : "enum",
            detail: v.kind === "example" ? "example" : undefined,
            boost: v.kind === "example" ? -1 : 1,
            apply: lead + quoteIfNeeded(v.value),
          });
        }
      }
      const picker = pickerFor(path);
      const list = picker && ctx.completions ? ctx.completions[picker] : null;
      if (Array.isArray(list)) {
        const seen = new Set(options.map((o) => o.label));
        for (const item of list) {
          const value = typeof item === "string" ? item : item && (item.conn_id || item.name);
          if (!value || seen.has(value)) continue;
          seen.add(value);
          const detail = item && typeof item === "object" ? item.conn_type || item.project || undefined : undefined;
          options.push({
            label: value,
            type: picker === "tasks" ? "function" : "variable",
            detail: detail || picker.replace(/s$/, ""),
            apply: lead + quoteIfNeeded(value),
          });
        }
      }
    }
    if (!options.length) return null;
    return { from: path.from, options, validFor: path.mode === "key" ? /^[\w.-]*$/ : /^[\w./@:+-]*$/ };
  };
}

export function schemaHover(ctx) {
  return (view, pos) => {
    const root = ctx.schema;
    if (!root) return null;
    const at = keyAt(view.state.doc.toString(), pos);
    if (!at) return null;
    const found = schemaAt(root, at.path);
    if (!found || !found.schema) return null;
    const info = describe(root, found.schema);
    return {
      pos: at.from,
      end: at.to,
      above: true,
      create() {
        const dom = document.createElement("div");
        dom.className = "cm-bt-hover";
        const head = document.createElement("div");
        const title = document.createElement("span");
        title.className = "cm-bt-hover-title";
        title.textContent = at.key.name;
        const type = document.createElement("span");
        type.className = "cm-bt-hover-type";
        type.textContent = " : " + (info.type || typeLabel(root, found.schema));
        head.append(title, type);
        dom.append(head);
        if (info.description) {
          const d = document.createElement("div");
          d.className = "cm-bt-hover-description";
          d.textContent = info.description;
          dom.append(d);
        }
        const extra = [];
        if (info.values.length > 1) extra.push("values: " + info.values.map(String).join(", "));
        if (info.examples.length) extra.push("e.g. " + info.examples.map(String).join(", "));
        if (info.hasDefault) extra.push("default: " + (info.default === null ? "none" : JSON.stringify(info.default)));
        for (const line of extra) {
          const e = document.createElement("div");
          e.className = "cm-bt-hover-values";
          e.textContent = line;
          dom.append(e);
        }
        return { dom };
      },
    };
  };
}
