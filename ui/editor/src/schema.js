// Walking the definitions' JSON Schema (pydantic's output: $defs/$ref, anyOf/oneOf with a null
// member for optional fields, a discriminator on `kind` at the top and on `type` for sources) by
// the YAML path of the cursor.

import { siblings } from "./yamlpath.js";

function deref(schema, root, seen = 0) {
  if (!schema || typeof schema !== "object") return {};
  if (schema.$ref && seen < 32) {
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const target = m && root[m[1]] ? root[m[1]][decodeURIComponent(m[2])] : null;
    if (!target) return {};
    const { $ref, ...rest } = schema;
    return deref({ ...target, ...rest }, root, seen + 1);
  }
  return schema;
}

/** The alternatives a schema allows (anyOf/oneOf flattened, refs followed, `null` dropped). */
export function alternatives(schema, root, depth = 0) {
  const s = deref(schema, root);
  const union = s.anyOf || s.oneOf;
  if (union && depth < 8) {
    const { anyOf, oneOf, discriminator, ...shared } = s;
    const out = [];
    for (const member of union) {
      for (const alt of alternatives(member, root, depth + 1)) out.push({ ...shared, ...alt });
    }
    return out;
  }
  if (s.type === "null") return [];
  return [s];
}

function isObjectSchema(s) {
  return s.type === "object" || !!s.properties || (s.additionalProperties && typeof s.additionalProperties === "object");
}

function fixedValues(prop) {
  if (!prop) return null;
  if (prop.const !== undefined) return [prop.const];
  if (Array.isArray(prop.enum)) return prop.enum;
  return null;
}

/** Object schemas that apply to a mapping whose known key/values are `present`. */
export function objectVariants(schema, root, present) {
  const variants = alternatives(schema, root).filter(isObjectSchema);
  if (variants.length < 2 || !present) return variants;
  // keep the variants whose const/enum keys (the discriminator: kind, type) agree with the text
  const kept = variants.filter((v) => Object.entries(v.properties || {}).every(([name, prop]) => {
    if (!(name in present) || present[name] === "") return true;
    const values = fixedValues(deref(prop, root));
    return !values || values.map(String).includes(present[name]);
  }));
  return kept.length ? kept : variants;
}

function child(schema, segment, root, present) {
  if (segment.item) {
    const items = alternatives(schema, root).filter((s) => s.items).map((s) => s.items);
    return items.length === 1 ? items[0] : items.length ? { anyOf: items } : null;
  }
  const found = [];
  for (const v of objectVariants(schema, root, present)) {
    if (v.properties && v.properties[segment.key]) found.push(v.properties[segment.key]);
    else if (v.additionalProperties && typeof v.additionalProperties === "object") found.push(v.additionalProperties);
  }
  return found.length === 1 ? found[0] : found.length ? { anyOf: found } : null;
}

/**
 * The schema at a path from yamlpath.pathAt: for mode "key" the schema of the mapping that gets
 * the key (with `present`: the keys already there); for mode "value" the schema of the key's value.
 */
export function schemaAt(root, path) {
  let schema = root;
  for (const seg of path.segments) {
    const present = seg.item ? null : siblings(path.lines, seg.line, seg.col, path.docStart, path.docEnd);
    schema = child(schema, seg, root, present);
    if (!schema) return null;
  }
  if (path.mode === "key") {
    const present = siblings(path.lines, path.line, path.keyCol, path.docStart, path.docEnd);
    return { schema, present };
  }
  return { schema };
}

/** Properties a mapping may take: [{name, schema, required}] (union over the applicable variants). */
export function propertiesOf(root, schema, present) {
  const out = new Map();
  for (const v of objectVariants(schema, root, present)) {
    const required = new Set(v.required || []);
    for (const [name, prop] of Object.entries(v.properties || {})) {
      if (!out.has(name)) out.set(name, { name, schema: prop, required: required.has(name) });
    }
    const names = v.propertyNames && deref(v.propertyNames, root);
    if (names && Array.isArray(names.enum)) {
      for (const name of names.enum) {
        if (!out.has(name)) out.set(name, { name, schema: v.additionalProperties || {}, required: false });
      }
    }
  }
  return [...out.values()];
}

/** Values a scalar may take: [{value, kind: "enum"|"bool"|"example"}]. */
export function valuesOf(root, schema) {
  const out = [];
  const seen = new Set();
  const add = (value, kind) => {
    const key = JSON.stringify(value);
    if (!seen.has(key)) { seen.add(key); out.push({ value, kind }); }
  };
  for (const alt of alternatives(schema, root)) {
    const fixed = fixedValues(alt);
    if (fixed) fixed.forEach((v) => add(v, "enum"));
    else if (alt.type === "boolean") { add(true, "bool"); add(false, "bool"); }
    if (Array.isArray(alt.examples)) alt.examples.forEach((v) => add(v, "example"));
  }
  return out;
}

/** A short type label: "string", "integer | null", "list of Destination", "one of sql, file". */
export function typeLabel(root, schema) {
  const raw = deref(schema, root);
  const labels = [];
  const union = raw.anyOf || raw.oneOf;
  const members = union ? union : [schema];
  for (const member of members) {
    const ref = member.$ref && /([^/]+)$/.exec(member.$ref)[1];
    const s = deref(member, root);
    let label;
    if (s.type === "null") label = "null";
    else if (s.const !== undefined) label = JSON.stringify(s.const);
    else if (Array.isArray(s.enum)) label = "one of " + s.enum.join(", ");
    else if (s.type === "array") label = "list of " + (s.items ? typeLabel(root, s.items) : "any");
    else if (ref) label = ref;
    else if (s.type === "object" && s.additionalProperties && typeof s.additionalProperties === "object") {
      label = "map of " + typeLabel(root, s.additionalProperties);
    } else if (s.type) label = Array.isArray(s.type) ? s.type.join(" | ") : s.type;
    else if (s.anyOf || s.oneOf) label = typeLabel(root, s);
    else label = "any";
    if (s.format) label += ` (${s.format})`;
    if (!labels.includes(label)) labels.push(label);
  }
  return labels.join(" | ");
}

/** Description, type, allowed values and default of a property schema, for hover help. */
export function describe(root, schema) {
  const s = deref(schema, root);
  const alts = alternatives(schema, root);
  let description = s.description;
  let title = s.title;
  for (const a of alts) {
    if (!description && a.description) description = a.description;
    if (!title && a.title) title = a.title;
  }
  const values = valuesOf(root, schema).filter((v) => v.kind === "enum").map((v) => v.value);
  const examples = valuesOf(root, schema).filter((v) => v.kind === "example").map((v) => v.value);
  return {
    title: title || "",
    description: description || "",
    type: typeLabel(root, schema),
    values,
    examples,
    hasDefault: "default" in s,
    default: s.default,
  };
}

/** How a key is best inserted: "scalar", "map" or "list" (of maps). */
export function shapeOf(root, schema) {
  const alts = alternatives(schema, root);
  if (alts.length && alts.every((a) => a.type === "array")) {
    const items = alternatives(alts[0].items || {}, root);
    return items.length && items.every(isObjectSchema) ? "list" : "scalar";
  }
  if (alts.length && alts.every(isObjectSchema)) return "map";
  return "scalar";
}
