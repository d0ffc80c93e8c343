// Building the page without innerHTML: every value from the API becomes a text node, never markup
// (docs/console.md "Security"). Attributes are set one by one; `on` takes event listeners.

/**
 * h("button", { type: "button", on: { click } }, "text", child…) → an element.
 * `class`, `for` and any other attribute are set with setAttribute; `hidden`/`disabled`/`required` as booleans.
 */
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "rect", "line", "text", "g", "title"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A small table: headers and rows of cells (strings or nodes). */
export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => (c instanceof Node && c.nodeName === "TD" ? c : h("td", {}, c)))))));
}

/** A labelled input: <label>text <input …></label>. */
export function field(label, attrs) {
  return h("label", {}, h("span", {}, label), h(attrs.tag ?? "input", { ...attrs, tag: undefined }, ...(attrs.options ?? []).map((o) => h("option", { value: o.value }, o.label))));
}

/** An instant for people: local date and time, seconds included. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(document.documentElement.lang === "ja" ? "ja-JP" : "en-GB");
}

/** A JST calendar day (YYYY-MM-DD), `offset` days from today: the API reads a bare date as a JST day (docs/api.md §7). */
export function jstDay(offset = 0) {
  return new Date(Date.now() + 9 * 3_600_000 + offset * 86_400_000).toISOString().slice(0, 10);
}
