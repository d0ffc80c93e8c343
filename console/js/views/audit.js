// The audit log browser (auditor; docs/api.md §7): entries of a period, filtered by action, paged with
// afterSeq; and "verify chain" (POST /v1/admin/audit/verify) with its result and findings.

import { ApiError, call } from "../api.js";
import { h, jstDay, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

export function renderAudit(main) {
  const alert = h("div", { id: "audit-alert", role: "alert" });
  const verdict = h("div", { id: "audit-verdict", "aria-live": "polite" });
  const list = h("div", { id: "audit-entries" });
  const form = h(
    "form",
    { class: "row", id: "audit-form" },
    h("label", {}, h("span", {}, t("audit.from")), h("input", { name: "from", type: "date", value: jstDay(-7), required: true })),
    h("label", {}, h("span", {}, t("audit.to")), h("input", { name: "to", type: "date", value: jstDay(1), required: true })),
    h("label", {}, h("span", {}, t("audit.action")), h("input", { name: "action", maxlength: 64, placeholder: "operator.login" })),
    h("button", { type: "submit", class: "primary" }, t("audit.search")),
    h("button", { type: "button", id: "audit-verify", on: { click: () => verify() } }, t("audit.verify")),
  );
  let rows = [];
  const load = async (afterSeq) => {
    const el = form.elements;
    try {
      const page = await call("GET", "/v1/admin/audit", { query: { from: el.from.value, to: el.to.value, action: el.action.value, afterSeq, limit: "100" } });
      rows = afterSeq ? rows.concat(page.entries) : page.entries;
      replace(alert);
      replace(
        list,
        table(
          [t("audit.seq"), t("audit.at"), t("audit.actionCol"), t("audit.actor"), t("audit.outcome")],
          rows.map((e) => [h("td", { class: "num" }, e.seq), when(e.at), h("span", { class: "mono" }, e.action), e.actor, h("span", { class: e.outcome === "denied" || e.outcome === "failure" ? "bad" : "" }, e.outcome)]),
          { id: "audit-table" },
        ),
        page.nextAfterSeq ? h("button", { type: "button", on: { click: () => load(String(page.nextAfterSeq)) } }, t("audit.more")) : null,
      );
    } catch (err) {
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
  };
  const verify = async () => {
    try {
      const r = await call("POST", "/v1/admin/audit/verify");
      const checkpoints = r.checkpoints?.valid ?? 0;
      const entries = r.entries;
      replace(
        verdict,
        r.ok
          ? h("p", { class: "notice ok", id: "audit-ok" }, t("audit.verified", { entries, checkpoints }))
          : h("div", { class: "alert" }, h("p", { class: "bad", id: "audit-broken" }, t("audit.broken", { n: r.findings.length })), table(["seq", "problem", "detail"], r.findings.map((f) => [String(f.seq), f.problem, f.detail ?? ""]))),
      );
    } catch (err) {
      replace(verdict, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });
  replace(main, h("h2", {}, t("audit.title")), alert, form, verdict, list);
  void load();
}
