import { randomBytes } from "node:crypto";
import { CaError } from "../ca/errors.js";
import type { Tx } from "../ca/stores.js";
import { revocationReasonCodes, type CaId, type RevocationReason } from "../ca/types.js";
import type {
  CrlKind,
  CrlLease,
  CrlPartitionState,
  CrlStore,
  NewCrl,
  PartitionRef,
  PublishedCrl,
  PublishedCrlInfo,
  RevokedEntry,
  RevokedEntryQuery,
  RevokedEntrySource,
  SerialLookup,
  SerialStatus,
} from "../ca/revocation/crl-ports.js";
import { bytesToParameter, dateFromColumn, nullableDateFromColumn, requiredBytesFromColumn } from "./column-values.js";
import type { Database } from "./database.js";

const PARTITIONS = "crl_partitions";
const CRLS = "crls";
/** Every column of `crls` but the DER. */
const INFO_COLUMNS = ["ca_id", "partition", "kind", "crl_number", "base_number", "this_update", "next_update", "as_of", "entries", "etag", "size", "published_at"] as const;
/**
 * The partial-index predicate of migration 0008, as a literal: PostgreSQL uses a partial index only when
 * it can prove the query implies its predicate, which it cannot for bound parameters (`status in ($1, $2)`).
 */
const REVOKED_PREDICATE = "status in ('revoked', 'hold')";

const lost = (): CaError => new CaError("conflict", "the CRL partition lease was lost (expired and taken by another worker)");

/**
 * CrlStore, RevokedEntrySource and SerialLookup on PostgreSQL / PGlite (migration 0008).
 *
 * Leases are rows with an expiry (not `FOR UPDATE SKIP LOCKED` held for the build: a build takes
 * seconds and PGlite has one connection). All lease times are the database's `now()`, so nodes with
 * skewed clocks agree on who holds a partition.
 */
export class KnexCrlStore implements CrlStore, RevokedEntrySource, SerialLookup {
  constructor(private readonly db: Database) {}

  async ensurePartitions(caId: CaId, count: number): Promise<void> {
    if (!Number.isInteger(count) || count < 1) throw new CaError("invalid-input", "partition count must be a positive integer");
    const k = this.db.executor();
    const beyond = await k(PARTITIONS).where({ ca_id: caId }).andWhere("partition", ">=", count).first("partition");
    if (beyond !== undefined) {
      throw new CaError("conflict", `CRL partitions of ${caId} exist beyond the generation's count of ${count}: the partition count never changes (docs/domain.md §4)`);
    }
    await k.raw(
      `insert into ${PARTITIONS} (ca_id, partition) select ?, g from generate_series(0, ?) as g on conflict (ca_id, partition) do nothing`,
      [caId, count - 1],
    );
  }

  async states(caId?: CaId): Promise<CrlPartitionState[]> {
    const k = this.db.executor();
    const q = k(PARTITIONS).select("*").orderBy([{ column: "ca_id" }, { column: "partition" }]);
    if (caId !== undefined) q.where({ ca_id: caId });
    const partitions = (await q) as Array<Record<string, unknown>>;
    const infoQuery = k(CRLS).select(...INFO_COLUMNS);
    if (caId !== undefined) infoQuery.where({ ca_id: caId });
    const infos = ((await infoQuery) as Array<Record<string, unknown>>).map(infoFromRow);
    const byKey = new Map(infos.map((i) => [`${i.caId}/${i.partition}/${i.kind}`, i]));
    return partitions.map((row) => stateFromRow(row, byKey));
  }

  async state(ref: PartitionRef): Promise<CrlPartitionState | undefined> {
    const k = this.db.executor();
    const row = (await k(PARTITIONS).where({ ca_id: ref.caId, partition: ref.partition }).first()) as Record<string, unknown> | undefined;
    if (row === undefined) return undefined;
    const infos = ((await k(CRLS).select(...INFO_COLUMNS).where({ ca_id: ref.caId, partition: ref.partition })) as Array<Record<string, unknown>>).map(infoFromRow);
    return stateFromRow(row, new Map(infos.map((i) => [`${i.caId}/${i.partition}/${i.kind}`, i])));
  }

  async tryLease(ref: PartitionRef, owner: string, ttlSeconds: number): Promise<CrlLease | undefined> {
    const k = this.db.executor();
    const token = randomBytes(16).toString("hex");
    // Under concurrency PostgreSQL re-checks the WHERE on the row a competing update committed, so
    // exactly one of two racing workers gets the row.
    const rows = (await k(PARTITIONS)
      .where({ ca_id: ref.caId, partition: ref.partition })
      .andWhere((w) => void w.whereNull("lease_token").orWhere("lease_expires_at", "<", k.fn.now())) // void: knex ignores the callback's value
      .update(
        {
          lease_owner: owner,
          lease_token: token,
          lease_expires_at: k.raw("now() + ? * interval '1 second'", [ttlSeconds]),
          updated_at: k.fn.now(),
        },
        ["updated_at"],
      )) as Array<{ updated_at: unknown }>;
    const row = rows[0];
    return row === undefined ? undefined : { caId: ref.caId, partition: ref.partition, owner, token, asOf: dateFromColumn(row.updated_at) };
  }

  async nextNumber(lease: CrlLease): Promise<number> {
    const k = this.db.executor();
    const rows = (await k(PARTITIONS)
      .where({ ca_id: lease.caId, partition: lease.partition, lease_token: lease.token })
      .andWhere("lease_expires_at", ">", k.fn.now())
      .update({ last_number: k.raw("last_number + 1"), updated_at: k.fn.now() }, ["last_number"])) as Array<{ last_number: unknown }>;
    if (rows[0] === undefined) throw lost();
    return Number(rows[0].last_number);
  }

  async publish(lease: CrlLease, crl: NewCrl): Promise<PublishedCrlInfo> {
    const pk = { ca_id: lease.caId, partition: lease.partition };
    const etag = `"${lease.caId}.${lease.partition}.${crl.number}"`;
    return this.db.transaction(async (tx) => {
      const k = this.db.executor(tx);
      const part = (await k(PARTITIONS)
        .where(pk)
        .forUpdate()
        .first("lease_token", "last_number", k.raw("lease_expires_at > now() as lease_valid"))) as { lease_token: string | null; last_number: unknown; lease_valid: boolean | null } | undefined;
      if (part === undefined || part.lease_token !== lease.token || part.lease_valid !== true) throw lost();
      if (crl.number > Number(part.last_number)) throw new CaError("internal", "CRL number was not taken from the partition counter");
      const current = (await k(CRLS).where({ ...pk, kind: crl.kind }).first("crl_number")) as { crl_number: unknown } | undefined;
      // RFC 5280 §5.2.3 (and Boulder's storer): a CRL number never goes backwards or repeats.
      if (current !== undefined && Number(current.crl_number) >= crl.number) {
        throw new CaError("conflict", `CRL number ${crl.number} does not exceed the published ${crl.kind} CRL ${Number(current.crl_number)}`);
      }
      if (crl.kind === "delta") {
        const full = (await k(CRLS).where({ ...pk, kind: "full" }).first("crl_number")) as { crl_number: unknown } | undefined;
        if (full === undefined || Number(full.crl_number) !== crl.baseNumber) {
          throw new CaError("conflict", "a delta CRL must refer to the current full CRL of its partition (RFC 5280 §5.2.4)");
        }
      }
      const row = {
        ...pk,
        kind: crl.kind,
        crl_number: crl.number,
        base_number: crl.baseNumber,
        this_update: crl.thisUpdate,
        next_update: crl.nextUpdate,
        as_of: crl.asOf,
        entries: crl.entries,
        etag,
        size: crl.der.length,
        der: bytesToParameter(crl.der),
        published_at: k.fn.now(),
      };
      const [inserted] = (await k(CRLS).insert(row).onConflict(["ca_id", "partition", "kind"]).merge().returning([...INFO_COLUMNS])) as Array<Record<string, unknown>>;
      // Changes marked at or before asOf were committed before the entries were read: this CRL has them.
      await k(PARTITIONS)
        .where(pk)
        .update({ changed_at: k.raw("case when changed_at <= ? then null else changed_at end", [crl.asOf]), updated_at: k.fn.now() });
      return infoFromRow(inserted!);
    });
  }

  async release(lease: CrlLease): Promise<void> {
    await this.db
      .executor()(PARTITIONS)
      .where({ ca_id: lease.caId, partition: lease.partition, lease_token: lease.token })
      .update({ lease_owner: null, lease_token: null, lease_expires_at: null });
  }

  async published(ref: PartitionRef, kind: CrlKind): Promise<PublishedCrlInfo | undefined> {
    const row = (await this.db.executor()(CRLS).where({ ca_id: ref.caId, partition: ref.partition, kind }).first(...INFO_COLUMNS)) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : infoFromRow(row);
  }

  async publishedDer(ref: PartitionRef, kind: CrlKind): Promise<PublishedCrl | undefined> {
    const row = (await this.db.executor()(CRLS).where({ ca_id: ref.caId, partition: ref.partition, kind }).first()) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : { info: infoFromRow(row), der: requiredBytesFromColumn(row.der) };
  }

  async markChanged(refs: readonly PartitionRef[], tx?: Tx): Promise<void> {
    if (refs.length === 0) return;
    const k = this.db.executor(tx);
    // The latest mark wins: publish clears it only when the CRL was read after every marked change.
    await k(PARTITIONS)
      .insert(refs.map((r) => ({ ca_id: r.caId, partition: r.partition, changed_at: k.fn.now() })))
      .onConflict(["ca_id", "partition"])
      .merge(["changed_at"]);
  }

  /**
   * One page as ONE row: the page's rows are selected by index range, then joined server-side into
   * `serial epoch reason [invalidity]` items. node-postgres parses one text value instead of five
   * fields per row, which makes a million-entry partition about a third faster to read.
   */
  async revokedEntries(query: RevokedEntryQuery): Promise<RevokedEntry[]> {
    const k = this.db.executor();
    const page = k("certificates")
      .select("serial", "status", "revocation_reason", "revoked_at", "updated_at", "invalidity_date")
      .where({ ca_id: query.caId, partition: query.partition })
      .whereRaw(REVOKED_PREDICATE)
      .andWhere("not_after", ">=", query.notAfterFloor);
    if (query.changedAfter !== undefined) page.andWhere("updated_at", ">", query.changedAfter);
    if (query.changedAtOrBefore !== undefined) page.andWhere("updated_at", "<=", query.changedAtOrBefore);
    if (query.afterSerial !== undefined && query.afterSerial !== null) page.andWhere("serial", ">", query.afterSerial);
    page.orderBy("serial").limit(query.limit);
    // A held certificate is listed as certificateHold whatever else was recorded (RFC 5280 §5.3.1).
    const item = `serial || ' ' || floor(date_part('epoch', coalesce(revoked_at, updated_at)))::int8
      || ' ' || case when status = 'hold' then 'certificateHold' else coalesce(revocation_reason, 'unspecified') end
      || coalesce(' ' || floor(date_part('epoch', invalidity_date))::int8, '')`;
    const row = (await k.from(page.as("page")).first(k.raw(`string_agg(${item}, ',' order by serial) as items`))) as { items: string | null } | undefined;
    const text = row?.items;
    if (!text) return [];
    const items = text.split(",");
    const out = new Array<RevokedEntry>(items.length);
    for (let i = 0; i < items.length; i++) {
      const f = items[i]!.split(" ");
      const code = revocationReasonCodes[f[2] as RevocationReason];
      if (f.length < 3 || code === undefined) throw new CaError("internal", "unexpected revoked entry row");
      out[i] = { serial: f[0]!, revokedAt: Number(f[1]), reasonCode: code, invalidityDate: f[3] === undefined ? null : Number(f[3]) };
    }
    return out;
  }

  async serialStatuses(serials: readonly string[]): Promise<SerialStatus[]> {
    if (serials.length === 0) return [];
    const rows = (await this.db.executor()("certificates").select("serial", "ca_id", "partition", "status", "not_after").whereIn("serial", serials)) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      serial: r.serial as string,
      caId: r.ca_id as CaId,
      partition: r.partition as number,
      status: r.status as string,
      notAfter: dateFromColumn(r.not_after),
    }));
  }
}

function infoFromRow(row: Record<string, unknown>): PublishedCrlInfo {
  return {
    caId: row.ca_id as CaId,
    partition: row.partition as number,
    kind: row.kind as CrlKind,
    number: Number(row.crl_number),
    baseNumber: row.base_number === null || row.base_number === undefined ? null : Number(row.base_number),
    thisUpdate: dateFromColumn(row.this_update),
    nextUpdate: dateFromColumn(row.next_update),
    asOf: dateFromColumn(row.as_of),
    entries: Number(row.entries),
    etag: row.etag as string,
    size: Number(row.size),
    publishedAt: dateFromColumn(row.published_at),
  };
}

function stateFromRow(row: Record<string, unknown>, infos: ReadonlyMap<string, PublishedCrlInfo>): CrlPartitionState {
  const key = `${String(row.ca_id)}/${String(row.partition)}`;
  return {
    caId: row.ca_id as CaId,
    partition: row.partition as number,
    lastNumber: Number(row.last_number),
    changedAt: nullableDateFromColumn(row.changed_at),
    full: infos.get(`${key}/full`) ?? null,
    delta: infos.get(`${key}/delta`) ?? null,
    leaseExpiresAt: nullableDateFromColumn(row.lease_expires_at),
  };
}
