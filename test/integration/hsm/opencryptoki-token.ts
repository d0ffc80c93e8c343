import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import pkcs11js from "pkcs11js";
import { processAlive } from "../../../bench/process-cpu.js";

/**
 * opencryptoki's software token for the tests (docs/hsm-vendors.md), set up by scripts/services.sh start
 * (slot daemon running, token initialised, PINs in CA_TEST_OCK_DIR) and announced in var/test/services.env.
 *
 * opencryptoki has ONE software token per machine (its state under /var/lib/opencryptoki cannot be moved
 * under ./var), so unlike SoftHSM (test/support/softhsm.ts) a test cannot make a token of its own. Instead
 * each test file takes a lock (CA_TEST_OCK_DIR/lock, machine-wide: one mocha process at a time, whichever checkout) and empties the
 * token (destroys every object), and empties it again when done: keys made by a test never outlive it.
 */
export interface OckToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  readonly pin: string;
  readonly soPin: string;
  /** Wipes the token's objects and releases the lock. Idempotent. */
  release(): void;
}

interface OckEnv {
  modulePath: string;
  tokenLabel: string;
  dir: string;
}

function ockEnv(): OckEnv | undefined {
  const modulePath = process.env["CA_TEST_OCK_MODULE"];
  const tokenLabel = process.env["CA_TEST_OCK_TOKEN_LABEL"];
  const dir = process.env["CA_TEST_OCK_DIR"];
  return modulePath && tokenLabel && dir ? { modulePath, tokenLabel, dir } : undefined;
}

/**
 * Mocha `before` guard: without the token announced by scripts/services.sh, fails when CI=true (a missing
 * service is a failure there) and otherwise skips with a message saying how to get it.
 */
export function requireOpencryptoki(ctx: Mocha.Context): void {
  const hint = ockEnv()
    ? libitmLoaded()
      ? undefined
      : "opencryptoki's libitm is not preloaded (LD_PRELOAD): loaded late, into a process that holds SoftHSM and PGlite, it segfaults " +
        "the whole test process (docs/hsm-vendors.md); source var/test/services.env before starting mocha, it sets LD_PRELOAD"
    : "opencryptoki is not set up (CA_TEST_OCK_MODULE unset): run `bash scripts/services.sh start` as root " +
      "(it installs opencryptoki libopencryptoki0, starts pkcsslotd and initialises the software token) and source var/test/services.env";
  if (hint === undefined) return;
  if (process.env["CI"] === "true") throw new Error(`${hint}; the opencryptoki tests cannot be skipped in CI`);
  console.warn(`    skipped: ${hint}`);
  ctx.skip();
}

/** Whether libitm is mapped into this process already (preloaded, or loaded by an earlier opencryptoki test). */
function libitmLoaded(): boolean {
  try {
    return /\/libitm\.so/.test(readFileSync("/proc/self/maps", "utf8"));
  } catch {
    return false;
  }
}

/** Exclusive lock file holding our pid; a lock of a process that is gone is taken over. Waits up to `ms`. */
async function lock(file: string, ms: number): Promise<() => void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        if (existsSync(file) && readFileSync(file, "utf8") === String(process.pid)) unlinkSync(file);
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const holder = Number(readFileSync(file, "utf8"));
      if (!Number.isInteger(holder) || holder <= 0 || !processAlive(holder)) {
        unlinkSync(file);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the opencryptoki token is in use by process ${holder} (lock ${file})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Destroys every object of the token, logged in as the user, through a library handle of its own,
 * finalized before returning (the code under test initialises the library itself). Not C_InitToken:
 * on opencryptoki 3.8.1 a re-initialisation with any SO PIN but the factory one leaves the SO unable to
 * log in (CKR_FUNCTION_FAILED) and the token without a user PIN (docs/hsm-vendors.md). The token does
 * not know CKA_DESTROYABLE, so every key can be destroyed; one that cannot fails the test here.
 */
function wipeToken(env: OckEnv, pin: string): void {
  const lib = new pkcs11js.PKCS11();
  lib.load(env.modulePath);
  // Throws CKR_CRYPTOKI_ALREADY_INITIALIZED while a Pkcs11Hsm of this process is open: close it first.
  lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  try {
    // CK_TOKEN_INFO.label is 32 bytes; opencryptoki pads with blanks (or NULs when set without padding).
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.replace(/[\s\u0000]+$/, "") === env.tokenLabel);
    if (!slot) throw new Error(`opencryptoki token "${env.tokenLabel}" not found: run scripts/services.sh start again`);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, pin);
      lib.C_FindObjectsInit(session, []);
      const handles = lib.C_FindObjects(session, 10_000);
      lib.C_FindObjectsFinal(session);
      for (const h of handles) lib.C_DestroyObject(session, h);
      lib.C_Logout(session);
    } finally {
      lib.C_CloseSession(session);
    }
  } finally {
    lib.C_Finalize();
  }
}

/** Takes the token for this test file: locked, wiped, ready to log in with `pin`. Call `release()` in after(). */
export async function takeOpencryptokiToken(): Promise<OckToken> {
  const env = ockEnv();
  if (!env) throw new Error("call requireOpencryptoki(this) first");
  mkdirSync(env.dir, { recursive: true, mode: 0o700 });
  const unlock = await lock(join(env.dir, "lock"), 60_000);
  let released = false;
  try {
    const pin = readFileSync(join(env.dir, "pin"), "utf8").trim();
    const soPin = readFileSync(join(env.dir, "so-pin"), "utf8").trim();
    wipeToken(env, pin);
    return {
      modulePath: env.modulePath,
      tokenLabel: env.tokenLabel,
      pin,
      soPin,
      release: () => {
        if (released) return;
        released = true;
        try {
          wipeToken(env, pin);
        } finally {
          unlock();
        }
      },
    };
  } catch (e) {
    unlock();
    throw e;
  }
}
