import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { findSystemBinary } from "../../support/system-binaries.js";
import { repoRoot, type TestService } from "../../support/service-harness.js";

/**
 * Debian's headless Chromium driven by playwright-core (issue 17; docs/console.md "Tests"): no browser
 * download, the binary `scripts/bootstrap.sh --test` installs. Every context presents the demo admin
 * workstation's client certificate (playwright's `clientCertificates`) and trusts the listener without
 * the service CA in an NSS store (`ignoreHTTPSErrors`: the test checks the service, not the trust store).
 */

/** Where the pages' screenshots go (docs/console/ holds copies of the main ones). */
export const SCREENSHOTS = join(repoRoot, "var/test/console");

/** The system Chromium, or undefined when the package is missing (the caller skips, or fails under CI=true). */
export const chromiumPath = (): string | undefined => findSystemBinary("chromium");

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error("chromium not found: install the Debian package 'chromium' (scripts/bootstrap.sh --test does)");
  mkdirSync(SCREENSHOTS, { recursive: true });
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}

/** The console's origin on the HTTPS listener, named as the server certificate names it (localhost). */
export const consoleOrigin = (t: TestService): string => t.httpsUrl.replace("127.0.0.1", "localhost");

/** A browser context of the demo admin workstation (English labels unless `locale` says otherwise). */
export async function adminContext(browser: Browser, t: TestService, locale = "en-US"): Promise<BrowserContext> {
  return browser.newContext({
    ignoreHTTPSErrors: true,
    locale,
    viewport: { width: 1280, height: 900 },
    clientCertificates: [{ origin: consoleOrigin(t), cert: Buffer.from(t.demo.admin.cert), key: Buffer.from(t.demo.admin.key) }],
  });
}

/** Messages the page printed that a Content-Security-Policy violation or a script error leaves. */
export function watchForViolations(page: Page, seen: string[]): void {
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) seen.push(m.text());
  });
  page.on("pageerror", (e) => seen.push(`pageerror: ${e.message}`));
}

/** Logs in through the form (mouse-free: fill and Enter). */
export async function logIn(page: Page, operatorId: string, password: string): Promise<void> {
  await page.locator("#operatorId").fill(operatorId);
  await page.locator("#password").fill(password);
  await page.locator("#password").press("Enter");
}

export const shot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
