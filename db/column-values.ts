/**
 * Column value conversions shared by both engines, so rows look the same whether they come from
 * node-postgres or PGlite (docs/traps.md §4: int8 is a string in pg and a number in PGlite; bytea is a
 * Buffer in pg and a Uint8Array in PGlite).
 */

/** PostgreSQL type OID of int8 (bigint, bigserial, count(*)). */
export const INT8_OID = 20;

/**
 * int8 → number. Every int8 the CA stores (audit seq, outbox id, counts) stays far below 2^53;
 * a larger value would be silently rounded as a number, so the query fails instead.
 */
/** Rows of a raw query result: pg gives `{rows}`, PGlite through knex-pglite the same shape. */
export function rowsOf(result: unknown): Array<Record<string, unknown>> {
  if (result !== null && typeof result === "object" && Array.isArray((result as { rows?: unknown }).rows)) return (result as { rows: Array<Record<string, unknown>> }).rows;
  if (Array.isArray(result)) return result as Array<Record<string, unknown>>;
  return [];
}

export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError("int8 value outside the safe integer range");
  return n;
}

/** A bytea value from either driver as a plain Uint8Array view (no copy); null stays null. */
export function bytesFromColumn(value: unknown): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Uint8Array) {
    return Object.getPrototypeOf(value) === Uint8Array.prototype
      ? value
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new TypeError("expected a bytea column");
}

/** Like bytesFromColumn, for NOT NULL columns. */
export function requiredBytesFromColumn(value: unknown): Uint8Array {
  const bytes = bytesFromColumn(value);
  if (bytes === null) throw new TypeError("expected a non-null bytea column");
  return bytes;
}

/** A Uint8Array as a Buffer view for binding: node-postgres sends Buffers as bytea. */
export function bytesToParameter(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes as a Buffer or null, for nullable bytea parameters. */
export function nullableBytesToParameter(bytes: Uint8Array | null): Buffer | null {
  return bytes === null ? null : bytesToParameter(bytes);
}

/**
 * A JSON value for a jsonb parameter. Always stringified here: node-postgres would turn a JS array
 * into a PostgreSQL array literal, not JSON.
 */
export function jsonToParameter(value: unknown): string {
  return JSON.stringify(value);
}

/** A jsonb column as an object (both drivers parse jsonb already). */
export function objectFromColumn(value: unknown): Record<string, unknown> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new TypeError("expected a jsonb object column");
}

/** A timestamptz column as a Date (both drivers parse timestamptz already; PGlite may hand over strings in raw paths). */
export function dateFromColumn(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value === "string") return new Date(value);
  throw new TypeError("expected a timestamptz column");
}

/** Nullable timestamptz. */
export function nullableDateFromColumn(value: unknown): Date | null {
  return value === null || value === undefined ? null : dateFromColumn(value);
}
