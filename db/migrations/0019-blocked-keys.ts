import type { Migration } from "./migration.js";

/**
 * Keys never certified twice where they must not be (issue #12 item 5), held by the database so that no
 * write path can skip it (the revocation service, mass revocation, resident events, the CLI, a future one):
 *
 * - `blocked_keys` (Let's Encrypt Boulder's blockedKeys): the SHA-256 of the DER SubjectPublicKeyInfo
 *   (the same hash as certificates.public_key_sha256) of every key whose certificate was revoked for
 *   keyCompromise, for ever, for both kinds and every CA generation. A trigger writes it in the same
 *   statement, hence the same transaction, as the revocation (docs/design.md invariant 3); existing revocations
 *   are backfilled here.
 * - A trigger refuses a new certificate row whose key is blocked, or is in a revoked certificate of either
 *   kind (a card makes a new key pair for every application, docs/domain.md §1; docs/issuance.md "Key reuse").
 *   A key in a live certificate of either kind is refused by certificates_live_public_key_uniq (0015), so
 *   the store keeps answering PUBLIC_KEY_IN_USE for it; failed rows (never signed) do not count.
 *
 * The refusals are raised as check_violation with a constraint name of their own and the key hash as
 * DETAIL (never personal data), mapped to typed errors in db/database-errors.ts.
 */
export const blockedKeysMigration: Migration = {
  name: "0019-blocked-keys",
  async up(knex) {
    await knex.schema.createTable("blocked_keys", (t) => {
      t.text("key_sha256").primary(); // hex SHA-256 of the SPKI DER, as certificates.public_key_sha256
      t.timestamp("added_at", { useTz: true }).notNullable();
      t.text("source").notNullable().checkIn(["revocation", "backfill"], "blocked_keys_source_check");
      t.text("serial").nullable(); // the certificate whose revocation blocked the key
      t.text("reason").notNullable().checkIn(["keyCompromise"], "blocked_keys_reason_check");
    });
    await knex.raw(`
      insert into blocked_keys (key_sha256, added_at, source, serial, reason)
      select distinct on (public_key_sha256) public_key_sha256, coalesce(revoked_at, updated_at), 'backfill', serial, 'keyCompromise'
      from certificates
      where status = 'revoked' and revocation_reason = 'keyCompromise'
      order by public_key_sha256, revoked_at nulls last, serial`);
    await knex.raw(`
      create function certificates_block_compromised_key() returns trigger language plpgsql as $$
      begin
        insert into blocked_keys (key_sha256, added_at, source, serial, reason)
        values (new.public_key_sha256, coalesce(new.revoked_at, now()), 'revocation', new.serial, 'keyCompromise')
        on conflict (key_sha256) do nothing;
        return null;
      end
      $$`);
    await knex.raw(`create trigger certificates_block_compromised_key after insert or update on certificates
      for each row when (new.status = 'revoked' and new.revocation_reason = 'keyCompromise')
      execute function certificates_block_compromised_key()`);
    await knex.raw(`
      create function certificates_refuse_used_key() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from blocked_keys where key_sha256 = new.public_key_sha256) then
          raise exception 'public key blocked' using errcode = 'check_violation',
            constraint = '${BLOCKED_KEY_CONSTRAINT}', detail = new.public_key_sha256;
        end if;
        if exists (select 1 from certificates where public_key_sha256 = new.public_key_sha256 and status = 'revoked') then
          raise exception 'public key certified before' using errcode = 'check_violation',
            constraint = '${CERTIFIED_KEY_CONSTRAINT}', detail = new.public_key_sha256;
        end if;
        return new;
      end
      $$`);
    await knex.raw(`create trigger certificates_refuse_used_key before insert on certificates
      for each row execute function certificates_refuse_used_key()`);
  },
  async down(knex) {
    await knex.raw("drop trigger if exists certificates_refuse_used_key on certificates");
    await knex.raw("drop trigger if exists certificates_block_compromised_key on certificates");
    await knex.raw("drop function if exists certificates_refuse_used_key()");
    await knex.raw("drop function if exists certificates_block_compromised_key()");
    await knex.schema.dropTableIfExists("blocked_keys");
  },
};

/** The constraint name a blocked key's refusal reports (db/database-errors.ts). */
export const BLOCKED_KEY_CONSTRAINT = "certificates_public_key_blocked";
/** The constraint name a refusal of a key in a revoked certificate reports (db/database-errors.ts). */
export const CERTIFIED_KEY_CONSTRAINT = "certificates_public_key_certified_before";
