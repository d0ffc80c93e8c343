import type { Migration } from "./migration.js";

/**
 * Holder-signed requests acted on (ca/holder/holder-request-log.ts, docs/phone.md): the digest of what the
 * holder's card key signed, recorded once in the transaction of the action, so a replay is refused.
 * `serial` is the signer's card certificate (no personal data); `purpose` what was signed for; `outcome`
 * what the action made, where a retry is answered from it (a phone application: its serials and answer).
 */
export const holderRequestsMigration: Migration = {
  name: "0027-holder-requests",
  async up(knex) {
    await knex.raw(
      "create table holder_requests (digest text primary key, purpose text not null, serial text not null, created_at timestamptz not null, outcome jsonb null)",
    );
    await knex.raw("create index holder_requests_serial on holder_requests (serial)");
    // The holder portal (マイナポータル role) is enrolled in the client register like a feed.
    await knex.raw("alter table client_certificates drop constraint client_certificates_kind_check");
    await knex.raw("alter table client_certificates add constraint client_certificates_kind_check check (kind in ('admin', 'feed', 'holder-portal'))");
  },
  async down(knex) {
    await knex.raw("delete from client_certificates where kind = 'holder-portal'");
    await knex.raw("alter table client_certificates drop constraint client_certificates_kind_check");
    await knex.raw("alter table client_certificates add constraint client_certificates_kind_check check (kind in ('admin', 'feed'))");
    await knex.raw("drop table holder_requests");
  },
};
