import type { Gender } from "./resident-fields.js";

/**
 * Resident change events (異動等情報) from the resident-register feed (docs/domain.md §1, §3; docs/api.md §5).
 * The typed value the core works with; events/resident-event-schema.ts parses the wire form into it.
 */

/** docs/api.md §5: the event types. Anything else is rejected as `unknown-type` and kept. */
export const residentEventTypes = [
  "ADDRESS_CHANGED",
  "NAME_CHANGED",
  "ALIAS_CHANGED",
  "GENDER_CHANGED",
  "BIRTHDATE_CORRECTED",
  "MINOR_CORRECTION",
  "DECEASED",
  "REMOVED",
  "EMIGRATED",
  "EMIGRATED_CONTINUED_USE",
  "CARD_INVALIDATED",
  "RECORD_ERROR",
] as const;
export type ResidentEventType = (typeof residentEventTypes)[number];

export function isResidentEventType(value: unknown): value is ResidentEventType {
  return typeof value === "string" && (residentEventTypes as readonly string[]).includes(value);
}

/**
 * Fields an event may set in the CA's copy of the resident record. Text and its substitute flags
 * always travel together (the schema enforces it).
 */
export interface ResidentFieldChanges {
  readonly name?: string;
  readonly nameSubstituteFlags?: string;
  readonly alias?: string | null;
  readonly aliasSubstituteFlags?: string | null;
  readonly dateOfBirth?: string;
  readonly gender?: Gender;
  readonly address?: string;
  readonly addressSubstituteFlags?: string;
}

export interface ResidentEventChanges extends ResidentFieldChanges {
  /**
   * ADDRESS_CHANGED (and its corrections): the 6-digit code of the municipality the resident now lives
   * in, when the move crossed a municipal border. The record's municipality decides which counter
   * terminals may act on the resident (ca/access/resident-access.ts, docs/security.md).
   */
  readonly municipalityCode?: string;
  /** CARD_INVALIDATED only: the card was re-issued (superseded) rather than returned or abolished. */
  readonly cardReplaced?: boolean;
}

/** One validated change event. */
export interface ResidentEvent {
  /** The feed's id; the idempotency key on every transport (and the NATS `Nats-Msg-Id`). */
  readonly eventId: string;
  /** 住民票コード, 11 digits. */
  readonly residentCode: string;
  readonly type: ResidentEventType;
  /** The date the change took effect in the register, `YYYY-MM-DD` (JST calendar date). */
  readonly effectiveDate: string;
  /** When the municipality recorded it (an instant). */
  readonly recordedAt: Date;
  readonly changes: ResidentEventChanges;
}

/** The wire (JSON) form of a validated event, as stored and replayed. */
export function residentEventToJson(event: ResidentEvent): Record<string, unknown> {
  return {
    eventId: event.eventId,
    residentCode: event.residentCode,
    type: event.type,
    effectiveDate: event.effectiveDate,
    recordedAt: event.recordedAt.toISOString(),
    changes: { ...event.changes },
  };
}
