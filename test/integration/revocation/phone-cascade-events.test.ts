import assert from "node:assert/strict";
import { FixedClock } from "../../../ca/ports.js";
import { RevocationService } from "../../../ca/revocation/revocation-service.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { KnexResidentMunicipalityStore } from "../../../db/resident-municipality-store.js";
import { KnexCertificateReleaseStore } from "../../../db/revocation-release-store.js";
import { KnexRevocationWindowStore } from "../../../db/revocation-window-store.js";
import type { Database } from "../../../db/database.js";
import { openTestDatabase, requirePostgresUrl, type TestDatabase } from "../../support/database.js";
import { changesFor, event, residentCode, T0, wire } from "../../support/resident-event-fixtures.js";
import { authSerial, certificateStates, eventProcessor, seedCaGenerations, seedResidents, signSerial } from "../../support/resident-event-seed.js";

/**
 * Issue #16 item 1 on a real database: resident events through the real processor revoke the phone
 * certificates with the card's (docs/domain.md §3), the safety valve counts the card's only, and the
 * operator service's cascade and lift commit status, outbox and audit together.
 */
const phoneSign = (n: number): string => `c1${n.toString(16).padStart(10, "0")}`;
const phoneAuth = (n: number): string => `d1${n.toString(16).padStart(10, "0")}`;

/** A phone pair for resident n, as the phone application writes it (device 'phone', same kinds and CAs). */
async function seedPhonePair(db: Database, n: number): Promise<void> {
  const row = (serial: string, kind: "sign" | "auth") => ({
    serial,
    ca_id: `${kind}-g1`,
    kind,
    device: "phone",
    status: "valid",
    not_before: new Date("2026-10-02T00:00:00Z"),
    not_after: new Date("2031-02-17T14:59:59Z"),
    partition: n % 16,
    der: null,
    tbs: Buffer.from([0x30, 0x00]),
    public_key_sha256: `phone-${kind}-${String(n).padStart(12, "0")}`.padEnd(64, "0"),
    subject_id: `P${kind}${n}`,
    resident_code: residentCode(n),
    issuance_id: null,
    recorded: "{}",
    created_at: new Date("2026-10-02T00:00:00Z"),
    updated_at: new Date("2026-10-02T00:00:00Z"),
  });
  await db.knex("certificates").insert([row(phoneSign(n), "sign"), row(phoneAuth(n), "auth")]);
}

const json = (e: ReturnType<typeof event>) => ({ raw: { json: wire(e) } });

for (const engine of ["postgres", "pglite"] as const) {
  describe(`revocation cascade through the event processor on ${engine}`, function () {
    this.timeout(60_000);
    let t: TestDatabase;
    const clock = new FixedClock(T0);

    before(async function () {
      if (engine === "postgres") requirePostgresUrl(this);
      t = await openTestDatabase(engine);
      await seedCaGenerations(t.db);
    });
    after(async () => {
      await t?.close();
    });

    const cases = [
      { n: 500, e: () => event("ADDRESS_CHANGED", changesFor.ADDRESS_CHANGED, { residentCode: residentCode(500) }), sign: "affiliationChanged", auth: "valid" },
      { n: 501, e: () => event("DECEASED", {}, { residentCode: residentCode(501) }), sign: "cessationOfOperation", auth: "cessationOfOperation" },
      { n: 502, e: () => event("CARD_INVALIDATED", { cardReplaced: true }, { residentCode: residentCode(502) }), sign: "superseded", auth: "superseded" },
      { n: 503, e: () => event("CARD_INVALIDATED", {}, { residentCode: residentCode(503) }), sign: "cessationOfOperation", auth: "cessationOfOperation" },
    ];
    for (const c of cases) {
      it(`${c.e().type}${c.n === 502 ? " (card replaced)" : ""}: card and phone signing ${c.sign}, card and phone user-auth ${c.auth}; outbox row each; the valve counts the card's`, async function () {
        await seedResidents(t.db, c.n, 1);
        await seedPhonePair(t.db, c.n);
        // A cap of 2 per event: the card's two fit, the phone's two do not count (revocation-policy.ts) [U].
        const processor = eventProcessor(t.db, clock, { limits: { maxRevocationsPerEvent: 2, maxRevocationsInWindow: 5_000, windowMs: 600_000 } });
        const countedBefore = Number(((await t.db.knex("event_revocation_counts").sum({ n: "revocations" }).first()) as { n: unknown }).n ?? 0);
        const [r] = await processor.process([json(c.e())], "http");
        assert.equal(r!.outcome, "applied", r!.reason ?? undefined);
        const states = await certificateStates(t.db);
        const show = (serial: string): string => (states.get(serial)!.status === "revoked" ? states.get(serial)!.reason! : states.get(serial)!.status);
        assert.deepEqual(
          { card: { sign: show(signSerial(c.n)), auth: show(authSerial(c.n)) }, phone: { sign: show(phoneSign(c.n)), auth: show(phoneAuth(c.n)) } },
          { card: { sign: c.sign, auth: c.auth }, phone: { sign: c.sign, auth: c.auth } },
        );
        const revoked = [signSerial(c.n), authSerial(c.n), phoneSign(c.n), phoneAuth(c.n)].filter((s) => states.get(s)!.status === "revoked");
        assert.deepEqual([...r!.revoked].sort(), revoked.sort());
        const outbox = (await t.db.knex("outbox").where({ topic: "certificate.revoked" }).whereRaw("payload->>'serial' = any(?)", [revoked])) as Array<{ payload: Record<string, unknown> }>;
        assert.equal(outbox.length, revoked.length, "one outbox row per revoked certificate, phone ones included");
        assert.deepEqual(outbox.find((o) => o.payload.serial === phoneSign(c.n))!.payload, { serial: phoneSign(c.n), caId: "sign-g1", partition: c.n % 16, reason: c.sign });
        const counted = Number(((await t.db.knex("event_revocation_counts").sum({ n: "revocations" }).first()) as { n: unknown }).n ?? 0);
        assert.equal(counted - countedBefore, revoked.filter((s) => !s.startsWith("c1") && !s.startsWith("d1")).length, "the breaker counted the card's certificates only");
      });
    }

    it("configured to count phone certificates (SafetyValveLimits.countPhoneCertificates), the same cap of 2 rejects a death with a phone pair", async function () {
      await seedResidents(t.db, 520, 1);
      await seedPhonePair(t.db, 520);
      const processor = eventProcessor(t.db, clock, { limits: { maxRevocationsPerEvent: 2, maxRevocationsInWindow: 5_000, windowMs: 600_000, countPhoneCertificates: true } });
      const [r] = await processor.process([json(event("DECEASED", {}, { residentCode: residentCode(520) }))], "http");
      assert.equal(r!.outcome, "rejected");
      assert.match(r!.reason!, /^revocation-cap-exceeded: would revoke 4/);
      assert.equal((await certificateStates(t.db)).get(phoneSign(520))!.status, "valid");
    });

    it("operator revocation and hold cascade to the phone, and a phone user-auth hold is lifted, each in one transaction with outbox and audit", async function () {
      const n = 510;
      await seedResidents(t.db, n, 1);
      await seedPhonePair(t.db, n);
      const db = t.db;
      const service = new RevocationService({
        clock,
        transactions: db,
        certificates: new KnexCertificateStore(db),
        audit: new KnexAuditStore(db),
        outbox: new KnexOutboxStore(db),
        residents: new KnexResidentMunicipalityStore(db),
        window: new KnexRevocationWindowStore(db),
        releases: new KnexCertificateReleaseStore(db),
      });
      const scope = { scope: { kind: "ca-side", clientId: "admin:ws-01", purpose: "test" } as const };
      const row = async (serial: string) => (await db.knex("certificates").where({ serial }).first()) as Record<string, unknown>;

      await service.hold("cli", phoneAuth(n), {}, scope); // the phone's suspension
      assert.equal((await row(signSerial(n))).status, "valid", "a phone hold holds the phone certificate only");
      const lifted = await service.liftPhoneHold("holder:test", phoneAuth(n), { residentCode: residentCode(n), requestRef: "r1" });
      assert.equal(lifted.status, "valid");
      const after = await row(phoneAuth(n));
      assert.deepEqual([after.status, after.revocation_reason, after.revoked_at, Number(after.status_version)], ["valid", null, null, 1]);
      assert.equal(new Date(after.released_at as string).toISOString(), T0.toISOString());
      const released = (await db.knex("outbox").where({ topic: "certificate.released" })) as Array<{ payload: Record<string, unknown> }>;
      assert.deepEqual(released.map((o) => o.payload), [{ serial: phoneAuth(n), caId: "auth-g1", partition: n % 16 }]);
      const audited = (await db.knex("audit_log").where({ action: "certificate.released", subject: `certificate:${phoneAuth(n)}` })) as Array<Record<string, unknown>>;
      assert.deepEqual(audited.map((a) => [a.actor, a.outcome]), [["holder:test", "success"]]);

      // A card hold (lost card) takes the phone pair; the card's user-auth hold is never lifted.
      await service.hold("cli", signSerial(n), {}, scope);
      assert.deepEqual(await Promise.all([signSerial(n), authSerial(n), phoneSign(n), phoneAuth(n)].map(async (s) => (await row(s)).status)), ["hold", "hold", "hold", "hold"]);
      await assert.rejects(service.liftPhoneHold("holder:test", authSerial(n)), (e: { kind?: string; field?: string }) => e.kind === "unprocessable" && e.field === "serial");
      // Revoking the card signing certificate for good revokes the held phone signing one.
      await service.revoke("cli", signSerial(n), { reason: "keyCompromise" }, scope);
      assert.deepEqual([(await row(phoneSign(n))).status, (await row(phoneSign(n))).revocation_reason], ["revoked", "keyCompromise"]);
      assert.equal((await row(phoneAuth(n))).status, "hold");
      const cascaded = (await db.knex("audit_log").where({ action: "certificate.revoked.cascaded", subject: `certificate:${phoneSign(n)}` })) as Array<Record<string, unknown>>;
      assert.equal(cascaded.length, 1);
    });
  });
}
