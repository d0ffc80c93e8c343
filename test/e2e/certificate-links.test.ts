import assert from "node:assert/strict";
import { Metrics } from "../../api/metrics.js";
import { buildResidentEvents } from "../../api/wiring/resident-events.js";
import { latestOf } from "../../ca/linkage/certificate-links.js";
import type { TestService } from "../support/service-harness.js";
import { application, issuanceClient, jstToday, resident, RESIDENT_CODE, startIssuanceService, type CardKey, type IssuanceAnswer } from "./support/issuance-e2e.js";

/**
 * The linkage graph end to end (issue #16 item 2, docs/linkage.md): real PostgreSQL, SoftHSM and the
 * HTTPS listener. Issuance → renewal → a move (the resident event revokes the signing certificate) →
 * re-issue of the signing certificate; the links are recorded by the issuances and shown by
 * `GET /v1/certificates/{serial}`, serials and link types only.
 */
describe("e2e: certificate links over HTTPS (PostgreSQL + SoftHSM)", function () {
  this.timeout(60_000);
  let t: TestService;
  let token: string;
  let keys: CardKey[];
  const { issue, getCertificate } = issuanceClient(() => ({ t, token }));
  const serials: Record<"first" | "renewal" | "reissue", Partial<Record<"sign" | "auth", string>>> = { first: {}, renewal: {}, reissue: {} };
  const NEW_ADDRESS = "東京都中野区中野四丁目８番１号";

  before(async function () {
    ({ t, keys } = await startIssuanceService(this, "e2e-links", 5));
    token = await t.login("terminal-operator");
  });
  after(async () => {
    await t?.close();
  });

  const issueAndKeep = async (which: keyof typeof serials, requests: Array<{ kind: "sign" | "auth"; csr: string }>, residentFields?: Record<string, unknown>) => {
    const res = await issue(application(requests, residentFields ? { resident: residentFields } : {}));
    assert.equal(res.status, 201, res.body.toString("utf8"));
    for (const c of res.json<IssuanceAnswer>().certificates) serials[which][c.kind] = c.serialNumber;
  };
  type View = { serialNumber: string; status: string; device: string; links: Array<{ link: string; fromSerial: string; toSerial: string }> };
  const view = async (serial: string): Promise<View> => {
    const res = await getCertificate(serial);
    assert.equal(res.status, 200, res.body.toString("utf8"));
    return res.json<View>();
  };

  it("issuance, renewal, a move, re-issue: each certificate shows its successor and sign-auth links", async () => {
    await issueAndKeep("first", [{ kind: "auth", csr: keys[0]!.csr }, { kind: "sign", csr: keys[1]!.csr }]);
    await issueAndKeep("renewal", [{ kind: "auth", csr: keys[2]!.csr }, { kind: "sign", csr: keys[3]!.csr }]);

    // The move: the resident register's event revokes the signing certificate only (docs/domain.md §3).
    const events = buildResidentEvents({ db: t.service.db, clock: t.service.clock, metrics: new Metrics({ defaultMetrics: false }), stores: t.service.stores });
    const changes = { address: NEW_ADDRESS, addressSubstituteFlags: "0".repeat([...NEW_ADDRESS].length) };
    const [outcome] = await events.processor.process(
      [{ raw: { json: { eventId: `mun-131041-links-${process.pid}`, residentCode: RESIDENT_CODE, type: "ADDRESS_CHANGED", effectiveDate: jstToday(), recordedAt: new Date().toISOString(), changes } } }],
      "http",
    );
    assert.equal(outcome?.outcome, "applied", JSON.stringify(outcome));
    assert.equal((await view(serials.renewal.sign!)).status, "revoked");
    assert.equal((await view(serials.renewal.auth!)).status, "valid");

    await issueAndKeep("reissue", [{ kind: "sign", csr: keys[4]!.csr }], resident(changes));

    const { first, renewal, reissue } = serials;
    const firstSign = await view(first.sign!);
    assert.equal(firstSign.device, "card");
    assert.deepEqual(firstSign.links, [
      { link: "sign-auth", fromSerial: first.sign, toSerial: first.auth },
      { link: "successor", fromSerial: first.sign, toSerial: renewal.sign },
    ]);
    const renewedSign = await view(renewal.sign!);
    assert.deepEqual(
      new Set(renewedSign.links.map((l) => JSON.stringify(l))),
      new Set([
        { link: "successor", fromSerial: first.sign, toSerial: renewal.sign },
        { link: "sign-auth", fromSerial: renewal.sign, toSerial: renewal.auth },
        { link: "successor", fromSerial: renewal.sign, toSerial: reissue.sign },
      ].map((l) => JSON.stringify(l))),
    );
    assert.deepEqual((await view(reissue.sign!)).links, [{ link: "successor", fromSerial: renewal.sign, toSerial: reissue.sign }], "no pair: no user-auth certificate was issued with it");
    assert.deepEqual((await view(renewal.auth!)).links.filter((l) => l.link === "successor"), [{ link: "successor", fromSerial: first.auth, toSerial: renewal.auth }]);

    const links = t.service.stores.certificateLinks;
    assert.equal(await latestOf(first.sign!, links), reissue.sign);
    assert.equal(await latestOf(first.auth!, links), renewal.auth);
    assert.equal((await links.ofResident(RESIDENT_CODE)).length, 5);
  });

  it("records the links in the issuance's audit entry, serials and link types only", async () => {
    const entries = await t.service.stores.audit.range(1, 10_000);
    const issued = entries.filter((e) => e.action === "certificate.issued").map((e) => e.detail.links);
    assert.deepEqual(issued.at(-1), [{ from: serials.renewal.sign, to: serials.reissue.sign, link: "successor" }]);
  });
});
