// Operators (security officer; docs/api.md §7, docs/admin.md): the list with roles, lock and password
// state; register an operator (a one-time password shown once, or a four-eyes request for roles that
// approve); unlock, deactivate, reactivate. The API decides every refusal; the page shows it.

import { ApiError, call } from "../api.js";
import { h, replace, table, when } from "../dom.js";
import { t } from "../i18n.js";

const ROLES = ["ca-operator", "security-officer", "auditor", "ca-admin", "terminal-operator"];

export async function renderOperators(main) {
  const alert = h("div", { id: "operators-alert", role: "alert" });
  const secret = h("div", { id: "one-time-secret", "aria-live": "polite" });
  const list = h("div", { id: "operators-list" });
  const fail = (err) => replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));

  const refresh = async () => {
    const { operators } = await call("GET", "/v1/admin/operators");
    replace(
      list,
      table(
        [t("ops.id"), t("ops.roles"), t("ops.state"), t("ops.passwordChanged"), ""],
        operators.map((o) => [
          h("span", { class: "mono" }, o.operatorId),
          o.roles.join(", "),
          [o.active ? t("ops.active") : t("ops.inactive"), o.locked ? ` / ${t("ops.locked")}` : "", o.mustChangePassword ? ` / ${t("ops.mustChange")}` : ""].join(""),
          when(o.passwordChangedAt),
          h(
            "div",
            { class: "actions", "data-operator": o.operatorId },
            o.locked ? h("button", { type: "button", on: { click: () => act(o.operatorId, "unlock") } }, t("ops.unlock")) : null,
            o.active ? h("button", { type: "button", on: { click: () => act(o.operatorId, "deactivate") } }, t("ops.deactivate")) : h("button", { type: "button", on: { click: () => act(o.operatorId, "reactivate") } }, t("ops.reactivate")),
          ),
        ]),
        { id: "operators-table" },
      ),
    );
  };
  const act = async (id, verb) => {
    try {
      await call("POST", `/v1/admin/operators/${encodeURIComponent(id)}/${verb}`);
      replace(alert, h("p", { class: "notice" }, t("ops.done", { id })));
    } catch (err) {
      fail(err);
    }
    await refresh();
  };

  const form = h(
    "form",
    { class: "row", id: "operator-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("ops.id")), h("input", { name: "operatorId", required: true, maxlength: 64 })),
    h("label", {}, h("span", {}, t("ops.displayName")), h("input", { name: "displayName", maxlength: 200 })),
    h("fieldset", {}, h("legend", {}, t("ops.roles")), ROLES.map((r) => h("label", {}, h("input", { type: "checkbox", name: "role", value: r }), ` ${r}`))),
    h("button", { type: "submit", class: "primary" }, t("ops.add")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const roles = [...form.querySelectorAll("input[name=role]:checked")].map((c) => c.value);
    const body = { operatorId: form.elements.operatorId.value, roles, ...(form.elements.displayName.value ? { displayName: form.elements.displayName.value } : {}) };
    try {
      const r = await call("POST", "/v1/admin/operators", { body });
      form.reset();
      if (r.oneTimePassword) {
        // Shown once: the API never shows it again, and the page forgets it when dismissed.
        const box = h(
          "div",
          { class: "notice" },
          h("p", {}, t("ops.oneTime", { id: r.operatorId })),
          h("p", {}, h("code", { id: "one-time-password" }, r.oneTimePassword)),
          h("button", { type: "button", on: { click: () => replace(secret) } }, t("ops.noted")),
        );
        replace(secret, box);
      } else replace(alert, h("p", { class: "notice" }, t("appr.requested", { id: r.approvalId })));
    } catch (err) {
      fail(err);
    }
    await refresh();
  });

  replace(main, h("h2", {}, t("ops.title")), alert, secret, list, h("h3", {}, t("ops.add")), form);
  await refresh();
}
