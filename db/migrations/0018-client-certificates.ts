import type { Migration } from "./migration.js";

/**
 * Issue 12 item 2 and 4:
 *
 * - `client_certificates`: the register of admin-workstation and resident-feed client certificates of
 *   the service CA (terminals have their own table, relying parties theirs). A certificate of the
 *   service CA is only honoured when its fingerprint is the one registered, active, for its kind and id
 *   (the service CA publishes no CRL: the register is how a certificate is revoked).
 * - `login_attempts`: fixed-window counters of login attempts per client certificate and per source
 *   address, shared by every API node (the limit holds for the cluster, not per process). Old windows
 *   are deleted by the throttle itself.
 */
export const clientCertificatesMigration: Migration = {
  name: "0018-client-certificates",
  async up(knex) {
    await knex.schema.createTable("client_certificates", (t) => {
      t.text("kind").notNullable(); // admin | feed
      t.text("client_id").notNullable(); // the certificate's CN
      t.text("client_cert_serial").notNullable().unique();
      t.text("client_cert_fingerprint").notNullable().unique();
      t.text("status").notNullable(); // active | revoked
      t.text("description").nullable();
      t.timestamp("enrolled_at", { useTz: true }).notNullable();
      t.timestamp("revoked_at", { useTz: true }).nullable();
      t.primary(["kind", "client_id"]);
    });
    await knex.raw("ALTER TABLE client_certificates ADD CONSTRAINT client_certificates_kind_check CHECK (kind IN ('admin', 'feed'))");
    await knex.raw("ALTER TABLE client_certificates ADD CONSTRAINT client_certificates_status_check CHECK (status IN ('active', 'revoked'))");
    await knex.schema.createTable("login_attempts", (t) => {
      t.text("key").notNullable(); // "certificate:<fingerprint>" | "source:<address>"
      t.timestamp("window_start", { useTz: true }).notNullable();
      t.integer("attempts").notNullable();
      t.primary(["key", "window_start"]);
      t.index(["window_start"], "login_attempts_window_idx");
    });
  },
  async down(knex) {
    await knex.schema.dropTable("login_attempts");
    await knex.schema.dropTable("client_certificates");
  },
};
