import { AsyncLocalStorage } from "node:async_hooks";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import knexModule, { type Knex } from "knex";

// knex is CommonJS: its named export `knex` is not visible to every ESM loader (tsx run vs mocha), the default is.
const knex = knexModule as unknown as typeof import("knex").knex;
import ClientPgLite from "knex-pglite";
import pg from "pg";
import { CaError } from "../ca/errors.js";
import type { TransactionRunner, Tx } from "../ca/stores.js";
import { INT8_OID, parseInt8 } from "./column-values.js";
import { restrictTreeToOwner } from "./owner-only-files.js";

/**
 * The database handle: PostgreSQL through node-postgres, or embedded PGlite (PostgreSQL compiled to
 * wasm) for a first run without a server. One migration set and one store layer serve both.
 *
 * PGlite is for development and demos only: it runs with fsync off (not crash-safe), holds one
 * connection (every query queues behind an open transaction), is PostgreSQL 18 while production is
 * PostgreSQL 15, and costs about 500 MB RSS and a few seconds to start (docs/traps.md §4).
 *
 * Both engines return int8 as a number (see parseInt8), timestamptz as Date, jsonb parsed; bytea is a
 * Buffer (pg) or Uint8Array (PGlite): read it through column-values.ts.
 */
export interface Database extends TransactionRunner {
  readonly knex: Knex;
  readonly engine: "postgres" | "pglite";
  /**
   * Runs `work` in one transaction and rolls back if it throws. `tx` is a Knex.Transaction; pass it to
   * every store call inside. Opening a transaction inside another one's async context throws
   * (on PGlite it would wait forever for the only connection).
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * The query builder for a store call: `tx` when given, else the root knex. Throws
   * CaError("internal") when `tx` is absent but the caller runs inside an open transaction of this
   * database: the root knex would need a second connection, which PGlite does not have.
   */
  executor(tx?: Tx): Knex;
  /** Throws CaError("unavailable") when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://…` or `postgresql://…`: use PostgreSQL. */
  readonly url?: string;
  /** PGlite data directory (keep it under ./var) or "memory://". Used when `url` is absent; default "var/pglite". */
  readonly dataDir?: string;
  /** PostgreSQL pool size (default 10). PGlite always has exactly one connection. */
  readonly poolMax?: number;
  /**
   * PostgreSQL: how long a query waits for a pooled connection, and how long opening one may take,
   * before it fails (then answered 503, db/database-errors.ts). Default 5,000 ms: during an outage
   * requests are answered, not hung (issue 14 item 3).
   */
  readonly acquireTimeoutMs?: number;
}

/** Default of {@link OpenDatabaseOptions.acquireTimeoutMs}. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;

/** Default PGlite directory, relative to the working directory (./var is git-ignored). */
export const DEFAULT_PGLITE_DIR = "var/pglite";

/** Opens (but does not migrate) the database. */
export async function openDatabase(opts: OpenDatabaseOptions = {}): Promise<Database> {
  if (opts.url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) throw new CaError("invalid-input", "database url must start with postgres://", { field: "database.url" });
    return new KnexDatabase(postgresKnex(opts.url, opts.poolMax ?? 10, opts.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS), "postgres", async () => {});
  }
  const dataDir = opts.dataDir ?? DEFAULT_PGLITE_DIR;
  const onDisk = dataDir.startsWith("memory://") ? null : resolve(dataDir);
  const pglite = await startPglite(dataDir);
  // One PGlite instance handed over as an object: a connection *function* is called more than once
  // by knex and would start several instances.
  const k = knex({ client: ClientPgLite, connection: { pglite } as unknown as Knex.StaticConnectionConfig });
  return new KnexDatabase(k, "pglite", async () => {
    // knex closes PGlite only if its pool ever opened the connection.
    if (!pglite.closed) await pglite.close();
    if (onDisk !== null) restrictTreeToOwner(onDisk);
  });
}

/**
 * Recovery after a PostgreSQL restart needs nothing of ours: knex marks a pg client that emitted
 * `error` or `end` as disposed and its pool validation drops it, so the next acquire opens a fresh
 * connection (proven by test/integration/faults/postgres-outage.test.ts).
 */
function postgresKnex(url: string, poolMax: number, acquireTimeoutMs: number): Knex {
  // Per-connection type parsers instead of pg.types.setTypeParser: no process-wide mutation.
  const types = {
    getTypeParser: (oid: number, format: string): unknown =>
      oid === INT8_OID && format !== "binary" ? parseInt8 : pg.types.getTypeParser(oid, format === "binary" ? "binary" : "text"),
  };
  return knex({
    client: "pg",
    connection: { connectionString: url, types, application_name: "jpki-ca", connectionTimeoutMillis: acquireTimeoutMs },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: acquireTimeoutMs,
  });
}

async function startPglite(dataDir: string): Promise<PGlite> {
  let location = dataDir;
  if (!dataDir.startsWith("memory://")) {
    location = resolve(dataDir);
    // Only the data directory itself owner-only: a recursive 0700 would also close ./var/test, which the
    // PostgreSQL of scripts/services.sh (user postgres) passes through (see test/support/softhsm.ts).
    mkdirSync(dirname(location), { recursive: true });
    mkdirSync(location, { recursive: true, mode: 0o700 });
  }
  const pglite = new PGlite(location, { parsers: { [INT8_OID]: parseInt8 } });
  await pglite.waitReady;
  if (!dataDir.startsWith("memory://")) {
    // Issue 12: PGlite unpacks its data directory with mode 0666 whatever the umask, and writes its
    // relcache init files 0644: clear group/other bits once it has started (the first query writes
    // those) and again when it closes. Files PostgreSQL creates later follow the process umask, which
    // the command line sets to 0077 (cli/main.ts); the start-up check there catches what is left.
    await pglite.query("select 1");
    restrictTreeToOwner(location);
  }
  return pglite;
}

interface TransactionScope {
  readonly trx: Knex.Transaction;
  open: boolean;
}

class KnexDatabase implements Database {
  /** The transaction whose `work` is running in the current async context, if any. */
  private readonly scopes = new AsyncLocalStorage<TransactionScope>();

  constructor(
    readonly knex: Knex,
    readonly engine: "postgres" | "pglite",
    private readonly afterDestroy: () => Promise<void>,
  ) {}

  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOutsideTransaction("opened a transaction");
    return this.knex.transaction(async (trx) => {
      const scope: TransactionScope = { trx, open: true };
      try {
        return await this.scopes.run(scope, () => work(trx));
      } finally {
        scope.open = false;
      }
    });
  }

  executor(tx?: Tx): Knex {
    if (tx === undefined || tx === null) {
      this.assertOutsideTransaction("used the root connection");
      return this.knex;
    }
    if (typeof tx === "function" && (tx as Partial<Knex.Transaction>).isTransaction === true) return tx as Knex.Transaction;
    throw new CaError("internal", "tx is not a transaction of this database");
  }

  async ping(): Promise<void> {
    try {
      await this.executor().raw("select 1");
    } catch (err) {
      if (err instanceof CaError) throw err;
      throw new CaError("unavailable", "database not reachable", { cause: err });
    }
  }

  async close(): Promise<void> {
    await this.knex.destroy();
    await this.afterDestroy();
  }

  private assertOutsideTransaction(what: string): void {
    const scope = this.scopes.getStore();
    if (scope?.open) {
      throw new CaError("internal", `${what} inside an open transaction without passing tx (would deadlock on PGlite)`);
    }
  }
}
