import type { Migration } from "./migration.js";

/**
 * End-entity certificates, reserved as `pending` before signing (docs/design.md invariant 1: no signature
 * without a record; the primary key on serial is the reservation).
 */
export const certificatesMigration: Migration = {
  name: "0002-certificates",
  async up(knex) {
    await knex.schema.createTable("certificates", (t) => {
      // docs/api.md §0: lower-case hex without separators; ≤ 20 octets (RFC 5280 §4.1.2.2).
      t.text("serial").primary();
      t.text("ca_id").notNullable().references("id").inTable("ca_generations").withKeyName("certificates_ca_id_fkey");
      t.text("kind").notNullable().checkIn(["sign", "auth"], "certificates_kind_check");
      t.text("status").notNullable()
        .checkIn(["pending", "valid", "revoked", "hold", "failed"], "certificates_status_check");
      t.timestamp("not_before", { useTz: true }).notNullable();
      t.timestamp("not_after", { useTz: true }).notNullable();
      t.integer("partition").notNullable();
      t.binary("der").nullable();
      t.binary("tbs").nullable();
      t.text("public_key_sha256").notNullable();
      t.text("subject_id").notNullable();
      t.text("resident_code").nullable();
      t.text("issuance_id").nullable();
      t.jsonb("recorded").notNullable();
      t.timestamp("revoked_at", { useTz: true }).nullable();
      t.text("revocation_reason").nullable().checkIn(
        ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold"],
        "certificates_revocation_reason_check",
      );
      t.timestamp("invalidity_date", { useTz: true }).nullable();
      t.timestamp("created_at", { useTz: true }).notNullable();
      t.timestamp("updated_at", { useTz: true }).notNullable();
      t.index(["resident_code"], "certificates_resident_code_idx");
      t.index(["public_key_sha256"], "certificates_public_key_sha256_idx"); // refuse key re-use
      t.index(["status", "created_at"], "certificates_status_created_at_idx"); // reconciler: old pending rows
      t.index(["ca_id", "partition", "status"], "certificates_ca_partition_status_idx"); // partition CRLs
    });
    await knex.raw(
      `alter table certificates add constraint certificates_serial_check check (serial ~ '^[0-9a-f]{1,40}$')`,
    );
  },
  async down(knex) {
    await knex.schema.dropTable("certificates");
  },
};
