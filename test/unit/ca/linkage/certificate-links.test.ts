import assert from "node:assert/strict";
import { cardPhoneLinks, latestOf, linksOfIssuance, maxSuccessorSteps, type CertificateLink, type LinkedCertificate } from "../../../../ca/linkage/certificate-links.js";

const AT = new Date("2026-12-04T03:00:00Z");
const R = "12345678901";
const c = (serial: string, kind: "sign" | "auth", device: "card" | "phone" = "card"): LinkedCertificate => ({ serial, kind, device });
const edge = (fromSerial: string, toSerial: string, link: CertificateLink["link"]): CertificateLink => ({ fromSerial, toSerial, link, residentCode: R, createdAt: AT });

describe("ca/linkage linksOfIssuance", () => {
  it("a first issuance: only the sign-auth pair", () => {
    assert.deepEqual(linksOfIssuance([c("a1", "auth"), c("s1", "sign")], [], R, AT), [edge("s1", "a1", "sign-auth")]);
  });

  it("a renewal: each certificate from the most recent earlier one of its kind and device, whatever its status", () => {
    const earlier = [c("s0", "sign"), c("a0", "auth"), c("s1", "sign"), c("a1", "auth"), c("sp", "sign", "phone"), c("ap", "auth", "phone")];
    assert.deepEqual(linksOfIssuance([c("s2", "sign"), c("a2", "auth")], earlier, R, AT), [edge("s1", "s2", "successor"), edge("a1", "a2", "successor"), edge("s2", "a2", "sign-auth")]);
  });

  it("a re-issue of the signing certificate alone (after a move): its successor link, no pair", () => {
    assert.deepEqual(linksOfIssuance([c("s3", "sign")], [c("s1", "sign"), c("a1", "auth"), c("s2", "sign")], R, AT), [edge("s2", "s3", "successor")]);
  });

  it("a phone issuance links from the previous phone, never from the card, and pairs on the phone", () => {
    const earlier = [c("s1", "sign"), c("a1", "auth"), c("ps1", "sign", "phone")];
    assert.deepEqual(linksOfIssuance([c("ps2", "sign", "phone"), c("pa2", "auth", "phone")], earlier, R, AT), [edge("ps1", "ps2", "successor"), edge("ps2", "pa2", "sign-auth")]);
  });

  it("ignores the issued certificates among the predecessors, and pairs no sign and auth of different devices", () => {
    assert.deepEqual(linksOfIssuance([c("s1", "sign"), c("pa", "auth", "phone")], [c("s1", "sign")], R, AT), []);
  });
});

describe("ca/linkage cardPhoneLinks", () => {
  it("links each card certificate to the phone certificate of its kind", () => {
    const card = [c("s1", "sign"), c("a1", "auth")];
    assert.deepEqual(cardPhoneLinks(card, [c("ps", "sign", "phone"), c("pa", "auth", "phone")], R, AT), [edge("s1", "ps", "card-phone"), edge("a1", "pa", "card-phone")]);
    assert.deepEqual(cardPhoneLinks([c("ps0", "sign", "phone")], [c("s2", "sign")], R, AT), [], "only card → phone");
  });
});

describe("ca/linkage latestOf", () => {
  const storeOf = (links: readonly CertificateLink[]) => {
    let reads = 0;
    return {
      get reads() {
        return reads;
      },
      from: async (serial: string, link: CertificateLink["link"]) => {
        reads++;
        return links.filter((l) => l.fromSerial === serial && l.link === link);
      },
    };
  };

  it("follows successor links to the newest, and only successor links", async () => {
    const store = storeOf([edge("s0", "s1", "successor"), edge("s1", "s2", "successor"), edge("s2", "a2", "sign-auth")]);
    assert.equal(await latestOf("s0", store), "s2");
    assert.equal(await latestOf("s2", store), "s2");
    assert.equal(await latestOf("zz", store), "zz");
  });

  it("takes the newest of two successors", async () => {
    const later = { ...edge("s0", "s9", "successor"), createdAt: new Date(AT.getTime() + 1000) };
    assert.equal(await latestOf("s0", storeOf([later, edge("s0", "s1", "successor")])), "s9");
  });

  it("stops on a cycle, and after maxSuccessorSteps steps", async () => {
    const cycle = storeOf([edge("x", "y", "successor"), edge("y", "x", "successor")]);
    assert.equal(await latestOf("x", cycle), "y");
    assert.ok(cycle.reads <= 3);
    const chain = Array.from({ length: maxSuccessorSteps + 10 }, (_, i) => edge(`n${i}`, `n${i + 1}`, "successor"));
    const long = storeOf(chain);
    assert.equal(await latestOf("n0", long), `n${maxSuccessorSteps}`);
    assert.equal(long.reads, maxSuccessorSteps);
  });
});
