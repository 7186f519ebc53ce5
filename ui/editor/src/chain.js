// A picture of an orchestration's chain: its steps in order, each box with the task name and its
// `starts_after` time and time zone, an arrow to the next step saying when that step runs
// ("on success", or "always (run on parent failure)" when it has run_on_parent_failure).
// Plain DOM and SVG, styled by editor.css (no style attributes: the pages' CSP forbids them).

const SVG = "http://www.w3.org/2000/svg";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function arrow() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "bt-chain-arrow-icon");
  svg.setAttribute("viewBox", "0 0 16 28");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "28");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const line = document.createElementNS(SVG, "line");
  line.setAttribute("x1", "8"); line.setAttribute("y1", "0");
  line.setAttribute("x2", "8"); line.setAttribute("y2", "20");
  const head = document.createElementNS(SVG, "polygon");
  head.setAttribute("points", "2,18 14,18 8,27");
  svg.append(line, head);
  return svg;
}

function text(value) {
  if (value === null || value === undefined || typeof value === "object") return "";
  return String(value);
}

function normalise(orchestration, parse) {
  let obj = orchestration;
  if (typeof obj === "string" && parse) {
    try { obj = parse(obj); } catch (e) { obj = null; }
  }
  if (obj === null || obj === undefined) return { steps: [], timezone: "UTC", valid: true };
  if (typeof obj !== "object" || Array.isArray(obj)) return { steps: [], timezone: "UTC", valid: false };
  const steps = Array.isArray(obj.steps) ? obj.steps : [];
  return {
    name: typeof obj.name === "string" ? obj.name : "",
    timezone: obj.timezone ? text(obj.timezone) : "UTC",
    steps: steps.map((s) => (s && typeof s === "object" && !Array.isArray(s) ? s : { task: text(s) })),
    valid: Array.isArray(obj.steps),
  };
}

function render(container, orchestration, parse) {
  const { steps, timezone, valid } = normalise(orchestration, parse);
  const list = el("ol", "bt-chain-list");
  list.setAttribute("aria-label", "Steps in order");
  steps.forEach((step, index) => {
    const item = el("li", "bt-chain-item");
    item.dataset.step = String(index + 1);
    if (index > 0) {
      const always = step.run_on_parent_failure === true || step.run_on_parent_failure === "true";
      const link = el("div", "bt-chain-link " + (always ? "bt-chain-link-always" : "bt-chain-link-success"));
      link.append(arrow(), el("span", "bt-chain-condition", always ? "always (run on parent failure)" : "on success"));
      item.append(link);
    }
    const box = el("div", "bt-chain-step");
    box.append(el("span", "bt-chain-index", String(index + 1)));
    const body = el("span", "bt-chain-body");
    const task = text(step.task).trim();
    body.append(el("span", "bt-chain-task" + (task ? "" : " bt-chain-missing"), task || "(no task)"));
    const tz = step.timezone ? text(step.timezone) : timezone;
    const when = step.starts_after !== undefined && step.starts_after !== null && text(step.starts_after) !== ""
      ? `starts after ${text(step.starts_after)} ${tz}`
      : (index === 0 ? "starts right away" : "starts when the step before ends");
    body.append(el("span", "bt-chain-when", when));
    box.append(body);
    item.append(box);
    list.append(item);
  });
  const fresh = [];
  if (!steps.length) {
    fresh.push(el("p", "bt-chain-empty", valid ? "No steps yet." : "No steps to show (the orchestration has no `steps` list)."));
  } else {
    fresh.push(list);
  }
  container.replaceChildren(...fresh);
}

export function chain(container, orchestration, parse) {
  if (!container) throw new Error("BatchTasksEditor.chain: no container");
  container.classList.add("bt-chain");
  if (!container.hasAttribute("role")) container.setAttribute("role", "group");
  if (!container.hasAttribute("aria-label")) container.setAttribute("aria-label", "Orchestration chain");
  render(container, orchestration, parse);
  return {
    update(next) { render(container, next, parse); },
    destroy() { container.replaceChildren(); },
  };
}
