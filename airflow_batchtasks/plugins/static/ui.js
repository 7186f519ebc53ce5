/* Batch Tasks pages: small progressive enhancements; every page works without this file.
 *
 * - links to Airflow's own pages open in Airflow's UI around the frame, not inside it
 *   (the frame may not navigate the top window, so Airflow's router is told instead);
 * - select-all and live counts for the bulk actions;
 * - times shown in the time zone chosen in Airflow's UI;
 * - pages with work in progress refresh their live sections every few seconds;
 * - the cron helper explains the expression while it is typed (the REST API's /cron/describe).
 */
(function () {
  "use strict";

  /* ------------------------------------------------------------------ links into Airflow's UI */
  function inAirflowFrame() {
    try { return window.parent !== window && !!window.parent.document && !!window.parent.history; }
    catch (e) { return false; }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-airflow-link]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey ||
        event.shiftKey || event.altKey || !inAirflowFrame()) { return; }
    var url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin) { return; }
    event.preventDefault();
    window.parent.history.pushState(null, "", url.pathname + url.search + url.hash);
    window.parent.dispatchEvent(new window.parent.PopStateEvent("popstate", { state: null }));
  });

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-login-link]");
    if (!link || !inAirflowFrame()) { return; }
    event.preventDefault();
    window.parent.location.reload();  /* Airflow's own UI sends an expired session to its login */
  });

  /* ------------------------------------------------------------------ bulk selection */
  function setUpBulk(form) {
    if (form.hasAttribute("data-bulk-ready")) { return; }
    form.setAttribute("data-bulk-ready", "");
    /* checkboxes of this form: inside it, or outside with form="<its id>"; looked up each time
       because the live refresh replaces the table rows */
    function owns(box) { return form.contains(box) || (form.id && box.getAttribute("form") === form.id); }
    function all() {
      return Array.prototype.filter.call(document.querySelectorAll("[data-select-all]"), owns)[0] || null;
    }
    function boxes() {
      return Array.prototype.filter.call(document.querySelectorAll("input[type=checkbox]"), function (b) {
        return owns(b) && !b.hasAttribute("data-select-all") && !b.hasAttribute("data-scope-all");
      });
    }
    var scope = form.querySelector("[data-scope-all]");
    var label = form.querySelector("[data-selected-count]");
    var buttons = form.querySelectorAll("[data-bulk-button]");
    var empty = label ? label.textContent : "";

    function update() {
      var list = boxes();
      var head = all();
      var checked = list.filter(function (b) { return b.checked; }).length;
      var everything = scope && scope.checked;
      if (head) {
        head.checked = list.length > 0 && checked === list.length;
        head.indeterminate = checked > 0 && checked < list.length;
      }
      if (label) {
        label.textContent = everything ? (scope.getAttribute("data-scope-label") || "All tasks matching the filters.") : (checked ? checked + " selected." : empty);
      }
      buttons.forEach(function (b) {
        b.textContent = b.getAttribute("data-bulk-button") + " " + (everything ? "all matching" : String(checked));
        b.disabled = !everything && checked === 0;
      });
    }
    document.addEventListener("change", function (event) {
      var t = event.target;
      if (!document.contains(form) || !t.matches || !t.matches("input[type=checkbox]") || !owns(t)) { return; }
      if (t.hasAttribute("data-select-all")) { boxes().forEach(function (b) { b.checked = t.checked; }); }
      update();
    });
    update();
  }

  /* ------------------------------------------------------------------ times in Airflow's zone */
  function airflowZone() {
    try {
      var raw = window.localStorage.getItem("timezone");
      if (!raw) { return null; }
      var zone = raw.charAt(0) === '"' ? JSON.parse(raw) : raw;
      new Intl.DateTimeFormat("en-US", { timeZone: zone });
      return zone;
    } catch (e) { return null; }
  }

  function localizeTimes(scope) {
    var zone = airflowZone();
    if (!zone || zone === "UTC") { return; }
    var format = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"
    });
    scope.querySelectorAll("time[datetime]").forEach(function (el) {
      var parts = {};
      format.formatToParts(new Date(el.getAttribute("datetime"))).forEach(function (p) { parts[p.type] = p.value; });
      el.title = el.textContent;
      el.textContent = parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
        parts.minute + ":" + parts.second + " " + (parts.timeZoneName || zone);
    });
  }

  /* ------------------------------------------------------------------ live refresh */
  function busy(section) {
    return section.contains(document.activeElement) && document.activeElement !== section ||
      section.querySelector("input[type=checkbox]:checked") !== null;
  }

  function startPolling(main) {
    var every = parseInt(main.getAttribute("data-poll"), 10);
    if (!every) { return; }
    var timer = window.setInterval(function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(window.location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live][id]").forEach(function (old) {
            var replacement = fresh.getElementById(old.id);
            if (replacement && !busy(old)) {
              old.replaceWith(replacement);
              localizeTimes(replacement);
              replacement.querySelectorAll("form[data-bulk]").forEach(setUpBulk);
            }
          });
          var freshMain = fresh.getElementById("main");
          if (!freshMain || !freshMain.getAttribute("data-poll")) {
            window.clearInterval(timer);
            main.removeAttribute("data-poll");
          }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }, every);
  }

  /* ------------------------------------------------------------------ cron helper */
  function setUpCron(form) {
    var expr = document.querySelector("[data-cron-expr]");
    var result = document.querySelector("[data-cron-result]");
    var api = form.getAttribute("data-api");
    if (!expr || !result || !api) { return; }
    var fields = form.querySelectorAll("[data-cron-field]");
    var tz = form.querySelector("[data-cron-tz]");
    var count = form.querySelector("[data-cron-count]");
    var pending = null;

    function render(data, error) {
      result.textContent = "";
      if (error) {
        var p = document.createElement("p");
        p.className = "field-error";
        p.textContent = error;
        result.appendChild(p);
        return;
      }
      var explain = document.createElement("p");
      explain.className = "explain";
      explain.textContent = data.description + " ";
      var zone = document.createElement("span");
      zone.className = "muted";
      zone.textContent = "(" + data.timezone + ")";
      explain.appendChild(zone);
      var usage = document.createElement("p");
      usage.textContent = "In a definition: ";
      var code = document.createElement("code");
      code.textContent = 'schedule: "' + data.expression + '"' + (data.timezone !== "UTC" ? " with timezone: " + data.timezone : "");
      usage.appendChild(code);
      var h = document.createElement("h3");
      h.textContent = "Next fire times";
      var list = document.createElement("ol");
      list.className = "plain";
      data.next.forEach(function (t) {
        var li = document.createElement("li");
        var c = document.createElement("code");
        c.textContent = t;
        li.appendChild(c);
        list.appendChild(li);
      });
      [explain, usage, h, list].forEach(function (el) { result.appendChild(el); });
    }

    function explainNow() {
      var params = new URLSearchParams({ expr: expr.value, tz: (tz && tz.value) || "UTC", count: (count && count.value) || "5" });
      fetch(api + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (r) { render(r.body, r.ok ? null : (r.body.detail || "invalid expression")); })
        .catch(function () { /* keep the last answer */ });
    }

    function later() { window.clearTimeout(pending); pending = window.setTimeout(explainNow, 250); }

    fields.forEach(function (input) {
      input.addEventListener("input", function () {
        expr.value = Array.prototype.map.call(fields, function (f) { return f.value.trim() || "*"; }).join(" ");
        later();
      });
    });
    expr.addEventListener("input", function () {
      var parts = expr.value.trim().split(/\s+/);
      if (parts.length === fields.length) { fields.forEach(function (f, i) { f.value = parts[i]; }); }
      later();
    });
    [tz, count].forEach(function (el) { if (el) { el.addEventListener("input", later); } });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-bulk]").forEach(setUpBulk);
    localizeTimes(document);
    var main = document.getElementById("main");
    if (main) { startPolling(main); }
    var cron = document.querySelector("form[data-cron]");
    if (cron) { setUpCron(cron); }
  });
})();

/* ---- actions (Task Details): the reschedule form describes its cron expression as it is typed ---- */
(function () {
  "use strict";

  function setUpReschedule(form) {
    var cron = form.querySelector("input[name=cron]");
    var tz = form.querySelector("input[name=timezone]");
    var out = form.querySelector("[aria-live]");
    var modes = form.querySelectorAll("input[name=mode]");
    var url = form.getAttribute("data-describe");
    var pending = null;
    if (!cron || !out || !url) { return; }

    function manual() {
      var chosen = form.querySelector("input[name=mode]:checked");
      return chosen && chosen.value === "manual";
    }

    function describe() {
      cron.disabled = manual();
      if (manual()) { out.textContent = "Manual only: runs when someone starts it."; return; }
      if (!cron.value.trim()) { out.textContent = "Give a cron expression."; return; }
      var query = "?expr=" + encodeURIComponent(cron.value.trim()) + "&tz=" + encodeURIComponent(tz.value.trim() || "UTC") + "&count=3";
      fetch(url + query, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (r) {
          if (!r.ok) { out.textContent = r.body.detail || "Invalid expression."; cron.setAttribute("aria-invalid", "true"); return; }
          cron.removeAttribute("aria-invalid");
          out.textContent = r.body.description + " (" + r.body.timezone + "). Next: " + (r.body.next || []).join(", ");
        })
        .catch(function () { /* the server checks it again on submit */ });
    }

    function later() { window.clearTimeout(pending); pending = window.setTimeout(describe, 250); }
    cron.addEventListener("input", later);
    if (tz) { tz.addEventListener("change", later); }
    Array.prototype.forEach.call(modes, function (m) { m.addEventListener("change", describe); });
    cron.disabled = manual();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-reschedule]").forEach(setUpReschedule);
  });
})();

/* ---- run page: a step's log tail refreshes from the REST API while the step is unfinished ---- */
(function () {
  "use strict";
  var EVERY = 3000;

  function follow(pre) {
    var url = pre.getAttribute("data-log-api");
    var status = document.querySelector("[data-log-status]");
    if (!url) { return; }
    pre.scrollTop = pre.scrollHeight;
    var timer = window.setInterval(function () {
      if (document.visibilityState !== "visible") { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (tail) {
          if (!tail) { return; }
          var atEnd = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
          pre.textContent = tail.lines.join("\n");
          if (atEnd) { pre.scrollTop = pre.scrollHeight; }
          if (!tail.running) {
            window.clearInterval(timer);
            pre.removeAttribute("data-running");
            if (status) { status.textContent = "The step ended (" + tail.state + "), try " + tail.try_number + "."; }
          } else if (status) {
            status.textContent = "The step is " + (tail.state || "waiting") + ": this refreshes every few seconds.";
          }
        })
        .catch(function () { /* offline for a moment: try again next tick */ });
    }, EVERY);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("pre[data-log-tail]").forEach(function (pre) {
      pre.scrollTop = pre.scrollHeight;
      if (pre.hasAttribute("data-running")) { follow(pre); }
    });
  });
})();
