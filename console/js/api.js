// The console is a client of the JSON API and nothing else (docs/console.md): every action is a fetch to
// /v1/… with the operator session token. The token lives in this module's variable only — never in
// localStorage, sessionStorage or a cookie — so a reload logs out, nothing personal stays in the browser,
// and there is no cookie a cross-site request could ride on (no CSRF surface).

let token = null;
let onSessionLost = () => {};

/** A refusal of the API, with its RFC 7807 problem (docs/api.md §0). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem ?? {};
  }
}

export const session = {
  get active() {
    return token !== null;
  },
  start(t) {
    token = t;
  },
  clear() {
    token = null;
  },
  /** Called when the API answers 401 to a request made with a token: the session is gone (expired, ended). */
  onLost(fn) {
    onSessionLost = fn;
  },
};

/** One API call. `query` values are sent as the API requires; the console never puts personal data in the page's own URL. */
export async function call(method, path, { body, query, raw } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, v);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const hadToken = token !== null;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials: "omit", redirect: "error", referrerPolicy: "no-referrer" });
  if (res.status === 204) return null;
  if (!res.ok) {
    let problem;
    try {
      problem = await res.json();
    } catch {
      problem = undefined;
    }
    if (res.status === 401 && hadToken && path !== "/v1/sessions") {
      token = null;
      onSessionLost();
    }
    throw new ApiError(res.status, problem);
  }
  return raw ? res : res.json();
}
