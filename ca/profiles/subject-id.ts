import { CaError } from "../errors.js";
import type { Random } from "../ports.js";

/**
 * The opaque subject id that is an end-entity certificate's CN (docs/domain.md §2: `CN=<opaque id>`; JPKI's
 * rule is not public, a real auth certificate shows a 23-character alphanumeric id [S]).
 *
 * Ours [U]: 12 octets from the injected Random (96 bits, docs/design.md invariant 7), written as 24
 * upper-case hex digits, a PrintableString. Never derived from personal data: a CN that hashed the
 * resident code or name would let anyone holding a certificate test guesses against it.
 */

/** Random octets per id. */
export const SUBJECT_ID_OCTETS = 12;

/** What the CA accepts as a subject id: upper-case letters and digits, 8–64 characters (ub-common-name). */
const SUBJECT_ID = /^[0-9A-Z]{8,64}$/;

/** A new subject id: 24 upper-case hex digits. */
export function generateSubjectId(random: Random): string {
  const bytes = random.bytes(SUBJECT_ID_OCTETS);
  if (bytes.length !== SUBJECT_ID_OCTETS) throw new CaError("internal", "Random returned the wrong number of bytes");
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").toUpperCase();
}

/** True for a subject id the CA may put into a CN (a PrintableString of 8–64 of `0-9A-Z`). */
export function isSubjectId(id: string): boolean {
  return SUBJECT_ID.test(id);
}

/** Throws CaError("invalid-input", field "subjectId") unless `id` is a valid subject id. */
export function assertSubjectId(id: string): void {
  if (typeof id !== "string" || !SUBJECT_ID.test(id)) {
    throw new CaError("invalid-input", "subjectId must be 8–64 upper-case letters or digits", { field: "subjectId" });
  }
}
