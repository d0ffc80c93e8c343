import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Router from "@koa/router";
import type { Context, Next } from "koa";
import { requireClient } from "../client-identity.js";
import { requireRegisteredClient, type ClientRegisterGuardDeps } from "../client-register-guard.js";

/**
 * The operator console (issue 17, docs/console.md): static files under `/console/`, a client of the
 * JSON admin API and never a second way in. Every file needs what every admin route needs first: an
 * admin-workstation client certificate issued by the service CA and held, active, by the register
 * (api/client-register-guard.ts); the operator then logs in through `POST /v1/sessions` like any client.
 *
 * The files are a fixed allow-list read once when the router is made, so no request path ever reaches
 * the file system (no path traversal, no directory listing).
 */

/** Every file the console serves, relative to the repository's `console/` folder, with its media type. */
const CONSOLE_FILES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
  "js/main.js": "text/javascript; charset=utf-8",
  "js/api.js": "text/javascript; charset=utf-8",
  "js/dom.js": "text/javascript; charset=utf-8",
  "js/i18n.js": "text/javascript; charset=utf-8",
  "js/labels-records.js": "text/javascript; charset=utf-8",
  "js/chart.js": "text/javascript; charset=utf-8",
  "js/idle-lock.js": "text/javascript; charset=utf-8",
  "js/views/login.js": "text/javascript; charset=utf-8",
  "js/views/dashboard.js": "text/javascript; charset=utf-8",
  "js/views/approvals.js": "text/javascript; charset=utf-8",
  "js/views/inquiry.js": "text/javascript; charset=utf-8",
  "js/views/audit.js": "text/javascript; charset=utf-8",
  "js/views/operators.js": "text/javascript; charset=utf-8",
  "js/views/terminals.js": "text/javascript; charset=utf-8",
  "js/views/disclosure.js": "text/javascript; charset=utf-8",
  "js/views/relying-parties.js": "text/javascript; charset=utf-8",
};

/**
 * The headers of every console answer, errors included (docs/console.md "Security headers"): scripts and
 * styles from this origin only and no inline script, no framing, no referrer, and nothing kept by any
 * cache, because the pages render personal data (RFC 9111 §5.2.2.5).
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/** The console's files, read once from `dir` (default: the repository's `console/`). Throws at start-up when one is missing. */
export function loadConsoleFiles(dir = fileURLToPath(new URL("../../console/", import.meta.url))): ReadonlyMap<string, { readonly body: Buffer; readonly type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [name, type] of Object.entries(CONSOLE_FILES)) files.set(name, { body: readFileSync(new URL(name, `file://${dir.endsWith("/") ? dir : `${dir}/`}`)), type });
  return files;
}

async function consoleHeaders(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } finally {
    ctx.set(CONSOLE_HEADERS);
  }
}

/**
 * `GET /console/` and each allow-listed file under it, for `createApp`'s `publicRouters` (not documented in
 * /openapi.json: these are pages, not API). On the plain HTTP listener there is no client certificate, so
 * the answer is 401 there: the console is on the HTTPS listener only.
 */
export function consoleRoutes(deps: ClientRegisterGuardDeps, files = loadConsoleFiles()) {
  return (): Router => {
    const router = new Router();
    const guard = [consoleHeaders, requireClient("admin"), requireRegisteredClient(deps)];
    const serve = (name: string) =>
      function serveConsoleFile(ctx: Context): void {
        const file = files.get(name)!;
        ctx.type = file.type;
        ctx.body = file.body;
      };
    // The router ignores a trailing slash, so one route takes both spellings; the page wants the slash.
    const index = serve("index.html");
    router.get("/console/", ...guard, (ctx) => (ctx.path.endsWith("/") ? index(ctx) : ctx.redirect("/console/")));
    for (const name of files.keys()) router.get(`/console/${name}`, ...guard, serve(name));
    return router;
  };
}
