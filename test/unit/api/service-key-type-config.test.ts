import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../../api/config.js";

/**
 * `hsm.serviceKeyType` (api/config.ts): the key type of the service's own keys (OCSP responders, service CA,
 * audit checkpoint key), P-256 unless set; RSA for an HSM without EC mechanisms (docs/hsm-vendors.md).
 */
describe("config: hsm.serviceKeyType", () => {
  const base = { CA_HSM_PIN: "1234" };
  let dir: string;

  before(() => {
    mkdirSync(join(process.cwd(), "var/test"), { recursive: true, mode: 0o700 });
    dir = mkdtempSync(join(process.cwd(), "var/test/service-key-type-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of config/default.json with `hsm.serviceKeyType` set (or removed, when undefined). */
  const configFile = (serviceKeyType: unknown): string => {
    const json = JSON.parse(readFileSync(join(process.cwd(), "config/default.json"), "utf8")) as { hsm: Record<string, unknown> };
    if (serviceKeyType === undefined) delete json.hsm["serviceKeyType"];
    else json.hsm["serviceKeyType"] = serviceKeyType;
    const file = join(dir, `config-${String(serviceKeyType)}.json`);
    writeFileSync(file, JSON.stringify(json));
    return file;
  };

  it("defaults to P-256: in config/default.json and when the field is absent", () => {
    assert.deepEqual(loadConfig(base).hsm.serviceKeySpec, { type: "ec", curve: "P-256" });
    assert.deepEqual(loadConfig({ ...base, CA_CONFIG: configFile(undefined) }).hsm.serviceKeySpec, { type: "ec", curve: "P-256" });
  });

  it("takes each value from the file", () => {
    assert.deepEqual(loadConfig({ ...base, CA_CONFIG: configFile("ec-p256") }).hsm.serviceKeySpec, { type: "ec", curve: "P-256" });
    assert.deepEqual(loadConfig({ ...base, CA_CONFIG: configFile("rsa-2048") }).hsm.serviceKeySpec, { type: "rsa", bits: 2048 });
    assert.deepEqual(loadConfig({ ...base, CA_CONFIG: configFile("rsa-3072") }).hsm.serviceKeySpec, { type: "rsa", bits: 3072 });
  });

  it("CA_HSM_SERVICE_KEY_TYPE overrides the file", () => {
    assert.deepEqual(loadConfig({ ...base, CA_HSM_SERVICE_KEY_TYPE: "rsa-2048" }).hsm.serviceKeySpec, { type: "rsa", bits: 2048 });
    assert.deepEqual(loadConfig({ ...base, CA_HSM_SERVICE_KEY_TYPE: "rsa-3072" }).hsm.serviceKeySpec, { type: "rsa", bits: 3072 });
    assert.deepEqual(loadConfig({ ...base, CA_CONFIG: configFile("rsa-3072"), CA_HSM_SERVICE_KEY_TYPE: "ec-p256" }).hsm.serviceKeySpec, { type: "ec", curve: "P-256" });
  });

  it("refuses a bad value naming the field, from the file and from the environment", () => {
    const names = (e: unknown): boolean => e instanceof ConfigError && /config field hsm\.serviceKeyType/.test(e.message);
    for (const bad of ["rsa-4096", "P-256", "RSA-2048", "", 2048, null]) {
      assert.throws(() => loadConfig({ ...base, CA_CONFIG: configFile(bad) }), names, `file: ${JSON.stringify(bad)}`);
    }
    assert.throws(() => loadConfig({ ...base, CA_HSM_SERVICE_KEY_TYPE: "ec-p384" }), names);
  });
});
