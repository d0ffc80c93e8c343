/**
 * The integrity checks of the cluster test (test/cluster/), read from the database after the faults:
 * no certificate without a record, no duplicate serial, no issuance left half-done, every event sent
 * applied exactly once. Each check returns the problems it found (empty: it holds) so that the test can
 * assert them all and print what was counted.
 */
import type pg from "pg";
import type { Application } from "./cluster-load.js";

export interface IssuanceIntegrity {
  readonly problems: string[];
  readonly certificates: number;
  readonly issuances: number;
}

/** Checks the answered applications against the certificates and issuances tables. */
export async function checkIssuances(db: pg.Client, applications: readonly Application[]): Promise<IssuanceIntegrity> {
  const problems: string[] = [];
  const answered = new Map<string, string>(); // serial → idempotency key
  for (const app of applications) {
    if (!app.certificates) {
      problems.push(`application ${app.index} never got a 201 (last answer ${app.refused ?? "none"})`);
      continue;
    }
    if (app.certificates.length !== 2) problems.push(`application ${app.index}: ${app.certificates.length} certificates in the answer`);
    for (const c of app.certificates) {
      const other = answered.get(c.serial);
      if (other) problems.push(`serial ${c.serial} answered for two applications (${other}, ${app.key})`);
      answered.set(c.serial, app.key);
    }
  }
  const rows = await db.query<{ serial: string; status: string; has_der: boolean; issuance_status: string | null; idempotency_key: string | null }>(
    `select c.serial, c.status, c.der is not null as has_der, i.status as issuance_status, i.idempotency_key
       from certificates c left join issuances i on i.issuance_id = c.issuance_id
      where c.issuance_id is not null`,
  );
  const bySerial = new Map(rows.rows.map((r) => [r.serial, r]));
  // Every certificate a client holds is recorded, signed, under the issuance of its own request.
  for (const [serial, key] of answered) {
    const r = bySerial.get(serial);
    if (!r) problems.push(`answered serial ${serial} has no certificate record`);
    else if (!r.has_der || r.status === "pending" || r.status === "failed") problems.push(`answered serial ${serial} is recorded as ${r.status}${r.has_der ? "" : " without DER"}`);
    else if (r.idempotency_key !== key) problems.push(`answered serial ${serial} belongs to another issuance`);
  }
  // Nothing signed without a completed issuance record, nothing left pending.
  for (const r of rows.rows) {
    if (r.status === "pending") problems.push(`certificate ${r.serial} still pending`);
    if (r.has_der && r.issuance_status !== "completed") problems.push(`certificate ${r.serial} signed under an issuance ${r.issuance_status ?? "missing"}`);
  }
  const keys = await db.query<{ idempotency_key: string; n: string; certs: string }>(
    `select i.idempotency_key, count(distinct i.issuance_id) as n, count(c.serial) filter (where c.der is not null) as certs
       from issuances i left join certificates c on c.issuance_id = i.issuance_id
      where i.status = 'completed' group by i.idempotency_key`,
  );
  for (const k of keys.rows) {
    if (Number(k.n) !== 1) problems.push(`idempotency key ${k.idempotency_key}: ${k.n} completed issuances`);
    if (Number(k.certs) !== 2) problems.push(`idempotency key ${k.idempotency_key}: ${k.certs} signed certificates`);
  }
  const pending = await db.query<{ n: string }>("select count(*) as n from issuances where status = 'pending'");
  if (Number(pending.rows[0]?.n) !== 0) problems.push(`${pending.rows[0]?.n} issuances still pending`);
  return { problems, certificates: rows.rows.filter((r) => r.has_der).length, issuances: keys.rows.length };
}

export interface EventIntegrity {
  readonly problems: string[];
  /** Events of this run stored by the CA (from any transport). */
  readonly stored: number;
  readonly applied: number;
  /** Certificates revoked by those events. */
  readonly revoked: number;
}

/** Every event JetStream acknowledged is stored once, applied, and revoked exactly its resident's signing certificate. */
export async function checkEvents(db: pg.Client, sent: ReadonlyMap<string, string>, applications: readonly Application[]): Promise<EventIntegrity> {
  const problems: string[] = [];
  const { rows } = await db.query<{ event_id: string; outcome: string; transport: string; revoked: string[]; attempts: number }>(
    "select event_id, outcome, transport, revoked, attempts from resident_events where event_id like 'mun-131041-cluster-%'",
  );
  const seen = new Map<string, number>();
  for (const r of rows) seen.set(r.event_id, (seen.get(r.event_id) ?? 0) + 1);
  for (const [id, n] of seen) if (n !== 1) problems.push(`event ${id} stored ${n} times`);
  for (const id of sent.keys()) if (!seen.has(id)) problems.push(`event ${id} sent but not stored`);
  for (const id of seen.keys()) if (!sent.has(id)) problems.push(`event ${id} stored but not sent`);
  const signOf = new Map(applications.map((a) => [a.residentCode, a.certificates?.find((c) => c.kind === "sign")?.serial]));
  let revoked = 0;
  for (const r of rows) {
    if (r.transport !== "nats") problems.push(`event ${r.event_id} came by ${r.transport}`);
    if (r.outcome !== "applied") problems.push(`event ${r.event_id}: ${r.outcome}`);
    const expected = signOf.get(sent.get(r.event_id) ?? "");
    revoked += r.revoked.length;
    if (r.revoked.length !== 1 || r.revoked[0] !== expected) problems.push(`event ${r.event_id} revoked ${JSON.stringify(r.revoked)}, expected [${expected}]`);
  }
  const reasons = await db.query<{ n: string }>("select count(*) as n from certificates where revocation_reason = 'affiliationChanged'");
  if (Number(reasons.rows[0]?.n) !== revoked) problems.push(`${reasons.rows[0]?.n} certificates revoked for affiliationChanged, events revoked ${revoked}`);
  return { problems, stored: rows.length, applied: rows.filter((r) => r.outcome === "applied").length, revoked };
}

/** Waits until the CA has stored `count` events of this run (or the timeout); returns how many it has. */
export async function waitForEvents(db: pg.Client, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await db.query<{ n: string }>("select count(*) as n from resident_events where event_id like 'mun-131041-cluster-%'");
    const n = Number(r.rows[0]?.n);
    if (n >= count || Date.now() > deadline) return n;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
