import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../../api/config.js";

/** `revocationInfo` (api/config.ts → ca/revocation/status-after-expiry.ts): status after expiry, validated at start-up. */
describe("config: revocationInfo (status after expiry)", () => {
  const base = { CA_HSM_PIN: "1234" };
  let dir: string;
  before(() => {
    mkdirSync(join(process.cwd(), "var/test"), { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(process.cwd(), "var/test/revocation-info-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const configFile = (value: unknown, name: string): string => {
    const json = JSON.parse(readFileSync(join(process.cwd(), "config/default.json"), "utf8")) as Record<string, unknown>;
    if (value === undefined) delete json.revocationInfo;
    else json.revocationInfo = value;
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(json));
    return file;
  };

  it("config/default.json and an absent section: three JST month ends for every kind", () => {
    for (const c of [loadConfig(base), loadConfig({ ...base, CA_CONFIG: configFile(undefined, "absent") })]) {
      assert.deepEqual(c.revocationInfo.default, { rule: "month-end", months: 3 });
      assert.equal(c.revocationInfo.utcOffsetMinutes, 540);
      assert.ok(Object.isFrozen(c.revocationInfo));
    }
  });

  it("per kind, 0 for today's behaviour", () => {
    const c = loadConfig({ ...base, CA_CONFIG: configFile({ afterExpiry: { default: 0, auth: { monthEnds: 3 } } }, "per-kind") });
    assert.deepEqual(c.revocationInfo.default, { rule: "none" });
    assert.deepEqual(c.revocationInfo.byKind.auth, { rule: "month-end", months: 3 });
  });

  it("a bad value stops start-up naming the field", () => {
    assert.throws(
      () => loadConfig({ ...base, CA_CONFIG: configFile({ afterExpiry: { auth: { months: 3 } } }, "bad") }),
      (e: unknown) => e instanceof ConfigError && /revocationInfo\.afterExpiry\.auth/.test(e.message),
    );
  });
});
