import type { CaId, CertificateStatus, RevocationReason } from "../ca/types.js";
import type {
  CertIdHash,
  CertStatusName,
  CertificateStatusSnapshot,
  CertificateStatusSource,
  OcspAccessLog,
  OcspAccessRecord,
  OcspResponseStore,
  StatusRank,
  StoredOcspResponse,
} from "../ca/revocation/ocsp-ports.js";
import { storedResponseKey } from "../ca/revocation/ocsp-ports.js";
import { bytesToParameter, dateFromColumn, parseInt8, requiredBytesFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

const RESPONSES = "ocsp_responses";
const ACCESS_LOG = "ocsp_access_log";
/** Bound on `in (…)` lists: batches from the outbox and the refresher stay below it. */
const MAX_IN_LIST = 1000;

/**
 * The OCSP ports on PostgreSQL / PGlite (migrations 0009, 0022): stored responses, certificate status
 * snapshots (read straight from `certificates`, only the columns OCSP needs), and the access log.
 */
export class KnexOcspStore implements OcspResponseStore, CertificateStatusSource, OcspAccessLog {
  constructor(private readonly db: Database) {}

  async statuses(serials: readonly string[]): Promise<Map<string, CertificateStatusSnapshot>> {
    const out = new Map<string, CertificateStatusSnapshot>();
    for (const chunk of chunks(serials)) {
      const rows = (await this.db
        .executor()("certificates")
        .whereIn("serial", chunk)
        .select("serial", "ca_id", "status", "revoked_at", "revocation_reason", "not_after", "status_version")) as Array<Record<string, unknown>>;
      for (const r of rows) {
        out.set(r.serial as string, {
          serial: r.serial as string,
          caId: r.ca_id as CaId,
          status: r.status as CertificateStatus,
          revokedAt: r.revoked_at === null ? null : dateFromColumn(r.revoked_at),
          reason: (r.revocation_reason as RevocationReason | null) ?? null,
          notAfter: dateFromColumn(r.not_after),
          statusVersion: Number(r.status_version ?? 0),
        });
      }
    }
    return out;
  }

  async get(serial: string, hash: CertIdHash): Promise<StoredOcspResponse | undefined> {
    const row = (await this.db.executor()(RESPONSES).where({ serial, hash_algorithm: hash }).first()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : responseFromRow(row);
  }

  async getMany(keys: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<Map<string, StoredOcspResponse>> {
    const out = new Map<string, StoredOcspResponse>();
    for (const chunk of chunks(keys)) {
      const rows = (await this.db
        .executor()(RESPONSES)
        .whereIn(["serial", "hash_algorithm"], chunk.map((k) => [k.serial, k.hash]))) as Array<Record<string, unknown>>;
      for (const r of rows) {
        const response = responseFromRow(r);
        out.set(storedResponseKey(response.serial, response.hash), response);
      }
    }
    return out;
  }

  async put(r: StoredOcspResponse): Promise<boolean> {
    return (await this.putMany([r])).size > 0;
  }

  async putMany(responses: readonly StoredOcspResponse[]): Promise<Set<string>> {
    const written = new Set<string>();
    for (const chunk of chunks(responses)) {
      const k = this.db.executor();
      const rows = (await k(RESPONSES)
        .insert(
          chunk.map((r) => ({
            serial: r.serial,
            hash_algorithm: r.hash,
            ca_id: r.caId,
            der: bytesToParameter(r.der),
            cert_status: r.certStatus,
            status_rank: r.rank,
            status_version: r.statusVersion ?? 0,
            revoked_at: r.revokedAt,
            revocation_reason: r.reason,
            this_update: r.thisUpdate,
            next_update: r.nextUpdate,
            produced_at: r.producedAt,
            last_requested_at: r.lastRequestedAt ?? null,
            // Half-life: the refresher re-signs it then (if asked within the window by that time).
            refresh_at: new Date(r.thisUpdate.getTime() + (r.nextUpdate.getTime() - r.thisUpdate.getTime()) / 2),
          })),
        )
        .onConflict(["serial", "hash_algorithm"])
        .merge({
          ca_id: k.raw("excluded.ca_id"),
          der: k.raw("excluded.der"),
          cert_status: k.raw("excluded.cert_status"),
          status_rank: k.raw("excluded.status_rank"),
          status_version: k.raw("excluded.status_version"),
          revoked_at: k.raw("excluded.revoked_at"),
          revocation_reason: k.raw("excluded.revocation_reason"),
          this_update: k.raw("excluded.this_update"),
          next_update: k.raw("excluded.next_update"),
          produced_at: k.raw("excluded.produced_at"),
          seq: k.raw("excluded.seq"),
          refresh_at: k.raw("excluded.refresh_at"),
          // greatest() ignores nulls: a re-signature keeps the recorded demand.
          last_requested_at: k.raw(`greatest(${RESPONSES}.last_requested_at, excluded.last_requested_at)`),
        })
        // Newer wins (ca/revocation/ocsp-ports.ts isNotOlderThan): a later status version (a lifted hold),
        // else never a lower status rank, and at equal rank never back in time.
        .where(
          k.raw(
            `${RESPONSES}.status_version < excluded.status_version or (${RESPONSES}.status_version = excluded.status_version and (` +
              `${RESPONSES}.status_rank < excluded.status_rank or (${RESPONSES}.status_rank = excluded.status_rank and ${RESPONSES}.this_update <= excluded.this_update)))`,
          ),
        )
        .returning(["serial", "hash_algorithm"])) as Array<Record<string, unknown>>;
      for (const r of rows) written.add(storedResponseKey(r.serial as string, r.hash_algorithm as CertIdHash));
    }
    return written;
  }

  async hashesOf(serials: readonly string[], freshAt?: Date): Promise<Map<string, CertIdHash[]>> {
    const out = new Map<string, CertIdHash[]>();
    for (const chunk of chunks(serials)) {
      const q = this.db.executor()(RESPONSES).whereIn("serial", chunk);
      if (freshAt !== undefined) q.where("next_update", ">", freshAt);
      const rows = (await q.select("serial", "hash_algorithm")) as Array<Record<string, unknown>>;
      for (const r of rows) {
        const list = out.get(r.serial as string) ?? [];
        list.push(r.hash_algorithm as CertIdHash);
        out.set(r.serial as string, list);
      }
    }
    return out;
  }

  async listDue(now: Date, limit: number): Promise<Array<{ serial: string; hash: CertIdHash; expired: boolean; lastRequestedAt: Date | null }>> {
    // ocsp_responses_refresh_at_idx (partial: refresh_at is not null), so rows out of the refresh are never read.
    const rows = (await this.db
      .executor()(`${RESPONSES} as r`)
      .join("certificates as c", "c.serial", "r.serial")
      .whereNotNull("r.refresh_at")
      .where("r.refresh_at", "<=", now)
      .orderBy("r.refresh_at")
      .limit(limit)
      .select("r.serial", "r.hash_algorithm", "r.last_requested_at", "c.not_after")) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      serial: r.serial as string,
      hash: r.hash_algorithm as CertIdHash,
      expired: dateFromColumn(r.not_after) <= now,
      lastRequestedAt: r.last_requested_at === null || r.last_requested_at === undefined ? null : dateFromColumn(r.last_requested_at),
    }));
  }

  async unschedule(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void> {
    for (const chunk of chunks(items)) {
      await this.db.executor()(RESPONSES).whereIn(["serial", "hash_algorithm"], chunk.map((i) => [i.serial, i.hash])).update({ refresh_at: null });
    }
  }

  async touch(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>, at: Date): Promise<void> {
    if (items.length === 0) return;
    // One statement per batch with one parameter (a JSON array), like the access log.
    await this.db.executor().raw(
      `update ${RESPONSES} as r
       set last_requested_at = greatest(r.last_requested_at, ?::timestamptz), refresh_at = coalesce(r.refresh_at, ?::timestamptz)
       from jsonb_to_recordset(?::jsonb) as t(serial text, hash text)
       where r.serial = t.serial and r.hash_algorithm = t.hash`,
      [at, at, JSON.stringify(items.map((i) => ({ serial: i.serial, hash: i.hash })))],
    );
  }

  async dropUnrequested(now: Date, requestedBefore: Date, limit: number): Promise<number> {
    // ocsp_responses_unrefreshed_next_update_idx (partial: refresh_at is null): live rows are not read.
    const result = (await this.db.executor().raw(
      `delete from ${RESPONSES} where (serial, hash_algorithm) in (
         select serial, hash_algorithm from ${RESPONSES}
         where refresh_at is null and next_update <= ? and (last_requested_at is null or last_requested_at < ?)
         limit ?)`,
      [now, requestedBefore, limit],
    )) as { rowCount?: number; affectedRows?: number };
    return Number(result.rowCount ?? result.affectedRows ?? 0);
  }

  async countStored(): Promise<number> {
    const k = this.db.executor();
    // The planner's estimate (pg_class.reltuples, kept by autovacuum) when the table is large: an exact
    // count would read the whole table every time the gauge is set.
    const estimate = (await k.raw(`select reltuples::bigint as n from pg_class where oid = '${RESPONSES}'::regclass`)) as { rows: Array<{ n: unknown }> };
    const n = toNumber(estimate.rows[0]?.n ?? -1);
    if (n >= 1_000_000) return n;
    const row = (await k(RESPONSES).count({ n: "*" }).first()) as { n: unknown } | undefined;
    return toNumber(row?.n ?? 0);
  }

  async remove(items: ReadonlyArray<{ serial: string; hash: CertIdHash }>): Promise<void> {
    if (items.length === 0) return;
    await this.db
      .executor()(RESPONSES)
      .where((q) => {
        for (const i of items) q.orWhere({ serial: i.serial, hash_algorithm: i.hash });
      })
      .delete();
  }

  async changedSince(seq: number, limit: number): Promise<{ rows: StoredOcspResponse[]; lastSeq: number }> {
    const rows = (await this.db.executor()(RESPONSES).where("seq", ">", seq).orderBy("seq").limit(limit)) as Array<Record<string, unknown>>;
    const last = rows.length > 0 ? toNumber(rows[rows.length - 1]!.seq) : seq;
    return { rows: rows.map(responseFromRow), lastSeq: last };
  }

  async lastSeq(): Promise<number> {
    const row = (await this.db.executor()(RESPONSES).max({ m: "seq" }).first()) as { m: unknown } | undefined;
    return row?.m === null || row?.m === undefined ? 0 : toNumber(row.m);
  }

  async oldestThisUpdate(): Promise<Date | undefined> {
    // ocsp_responses_refreshed_this_update_idx: responses left to expire do not count.
    const row = (await this.db.executor()(RESPONSES).whereNotNull("refresh_at").min({ m: "this_update" }).first()) as { m: unknown } | undefined;
    return row?.m === null || row?.m === undefined ? undefined : dateFromColumn(row.m);
  }

  async append(records: readonly OcspAccessRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One statement and one parameter per batch (a JSON array), not 5 × N placeholders.
    await this.db.executor().raw(
      `insert into ${ACCESS_LOG} (at, party, serial, ca_id, answer)
       select at, party, serial, ca_id, answer
       from jsonb_to_recordset(?::jsonb) as r(at timestamptz, party text, serial text, ca_id text, answer text)`,
      [JSON.stringify(records.map((r) => ({ at: r.at.toISOString(), party: r.party, serial: r.serial, ca_id: r.caId, answer: r.answer })))],
    );
  }

  /** Access log rows of a party (tests and disclosure tooling), oldest first. */
  async accessLogOf(party: string, limit = 1000): Promise<OcspAccessRecord[]> {
    const rows = (await this.db.executor()(ACCESS_LOG).where({ party }).orderBy("id").limit(limit)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      at: dateFromColumn(r.at),
      party: r.party as string,
      serial: (r.serial as string | null) ?? null,
      caId: (r.ca_id as CaId | null) ?? null,
      answer: r.answer as string,
    }));
  }
}

function responseFromRow(r: Record<string, unknown>): StoredOcspResponse {
  return {
    serial: r.serial as string,
    hash: r.hash_algorithm as CertIdHash,
    caId: r.ca_id as CaId,
    der: requiredBytesFromColumn(r.der),
    certStatus: r.cert_status as CertStatusName,
    rank: Number(r.status_rank) as StatusRank,
    statusVersion: Number(r.status_version ?? 0),
    revokedAt: r.revoked_at === null || r.revoked_at === undefined ? null : dateFromColumn(r.revoked_at),
    reason: (r.revocation_reason as RevocationReason | null) ?? null,
    thisUpdate: dateFromColumn(r.this_update),
    nextUpdate: dateFromColumn(r.next_update),
    producedAt: dateFromColumn(r.produced_at),
    lastRequestedAt: r.last_requested_at === null || r.last_requested_at === undefined ? null : dateFromColumn(r.last_requested_at),
  };
}

const toNumber = (v: unknown): number => (typeof v === "number" ? v : parseInt8(String(v)));

function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += MAX_IN_LIST) yield items.slice(i, i + MAX_IN_LIST);
}
