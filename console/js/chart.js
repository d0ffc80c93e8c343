// Charts as inline SVG, drawn here from figures the API serves (docs/console.md "Stack"): no chart
// library, nothing fetched from elsewhere. Attributes only (no style attributes: CSP style-src 'self').

import { h } from "./dom.js";

/**
 * Grouped bars per day: `series` = [{ key, label, cls }], `rows` = [{ day, [key]: number }].
 * Each bar carries a <title> with its value, so the numbers are readable without the drawing.
 */
export function barChart({ rows, series, title, width = 640, height = 200 }) {
  const pad = { l: 36, r: 8, t: 12, b: 34 };
  const max = Math.max(1, ...rows.flatMap((r) => series.map((s) => Number(r[s.key]) || 0)));
  const top = niceCeil(max);
  const innerW = width - pad.l - pad.r;
  const innerH = height - pad.t - pad.b;
  const groupW = innerW / Math.max(1, rows.length);
  const barW = Math.max(2, (groupW - 4) / series.length);
  const y = (v) => pad.t + innerH - (v / top) * innerH;
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": title });
  svg.append(h("title", {}, title));
  for (const tick of [0, top / 2, top]) {
    svg.append(h("line", { class: "axis", x1: pad.l, x2: width - pad.r, y1: y(tick), y2: y(tick), "stroke-dasharray": tick === 0 ? "" : "2,3" }));
    svg.append(h("text", { x: pad.l - 4, y: y(tick) + 4, "text-anchor": "end" }, String(tick)));
  }
  rows.forEach((r, i) => {
    const x0 = pad.l + i * groupW + 2;
    series.forEach((s, j) => {
      const v = Number(r[s.key]) || 0;
      svg.append(h("rect", { class: s.cls, x: x0 + j * barW, y: y(v), width: barW - 1, height: Math.max(0, pad.t + innerH - y(v)) }, h("title", {}, `${r.day} ${s.label}: ${v}`)));
    });
    if (rows.length <= 16 || i % 2 === 0) svg.append(h("text", { x: x0 + groupW / 2 - 2, y: height - pad.b + 14, "text-anchor": "middle" }, String(r.day).slice(5)));
  });
  const legend = h("div", { class: "legend" }, series.map((s) => h("span", {}, h("span", { class: `sw ${s.cls}`, "aria-hidden": "true" }), s.label)));
  return h("figure", {}, svg, legend);
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
