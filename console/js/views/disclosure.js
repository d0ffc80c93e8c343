// The disclosure report per resident (auditor; 告示334号 第6-8(5), docs/api.md §7): the resident code is
// typed in a form and sent in a JSON body (`POST /v1/admin/disclosures`), never in a URL. Each section of
// the report is a table; "Download CSV" asks the API for the CSV answer and hands it to the browser as a
// Blob; "Print / PDF" is the browser's print dialog (print-to-PDF) over the print stylesheet of console.css.

import { ApiError, call } from "../api.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

const detailText = (detail) =>
  Object.entries(detail ?? {})
    .map(([k, v]) => `${k}=${v === null ? "" : String(v)}`)
    .join("; ");

/** A section's label: known sections have one, a new source shows its own name. */
const sectionLabel = (name) => {
  const label = t(`disc.section.${name}`);
  return label === `disc.section.${name}` ? name : label;
};

export async function renderDisclosure(main) {
  const alert = h("div", { id: "disclosure-alert", class: "no-print", role: "alert" });
  const out = h("div", { id: "disclosure-report" });
  const fail = (err) => replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
  // The resident code of the report shown, for its CSV download: in this closure only, gone with the page.
  let shown = null;

  const downloadCsv = async () => {
    try {
      const res = await call("POST", "/v1/admin/disclosures", { body: { residentCode: shown, format: "csv" }, raw: true });
      const name = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") ?? "")?.[1] ?? "disclosure.csv";
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      replace(alert, h("p", { class: "notice" }, t("appr.downloaded", { name })));
    } catch (err) {
      fail(err);
    }
  };

  const draw = (report) => {
    const certs = report.certificates;
    replace(
      out,
      h(
        "div",
        { class: "actions no-print report-actions" },
        h("button", { type: "button", id: "disclosure-csv", class: "primary", on: { click: downloadCsv } }, t("disc.csv")),
        h("button", { type: "button", id: "disclosure-print", on: { click: () => window.print() } }, t("disc.print")),
      ),
      h("dl", { class: "kv" }, h("dt", {}, t("disc.residentCode")), h("dd", { class: "mono" }, report.residentCode), h("dt", {}, t("disc.generatedAt")), h("dd", { id: "disclosure-generated" }, when(report.generatedAt)), h("dt", {}, t("disc.certificateCount")), h("dd", {}, String(certs.length))),
      h("section", { class: "disclosure-section" }, h("h3", {}, t("disc.certificates")),
        certs.length === 0
          ? h("p", {}, t("dash.none"))
          : table(
              [t("disc.serial"), t("dash.caId"), t("dash.kind"), t("disc.device"), t("dash.status"), t("disc.issuedAt"), t("disc.notAfter"), t("disc.revokedAt"), t("disc.reason")],
              certs.map((c) => [h("span", { class: "mono" }, c.serialNumber), c.caId, c.kind, c.device, c.status, when(c.issuedAt), when(c.notAfter), when(c.revokedAt), c.revocationReason ?? "—"]),
              { id: "disclosure-certificates" },
            ),
      ),
      report.sections.map((s) =>
        h(
          "section",
          { class: "disclosure-section", "data-section": s.name },
          h("h3", {}, sectionLabel(s.name)),
          !s.available
            ? h("p", { class: "warn" }, t("disc.unavailable"))
            : s.items.length === 0
              ? h("p", {}, t("dash.none"))
              : table(
                  [t("disc.at"), t("disc.category"), t("disc.serial"), t("disc.party"), t("disc.detail")],
                  s.items.map((i) => [when(i.at), i.category, i.serial ? h("span", { class: "mono" }, i.serial) : "—", i.party ?? "—", detailText(i.detail)]),
                  { id: `disclosure-section-${s.name}` },
                ),
        ),
      ),
    );
  };

  const form = h(
    "form",
    { class: "row no-print", id: "disclosure-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("disc.residentCode")), h("input", { name: "residentCode", required: true, pattern: "[0-9]{11}", inputmode: "numeric", maxlength: 11, autocomplete: "off" })),
    h("button", { type: "submit", class: "primary" }, t("disc.show")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    replace(alert);
    replace(out);
    const residentCode = form.elements.residentCode.value;
    try {
      const report = await call("POST", "/v1/admin/disclosures", { body: { residentCode } });
      shown = residentCode;
      draw(report);
    } catch (err) {
      shown = null;
      fail(err);
    }
  });

  replace(main, h("h2", {}, t("disc.title")), h("p", { class: "no-print" }, t("disc.intro")), form, alert, out);
}
