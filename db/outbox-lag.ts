import type { Database } from "./database.js";

/** The outbox topics that change an OCSP answer (ocsp/presigner.ts re-signs on them). */
const STATUS_CHANGES = ["certificate.revoked", "certificate.held"] as const;
/** A phone hold lifted by its holder (docs/phone.md): any response signed before it is out of date. */
const RELEASE = "certificate.released";

/**
 * How far the stored OCSP responses lag the revocation outbox (issue 14 item 3c: `/readyz`), in
 * milliseconds on the database's clock: the age of the oldest status change after the OCSP consumer's
 * cursor (tables outbox and outbox_cursors, migrations 0004 and 0007) whose certificate still has a
 * stored response that is not "revoked" and was signed before the change; 0 when there is none.
 *
 * Not simply the oldest message after the cursor: the cursor waits behind a hole in the ids (a
 * rolled-back insert, db/outbox-store.ts OUTBOX_GAP_WAIT_SECONDS) and only moves when a later message
 * is consumed, so messages already consumed can sit after it for as long as no new one comes. A
 * response that already says "revoked", or was signed after the change (a release from hold), is up to
 * date; a certificate without a stored response is signed on demand from its current status. After a
 * lift (`certificate.released`), every response signed before it is out of date, whatever it says.
 */
export async function ocspOutboxLagMs(db: Database, consumer: string): Promise<number> {
  const result = (await db.executor().raw(
    `select extract(epoch from (now() - min(o.created_at))) * 1000 as lag_ms
       from outbox o
      where o.id > coalesce((select c.last_id from outbox_cursors c where c.consumer = ?), 0)
        and o.topic in (?, ?, ?)
        and exists (select 1 from ocsp_responses r
                     where r.serial = o.payload->>'serial' and r.this_update < o.created_at
                       and (o.topic = ? or r.cert_status <> 'revoked'))`,
    [consumer, ...STATUS_CHANGES, RELEASE, RELEASE],
  )) as { rows: Array<{ lag_ms: unknown }> };
  return Math.max(0, Number(result.rows[0]?.lag_ms ?? 0));
}
