import type { Knex } from "knex";
import { CaError } from "../ca/errors.js";
import type { IssuanceCompleted, IssuanceRecord, IssuanceStatus, IssuanceStore, ResidentRecord, ResidentStore } from "../ca/issuance/issuance-ports.js";
import type { LinkType } from "../ca/linkage/certificate-links.js";
import type { NewPendingCertificate, Tx } from "../ca/stores.js";
import { pendingCertificateRow } from "./certificate-store.js";
import { bytesToParameter, dateFromColumn, jsonToParameter, nullableDateFromColumn, objectFromColumn, rowsOf } from "./column-values.js";
import type { Database } from "./database.js";
import { residentFieldsFromRow } from "./resident-columns.js";
import { mapConstraintErrors } from "./database-errors.js";

type Row = Record<string, unknown>;


/** IssuanceStore on PostgreSQL / PGlite (table issuances, migration 0006). */
export class KnexIssuanceStore implements IssuanceStore {
  constructor(private readonly db: Database) {}

  async insert(r: IssuanceRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("issuance idempotency key", () => this.db.executor(tx)("issuances").insert(issuanceRow(r)));
  }

  async insertWithCertificates(r: IssuanceRecord, certificates: readonly NewPendingCertificate[], tx?: Tx): Promise<void> {
    const k = this.db.executor(tx);
    const issuance = k("issuances").insert(issuanceRow(r));
    // One statement (issue #3): the issuance row in a data-modifying CTE, the certificates after it.
    const write = certificates.length === 0 ? issuance : k.with("issuance", issuance).insert(certificates.map(pendingCertificateRow)).into("certificates");
    // The same messages as insert and insertPending: the service takes an idempotency-key clash for a race it lost.
    await mapConstraintErrors((table) => (table === "issuances" ? "issuance idempotency key" : "certificate serial"), () => write);
  }

  async completeWithCertificates(
    issuanceId: string,
    signed: ReadonlyArray<{ readonly serial: string; readonly der: Uint8Array }>,
    response: Readonly<Record<string, unknown>>,
    at: Date,
    tx?: Tx,
  ): Promise<IssuanceCompleted | undefined> {
    // Without tx, a refused certificate must still undo the issuance row: run in a transaction of our own.
    if (tx === undefined || tx === null) return this.db.transaction((own) => this.completeIn(this.db.executor(own), issuanceId, signed, response, at));
    return this.completeIn(this.db.executor(tx), issuanceId, signed, response, at);
  }

  async findByKey(terminalId: string, idempotencyKey: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    const row = (await this.db.executor(tx)("issuances").where({ terminal_id: terminalId, idempotency_key: idempotencyKey }).first()) as Row | undefined;
    return row ? toIssuance(row) : undefined;
  }

  async get(issuanceId: string, tx?: Tx): Promise<IssuanceRecord | undefined> {
    const row = (await this.db.executor(tx)("issuances").where({ issuance_id: issuanceId }).first()) as Row | undefined;
    return row ? toIssuance(row) : undefined;
  }

  async complete(issuanceId: string, response: Readonly<Record<string, unknown>>, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db
      .executor(tx)("issuances")
      .where({ issuance_id: issuanceId, status: "pending" })
      .update({ status: "completed", response: jsonToParameter(response), completed_at: at }, ["issuance_id"]);
    return rows.length === 1;
  }

  async fail(issuanceId: string, at: Date, tx?: Tx): Promise<boolean> {
    const rows = await this.db.executor(tx)("issuances").where({ issuance_id: issuanceId, status: "pending" }).update({ status: "failed", completed_at: at }, ["issuance_id"]);
    return rows.length === 1;
  }

  private async completeIn(
    k: Knex,
    issuanceId: string,
    signed: ReadonlyArray<{ readonly serial: string; readonly der: Uint8Array }>,
    response: Readonly<Record<string, unknown>>,
    at: Date,
  ): Promise<IssuanceCompleted | undefined> {
    if (signed.length === 0) throw new CaError("internal", "an issuance completes with at least one certificate");
    const values = signed.map(() => "(?, ?::bytea)").join(", ");
    const bindings = [
      ...signed.flatMap((c) => [c.serial, bytesToParameter(c.der)]),
      jsonToParameter(response),
      at,
      issuanceId,
      at,
    ];
    const row = rowsOf(await k.raw(completionSql(values), bindings))[0];
    if (row === undefined) return undefined;
    if (Number(row.issued_count) !== signed.length) throw new CaError("conflict", "certificate is not awaiting its certificate");
    return { issuance: toIssuance(row), superseded: (row.superseded as unknown[]).map(String), links: linksOfColumn(row.links) };
  }
}

/**
 * Step (3) of an issuance as one statement (issue #3: one round trip instead of 2 per certificate, 2 per
 * superseded one and 3 re-reads). Every write hangs off `completed`, so nothing is written unless the
 * issuance was pending; data-modifying CTEs always run to completion, the outbox insert included.
 * Supersede (docs/domain.md §3) skips pending rows and this issuance's own, as revocation of valid/hold → revoked;
 * it takes the kinds issued on the device issued (migration 0026): a card issuance never supersedes a phone's
 * certificates nor a phone issuance the card's (what a card's revocation does to the phone's is a cascade of
 * its own, issue #16 item 1).
 * `linked` records the linkage graph (docs/linkage.md, ca/linkage/certificate-links.ts `linksOfIssuance`, the
 * same rule): per issued certificate a `successor` link from the resident's most recent earlier certificate
 * of its kind and device that was ever issued (has a DER: superseded, revoked or expired alike; read from
 * the statement's snapshot, so this statement's own supersede does not hide it), and `sign-auth` per pair.
 * "Most recent" is the head of the chain first (no successor link yet), then the newest: created_at is
 * truncated to the second, and two issuances of one resident within a second must still chain.
 * Cost: no extra round trip; per issued certificate one probe of certificates_resident_code_idx (a
 * resident's handful of rows, each with a probe of certificate_links_pkey) and one row in
 * certificate_links (three index entries). A link recorded
 * before is left alone (on conflict do nothing), though `completed` already writes nothing twice.
 * Bindings: (serial, der) × n, response, completed_at, issuance_id, revoked_at.
 */
function completionSql(signedValues: string): string {
  return `
    with signed (serial, der) as (values ${signedValues}),
    completed as (
      update issuances set status = 'completed', response = ?::jsonb, completed_at = ?
      where issuance_id = ? and status = 'pending'
      returning *
    ),
    issued as (
      update certificates c
      set der = s.der, status = case when c.status = 'pending' then 'valid' else c.status end, updated_at = now()
      from signed s, completed i
      where c.serial = s.serial and c.issuance_id = i.issuance_id and c.der is null and c.status in ('pending', 'revoked', 'hold')
      returning c.serial, c.ca_id, c.partition, c.kind, c.device, c.created_at
    ),
    superseded as (
      update certificates c
      set status = 'revoked', revocation_reason = 'superseded', revoked_at = ?, invalidity_date = null, updated_at = now()
      from completed i
      where c.resident_code = i.resident_code and c.issuance_id is distinct from i.issuance_id
        and c.status in ('valid', 'hold') and (c.kind, c.device) in (select kind, device from issued)
      returning c.serial, c.ca_id, c.partition, c.created_at
    ),
    outboxed as (
      insert into outbox (topic, payload)
      select topic, payload from (
        select 0 as part, null::timestamptz as created_at, serial, 'certificate.issued' as topic,
               jsonb_build_object('serial', serial, 'caId', ca_id, 'partition', partition) as payload
        from issued
        union all
        select 1, created_at, serial, 'certificate.revoked',
               jsonb_build_object('serial', serial, 'caId', ca_id, 'partition', partition, 'reason', 'superseded')
        from superseded
      ) m
      order by part, created_at, serial
    ),
    linked as (
      insert into certificate_links (from_serial, to_serial, link, resident_code, created_at)
      select p.serial, x.serial, 'successor', i.resident_code, i.completed_at
      from issued x cross join completed i
      cross join lateral (
        select c.serial from certificates c
        where c.resident_code = i.resident_code and c.kind = x.kind and c.device = x.device
          and c.issuance_id is distinct from i.issuance_id and c.der is not null and c.created_at <= x.created_at
        order by exists (select 1 from certificate_links l where l.from_serial = c.serial and l.link = 'successor'), c.created_at desc, c.serial desc
        limit 1
      ) p
      union all
      select s.serial, a.serial, 'sign-auth', i.resident_code, i.completed_at
      from issued s join issued a on s.kind = 'sign' and a.kind = 'auth' and s.device = a.device cross join completed i
      on conflict (from_serial, link, to_serial) do nothing
      returning from_serial, to_serial, link, resident_code, created_at
    )
    select i.*,
      (select count(*)::int from issued) as issued_count,
      (select coalesce(json_agg(serial order by created_at, serial), '[]'::json) from superseded) as superseded,
      (select coalesce(json_agg(json_build_object('fromSerial', from_serial, 'toSerial', to_serial, 'link', link)
         order by link desc, from_serial, to_serial), '[]'::json) from linked) as links
    from completed i`;
}

function issuanceRow(r: IssuanceRecord): Row {
  return {
    issuance_id: r.issuanceId,
    terminal_id: r.terminalId,
    idempotency_key: r.idempotencyKey,
    request_sha256: r.requestSha256,
    operator_id: r.operatorId,
    municipality_code: r.municipalityCode,
    application_date: r.applicationDate,
    resident_code: r.residentCode,
    status: r.status,
    response: r.response === null ? null : jsonToParameter(r.response),
    created_at: r.createdAt,
    completed_at: r.completedAt,
  };
}

function toIssuance(row: Row): IssuanceRecord {
  return {
    issuanceId: String(row.issuance_id),
    terminalId: String(row.terminal_id),
    idempotencyKey: String(row.idempotency_key),
    requestSha256: String(row.request_sha256),
    operatorId: String(row.operator_id),
    municipalityCode: String(row.municipality_code),
    applicationDate: String(row.application_date),
    residentCode: String(row.resident_code),
    status: String(row.status) as IssuanceStatus,
    response: row.response === null || row.response === undefined ? null : objectFromColumn(row.response),
    createdAt: dateFromColumn(row.created_at),
    completedAt: nullableDateFromColumn(row.completed_at),
  };
}

/** ResidentStore on PostgreSQL / PGlite (table residents, migration 0006). */
export class KnexResidentStore implements ResidentStore {
  constructor(private readonly db: Database) {}

  async getForUpdate(residentCode: string, tx?: Tx): Promise<ResidentRecord | undefined> {
    const q = this.db.executor(tx)("residents").where({ resident_code: residentCode });
    const row = (await (tx ? q.forUpdate() : q).first()) as Row | undefined;
    return row ? toResident(row) : undefined;
  }

  async insert(r: ResidentRecord, tx?: Tx): Promise<void> {
    await mapConstraintErrors("resident record", () => this.db.executor(tx)("residents").insert(residentRow(r)));
  }

  async lockOrInsert(candidate: ResidentRecord, tx?: Tx): Promise<{ readonly record: ResidentRecord; readonly inserted: boolean }> {
    const k = this.db.executor(tx);
    // One statement: the insert does nothing when the record exists, and the locking read returns it then.
    const rows = (await k
      .with("inserted", k("residents").insert(residentRow(candidate)).onConflict("resident_code").ignore().returning("*"))
      .with("on_file", k("residents").where({ resident_code: candidate.residentCode }).forUpdate())
      .select(k.raw("true as was_inserted"), "inserted.*")
      .from("inserted")
      .unionAll((q) => void q.select(k.raw("false"), "on_file.*").from("on_file"))) as Row[]; // void: knex ignores the callback's value
    const row = rows[0];
    if (row !== undefined) return { record: toResident(row), inserted: row.was_inserted === true };
    // Neither: a concurrent first insert committed after this statement's snapshot was taken (the insert
    // waited for it). A new statement sees it.
    const onFile = await this.getForUpdate(candidate.residentCode, tx);
    if (!onFile) throw new CaError("conflict", "the resident record changed concurrently; retry");
    return { record: onFile, inserted: false };
  }
}

function residentRow(r: ResidentRecord): Row {
  return {
    resident_code: r.residentCode,
    name: r.name,
    name_substitute_flags: r.nameSubstituteFlags,
    alias: r.alias,
    alias_substitute_flags: r.aliasSubstituteFlags,
    date_of_birth: r.dateOfBirth,
    gender: r.gender,
    address: r.address,
    address_substitute_flags: r.addressSubstituteFlags,
    created_at: r.updatedAt,
    updated_at: r.updatedAt,
  };
}

function toResident(row: Row): ResidentRecord {
  return {
    ...residentFieldsFromRow(row),
    ...(row.status === undefined || row.status === null ? {} : { status: String(row.status) as NonNullable<ResidentRecord["status"]> }),
    updatedAt: dateFromColumn(row.updated_at),
  };
}

/** The `links` column of completionSql: the links this completion recorded. */
function linksOfColumn(value: unknown): IssuanceCompleted["links"] {
  const list = (typeof value === "string" ? JSON.parse(value) : value) as Array<{ fromSerial: string; toSerial: string; link: LinkType }> | null;
  return (list ?? []).map((l) => ({ fromSerial: l.fromSerial, toSerial: l.toSerial, link: l.link }));
}
