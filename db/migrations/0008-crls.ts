import type { Migration } from "./migration.js";

/**
 * Partition CRLs (docs/domain.md §4, issue 6).
 *
 * - `crl_partitions`: one row per (CA generation, partition): the CRL number counter shared by full
 *   and delta CRLs (RFC 5280 §5.2.3, strictly increasing across restarts and nodes because it is
 *   incremented here), the change mark set from the outbox, and the lease that lets one worker at a
 *   time build the partition.
 * - `crls`: the current full and delta CRL of each partition, replaced in one transaction when a new
 *   one is complete (readers never see a half-written CRL).
 * - two partial indexes on certificates for the CRL reads: revoked entries of a partition in serial
 *   order (keyset paging) and those changed since a time (delta CRLs).
 */
export const crlsMigration: Migration = {
  name: "0008-crls",
  async up(knex) {
    await knex.schema.createTable("crl_partitions", (t) => {
      t.text("ca_id").notNullable().references("id").inTable("ca_generations").withKeyName("crl_partitions_ca_id_fkey");
      t.integer("partition").notNullable();
      t.bigInteger("last_number").notNullable().defaultTo(0);
      t.timestamp("changed_at", { useTz: true }).nullable();
      t.text("lease_owner").nullable();
      t.text("lease_token").nullable();
      t.timestamp("lease_expires_at", { useTz: true }).nullable();
      t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.primary(["ca_id", "partition"], { constraintName: "crl_partitions_pkey" });
    });
    await knex.raw("alter table crl_partitions add constraint crl_partitions_partition_check check (partition >= 0)");
    await knex.raw("alter table crl_partitions add constraint crl_partitions_last_number_check check (last_number >= 0)");
    await knex.raw(
      "alter table crl_partitions add constraint crl_partitions_lease_check check ((lease_token is null) = (lease_expires_at is null))",
    );

    await knex.schema.createTable("crls", (t) => {
      t.text("ca_id").notNullable();
      t.integer("partition").notNullable();
      t.text("kind").notNullable().checkIn(["full", "delta"], "crls_kind_check");
      t.bigInteger("crl_number").notNullable();
      t.bigInteger("base_number").nullable();
      t.timestamp("this_update", { useTz: true }).notNullable();
      t.timestamp("next_update", { useTz: true }).notNullable();
      t.timestamp("as_of", { useTz: true }).notNullable();
      t.integer("entries").notNullable();
      t.text("etag").notNullable();
      t.integer("size").notNullable();
      t.binary("der").notNullable();
      t.timestamp("published_at", { useTz: true }).notNullable().defaultTo(knex.fn.now());
      t.primary(["ca_id", "partition", "kind"], { constraintName: "crls_pkey" });
      t.foreign(["ca_id", "partition"], "crls_partition_fkey").references(["ca_id", "partition"]).inTable("crl_partitions");
    });
    // RFC 5280 §5.2.4: a delta names its base, which has a smaller number; a full CRL has none.
    await knex.raw(
      "alter table crls add constraint crls_base_check check ((kind = 'delta') = (base_number is not null) and (base_number is null or base_number < crl_number))",
    );
    await knex.raw("alter table crls add constraint crls_update_check check (this_update < next_update)");
    // A CRL is mostly random serials: skip TOAST compression (CPU for little gain), keep out-of-line storage.
    await knex.raw("alter table crls alter column der set storage external");

    await knex.raw(
      "create index certificates_crl_entries_idx on certificates (ca_id, partition, serial) where status in ('revoked', 'hold')",
    );
    await knex.raw(
      "create index certificates_crl_changes_idx on certificates (ca_id, partition, updated_at) where status in ('revoked', 'hold')",
    );
  },
  async down(knex) {
    await knex.raw("drop index if exists certificates_crl_changes_idx");
    await knex.raw("drop index if exists certificates_crl_entries_idx");
    await knex.schema.dropTable("crls");
    await knex.schema.dropTable("crl_partitions");
  },
};
