import type { Migration } from "./migration.js";

/**
 * One row per service process, rewritten by its readiness probe (db/node-heartbeat-store.ts): `/readyz`
 * proves that the database still commits a write (issue 14 item 3: a full disk left a read-only probe
 * at 200 while every issuance failed). `node` is host and process id, no personal data; rows of
 * processes gone for a day are deleted by the next beat of any node.
 */
export const nodeHeartbeatsMigration: Migration = {
  name: "0024-node-heartbeats",
  async up(knex) {
    await knex.raw("create table node_heartbeats (node text primary key, beat_at timestamptz not null default now(), beats bigint not null default 1)");
  },
  async down(knex) {
    await knex.raw("drop table node_heartbeats");
  },
};
