import type { Migration } from "./migration.js";

/**
 * One card key, one live certificate (issue #3: "refuse a key already in another valid certificate"),
 * held by the database: the issuance checks first and answers 409, but two concurrent applications for
 * different residents with the same key lock different resident records and could both pass the check.
 * The index is partial: revoked, expired-and-failed rows keep their key for the record.
 */
export const livePublicKeyUniqueMigration: Migration = {
  name: "0015-live-public-key-unique",
  async up(knex) {
    await knex.raw(`create unique index ${LIVE_PUBLIC_KEY_INDEX} on certificates (public_key_sha256) where status in ('pending', 'valid', 'hold')`);
  },
  async down(knex) {
    await knex.raw(`drop index if exists ${LIVE_PUBLIC_KEY_INDEX}`);
  },
};

/** The index name, as constraint violations report it (db/database-errors.ts). */
export const LIVE_PUBLIC_KEY_INDEX = "certificates_live_public_key_uniq";
