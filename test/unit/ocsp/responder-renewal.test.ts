import assert from "node:assert/strict";
import { FixedClock, type Signer } from "../../../ca/ports.js";
import type { AuditEntryInput, CaGeneration, CaId, KeySpec } from "../../../ca/types.js";
import { parseIssuerCertificate } from "../../../ca/x509/issuer-certificate.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { OcspService } from "../../../ocsp/ocsp-service.js";
import { nextResponderLabel, renewDueResponders } from "../../../ocsp/responder-renewal.js";
import { buildRequest, certIdOf, makeOcspCa, type OcspTestCa } from "./fixtures.js";
import { MemoryOcspStore } from "./memory-ocsp-store.js";
import { readResponse } from "./read-response.js";

/** Keys "in the HSM": MemorySigners by label. */
class MemoryKeys {
  readonly byLabel = new Map<string, MemorySigner>();
  generated: string[] = [];
  uri = (label: string): string => `pkcs11:token=test;object=${label};type=private`;
  async findKey(label: string) {
    const k = this.byLabel.get(label);
    return k && { uri: this.uri(label), publicKey: k.publicKey };
  }
  async generateKey(label: string, spec: KeySpec) {
    const k = MemorySigner.generate(spec);
    this.byLabel.set(label, k);
    this.generated.push(label);
    return { uri: this.uri(label), publicKey: k.publicKey };
  }
  signer = async (uri: string): Promise<Signer> => {
    const label = /object=([^;]+)/.exec(uri)![1]!;
    const k = this.byLabel.get(label);
    if (!k) throw new Error(`no key ${label}`);
    return k;
  };
}

const day = 86_400_000;

describe("ocsp/responder-renewal", function () {
  this.timeout(30_000);
  let t: OcspTestCa;
  let keys: MemoryKeys;
  let generations: Map<CaId, CaGeneration>;
  let audit: AuditEntryInput[];
  let clock: FixedClock;
  const issued = new Date("2026-11-01T00:00:00Z");

  beforeEach(async () => {
    keys = new MemoryKeys();
    const first = MemorySigner.generate({ type: "ec", curve: "P-256" });
    keys.byLabel.set("auth-g1-ocsp-1", first);
    t = await makeOcspCa({ responder: { signer: first, uri: keys.uri("auth-g1-ocsp-1") }, responderNotBefore: issued, responderValidityDays: 90 });
    generations = new Map([[t.generation.id, t.generation]]);
    audit = [];
    clock = new FixedClock(new Date(issued.getTime() + 10 * day));
  });

  const deps = () => ({
    generations: {
      list: async () => [...generations.values()],
      setOcspResponder: async (id: CaId, certificate: Uint8Array, keyUri: string) => {
        generations.set(id, { ...generations.get(id)!, ocspResponderCertificate: certificate, ocspResponderKeyUri: keyUri });
      },
    },
    transactions: { transaction: <T>(w: (tx: unknown) => Promise<T>) => w(undefined) },
    audit: { append: async (e: AuditEntryInput) => (audit.push(e), {}) as never },
    keys,
    caSigner: async (id: CaId) => (id === t.generation.id ? t.ca.signer : undefined),
    clock,
    random: { bytes: (n: number) => new Uint8Array(n).fill(7) },
  });

  it("names the next key after the current one", () => {
    assert.equal(nextResponderLabel("sign-g1", "pkcs11:token=ca;object=sign-g1-ocsp-1;type=private"), "sign-g1-ocsp-2");
    assert.equal(nextResponderLabel("sign-g1", "pkcs11:token=ca;object=sign-g1-ocsp-9;type=private"), "sign-g1-ocsp-10");
    assert.equal(nextResponderLabel("sign-g1", "pkcs11:token=ca;object=other;type=private"), "sign-g1-ocsp-2");
    assert.equal(nextResponderLabel("sign-g1", null), "sign-g1-ocsp-1");
  });

  it("leaves a certificate with 30 days or more alone, renews below that with a new HSM key", async () => {
    assert.deepEqual(await renewDueResponders(deps()), []);
    clock.set(new Date(issued.getTime() + 61 * day)); // 29 days left
    const out = await renewDueResponders(deps());
    assert.equal(out.length, 1);
    assert.equal(out[0]!.action, "renewed");
    assert.deepEqual(keys.generated, ["auth-g1-ocsp-2"]);
    const g = generations.get("auth-g1")!;
    assert.equal(g.ocspResponderKeyUri, keys.uri("auth-g1-ocsp-2"));
    const cert = parseIssuerCertificate(g.ocspResponderCertificate!);
    assert.deepEqual(Buffer.from(cert.subjectPublicKey), Buffer.from(keys.byLabel.get("auth-g1-ocsp-2")!.publicKey));
    assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 90 * day);
    assert.equal(audit[0]!.action, "ocsp.responder.renewed");
    assert.deepEqual(await renewDueResponders(deps()), [], "renewed: not due any more");
  });

  it("reuses a key a crashed renewal left in the token; skips a generation without its CA key", async () => {
    clock.set(new Date(issued.getTime() + 80 * day));
    await keys.generateKey("auth-g1-ocsp-2", { type: "ec", curve: "P-256" });
    keys.generated = [];
    await renewDueResponders(deps());
    assert.deepEqual(keys.generated, []);
    generations.set("auth-g1", { ...generations.get("auth-g1")!, ocspResponderCertificate: null, ocspResponderKeyUri: null });
    const d = { ...deps(), caSigner: async () => undefined };
    assert.deepEqual(await renewDueResponders(d), [{ caId: "auth-g1", action: "skipped", why: "the CA key is not available" }]);
  });

  it("switches the service to the new responder without a restart; answers signed before stay as they were", async () => {
    const store = new MemoryOcspStore();
    store.setCertificate({ serial: "01aa", caId: "auth-g1", status: "valid", revokedAt: null, reason: null, notAfter: new Date(issued.getTime() + 365 * day) });
    store.setCertificate({ serial: "01bb", caId: "auth-g1", status: "valid", revokedAt: null, reason: null, notAfter: new Date(issued.getTime() + 365 * day) });
    const d = deps();
    const ocsp = await OcspService.create({
      ...d,
      outbox: { readAfterCursor: async () => [], advanceCursor: async () => undefined },
      responses: store,
      statuses: store,
      accessLog: store,
      signerFor: keys.signer,
      renewal: { keys, caSigner: d.caSigner },
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    clock.set(new Date(issued.getTime() + 60 * day - 3600_000));
    assert.deepEqual(await ocsp.renewResponders(), [], "31 days left: not due");
    const before = await ocsp.responder.answer(buildRequest([certIdOf(t, "01aa")]));
    const oldKeyHash = readResponse(before.der).responderKeyHash;
    clock.advance(2 * 3600_000); // 29.96 days left

    const outcomes = await ocsp.renewResponders();
    assert.equal(outcomes[0]!.action, "renewed");
    const fresh = readResponse((await ocsp.responder.answer(buildRequest([certIdOf(t, "01bb")]))).der);
    assert.notEqual(fresh.responderKeyHash, oldKeyHash);
    // The pre-signed answer made with the old responder is still served until it is refreshed.
    const again = await ocsp.responder.answer(buildRequest([certIdOf(t, "01aa")]));
    assert.equal(readResponse(again.der).responderKeyHash, oldKeyHash);
    await ocsp.stop();
  });
});
