import assert from "node:assert/strict";
import { latestOf } from "../../../../ca/linkage/certificate-links.js";
import { application, cardKey, context, issuanceWorld, RESIDENT_CODE, type CardKey, type IssuanceWorld } from "../../../support/issuance-world.js";
import { MemoryCertificateLinkStore } from "../../../support/memory-certificate-links.js";

/**
 * The issuance service records the linkage graph in step (3) (docs/linkage.md): once per issuance, whether
 * step (3) runs in the request, in a retry with the same Idempotency-Key, or in the reconciler.
 */
describe("ca/issuance: links recorded by the issuance service", function () {
  this.timeout(30_000);
  let w: IssuanceWorld;
  let links: MemoryCertificateLinkStore;
  const keys: CardKey[] = [];
  const key = (): CardKey => keys.shift()!;
  const serialsOf = (answer: { certificates: ReadonlyArray<Record<string, unknown>> }) =>
    Object.fromEntries(answer.certificates.map((c) => [String(c.kind), String(c.serialNumber)])) as Record<"sign" | "auth", string>;

  before(async () => {
    keys.push(...(await Promise.all(Array.from({ length: 8 }, () => cardKey()))));
  });
  beforeEach(async () => {
    w = await issuanceWorld();
    links = new MemoryCertificateLinkStore(w.stores.db);
  });

  it("a renewal links each kind to its predecessor, pairs sign with auth, and audits the links", async () => {
    const first = serialsOf((await w.service.issue(context(), application([{ kind: "auth", key: key() }, { kind: "sign", key: key() }]))).answer);
    w.clock.at = new Date(w.clock.at.getTime() + 60_000);
    const renewal = serialsOf((await w.service.issue(context(), application([{ kind: "auth", key: key() }, { kind: "sign", key: key() }]))).answer);
    assert.deepEqual(await links.to(renewal.sign, "successor"), [{ fromSerial: first.sign, toSerial: renewal.sign, link: "successor", residentCode: RESIDENT_CODE, createdAt: w.clock.at }]);
    assert.deepEqual((await links.from(renewal.sign, "sign-auth")).map((l) => l.toSerial), [renewal.auth]);
    assert.equal(await latestOf(first.auth, links), renewal.auth);
    const audit = (await w.stores.audit.range(1, 100)).filter((e) => e.action === "certificate.issued");
    assert.deepEqual(audit.at(-1)?.detail.links, [
      ...[{ from: first.auth, to: renewal.auth, link: "successor" }, { from: first.sign, to: renewal.sign, link: "successor" }].sort((a, b) => (a.from < b.from ? -1 : 1)),
      { from: renewal.sign, to: renewal.auth, link: "sign-auth" },
    ]);
  });

  it("a crashed step (3) finished by the reconciler, then retried, writes its links once", async () => {
    const first = serialsOf((await w.service.issue(context(), application([{ kind: "auth", key: key() }]))).answer);
    const ctx = context();
    const body = application([{ kind: "auth", key: key() }, { kind: "sign", key: key() }]);
    const complete = w.issuances.completeWithCertificates.bind(w.issuances);
    w.issuances.completeWithCertificates = async () => Promise.reject(new Error("connection lost"));
    await assert.rejects(w.service.issue(ctx, body), /connection lost/);
    w.issuances.completeWithCertificates = complete;
    assert.equal((await links.ofResident(RESIDENT_CODE)).length, 0, "nothing linked before step (3)");
    w.clock.at = new Date(w.clock.at.getTime() + 3_600_000);
    assert.deepEqual(await w.service.reconcile(0), { completed: 1, failed: 0 });
    const again = await w.service.issue(ctx, body);
    assert.equal(again.replayed, true);
    assert.deepEqual(await w.service.reconcile(0), { completed: 0, failed: 0 });
    const renewal = serialsOf(again.answer);
    const all = await links.ofResident(RESIDENT_CODE);
    assert.deepEqual(all.map((l) => [l.fromSerial, l.toSerial, l.link]).sort(), [[first.auth, renewal.auth, "successor"], [renewal.sign, renewal.auth, "sign-auth"]].sort());
  });
});
