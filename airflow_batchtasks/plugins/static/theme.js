/* Batch Tasks pages: follow Airflow's light/dark mode and colors before the first paint.
 *
 * Inside Airflow's UI the page is a same-origin iframe, so it can read the parent's
 * <html class="dark|light"> (next-themes, Airflow's switch) and its Chakra color variables,
 * and watch them change. Standalone it falls back to Airflow's stored choice
 * (localStorage "theme"), then to prefers-color-scheme (ui.css).
 */
(function () {
  "use strict";
  var root = document.documentElement;
  var VARS = {
    "--bt-bg": "--chakra-colors-bg",
    "--bt-fg": "--chakra-colors-fg",
    "--bt-muted": "--chakra-colors-fg-muted",
    "--bt-border": "--chakra-colors-border",
    "--bt-subtle": "--chakra-colors-bg-subtle",
    "--bt-panel": "--chakra-colors-bg-panel",
    "--bt-font": "--chakra-fonts-body",
    "--bt-accent": "--chakra-colors-brand-solid",
    "--bt-accent-fg": "--chakra-colors-brand-contrast",
    "--bt-link": "--chakra-colors-fg-info",
    "--bt-focus": "--chakra-colors-brand-focus-ring"
  };
  /* our statuses use Airflow's own state colors: New = queued, Processing = running, ... */
  var STATES = { "new": "queued", "processing": "running", "retry": "up_for_retry", "finished": "success",
                 "failed": "failed", "skipped": "skipped" };
  Object.keys(STATES).forEach(function (ours) {
    VARS["--st-" + ours] = "--chakra-colors-" + STATES[ours] + "-fg";
    VARS["--st-" + ours + "-bg"] = "--chakra-colors-" + STATES[ours] + "-subtle";
    VARS["--st-" + ours + "-dot"] = "--chakra-colors-" + STATES[ours] + "-solid";
  });

  function parentRoot() {
    try {
      if (window.parent !== window && window.parent.document) { return window.parent.document.documentElement; }
    } catch (e) { /* another origin: ignore */ }
    return null;
  }

  function mode(parent) {
    if (parent) {
      if (parent.classList.contains("dark")) { return "dark"; }
      if (parent.classList.contains("light")) { return "light"; }
    }
    try {
      var stored = window.localStorage.getItem("theme");
      if (stored === "dark" || stored === "light") { return stored; }
    } catch (e) { /* storage blocked */ }
    return null;
  }

  function apply() {
    var parent = parentRoot();
    var m = mode(parent);
    root.classList.toggle("dark", m === "dark");
    root.classList.toggle("light", m === "light");
    if (!parent) { return; }
    var style = window.parent.getComputedStyle(parent);
    Object.keys(VARS).forEach(function (ours) {
      var value = style.getPropertyValue(VARS[ours]).trim();
      if (value) { root.style.setProperty(ours, value); } else { root.style.removeProperty(ours); }
    });
  }

  apply();
  var parent = parentRoot();
  if (parent && window.MutationObserver) {
    new MutationObserver(apply).observe(parent, { attributes: true, attributeFilter: ["class", "style"] });
  }
  window.addEventListener("storage", function (event) { if (event.key === "theme") { apply(); } });
})();
