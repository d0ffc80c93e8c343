/**
 * A national-size population straight into PostgreSQL (issue 13 item 1): residents, their issuance records
 * and certificates of both kinds, generated server-side with `generate_series` (no rows cross the wire:
 * pg-copy-streams is not installed, and server-side generation beats client-side COPY here anyway, since
 * the cost is index maintenance, not transfer).
 *
 * The database must already hold real CA generations (the key ceremony's, so OCSP and CRL can sign for
 * the seeded serials): the active generation of each kind gives the serial prefix, the partition count
 * and the ca_id. Seeding is incremental and deterministic: resident n always gets the same record,
 * dates, serials and fate, so `seedPopulation(…, { from: 100_000, residents: 900_000 })` grows a
 * 100k population into a 1M one, and a benchmark can re-derive any seeded serial (`seededSerial`).
 *
 * What is real (as the issuance path writes it): serial layout (generation prefix + 15 octets),
 * partition (partitionOf, checked on a sample by `checkSeededSample`), ca_id, kind, status, dates
 * (notAfter = the 5th birthday after issuance, 14:59:59Z, docs/domain.md §2; no card-expiry or
 * residence-period cap, no renewal extra birthday), revocation reasons and times, hold, supersede,
 * public_key_sha256 (unique per certificate), blocked_keys for keyCompromise, residents incl.
 * municipality_code, one issuance row per pair, the shape of `recorded`.
 * What is synthetic: der and tbs (random bytes of realistic size, no valid signature: no measured path
 * parses them), the stored issuance answer (`{"synthetic":true}`), names/addresses (a small vocabulary),
 * municipality codes (no check digit), no audit_log rows (the hash chain is not forged), no outbox rows.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import { partitionOf } from "../ca/issuance/serial.js";
import { computeValidity } from "../ca/issuance/validity.js";

/** The fixed "now" of a seeded population: issuance dates lie in the 5 years before it. */
export const SEED_NOW = "2026-12-01";

/** Residents' fates, per 10,000 (current pair); plus PREVIOUS_PAIR_PER_MILLE residents renewed once. */
export const FATES = Object.freeze({ affiliationChanged: 600, keyCompromise: 50, unspecified: 50, hold: 30 });
/** Residents (per 1,000) whose previous pair was superseded by the current one (reissue, renewal). */
export const PREVIOUS_PAIR_PER_MILLE = 80;

export interface SeedOptions {
  /** First resident number (0 for a fresh population; the previous total to grow one). */
  readonly from: number;
  /** Residents to add. */
  readonly residents: number;
  /** Residents per statement (default 50,000). */
  readonly batch?: number;
  /**
   * "replica": the certificates' triggers (migration 0019) are off for the seed (session_replication_role,
   * needs a superuser) and blocked_keys is written here; "fire": every inserted row runs them.
   */
  readonly triggers?: "replica" | "fire";
  /** Drop the secondary indexes of the seeded tables and rebuild them afterwards (default: with "replica"). */
  readonly rebuildIndexes?: boolean;
  /**
   * Residents' fates per 10,000 instead of FATES (e.g. bench/crl-scale.bench.ts: a heavily revoked
   * signing generation). Default FATES.
   */
  readonly fates?: Readonly<Record<keyof typeof FATES, number>>;
  /** Certificate kinds to seed (default both; residents and issuances are seeded for every resident). */
  readonly kinds?: readonly ("sign" | "auth")[];
  /** Seed only certificates (no residents, issuances rows): for benchmarks that read nothing else. Default false. */
  readonly certificatesOnly?: boolean;
  readonly log?: (line: string) => void;
}

export interface SeedResult {
  readonly residents: number;
  readonly certificates: number;
  readonly issuances: number;
  readonly blockedKeys: number;
  readonly seconds: number;
  /** Seconds spent rebuilding indexes (part of `seconds`). */
  readonly indexSeconds: number;
}

interface Generation {
  readonly id: string;
  readonly prefix: number;
  readonly partitions: number;
}

/** The active generation of each kind (the ceremony's). */
export async function activeGenerations(client: pg.Client): Promise<{ sign: Generation; auth: Generation }> {
  const { rows } = await client.query<{ id: string; kind: string; serial_prefix: number; partition_count: number }>(
    "select id, kind, serial_prefix, partition_count from ca_generations where status = 'active' order by generation desc",
  );
  const of = (kind: string): Generation => {
    const r = rows.find((g) => g.kind === kind);
    if (!r) throw new Error(`no active ${kind} CA generation: run the key ceremony on this database first`);
    return { id: r.id, prefix: r.serial_prefix, partitions: r.partition_count };
  };
  return { sign: of("sign"), auth: of("auth") };
}

/** The serial the seeder gives resident n's certificate (slot "c": current pair, "p": previous). */
export function seededSerial(prefix: number, kind: "sign" | "auth", slot: "c" | "p", n: number, md5: (s: string) => string): string {
  return prefix.toString(16).padStart(2, "0") + md5(`${slot}${kind}${n}`).slice(0, 30);
}

const bday = (y: string): string =>
  `make_date(${y}, p.mo, case when p.mo = 2 and p.dd = 29 and not ((${y}) % 4 = 0 and ((${y}) % 100 <> 0 or (${y}) % 400 = 0)) then 28 else p.dd end)`;

/** One row per resident n in [$1, $2): its record and the dates and fate of its pairs. */
function population(): string {
  const h = (salt: string, mod: number): string => `(('x' || substr(md5('${salt}' || n), 1, 8))::bit(32)::bigint % ${mod})`;
  const names1 = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川", "山下", "中島", "石井", "小川", "前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本"];
  const names2 = ["太郎", "花子", "一郎", "陽子", "健", "美咲", "翔太", "さくら", "大輔", "愛", "誠", "結衣", "拓也", "彩", "直樹", "恵", "亮", "舞", "浩", "真由美", "悠斗", "葵", "蓮", "陽菜", "湊", "凛", "大和", "結菜", "樹", "紬"];
  const prefs = ["東京都新宿区西新宿二丁目８番１号", "大阪府大阪市北区中之島一丁目３番２０号", "愛知県名古屋市中区三の丸三丁目１番１号", "北海道札幌市中央区北一条西二丁目", "福岡県福岡市中央区天神一丁目８番１号", "神奈川県横浜市中区本町六丁目５０番地の１０", "京都府京都市中京区寺町通御池上る上本能寺前町４８８番地", "宮城県仙台市青葉区国分町三丁目７番１号"];
  const arr = (xs: string[]): string => `array[${xs.map((x) => `'${x}'`).join(",")}]`;
  return `
    base as materialized (
      select n,
        lpad(n::text, 11, '0') as resident_code,
        date '${SEED_NOW}' - 1 - ${h("d", 1826)}::int - 1 - ${h("b", 29200)}::int as dob,
        (${arr(names1)})[1 + ${h("s", names1.length)}] || '　' || (${arr(names2)})[1 + ${h("g", names2.length)}] as name,
        1 + ${h("x", 2)} as gender,
        (${arr(prefs)})[1 + ${h("a", prefs.length)}] as address,
        (11000 + ${h("m", 1741)} * 20)::text || '0' as municipality_code,
        date '${SEED_NOW}' - 1 - ${h("d", 1826)}::int as d,
        ${h("p", 1000)} as prev_roll, 365 + ${h("q", 730)}::int as prev_gap,
        ${h("f", 10000)} as fate, ${h("r", 1000000)} as revoke_roll
      from generate_series($1::bigint, $2::bigint - 1) n
    ),
    p as (select *, extract(month from dob)::int as mo, extract(day from dob)::int as dd from base),
    q as (
      select p.*,
        case when ${bday("extract(year from p.d)::int")} > p.d then extract(year from p.d)::int else extract(year from p.d)::int + 1 end as y1,
        p.d - p.prev_gap as pd,
        p.prev_roll < ${PREVIOUS_PAIR_PER_MILLE} and p.d - p.prev_gap > p.dob as has_prev,
        extract(year from age(p.d, p.dob))::int as age_at_d
      from p
    ),
    r as (
      select q.*,
        (${bday("q.y1 + 4").replaceAll("p.", "q.")} + time '14:59:59') at time zone 'UTC' as not_after,
        case when ${bday("extract(year from q.pd)::int").replaceAll("p.", "q.")} > q.pd then extract(year from q.pd)::int else extract(year from q.pd)::int + 1 end as py1,
        extract(year from age(q.pd, q.dob))::int as age_at_pd
      from q
    ),
    pop as materialized (
      select r.*,
        (r.d + time '01:00:00') at time zone 'UTC' as issued_at,
        (r.pd + time '01:00:00') at time zone 'UTC' as prev_issued_at,
        (${bday("r.py1 + 4").replaceAll("p.", "r.")} + time '14:59:59') at time zone 'UTC' as prev_not_after
      from r
    )`;
}

/** Certificates of the population: up to 4 per resident (current pair, previous pair). */
function certificatesSql(g: { sign: Generation; auth: Generation }, f: Readonly<Record<keyof typeof FATES, number>> = FATES, kinds: readonly string[] = ["sign", "auth"]): string {
  const FATES = f; // the defaults give the same statement as before the option existed
  const fates = `case
      when pop.fate < ${FATES.affiliationChanged} then 'affiliationChanged'
      when pop.fate < ${FATES.affiliationChanged + FATES.keyCompromise} then 'keyCompromise'
      when pop.fate < ${FATES.affiliationChanged + FATES.keyCompromise + FATES.unspecified} then 'unspecified'
      when pop.fate < ${FATES.affiliationChanged + FATES.keyCompromise + FATES.unspecified + FATES.hold} then 'certificateHold'
    end`;
  return `with ${population()},
    slots as (
      select pop.*, k.kind, s.slot,
        case when s.slot = 'c' then pop.issued_at else pop.prev_issued_at end as nb,
        case when s.slot = 'c' then pop.not_after else pop.prev_not_after end as na,
        case when s.slot = 'p' then 'superseded'
             when k.kind = 'auth' and ${fates} = 'affiliationChanged' then null
             else ${fates} end as reason
      from pop
      cross join (values ${kinds.map((k) => `('${k}')`).join(", ")}) k(kind)
      cross join (values ('c'), ('p')) s(slot)
      where (s.slot = 'c' or pop.has_prev)
        and (k.kind = 'auth' or (case when s.slot = 'c' then pop.age_at_d else pop.age_at_pd end) >= 15)
    ),
    certs as materialized (
      select slots.*,
        case kind when 'sign' then '${g.sign.id}' else '${g.auth.id}' end as ca_id,
        case kind when 'sign' then ${g.sign.partitions} else ${g.auth.partitions} end as partitions,
        lpad(to_hex(case kind when 'sign' then ${g.sign.prefix} else ${g.auth.prefix} end), 2, '0') || substr(md5(slot || kind || n), 1, 30) as serial,
        case when reason = 'superseded' then issued_at
             when reason is not null then nb + make_interval(secs => (revoke_roll::float8 / 1000000) * extract(epoch from (least(na, timestamptz '${SEED_NOW}T00:00:00Z') - nb)))
        end as revoked_at
      from slots
    )
    , inserted as (
    insert into certificates (serial, ca_id, kind, status, not_before, not_after, partition, der, tbs, public_key_sha256, subject_id,
      resident_code, issuance_id, recorded, revoked_at, revocation_reason, invalidity_date, created_at, updated_at)
    select serial, ca_id, kind,
      case when reason is null then 'valid' when reason = 'certificateHold' then 'hold' else 'revoked' end,
      nb, na,
      (((('x' || substr(encode(sha256(decode(serial, 'hex')), 'hex'), 1, 16))::bit(64)::bigint)::numeric
        + case when ('x' || substr(encode(sha256(decode(serial, 'hex')), 'hex'), 1, 16))::bit(64)::bigint < 0 then 18446744073709551616 else 0 end) % partitions)::int,
      -- synthetic DER: the TBS below + a 256-octet "signature"
      tbs || sha512(convert_to(serial || 's1', 'UTF8')) || sha512(convert_to(serial || 's2', 'UTF8')) || sha512(convert_to(serial || 's3', 'UTF8')) || sha512(convert_to(serial || 's4', 'UTF8')),
      tbs,
      encode(sha256(convert_to('key' || serial, 'UTF8')), 'hex'),
      'S' || substr(md5('subject' || serial), 1, 24),
      resident_code, 'iss-' || slot || n, recorded, revoked_at, reason, null, nb, coalesce(revoked_at, nb)
    from (
      select certs.*,
        -- synthetic TBS: a compressible template (names, extensions) + a 256-octet "public key"; signing certificates carry the subjectAltName
        decode(repeat('3082', case kind when 'sign' then 160 else 90 end), 'hex')
          || sha512(convert_to(serial || 'k1', 'UTF8')) || sha512(convert_to(serial || 'k2', 'UTF8')) || sha512(convert_to(serial || 'k3', 'UTF8')) || sha512(convert_to(serial || 'k4', 'UTF8'))
          || case kind when 'sign' then convert_to(name || address, 'UTF8') else '\\x'::bytea end as tbs,
        jsonb_build_object(
          'answer', jsonb_build_object('subject', jsonb_build_object('name', name)),
          'resident', jsonb_build_object('residentCode', resident_code, 'name', name, 'nameSubstituteFlags', '00000', 'alias', null, 'dateOfBirth', dob::text, 'gender', gender, 'address', address, 'addressSubstituteFlags', repeat('0', char_length(address))),
          'municipalityCode', municipality_code, 'applicationDate', (nb at time zone 'Asia/Tokyo')::date::text, 'terminalId', 'T' || municipality_code,
          'operatorId', 'op-' || municipality_code, 'issuanceId', 'iss-' || slot || n, 'cappedBy', 'birthday', 'renewal', false) as recorded
      from certs
    ) c
    returning serial, status, revocation_reason, public_key_sha256, revoked_at)
    -- What migration 0019's trigger writes (a no-op when the trigger fired: same key, on conflict do nothing).
    insert into blocked_keys (key_sha256, added_at, source, serial, reason)
    select public_key_sha256, revoked_at, 'revocation', serial, 'keyCompromise' from inserted
    where status = 'revoked' and revocation_reason = 'keyCompromise'
    on conflict (key_sha256) do nothing`;
}

function residentsSql(): string {
  return `with ${population()}
    insert into residents (resident_code, name, name_substitute_flags, alias, alias_substitute_flags, date_of_birth, gender, address,
      address_substitute_flags, created_at, updated_at, status, field_versions, municipality_code)
    select resident_code, name, '00000', null, null, dob::text, gender, address, repeat('0', char_length(address)),
      case when has_prev then prev_issued_at else issued_at end, issued_at, 'registered', '{}', municipality_code
    from pop`;
}

function issuancesSql(): string {
  return `with ${population()}
    insert into issuances (issuance_id, terminal_id, idempotency_key, request_sha256, operator_id, municipality_code, application_date,
      resident_code, status, response, created_at, completed_at)
    select 'iss-' || s.slot || n, 'T' || municipality_code, md5('idem' || s.slot || n), encode(sha256(convert_to('req' || s.slot || n, 'UTF8')), 'hex'),
      'op-' || municipality_code, municipality_code, case s.slot when 'c' then d else pd end::text, resident_code, 'completed', '{"synthetic":true}',
      case s.slot when 'c' then issued_at else prev_issued_at end, case s.slot when 'c' then issued_at else prev_issued_at end
    from pop cross join (values ('c'), ('p')) s(slot)
    where s.slot = 'c' or has_prev`;
}

const SEEDED_TABLES = ["certificates", "residents", "issuances"] as const;

/** The secondary indexes (not backing a constraint) of the seeded tables, as `create index` statements. */
async function secondaryIndexes(client: pg.Client): Promise<Array<{ name: string; def: string }>> {
  const { rows } = await client.query<{ name: string; def: string }>(
    `select i.indexname as name, i.indexdef as def from pg_indexes i
     where i.schemaname = current_schema() and i.tablename = any($1)
       and not exists (select 1 from pg_constraint c where c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`,
    [[...SEEDED_TABLES]],
  );
  return rows;
}

/** Adds `residents` residents from number `from` on (see the file comment for what is real). */
export async function seedPopulation(client: pg.Client, options: SeedOptions): Promise<SeedResult> {
  const log = options.log ?? (() => undefined);
  const batch = options.batch ?? 50_000;
  const triggers = options.triggers ?? "replica";
  const g = await activeGenerations(client);
  const started = performance.now();
  const count = async (table: string): Promise<number> => Number((await client.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]?.n);
  const before = { certificates: await count("certificates"), issuances: await count("issuances"), blocked: await count("blocked_keys") };
  // With the triggers on, each row looks its key up (migration 0019): the key index must stay.
  const dropped = (options.rebuildIndexes ?? triggers === "replica") ? await secondaryIndexes(client) : [];
  let indexSeconds = 0;
  for (const ix of dropped) await client.query(`drop index ${ix.name}`);
  try {
    const end = options.from + options.residents;
    for (let lo = options.from; lo < end; lo += batch) {
      const hi = Math.min(end, lo + batch);
      await client.query("begin");
      // JIT compiles these expression-heavy statements anew each time: ~0.8 s per statement for nothing.
      await client.query("set local jit = off");
      if (triggers === "replica") await client.query("set local session_replication_role = replica");
      if (!options.certificatesOnly) {
        await client.query(residentsSql(), [lo, hi]);
        await client.query(issuancesSql(), [lo, hi]);
      }
      await client.query(certificatesSql(g, options.fates, options.kinds), [lo, hi]);
      await client.query("commit");
      log(`  seeded residents ${lo.toLocaleString("en-US")}–${(hi - 1).toLocaleString("en-US")} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  } catch (e) {
    await client.query("rollback").catch(() => undefined);
    throw e;
  } finally {
    const t = performance.now();
    for (const ix of dropped) await client.query(ix.def);
    indexSeconds = (performance.now() - t) / 1000;
    if (dropped.length > 0) log(`  rebuilt ${dropped.length} indexes in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  }
  await client.query(`analyze ${SEEDED_TABLES.join(", ")}, blocked_keys`);
  // Nothing seeded may replay: every outbox consumer (and the known ones) starts after the last row.
  await client.query(
    `insert into outbox_cursors (consumer, last_id, updated_at)
     select distinct c, coalesce((select max(id) from outbox), 0), now() from unnest(array['crl', 'ocsp']::text[] || array(select consumer from outbox_cursors)) c
     on conflict (consumer) do update set last_id = greatest(outbox_cursors.last_id, excluded.last_id), updated_at = now()`,
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    residents: options.residents,
    certificates: (await count("certificates")) - before.certificates,
    issuances: (await count("issuances")) - before.issuances,
    blockedKeys: (await count("blocked_keys")) - before.blocked,
    seconds,
    indexSeconds,
  };
}

const md5 = (s: string): string => createHash("md5").update(s).digest("hex");

/**
 * Checks `sample` random seeded certificates against the issuance path's own functions: the partition
 * (partitionOf), the serial (seededSerial) and notAfter (computeValidity with no card-expiry,
 * residence-period or renewal cap). Returns the mismatches (empty when the seed is what issuance writes).
 */
export async function checkSeededSample(client: pg.Client, sample = 1000): Promise<string[]> {
  const g = await activeGenerations(client);
  const { rows } = await client.query<{ serial: string; kind: "sign" | "auth"; partition: number; not_before: Date; not_after: Date; issuance_id: string; resident_code: string; date_of_birth: string }>(
    `select c.serial, c.kind, c.partition, c.not_before, c.not_after, c.issuance_id, c.resident_code, r.date_of_birth
     from certificates c join residents r using (resident_code) where c.issuance_id like 'iss-%' order by random() limit $1`,
    [sample],
  );
  const problems: string[] = [];
  for (const r of rows) {
    const gen = r.kind === "sign" ? g.sign : g.auth;
    const slot = r.issuance_id.slice(4, 5) as "c" | "p";
    const n = Number(r.issuance_id.slice(5));
    if (seededSerial(gen.prefix, r.kind, slot, n, md5) !== r.serial) problems.push(`${r.serial}: serial is not seededSerial(${n})`);
    if (partitionOf(r.serial, gen.partitions) !== r.partition) problems.push(`${r.serial}: partition ${r.partition} ≠ partitionOf ${partitionOf(r.serial, gen.partitions)}`);
    const v = computeValidity({
      kind: r.kind, issuedAt: r.not_before, dateOfBirth: r.date_of_birth, cardExpiry: "2099-12-31", residencePeriodEnd: null,
      underGuardianship: false, previousCertificateNotAfter: null, userAuthNotAfter: null,
    });
    if (v.notAfter.getTime() !== r.not_after.getTime()) problems.push(`${r.serial}: notAfter ${r.not_after.toISOString()} ≠ computeValidity ${v.notAfter.toISOString()}`);
  }
  return problems;
}
