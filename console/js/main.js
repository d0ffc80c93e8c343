// The console's shell (docs/console.md): language, login and the forced first-logon password change,
// navigation between the pages, the idle lock and logout. Everything the operator does is a call to
// the JSON API (api.js); this page holds the session token in memory only.

import { ApiError, call, session } from "./api.js";
import { h, replace } from "./dom.js";
import { idleSeconds, startIdleLock } from "./idle-lock.js";
import { onLangChange, setLang, t, currentLang } from "./i18n.js";
import { renderApprovals } from "./views/approvals.js";
import { renderAudit } from "./views/audit.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderDisclosure } from "./views/disclosure.js";
import { renderInquiry } from "./views/inquiry.js";
import { renderLogin, renderPassword } from "./views/login.js";
import { renderOperators } from "./views/operators.js";
import { renderRelyingParties } from "./views/relying-parties.js";
import { renderTerminals } from "./views/terminals.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");
const langSelect = document.getElementById("lang");

let operatorId = null;
let stopIdle = () => {};
let view = "login";

// Each view draws into its own element: a slow page that answers after the operator moved on draws
// into an element no longer on the page, never over the page now shown.
const views = {
  dashboard: (el) => renderDashboard(el),
  approvals: (el) => renderApprovals(el, { operatorId }),
  inquiry: (el) => renderInquiry(el),
  audit: (el) => renderAudit(el),
  disclosure: (el) => renderDisclosure(el),
  operators: (el) => renderOperators(el),
  terminals: (el) => renderTerminals(el),
  "relying-parties": (el) => renderRelyingParties(el),
  password: (el) => renderPassword(el, { mustChange: false, onDone: () => showMessageThen("password.done", "dashboard") }),
};

/** Shows one page; a refusal of the API is shown in the page, never swallowed. */
async function show(name) {
  view = name;
  for (const b of nav.querySelectorAll("button[data-view]")) {
    if (b.dataset.view === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  const el = h("div", { "data-page": name });
  replace(main, el);
  main.focus();
  try {
    await views[name](el);
  } catch (err) {
    if (!session.active || !el.isConnected) return;
    const text = err instanceof ApiError ? (err.status === 403 ? t("error.forbidden") : `${err.status}: ${err.message}`) : String(err);
    replace(el, h("h2", {}, t(`nav.${name}`)), h("p", { class: "alert", role: "alert" }, text));
  }
}

function showMessageThen(key, next) {
  void show(next).then(() => main.firstElementChild?.prepend(h("p", { class: "notice", role: "status" }, t(key))));
}

function loggedIn({ operatorId: id, mustChangePassword }) {
  operatorId = id;
  who.textContent = t("login.who", { id });
  logoutButton.hidden = false;
  stopIdle = startIdleLock(lock);
  if (mustChangePassword) {
    // docs/api.md §4: with mustChangePassword only the password change and logoff are allowed.
    view = "must-change";
    nav.hidden = true;
    renderPassword(main, { mustChange: true, onDone: () => enter("password.done") });
  } else enter();
}

function enter(messageKey) {
  nav.hidden = false;
  if (messageKey) showMessageThen(messageKey, "dashboard");
  else void show("dashboard");
}

/** Back to the login form, the session forgotten; `message` says why. */
function toLogin(message) {
  stopIdle();
  session.clear();
  operatorId = null;
  who.textContent = "";
  nav.hidden = true;
  logoutButton.hidden = true;
  view = "login";
  renderLogin(main, { message, onLoggedIn: loggedIn });
}

/** Ends the session at the API first, then forgets it here. */
async function endSession() {
  try {
    await call("DELETE", "/v1/sessions/current");
  } catch {
    // Already ended (expired, or a 401): the API has nothing left to end.
  }
}

async function lock() {
  await endSession();
  toLogin(t("login.locked", { n: Math.round((idleSeconds() / 60) * 10) / 10 }));
}

logoutButton.addEventListener("click", async () => {
  await endSession();
  toLogin(t("login.loggedOut"));
});
for (const b of nav.querySelectorAll("button[data-view]")) b.addEventListener("click", () => void show(b.dataset.view));
session.onLost(() => toLogin(t("login.lost")));
langSelect.addEventListener("change", () => setLang(langSelect.value));
onLangChange(() => {
  if (operatorId) who.textContent = t("login.who", { id: operatorId });
  if (view === "login") renderLogin(main, { onLoggedIn: loggedIn });
  else if (views[view]) void show(view);
});

setLang(currentLang());
langSelect.value = currentLang();
toLogin();
