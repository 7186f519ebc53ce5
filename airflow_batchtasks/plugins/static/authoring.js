/* New / Edit pages of definitions: one YAML document is the state, the form and the YAML tab views of it.
 *
 * - The document is parsed with the `yaml` package of the editor bundle (window.BatchTasksEditor.yaml);
 *   form inputs carry their key path (data-path) and read it with doc.getIn, write it with
 *   doc.setIn / doc.deleteIn, so keys the form does not show and comments survive.
 * - The YAML tab is the textarea (the code editor when the bundle is there); switching tabs re-parses.
 * - Every change is validated (debounced) by POST /definitions/validate; errors are shown next to the
 *   field they name and at their line in the YAML; Save stays disabled while the definition is invalid.
 * - Save is POST /definitions (new) or PUT /definitions/{kind}/{name} (edit), with the page's CSRF token.
 * Without the bundle the page still edits the YAML text (the form says why it is missing).
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-authoring]");
  var dataEl = document.getElementById("authoring-data");
  if (!root || !dataEl) { return; }
  var cfg = JSON.parse(dataEl.textContent);
  var csrf = root.getAttribute("data-csrf") || "";
  var bundle = window.BatchTasksEditor || null;
  var YAML = bundle && bundle.yaml;
  var YAML_OPTIONS = { keepSourceTokens: false };
  var textarea = root.querySelector("[data-yaml]");
  var formBox = root.querySelector("[data-form]");
  var saveButton = root.querySelector("[data-save]");
  var stateEl = root.querySelector("[data-state]");
  var errorsBox = root.querySelector("[data-errors]");
  var savedBox = root.querySelector("[data-saved]");
  var chainBox = root.querySelector("[data-chain]");
  var editor = null, chain = null, doc = null;
  var tab = "form", valid = false, checking = false, timer = null, seq = 0;
  var mode = cfg.mode, name = cfg.name;

  /* ------------------------------------------------------------------ text and document */
  function text() { return editor ? editor.getValue() : textarea.value; }
  function setText(value) {
    textarea.value = value;
    if (editor && editor.getValue() !== value) { editor.setValue(value); }
  }
  function parse() {
    if (!YAML) { return null; }
    var parsed = YAML.parseDocument(text(), YAML_OPTIONS);
    return parsed.errors && parsed.errors.length ? null : parsed;
  }
  function plain(node) {
    if (node === undefined || node === null) { return node; }
    return node && typeof node.toJSON === "function" ? node.toJSON() : node;
  }
  function keyPath(path) {
    return path.split(".").map(function (part) { return /^\d+$/.test(part) ? Number(part) : part; });
  }
  function get(path) { return plain(doc.getIn(keyPath(path), false)); }
  function isEmpty(value) {
    return value === undefined || value === null || value === "" ||
      (Array.isArray(value) && value.length === 0);
  }
  /* A key whose parent is a scalar (`region: EU` shorthand of a parameter) becomes {default: EU} first. */
  function ensureParents(keys) {
    for (var i = 1; i < keys.length; i++) {
      var parentKeys = keys.slice(0, i);
      var node = doc.getIn(parentKeys, true);
      if (node !== undefined && node !== null && !YAML.isCollection(node)) {
        var value = plain(node);
        doc.setIn(parentKeys, doc.createNode(parentKeys[0] === "params" && i === 2 ? { "default": value } : {}));
      }
    }
  }
  function set(path, value) {
    var keys = keyPath(path);
    if (isEmpty(value)) {
      if (doc.hasIn(keys)) { doc.deleteIn(keys); }
      pruneEmpty(keys.slice(0, -1));
    } else {
      ensureParents(keys);
      doc.setIn(keys, asServerReadsIt(value));
    }
    changed("form");
  }
  /* The server reads YAML 1.1 (PyYAML), this page writes YAML 1.2: a text such as "17:30" or "yes" would
     be written bare and read there as a number (1050) or a boolean, so it is written quoted. */
  function asServerReadsIt(value) {
    if (typeof value !== "string") { return value; }
    var read;
    try { read = YAML.parse(value, { version: "1.1" }); } catch (e) { return value; }
    if (read === value) { return value; }
    var node = doc.createNode(value);
    node.type = "QUOTE_DOUBLE";
    return node;
  }
  /* Mappings the form emptied (output.gpg after its last key) go away instead of staying `{}`. */
  function pruneEmpty(keys) {
    while (keys.length && typeof keys[keys.length - 1] === "string") {
      var node = doc.getIn(keys, true);
      if (!YAML.isMap(node) || node.items.length) { return; }
      doc.deleteIn(keys);
      keys = keys.slice(0, -1);
    }
  }

  /* ------------------------------------------------------------------ form <- document */
  function show(input, value) {
    var kind = input.getAttribute("data-kind");
    if (kind === "bool") {
      input.checked = value === undefined || value === null ? input.getAttribute("data-default") === "true" : !!value;
    } else if (kind === "list" || kind === "intlist") {
      input.value = Array.isArray(value) ? value.join(", ") : (value === undefined || value === null ? "" : String(value));
    } else if (kind === "json") {
      input.value = value === undefined || value === null ? "" : JSON.stringify(value, null, 2);
    } else {
      input.value = value === undefined || value === null ? "" : String(value);
    }
  }
  function read(input) {
    var kind = input.getAttribute("data-kind"), raw = input.value;
    if (kind === "bool") { return input.checked; }
    if (kind === "int") { return raw.trim() === "" ? null : Number(raw); }
    if (kind === "list") { return raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean); }
    if (kind === "intlist") {
      return raw.split(",").map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) {
        return /^\d+$/.test(s) ? Number(s) : s;
      });
    }
    if (kind === "json") {
      if (!raw.trim()) { return null; }
      try { input.removeAttribute("aria-invalid"); return JSON.parse(raw); }
      catch (e) { input.setAttribute("aria-invalid", "true"); return undefined; }
    }
    if (kind === "scalar") {  /* a parameter default: numbers and booleans as such, else text */
      var t = raw.trim();
      if (t === "") { return null; }
      if (/^-?\d+(\.\d+)?$/.test(t)) { return Number(t); }
      if (t === "true" || t === "false") { return t === "true"; }
      return raw;
    }
    return raw;
  }
  function fillForm() {
    if (!doc) { return; }
    renderRows();
    formBox.querySelectorAll("[data-path]").forEach(function (input) { show(input, get(input.getAttribute("data-path"))); });
    scheduleFromDoc();
    toggleSections();
    formBox.querySelectorAll("details[data-opt]").forEach(function (d) {  /* optional sections in use are open */
      if (d.getAttribute("data-opt").split(" ").some(function (k) { return doc.hasIn(keyPath(k)); })) { d.open = true; }
    });
  }
  function toggleSections() {
    formBox.querySelectorAll("[data-show]").forEach(function (el) {
      var rule = el.getAttribute("data-show").split("="), current = String(get(rule[0]) || "");
      el.hidden = rule[1].split(",").indexOf(current) < 0;
    });
    var source = document.getElementById("dl-conn-source");
    if (source && doc) { fillConnections(source, sourceTypes(String(get("source.type") || ""))); }
  }

  /* ------------------------------------------------------------------ rows: lists and the params map */
  function template(id) { return document.getElementById(id).content.firstElementChild; }
  function renderRows() {
    formBox.querySelectorAll("[data-list]").forEach(function (box) {
      var base = box.getAttribute("data-list"), items = get(base) || [];
      box.textContent = "";
      (Array.isArray(items) ? items : []).forEach(function (item, i) {
        var row = template(box.getAttribute("data-template")).cloneNode(true);
        row.setAttribute("data-index", String(i));
        row.querySelectorAll("[data-rel]").forEach(function (input) {
          var path = base + "." + i + "." + input.getAttribute("data-rel");
          input.setAttribute("data-path", path);
          input.id = "f-" + path.replace(/\./g, "-");
          show(input, get(path));
        });
        var number = row.querySelector("[data-step-number]");
        if (number) { number.textContent = String(i + 1) + "."; }
        var what = base === "steps" ? "step " + (i + 1) : "destination " + (i + 1);
        row.querySelectorAll("[data-move]").forEach(function (b) {
          b.setAttribute("aria-label", "Move " + what + (b.getAttribute("data-move") === "-1" ? " up" : " down"));
          b.disabled = b.getAttribute("data-move") === "-1" ? i === 0 : i === items.length - 1;
        });
        row.querySelectorAll("[data-remove]").forEach(function (b) { b.setAttribute("aria-label", "Remove " + what); });
        row.querySelectorAll("[data-rel][aria-label]").forEach(function (input) {
          input.setAttribute("aria-label", input.getAttribute("aria-label") + " of " + what);
        });
        box.appendChild(row);
      });
    });
    formBox.querySelectorAll("[data-map]").forEach(function (box) {
      var base = box.getAttribute("data-map"), node = doc.getIn([base], true);
      box.textContent = "";
      if (!YAML.isMap(node)) { return; }
      node.items.forEach(function (pair) {
        var key = String(plain(pair.key)), value = plain(pair.value);
        var row = template(box.getAttribute("data-template")).cloneNode(true);
        row.setAttribute("data-key", key);
        var keyInput = row.querySelector("[data-param-key]");
        keyInput.value = key;
        keyInput.id = "f-" + base + "-" + key + "-name";
        keyInput.setAttribute("data-field-alias", base + "." + key);
        row.querySelectorAll("[data-rel]").forEach(function (input) {
          var rel = input.getAttribute("data-rel"), path = base + "." + key + "." + rel;
          input.setAttribute("data-path", path);
          input.id = "f-" + path.replace(/\./g, "-");
          var isMap = value !== null && typeof value === "object" && !Array.isArray(value);
          show(input, isMap ? value[rel] : (rel === "default" ? value : undefined));
          input.setAttribute("aria-label", input.getAttribute("aria-label") + " of " + key);
        });
        row.querySelector("[data-remove]").setAttribute("aria-label", "Remove parameter " + key);
        box.appendChild(row);
      });
    });
  }
  function renameKey(base, oldKey, newKey) {
    var node = doc.getIn([base], true);
    if (!YAML.isMap(node) || !newKey || oldKey === newKey) { return false; }
    if (node.items.some(function (p) { return String(plain(p.key)) === newKey; })) { return false; }
    node.items.forEach(function (p) { if (String(plain(p.key)) === oldKey) { p.key = doc.createNode(newKey); } });
    return true;
  }
  function rowIndex(el) { var row = el.closest("[data-index]"); return row ? Number(row.getAttribute("data-index")) : -1; }

  formBox.addEventListener("click", function (event) {
    var b = event.target.closest("button");
    if (!b || !doc) { return; }
    var list = b.closest("[data-list]"), map = b.closest("[data-map]");
    if (b.hasAttribute("data-add")) {
      var base = b.getAttribute("data-add");
      var fresh = base === "steps" ? { task: "" } : { type: "local", path: "" };
      var seqNode = doc.getIn([base], true);
      if (YAML.isSeq(seqNode)) { seqNode.flow = false; seqNode.items.push(doc.createNode(fresh)); }
      else { doc.setIn([base], doc.createNode([fresh])); }
      structural(base + "." + ((get(base) || []).length - 1));
    } else if (b.hasAttribute("data-add-map")) {
      var mapBase = b.getAttribute("data-add-map"), current = get(mapBase) || {}, n = 1;
      while (Object.prototype.hasOwnProperty.call(current, "param" + n)) { n++; }
      ensureParents([mapBase, "x"]);
      doc.setIn([mapBase, "param" + n], doc.createNode({ "default": "" }));
      structural(mapBase + ".param" + n + ".default", "f-" + mapBase + "-param" + n + "-name");
    } else if (b.hasAttribute("data-remove") && list) {
      doc.deleteIn([list.getAttribute("data-list"), rowIndex(b)]);
      structural(null, null, list);
    } else if (b.hasAttribute("data-remove") && map) {
      doc.deleteIn([map.getAttribute("data-map"), b.closest("[data-key]").getAttribute("data-key")]);
      pruneEmpty([map.getAttribute("data-map")]);
      structural(null, null, map);
    } else if (b.hasAttribute("data-move") && list) {
      var at = rowIndex(b), to = at + Number(b.getAttribute("data-move"));
      var items = doc.getIn([list.getAttribute("data-list")], true).items;
      if (to < 0 || to >= items.length) { return; }
      var moved = items.splice(at, 1)[0];
      items.splice(to, 0, moved);
      structural(null, null, null);
      var again = list.querySelectorAll("[data-index]")[to];
      var button = again && again.querySelector("[data-move='" + b.getAttribute("data-move") + "']");
      (button && !button.disabled ? button : again && again.querySelector("[data-move]:not(:disabled)") || list).focus();
    }
  });
  function structural(focusPath, focusId, container) {
    changed("form");
    fillForm();
    var target = focusId ? document.getElementById(focusId) :
      focusPath ? formBox.querySelector("[data-path='" + focusPath + "'], [data-path^='" + focusPath + ".']") : null;
    if (target) { target.focus(); } else if (container) {
      var first = container.querySelector("input, select, button");
      (first || container.closest("fieldset").querySelector("button")).focus();
    }
  }

  formBox.addEventListener("input", onInput);
  formBox.addEventListener("change", onInput);
  function onInput(event) {
    var input = event.target;
    if (!doc) { return; }
    if (input.hasAttribute("data-param-key")) {
      if (event.type !== "change") { return; }
      var row = input.closest("[data-key]"), base = input.closest("[data-map]").getAttribute("data-map");
      if (renameKey(base, row.getAttribute("data-key"), input.value.trim())) { structural(null, input.id.replace(/[^-]+-name$/, input.value.trim() + "-name")); }
      else { input.value = row.getAttribute("data-key"); }
      var renamed = document.getElementById("f-" + base + "-" + input.value.trim() + "-name");
      if (renamed) { renamed.focus(); }
      return;
    }
    if (input.closest("[data-schedule]") && !input.hasAttribute("data-path")) { scheduleParts(); return; }
    var path = input.getAttribute("data-path");
    if (!path) { return; }
    if (input.tagName === "SELECT" || input.type === "checkbox" ? event.type !== "change" : event.type !== "input") { return; }
    var value = read(input);
    if (value === undefined) { return; }  /* JSON being typed: keep the last good value */
    if (input.getAttribute("data-kind") === "bool" && value === (input.getAttribute("data-default") === "true") &&
        !doc.hasIn(keyPath(path))) { toggleSections(); return; }
    set(path, value);
    if (path === "source.type" || input.closest("[data-show]") === null) { toggleSections(); }
  }

  /* ------------------------------------------------------------------ schedule and Generate and Apply */
  var schedBox = formBox.querySelector("[data-schedule]");
  function el(sel) { return schedBox.querySelector(sel); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function scheduleFromDoc() {
    var value = get("schedule"), m, modeSel = el("[data-sched-mode]");
    value = value === undefined || value === null ? "" : String(value).trim();
    if (!value || value === "none") { modeSel.value = "manual"; }
    else if ((m = /^(\d{1,2}) (\d{1,2}) \* \* \*$/.exec(value))) {
      modeSel.value = "daily"; el("[data-sched-time]").value = pad(+m[2]) + ":" + pad(+m[1]);
    } else if ((m = /^(\d{1,2}) (\d{1,2}) \* \* ([0-6]|1-5)$/.exec(value))) {
      modeSel.value = "weekly"; el("[data-sched-time]").value = pad(+m[2]) + ":" + pad(+m[1]);
      el("[data-sched-weekday]").value = m[3];
    } else if ((m = /^(\d{1,2}) (\d{1,2}) (\d{1,2}) \* \*$/.exec(value))) {
      modeSel.value = "monthly"; el("[data-sched-time]").value = pad(+m[2]) + ":" + pad(+m[1]);
      el("[data-sched-day]").value = m[3];
    } else { modeSel.value = "custom"; }
    scheduleParts();
  }
  function scheduleParts() {
    var current = el("[data-sched-mode]").value;
    schedBox.querySelectorAll("[data-sched-part]").forEach(function (part) {
      part.hidden = part.getAttribute("data-sched-part").split(" ").indexOf(current) < 0 && current !== "custom" ||
        current === "custom" && part.getAttribute("data-sched-part") !== "custom";
    });
    if (current !== "custom") {
      var cronPart = schedBox.querySelector("[data-sched-part='custom']");
      cronPart.hidden = current === "manual";
      schedBox.querySelector("#f-schedule").readOnly = current !== "custom";
    } else { schedBox.querySelector("#f-schedule").readOnly = false; }
  }
  function generated() {
    var current = el("[data-sched-mode]").value;
    var time = (el("[data-sched-time]").value || "06:00").split(":"), h = +time[0], mi = +time[1];
    if (current === "manual") { return ""; }
    if (current === "daily") { return mi + " " + h + " * * *"; }
    if (current === "weekly") { return mi + " " + h + " * * " + el("[data-sched-weekday]").value; }
    if (current === "monthly") { return mi + " " + h + " " + (el("[data-sched-day]").value || "1") + " * *"; }
    return schedBox.querySelector("#f-schedule").value.trim();
  }
  el("[data-sched-apply]").addEventListener("click", function () {
    if (!doc) { return; }
    var expr = generated(), out = el("[data-sched-result]");
    schedBox.querySelector("#f-schedule").value = expr;
    set("schedule", expr || null);
    if (!expr) { out.textContent = "Manual only: no schedule."; return; }
    var tz = String(get("timezone") || "") || "UTC";
    out.textContent = "Checking…";
    fetch(cfg.api + "/cron/describe?" + new URLSearchParams({ expr: expr, tz: tz, count: "3" }),
          { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        out.textContent = res.ok ? "Applied " + expr + ": " + res.body.description + ". Next: " +
          res.body.next.join(", ") + " (" + res.body.timezone + ")" : "Applied " + expr + ": " + (res.body.detail || "invalid");
      })
      .catch(function () { out.textContent = "Applied " + expr + "."; });
  });

  /* ------------------------------------------------------------------ query preview (never executes) */
  var previewButton = formBox.querySelector("[data-preview-run]");
  if (previewButton) {
    previewButton.addEventListener("click", function () {
      var out = formBox.querySelector("[data-preview-out]"), body = { yaml: text() };
      var args = formBox.querySelector("[data-preview-args]").value.trim();
      var date = formBox.querySelector("[data-preview-date]").value;
      if (args) { body.args = args; }
      if (date) { body.date = date; }
      out.textContent = "Preparing…";
      api("POST", "/definitions/query-preview", body).then(function (res) {
        out.textContent = "";
        if (!res.ok) {
          var err = document.createElement("p"); err.className = "field-error"; err.textContent = messages(res.body).join("; ");
          out.appendChild(err); return;
        }
        var r = res.body;
        if (r.note) { var note = document.createElement("p"); note.className = "help"; note.textContent = r.note; out.appendChild(note); }
        if (r.query !== null && r.query !== undefined) {
          var pre = document.createElement("pre"); pre.className = "code"; pre.textContent = r.query; out.appendChild(pre);
        }
        if (r.removed && r.removed.length) {
          var rm = document.createElement("p"); rm.textContent = "Removed before it runs: " + r.removed.join(", "); out.appendChild(rm);
        }
        if (r.parameters && r.parameters.length) {
          var table = document.createElement("table"); table.className = "mini";
          var head = table.createTHead().insertRow();
          ["Placeholder", "Argument", "Value"].forEach(function (h) { var th = document.createElement("th"); th.scope = "col"; th.textContent = h; head.appendChild(th); });
          var tbody = table.createTBody();
          r.parameters.forEach(function (p) {
            var row = tbody.insertRow();
            [p.placeholder, p.name, JSON.stringify(p.value)].forEach(function (v) { row.insertCell().textContent = String(v); });
          });
          out.appendChild(table);
        }
        var meta = document.createElement("p"); meta.className = "help";
        meta.textContent = "Placeholders: " + r.paramstyle + (r.date ? "; date " + r.date : "") + ".";
        out.appendChild(meta);
      }).catch(function () { out.textContent = "The preview request failed."; });
    });
  }

  /* ------------------------------------------------------------------ pickers */
  function options(id, values) {
    var list = document.getElementById(id);
    if (!list || !values) { return; }
    list.textContent = "";
    values.forEach(function (v) { var o = document.createElement("option"); o.value = v; list.appendChild(o); });
  }
  var connections = null, completions = { connections: [], tasks: [] };
  var FILE_TYPES = { sftp: ["sftp", "ssh"], ftp: ["ftp", "ftps"], smb: ["samba", "smb"], local: [] };
  function sourceTypes(type) {
    if (type === "ssh") { return ["ssh", "sftp"]; }
    if (type === "http") { return ["http", "https"]; }
    if (type === "sql") { return null; }  /* any database: everything but file and http transports */
    return [];
  }
  function fillConnections(list, types) {
    if (!connections) { return; }
    var ids = connections.filter(function (c) {
      if (types === null) { return ["sftp", "ssh", "ftp", "ftps", "samba", "smb", "http", "https", "email", "smtp"].indexOf(c.conn_type) < 0; }
      return types.indexOf(c.conn_type) >= 0;
    }).map(function (c) { return c.conn_id; });
    options(list.id, ids);
  }
  function picker(path, use) {
    fetch(cfg.api + "/pickers/" + path, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) { if (body) { use(body); } })
      .catch(function () { /* no pickers: the fields stay free text */ });
  }
  function loadPickers() {
    picker("connections", function (body) {
      connections = body.connections || [];
      options("dl-conn-all", connections.map(function (c) { return c.conn_id; }));
      options("dl-conn-file", connections.filter(function (c) {
        return [].concat(FILE_TYPES.sftp, FILE_TYPES.ftp, FILE_TYPES.smb).indexOf(c.conn_type) >= 0;
      }).map(function (c) { return c.conn_id; }));
      toggleSections();
      if (editor && editor.setCompletions) { completions.connections = connections.map(function (c) { return c.conn_id; }); editor.setCompletions(completions); }
    });
    picker("timezones", function (body) { options("dl-timezones", body.timezones); });
    picker("projects", function (body) { options("dl-projects", (body.projects || []).map(function (p) { return p.name; })); });
    picker("tasks", function (body) {
      var names = (body.tasks || []).map(function (t) { return t.name; });
      options("dl-tasks", names);
      if (editor && editor.setCompletions) { completions.tasks = names; editor.setCompletions(completions); }
    });
    picker("variables", function (body) { options("dl-variables", body.variables); });
  }

  /* ------------------------------------------------------------------ validation */
  function changed(from) {
    if (from === "form" && doc) { setText(doc.toString()); }
    savedBox.hidden = true;
    updateChain();
    valid = false;
    updateSave();
    window.clearTimeout(timer);
    timer = window.setTimeout(validate, 400);
  }
  function updateSave() {
    if (!saveButton) { return; }
    saveButton.disabled = !cfg.writable || !valid || checking;
    stateEl.textContent = checking ? "Checking…" : valid ? "Valid" : "Not valid yet";
  }
  function api(method, path, body) {
    return fetch(cfg.api + path, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var parsed = null;
        try { parsed = t ? JSON.parse(t) : null; } catch (e) { parsed = { detail: t }; }
        return { status: r.status, ok: r.ok, body: parsed };
      });
    });
  }
  function validate() {
    var mine = ++seq;
    checking = true; updateSave();
    var local = YAML ? YAML.parseDocument(text(), YAML_OPTIONS) : null;
    if (local && local.errors.length) {
      checking = false;
      showErrors(local.errors.map(function (e) {
        return { line: e.linePos && e.linePos[0] ? e.linePos[0].line : 1, field: "", message: e.message.split("\n")[0] };
      }));
      return;
    }
    var body = { yaml: text() }, fresh = nameOf();
    /* a new definition is checked as the file Save creates (<name>.yaml), so a name in use is an error now */
    if (mode === "new" && /^[A-Za-z0-9_.-]+$/.test(fresh)) { body.file = fresh + ".yaml"; }
    api("POST", "/definitions/validate", body).then(function (res) {
      if (mine !== seq) { return; }
      checking = false;
      if (res.ok) {
        valid = !!res.body.valid;
        showErrors((res.body.errors || []).map(parseError));
      } else {
        valid = false;
        showErrors(messages(res.body).map(function (m) { return { line: 0, field: "", message: m }; }));
      }
      updateSave();
    }).catch(function () {
      if (mine !== seq) { return; }
      checking = false; valid = false; updateSave();
      showErrors([{ line: 0, field: "", message: "The validation request failed: check the connection and try again." }]);
    });
  }
  function messages(body) {
    if (!body) { return ["Unknown error"]; }
    var out = [];
    if (typeof body.detail === "string") { out.push(body.detail); }
    else if (Array.isArray(body.detail)) { body.detail.forEach(function (d) { out.push(d.msg || JSON.stringify(d)); }); }
    (body.errors || []).forEach(function (e) { out.push(e); });
    return out.length ? out : [JSON.stringify(body)];
  }
  var ERROR_RE = /^(.*?):(\d+): (?:warning: )?(?:([A-Za-z_][\w.\[\]-]*): )?([\s\S]*)$/;
  function parseError(line) {
    var m = ERROR_RE.exec(line);
    if (!m) { return { line: 0, field: "", message: line }; }
    var at = Number(m[2]) - (cfg.line_offset || 0);
    return { line: at > 0 ? at : 1, field: (m[3] || "").replace(/\[(\d+)\]/g, ".$1"), message: m[4], text: line };
  }
  function fieldInput(field) {
    if (!field) { return null; }
    var parts = field.split(".");
    for (var n = parts.length; n > 0; n--) {
      var path = parts.slice(0, n).join(".");
      var hit = formBox.querySelector("[data-path='" + path + "'], [data-field-alias='" + path + "']");
      if (hit && !hit.closest("[hidden]")) { return hit; }
      var box = formBox.querySelector("[data-field='" + path + "']");
      if (box && !box.closest("[hidden]")) { return box.querySelector("input, select, textarea, button"); }
    }
    return null;
  }
  function showErrors(list) {
    formBox.querySelectorAll(".auth-error").forEach(function (e) { e.remove(); });
    formBox.querySelectorAll("[aria-invalid]").forEach(function (e) {
      e.removeAttribute("aria-invalid");
      var by = (e.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id.indexOf("err-") !== 0; });
      if (by.length) { e.setAttribute("aria-describedby", by.join(" ")); } else { e.removeAttribute("aria-describedby"); }
    });
    errorsBox.textContent = "";
    errorsBox.hidden = list.length === 0;
    if (list.length) {
      var p = document.createElement("p"); p.textContent = list.length === 1 ? "1 problem:" : list.length + " problems:";
      var ul = document.createElement("ul");
      list.forEach(function (e) {
        var li = document.createElement("li");
        li.textContent = (e.line ? "line " + e.line + ": " : "") + (e.field ? e.field + ": " : "") + e.message;
        ul.appendChild(li);
      });
      errorsBox.appendChild(p); errorsBox.appendChild(ul);
    }
    list.forEach(function (e, i) {
      var input = fieldInput(e.field);
      if (!input) { return; }
      var msg = document.createElement("p");
      msg.className = "field-error auth-error";
      msg.id = "err-" + i;
      msg.textContent = e.message;
      input.setAttribute("aria-invalid", "true");
      var closed = input.closest("details");
      if (closed) { closed.open = true; }
      input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + msg.id).trim());
      var holder = input.closest(".field, td") || input.parentNode;
      holder.appendChild(msg);
    });
    if (editor && editor.setDiagnostics) {
      editor.setDiagnostics(list.filter(function (e) { return e.line; }).map(function (e) {
        return { line: e.line, message: (e.field ? e.field + ": " : "") + e.message };
      }));
    }
  }

  /* ------------------------------------------------------------------ save */
  function kindOf() { return doc ? String(get("kind") || cfg.kind) : cfg.kind; }
  function nameOf() {
    if (doc) { return String(get("name") || ""); }
    var m = /^name:\s*["']?([^"'\s#]+)/m.exec(text());
    return m ? m[1] : "";
  }
  if (saveButton) {
    saveButton.addEventListener("click", function () {
      if (saveButton.disabled) { return; }
      if (tab === "yaml") { doc = parse() || doc; }
      var kind = kindOf(), newName = nameOf();
      saveButton.disabled = true;
      stateEl.textContent = "Saving…";
      var call = mode === "new" ? api("POST", "/definitions", { yaml: text() }) :
        api("PUT", "/definitions/" + encodeURIComponent(cfg.kind) + "/" + encodeURIComponent(name), { yaml: text() });
      call.then(function (res) {
        if (!res.ok) {
          valid = res.status >= 500;
          showErrors(messages(res.body).map(function (m) { var e = parseError(m); return e; }));
          stateEl.textContent = "Not saved";
          updateSave();
          return;
        }
        mode = "edit"; name = res.body && res.body.name || newName;
        if (res.body && res.body.line) { cfg.line_offset = Math.max(res.body.line - 1 - leadingComments(), 0); }
        window.history.replaceState(null, "", cfg.ui + "/definitions/edit/" + encodeURIComponent(kind) + "/" + encodeURIComponent(name));
        savedMessage(kind, name, res.body);
        stateEl.textContent = "Saved";
        updateSave();
      }).catch(function () {
        stateEl.textContent = "Not saved: the request failed";
        updateSave();
      });
    });
  }
  function leadingComments() {
    var lines = text().split("\n"), n = 0;
    while (n < lines.length && (!lines[n].trim() || lines[n].trim().charAt(0) === "#")) { n++; }
    return n;
  }
  function link(href, label, airflow) {
    var a = document.createElement("a");
    a.href = href; a.textContent = label;
    if (airflow) { a.setAttribute("data-airflow-link", ""); }
    return a;
  }
  function savedMessage(kind, savedName, body) {
    savedBox.textContent = "";
    var when = cfg.parse_seconds ? "within about " + cfg.parse_seconds + " s (Airflow re-reads the definitions every " +
      "[dag_processor] min_file_process_interval)" : "at Airflow's next parse of the definitions";
    var p = document.createElement("p");
    p.textContent = "Saved" + (body && body.file ? " to " + body.file : "") + ". Airflow picks the change up " + when + "; " +
      (kind === "project" ? "the project's DAG follows." : "the DAG appears or changes then.");
    savedBox.appendChild(p);
    var links = document.createElement("p");
    if (kind === "task") { links.appendChild(link(cfg.task_link + encodeURIComponent(savedName), "Task Details")); }
    if (kind === "orchestration") { links.appendChild(link(cfg.orchestration_link + encodeURIComponent(savedName), "Orchestration")); }
    if (links.childNodes.length) { links.appendChild(document.createTextNode(" · ")); }
    var dagId = kind === "project" ? "project__" + savedName : savedName;
    links.appendChild(link(cfg.airflow_dags + encodeURIComponent(dagId), "Airflow's DAG page", true));
    savedBox.appendChild(links);
    savedBox.hidden = false;
  }

  /* ------------------------------------------------------------------ tabs, editor, chain */
  function updateChain() {
    if (!chainBox || !bundle || !bundle.chain) { return; }
    var current = YAML ? YAML.parseDocument(text(), YAML_OPTIONS) : null;
    if (!current || current.errors.length) { return; }
    var data = current.toJSON() || {};
    try {
      if (!chain) { chain = bundle.chain(chainBox, data); } else { chain.update(data); }
    } catch (e) { /* a half-typed definition: keep the last picture */ }
  }
  function switchTo(which) {
    if (which === tab) { return; }
    if (which === "form") {
      var parsed = parse();
      if (!parsed) {
        stateEl.textContent = "Fix the YAML first: it does not parse";
        return;
      }
      doc = parsed;
      fillForm();
    } else if (doc) {
      setText(doc.toString());
    }
    tab = which;
    root.querySelectorAll("[data-tab]").forEach(function (b) {
      var on = b.getAttribute("data-tab") === which;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    });
    root.querySelectorAll("[data-panel]").forEach(function (p) { p.hidden = p.getAttribute("data-panel") !== which; });
    if (which === "yaml" && editor) { editor.focus(); }
  }
  root.querySelectorAll("[data-tab]").forEach(function (b) {
    b.addEventListener("click", function () { switchTo(b.getAttribute("data-tab")); });
    b.addEventListener("keydown", function (event) {
      if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") { return; }
      var other = root.querySelector("[data-tab]:not([data-tab='" + b.getAttribute("data-tab") + "'])");
      switchTo(other.getAttribute("data-tab"));
      other.focus();
    });
  });
  root.querySelector("[data-tab='yaml']").tabIndex = -1;
  textarea.addEventListener("input", function () { changed("yaml"); });

  if (bundle && bundle.mount) {
    try {
      editor = bundle.mount(textarea, {
        schema: cfg.schema, completions: { connections: [], tasks: [] }, readOnly: !cfg.writable,
        onChange: function () { changed("yaml"); }
      });
    } catch (e) { editor = null; }
  }
  if (YAML) {
    doc = parse();
    if (doc) { fillForm(); } else { switchTo("yaml"); }
    formBox.disabled = !cfg.writable;  /* typing before the definition was read would be overwritten */
  } else {
    root.querySelector("[data-form-missing]").hidden = false;
    formBox.hidden = true;
    switchTo("yaml");
    root.querySelector("[data-tab='form']").disabled = true;
  }
  loadPickers();
  updateChain();
  validate();
  root.setAttribute("data-ready", "");
})();
