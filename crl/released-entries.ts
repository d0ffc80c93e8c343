import type { ReleasedEntryQuery, ReleasedEntrySource } from "../ca/revocation/phone-cascade.js";
import { readElement } from "../ca/x509/der-reader.js";
import { readCrl } from "./crl-reader.js";
import type { EntryPages } from "./crl-builder.js";
import type { RevokedEntry } from "./revoked-entry-der.js";

/**
 * Lifted phone holds on delta CRLs (issue #16 item 1; ca/revocation/revocation-service.ts `liftPhoneHold`).
 *
 * A full CRL simply omits a lifted certificate (its row is `valid` again). A delta CRL must say so: a
 * relying party that holds the base CRL with the certificate on hold keeps it on hold unless the delta
 * lists it with reason removeFromCRL (RFC 5280 §5.3.1: "used only in delta CRLs"; §5.2.4: the delta
 * lists certificates "removed from hold" since its base). So a delta lists, after its revoked entries,
 * every certificate of its partition lifted since the base was read, with reason removeFromCRL and the
 * time of the lift as revocationDate.
 */

/** RFC 5280 §5.3.1 CRLReason removeFromCRL. */
export const REMOVE_FROM_CRL = 8;

/** The released entries of one partition as pages (keyset paging on the serial, as revoked-entry-pages.ts). */
export async function* releasedEntryPages(source: ReleasedEntrySource, query: Omit<ReleasedEntryQuery, "afterSerial" | "limit">, pageSize: number): AsyncGenerator<RevokedEntry[]> {
  let afterSerial: string | null = null;
  for (;;) {
    const rows = await source.releasedEntries({ ...query, afterSerial, limit: pageSize });
    if (rows.length > 0) yield rows.map((r) => ({ serial: r.serial, revokedAt: Math.floor(r.releasedAt.getTime() / 1000), reasonCode: REMOVE_FROM_CRL, invalidityDate: null }));
    if (rows.length < pageSize) return;
    afterSerial = rows[rows.length - 1]!.serial;
  }
}

/** The delta's pages: its revoked entries, then the released ones (none without a source). */
export async function* withReleasedEntries(revoked: EntryPages, released: AsyncIterable<readonly RevokedEntry[]> | undefined): AsyncGenerator<readonly RevokedEntry[]> {
  for await (const page of revoked) yield page;
  if (released !== undefined) for await (const page of released) yield page;
}

/** The serials of a partition lifted after `releasedAfter` (the coverage check: pending until the next delta). */
export async function liftedSince(source: ReleasedEntrySource, query: Omit<ReleasedEntryQuery, "afterSerial" | "limit">): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const page of releasedEntryPages(source, query, 1000)) for (const e of page) out.add(e.serial);
  return out;
}

// The reasonCode extension with removeFromCRL, byte for byte as crl/revoked-entry-der.ts writes it:
// SEQUENCE { OID 2.5.29.21, OCTET STRING { ENUMERATED 8 } }.
const REMOVE_FROM_CRL_EXTENSION = Buffer.from([0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, REMOVE_FROM_CRL]);

/**
 * The serials a (delta) CRL lists with removeFromCRL: not revocations, so the coverage check
 * (crl/coverage-check.ts) does not hold them against the certificates' rows.
 */
export function removedFromCrlSerials(der: Uint8Array): Set<string> {
  const out = new Set<string>();
  const { revoked } = readCrl(der);
  if (revoked === null) return out;
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  for (let pos = revoked.contentStart; pos < revoked.end; ) {
    const entry = readElement(der, pos, revoked.end);
    const serial = readElement(der, entry.contentStart, entry.end);
    if (buf.subarray(serial.end, entry.end).includes(REMOVE_FROM_CRL_EXTENSION)) out.add(buf.toString("hex", serial.contentStart, serial.end));
    pos = entry.end;
  }
  return out;
}
