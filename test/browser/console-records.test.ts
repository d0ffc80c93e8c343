import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { request, requestJson } from "../support/https-client.js";
import { repoRoot, type TestService } from "../support/service-harness.js";
import { application, issuanceClient, RESIDENT_CODE, startIssuanceService, type CardKey, type IssuedCertificate } from "../e2e/support/issuance-e2e.js";
import { adminContext, chromiumPath, consoleOrigin, launchChromium, logIn, SCREENSHOTS, shot, watchForViolations } from "./support/console-browser.js";

/**
 * Issue 17's console pages over records (docs/console.md): the disclosure report per resident (auditor;
 * the resident code in a POST body, a CSV download and the print view as a PDF) and relying parties
 * (CA operator: register with a one-time API key, list, change verifier types, deactivate), in Debian's
 * chromium against a whole service (PostgreSQL, SoftHSM, the HTTPS listener). Each scenario ends with
 * what the API or the audit log now says. Screenshots: var/test/console/*.png; the main ones are copied
 * to docs/console/.
 */
describe("browser: the console's disclosure report and relying parties (chromium + PostgreSQL + SoftHSM)", function () {
  this.timeout(60_000);
  let t: TestService;
  let keys: CardKey[];
  let browser: Browser;
  let origin: string;
  const contexts: BrowserContext[] = [];
  const violations: string[] = [];
  const issuedSerials: string[] = [];

  const operator = (role: keyof TestService["demo"]["operators"]) => t.demo.operators[role];
  const loggedInAs = async (role: keyof TestService["demo"]["operators"]): Promise<Page> => {
    const context = await adminContext(browser, t);
    contexts.push(context);
    const page = await context.newPage();
    watchForViolations(page, violations);
    await page.goto(`${origin}/console/`);
    await logIn(page, operator(role).operatorId, operator(role).password);
    await page.locator("#nav").waitFor({ state: "visible" });
    return page;
  };
  const show = (page: Page, view: string) => page.locator(`#nav button[data-view="${view}"]`).click();
  const api = async (role: keyof TestService["demo"]["operators"], path: string) => request(`${t.httpsUrl}${path}`, { tls: t.tls("admin"), headers: { authorization: `Bearer ${await t.login(role)}` } });
  const toDocs = (name: string) => {
    mkdirSync(join(repoRoot, "docs/console"), { recursive: true });
    copyFileSync(join(SCREENSHOTS, `${name}.png`), join(repoRoot, "docs/console", `${name}.png`));
  };

  before(async function () {
    if (!chromiumPath()) {
      const hint = "chromium is not installed (Debian package 'chromium'; scripts/bootstrap.sh --test installs it)";
      if (process.env.CI === "true") throw new Error(`${hint}: the browser tests cannot be skipped in CI`);
      console.warn(`  skipped: ${hint}`);
      this.skip();
    }
    ({ t, keys } = await startIssuanceService(this, "console-records", 2));
    origin = consoleOrigin(t);
    // The resident's two certificates, one of them then revoked: the report's lifecycle section.
    const token = await t.login("terminal-operator");
    const { issue } = issuanceClient(() => ({ t, token }));
    const res = await issue(application([{ kind: "auth", csr: keys[0]!.csr }, { kind: "sign", csr: keys[1]!.csr }]));
    assert.equal(res.status, 201, res.body.toString());
    const issued = res.json<{ certificates: IssuedCertificate[] }>().certificates;
    issuedSerials.push(...issued.map((c) => c.serialNumber));
    // The demo relying party asks OCSP about the user-authentication certificate (openssl as the client):
    // the report's relying-party access section.
    const rp = JSON.parse(readFileSync(join(t.config.demoDir, "relying-party.json"), "utf8")) as { id: string; apiKey: string };
    const dir = mkdtempSync(join(tmpdir(), "console-records-"));
    try {
      writeFileSync(join(dir, "ca.pem"), issued[0]!.caCertificate);
      writeFileSync(join(dir, "cert.pem"), issued[0]!.certificate);
      const args = ["ocsp", "-issuer", join(dir, "ca.pem"), "-cert", join(dir, "cert.pem"), "-url", `${t.httpUrl}/ocsp`, "-header", `Authorization=Bearer ${rp.apiKey}`, "-noverify", "-no_nonce"];
      const { stdout } = await promisify(execFile)("openssl", args, { timeout: 20_000 });
      assert.match(stdout, /: good/, stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // The access log is written in batches (flushed every second, ocsp/access-recorder.ts): wait for the row.
    for (let i = 0; i < 50 && !(await t.service.db.executor()("ocsp_access_log").where({ serial: issuedSerials[0] }).first()); i++) await new Promise((r) => setTimeout(r, 200));
    const revoked = await requestJson(`${t.httpsUrl}/v1/certificates/${issuedSerials[1]}/revocation`, "POST", { reason: "keyCompromise" }, t.tls("terminal"), { authorization: `Bearer ${token}` });
    assert.equal(revoked.status, 200, revoked.body.toString());
    browser = await launchChromium();
  });
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    for (const c of contexts) for (const p of c.pages()) console.error(`  page ${p.url()}: ${(await p.locator("[role=alert], #main h2").allTextContents().catch(() => [])).join(" | ")}`);
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
  });

  it("the auditor sees a resident's disclosure report, downloads its CSV and prints it to PDF; the resident code is in no URL", async () => {
    const page = await loggedInAs("auditor");
    const urls: string[] = [];
    const bodies: string[] = [];
    page.on("request", (r) => {
      urls.push(r.url());
      if (r.method() === "POST") bodies.push(r.postData() ?? "");
    });
    await show(page, "disclosure");
    await page.locator("#disclosure-form input[name=residentCode]").fill(RESIDENT_CODE);
    await page.locator("#disclosure-form input[name=residentCode]").press("Enter");
    await page.locator("#disclosure-certificates tbody tr").first().waitFor();
    assert.equal(await page.locator("#disclosure-certificates tbody tr").count(), 2, "both certificates, each with its device");
    const certs = String(await page.locator("#disclosure-certificates").textContent());
    for (const serial of issuedSerials) assert.ok(certs.includes(serial), serial);
    assert.match(certs, /card/);
    assert.match(certs, /revoked/);
    // Every section of the report has its heading, and the lifecycle lists the issuances and the revocation.
    const sections = await page.locator("section[data-section]").evaluateAll((els) => els.map((e) => e.getAttribute("data-section")));
    for (const name of ["certificates", "resident-events", "relying-party-access", "certificate-links", "consents", "relying-party-provisions"]) assert.ok(sections.includes(name), `section ${name}`);
    const lifecycle = String(await page.locator("#disclosure-section-certificates").textContent());
    assert.match(lifecycle, /certificate-issued/);
    assert.match(lifecycle, /certificate-revoked/);
    assert.match(String(await page.locator("#disclosure-section-relying-party-access").textContent()), new RegExp(`demo-relying-party[\\s\\S]*channel=ocsp`), "the OCSP access of the demo relying party");
    await shot(page, "disclosure");
    toDocs("disclosure");

    // Download CSV: a Blob from the POST answer, named by date, never by the resident.
    const downloading = page.waitForEvent("download");
    await page.locator("#disclosure-csv").click();
    const file = await downloading;
    assert.match(file.suggestedFilename(), /^disclosure-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync(await file.path(), "utf8");
    assert.equal(csv.split(/\r?\n/)[0], "section,at,category,serial,party,detail");
    for (const serial of issuedSerials) assert.match(csv, new RegExp(`^certificates,[^,]*,certificate-issued,${serial},`, "m"));
    assert.match(csv, /certificate-revoked/);
    assert.match(csv, /^relying-party-access,.*,demo-relying-party,channel=ocsp/m);
    await page.locator("#disclosure-alert", { hasText: "Downloaded" }).waitFor();

    // Print / PDF: the button opens the browser's print dialog; the print view shows the report only.
    await page.evaluate(() => {
      (window as unknown as { printed: number }).printed = 0;
      window.print = () => void ((window as unknown as { printed: number }).printed += 1);
    });
    await page.locator("#disclosure-print").click();
    assert.equal(await page.evaluate(() => (window as unknown as { printed: number }).printed), 1);
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator("#nav").isVisible(), false, "no navigation on paper");
    assert.equal(await page.locator("#disclosure-form").isVisible(), false, "no form on paper");
    assert.equal(await page.locator("#disclosure-certificates").isVisible(), true);
    await shot(page, "disclosure-print");
    const pdf = await page.pdf({ format: "A4" });
    assert.ok(pdf.length > 1000, "a non-empty PDF");
    assert.equal(pdf.subarray(0, 5).toString("latin1"), "%PDF-");
    await page.emulateMedia({ media: "screen" });

    assert.deepEqual(urls.filter((u) => u.includes(RESIDENT_CODE)), [], "the resident code went in a body, never in a URL");
    assert.ok(urls.some((u) => u.endsWith("/v1/admin/disclosures")));
    assert.ok(bodies.some((b) => b.includes(RESIDENT_CODE)), "it went in the POST body");
    // Audited as the GET is: two reports (the page, then its CSV), by the auditor.
    const period = `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
    const audit = await api("auditor", `/v1/admin/audit?action=disclosure.report&${period}`);
    assert.equal(audit.status, 200, audit.body.toString());
    const entries = audit.json<{ entries: Array<{ actor: string; outcome: string }> }>().entries;
    assert.equal(entries.filter((e) => e.actor.includes(operator("auditor").operatorId) && e.outcome === "success").length, 2);
  });

  it("refuses the disclosure page's report to a CA operator (the API decides: 403)", async () => {
    const page = await loggedInAs("ca-operator");
    await show(page, "disclosure");
    await page.locator("#disclosure-form input[name=residentCode]").fill(RESIDENT_CODE);
    await page.locator("#disclosure-form button[type=submit]").click();
    await page.locator("#disclosure-alert", { hasText: "403" }).waitFor();
    assert.equal(await page.locator("#disclosure-certificates").count(), 0);
  });

  it("a CA operator registers a relying party (API key shown once), changes its verifier types and deactivates it", async () => {
    const page = await loggedInAs("ca-operator");
    await show(page, "relying-parties");
    await page.locator("#rp-list").waitFor();
    const form = page.locator("#rp-form");
    await form.locator("input[name=id]").fill("console-bank");
    await form.locator("input[name=name]").fill("Console Test Bank");
    await form.locator('input[name=credential][value="certificate"]').check();
    await form.locator("button[type=submit]").click();
    const apiKey = String(await page.locator("#rp-api-key").textContent());
    assert.match(apiKey, /^rp_[A-Za-z0-9_-]{40,}$/);
    await page.locator("#rp-credentials a", { hasText: "console-bank.key" }).waitFor();
    await page.locator("#rp-table tbody tr", { hasText: "console-bank" }).waitFor();
    await page.locator("#rp-credentials button").click();
    assert.equal(await page.locator("#rp-api-key").count(), 0, "hidden once noted");
    // The list never carries the key (nor its hash).
    const listed = await api("ca-operator", "/v1/admin/relying-parties");
    assert.equal(listed.status, 200, listed.body.toString());
    assert.ok(!listed.body.toString().includes(apiKey.slice(3)));
    const party = listed.json<{ relyingParties: Array<{ id: string; active: boolean; apiKey: boolean; verifierTypes: string[] }> }>().relyingParties.find((p) => p.id === "console-bank");
    assert.deepEqual(party && { active: party.active, apiKey: party.apiKey, verifierTypes: party.verifierTypes }, { active: true, apiKey: true, verifierTypes: ["signing", "user-auth"] });

    // Change its verifier types to signing only.
    const change = page.locator("#rp-verifier-form");
    await change.locator("select[name=id]").selectOption("console-bank");
    await change.locator('input[name=verifierType][value="signing"]').check();
    await change.locator("button[type=submit]").click();
    await page.locator("#rp-alert", { hasText: "console-bank" }).waitFor();
    await page.locator("#rp-table tbody tr", { hasText: "console-bank" }).filter({ hasNotText: "user-auth" }).waitFor();
    await shot(page, "relying-parties");
    toDocs("relying-parties");

    await page.locator('#rp-table [data-party="console-bank"]').getByRole("button", { name: "Deactivate" }).click();
    await page.locator("#rp-table tbody tr", { hasText: "console-bank" }).filter({ hasText: "inactive" }).waitFor();
    const after = (await api("ca-operator", "/v1/admin/relying-parties")).json<{ relyingParties: Array<{ id: string; active: boolean; verifierTypes: string[] }> }>().relyingParties.find((p) => p.id === "console-bank");
    assert.deepEqual(after && { active: after.active, verifierTypes: after.verifierTypes }, { active: false, verifierTypes: ["signing"] });
  });

  it("left no Content-Security-Policy violation or script error on any page", () => {
    assert.deepEqual(violations, []);
  });
});
