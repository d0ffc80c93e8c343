import assert from "node:assert/strict";
import { checkCaKeys } from "../../api/main.js";
import { buildAuthorities } from "../../api/wiring/issuing-authorities.js";
import { createAliasFormatter } from "../../ca/residents/alias-format.js";
import { IssuanceService } from "../../ca/issuance/issuance-service.js";
import { KnexResidentMunicipalityStore } from "../../db/resident-municipality-store.js";
import type { TransactionRunner } from "../../ca/stores.js";
import type { TestService } from "../support/service-harness.js";
import { assertNoPersonalDataInLogs, application, assertProblem, issuanceClient, jstToday, resident, startIssuanceService, type CardKey, type IssuanceAnswer } from "./support/issuance-e2e.js";

/**
 * docs/api.md §4 issuance end to end, when requests repeat, crash or race: Idempotency-Key replays, an
 * issuance left pending by a crash (finished by the retry or by the reconciler), and concurrent
 * applications. Real PostgreSQL (its locks and unique indexes decide the races), SoftHSM and the HTTPS
 * listener; one service instance for the whole file, each test on residents of its own.
 */

describe("e2e: issuance over HTTPS (PostgreSQL + SoftHSM + openssl)", function () {
  this.timeout(60_000);
  let t: TestService;
  let token: string;
  let keys: CardKey[];
  const { issue, getCertificate, newKey } = issuanceClient(() => ({ t, token }));

  before(async function () {
    // keys[2], [3] and [6..11] are used below (the numbers the tests had in the one file they came from).
    ({ t, keys } = await startIssuanceService(this, "e2e-recovery", 12));
    token = await t.login("terminal-operator");
  });
  after(async () => {
    await t?.close();
  });

  it("a retry with the same Idempotency-Key and body answers the same 201 (Idempotent-Replayed); another body → 409", async () => {
    const key = newKey();
    const body = application([{ kind: "auth", csr: keys[2]!.csr }, { kind: "sign", csr: keys[3]!.csr }], { residentCode: "22222222222" });
    const first = await issue(body, { key });
    assert.equal(first.status, 201, first.body.toString("utf8"));
    const again = await issue(body, { key });
    assert.equal(again.status, 201);
    assert.equal(again.headers["idempotent-replayed"], "true");
    assert.deepEqual(again.json(), first.json());
    // The same body with its members in another order is the same request (canonical JSON).
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const third = await issue(reordered, { key });
    assert.equal(third.status, 201);
    assert.deepEqual(third.json(), first.json());

    const other = { ...body, resident: resident({ cardExpiry: `${Number(jstToday().slice(0, 4)) + 9}-12-31` }) };
    assertProblem(await issue(other, { key }), 409, "Idempotency-Key");
    // The retries issued nothing new: the first answer's certificates are the resident's live ones.
    const firstAnswer = first.json<IssuanceAnswer>();
    for (const c of firstAnswer.certificates) assert.equal((await getCertificate(c.serialNumber)).json<{ status: string }>().status, "valid");
  });

  it("one key sent at once in applications for two residents: one certificate, the other 409 naming the csr field", async () => {
    // Different residents lock different records; the database's unique index on live keys decides.
    const bodies = ["71000000001", "71000000002"].map((residentCode) => application([{ kind: "auth", csr: keys[9]!.csr }], { residentCode }));
    const answers = await Promise.all(bodies.map((b) => issue(b)));
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409], answers.map((a) => a.body.toString("utf8")).join(" | "));
    assertProblem(answers.find((a) => a.status === 409)!, 409, "requests[0].csr");
  });

  describe("recovery of an issuance left pending (docs/design.md invariant 1: a crash between reserve and store)", () => {
    const ctx = (idempotencyKey: string) => ({ terminalId: "demo-terminal-1", operatorId: t.demo.operators["terminal-operator"].operatorId, idempotencyKey, municipalityCode: "131041" });
    /** The service as buildHandlers wires it, with a runner that can "crash" before the completing transaction. */
    const serviceWith = async (transactions: TransactionRunner): Promise<IssuanceService> => {
      const s = t.service;
      const authorities = buildAuthorities(await s.stores.caGenerations.list(), await checkCaKeys(s), { publicBaseUrl: s.config.publicBaseUrl });
      const { certificates, issuances, residents, audit } = s.stores;
      return new IssuanceService({ clock: s.clock, random: s.random, transactions, certificates, issuances, residents, audit, authorities, aliasFormatter: createAliasFormatter(), residentMunicipalities: new KnexResidentMunicipalityStore(s.db) });
    };
    /** Runs step (1) only: the second transaction (step 3) fails as a process dying after signing would. */
    const crashAfterReserve = async (key: string, body: unknown): Promise<string> => {
      let n = 0;
      const crashing: TransactionRunner = { transaction: (work) => (++n === 1 ? t.service.db.transaction(work) : Promise.reject(new Error("crash"))) };
      await assert.rejects((await serviceWith(crashing)).issue(ctx(key), body), /crash/);
      const pending = await t.service.stores.issuances.findByKey("demo-terminal-1", key);
      assert.equal(pending?.status, "pending");
      const rows = await t.service.stores.certificates.listByIssuance(pending.issuanceId);
      assert.ok(rows.length === 1 && rows[0]!.status === "pending" && rows[0]!.der === null);
      return pending.issuanceId;
    };

    it("a retry with the same Idempotency-Key finishes it from the stored TBS (201), once", async () => {
      const key = newKey();
      const body = application([{ kind: "auth", csr: keys[6]!.csr }], { residentCode: "70000000001" });
      const issuanceId = await crashAfterReserve(key, body);
      const res = await issue(body, { key });
      assert.equal(res.status, 201, res.body.toString("utf8"));
      assert.equal(res.headers["idempotent-replayed"], "true");
      const answer = res.json<IssuanceAnswer>();
      assert.equal(answer.issuanceId, issuanceId);
      assert.equal(answer.certificates[0]?.kind, "auth");
      assert.match(answer.certificates[0]!.certificate, /^-----BEGIN CERTIFICATE-----/);
      const stored = (await getCertificate(answer.certificates[0]!.serialNumber)).json<Record<string, unknown>>();
      assert.equal(stored.status, "valid");
      assert.equal(stored.certificate, answer.certificates[0]!.certificate);
      const again = await issue(body, { key });
      assert.deepEqual(again.json(), answer);
    });

    it("the reconciler completes it, supersedes the resident's previous certificate of the kind, and audits it", async () => {
      const code = "70000000002";
      const first = await issue(application([{ kind: "auth", csr: keys[8]!.csr }], { residentCode: code }));
      assert.equal(first.status, 201, first.body.toString("utf8"));
      const previous = first.json<IssuanceAnswer>().certificates[0]!.serialNumber;
      const issuanceId = await crashAfterReserve(newKey(), application([{ kind: "auth", csr: keys[7]!.csr }], { residentCode: code }));
      assert.deepEqual(await (await serviceWith(t.service.db)).reconcile(0), { completed: 1, failed: 0 });
      const done = await t.service.stores.issuances.get(issuanceId);
      assert.equal(done?.status, "completed");
      const serial = (done?.response as unknown as IssuanceAnswer).certificates[0]!.serialNumber;
      assert.equal((await getCertificate(serial)).json<{ status: string }>().status, "valid");
      const old = (await getCertificate(previous)).json<Record<string, unknown>>();
      assert.equal(old.status, "revoked");
      assert.equal(old.revocationReason, "superseded");
      const audit = await t.service.stores.audit.range(1, 100_000);
      const entry = audit.find((e) => e.subject === `issuance:${issuanceId}`);
      assert.equal(entry?.action, "certificate.issued");
      assert.deepEqual(entry?.detail.superseded, [previous]);
      assert.deepEqual((entry?.detail.certificates as Array<{ serial: string }>).map((c) => c.serial), [serial]);
    });
  });

  it("two applications of one kind for one resident completing at the same moment: one valid, the other superseded", async () => {
    const code = "70000000003";
    // Both first transactions run (the resident lock orders them); both completing transactions are
    // then released together, as two terminals' requests would arrive.
    let calls = 0;
    let release: () => void = () => undefined;
    const bothSigned = new Promise<void>((r) => (release = r));
    let waiting = 0;
    const together: TransactionRunner = {
      transaction: async (work) => {
        if (++calls > 2) {
          if (++waiting === 2) release();
          await bothSigned;
        }
        return t.service.db.transaction(work);
      },
    };
    const s = t.service;
    const authorities = buildAuthorities(await s.stores.caGenerations.list(), await checkCaKeys(s), { publicBaseUrl: s.config.publicBaseUrl });
    const { certificates, issuances, residents, audit } = s.stores;
    const service = new IssuanceService({ clock: s.clock, random: s.random, transactions: together, certificates, issuances, residents, audit, authorities, aliasFormatter: createAliasFormatter(), residentMunicipalities: new KnexResidentMunicipalityStore(s.db) });
    const ctx = (idempotencyKey: string) => ({ terminalId: "demo-terminal-1", operatorId: t.demo.operators["terminal-operator"].operatorId, idempotencyKey, municipalityCode: "131041" });
    const answers = await Promise.all([keys[10]!, keys[11]!].map((k) => service.issue(ctx(newKey()), application([{ kind: "auth", csr: k.csr }], { residentCode: code }))));
    const serials = answers.map((a) => (a.answer as unknown as IssuanceAnswer).certificates[0]!.serialNumber);
    const statuses = await Promise.all(serials.map(async (serial) => (await getCertificate(serial)).json<{ status: string; revocationReason?: string }>()));
    assert.deepEqual(statuses.map((x) => x.status).sort(), ["revoked", "valid"], JSON.stringify(statuses));
    assert.equal(statuses.find((x) => x.status === "revoked")?.revocationReason, "superseded");
  });

  it("the service log (debug level) never carries the name, address, date of birth or resident code", () => {
    assertNoPersonalDataInLogs(t.logs());
  });
});
