import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pkcs11js from "pkcs11js";
import { processAlive } from "../../bench/process-cpu.js";

/**
 * Throwaway SoftHSM tokens for tests.
 *
 * SoftHSM reads SOFTHSM2_CONF, and enumerates its tokens, once, at C_Initialize (docs/traps.md §1, and
 * checked: a token made by softhsm2-util afterwards stays invisible until C_Finalize + C_Initialize).
 * So every test of one mocha process shares ONE conf, ./var/test/softhsm/softhsm2.conf, with one
 * tokendir ./var/test/softhsm/tokens/ holding every test token; and tokens must be created before
 * the library is initialized in this process (create them in `before()`, and close every Pkcs11Hsm
 * in `after()` — the one that initialized the library finalizes it).
 *
 * Labels get the process id appended so that concurrent test runs never touch each other's tokens;
 * tokens left by processes that are gone are deleted on first use.
 */

export interface TestToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  readonly confPath: string;
}

export const softhsmModulePath = process.env["CA_TEST_PKCS11_MODULE"] ?? "/usr/lib/softhsm/libsofthsm2.so";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Root of all test SoftHSM state. */
export const testSofthsmDir = join(repoRoot, "var/test/softhsm");
const confPath = join(testSofthsmDir, "softhsm2.conf");
const tokenDir = join(testSofthsmDir, "tokens");

const created = new Map<string, TestToken>();
let prepared = false;

/** Whether the PKCS#11 library is already initialized in this process (then new tokens stay invisible). */
function libraryInitialized(modulePath: string): boolean {
  const lib = new pkcs11js.PKCS11();
  lib.load(modulePath);
  try {
    lib.C_GetSlotList(false);
    return true;
  } catch {
    return false; // CKR_CRYPTOKI_NOT_INITIALIZED
  }
}

function softhsmUtil(args: string[]): string {
  return execFileSync("softhsm2-util", args, {
    env: { ...process.env, SOFTHSM2_CONF: confPath },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function prepare(): void {
  if (prepared) return;
  // Only the token directory is owner-only: a recursive mkdir would give ./var and ./var/test that mode
  // too, and the PostgreSQL of scripts/services.sh (user postgres) keeps its data under ./var/test.
  mkdirSync(dirname(tokenDir), { recursive: true });
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  // Absolute tokendir: SoftHSM resolves a relative one against the process cwd (docs/traps.md §1).
  const conf = [
    `directories.tokendir = ${tokenDir}`,
    "objectstore.backend = file",
    "log.level = ERROR",
    "slots.removable = false",
    "slots.mechanisms = ALL",
    "library.reset_on_fork = false",
    "",
  ].join("\n");
  // Rewrite only when different: a concurrent test run may be reading it at C_Initialize.
  if (!existsSync(confPath) || readFileSync(confPath, "utf8") !== conf) writeFileSync(confPath, conf);
  // Tokens of test processes that have ended.
  const listing = softhsmUtil(["--show-slots"]);
  for (const m of listing.matchAll(/^\s*Label:\s+(\S+)-(\d+)\s*$/gm)) {
    const [, , pid] = m;
    if (pid && Number(pid) !== process.pid && !processAlive(Number(pid))) {
      try {
        softhsmUtil(["--delete-token", "--token", `${m[1]}-${pid}`]);
      } catch {
        // another run is cleaning up too
      }
    }
  }
  prepared = true;
}

/**
 * Creates (once per process and name) a SoftHSM token `<name>-<pid>` under ./var/test/softhsm/tokens,
 * points process.env.SOFTHSM2_CONF at the shared test conf and returns how to open it.
 * @param name 1-20 characters a-z 0-9 -
 * @throws if the library is already initialized in this process (the token would be invisible) or
 * was configured with another SOFTHSM2_CONF.
 */
export function createTestToken(name: string): TestToken {
  if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(name)) throw new Error("test token name must be 1-20 of a-z 0-9 -");
  const existing = created.get(name);
  if (existing) return existing;
  if (libraryInitialized(softhsmModulePath)) {
    throw new Error(
      `cannot create test token "${name}": SoftHSM is already initialized in this process and would not see it. ` +
        "Create every token in before() before opening a Pkcs11Hsm, and close each Pkcs11Hsm in after().",
    );
  }
  prepare();
  process.env["SOFTHSM2_CONF"] = confPath;
  const tokenLabel = `${name}-${process.pid}`;
  const pin = randomBytes(8).toString("hex");
  const soPin = randomBytes(8).toString("hex");
  try {
    softhsmUtil(["--delete-token", "--token", tokenLabel]); // a leftover of a recycled pid
  } catch {
    // none: the usual case
  }
  softhsmUtil(["--init-token", "--free", "--label", tokenLabel, "--so-pin", soPin, "--pin", pin]);
  const token: TestToken = { modulePath: softhsmModulePath, tokenLabel, pin, soPin, confPath };
  created.set(name, token);
  return token;
}

/** Deletes a token made by createTestToken (a benchmark's or a test's cleanup); never throws: it may be gone already. */
export function deleteTestToken(token: Pick<TestToken, "tokenLabel">): void {
  try {
    softhsmUtil(["--delete-token", "--token", token.tokenLabel]);
  } catch {
    // already gone
  }
}
