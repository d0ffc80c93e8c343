import type { Knex } from "knex";

/**
 * One schema migration. Migrations run in order, each in its own transaction, on PostgreSQL and
 * PGlite alike: write portable PostgreSQL (no extensions). `name` is recorded in `knex_migrations`
 * and must never change once released.
 */
export interface Migration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}
