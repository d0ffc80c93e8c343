import type { RevokedEntryQuery, RevokedEntrySource } from "../ca/revocation/crl-ports.js";
import type { RevokedEntry } from "./revoked-entry-der.js";

/**
 * The revoked entries of a partition as pages, by keyset paging on the serial (no OFFSET: each page is
 * an index range scan). The next page is requested while the caller encodes the current one, so the
 * database and the encoder overlap. Memory: two pages of rows at most.
 */
export async function* revokedEntryPages(
  source: RevokedEntrySource,
  query: Omit<RevokedEntryQuery, "afterSerial" | "limit">,
  pageSize: number,
): AsyncGenerator<RevokedEntry[]> {
  const fetch = (afterSerial: string | null): Promise<RevokedEntry[]> => source.revokedEntries({ ...query, afterSerial, limit: pageSize });
  let pending: Promise<RevokedEntry[]> | null = fetch(null);
  while (pending !== null) {
    const page: RevokedEntry[] = await pending;
    const last = page[page.length - 1];
    pending = page.length === pageSize && last !== undefined ? fetch(last.serial) : null;
    // A prefetch left behind by an abandoned iteration must not become an unhandled rejection.
    pending?.catch(() => undefined);
    if (page.length > 0) yield page;
  }
}
