import { readFileSync, existsSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import type { KeySpec } from "../ca/types.js";
import type { CrlSettings } from "../crl/crl-settings.js";
import type { PhoneSettings } from "../ca/phone/phone-settings.js";
import type { RelyingPartyQueryConfig } from "../ca/relying-parties/query-settings.js";
import type { StatusAfterExpiryPolicy } from "../ca/revocation/status-after-expiry.js";
import type { RetentionPeriods } from "../ca/records/retention.js";
import { ConfigError } from "./config-error.js";
import { crlSettingsOf, phoneSettingsOf, relyingPartyQueriesOf, retentionOf, statusAfterExpiryOf } from "./config-sections.js";

export { ConfigError } from "./config-error.js";

/**
 * Configuration, parsed once at start-up into a frozen typed object (docs/design.md invariant 8).
 * Sources, later wins: the JSON file (`CA_CONFIG`, default ./config/default.json), then environment
 * overrides. This is the only file that reads `process.env` (docs/design.md §3.3).
 */

const port = z.number().int().min(0).max(65535);
const keySpecNames = ["RSA-2048", "RSA-3072", "RSA-4096", "P-256", "P-384"] as const;
/** `hsm.serviceKeyType`: the key type of the service's own keys (docs/hsm-vendors.md §"Mechanisms"). */
export const serviceKeyTypes = ["ec-p256", "rsa-2048", "rsa-3072"] as const;
export type ServiceKeyType = (typeof serviceKeyTypes)[number];

const schema = z
  .object({
    mode: z.enum(["demo", "production"]),
    varDir: z.string().min(1),
    http: z.object({ host: z.string().min(1), port }).strict(),
    https: z.object({ host: z.string().min(1), port }).strict(),
    publicBaseUrl: z.string().url().refine((u) => !u.endsWith("/"), "must not end with /"),
    database: z.object({ url: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").nullable(), dataDir: z.string().min(1) }).strict(),
    hsm: z
      .object({
        modulePath: z.string().min(1),
        tokenLabel: z.string().min(1).max(32),
        pinFile: z.string().min(1).nullable(),
        softhsmConf: z.string().min(1).nullable(),
        poolSize: z.number().int().min(1).max(64),
        serviceKeyType: z.enum(serviceKeyTypes).optional(),
      })
      .strict(),
    ca: z
      .object({
        keySpec: z.enum(keySpecNames),
        partitions: z.object({ sign: z.number().int().min(1).max(65536), auth: z.number().int().min(1).max(65536) }).strict(),
        ocspResponderValidityDays: z.number().int().min(1).max(366),
      })
      .strict(),
    log: z.object({ level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]) }).strict(),
    /** Service processes sharing the listeners (node:cluster); more than one needs PostgreSQL. */
    workers: z.number().int().min(1).max(64).optional(),
    /** Validated by crl/crl-settings.ts (nextUpdate ≤ 24 h, access mode, coalescing …). */
    crl: z.unknown().optional(),
    /** Smartphone certificates' [U] decisions, validated by ca/phone/phone-settings.ts (docs/phone.md). */
    phone: z.unknown().optional(),
    /** Relying-party queries, validated by ca/relying-parties/query-settings.ts (docs/relying-parties.md). */
    relyingPartyQueries: z.unknown().optional(),
    /** Status after expiry per kind, validated by ca/revocation/status-after-expiry.ts (docs/ocsp.md, docs/crl.md). */
    revocationInfo: z.unknown().optional(),
    /** Retention periods (docs/admin.md "Retention"), validated by ca/records/retention.ts `parseRetentionPeriods`. */
    retention: z.unknown().optional(),
    /** OCSP freshness and HTTP caching (docs/ocsp.md "Demand-driven responses", "HTTP caching"). */
    ocsp: z
      .object({
        maxCacheSeconds: z.number().int().min(0).max(86_400).optional(),
        demandWindowHours: z.number().int().min(13).max(24 * 30).optional(),
        refreshPerSecond: z.number().int().min(1).max(100_000).optional(),
      })
      .strict()
      .optional(),
    /** `/readyz` (docs/api.md "Health"): the OCSP lag limit. */
    readiness: z.object({ ocspMaxLagSeconds: z.number().int().min(1).max(86_400).optional() }).strict().optional(),
    /** Leadership per background job (docs/cluster.md): lease TTL and renewal period, milliseconds. */
    jobLeases: z
      .object({ ttlMs: z.number().int().min(1000).max(600_000).optional(), renewMs: z.number().int().min(100).max(300_000).optional() })
      .strict()
      .optional(),
    /** Prometheus `/metrics`: its own listener (default 127.0.0.1:9464), never on the public port unless a token guards it. */
    metrics: z
      .object({
        listen: z.object({ host: z.string().min(1), port }).strict().nullable(),
        tokenFile: z.string().min(1).nullable().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

type RawConfig = z.infer<typeof schema>;

export interface Config {
  readonly mode: "demo" | "production";
  /** Absolute path of the generated state directory. */
  readonly varDir: string;
  readonly http: { readonly host: string; readonly port: number };
  readonly https: { readonly host: string; readonly port: number };
  readonly publicBaseUrl: string;
  readonly database: { readonly url: string | null; readonly dataDir: string };
  readonly hsm: {
    readonly modulePath: string;
    readonly tokenLabel: string;
    /** The user PIN, read from `CA_HSM_PIN` or the PIN file. Never logged. */
    readonly pin: string;
    readonly softhsmConf: string | null;
    readonly poolSize: number;
    /**
     * Key type of the keys the service makes for itself (`hsm.serviceKeyType`, `CA_HSM_SERVICE_KEY_TYPE`,
     * default "ec-p256"): OCSP responder keys, the service CA key and the audit checkpoint key. "rsa-2048"
     * or "rsa-3072" for an HSM without EC mechanisms (docs/hsm-vendors.md). Keys already in the token
     * keep their type: signers follow the key, this setting only decides what new keys are.
     */
    readonly serviceKeySpec: KeySpec;
  };
  readonly ca: {
    readonly keySpec: KeySpec;
    readonly partitions: { readonly sign: number; readonly auth: number };
    readonly ocspResponderValidityDays: number;
  };
  readonly natsUrl: string | null;
  /**
   * Service processes (`CA_WORKERS`, default 1). With more than one, a supervisor forks them and they
   * share the HTTP and HTTPS listeners; each is a node of the cluster (docs/cluster.md).
   */
  readonly workers: number;
  readonly log: { readonly level: RawConfig["log"]["level"] };
  /** Where demo credentials go (docs/api.md §1). */
  readonly demoDir: string;
  /** CRL validity, scheduling and access mode (crl/crl-settings.ts). */
  readonly crl: CrlSettings;
  /** Smartphone certificates (docs/phone.md): policy OIDs, subject marker, signedAt window, holder reasons. */
  readonly phone: PhoneSettings;
  /** Relying-party queries [U] (`relyingPartyQueries`, docs/relying-parties.md "Configuration"): environment, known-serial rule, per-party limit, what each verifier type may ask. */
  readonly relyingPartyQueries: RelyingPartyQueryConfig;
  /**
   * Status after expiry [U] (`revocationInfo`, ca/revocation/status-after-expiry.ts): how long after
   * notAfter OCSP still answers (with archiveCutoff) and revoked certificates stay on the CRLs (with
   * expiredCertsOnCRL), per kind. Default: to the end of the third month after the month of expiry, in
   * JST (Asia/Tokyo); `0` for today's behaviour.
   */
  readonly revocationInfo: StatusAfterExpiryPolicy;
  /**
   * Retention periods (docs/domain.md §6, docs/admin.md): the defaults of ca/records/retention.ts, any of
   * them overridden here. Refused when the personal fields would go before the status after expiry ends.
   */
  readonly retention: RetentionPeriods;
  /** The holiday calendar of the operating hours (absolute; default `holidays.json` beside the config file). */
  readonly holidaysFile: string;
  /**
   * Where Prometheus scrapes `/metrics` (issue 12: not on the public HTTP port by default).
   * `listen`: a listener of its own (`metrics.listen`, `CA_METRICS_HOST`/`CA_METRICS_PORT`; default
   * 127.0.0.1:9464; null: none). `token` (`CA_METRICS_TOKEN` or the file `metrics.tokenFile`): when set,
   * every scrape must carry `Authorization: Bearer <token>`, and `/metrics` is then also served on the
   * public HTTP listener (behind that token). Never logged.
   */
  readonly metrics: { readonly listen: { readonly host: string; readonly port: number } | null; readonly token: string | null };
  /**
   * OCSP (docs/ocsp.md): `maxCacheSeconds` caps HTTP `Cache-Control: max-age` whatever a response's
   * nextUpdate (default 3600: no HTTP cache serves a superseded "good" longer than an hour);
   * `demandWindowMs` (`ocsp.demandWindowHours`, default 72 h): responses asked within it are refreshed
   * at half-life, others expire and are dropped; `refreshPerSecond` (default 200): the refresh's cap.
   */
  readonly ocsp: { readonly maxCacheSeconds: number; readonly demandWindowMs: number; readonly refreshPerSecond: number };
  /**
   * `/readyz` (issue 14 item 3c): `ocspMaxLagMs` (`readiness.ocspMaxLagSeconds`, default 60 s): a node
   * whose OCSP responses lag the revocation outbox by more is not ready.
   */
  readonly readiness: { readonly ocspMaxLagMs: number };
  /**
   * The job leases (docs/cluster.md): each singleton background job runs in the one process holding its
   * lease. `ttlMs` (`jobLeases.ttlMs`, `CA_JOB_LEASE_TTL_MS`, default 10,000) and `renewMs`
   * (`CA_JOB_LEASE_RENEW_MS`, default 2,500, less than the TTL): a dead holder's job moves within
   * ttlMs + renewMs.
   */
  readonly jobLeases: { readonly ttlMs: number; readonly renewMs: number };
}

/** Default of `metrics.listen`: loopback only, port 9464 (the OpenTelemetry Prometheus exporter's default). */
export const DEFAULT_METRICS_LISTEN = Object.freeze({ host: "127.0.0.1", port: 9464 });


export function parseServiceKeyType(name: ServiceKeyType): KeySpec {
  return name === "ec-p256" ? { type: "ec", curve: "P-256" } : { type: "rsa", bits: name === "rsa-2048" ? 2048 : 3072 };
}

export function parseKeySpec(name: (typeof keySpecNames)[number]): KeySpec {
  switch (name) {
    case "RSA-2048":
      return { type: "rsa", bits: 2048 };
    case "RSA-3072":
      return { type: "rsa", bits: 3072 };
    case "RSA-4096":
      return { type: "rsa", bits: 4096 };
    case "P-256":
      return { type: "ec", curve: "P-256" };
    case "P-384":
      return { type: "ec", curve: "P-384" };
  }
}

const envInt = (env: NodeJS.ProcessEnv, name: string): number | undefined => {
  const v = env[name];
  if (v === undefined || v === "") return undefined;
  if (!/^[0-9]+$/.test(v)) throw new ConfigError(`${name}: must be an integer`);
  return Number(v);
};

/** Applies environment overrides onto the raw file object (before validation). */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const obj: Record<string, unknown> = structuredClone(raw);
  const section = (k: string): Record<string, unknown> => {
    if (typeof obj[k] !== "object" || obj[k] === null) obj[k] = {};
    return obj[k] as Record<string, unknown>;
  };
  if (env.CA_MODE) obj.mode = env.CA_MODE;
  if (env.CA_VAR_DIR) obj.varDir = env.CA_VAR_DIR;
  if (env.CA_HTTP_HOST) section("http").host = env.CA_HTTP_HOST;
  if (env.CA_HTTPS_HOST) section("https").host = env.CA_HTTPS_HOST;
  const hp = envInt(env, "CA_HTTP_PORT");
  if (hp !== undefined) section("http").port = hp;
  const sp = envInt(env, "CA_HTTPS_PORT");
  if (sp !== undefined) section("https").port = sp;
  if (env.CA_PUBLIC_BASE_URL) obj.publicBaseUrl = env.CA_PUBLIC_BASE_URL;
  if (env.DATABASE_URL) section("database").url = env.DATABASE_URL;
  if (env.CA_HSM_MODULE) section("hsm").modulePath = env.CA_HSM_MODULE;
  if (env.CA_HSM_TOKEN_LABEL) section("hsm").tokenLabel = env.CA_HSM_TOKEN_LABEL;
  if (env.CA_HSM_PIN_FILE) section("hsm").pinFile = env.CA_HSM_PIN_FILE;
  if (env.CA_HSM_SERVICE_KEY_TYPE) section("hsm").serviceKeyType = env.CA_HSM_SERVICE_KEY_TYPE;
  if (env.CA_LOG_LEVEL) section("log").level = env.CA_LOG_LEVEL;
  const workers = envInt(env, "CA_WORKERS");
  if (workers !== undefined) obj.workers = workers;
  const metricsPort = envInt(env, "CA_METRICS_PORT");
  if (env.CA_METRICS_HOST || metricsPort !== undefined) {
    const metrics = section("metrics");
    if (metrics.listen === undefined || metrics.listen === null) metrics.listen = { ...DEFAULT_METRICS_LISTEN };
    const listen = metrics.listen as Record<string, unknown>;
    if (env.CA_METRICS_HOST) listen.host = env.CA_METRICS_HOST;
    if (metricsPort !== undefined) listen.port = metricsPort;
  }
  const leaseTtl = envInt(env, "CA_JOB_LEASE_TTL_MS");
  if (leaseTtl !== undefined) section("jobLeases").ttlMs = leaseTtl;
  const leaseRenew = envInt(env, "CA_JOB_LEASE_RENEW_MS");
  if (leaseRenew !== undefined) section("jobLeases").renewMs = leaseRenew;
  return obj;
}

/**
 * Loads and validates the configuration. Throws ConfigError naming the field on a bad value.
 * @param env the environment (process.env in production; a literal in tests)
 * @param cwd the directory relative paths are resolved against
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): Config {
  const file = env.CA_CONFIG ?? resolve(cwd, "config/default.json");
  if (!existsSync(file)) throw new ConfigError(`CA_CONFIG: file not found: ${file}`);
  let fileObj: Record<string, unknown>;
  try {
    fileObj = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`CA_CONFIG: ${file} is not valid JSON (${(e as Error).message})`);
  }
  const parsed = schema.safeParse(applyEnv(fileObj, env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join(".") || "(root)";
    throw new ConfigError(`config field ${path}: ${issue?.message ?? "invalid"}`);
  }
  const raw = parsed.data;
  const varDir = abs(cwd, raw.varDir);
  const inVar = (p: string): string => (isAbsolute(p) ? p : resolve(varDir, p));
  const pin = readPin(env, raw.hsm.pinFile === null ? null : inVar(raw.hsm.pinFile));
  const workers = raw.workers ?? 1;
  // PGlite is an in-process database: one process owns its files.
  if (workers > 1 && raw.database.url === null) throw new ConfigError("config field workers: more than one worker needs PostgreSQL (set DATABASE_URL); the embedded database serves one process");
  const jobLeases = { ttlMs: raw.jobLeases?.ttlMs ?? 10_000, renewMs: raw.jobLeases?.renewMs ?? 2_500 };
  if (jobLeases.renewMs >= jobLeases.ttlMs) throw new ConfigError("config field jobLeases.renewMs: must be less than jobLeases.ttlMs (CA_JOB_LEASE_RENEW_MS < CA_JOB_LEASE_TTL_MS)");
  const revocationInfo = statusAfterExpiryOf(raw.revocationInfo);
  const config: Config = {
    mode: raw.mode,
    varDir,
    http: raw.http,
    https: raw.https,
    publicBaseUrl: raw.publicBaseUrl,
    database: { url: raw.database.url, dataDir: inVar(raw.database.dataDir) },
    hsm: {
      modulePath: raw.hsm.modulePath,
      tokenLabel: raw.hsm.tokenLabel,
      pin,
      softhsmConf: env.SOFTHSM2_CONF ?? (raw.hsm.softhsmConf === null ? null : inVar(raw.hsm.softhsmConf)),
      poolSize: raw.hsm.poolSize,
      serviceKeySpec: parseServiceKeyType(raw.hsm.serviceKeyType ?? "ec-p256"),
    },
    ca: { keySpec: parseKeySpec(raw.ca.keySpec), partitions: raw.ca.partitions, ocspResponderValidityDays: raw.ca.ocspResponderValidityDays },
    natsUrl: env.NATS_URL ?? null,
    workers,
    log: raw.log,
    demoDir: resolve(varDir, "demo"),
    crl: crlSettingsOf(raw.crl),
    phone: phoneSettingsOf(raw.phone),
    relyingPartyQueries: relyingPartyQueriesOf(raw.relyingPartyQueries),
    revocationInfo,
    retention: retentionOf(raw.retention, revocationInfo),
    holidaysFile: env.CA_HOLIDAYS_FILE ? abs(cwd, env.CA_HOLIDAYS_FILE) : resolve(dirname(abs(cwd, file)), "holidays.json"),
    metrics: {
      listen: raw.metrics === undefined ? { ...DEFAULT_METRICS_LISTEN } : raw.metrics.listen,
      token: readMetricsToken(env, raw.metrics?.tokenFile ? inVar(raw.metrics.tokenFile) : null),
    },
    ocsp: {
      maxCacheSeconds: raw.ocsp?.maxCacheSeconds ?? 3600,
      demandWindowMs: (raw.ocsp?.demandWindowHours ?? 72) * 3_600_000,
      refreshPerSecond: raw.ocsp?.refreshPerSecond ?? 200,
    },
    readiness: {
      ocspMaxLagMs: (raw.readiness?.ocspMaxLagSeconds ?? 60) * 1000,
    },
    jobLeases,
  };
  return deepFreeze(config);
}

const abs = (cwd: string, p: string): string => (isAbsolute(p) ? p : resolve(cwd, p));

/** Invariant 5: PINs come from the environment or a file, never from the config file itself. */
function readPin(env: NodeJS.ProcessEnv, pinFile: string | null): string {
  if (env.CA_HSM_PIN) return env.CA_HSM_PIN;
  if (pinFile && existsSync(pinFile)) {
    const pin = readFileSync(pinFile, "utf8").trim();
    if (pin.length === 0) throw new ConfigError(`hsm.pinFile: the PIN file is empty`);
    return pin;
  }
  throw new ConfigError(`hsm.pinFile: no PIN (set CA_HSM_PIN or create the PIN file; npm start does this for the demo token)`);
}

/** The metrics scrape token: `CA_METRICS_TOKEN`, else the token file; at least 16 characters. */
function readMetricsToken(env: NodeJS.ProcessEnv, tokenFile: string | null): string | null {
  let token: string | null = null;
  if (env.CA_METRICS_TOKEN) token = env.CA_METRICS_TOKEN;
  else if (tokenFile !== null) {
    if (!existsSync(tokenFile)) throw new ConfigError("metrics.tokenFile: the file does not exist");
    token = readFileSync(tokenFile, "utf8").trim();
  }
  if (token !== null && !/^[\x21-\x7e]{16,256}$/.test(token)) throw new ConfigError("metrics.tokenFile: the metrics token must be 16–256 visible ASCII characters (CA_METRICS_TOKEN or the file)");
  return token;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
