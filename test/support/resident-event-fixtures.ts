import type { MirrorRecord } from "../../ca/residents/resident-event-mirror.js";
import type { ResidentEvent, ResidentEventChanges, ResidentEventType } from "../../ca/residents/resident-event.js";
import type { CaKind, CertificateRecord, CertificateStatus } from "../../ca/types.js";

/** Fixtures for resident-event tests: a resident, its certificates as issuance records them, events. */

export const T0 = new Date("2026-11-24T01:00:00Z"); // 10:00 JST

export const sampleResident = Object.freeze({
  name: "山田　太郎",
  nameSubstituteFlags: "00000",
  alias: null as string | null,
  aliasSubstituteFlags: null as string | null,
  dateOfBirth: "1980-02-17",
  gender: 1 as const,
  address: "東京都新宿区歌舞伎町一丁目４番１号",
  addressSubstituteFlags: "0".repeat(17),
});

/** A resident code with a counter (11 digits). */
export const residentCode = (n: number): string => String(10_000_000_000 + n).slice(-11);

export function mirrorRecord(code: string, overrides: Partial<MirrorRecord> = {}): MirrorRecord {
  return {
    residentCode: code,
    ...sampleResident,
    status: "registered",
    fieldVersions: {},
    createdAt: new Date("2026-10-01T00:00:00Z"),
    updatedAt: new Date("2026-10-01T00:00:00Z"),
    ...overrides,
  };
}

/** `recorded` as issuance stores it (the resident fields and the answer's subject for signing). */
export function recordedOf(kind: CaKind, resident: Partial<typeof sampleResident> = {}): Record<string, unknown> {
  const r = { ...sampleResident, ...resident };
  const rendered = r.alias ? `${r.name}（${r.alias}）` : r.name;
  return {
    // The issuing municipality (a counter terminal of 131041 may act on these: ca/access/resident-access.ts).
    municipalityCode: "131041",
    resident: { ...r, cardExpiry: "2035-02-17", residencePeriodEnd: null, underGuardianship: false },
    answer: kind === "sign" ? { kind, subject: { name: rendered, dateOfBirth: "319800217", gender: String(r.gender), address: r.address } } : { kind },
  };
}

export function certificate(serial: string, kind: CaKind, options: { status?: CertificateStatus; residentCode?: string; notAfter?: Date; resident?: Partial<typeof sampleResident> } = {}): CertificateRecord {
  return {
    serial,
    caId: kind === "sign" ? "sign-g1" : "auth-g1",
    kind,
    device: "card",
    status: options.status ?? "valid",
    notBefore: new Date("2026-10-01T00:00:00Z"),
    notAfter: options.notAfter ?? new Date("2031-02-17T14:59:59Z"),
    partition: 3,
    der: null,
    tbs: null,
    publicKeySha256: serial.padEnd(64, "0"),
    subjectId: `S${serial}`,
    residentCode: options.residentCode ?? residentCode(1),
    issuanceId: "iss-1",
    recorded: recordedOf(kind, options.resident),
    revokedAt: null,
    revocationReason: null,
    invalidityDate: null,
    createdAt: new Date("2026-10-01T00:00:00Z"),
  };
}

let counter = 0;
export function event(type: ResidentEventType, changes: ResidentEventChanges = {}, overrides: Partial<ResidentEvent> = {}): ResidentEvent {
  counter++;
  return {
    eventId: `mun-131041-2026-${String(counter).padStart(6, "0")}`,
    residentCode: residentCode(1),
    type,
    effectiveDate: "2026-11-20",
    recordedAt: new Date("2026-11-20T01:02:03Z"),
    changes,
    ...overrides,
  };
}

/** The wire form of an event (docs/api.md §5). */
export function wire(e: ResidentEvent): Record<string, unknown> {
  return { eventId: e.eventId, residentCode: e.residentCode, type: e.type, effectiveDate: e.effectiveDate, recordedAt: e.recordedAt.toISOString(), changes: { ...e.changes } };
}

/** Valid `changes` for each type (docs/api.md §5). */
export const changesFor: Readonly<Record<ResidentEventType, ResidentEventChanges>> = {
  ADDRESS_CHANGED: { address: "東京都中野区中野四丁目８番１号", addressSubstituteFlags: "0".repeat(15) },
  NAME_CHANGED: { name: "佐藤　太郎", nameSubstituteFlags: "00000" },
  ALIAS_CHANGED: { alias: "ヤマダ", aliasSubstituteFlags: "000" },
  GENDER_CHANGED: { gender: 2 },
  BIRTHDATE_CORRECTED: { dateOfBirth: "1980-02-18" },
  MINOR_CORRECTION: { address: sampleResident.address, addressSubstituteFlags: sampleResident.addressSubstituteFlags },
  DECEASED: {},
  REMOVED: {},
  EMIGRATED: {},
  EMIGRATED_CONTINUED_USE: {},
  CARD_INVALIDATED: { cardReplaced: true },
  RECORD_ERROR: {},
};
