import type { Clock } from "../../ca/ports.js";
import type { CertificateStatus } from "../../ca/types.js";
import { KnexAuditStore } from "../../db/audit-store.js";
import { jsonToParameter } from "../../db/column-values.js";
import type { Database } from "../../db/database.js";
import { isTransientDatabaseError, KnexResidentEventStore } from "../../db/resident-event-store.js";
import { KnexResidentMirrorStore } from "../../db/resident-mirror-store.js";
import type { EventMetrics } from "../../events/event-metrics.js";
import { ResidentEventProcessor, type ResidentEventProcessorOptions } from "../../events/resident-event-processor.js";
import { recordedOf, residentCode, sampleResident } from "./resident-event-fixtures.js";

/**
 * Bulk seeding for resident-event integration tests: CA generations, resident records and their
 * certificates written straight into the tables (no HSM, no signing: the events part only reads status,
 * kind and what issuance recorded), and the processor over the knex stores.
 */

export async function seedCaGenerations(db: Database): Promise<void> {
  const row = (id: string, kind: string, prefix: number) => ({
    id,
    kind,
    generation: 1,
    key_algorithm: "P-256",
    signature_algorithm: "ecdsa-with-SHA256",
    key_uri: `pkcs11:object=${id}`,
    certificate: Buffer.from([0x30, 0x00]),
    serial_prefix: prefix,
    partition_count: 16,
    status: "active",
    created_at: new Date("2026-01-01T00:00:00Z"),
  });
  await db.knex("ca_generations").insert([row("sign-g1", "sign", 0x11), row("auth-g1", "auth", 0x12)]).onConflict("id").ignore();
}

export const signSerial = (n: number): string => `a1${n.toString(16).padStart(10, "0")}`;
export const authSerial = (n: number): string => `b1${n.toString(16).padStart(10, "0")}`;

/**
 * Residents `from`…`from+count-1` (codes residentCode(n)), each with a valid signing and user-auth
 * certificate (serials signSerial(n), authSerial(n)). Records created at `createdAt`.
 */
export async function seedResidents(db: Database, from: number, count: number, options: { createdAt?: Date; status?: CertificateStatus; withCertificates?: boolean } = {}): Promise<void> {
  const createdAt = options.createdAt ?? new Date("2026-10-01T00:00:00Z");
  for (let start = from; start < from + count; start += 1000) {
    const ns = Array.from({ length: Math.min(1000, from + count - start) }, (_, i) => start + i);
    await db.knex("residents").insert(
      ns.map((n) => ({
        resident_code: residentCode(n),
        name: sampleResident.name,
        name_substitute_flags: sampleResident.nameSubstituteFlags,
        alias: null,
        alias_substitute_flags: null,
        date_of_birth: sampleResident.dateOfBirth,
        gender: sampleResident.gender,
        address: sampleResident.address,
        address_substitute_flags: sampleResident.addressSubstituteFlags,
        created_at: createdAt,
        updated_at: createdAt,
      })),
    );
    if (options.withCertificates === false) continue;
    const cert = (n: number, kind: "sign" | "auth") => ({
      serial: kind === "sign" ? signSerial(n) : authSerial(n),
      ca_id: `${kind}-g1`,
      kind,
      status: options.status ?? "valid",
      not_before: createdAt,
      not_after: new Date("2031-02-17T14:59:59Z"),
      partition: n % 16,
      der: null,
      tbs: Buffer.from([0x30, 0x00]),
      public_key_sha256: `${kind}-${String(n).padStart(12, "0")}`.padEnd(64, "0"),
      subject_id: `S${kind}${n}`,
      resident_code: residentCode(n),
      issuance_id: `iss-${n}`,
      recorded: jsonToParameter(recordedOf(kind)),
      created_at: createdAt,
      updated_at: createdAt,
    });
    await db.knex("certificates").insert(ns.flatMap((n) => [cert(n, "sign"), cert(n, "auth")]));
  }
}

export interface EventStores {
  readonly events: KnexResidentEventStore;
  readonly mirror: KnexResidentMirrorStore;
  readonly audit: KnexAuditStore;
}

export function eventStores(db: Database): EventStores {
  return { events: new KnexResidentEventStore(db), mirror: new KnexResidentMirrorStore(db), audit: new KnexAuditStore(db) };
}

export function eventProcessor(db: Database, clock: Clock, options: ResidentEventProcessorOptions = {}, metrics?: EventMetrics): ResidentEventProcessor {
  const s = eventStores(db);
  return new ResidentEventProcessor(
    { clock, transactions: db, events: s.events, valve: s.events, revocations: s.events, mirror: s.mirror, audit: s.audit, isTransient: isTransientDatabaseError, ...(metrics ? { metrics } : {}) },
    options,
  );
}

/** serial → status, reason of every certificate. */
export async function certificateStates(db: Database): Promise<Map<string, { status: string; reason: string | null; invalidityDate: string | null }>> {
  const rows = (await db.knex("certificates").select("serial", "status", "revocation_reason", "invalidity_date").orderBy("serial")) as Array<Record<string, unknown>>;
  return new Map(rows.map((r) => [String(r.serial), { status: String(r.status), reason: (r.revocation_reason as string | null) ?? null, invalidityDate: r.invalidity_date ? new Date(r.invalidity_date as string).toISOString() : null }]));
}
