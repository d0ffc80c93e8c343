// Relying parties (CA operator; docs/api.md §7, docs/relying-parties.md "Registration"): the list with
// verifier types and environment (no secret: the API answers whether a party has an API key, never the
// key or its hash); registration with its credentials — the API key, or the client certificate and its
// private key, answered once: shown here once, then forgotten; the change of verifier types; deactivation.

import { ApiError, call } from "../api.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

const TYPES = ["signing", "user-auth", "platform"];
const ENVIRONMENTS = ["production", "test"];

const typeBoxes = (checked) => h("fieldset", {}, h("legend", {}, t("rp.types")), TYPES.map((x) => h("label", {}, h("input", { type: "checkbox", name: "verifierType", value: x, checked: checked.includes(x) }), ` ${x}`)));
const environmentSelect = () => h("label", {}, h("span", {}, t("rp.environment")), h("select", { name: "environment" }, ENVIRONMENTS.map((x) => h("option", { value: x }, x))));
const checkedTypes = (form) => [...form.querySelectorAll("input[name=verifierType]:checked")].map((c) => c.value);

export async function renderRelyingParties(main) {
  const alert = h("div", { id: "rp-alert", role: "alert" });
  const secret = h("div", { id: "rp-credentials", "aria-live": "polite" });
  const list = h("div", { id: "rp-list" });
  const fail = (err) => replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));

  const changeForm = h("form", { class: "row", id: "rp-verifier-form", autocomplete: "off" });
  const refresh = async () => {
    const { relyingParties } = await call("GET", "/v1/admin/relying-parties");
    replace(
      list,
      relyingParties.length === 0
        ? h("p", {}, t("dash.none"))
        : table(
            [t("rp.id"), t("rp.name"), t("rp.types"), t("rp.environment"), t("rp.platform"), t("rp.apiKey"), t("ops.state"), t("rp.registeredAt"), ""],
            relyingParties.map((p) => [
              h("span", { class: "mono" }, p.id),
              p.name,
              p.verifierTypes.join(", "),
              p.environment,
              p.platformId ?? "—",
              p.apiKey ? t("rp.yes") : t("rp.no"),
              p.active ? t("ops.active") : t("ops.inactive"),
              when(p.createdAt),
              h("div", { class: "actions", "data-party": p.id }, p.active ? h("button", { type: "button", class: "danger", on: { click: () => deactivate(p.id) } }, t("ops.deactivate")) : ""),
            ]),
            { id: "rp-table" },
          ),
    );
    const active = relyingParties.filter((p) => p.active);
    replace(
      changeForm,
      h("label", {}, h("span", {}, t("rp.id")), h("select", { name: "id", required: true }, active.map((p) => h("option", { value: p.id }, p.id)))),
      typeBoxes([]),
      environmentSelect(),
      h("button", { type: "submit", disabled: active.length === 0 }, t("rp.change")),
    );
  };
  const deactivate = async (id) => {
    try {
      await call("DELETE", `/v1/admin/relying-parties/${encodeURIComponent(id)}`);
      replace(alert, h("p", { class: "notice" }, t("ops.done", { id })));
    } catch (err) {
      fail(err);
    }
    await refresh();
  };
  changeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = changeForm.elements.id.value;
    try {
      await call("PUT", `/v1/admin/relying-parties/${encodeURIComponent(id)}/verifier`, { body: { verifierTypes: checkedTypes(changeForm), environment: changeForm.elements.environment.value } });
      replace(alert, h("p", { class: "notice" }, t("ops.done", { id })));
    } catch (err) {
      fail(err);
    }
    await refresh();
  });

  const download = (name, text) => h("a", { href: URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" })), download: name }, name);
  const form = h(
    "form",
    { class: "row", id: "rp-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("rp.id")), h("input", { name: "id", required: true, maxlength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._:\\-]{0,63}" })),
    h("label", {}, h("span", {}, t("rp.name")), h("input", { name: "name", required: true, maxlength: 200 })),
    typeBoxes(["signing", "user-auth"]),
    environmentSelect(),
    h("fieldset", {}, h("legend", {}, t("rp.credentials")), h("label", {}, h("input", { type: "checkbox", name: "credential", value: "api-key", checked: true }), ` ${t("rp.apiKey")}`), h("label", {}, h("input", { type: "checkbox", name: "credential", value: "certificate" }), ` ${t("rp.certificate")}`)),
    h("label", {}, h("span", {}, t("rp.platformId")), h("input", { name: "platformId", maxlength: 64 })),
    h("button", { type: "submit", class: "primary" }, t("rp.register")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const credentials = [...form.querySelectorAll("input[name=credential]:checked")].map((c) => c.value);
    const body = { id: form.elements.id.value, name: form.elements.name.value, verifierTypes: checkedTypes(form), environment: form.elements.environment.value, credentials, ...(form.elements.platformId.value ? { platformId: form.elements.platformId.value } : {}) };
    try {
      const r = await call("POST", "/v1/admin/relying-parties", { body });
      form.reset();
      // Shown once: the API never answers these again, and the page forgets them when dismissed.
      const links = r.certificate ? [download(`${body.id}.pem`, r.certificate), download(`${body.id}.key`, r.privateKey), download("service-ca.pem", r.caCertificate)] : [];
      const forget = () => {
        for (const a of links) URL.revokeObjectURL(a.href);
        replace(secret);
      };
      replace(
        secret,
        h(
          "div",
          { class: "notice" },
          h("p", {}, t("rp.once", { id: r.relyingParty.id })),
          r.apiKey ? h("p", {}, h("span", {}, `${t("rp.apiKey")}: `), h("code", { id: "rp-api-key" }, r.apiKey)) : null,
          links.length ? h("p", { class: "actions" }, links) : null,
          h("button", { type: "button", on: { click: forget } }, t("ops.noted")),
        ),
      );
    } catch (err) {
      fail(err);
    }
    await refresh();
  });

  replace(main, h("h2", {}, t("rp.title")), alert, secret, list, h("h3", { class: "section-head" }, t("rp.register")), form, h("h3", { class: "section-head" }, t("rp.change")), changeForm);
  await refresh();
}
