import assert from "node:assert/strict";
import { generateKeyPair, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import forge from "node-forge";
import { pem } from "../../../ca/x509/pem.js";
import { requirePostgresUrl } from "../../support/database.js";
import { request, requestJson, type HttpAnswer } from "../../support/https-client.js";
import { startTestService, type TestService } from "../../support/service-harness.js";

/**
 * What the docs/api.md §4 issuance end-to-end files (test/e2e/issuance*.test.ts) share: the start of a file's
 * own service, card-like keys and PKCS#10 requests (node:crypto keys, node-forge CSRs), the application body
 * of the one demo resident, the answer's shape, and the HTTPS calls and RFC 7807 check the tests make.
 */

const generateRsa = promisify(generateKeyPair);

export interface CardKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
  /** The PKCS#10 request a card would send (PEM). */
  readonly csr: string;
  /** DER SubjectPublicKeyInfo, base64 (as the answer's `publicKey`). */
  readonly spkiBase64: string;
}

/** A PKCS#10 request signed with the key, the way a card's middleware builds one. */
function csrOf(publicKey: KeyObject, privateKey: KeyObject): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  csr.setSubject([{ name: "commonName", value: "JPKI card" }]);
  csr.sign(forge.pki.privateKeyFromPem(privateKey.export({ type: "pkcs1", format: "pem" }).toString()) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/** A key pair with the CSR a card would send for it. */
export function cardKey(pair: { publicKey: KeyObject; privateKey: KeyObject }): CardKey {
  return { ...pair, csr: csrOf(pair.publicKey, pair.privateKey), spkiBase64: pair.publicKey.export({ type: "spki", format: "der" }).toString("base64") };
}

/** A card key the profile refuses: RSA 1024 (the profile asks for 2048). */
export const weakCardKey = (): CardKey => cardKey(generateKeyPairSync("rsa", { modulusLength: 1024 }));

export const derOfPem = (text: string): Buffer => Buffer.from(text.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
export const csrPemOf = (der: Uint8Array): string => pem(der, "CERTIFICATE REQUEST");

/** Today's date in Japan (the service decides "today" in JST). */
export const jstToday = (): string => new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);

export const NAME = "山田　太郎";
export const ADDRESS = "東京都新宿区歌舞伎町一丁目４番１号";
export const DOB = "1980-02-17";
export const RESIDENT_CODE = "12345678901";
export const MUNICIPALITY = "131041";

/** The resident part of an application: the demo resident, with `overrides`. */
export function resident(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const applicationYear = Number(jstToday().slice(0, 4));
  return {
    name: NAME,
    nameSubstituteFlags: "0".repeat([...NAME].length),
    alias: null,
    dateOfBirth: DOB,
    gender: 1,
    address: ADDRESS,
    addressSubstituteFlags: "0".repeat([...ADDRESS].length),
    cardExpiry: `${applicationYear + 10}-12-31`,
    residencePeriodEnd: null,
    underGuardianship: false,
    ...overrides,
  };
}

/** A POST /v1/issuances body from the demo terminal's municipality, dated today (JST). */
export function application(requests: Array<{ kind: "sign" | "auth"; csr: string }>, overrides: { residentCode?: string; resident?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    municipalityCode: MUNICIPALITY,
    applicationDate: jstToday(),
    residentCode: overrides.residentCode ?? RESIDENT_CODE,
    resident: overrides.resident ?? resident(),
    requests,
  };
}

export interface IssuedCertificate {
  kind: "sign" | "auth";
  caId: string;
  serialNumber: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  policyOid: string;
  keyUsage: string[];
  publicKey: string;
  subject?: Record<string, string>;
  certificate: string;
  caCertificate: string;
}
export interface IssuanceAnswer {
  issuanceId: string;
  certificates: IssuedCertificate[];
}

/** The personal values that must never appear in logs, problems or user-auth certificates. */
export const PERSONAL = [NAME, "山田", "太郎", ADDRESS, "歌舞伎町", DOB, "319800217", RESIDENT_CODE, "山田　次郎"];

/**
 * Starts the calling file's service (PostgreSQL, a SoftHSM token of its own, the log captured at debug level)
 * while `keyCount` card keys (RSA 2048) are generated in the thread pool: key generation is the slow part.
 * Call it from `before()` and close `t` in `after()` (SoftHSM trap: test/support/service-harness.ts).
 */
export async function startIssuanceService(ctx: Mocha.Context, name: string, keyCount: number): Promise<{ t: TestService; keys: CardKey[] }> {
  ctx.timeout(120_000);
  requirePostgresUrl(ctx);
  const pairs = Promise.all(Array.from({ length: keyCount }, () => generateRsa("rsa", { modulusLength: 2048, publicExponent: 65537 })));
  const t = await startTestService({ name, engine: "postgres", logLevel: "debug" });
  try {
    return { t, keys: (await pairs).map(cardKey) };
  } catch (e) {
    await t.close();
    throw e;
  }
}

/** Whom the HTTPS helpers talk to, and the operator session they send by default. */
export interface IssuanceSession {
  readonly t: TestService;
  readonly token: string;
}

export interface IssuanceClient {
  /** A new Idempotency-Key. */
  newKey(): string;
  /** POST /v1/issuances from `client` (default the terminal); `key`/`token` default to a new key and the session's token, null leaves the header out. */
  issue(body: unknown, opts?: { key?: string | null; token?: string | null; client?: "terminal" | "admin" }): Promise<HttpAnswer>;
  /** GET /v1/certificates/{serial} with the session's token (or `token`). */
  getCertificate(serial: string, opts?: { token?: string; client?: "terminal" | "admin" }): Promise<HttpAnswer>;
}

/**
 * The HTTPS calls of a test file. `session` is read at each call: the file's service and its operator's
 * token only exist once `before()` (or the login test) has run.
 */
export function issuanceClient(session: () => IssuanceSession): IssuanceClient {
  let idem = 0;
  const newKey = (): string => `e2e-${process.pid}-${++idem}`;
  return {
    newKey,
    issue: (body, opts = {}) => {
      const { t, token } = session();
      const headers: Record<string, string> = {};
      const key = opts.key === undefined ? newKey() : opts.key;
      if (key !== null) headers["Idempotency-Key"] = key;
      const bearer = opts.token === undefined ? token : opts.token;
      if (bearer !== null) headers["Authorization"] = `Bearer ${bearer}`;
      return requestJson(`${t.httpsUrl}/v1/issuances`, "POST", body, t.tls(opts.client ?? "terminal"), headers);
    },
    getCertificate: (serial, opts = {}) => {
      const { t, token } = session();
      return request(`${t.httpsUrl}/v1/certificates/${serial}`, { tls: t.tls(opts.client ?? "terminal"), headers: { Authorization: `Bearer ${opts.token ?? token}` } });
    },
  };
}

/** An RFC 7807 problem with this status and, when given, this field; never echoing personal data. */
export function assertProblem(res: HttpAnswer, status: number, field?: string): Record<string, unknown> {
  const text = res.body.toString("utf8");
  assert.equal(res.status, status, text);
  assert.match(String(res.headers["content-type"]), /^application\/problem\+json(;|$)/);
  const problem = res.json<Record<string, unknown>>();
  assert.equal(problem.status, status);
  assert.match(String(problem.type), /^urn:jpki-ca:problem:/);
  assert.equal(typeof problem.title, "string");
  if (field !== undefined) assert.equal(problem.field, field, text);
  for (const p of PERSONAL) assert.ok(!text.includes(p), "problem echoes personal data");
  return problem;
}

/**
 * docs/design.md invariant 6: the service log (debug level) of a file's whole run never carries the name,
 * address, date of birth or resident code, plain or JSON-escaped. `logs` is `TestService.logs()`.
 */
export function assertNoPersonalDataInLogs(logs: string): void {
  // The capture works: the access log of the file's requests is there.
  assert.match(logs, /"route":"\/v1\/issuances"/);
  assert.match(logs, /"status":201/);
  const escaped = (s: string): string => [...s].map((c) => (c.charCodeAt(0) > 0x7e ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : c)).join("");
  for (const value of [...PERSONAL, "1980-02-17", "19800217"]) {
    assert.equal(logs.includes(value), false, `log contains personal data (${escaped(value).slice(0, 12)}…)`);
    assert.equal(logs.includes(escaped(value)), false, "log contains escaped personal data");
  }
}
