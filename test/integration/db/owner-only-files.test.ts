/**
 * Issue 12: everything under var/ owner-only — the embedded PGlite database (which unpacks its files
 * 0666 whatever the umask) and the start-up check of the command line (cli/var-permissions.ts).
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkVarPermissions } from "../../../cli/var-permissions.js";
import { openDatabase } from "../../../db/database.js";
import { restrictTreeToOwner } from "../../../db/owner-only-files.js";

const root = join(process.cwd(), "var/test", `owner-only-${process.pid}`);

/** Every path under `dir` (itself included) whose mode gives group or other users any access. */
function loose(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

describe("owner-only generated state (issue 12)", function () {
  this.timeout(120_000);
  before(() => {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true, mode: 0o700 });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("the embedded database's files are owner-only after open and after close (writes in between)", async () => {
    const dataDir = join(root, "db");
    const db = await openDatabase({ dataDir });
    try {
      assert.deepEqual(loose(dataDir), [], "after open");
      await db.knex.raw("create table t (x text)");
      await db.knex.raw("insert into t select repeat('x', 100) from generate_series(1, 1000)");
    } finally {
      await db.close();
    }
    assert.deepEqual(loose(dataDir), [], "after close");
    // A second open (relcache init files are rewritten) stays owner-only too.
    const again = await openDatabase({ dataDir });
    await again.close();
    assert.deepEqual(loose(dataDir), []);
  });

  it("the start-up check repairs group/other access under var/ and names what it changed", () => {
    const varDir = join(root, "var");
    mkdirSync(join(varDir, "demo"), { recursive: true });
    mkdirSync(join(varDir, "test/pg"), { recursive: true });
    writeFileSync(join(varDir, "demo/terminal.key"), "k");
    chmodSync(join(varDir, "demo/terminal.key"), 0o666);
    chmodSync(join(varDir, "demo"), 0o755);
    chmodSync(join(varDir, "test/pg"), 0o755);
    chmodSync(varDir, 0o755);
    const warnings: string[] = [];
    checkVarPermissions(varDir, (line) => warnings.push(line));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /3 path\(s\)/);
    assert.equal(statSync(join(varDir, "demo/terminal.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(varDir, "demo")).mode & 0o777, 0o700);
    // The var dir itself keeps search permission only (scripts/services.sh: PostgreSQL passes through to var/test).
    assert.equal(statSync(varDir).mode & 0o777, 0o711);
    // var/test belongs to the test services and is not walked.
    assert.equal(statSync(join(varDir, "test/pg")).mode & 0o777, 0o755);
    // A second run finds nothing.
    checkVarPermissions(varDir, (line) => warnings.push(line));
    assert.equal(warnings.length, 1);
  });

  it("restrictTreeToOwner reports without repairing when asked, and never follows symlinks", () => {
    const dir = join(root, "report");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, "f"), "x", { mode: 0o644 });
    chmodSync(join(dir, "f"), 0o644);
    const found = restrictTreeToOwner(dir, { repair: false });
    assert.deepEqual(found.map((f) => [f.path, f.repaired]), [["f", false]]);
    assert.equal(statSync(join(dir, "f")).mode & 0o777, 0o644);
    // A link to a file outside the tree: repairing the tree must not touch the target.
    const outside = join(root, "outside.txt");
    writeFileSync(outside, "x");
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(dir, "link"));
    restrictTreeToOwner(dir);
    assert.equal(statSync(outside).mode & 0o777, 0o644);
    assert.equal(statSync(join(dir, "f")).mode & 0o777, 0o600);
  });
});
