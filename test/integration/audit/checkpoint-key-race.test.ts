import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { createTestToken, type TestToken } from "../../support/softhsm.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");

/** The lines a child printed, and a promise of the line that starts with `prefix`. */
function linesOf(child: ChildProcess): (prefix: string) => Promise<string> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return (prefix) =>
    new Promise((resolveLine, reject) => {
      const check = (): boolean => {
        const line = out.split("\n").find((l) => l.startsWith(prefix));
        if (line !== undefined) resolveLine(line);
        return line !== undefined;
      };
      if (check()) return;
      child.stdout?.on("data", check);
      child.on("exit", (code) => check() || reject(new Error(`start exited ${code} before "${prefix}":\n${err}`)));
    });
}

/**
 * Nodes starting together on one token (issue 14's cluster test failed in CI on this): PKCS#11 does not
 * refuse a second key with the same label, and one process's check cannot see another's generation in
 * flight, so an unserialised find-or-generate made two checkpoint keys and every later start failed with
 * "ambiguous". Five processes, released at the same instant, each with its own PKCS#11 sessions and
 * database connection.
 */
describe("audit checkpoint key: nodes starting together on one token make one key", function () {
  this.timeout(120_000);
  let token: TestToken;
  let tdb: TestDatabase;

  before(async function () {
    requirePostgresUrl(this);
    token = createTestToken("ckpt-race");
    tdb = await openTestDatabase("postgres");
  });

  after(async function () {
    await tdb?.close();
  });

  it("five concurrent starts sign with one key, and the token holds it once", async function () {
    const label = "audit-checkpoint";
    const env = { ...process.env, PKCS11_MODULE: token.modulePath, TOKEN_LABEL: token.tokenLabel, TOKEN_PIN: token.pin, DATABASE_URL: tdb.url, KEY_LABEL: label, SOFTHSM2_CONF: token.confPath };
    const children = Array.from({ length: 5 }, () => spawn(process.execPath, ["--import", "tsx", join(here, "checkpoint-key-start.ts")], { cwd: repoRoot, env, stdio: ["pipe", "pipe", "pipe"] }));
    try {
      const lines = children.map(linesOf);
      await Promise.all(lines.map((l) => l("ready")));
      for (const c of children) c.stdin?.write("go\n");
      const keys = new Set(await Promise.all(lines.map((l) => l("key "))));
      assert.equal(keys.size, 1, "every start signs with the same key");
      const hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin });
      try {
        const found = await hsm.findKey(label); // refuses an ambiguous label
        assert.ok(found, "the key is in the token");
        assert.deepEqual(keys, new Set([`key ${Buffer.from(found.publicKey).toString("hex")}`]));
      } finally {
        await hsm.close();
      }
    } finally {
      for (const c of children) c.kill("SIGKILL");
    }
  });
});
