import type { Migration } from "./migration.js";

/**
 * The certificate linkage graph (issue #16 item 2, docs/linkage.md):
 *
 * - `certificates.device`: the device the certificate's key lives in, `card` (the My Number Card, every
 *   certificate so far) or `phone` (the smartphone's secure element, docs/domain.md). Existing rows are
 *   card certificates: the default fills them without a rewrite of the table.
 * - `certificate_links`: one row per edge, written in the issuance transaction (never reconstructed later):
 *   `successor` (older → newer certificate of the same kind and device of one resident), `card-phone`
 *   (card certificate → phone certificate of the same kind) and `sign-auth` (signing → user-auth
 *   certificate of one issuance). The primary key (from_serial, link, to_serial) answers "what follows
 *   this serial" and makes a replayed write a no-op; `certificate_links_to_idx` answers "what leads to it".
 *   No foreign keys: a link row must never hold up the retention of a certificate row (docs/linkage.md).
 */
export const certificateLinksMigration: Migration = {
  name: "0026-certificate-links",
  async up(knex) {
    await knex.raw("alter table certificates add column device text not null default 'card'");
    await knex.raw("alter table certificates add constraint certificates_device_check check (device in ('card', 'phone'))");
    await knex.schema.createTable("certificate_links", (t) => {
      t.text("from_serial").notNullable();
      t.text("to_serial").notNullable();
      t.text("link").notNullable().checkIn(["successor", "card-phone", "sign-auth"], "certificate_links_link_check");
      t.text("resident_code").nullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.primary(["from_serial", "link", "to_serial"], { constraintName: "certificate_links_pkey" });
      t.index(["to_serial", "link"], "certificate_links_to_idx");
      t.index(["resident_code"], "certificate_links_resident_idx"); // ofResident: inquiry, disclosure
    });
  },
  async down(knex) {
    await knex.schema.dropTableIfExists("certificate_links");
    await knex.raw("alter table certificates drop constraint if exists certificates_device_check");
    await knex.raw("alter table certificates drop column if exists device");
  },
};
