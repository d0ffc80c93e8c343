// Log in (POST /v1/sessions) and change one's own password (POST /v1/operators/me/password), the first
// logon included: with mustChangePassword the API allows nothing else, so neither does the console.

import { ApiError, call, session } from "../api.js";
import { h, replace } from "../dom.js";
import { t } from "../i18n.js";

/** The login form. `onLoggedIn({operatorId, mustChangePassword})` runs after a 201. */
export function renderLogin(main, { message, onLoggedIn }) {
  const alert = h("div", { id: "login-alert", role: "alert" });
  if (message) replace(alert, h("p", { class: "notice" }, message));
  const form = h(
    "form",
    { class: "stack", id: "login-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("login.operatorId")), h("input", { id: "operatorId", name: "operatorId", autocomplete: "username", required: true, maxlength: 64, autocapitalize: "none", spellcheck: "false" })),
    h("label", {}, h("span", {}, t("login.password")), h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true, maxlength: 1024 })),
    h("div", {}, h("button", { type: "submit", class: "primary", id: "login-submit" }, t("login.submit"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const operatorId = form.elements.operatorId.value;
    const password = form.elements.password.value;
    form.elements.password.value = "";
    try {
      const answer = await call("POST", "/v1/sessions", { body: { operatorId, password } });
      session.start(answer.token);
      onLoggedIn({ operatorId, mustChangePassword: answer.mustChangePassword });
    } catch (err) {
      // One message for every refusal: the API answers the same 401 whatever was wrong (docs/api.md §4).
      const text = err instanceof ApiError && err.status !== 401 ? `${t("login.failed")} (${err.status}: ${err.message})` : t("login.failed");
      replace(alert, h("p", { class: "alert" }, text));
      form.elements.password.focus();
    }
  });
  replace(main, h("section", { "aria-labelledby": "login-title" }, h("h2", { id: "login-title" }, t("login.title")), alert, form));
  form.elements.operatorId.focus();
}

/** The password change; `mustChange` says it is forced (first logon, reset, expiry). */
export function renderPassword(main, { mustChange, onDone }) {
  const alert = h("div", { id: "password-alert", role: "alert" });
  const form = h(
    "form",
    { class: "stack", id: "password-form", autocomplete: "off" },
    h("label", {}, h("span", {}, t("password.current")), h("input", { name: "currentPassword", type: "password", autocomplete: "current-password", required: true })),
    h("label", {}, h("span", {}, t("password.new")), h("input", { name: "newPassword", type: "password", autocomplete: "new-password", required: true })),
    h("label", {}, h("span", {}, t("password.repeat")), h("input", { name: "repeat", type: "password", autocomplete: "new-password", required: true })),
    h("div", {}, h("button", { type: "submit", class: "primary" }, t("password.submit"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const { currentPassword, newPassword, repeat } = form.elements;
    if (newPassword.value !== repeat.value) {
      replace(alert, h("p", { class: "alert" }, t("password.mismatch")));
      return;
    }
    try {
      await call("POST", "/v1/operators/me/password", { body: { currentPassword: currentPassword.value, newPassword: newPassword.value } });
      form.reset();
      onDone();
    } catch (err) {
      form.reset();
      replace(alert, h("p", { class: "alert" }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err)));
    }
  });
  replace(
    main,
    h("section", { "aria-labelledby": "password-title" }, h("h2", { id: "password-title" }, t("password.title")), mustChange ? h("p", { class: "notice", id: "must-change" }, t("password.mustChange")) : null, alert, form),
  );
  form.elements.currentPassword.focus();
}
