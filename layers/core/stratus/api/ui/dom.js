// Building blocks of the views: an element factory and the small widgets every page shows.

// h("a.button", {href: "#/"}, "text", child…): an element with classes, attributes/properties, children.
export function h(spec, attributes = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const element = document.createElement(tag || "div");
  if (classes.length) element.className = classes.join(" ");
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

// Replace an element's children.
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const FINAL_STATUSES = new Set(["COMPLETED", "FAILED", "STOPPED", "CANCELLED", "REJECTED", "SKIPPED"]);

export function isFinal(status) {
  return FINAL_STATUSES.has(status);
}

export function badge(status) {
  return h(`span.badge.status-${String(status).toLowerCase()}`, { dataset: { status } }, status);
}

export function progressBar(fraction, status) {
  const value = Math.max(0, Math.min(1, Number(fraction) || 0));
  const percent = Math.round(value * 100);
  const bar = h("div.fill");
  bar.style.width = `${percent}%`; // through the CSSOM: the CSP forbids inline style attributes
  return h(
    `div.progress.status-${String(status || "").toLowerCase()}`,
    { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(percent) },
    bar,
    h("span.label", {}, `${percent}%`),
  );
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "—";
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function bytes(count) {
  if (count === null || count === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

// A box that shows an error with the server's detail (and code), or nothing.
export function errorBox(error) {
  if (!error) return h("div.error", { hidden: true });
  const code = error.code ? h("code", {}, error.code) : null;
  return h("div.error", { role: "alert" }, code, " ", error.detail ?? error.message ?? String(error));
}

export function table(headings, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p.muted.empty", {}, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", {}, text)))),
    h("tbody", {}, rows),
  );
}
