// The dashboard: GET /v1/admin/dashboard (api/routes/admin-dashboard.ts) and GET /readyz
// (api/routes/health.ts), drawn as tables and an SVG chart. Figures only, no personal data.

import { ApiError, call } from "../api.js";
import { barChart } from "../chart.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

export async function renderDashboard(main) {
  replace(main, h("h2", {}, t("dash.title")), h("p", {}, t("loading")));
  const [figures, ready] = await Promise.all([call("GET", "/v1/admin/dashboard"), readiness()]);
  const check = (name) => ready.checks?.find((c) => c.name === name);
  const mark = (c) => (c === undefined ? "—" : c.ok ? h("span", { class: "ok" }, t("ok")) : h("span", { class: "bad" }, `${t("failed")}${c.error ? ` (${c.error})` : ""}`));
  const keyHealth = [check("hsm"), check("hsm-sign")];

  const generations = h(
    "section",
    { class: "card", id: "dash-generations" },
    h("h3", {}, t("dash.generations")),
    table(
      [t("dash.caId"), t("dash.kind"), t("dash.status"), t("dash.algorithm")],
      figures.generations.map((g) => [h("span", { class: "mono" }, g.caId), g.kind, g.status, g.keyAlgorithm ?? "—"]),
    ),
    h("p", {}, `${t("dash.keyHealth")}: `, ...keyHealth.map((c, i) => h("span", {}, i ? " / " : "", c ? `${c.name} ` : "", mark(c)))),
  );

  const crl = h(
    "section",
    { class: "card wide", id: "dash-crl" },
    h("h3", {}, t("dash.crl")),
    table(
      [t("dash.caId"), t("dash.partitions"), t("dash.withCrl"), t("dash.oldest"), t("dash.nextUpdate"), t("dash.overdue")],
      figures.crl.map((c) => [
        h("span", { class: "mono" }, c.caId),
        h("td", { class: "num" }, c.partitions),
        h("td", { class: "num" }, h("span", { class: c.withCrl === c.partitions ? "ok" : "warn" }, c.withCrl)),
        when(c.oldestThisUpdate),
        when(c.earliestNextUpdate),
        c.overdue.length === 0 ? h("span", { class: "ok" }, t("dash.none")) : h("span", { class: "bad" }, c.overdue.join(", ")),
      ]),
    ),
  );

  const o = figures.ocsp;
  const lookups = o.node ? o.node.presignedHits + o.node.presignedMisses : 0;
  const hitRatio = lookups > 0 ? `${((100 * o.node.presignedHits) / lookups).toFixed(1)} % (${o.node.presignedHits} / ${lookups})` : "—";
  const ocsp = h(
    "section",
    { class: "card", id: "dash-ocsp" },
    h("h3", {}, t("dash.ocsp")),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, t("dash.ocspRate")),
      h("dd", { id: "dash-ocsp-rate" }, `${(o.answersLastMinute / 60).toFixed(1)} /s (${o.answersLastMinute} ${t("dash.ocspLastMinute")})`),
      h("dt", {}, t("dash.ocspHitRatio")),
      h("dd", { id: "dash-ocsp-hits" }, hitRatio),
      h("dt", {}, t("dash.ocspOldest")),
      h("dd", {}, when(o.oldestThisUpdate)),
      h("dt", {}, "ocsp-lag"),
      h("dd", {}, mark(check("ocsp-lag"))),
    ),
  );

  const f = figures.feed;
  const feed = h(
    "section",
    { class: "card", id: "dash-feed" },
    h("h3", {}, t("dash.feed")),
    h(
      "dl",
      { class: "kv" },
      h("dt", {}, t("dash.lastEvent")),
      h("dd", {}, when(f.lastReceivedAt)),
      h("dt", {}, t("dash.valve")),
      h("dd", {}, h("span", { class: f.halted ? "bad" : "ok", id: "dash-valve" }, f.halted ? t("dash.halted") : t("dash.running")), f.haltReason ? ` (${f.haltReason})` : ""),
      h("dt", {}, t("dash.haltedAt")),
      h("dd", {}, when(f.haltedAt)),
      h("dt", {}, t("dash.resumedAt")),
      h("dd", {}, when(f.resumedAt)),
      h("dt", {}, t("dash.deferred")),
      h("dd", {}, String(f.deferred)),
      h("dt", {}, t("dash.rejected")),
      h("dd", {}, String(f.rejected)),
    ),
  );

  const totalIssued = figures.days.reduce((n, d) => n + d.issued, 0);
  const totalRevoked = figures.days.reduce((n, d) => n + d.revoked, 0);
  const counts = h(
    "section",
    { class: "card", id: "dash-counts" },
    h("h3", {}, t("dash.counts")),
    barChart({ rows: figures.days, title: t("dash.counts"), series: [{ key: "issued", label: t("dash.issued"), cls: "issued" }, { key: "revoked", label: t("dash.revoked"), cls: "revoked" }] }),
    h("p", {}, `${t("dash.issued")}: `, h("strong", { id: "dash-issued-total" }, String(totalIssued)), ` / ${t("dash.revoked")}: `, h("strong", { id: "dash-revoked-total" }, String(totalRevoked))),
  );

  replace(
    main,
    h("h2", {}, t("dash.title")),
    h("p", {}, `${t("dash.at")}: ${when(figures.at)} — ${t("dash.readiness")}: `, ready.status === "ok" || ready.status === "ready" ? h("span", { class: "ok" }, ready.status) : h("span", { class: "bad" }, ready.status ?? "?")),
    h("div", { class: "cards" }, generations, crl, ocsp, feed),
    counts,
  );
}

/** /readyz answers 503 with the same document when a check fails; both are shown. */
async function readiness() {
  try {
    return await call("GET", "/readyz");
  } catch (err) {
    if (err instanceof ApiError && err.problem?.checks) return err.problem;
    return { status: "unreachable", checks: [] };
  }
}
