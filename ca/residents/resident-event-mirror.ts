import { formatIsoDate, jstDateOf } from "../calendar-date.js";
import type { ResidentRecord } from "../issuance/issuance-ports.js";
import type { ResidentEvent, ResidentEventType } from "./resident-event.js";

/**
 * The CA's copy of the resident record (機構保存本人確認情報, docs/domain.md §3) as change events keep it:
 * the four items and the alias, the register status, and for each field group the version (effective
 * date, then recording time) of the event that last set it.
 *
 * Events can arrive late and out of order (a NATS redelivery, a file re-import, a municipality that
 * sends a week late). The rule: an event sets a field only when it is at least as new as what set the
 * field before, so an older event never overwrites a newer value. Revocation does not depend on this:
 * an old event still revokes (the certificate states what the event says is no longer true, or was
 * issued before the change reached the CA).
 */

/** Where the resident stands in the register. */
export type ResidentStatus = "registered" | "deceased" | "removed" | "emigrated";

/** Fields that change together (text and its substitute flags are one group). */
export type MirrorFieldGroup = "name" | "alias" | "dateOfBirth" | "gender" | "address" | "status";

/** The version of a field group's value: the event's effective date, then its `recordedAt` (ISO). */
export interface FieldVersion {
  readonly effectiveDate: string;
  readonly recordedAt: string;
}

export interface MirrorRecord extends ResidentRecord {
  /** The resident's current municipality (residents.municipality_code); null before the first issuance set it. */
  readonly municipalityCode?: string | null;
  readonly status: ResidentStatus;
  /** Absent for values from issuance: those count as of the record's creation. */
  readonly fieldVersions: Readonly<Partial<Record<MirrorFieldGroup, FieldVersion>>>;
  readonly createdAt: Date;
}

export interface MirrorUpdate {
  readonly next: MirrorRecord;
  /** Groups whose value changed (a superseded snapshot is kept when non-empty). */
  readonly changed: readonly MirrorFieldGroup[];
  /** Groups the event carried but did not set because a newer event had set them. */
  readonly olderThanRecord: readonly MirrorFieldGroup[];
  /** Whether anything (a value or a version) has to be written. */
  readonly dirty: boolean;
}

const statusOfType: Partial<Record<ResidentEventType, ResidentStatus>> = {
  DECEASED: "deceased",
  REMOVED: "removed",
  EMIGRATED: "emigrated",
  EMIGRATED_CONTINUED_USE: "emigrated",
};

/** true when `a` is at least as new as `b`. */
export function isAtLeastAsNew(a: FieldVersion, b: FieldVersion): boolean {
  if (a.effectiveDate !== b.effectiveDate) return a.effectiveDate > b.effectiveDate; // ISO dates sort as text
  return Date.parse(a.recordedAt) >= Date.parse(b.recordedAt);
}

/** The version of values that came from issuance: the record's creation (JST date, instant). */
export function baselineVersion(record: Pick<MirrorRecord, "createdAt">): FieldVersion {
  return { effectiveDate: formatIsoDate(jstDateOf(record.createdAt)), recordedAt: record.createdAt.toISOString() };
}

type Values = Pick<MirrorRecord, "name" | "nameSubstituteFlags" | "alias" | "aliasSubstituteFlags" | "dateOfBirth" | "gender" | "address" | "addressSubstituteFlags" | "municipalityCode" | "status">;

/** The values an event sets, per group. */
function proposedValues(event: ResidentEvent): Partial<Record<MirrorFieldGroup, Partial<Values>>> {
  const c = event.changes;
  const out: Partial<Record<MirrorFieldGroup, Partial<Values>>> = {};
  if (c.name !== undefined && c.nameSubstituteFlags !== undefined) out.name = { name: c.name, nameSubstituteFlags: c.nameSubstituteFlags };
  if (c.alias !== undefined) out.alias = { alias: c.alias, aliasSubstituteFlags: c.alias === null ? null : (c.aliasSubstituteFlags ?? null) };
  if (c.dateOfBirth !== undefined) out.dateOfBirth = { dateOfBirth: c.dateOfBirth };
  if (c.gender !== undefined) out.gender = { gender: c.gender };
  if (c.address !== undefined && c.addressSubstituteFlags !== undefined) {
    // A move across a municipal border carries the new municipality: it travels with the address.
    out.address = { address: c.address, addressSubstituteFlags: c.addressSubstituteFlags, ...(c.municipalityCode === undefined ? {} : { municipalityCode: c.municipalityCode }) };
  }
  const status = statusOfType[event.type];
  if (status !== undefined) out.status = { status };
  return out;
}

/** Applies `event` to `current` by the newest-wins rule above. Pure. */
export function applyEventToMirror(current: MirrorRecord, event: ResidentEvent, now: Date): MirrorUpdate {
  const version: FieldVersion = { effectiveDate: event.effectiveDate, recordedAt: event.recordedAt.toISOString() };
  const baseline = baselineVersion(current);
  const values: Record<string, unknown> = {};
  const versions: Partial<Record<MirrorFieldGroup, FieldVersion>> = { ...current.fieldVersions };
  const changed: MirrorFieldGroup[] = [];
  const older: MirrorFieldGroup[] = [];
  let dirty = false;
  for (const [group, proposed] of Object.entries(proposedValues(event)) as Array<[MirrorFieldGroup, Partial<Values>]>) {
    const held = current.fieldVersions[group] ?? baseline;
    if (!isAtLeastAsNew(version, held)) {
      older.push(group);
      continue;
    }
    const differs = Object.entries(proposed).some(([k, v]) => (current as unknown as Record<string, unknown>)[k] !== v);
    if (differs) changed.push(group);
    const prev = current.fieldVersions[group];
    if (differs || prev === undefined || prev.effectiveDate !== version.effectiveDate || prev.recordedAt !== version.recordedAt) dirty = true;
    Object.assign(values, proposed);
    versions[group] = version;
  }
  const next: MirrorRecord = dirty ? { ...current, ...(values as Partial<Values>), fieldVersions: versions, updatedAt: now } : current;
  return { next, changed, olderThanRecord: older, dirty };
}
