// The limited inquiry (docs/api.md §7, 告示334号 第4-4(7) as docs/domain.md cites it): one condition —
// serial, resident code, or exact name with date of birth — and a purpose, which the API requires and
// records. The console does not pre-empt the API's refusal: a missing purpose is sent and refused (400)
// there, and so audited. The conditions go in a JSON body (POST /v1/admin/certificates/inquiries), never
// in a URL.

import { ApiError, call } from "../api.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

const REASONS = ["unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "cACompromise"];

export function renderInquiry(main) {
  const alert = h("div", { id: "inquiry-alert", role: "alert" });
  const results = h("div", { id: "inquiry-results" });
  const detail = h("div", { id: "certificate-view" });
  const by = h("select", { name: "by", id: "inquiry-by" }, h("option", { value: "serial" }, t("inq.serial")), h("option", { value: "residentCode" }, t("inq.residentCode")), h("option", { value: "nameDob" }, t("inq.nameDob")));
  const value = h("label", { id: "inq-value" }, h("span", {}, t("inq.value")), h("input", { name: "value", autocomplete: "off", maxlength: 64 }));
  const name = h("label", { id: "inq-name", hidden: true }, h("span", {}, t("inq.name")), h("input", { name: "name", autocomplete: "off", maxlength: 100 }));
  const dob = h("label", { id: "inq-dob", hidden: true }, h("span", {}, t("inq.dob")), h("input", { name: "dateOfBirth", type: "date" }));
  by.addEventListener("change", () => {
    const nd = by.value === "nameDob";
    value.hidden = nd;
    name.hidden = !nd;
    dob.hidden = !nd;
  });
  const form = h(
    "form",
    { class: "row", id: "inquiry-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("inq.by")), by),
    value,
    name,
    dob,
    h("label", {}, h("span", {}, t("inq.purpose")), h("input", { name: "purpose", id: "inquiry-purpose", maxlength: 200 })),
    h("button", { type: "submit", class: "primary" }, t("inq.submit")),
  );
  const purposeNow = () => form.elements.purpose.value;

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const el = form.elements;
    const query = by.value === "nameDob" ? { name: el.name.value, dateOfBirth: el.dateOfBirth.value } : { [by.value]: by.value === "serial" ? el.value.value.trim().toLowerCase() : el.value.value.trim() };
    query.purpose = el.purpose.value;
    replace(detail);
    try {
      const { certificates } = await call("POST", "/v1/admin/certificates/inquiries", { body: query });
      replace(alert);
      replace(
        results,
        h("p", {}, t("inq.results", { n: certificates.length })),
        table(
          [t("inq.serial"), t("dash.kind"), t("dash.status"), "notBefore", "notAfter", ""],
          certificates.map((c) => [h("span", { class: "mono" }, c.serialNumber ?? c.serial), c.kind, c.status, when(c.notBefore), when(c.notAfter), h("button", { type: "button", on: { click: () => view(c.serialNumber ?? c.serial) } }, t("inq.view"))]),
          { id: "inquiry-table" },
        ),
      );
    } catch (err) {
      replace(results);
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
  });

  /** The certificate view: GET /v1/certificates/{serial} with the purpose (audited), then revoke or hold. */
  const view = async (serial) => {
    try {
      const c = await call("GET", `/v1/certificates/${encodeURIComponent(serial)}`, { query: { purpose: purposeNow() } });
      const rows = ["serialNumber", "caId", "kind", "status", "partition", "notBefore", "notAfter", "revokedAt", "revocationReason", "issuanceId", "municipalityCode", "applicationDate"];
      const reason = h("select", { name: "reason" }, REASONS.map((r) => h("option", { value: r }, r)));
      const comment = h("input", { name: "comment", maxlength: 200 });
      const act = async (path, body) => {
        try {
          const r = await call("POST", `/v1/certificates/${encodeURIComponent(serial)}/${path}`, { body });
          const status = r.status ?? r.certificates?.[0]?.status ?? "?";
          replace(alert, h("p", { class: "notice" }, t("inq.done", { status })));
          await view(serial);
        } catch (err) {
          replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
        }
      };
      replace(
        detail,
        h(
          "section",
          { class: "card" },
          h("h3", {}, t("inq.cert")),
          h("dl", { class: "kv" }, rows.flatMap((k) => [h("dt", {}, k), h("dd", { class: k === "serialNumber" ? "mono" : "" }, k.endsWith("At") || k.startsWith("not") ? when(c[k]) : c[k] ?? "—")])),
          h(
            "form",
            { class: "row", id: "revoke-form" },
            h("label", {}, h("span", {}, t("inq.reason")), reason),
            h("label", {}, h("span", {}, t("inq.comment")), comment),
            h("button", { type: "button", class: "danger", on: { click: () => act("revocation", { reason: reason.value, ...(comment.value ? { comment: comment.value } : {}) }) } }, t("inq.revoke")),
            h("button", { type: "button", on: { click: () => act("hold", comment.value ? { comment: comment.value } : undefined) } }, t("inq.hold")),
          ),
        ),
      );
    } catch (err) {
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
  };

  replace(main, h("h2", {}, t("inq.title")), h("p", { class: "notice" }, t("inq.notice")), alert, form, results, detail);
}
