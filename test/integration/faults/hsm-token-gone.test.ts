import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../support/service-harness.js";

/**
 * Issue 14 item 3b: a transient HSM fault answered 404 "no private key in the token" before the 503s.
 * A dedicated SoftHSM token (its own SOFTHSM2_CONF under var/test/faults/, never the shared var/hsm
 * token) has its directory moved away for a second under a process that holds logged-in sessions: every
 * answer meanwhile is "unavailable" (503), never "not-found"; when the directory is back, the sessions are
 * re-opened and logged in by themselves; a key truly absent from the working token stays "not-found".
 */
describe("faults: the SoftHSM token directory gone and back (issue 14 item 3b)", function () {
  this.timeout(60_000);
  const dir = join(repoRoot, "var/test/faults", `hsm-${process.pid}`);
  const tokenDir = join(dir, "tokens");

  before(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "softhsm2.conf"), `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "faults-hsm", "--pin", "123456", "--so-pin", "12345678"], {
      env: { ...process.env, SOFTHSM2_CONF: join(dir, "softhsm2.conf") },
      stdio: "ignore",
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("answers unavailable while the token is gone, recovers by itself, and a truly absent key stays not-found", () => {
    const stdout = execFileSync(process.execPath, ["--import", "tsx", join(repoRoot, "test/integration/faults/hsm-token-gone.child.ts"), tokenDir], {
      cwd: repoRoot,
      env: { ...process.env, SOFTHSM2_CONF: join(dir, "softhsm2.conf") },
      encoding: "utf8",
      timeout: 50_000,
    });
    const out = JSON.parse(stdout.trim().split("\n").at(-1)!) as {
      before: { sign: string; absentKey: string };
      during: string[];
      healthDuring: boolean;
      after: string[];
      recoveredMs: number | undefined;
      absentKeyAfter: string;
    };
    console.log(`      while gone: ${out.during.length} answers ${[...new Set(out.during)].join(", ")}; recovered ${Math.round(out.recoveredMs ?? -1)} ms after the directory came back`);
    assert.deepEqual(out.before, { sign: "ok", absentKey: "not-found" });
    assert.deepEqual([...new Set(out.during)], ["unavailable"], `never not-found while the token is gone: ${out.during.join()}`);
    assert.equal(out.healthDuring, false);
    assert.ok(out.recoveredMs !== undefined && out.recoveredMs < 5000, `recovered: ${out.after.join()}`);
    assert.equal(out.absentKeyAfter, "not-found", "a key absent from the working token is still a configuration error");
  });
});
