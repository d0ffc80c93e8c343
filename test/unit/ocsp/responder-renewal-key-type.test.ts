import assert from "node:assert/strict";
import { FixedClock } from "../../../ca/ports.js";
import type { AuditEntryInput, CaGeneration, CaId, KeySpec } from "../../../ca/types.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { keySpecLabel, publicKeySpec } from "../../../ca/x509/public-key.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { defaultResponderRenewalOptions, renewDueResponders } from "../../../ocsp/responder-renewal.js";
import { makeOcspCa, type OcspTestCa } from "./fixtures.js";

/**
 * The type of a renewed responder's new key (ocsp/responder-renewal.ts `keySpec`, from `hsm.serviceKeyType`):
 * P-256 unless configured, RSA when configured (an HSM without EC, docs/hsm-vendors.md). Keys at the port.
 */
describe("ocsp/responder-renewal: key type of a new responder key", function () {
  this.timeout(30_000);
  const day = 86_400_000;
  const issued = new Date("2026-11-01T00:00:00Z");
  let t: OcspTestCa;
  let generations: Map<CaId, CaGeneration>;
  let generated: Array<{ label: string; spec: KeySpec }>;
  const keys = new Map<string, MemorySigner>();

  beforeEach(async () => {
    keys.clear();
    generated = [];
    const first = MemorySigner.generate({ type: "ec", curve: "P-256" });
    keys.set("auth-g1-ocsp-1", first);
    t = await makeOcspCa({ responder: { signer: first, uri: "pkcs11:token=t;object=auth-g1-ocsp-1;type=private" }, responderNotBefore: issued, responderValidityDays: 90 });
    generations = new Map([[t.generation.id, t.generation]]);
  });

  const renew = (keySpec?: KeySpec) =>
    renewDueResponders(
      {
        generations: {
          list: async () => [...generations.values()],
          setOcspResponder: async (id: CaId, certificate: Uint8Array, keyUri: string) => {
            generations.set(id, { ...generations.get(id)!, ocspResponderCertificate: certificate, ocspResponderKeyUri: keyUri });
          },
        },
        transactions: { transaction: <T>(w: (tx: unknown) => Promise<T>) => w(undefined) },
        audit: { append: async (_e: AuditEntryInput) => ({}) as never },
        keys: {
          findKey: async (label: string) => {
            const k = keys.get(label);
            return k && { uri: `pkcs11:token=t;object=${label};type=private`, publicKey: k.publicKey };
          },
          generateKey: async (label: string, spec: KeySpec) => {
            const k = MemorySigner.generate(spec);
            keys.set(label, k);
            generated.push({ label, spec });
            return { uri: `pkcs11:token=t;object=${label};type=private`, publicKey: k.publicKey };
          },
        },
        caSigner: async (id: CaId) => (id === t.generation.id ? t.ca.signer : undefined),
        clock: new FixedClock(new Date(issued.getTime() + 61 * day)),
        random: { bytes: (n: number) => new Uint8Array(n).fill(7) },
      },
      keySpec ? { ...defaultResponderRenewalOptions, keySpec } : defaultResponderRenewalOptions,
    );

  const responderKeyType = (): string => keySpecLabel(publicKeySpec(parseIssuerCertificate(generations.get("auth-g1")!.ocspResponderCertificate!).subjectPublicKey));

  it("P-256 when no key type is configured", async () => {
    assert.equal((await renew())[0]?.action, "renewed");
    assert.deepEqual(generated, [{ label: "auth-g1-ocsp-2", spec: { type: "ec", curve: "P-256" } }]);
    assert.equal(responderKeyType(), "P-256");
  });

  it("RSA-2048 and RSA-3072 when configured: the new certificate holds the new RSA key", async () => {
    assert.equal((await renew({ type: "rsa", bits: 2048 }))[0]?.action, "renewed");
    assert.deepEqual(generated, [{ label: "auth-g1-ocsp-2", spec: { type: "rsa", bits: 2048 } }]);
    assert.equal(responderKeyType(), "RSA-2048");
    // A generation without a responder gets `<caId>-ocsp-1` (the first key, removed here so a new one is made).
    keys.delete("auth-g1-ocsp-1");
    generations.set("auth-g1", { ...generations.get("auth-g1")!, ocspResponderCertificate: null, ocspResponderKeyUri: null });
    assert.equal((await renew({ type: "rsa", bits: 3072 }))[0]?.action, "renewed");
    assert.deepEqual(generated[1], { label: "auth-g1-ocsp-1", spec: { type: "rsa", bits: 3072 } });
    assert.equal(responderKeyType(), "RSA-3072");
  });
});
