import type { Knex } from "knex";
import type { Database } from "./database.js";
import { migrations, type Migration } from "./migrations/index.js";

/**
 * Schema migrations through knex's migrator with an inline source (TypeScript modules listed in
 * db/migrations/index.ts, no directory scanning), the same set for PostgreSQL and PGlite.
 * knex's lock table (knex_migrations_lock) keeps two processes from migrating at once.
 */

const TABLE = "knex_migrations";

/** knex MigrationSource over the ordered list. */
export function migrationSource(list: readonly Migration[] = migrations): Knex.MigrationSource<Migration> {
  return {
    getMigrations: async () => [...list],
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({ up: (k: Knex) => m.up(k), down: (k: Knex) => m.down(k) }),
  };
}

function config(list: readonly Migration[]): Knex.MigratorConfig {
  return { migrationSource: migrationSource(list), tableName: TABLE };
}

/** Applies pending migrations; returns the names applied now (empty when up to date). */
export async function migrateLatest(db: Database, list: readonly Migration[] = migrations): Promise<string[]> {
  const [, applied] = (await db.knex.migrate.latest(config(list))) as [number, string[]];
  return applied;
}

/** Names of applied and pending migrations. */
export async function migrationStatus(
  db: Database,
  list: readonly Migration[] = migrations,
): Promise<{ applied: string[]; pending: string[] }> {
  const [completed, pending] = (await db.knex.migrate.list(config(list))) as [Array<{ name: string }>, Migration[]];
  return { applied: completed.map((c) => c.name), pending: pending.map((m) => m.name) };
}

/** Rolls back every migration (tests and `down` checks only: drops all tables). */
export async function migrateRollbackAll(db: Database, list: readonly Migration[] = migrations): Promise<string[]> {
  const [, rolledBack] = (await db.knex.migrate.rollback(config(list), true)) as [number, string[]];
  return rolledBack;
}
