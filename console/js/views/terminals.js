// Counter terminals (CA operator; docs/api.md §7): the list, enrolment for one municipality (the client
// certificate and its private key are answered once: shown here once, with a download, then forgotten),
// and revocation (its sessions end at once).

import { ApiError, call } from "../api.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

export async function renderTerminals(main) {
  const alert = h("div", { id: "terminals-alert", role: "alert" });
  const secret = h("div", { id: "terminal-credentials", "aria-live": "polite" });
  const list = h("div", { id: "terminals-list" });
  const fail = (err) => replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));

  const refresh = async () => {
    const { terminals } = await call("GET", "/v1/admin/terminals");
    replace(
      list,
      table(
        [t("term.id"), t("term.municipality"), t("dash.status"), t("term.enrolledAt"), ""],
        terminals.map((x) => [
          h("span", { class: "mono" }, x.terminalId),
          x.municipalityCode,
          x.status,
          when(x.enrolledAt),
          x.status === "active" ? h("button", { type: "button", class: "danger", on: { click: () => revoke(x.terminalId) } }, t("term.revoke")) : "",
        ]),
        { id: "terminals-table" },
      ),
    );
  };
  const revoke = async (id) => {
    try {
      await call("DELETE", `/v1/admin/terminals/${encodeURIComponent(id)}`);
      replace(alert, h("p", { class: "notice" }, t("ops.done", { id })));
    } catch (err) {
      fail(err);
    }
    await refresh();
  };
  const download = (name, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" }));
    return h("a", { href: url, download: name }, name);
  };

  const form = h(
    "form",
    { class: "row", id: "terminal-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("term.id")), h("input", { name: "terminalId", required: true, maxlength: 64 })),
    h("label", {}, h("span", {}, t("term.municipality")), h("input", { name: "municipalityCode", required: true, pattern: "[0-9]{6}", inputmode: "numeric", maxlength: 6 })),
    h("button", { type: "submit", class: "primary" }, t("term.enrol")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = form.elements.terminalId.value;
    try {
      const r = await call("POST", "/v1/admin/terminals", { body: { terminalId: id, municipalityCode: form.elements.municipalityCode.value } });
      form.reset();
      const links = [download(`${id}.pem`, r.certificate), download(`${id}.key`, r.privateKey), download("service-ca.pem", r.caCertificate)];
      const forget = () => {
        for (const a of links) URL.revokeObjectURL(a.href);
        replace(secret);
      };
      replace(secret, h("div", { class: "notice" }, h("p", {}, t("term.once", { id })), h("p", { class: "actions" }, links), h("button", { type: "button", on: { click: forget } }, t("ops.noted"))));
    } catch (err) {
      fail(err);
    }
    await refresh();
  });

  replace(main, h("h2", {}, t("term.title")), alert, secret, list, h("h3", {}, t("term.enrol")), form);
  await refresh();
}
