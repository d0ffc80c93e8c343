import assert from "node:assert/strict";
import { checkPrimeSync, createPrivateKey, createPublicKey, generateKeyPair, generatePrimeSync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";
import { KnexResidentEventStore } from "../../db/resident-event-store.js";
import { requestJson, type HttpAnswer } from "../support/https-client.js";
import { startTestService, type TestService } from "../support/service-harness.js";

/**
 * Issue #12 item 5, as an attacker at a counter terminal would try it, through the HTTPS API:
 * - a key whose certificate was revoked for keyCompromise comes back in a new application (the same
 *   resident's renewal, another resident, the other kind): 409 naming the csr field, nothing issued;
 * - a signing key asked for user authentication (live, then superseded): 409;
 * - a key revoked for another reason (superseded, unspecified) comes back: 409 (docs/issuance.md);
 * - a revocation written by another path (the resident-event batch statement) blocks the key too;
 * - a weak card key (primes too close: Fermat) is refused: 422.
 * Each failed on main before this change (201), except the live-key case, kept as the baseline.
 */

const generateRsa = promisify(generateKeyPair);
const jstToday = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
const NAME = "鈴木　花子";
const ADDRESS = "東京都新宿区西新宿二丁目８番１号";
const MUNICIPALITY = "131041";

interface Card {
  readonly csr: string;
  readonly spkiBase64: string;
}

function cardOf(pair: { publicKey: KeyObject; privateKey: KeyObject }): Card {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(pair.publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(pair.privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return { csr: forge.pki.certificationRequestToPem(csr), spkiBase64: pair.publicKey.export({ type: "spki", format: "der" }).toString("base64") };
}

/** A working RSA-2048 key pair whose primes are close together (a broken chip): Fermat factors it at once. */
function closePrimesPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  const p = generatePrimeSync(1024, { bigint: true });
  let q = p + (1n << 80n); // odd, as p is
  while (!checkPrimeSync(q)) q += 2n;
  const e = 65537n;
  const inverse = (a: bigint, m: bigint): bigint => {
    let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
    while (r1 !== 0n) {
      const k = r0 / r1;
      [r0, r1, s0, s1] = [r1, r0 - k * r1, s1, s0 - k * s1];
    }
    return ((s0 % m) + m) % m;
  };
  const d = inverse(e, (p - 1n) * (q - 1n));
  const b64 = (x: bigint): string => {
    const hex = x.toString(16);
    return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex").toString("base64url");
  };
  const jwk = { kty: "RSA", n: b64(p * q), e: b64(e), d: b64(d), p: b64(q), q: b64(p), dp: b64(d % (q - 1n)), dq: b64(d % (p - 1n)), qi: b64(inverse(p, q)) };
  const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

describe("security: keys never certified twice where they must not be (issue #12 item 5)", function () {
  this.timeout(180_000);
  let t: TestService;
  let token: string;
  let cards: Card[];
  let idem = 0;

  const resident = (): Record<string, unknown> => ({
    name: NAME,
    nameSubstituteFlags: "0".repeat([...NAME].length),
    alias: null,
    dateOfBirth: "1985-06-15",
    gender: 2,
    address: ADDRESS,
    addressSubstituteFlags: "0".repeat([...ADDRESS].length),
    cardExpiry: `${Number(jstToday().slice(0, 4)) + 10}-12-31`,
    residencePeriodEnd: null,
    underGuardianship: false,
  });
  const issue = (residentCode: string, requests: Array<{ kind: "sign" | "auth"; csr: string }>): Promise<HttpAnswer> =>
    requestJson(
      `${t.httpsUrl}/v1/issuances`,
      "POST",
      { municipalityCode: MUNICIPALITY, applicationDate: jstToday(), residentCode, resident: resident(), requests },
      t.tls("terminal"),
      { "Idempotency-Key": `key-blocking-${process.pid}-${++idem}`, Authorization: `Bearer ${token}` },
    );
  const issued = async (residentCode: string, requests: Array<{ kind: "sign" | "auth"; csr: string }>): Promise<Record<"auth" | "sign", string>> => {
    const res = await issue(residentCode, requests);
    assert.equal(res.status, 201, res.body.toString("utf8"));
    const serials = {} as Record<"auth" | "sign", string>;
    for (const c of res.json<{ certificates: Array<{ kind: "auth" | "sign"; serialNumber: string }> }>().certificates) serials[c.kind] = c.serialNumber;
    return serials;
  };
  const revoke = async (serial: string, reason: string): Promise<void> => {
    const res = await requestJson(`${t.httpsUrl}/v1/certificates/${serial}/revocation`, "POST", { reason }, t.tls("terminal"), { Authorization: `Bearer ${token}` });
    assert.equal(res.status, 200, res.body.toString("utf8"));
  };
  /** 409 naming the field, no personal data, no certificate for the key. */
  const refused = async (res: HttpAnswer, field: string, detail: RegExp, card: Card): Promise<void> => {
    const text = res.body.toString("utf8");
    assert.equal(res.status, 409, text);
    const problem = res.json<Record<string, unknown>>();
    assert.equal(problem.field, field, text);
    assert.match(String(problem.detail), detail);
    for (const p of [NAME, ADDRESS, "1985"]) assert.ok(!text.includes(p), "no personal data in the problem");
    assert.equal(await certificatesWithKey(card), 1, "still only the first certificate carries the key");
  };
  const certificatesWithKey = async (card: Card): Promise<number> => {
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256").update(Buffer.from(card.spkiBase64, "base64")).digest("hex");
    const rows = await t.service.db.knex("certificates").where({ public_key_sha256: hash }).whereNot({ status: "failed" }).count({ n: "*" });
    return Number(rows[0]?.n);
  };
  const BLOCKED = /revoked for key compromise/;
  const CERTIFIED = /earlier certificate/;

  before(async function () {
    this.timeout(180_000);
    const pairs = Promise.all(Array.from({ length: 12 }, () => generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 })));
    t = await startTestService({ name: "key-blocking", engine: "pglite" });
    cards = (await pairs).map(cardOf);
    token = await t.login("terminal-operator");
  });
  after(async () => {
    await t?.close();
  });

  it("a key revoked for keyCompromise is refused for ever: the same resident, another resident, either kind", async () => {
    const [a0, s0, a1, a2] = cards as [Card, Card, Card, Card];
    const first = await issued("81000000001", [{ kind: "auth", csr: a0.csr }, { kind: "sign", csr: s0.csr }]);
    await revoke(first.sign, "keyCompromise");
    // The holder's renewal with the compromised key as the signing key, then as the auth key.
    await refused(await issue("81000000001", [{ kind: "auth", csr: a1.csr }, { kind: "sign", csr: s0.csr }]), "requests[1].csr", BLOCKED, s0);
    await refused(await issue("81000000001", [{ kind: "auth", csr: s0.csr }]), "requests[0].csr", BLOCKED, s0);
    // Someone else's application carrying it.
    await refused(await issue("81000000002", [{ kind: "auth", csr: s0.csr }]), "requests[0].csr", BLOCKED, s0);
    // The refused applications issued nothing: a1 is still free (proves the rollback, and a fresh key works).
    assert.equal(await certificatesWithKey(a1), 0);
    await issued("81000000002", [{ kind: "auth", csr: a2.csr }]);
    const row = await t.service.db.knex("blocked_keys").where({ serial: first.sign }).first();
    assert.equal(row?.source, "revocation");
    assert.equal(row?.reason, "keyCompromise");
  });

  it("a signing key is refused for user authentication, live (PUBLIC_KEY_IN_USE) and after it was superseded", async () => {
    const [a3, s3, a4, s4, a5] = cards.slice(4) as [Card, Card, Card, Card, Card];
    await issued("81000000003", [{ kind: "auth", csr: a3.csr }, { kind: "sign", csr: s3.csr }]);
    const live = await issue("81000000004", [{ kind: "auth", csr: s3.csr }]);
    assert.equal(live.status, 409, live.body.toString("utf8"));
    assert.equal(live.json<{ field: string }>().field, "requests[0].csr");
    // The holder renews with new keys: s3's certificate is superseded (revoked), its key still refused.
    await issued("81000000003", [{ kind: "auth", csr: a4.csr }, { kind: "sign", csr: s4.csr }]);
    await refused(await issue("81000000004", [{ kind: "auth", csr: s3.csr }]), "requests[0].csr", CERTIFIED, s3);
    await refused(await issue("81000000003", [{ kind: "auth", csr: a5.csr }, { kind: "sign", csr: s3.csr }]), "requests[1].csr", CERTIFIED, s3);
  });

  it("a key revoked at the holder's request (unspecified) does not come back either", async () => {
    const [a9] = cards.slice(9) as [Card];
    const first = await issued("81000000005", [{ kind: "auth", csr: a9.csr }]);
    await revoke(first.auth, "unspecified");
    await refused(await issue("81000000005", [{ kind: "auth", csr: a9.csr }]), "requests[0].csr", CERTIFIED, a9);
  });

  it("a keyCompromise revocation written by the resident-event batch statement blocks the key too (no path skips it)", async () => {
    const [a10, a11] = cards.slice(10) as [Card, Card];
    const first = await issued("81000000006", [{ kind: "auth", csr: a10.csr }]);
    const store = new KnexResidentEventStore(t.service.db);
    await t.service.db.transaction((tx) => store.revokeMany([{ serial: first.auth, reason: "keyCompromise", revokedAt: new Date(), invalidityDate: null }], tx));
    assert.equal((await t.service.db.knex("blocked_keys").where({ serial: first.auth }).first())?.source, "revocation");
    await refused(await issue("81000000007", [{ kind: "auth", csr: a10.csr }, { kind: "sign", csr: a11.csr }]), "requests[0].csr", BLOCKED, a10);
  });

  it("a card key whose primes are too close together is refused: 422 naming the csr field", async () => {
    const weak = cardOf(closePrimesPair());
    const res = await issue("81000000008", [{ kind: "auth", csr: weak.csr }]);
    assert.equal(res.status, 422, res.body.toString("utf8"));
    assert.equal(res.json<{ field: string }>().field, "requests[0].csr");
    assert.match(String(res.json<{ detail: string }>().detail), /too close/);
  });
});
