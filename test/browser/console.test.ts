import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { request, requestJson } from "../support/https-client.js";
import type { TestService } from "../support/service-harness.js";
import { application, issuanceClient, RESIDENT_CODE, startIssuanceService, type CardKey } from "../e2e/support/issuance-e2e.js";
import { adminContext, chromiumPath, consoleOrigin, launchChromium, logIn, shot, watchForViolations } from "./support/console-browser.js";

/**
 * Issue 17: the operator console in a real headless browser (Debian's chromium through playwright-core)
 * against a whole service (PostgreSQL, SoftHSM, the HTTPS listener with the demo admin workstation's
 * client certificate). The console is a client of the API: every scenario ends with what the API or
 * the audit log now says, not only with what the page shows. Screenshots: var/test/console/*.png.
 */
describe("browser: the operator console (chromium + PostgreSQL + SoftHSM)", function () {
  this.timeout(60_000);
  let t: TestService;
  let keys: CardKey[];
  let browser: Browser;
  let origin: string;
  const contexts: BrowserContext[] = [];
  const violations: string[] = [];
  const issuedSerials: string[] = [];
  const issued: Array<{ serialNumber: string; certificate: string; caCertificate: string }> = [];

  const open = async (path = "/console/", locale?: string): Promise<Page> => {
    const context = await adminContext(browser, t, locale);
    contexts.push(context);
    const page = await context.newPage();
    watchForViolations(page, violations);
    await page.goto(`${origin}${path}`);
    return page;
  };
  const operator = (role: keyof TestService["demo"]["operators"]) => t.demo.operators[role];
  const loggedInAs = async (role: keyof TestService["demo"]["operators"], path?: string): Promise<Page> => {
    const page = await open(path);
    await logIn(page, operator(role).operatorId, operator(role).password);
    await page.locator("#nav").waitFor({ state: "visible" });
    return page;
  };
  const show = (page: Page, view: string) => page.locator(`#nav button[data-view="${view}"]`).click();

  before(async function () {
    if (!chromiumPath()) {
      const hint = "chromium is not installed (Debian package 'chromium'; scripts/bootstrap.sh --test installs it)";
      if (process.env.CI === "true") throw new Error(`${hint}: the browser tests cannot be skipped in CI`);
      console.warn(`  skipped: ${hint}`);
      this.skip();
    }
    ({ t, keys } = await startIssuanceService(this, "console", 3));
    origin = consoleOrigin(t);
    // Real data for the dashboard: an application of two certificates and one of one, one of them revoked.
    const token = await t.login("terminal-operator");
    const { issue } = issuanceClient(() => ({ t, token }));
    for (const body of [application([{ kind: "auth", csr: keys[0]!.csr }, { kind: "sign", csr: keys[1]!.csr }]), application([{ kind: "auth", csr: keys[2]!.csr }], { residentCode: "22222222222" })]) {
      const res = await issue(body);
      assert.equal(res.status, 201, res.body.toString());
      const certificates = res.json<{ certificates: Array<{ serialNumber: string; certificate: string; caCertificate: string }> }>().certificates;
      issued.push(...certificates);
      issuedSerials.push(...certificates.map((c) => c.serialNumber));
    }
    const revoked = await requestJson(`${t.httpsUrl}/v1/certificates/${issuedSerials[2]}/revocation`, "POST", { reason: "keyCompromise" }, t.tls("terminal"), { authorization: `Bearer ${token}` });
    assert.equal(revoked.status, 200, revoked.body.toString());
    // Two OCSP answers for one certificate to the demo relying party (openssl, asynchronously: the service
    // answers in this process): the first signed on demand (a miss), the second pre-signed (a hit).
    const first = issued[0]!;
    const dir = mkdtempSync(join(tmpdir(), "console-ocsp-"));
    const [ca, leaf] = [join(dir, "ca.pem"), join(dir, "leaf.pem")];
    writeFileSync(ca, first.caCertificate);
    writeFileSync(leaf, first.certificate);
    const apiKey = (JSON.parse(readFileSync(join(t.config.demoDir, "relying-party.json"), "utf8")) as { apiKey: string }).apiKey;
    for (let i = 0; i < 2; i++) {
      const r = await promisify(execFile)("openssl", ["ocsp", "-issuer", ca, "-cert", leaf, "-url", `${t.httpUrl}/ocsp`, "-header", `Authorization=Bearer ${apiKey}`, "-no_nonce", "-CAfile", ca]);
      assert.match(r.stdout, /: good/);
    }
    // Recorded (in batches, at least once a second) before the dashboard reads the last minute.
    for (let i = 0; i < 50 && Number((await t.service.db.knex("ocsp_access_log").count({ n: "*" }).first())?.["n"]) < 2; i++) await new Promise((r) => setTimeout(r, 100));
    browser = await launchChromium();
  });
  // On a failure, what each open page was saying (its alerts), to tell a refusal from a slow page.
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    for (const c of contexts) for (const p of c.pages()) console.error(`  page ${p.url()}: ${(await p.locator("[role=alert], #main h2").allTextContents().catch(() => [])).join(" | ")}`);
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
  });

  it("serves the console only to a registered admin workstation, with a strict CSP and no-store", async () => {
    const admin = await request(`${t.httpsUrl}/console/`, { tls: t.tls("admin") });
    assert.equal(admin.status, 200);
    assert.match(String(admin.headers["content-type"]), /^text\/html/);
    assert.equal(admin.headers["content-security-policy"], "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    assert.equal(admin.headers["cache-control"], "no-store");
    assert.equal(admin.headers["x-content-type-options"], "nosniff");
    assert.equal(admin.headers["referrer-policy"], "no-referrer");
    assert.doesNotMatch(admin.body.toString(), /<script>|style=/, "no inline script or style in the page");
    const script = await request(`${t.httpsUrl}/console/js/main.js`, { tls: t.tls("admin") });
    assert.equal(script.status, 200);
    assert.match(String(script.headers["content-type"]), /^text\/javascript/);
    // A terminal is refused (403), no certificate is 401, and the plain HTTP listener has none to give.
    assert.equal((await request(`${t.httpsUrl}/console/`, { tls: t.tls("terminal") })).status, 403);
    assert.equal((await request(`${t.httpUrl}/console/`)).status, 401);
    // Only the allow-list: no other file, no way out of the folder (paths sent as written, not normalised).
    for (const path of ["/console/js/nothing.js", "/console/../package.json", "/console/%2e%2e/package.json", "/console/js/..%2f..%2fpackage.json", "/console/js/%2e%2e/%2e%2e/api/config.ts", "/console/.env"]) {
      const res = await rawGet(path);
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /devDependencies|process\.env/, path);
    }
  });

  /** A GET with its path exactly as given (the URL class would resolve the dot segments first). */
  const rawGet = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const { port } = new URL(t.httpsUrl);
      const req = httpsRequest({ host: "127.0.0.1", port, path, method: "GET", ...t.tls("admin"), servername: "localhost", agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      req.end();
    });

  it("logs in with the keyboard only (Tab, Enter) and shows the dashboard fed by real data", async () => {
    const page = await open();
    await page.locator("#operatorId").waitFor();
    // The first field has the focus on load; Tab moves to the password, Enter submits.
    await page.keyboard.type(operator("ca-operator").operatorId);
    await page.keyboard.press("Tab");
    await page.keyboard.type(operator("ca-operator").password);
    await shot(page, "login");
    await page.keyboard.press("Enter");
    await page.locator("#dash-counts").waitFor();
    assert.equal(await page.locator("#who").textContent(), `Operator: ${operator("ca-operator").operatorId}`);
    assert.equal(await page.locator("#dash-issued-total").textContent(), "3", "three certificates issued today");
    assert.equal(await page.locator("#dash-revoked-total").textContent(), "1", "one revoked today");
    const generations = await page.locator("#dash-generations").textContent();
    assert.match(String(generations), /sign-g1/);
    assert.match(String(generations), /auth-g1/);
    assert.match(String(await page.locator("#dash-crl").textContent()), /auth-g1/);
    assert.equal(await page.locator("#dash-valve").textContent(), "running");
    assert.ok((await page.locator("#dash-counts svg rect").count()) >= 2, "the chart has bars");
    // OCSP: the two answers of before(), all nodes, and this node's pre-signed hit ratio (1 of 2).
    assert.match(String(await page.locator("#dash-ocsp-rate").textContent()), /\(2 in the last minute\)/);
    assert.match(String(await page.locator("#dash-ocsp-hits").textContent()), /^50\.0 % \(1 \/ 2\)$/);
    await shot(page, "dashboard");
    // The language switch (keyboard-usable select): Japanese labels.
    await page.locator("#lang").selectOption("ja");
    await page.locator("#dash-counts h3", { hasText: "日別の発行数と失効数" }).waitFor();
    await shot(page, "dashboard-ja");
  });

  it("forces the first-logon password change before anything else, through the API", async () => {
    const so = await t.login("security-officer");
    const created = await requestJson(`${t.httpsUrl}/v1/admin/operators`, "POST", { operatorId: "auditor-new", roles: ["auditor"] }, t.tls("admin"), { authorization: `Bearer ${so}` });
    assert.equal(created.status, 201, created.body.toString());
    const oneTime = created.json<{ oneTimePassword: string }>().oneTimePassword;
    const page = await open();
    await logIn(page, "auditor-new", oneTime);
    await page.locator("#must-change").waitFor();
    assert.equal(await page.locator("#nav").isHidden(), true, "no pages before the change");
    await shot(page, "first-logon");
    const form = page.locator("#password-form");
    await form.locator('input[name="currentPassword"]').fill(oneTime);
    await form.locator('input[name="newPassword"]').fill("Correct-Horse-Battery-42");
    await form.locator('input[name="repeat"]').fill("Correct-Horse-Battery-42");
    await form.locator('button[type="submit"]').click();
    await page.locator("#nav").waitFor({ state: "visible" });
    const again = await requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId: "auditor-new", password: "Correct-Horse-Battery-42" }, t.tls("admin"));
    assert.equal(again.status, 201);
    assert.equal(again.json<{ mustChangePassword: boolean }>().mustChangePassword, false);
  });

  it("four-eyes: an export requested in one browser is refused to its requester and approved in a second browser", async () => {
    const requester = await loggedInAs("ca-operator");
    await show(requester, "approvals");
    const form = requester.locator("#export-form");
    await form.locator('input[name="purpose"]').fill("annual records check");
    await form.locator('button[type="submit"]').click();
    await requester.locator("#approvals-alert", { hasText: "Another operator must approve it" }).waitFor();
    const row = requester.locator("#approvals-table tbody tr", { hasText: "issuance-export" });
    await row.waitFor();
    // The requester's own approval: the API refuses it (403) and the page says so.
    await row.getByRole("button", { name: "Approve" }).click();
    await requester.locator("#approvals-alert", { hasText: "403" }).waitFor();
    await shot(requester, "approvals-own-refused");
    const { approvals: pending } = JSON.parse((await request(`${t.httpsUrl}/v1/admin/approvals?status=pending`, { tls: t.tls("admin"), headers: { authorization: `Bearer ${await t.login("ca-admin")}` } })).body.toString()) as { approvals: Array<{ approvalId: string; kind: string }> };
    const id = pending.find((a) => a.kind === "issuance-export")!.approvalId;

    const approver = await loggedInAs("ca-admin");
    await show(approver, "approvals");
    await shot(approver, "approvals");
    await approver.locator(`[data-approval="${id}"]`).getByRole("button", { name: "Approve" }).click();
    await approver.locator("#approvals-alert", { hasText: `Approved: ${id}` }).waitFor();
    const after = await request(`${t.httpsUrl}/v1/admin/approvals/${id}`, { tls: t.tls("admin"), headers: { authorization: `Bearer ${await t.login("ca-admin")}` } });
    const record = after.json<{ status: string; requestedBy: string; decidedBy: string }>();
    assert.equal(record.status, "executed");
    assert.equal(record.requestedBy, operator("ca-operator").operatorId);
    assert.equal(record.decidedBy, operator("ca-admin").operatorId);
    // The requester downloads the approved export, once, from the first browser.
    await show(requester, "dashboard");
    await show(requester, "approvals");
    const downloading = requester.waitForEvent("download");
    await requester.locator("#my-exports-table").getByRole("button", { name: "Download" }).click();
    const file = await downloading;
    assert.match(file.suggestedFilename(), /\.csv$/);
    await requester.locator("#approvals-alert", { hasText: "Downloaded" }).waitFor();
    // Collected: the API no longer offers it, so neither does the page.
    await requester.locator("#my-exports-table").waitFor({ state: "detached" });
  });

  it("registers an operator (one-time password shown once) and enrols a terminal (credentials offered once)", async () => {
    const so = await loggedInAs("security-officer");
    await show(so, "operators");
    await so.locator("#operators-table").waitFor();
    const form = so.locator("#operator-form");
    await form.locator('input[name="operatorId"]').fill("auditor-two");
    await form.locator('input[name="role"][value="auditor"]').check();
    await form.locator('button[type="submit"]').click();
    const oneTime = String(await so.locator("#one-time-password").textContent());
    assert.ok(oneTime.length >= 12);
    await so.locator("#operators-table", { hasText: "auditor-two" }).waitFor();
    await so.locator("#one-time-secret button").click();
    assert.equal(await so.locator("#one-time-password").count(), 0, "hidden once noted");
    await shot(so, "operators"); // after hiding: no password in a committed screenshot
    const login = await requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId: "auditor-two", password: oneTime }, t.tls("admin"));
    assert.equal(login.status, 201);
    assert.equal(login.json<{ mustChangePassword: boolean }>().mustChangePassword, true);

    const op = await loggedInAs("ca-operator");
    await show(op, "terminals");
    await op.locator("#terminals-table").waitFor();
    await op.locator('#terminal-form input[name="terminalId"]').fill("console-terminal-1");
    await op.locator('#terminal-form input[name="municipalityCode"]').fill("131041");
    await op.locator('#terminal-form button[type="submit"]').click();
    await op.locator("#terminal-credentials a", { hasText: "console-terminal-1.key" }).waitFor();
    await op.locator("#terminals-table", { hasText: "console-terminal-1" }).waitFor();
    await shot(op, "terminals");
    const list = await request(`${t.httpsUrl}/v1/admin/terminals`, { tls: t.tls("admin"), headers: { authorization: `Bearer ${await t.login("ca-operator")}` } });
    assert.ok(list.json<{ terminals: Array<{ terminalId: string; status: string }> }>().terminals.some((x) => x.terminalId === "console-terminal-1" && x.status === "active"));
  });

  it("refuses a limited inquiry without a purpose, then shows the certificate with one; no personal data in any URL", async () => {
    const page = await loggedInAs("ca-operator");
    const urls: string[] = [];
    page.on("request", (r) => urls.push(r.url()));
    await show(page, "inquiry");
    await page.locator("#inquiry-by").selectOption("residentCode");
    await page.locator("#inquiry-form input[name=value]").fill(RESIDENT_CODE);
    await page.locator("#inquiry-form button[type=submit]").click();
    await page.locator("#inquiry-alert", { hasText: "400" }).waitFor();
    assert.match(String(await page.locator("#inquiry-alert").textContent()), /purpose/);
    assert.equal(await page.locator("#inquiry-table").count(), 0, "no result without a purpose");
    await shot(page, "inquiry-refused");
    await page.locator("#inquiry-purpose").fill("checking a reported card loss");
    await page.locator("#inquiry-form button[type=submit]").click();
    await page.locator("#inquiry-table tbody tr").first().waitFor();
    assert.equal(await page.locator("#inquiry-table tbody tr").count(), 2, "the resident's user-authentication and signing certificates");
    await page.locator("#inquiry-table").getByRole("button", { name: "View" }).first().click();
    await page.locator("#certificate-view dl").waitFor();
    assert.match(String(await page.locator("#certificate-view").textContent()), /valid/);
    await shot(page, "certificate");
    // Revocation from the certificate view (a CA operator may give any reason but certificateHold).
    const serial = String(await page.locator("#certificate-view dd.mono").first().textContent());
    await page.locator("#revoke-form select[name=reason]").selectOption("superseded");
    await page.locator("#revoke-form").getByRole("button", { name: "Revoke" }).click();
    await page.locator("#inquiry-alert", { hasText: "now revoked" }).waitFor();
    assert.equal((await t.service.stores.certificates.get(serial))?.status, "revoked");
    assert.ok(urls.some((u) => u.endsWith("/v1/admin/certificates/inquiries")));
    assert.deepEqual(urls.filter((u) => u.includes(RESIDENT_CODE)), [], "the resident code went in a body, never in a URL");
  });

  it("shows the audit log with the refused inquiry, and the chain's verification", async () => {
    const page = await loggedInAs("auditor");
    await show(page, "audit");
    await page.locator("#audit-table tbody tr, #audit-alert p").first().waitFor();
    assert.equal(await page.locator("#audit-alert").textContent(), "", "the audit log page loads");
    await page.locator("#audit-form input[name=action]").fill("inquiry.certificates");
    await page.locator("#audit-form button[type=submit]").click();
    await page.locator("#audit-table tbody tr", { hasText: "denied" }).first().waitFor();
    await page.locator("#audit-verify").click();
    await page.locator("#audit-ok").waitFor();
    assert.match(String(await page.locator("#audit-ok").textContent()), /verifies: \d+ entries/);
    await shot(page, "audit");
  });

  it("locks after the idle time: the session ends at the API and the console asks to log in again", async () => {
    const page = await open("/console/?idleSeconds=5");
    let bearer: string | undefined;
    page.on("request", (r) => {
      const a = r.headers()["authorization"];
      if (a) bearer = a;
    });
    await logIn(page, operator("ca-operator").operatorId, operator("ca-operator").password);
    await page.locator("#dash-counts").waitFor();
    assert.ok(bearer, "the console sent its token");
    const before = await request(`${t.httpsUrl}/v1/admin/approvals`, { tls: t.tls("admin"), headers: { authorization: bearer } });
    assert.equal(before.status, 200);
    await page.locator("#login-alert", { hasText: "locked" }).waitFor({ timeout: 15_000 });
    await page.locator("#operatorId").waitFor();
    await shot(page, "idle-lock");
    const after = await request(`${t.httpsUrl}/v1/admin/approvals`, { tls: t.tls("admin"), headers: { authorization: bearer } });
    assert.equal(after.status, 401, "the locked session is ended, not only hidden");
    // Nothing of the session is left in the browser's storage.
    const stored = await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
    assert.deepEqual(stored, [0, 0, ""]);
  });

  it("logs out", async () => {
    const page = await loggedInAs("ca-operator");
    await page.locator("#logout").click();
    await page.locator("#login-alert", { hasText: "logged out" }).waitFor();
    assert.equal(await page.locator("#nav").isHidden(), true);
  });

  it("left no Content-Security-Policy violation or script error on any page", () => {
    assert.deepEqual(violations, []);
  });
});
