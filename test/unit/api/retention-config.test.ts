import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../../api/config.js";
import { defaultRetentionPeriods } from "../../../ca/records/retention.js";

/** `retention` (api/config.ts → ca/records/retention.ts): periods read once at start-up, checked against `revocationInfo`. */
describe("config: retention periods", () => {
  const base = { CA_HSM_PIN: "1234" };
  let dir: string;
  before(() => {
    mkdirSync(join(process.cwd(), "var/test"), { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(process.cwd(), "var/test/retention-config-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const configFile = (sections: Record<string, unknown>, name: string): string => {
    const json = { ...(JSON.parse(readFileSync(join(process.cwd(), "config/default.json"), "utf8")) as Record<string, unknown>), ...sections };
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(json));
    return file;
  };
  const refused = (sections: Record<string, unknown>, name: string, field: RegExp) =>
    assert.throws(() => loadConfig({ ...base, CA_CONFIG: configFile(sections, name) }), (e: unknown) => e instanceof ConfigError && field.test(e.message));

  it("defaults without the section; an override of one period keeps the others", () => {
    assert.deepEqual({ ...loadConfig(base).retention }, { ...defaultRetentionPeriods });
    const c = loadConfig({ ...base, CA_CONFIG: configFile({ retention: { relyingPartyAccessDays: 400 } }, "override") });
    assert.deepEqual({ ...c.retention }, { ...defaultRetentionPeriods, relyingPartyAccessDays: 400 });
    assert.ok(Object.isFrozen(c.retention));
  });

  it("refuses an unknown period, a bad value and a section that is not an object, naming the field", () => {
    refused({ retention: { auditLogDays: 3 } }, "unknown", /config field retention\.auditLogDays/);
    refused({ retention: { auditLogYears: 0 } }, "zero", /config field retention\.auditLogYears/);
    refused({ retention: [7] }, "array", /config field retention:/);
  });

  it("refuses personal fields purged before the status after expiry ends (revocationInfo)", () => {
    refused({ retention: { certificatePersonalFieldsYearsAfterExpiry: 1 }, revocationInfo: { afterExpiry: { default: { days: 400 } } } }, "conflict", /config field retention\.certificatePersonalFieldsYearsAfterExpiry/);
    const c = loadConfig({ ...base, CA_CONFIG: configFile({ retention: { certificatePersonalFieldsYearsAfterExpiry: 1 } }, "fits") });
    assert.equal(c.retention.certificatePersonalFieldsYearsAfterExpiry, 1, "1 year outlasts the default three month ends");
  });
});
