// The four-eyes queue (docs/admin.md, docs/api.md §7): pending requests with what they would do, approve
// and reject, and a bulk export request. The console never decides who may approve: it asks the API,
// which refuses one's own request (403) and shows that refusal as it is.

import { ApiError, call } from "../api.js";
import { h, jstDay, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

export async function renderApprovals(main, { operatorId }) {
  const alert = h("div", { id: "approvals-alert", role: "alert" });
  const list = h("div", { id: "approvals-list" });

  const mine = h("div", { id: "my-exports" });
  const refresh = async () => {
    const { approvals } = await call("GET", "/v1/admin/approvals", { query: { status: "pending" } });
    await refreshMine();
    if (approvals.length === 0) return replace(list, h("p", {}, t("appr.none")));
    replace(
      list,
      table(
        [t("appr.kind"), t("appr.requestedBy"), t("appr.requestedAt"), t("appr.expiresAt"), t("appr.what"), ""],
        approvals.map((a) => [
          h("span", { class: "mono" }, a.kind),
          a.requestedBy === operatorId ? h("span", {}, a.requestedBy, h("br"), h("small", {}, t("appr.mine"))) : a.requestedBy,
          when(a.requestedAt),
          when(a.expiresAt),
          paramsList(a.params),
          h(
            "div",
            { class: "actions", "data-approval": a.approvalId },
            h("button", { type: "button", class: "primary", on: { click: () => decide(a, "approve") } }, t("appr.approve")),
            h("button", { type: "button", class: "danger", on: { click: () => decide(a, "reject") } }, t("appr.reject")),
          ),
        ]),
        { id: "approvals-table" },
      ),
    );
  };

  // The requester downloads an approved export once (docs/api.md §7); the file is handed to the browser's
  // download and not kept by the page.
  const refreshMine = async () => {
    const { approvals } = await call("GET", "/v1/admin/approvals", { query: { status: "executed", kind: "issuance-export" } });
    const ready = approvals.filter((a) => a.requestedBy === operatorId && !a.collectedAt);
    replace(
      mine,
      ready.length === 0
        ? null
        : h("section", {}, h("h3", {}, t("appr.mineExecuted")), table([t("appr.requestedAt"), t("appr.what"), ""], ready.map((a) => [when(a.requestedAt), paramsList(a.params), h("button", { type: "button", on: { click: () => download(a) } }, t("appr.download"))]), { id: "my-exports-table" })),
    );
  };
  const download = async (a) => {
    try {
      const res = await call("GET", `/v1/admin/exports/${encodeURIComponent(a.approvalId)}`, { raw: true });
      const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1] ?? `export-${a.approvalId}`;
      const url = URL.createObjectURL(await res.blob());
      const link = h("a", { href: url, download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      replace(alert, h("p", { class: "notice" }, t("appr.downloaded", { name })));
    } catch (err) {
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
    await refreshMine();
  };

  const decide = async (a, verb) => {
    try {
      const done = await call("POST", `/v1/admin/approvals/${encodeURIComponent(a.approvalId)}/${verb}`);
      replace(alert, h("p", { class: "notice" }, verb === "approve" ? t("appr.approved", { id: a.approvalId, status: done.status }) : t("appr.rejected", { id: a.approvalId })));
    } catch (err) {
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
    await refresh();
  };

  const today = jstDay();
  const exportForm = h(
    "form",
    { class: "row", id: "export-form" },
    h("label", {}, h("span", {}, t("appr.from")), h("input", { name: "from", type: "date", value: today, required: true })),
    h("label", {}, h("span", {}, t("appr.to")), h("input", { name: "to", type: "date", value: today, required: true })),
    h("label", {}, h("span", {}, t("appr.format")), h("select", { name: "format" }, h("option", { value: "csv" }, "CSV"), h("option", { value: "jsonl" }, "JSON Lines"))),
    h("label", {}, h("span", {}, t("appr.purpose")), h("input", { name: "purpose", maxlength: 200 })),
    h("button", { type: "submit", class: "primary" }, t("appr.requestExport")),
  );
  exportForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const el = exportForm.elements;
    try {
      const r = await call("POST", "/v1/admin/exports", { body: { from: el.from.value, to: el.to.value, format: el.format.value, purpose: el.purpose.value } });
      replace(alert, h("p", { class: "notice" }, t("appr.requested", { id: r.approvalId })));
    } catch (err) {
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
    await refresh();
  });

  replace(main, h("h2", {}, t("appr.title")), alert, h("h3", {}, t("appr.pending")), list, mine, h("h3", {}, t("appr.export")), exportForm);
  await refresh();
}

/** What a request would do: its parameters as a definition list (values as text, never markup). */
function paramsList(params) {
  const entries = Object.entries(params ?? {}).filter(([, v]) => v !== null && v !== undefined);
  return h("dl", { class: "kv" }, entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}
