import { randomBytes } from "node:crypto";
import knexModule from "knex";

const knex = knexModule as unknown as typeof import("knex").knex;
import { KnexAuditStore } from "../../db/audit-store.js";
import { KnexCaGenerationStore } from "../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../db/certificate-store.js";
import { KnexCertificateLinkStore } from "../../db/certificate-link-store.js";
import { openDatabase, type Database } from "../../db/database.js";
import { migrateLatest } from "../../db/migrate.js";

/**
 * Throwaway databases for integration tests.
 * - "pglite": an in-memory PGlite (or `dataDir`, keep it under ./var/test/).
 * - "postgres": a fresh database `ca_test_<random>` on the server of DATABASE_URL, dropped on close.
 *   `npm test` starts a throwaway server with scripts/services.sh when DATABASE_URL is not given.
 */
export type TestEngine = "pglite" | "postgres";

export interface TestDatabase {
  readonly db: Database;
  /** The connection URL of the fresh PostgreSQL database (postgres only): for a second pool, another process… */
  readonly url: string | undefined;
  /** Closes the database and, for postgres, drops it. */
  close(): Promise<void>;
}

export interface OpenTestDatabaseOptions {
  /** Apply all migrations (default true). */
  readonly migrate?: boolean;
  /** PGlite only: data directory (default "memory://"). */
  readonly dataDir?: string;
}

/** Opens a fresh, migrated test database. For postgres, call requirePostgresUrl first (skips or fails). */
export async function openTestDatabase(engine: TestEngine, opts: OpenTestDatabaseOptions = {}): Promise<TestDatabase> {
  if (engine === "pglite") {
    const db = await openDatabase({ dataDir: opts.dataDir ?? "memory://" });
    if (opts.migrate ?? true) await migrateLatest(db);
    return { db, url: undefined, close: () => db.close() };
  }
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error("DATABASE_URL is not set: run `bash scripts/services.sh start` and source var/test/services.env");
  const name = `ca_test_${randomBytes(6).toString("hex")}`;
  await withAdmin(serverUrl, (admin) => admin.raw(`create database "${name}"`));
  const url = withDatabase(serverUrl, name);
  let db: Database;
  try {
    db = await openDatabase({ url, poolMax: 10 });
    if (opts.migrate ?? true) await migrateLatest(db);
  } catch (err) {
    await withAdmin(serverUrl, (admin) => admin.raw(`drop database if exists "${name}" with (force)`));
    throw err;
  }
  return {
    db,
    url,
    close: async () => {
      await db.close();
      await withAdmin(serverUrl, (admin) => admin.raw(`drop database if exists "${name}" with (force)`));
    },
  };
}

/**
 * Mocha `before` guard for PostgreSQL suites: returns DATABASE_URL; without it, fails when CI=true
 * (tests must be able to fail in CI) and otherwise skips with a visible message.
 */
export function requirePostgresUrl(ctx: Mocha.Context): string {
  const url = process.env.DATABASE_URL;
  if (url) return url;
  const hint = "DATABASE_URL is not set (npm test starts one with scripts/services.sh)";
  if (process.env.CI === "true") throw new Error(`${hint}: PostgreSQL tests cannot be skipped in CI`);
  console.warn(`      SKIPPED PostgreSQL tests: ${hint}`);
  ctx.skip();
  throw new Error("unreachable"); // ctx.skip() throws
}

/** The knex stores over a database. */
export function knexStores(db: Database): {
  caGenerations: KnexCaGenerationStore;
  certificates: KnexCertificateStore;
  audit: KnexAuditStore;
  certificateLinks: KnexCertificateLinkStore;
} {
  return { caGenerations: new KnexCaGenerationStore(db), certificates: new KnexCertificateStore(db), audit: new KnexAuditStore(db), certificateLinks: new KnexCertificateLinkStore(db) };
}

function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function withAdmin<T>(serverUrl: string, work: (admin: ReturnType<typeof knex>) => Promise<T>): Promise<T> {
  const admin = knex({ client: "pg", connection: { connectionString: serverUrl }, pool: { min: 0, max: 1 } });
  try {
    return await work(admin);
  } finally {
    await admin.destroy();
  }
}
