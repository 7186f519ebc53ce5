// Where the cursor is in a YAML definition, from the text alone.
//
// The editor must know the path of keys above the cursor while the user types, when the
// document is often not valid YAML yet (`sou` has no colon). So this reads block-style YAML
// line by line, by indentation: each line gives its tokens (list dashes and a `key:`), and the
// parents of a position are the nearest lines above it whose tokens start further left.
// Flow style ({a: 1}, [1, 2]) is read as plain values.

const KEY_RE = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#:'"{}[\],&*!|>%@`-][^#]*?|-[^\s#]*?)[ \t]*:(?=\s|$)/;

/** Tokens of one line: [{type: "dash"|"key", col, name?, value?}], or null for blank/comment lines. */
export function lineTokens(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length && text[i] === " ") i++;
  if (i >= text.length || text[i] === "#") return null;
  if (/^(---|\.\.\.)(\s|$)/.test(text.slice(i)) && i === 0) return [{ type: "doc", col: 0 }];
  for (;;) {
    if (text[i] === "-" && (i + 1 >= text.length || text[i + 1] === " " || text[i + 1] === "\t")) {
      tokens.push({ type: "dash", col: i });
      i++;
      while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
      if (i >= text.length) break;
      continue;
    }
    break;
  }
  const rest = text.slice(i);
  const m = KEY_RE.exec(rest);
  if (m) {
    let name = m[1];
    if ((name[0] === '"' || name[0] === "'") && name.length > 1) name = name.slice(1, -1);
    let value = rest.slice(m[0].length);
    const valueCol = i + m[0].length + (value.length - value.trimStart().length);
    value = stripComment(value).trim();
    tokens.push({ type: "key", col: i, name, end: i + m[1].length, value, valueCol });
  } else if (i < text.length) {
    tokens.push({ type: "scalar", col: i, text: stripComment(rest).trim() });
  }
  return tokens;
}

function stripComment(value) {
  // a comment starts at " #" outside quotes
  let quote = null;
  for (let k = 0; k < value.length; k++) {
    const c = value[k];
    if (quote) { if (c === quote) quote = null; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === "#" && (k === 0 || value[k - 1] === " " || value[k - 1] === "\t")) return value.slice(0, k);
  }
  return value;
}

export function unquote(value) {
  if (value.length > 1 && ((value[0] === '"' && value.endsWith('"')) || (value[0] === "'" && value.endsWith("'")))) {
    return value.slice(1, -1);
  }
  return value;
}

/** The first and last line (0-based, inclusive) of the YAML document holding `lineNo`. */
export function documentBounds(lines, lineNo) {
  let start = lineNo, end = lineNo;
  while (start > 0 && !/^(---|\.\.\.)(\s|$)/.test(lines[start])) start--;
  if (/^(---|\.\.\.)(\s|$)/.test(lines[start]) && start !== lineNo) start++;
  else if (/^(---|\.\.\.)(\s|$)/.test(lines[start])) start++;
  while (end + 1 < lines.length && !/^(---|\.\.\.)(\s|$)/.test(lines[end + 1])) end++;
  return [start, end];
}

/** The value of the top-level `kind:` of the document holding `lineNo` (or null). */
export function documentKind(lines, lineNo) {
  const [start, end] = documentBounds(lines, lineNo);
  for (let l = start; l <= end; l++) {
    const m = /^kind[ \t]*:[ \t]*(["']?)([A-Za-z_]+)\1[ \t]*(#.*)?$/.exec(lines[l]);
    if (m) return m[2];
  }
  return null;
}

function indentOf(text) {
  return /^ */.exec(text)[0].length;
}

const BLOCK_HEADER = /^[|>][0-9+-]*$/;

/** Whether line `lineNo` lies inside a block scalar (| or >) started above it, within the document. */
export function inBlockScalar(lines, lineNo, start, ownIndent) {
  const own = ownIndent === undefined ? indentOf(lines[lineNo]) : ownIndent;
  for (let l = lineNo - 1; l >= start; l--) {
    if (lines[l].trim() === "") continue;
    if (indentOf(lines[l]) >= own) continue;
    const toks = lineTokens(lines[l]);
    if (!toks) continue; // a comment less indented than block content is not allowed anyway
    const last = toks[toks.length - 1];
    if (last.type === "key" && BLOCK_HEADER.test(last.value)) return true;
    return inBlockScalar(lines, l, start);
  }
  return false;
}

function lineAt(text, pos) {
  const lines = text.split("\n");
  let lineNo = 0, offset = 0;
  while (lineNo < lines.length - 1 && offset + lines[lineNo].length < pos) {
    offset += lines[lineNo].length + 1;
    lineNo++;
  }
  return { lines, lineNo, offset, col: pos - offset };
}

/**
 * Path of a position: {segments, mode, prefix, from, keyCol, line, lines, docStart, docEnd}
 *  - segments: [{key, line, col} | {item: true, line, col}] from the top of the document
 *  - mode "key": the cursor is where a key goes (prefix: what is typed of it, from: where it starts;
 *    keyCol: its column); segments lead to the mapping that gets the key
 *  - mode "value": the cursor is in the plain value of the last key segment (prefix/from: the typed
 *    value, without an opening quote)
 *  - null when the cursor is in a comment, a block scalar, a flow collection or a "---" line
 */
export function pathAt(text, pos) {
  const { lines, lineNo, offset, col } = lineAt(text, pos);
  const before = lines[lineNo].slice(0, col);
  const [docStart, docEnd] = documentBounds(lines, lineNo);
  if (lineNo < docStart) return null;
  const toks = lineTokens(before) || [];
  if (toks.some((t) => t.type === "doc")) return null;
  if (/(^|\s)#/.test(before.replace(/"[^"]*"|'[^']*'/g, '""'))) return null;
  const ownIndent = before.trim() === "" ? before.length : indentOf(before);
  if (inBlockScalar(lines, lineNo, docStart, ownIndent)) return null;

  const dashes = toks.filter((t) => t.type === "dash");
  const key = toks.find((t) => t.type === "key");
  const scalar = toks.find((t) => t.type === "scalar");
  let mode, prefix, from, keyCol;
  if (key) {
    mode = "value";
    let valueText = before.slice(key.valueCol);
    if (/^[[{|>&*!]/.test(valueText)) return null;
    from = offset + key.valueCol;
    if (valueText[0] === '"' || valueText[0] === "'") {
      valueText = valueText.slice(1);
      from += 1;
    }
    prefix = valueText;
    keyCol = key.col;
  } else {
    if (scalar && (/[\s:]/.test(scalar.text) || /^["'[{|>&*!]/.test(scalar.text))) return null;
    mode = "key";
    prefix = scalar ? scalar.text : "";
    keyCol = scalar ? scalar.col : before.length;
    from = offset + keyCol;
  }

  // parents: the nearest lines above whose tokens start left of this line's first token
  let limit = dashes.length ? dashes[0].col : keyCol;
  let afterDash = dashes.length > 0;
  const parents = [];
  for (let l = lineNo - 1; l >= docStart && (limit > 0 || afterDash); l--) {
    const t = lineTokens(lines[l]);
    if (!t || t[0].type === "doc") continue;
    if (afterDash && t[0].type === "key" && t[0].col === limit && t[0].value === "") {
      parents.unshift({ key: t[0].name, line: l, col: t[0].col }); // indentless sequence: "steps:\n- task: a"
      afterDash = false;
      continue;
    }
    const taken = t.filter((tok) => tok.col < limit && (tok.type === "dash" || tok.type === "key"));
    if (!taken.length) continue;
    parents.unshift(...taken.map((tok) => (tok.type === "dash" ? { item: true, line: l, col: tok.col }
      : { key: tok.name, line: l, col: tok.col })));
    limit = taken[0].col;
    afterDash = taken[0].type === "dash";
  }
  const segments = [...parents, ...dashes.map((d) => ({ item: true, line: lineNo, col: d.col }))];
  if (mode === "value") segments.push({ key: key.name, line: lineNo, col: key.col });
  return { segments, mode, prefix, from, keyCol, line: lineNo, lines, docStart, docEnd };
}

/**
 * Keys and plain values of the mapping whose keys stand at column `col` and that holds line `lineNo`
 * (or that a new key at that column on that line would join).
 */
export function siblings(lines, lineNo, col, docStart, docEnd) {
  const found = {};
  const collect = (t) => {
    for (const tok of t) if (tok.type === "key" && tok.col === col) found[tok.name] = unquote(tok.value);
  };
  for (let l = lineNo; l >= docStart; l--) {
    const t = lineTokens(lines[l]);
    if (!t || t[0].type === "doc") continue;
    if (t[0].col < col) { collect(t); break; } // the line that opens the mapping (its parent or its dash)
    if (t[0].col === col && t[0].type !== "key") continue; // an indentless sequence's dash, not a key
    collect(t);
  }
  for (let l = lineNo + 1; l <= docEnd; l++) {
    const t = lineTokens(lines[l]);
    if (!t || t[0].type === "doc") continue;
    if (t[0].col < col) break;
    if (t[0].col === col && t[0].type !== "key") continue;
    collect(t);
  }
  return found;
}

/** The key token under position `pos`, with the path to it (for hover help), or null. */
export function keyAt(text, pos) {
  const { lines, lineNo, offset, col } = lineAt(text, pos);
  const toks = lineTokens(lines[lineNo]);
  if (!toks) return null;
  const key = toks.find((t) => t.type === "key");
  if (!key || col < key.col || col > key.end) return null;
  const path = pathAt(text, offset + key.valueCol);
  if (!path || path.mode !== "value") return null;
  return { path, key, from: offset + key.col, to: offset + key.end };
}
