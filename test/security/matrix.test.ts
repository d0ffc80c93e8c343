import assert from "node:assert/strict";
import { KnexAuditLogReader } from "../../db/audit-log-reader.js";
import { request, type ClientCredentials, type HttpAnswer } from "../support/https-client.js";
import { startTestService, type TestService } from "../support/service-harness.js";
import { callAs, kinds, persons, principals, effectiveRoles, type MatrixPrincipals, type Principal, setUpPrincipals } from "./support/matrix-principals.js";
import { closeMatrixAgents } from "./support/matrix-http.js";
import { application, newResident, OTHER_MUNICIPALITY, OWN_MUNICIPALITY } from "./support/matrix-residents.js";
import { allows, docRolesOf, matrixTable, ruleFromDoc, type Rule } from "./support/matrix-table.js";
import { buildWorld, type MatrixWorld } from "./support/matrix-world.js";

/**
 * The security matrix (issue 12 §7): every `/v1` route of the OpenAPI document × every client-
 * certificate kind (terminal, admin, feed, relying-party, an unregistered admin, none) × every operator
 * role on each kind it may and may not be used on × whose object (a resident of the terminal's
 * municipality 131041 or of 271004). The expectations are the target of issue 12, from
 * support/matrix-table.ts:
 * - a wrong kind or role gets 401/403, never 2xx, never 5xx; a role counts only on its workstation kind;
 * - a terminal acting on another municipality's resident gets 404, the very answer of an unknown
 *   serial, audited as a denial, and nothing happens to the certificate;
 * - a terminal's own municipality and the CA side (any resident, with a stated purpose) get their
 *   normal answer.
 * New routes in the document are called as soon as they appear; the table test fails until they have
 * a row. This replaces test/integration/admin/role-matrix.test.ts (issue 7 §9).
 */

interface Route {
  readonly method: string;
  readonly path: string;
  readonly key: string;
  readonly xRoles: readonly string[] | undefined;
  readonly queryParams: readonly string[];
}

const PURPOSE = "security matrix: authorization check";

/** Fails listing every wrong cell (a deep-equal diff would cut the list short). */
function assertNoMismatch(mismatches: readonly string[], what: string): void {
  if (mismatches.length > 0) assert.fail(`${mismatches.length} ${what}:\n  ${[...mismatches].sort().join("\n  ")}`);
}
const LOGOFF = "DELETE /v1/sessions/current";

describe("security matrix: every /v1 route × client-certificate kind × operator role × whose object", function () {
  this.timeout(180_000);
  let ts: TestService;
  let P: MatrixPrincipals;
  let W: MatrixWorld;
  let routes: Route[];
  const audit = (): KnexAuditLogReader => new KnexAuditLogReader(ts.service.db);

  before(async function () {
    this.timeout(240_000);
    ts = await startTestService({ name: "security-matrix", engine: "pglite" });
    P = await setUpPrincipals(ts);
    const doc = (await request(`${ts.httpUrl}/openapi.json`)).json<{ paths: Record<string, Record<string, { "x-roles"?: string[]; parameters?: Array<{ name: string; in: string }> }>> }>();
    routes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/v1/"))
      .flatMap(([path, ops]) =>
        Object.entries(ops).map(([m, op]) => ({
          method: m.toUpperCase(),
          path,
          key: `${m.toUpperCase()} ${path}`,
          xRoles: op["x-roles"],
          queryParams: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
        })),
      );
    W = await buildWorld(ts, P);
  });
  after(async () => {
    closeMatrixAgents();
    await ts?.close();
  });

  const ruleOf = (r: Route): Rule => matrixTable[r.key] ?? ruleFromDoc(r.xRoles);
  const call = (creds: ClientCredentials, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<HttpAnswer> => callAs(ts.httpsUrl, creds, method, path, opts);
  const text = (res: HttpAnswer): string => res.body.toString("utf8").slice(0, 300);
  /** A route's URL with every path parameter filled, and a stated purpose where the route takes one. */
  const urlOf = (r: Route, serial = W.unknownSerial): string => {
    const path = r.path.replace(/\{([^}]+)\}/g, (_, name: string) => (name === "serial" ? serial : name === "residentCode" ? W.own.resident.residentCode : "matrix-probe"));
    const query = r.queryParams.filter((q) => q === "purpose" || q === "reason").map((q) => `${q}=${encodeURIComponent(PURPOSE)}`);
    return query.length > 0 ? `${path}?${query.join("&")}` : path;
  };
  const route = (key: string): Route => {
    const r = routes.find((x) => x.key === key);
    if (!r) throw new Error(`${key} is not in the OpenAPI document`);
    return r;
  };
  /** The RFC 7807 fields a client can compare (no `instance`: it names the URL asked). */
  const problemOf = (res: HttpAnswer): Record<string, unknown> => {
    const p = JSON.parse(res.body.toString("utf8") || "{}") as Record<string, unknown>;
    return { type: p.type, title: p.title, status: p.status, detail: p.detail, field: p.field };
  };
  const statusOf = async (serial: string): Promise<string | undefined> => (await ts.service.stores.certificates.get(serial))?.status;

  it("has a row for every /v1 route of the document, every row is served, and the document's x-roles agree with the row", () => {
    const documented = new Set(routes.map((r) => r.key));
    assert.deepEqual(routes.filter((r) => !(r.key in matrixTable)).map((r) => r.key), [], "routes without a row in test/security/support/matrix-table.ts");
    assert.deepEqual(Object.keys(matrixTable).filter((k) => !documented.has(k)), [], "rows for routes that are not served");
    const drift = routes
      .filter((r) => r.key in matrixTable)
      .map((r) => ({ route: r.key, document: [...(r.xRoles ?? [])].sort(), table: docRolesOf(matrixTable[r.key]!) }))
      .filter((d) => JSON.stringify(d.document) !== JSON.stringify(d.table));
    assert.deepEqual(drift, [], "x-roles in the OpenAPI document differ from the table");
  });

  it("opens an operator session only on a registered certificate of the kind one of the account's roles is bound to", () => {
    const wrong = P.logins
      .map((l) => {
        const p = principals.find((x) => x.key === l.key)!;
        const expected = effectiveRoles(p.person, p.kind).length > 0;
        if (l.status >= 500) return `${l.key}: login ${l.status}`;
        if (expected && l.status !== 201) return `${l.key}: login ${l.status} (should open a session) ${l.detail}`;
        if (!expected && l.status !== 401 && l.status !== 403) return `${l.key}: login ${l.status} (should be refused with 401/403)`;
        return undefined;
      })
      .filter((x): x is string => x !== undefined);
    assert.equal(P.logins.length, 3 * persons.length);
    assertNoMismatch(wrong, "answers differ from the target");
  });

  it("every route × every principal: allowed exactly as the table says (denied: 401/403; never 5xx)", async function () {
    this.timeout(300_000);
    const cells = routes.filter((r) => r.key !== LOGOFF).flatMap((r) => principals.map((p) => ({ r, p })));
    const mismatches: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < cells.length; i = next++) {
        const { r, p } = cells[i]!;
        const token = p.person ? P.tokens.get(p.key) : undefined;
        const res = await call(P.clients[p.kind], r.method, urlOf(r), token ? { token } : {});
        const expected = allows(ruleOf(r), p);
        if (res.status >= 500) mismatches.push(`${r.key} as ${p.key}: ${res.status} ${text(res)}`);
        else if (expected && (res.status === 401 || res.status === 403)) mismatches.push(`${r.key} as ${p.key}: ${res.status} (should be allowed) ${text(res)}`);
        else if (!expected && res.status !== 401 && res.status !== 403) mismatches.push(`${r.key} as ${p.key}: ${res.status} (should be 401/403)`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    assertNoMismatch(mismatches, "cells differ from the table");
  });

  /** One object cell: the expected statuses, and for a denial the answer an unknown serial gets. */
  interface Cell {
    readonly label: string;
    readonly creds: ClientCredentials;
    readonly token: string;
    readonly method: string;
    readonly path: string;
    readonly body?: unknown;
    readonly expect: readonly number[];
    /** The same status and problem as this request about an unknown serial. */
    readonly sameAsUnknown?: string;
    /** A denial that must be audited, naming this serial. */
    readonly auditedSerial?: string;
  }

  async function runCells(cells: readonly Cell[]): Promise<string[]> {
    const mismatches: string[] = [];
    for (const c of cells) {
      const seq = (await audit().head()).seq;
      const res = await call(c.creds, c.method, c.path, { token: c.token, ...(c.body !== undefined ? { body: c.body } : {}) });
      if (!c.expect.includes(res.status)) mismatches.push(`${c.label}: ${res.status} (expected ${c.expect.join("/")}) ${text(res)}`);
      if (c.sameAsUnknown) {
        const unknown = await call(c.creds, c.method, c.sameAsUnknown, { token: c.token, ...(c.body !== undefined ? { body: c.body } : {}) });
        if (unknown.status !== res.status || JSON.stringify(problemOf(unknown)) !== JSON.stringify(problemOf(res))) {
          mismatches.push(`${c.label}: answer differs from an unknown serial's (${res.status} ${JSON.stringify(problemOf(res))} vs ${unknown.status} ${JSON.stringify(problemOf(unknown))})`);
        }
      }
      if (c.auditedSerial) {
        const entries = await audit().range(seq + 1, 1000);
        if (!entries.some((e) => e.outcome === "denied" && JSON.stringify(e).includes(c.auditedSerial!))) mismatches.push(`${c.label}: no audited denial naming the serial`);
      }
    }
    return mismatches;
  }

  const T = (): { creds: ClientCredentials; token: string } => ({ creds: P.clients.terminal, token: P.tokens.get("terminal+terminal-operator")! });
  const dualAtCounter = (): { creds: ClientCredentials; token: string } => ({ creds: P.clients.terminal, token: P.tokens.get("terminal+dual")! });
  const caSide = (who: "ca-operator" | "auditor" | "dual"): { creds: ClientCredentials; token: string } => ({ creds: P.clients.admin, token: P.tokens.get(`admin+${who}`)! });
  const withPurpose = (path: string): string => `${path}?purpose=${encodeURIComponent(PURPOSE)}`;
  const cert = (serial: string): string => `/v1/certificates/${serial}`;

  it("lookups: a terminal reads its municipality's residents; another's is 404 like an unknown serial, audited, without personal data", async () => {
    const cells: Cell[] = [];
    for (const [who, at] of [["terminal-operator", T()], ["dual", dualAtCounter()]] as const) {
      cells.push({ label: `${who} at the ${OWN_MUNICIPALITY} counter reads a ${OWN_MUNICIPALITY} resident`, ...at, method: "GET", path: cert(W.own.serial), expect: [200] });
      cells.push({ label: `${who} at the ${OWN_MUNICIPALITY} counter reads a ${OTHER_MUNICIPALITY} resident`, ...at, method: "GET", path: cert(W.other.serial), expect: [404], sameAsUnknown: cert(W.unknownSerial), auditedSerial: W.other.serial });
      cells.push({ label: `${who} at the ${OWN_MUNICIPALITY} counter reads a ${OTHER_MUNICIPALITY} user-auth certificate`, ...at, method: "GET", path: cert(W.other.serials.auth!), expect: [404], sameAsUnknown: cert(W.unknownSerial) });
    }
    // The serial parameter is case-insensitive: the upper-case spelling must not slip past the scope.
    cells.push({ label: `terminal-operator at the ${OWN_MUNICIPALITY} counter reads a ${OTHER_MUNICIPALITY} resident by the upper-case serial`, ...T(), method: "GET", path: cert(W.other.serial.toUpperCase()), expect: [404], sameAsUnknown: cert(W.unknownSerial.toUpperCase()) });
    cells.push({ label: `terminal-operator at the ${OTHER_MUNICIPALITY} counter reads a ${OTHER_MUNICIPALITY} resident`, ...W.otherTerminal, method: "GET", path: cert(W.other.serial), expect: [200] });
    cells.push({ label: `terminal-operator at the ${OTHER_MUNICIPALITY} counter reads a ${OWN_MUNICIPALITY} resident`, ...W.otherTerminal, method: "GET", path: cert(W.own.serial), expect: [404], sameAsUnknown: cert(W.unknownSerial), auditedSerial: W.own.serial });
    for (const who of ["ca-operator", "auditor", "dual"] as const) {
      for (const o of [W.own, W.other]) cells.push({ label: `${who} on the CA side reads a ${o.resident.municipalityCode} resident, stating a purpose`, ...caSide(who), method: "GET", path: withPurpose(cert(o.serial)), expect: [200] });
    }
    const mismatches = await runCells(cells);
    // The refused answer carries nothing of the resident; the allowed one is never cached (issue 12 §6).
    const refused = await call(P.clients.terminal, "GET", cert(W.other.serial), { token: T().token });
    for (const v of [W.other.resident.name, W.other.resident.address, W.other.resident.residentCode]) if (refused.body.toString("utf8").includes(v)) mismatches.push("the 404 carries personal data");
    const own = await call(P.clients.terminal, "GET", cert(W.own.serial), { token: T().token });
    if (own.headers["cache-control"] !== "no-store") mismatches.push(`GET ${cert("{serial}")} 200 without Cache-Control: no-store (${String(own.headers["cache-control"])})`);
    assertNoMismatch(mismatches, "cells differ from the target");
  });

  it("the CA side always states a purpose: a lookup without one is refused (400) and the route documents the parameter", async () => {
    const r = route("GET /v1/certificates/{serial}");
    const res = await call(P.clients.admin, "GET", cert(W.other.serial), { token: caSide("ca-operator").token });
    assert.equal(res.status, 400, `a CA-side lookup without a purpose: ${res.status}`);
    assert.ok(!res.body.toString("utf8").includes(W.other.resident.name));
    assert.ok(r.queryParams.includes("purpose") || r.queryParams.includes("reason"), "GET /v1/certificates/{serial} documents no purpose/reason parameter");
  });

  it("revocations and holds: a terminal acts on its municipality only (404 elsewhere, nothing changes); the CA side on any resident", async () => {
    const other = W.other;
    const before = { sign: await statusOf(other.serials.sign!), auth: await statusOf(other.serials.auth!) };
    const f = W.fresh;
    const cells: Cell[] = [
      { label: "terminal-operator revokes a 131041 resident's certificate", ...T(), method: "POST", path: `${cert(f.own["terminal-revokes"].serial)}/revocation`, body: { reason: "unspecified" }, expect: [200] },
      { label: "terminal-operator holds a 131041 resident's certificate", ...T(), method: "POST", path: `${cert(f.own["terminal-holds"].serial)}/hold`, body: {}, expect: [200] },
      { label: "terminal-operator revokes a 271004 resident's certificate", ...T(), method: "POST", path: `${cert(other.serial)}/revocation`, body: { reason: "unspecified" }, expect: [404], sameAsUnknown: `${cert(W.unknownSerial)}/revocation`, auditedSerial: other.serial },
      { label: "terminal-operator holds a 271004 resident's certificate", ...T(), method: "POST", path: `${cert(other.serial)}/hold`, body: {}, expect: [404], sameAsUnknown: `${cert(W.unknownSerial)}/hold`, auditedSerial: other.serial },
      { label: "dual account at the counter revokes a 271004 resident's certificate", ...dualAtCounter(), method: "POST", path: `${cert(other.serials.auth!)}/revocation`, body: { reason: "unspecified" }, expect: [404], sameAsUnknown: `${cert(W.unknownSerial)}/revocation` },
      // Issue 12: "a ca-operator at the counter revoked with cACompromise": a CA-side role does not count at a counter.
      { label: "dual account at the counter revokes with cACompromise", ...dualAtCounter(), method: "POST", path: `${cert(f.own["dual-at-counter-cACompromise"].serial)}/revocation`, body: { reason: "cACompromise" }, expect: [403] },
      { label: "ca-operator revokes a 131041 resident's certificate", ...caSide("ca-operator"), method: "POST", path: `${cert(f.own["ca-operator-revokes"].serial)}/revocation`, body: { reason: "unspecified" }, expect: [200] },
      { label: "ca-operator revokes a 271004 resident's certificate", ...caSide("ca-operator"), method: "POST", path: `${cert(f.other["ca-operator-revokes"].serial)}/revocation`, body: { reason: "affiliationChanged" }, expect: [200] },
      { label: "ca-operator holds a 271004 resident's certificate", ...caSide("ca-operator"), method: "POST", path: `${cert(f.other["ca-operator-holds"].serial)}/hold`, body: {}, expect: [200] },
      { label: "ca-operator bulk-revokes a 131041 and a 271004 resident's certificates", ...caSide("ca-operator"), method: "POST", path: "/v1/admin/revocations", body: { serials: [f.own.bulk.serial, f.other.bulk.serial], reason: "unspecified" }, expect: [200] },
    ];
    const mismatches = await runCells(cells);
    const after = { sign: await statusOf(other.serials.sign!), auth: await statusOf(other.serials.auth!) };
    if (JSON.stringify(after) !== JSON.stringify(before)) mismatches.push(`the 271004 resident's certificates changed after the terminal's refused acts: ${JSON.stringify(before)} → ${JSON.stringify(after)}`);
    const expectStatus = async (serial: string, status: string, label: string): Promise<void> => {
      const s = await statusOf(serial);
      if (s !== status) mismatches.push(`${label}: status ${String(s)}, expected ${status}`);
    };
    await expectStatus(f.own["terminal-revokes"].serial, "revoked", "own revoked by the terminal");
    await expectStatus(f.own["terminal-holds"].serial, "hold", "own held by the terminal");
    await expectStatus(f.own["dual-at-counter-cACompromise"].serial, "valid", "cACompromise from the counter");
    await expectStatus(f.other["ca-operator-revokes"].serial, "revoked", "other revoked by the CA side");
    await expectStatus(f.other["ca-operator-holds"].serial, "hold", "other held by the CA side");
    await expectStatus(f.own.bulk.serial, "revoked", "own bulk-revoked");
    await expectStatus(f.other.bulk.serial, "revoked", "other bulk-revoked");
    assertNoMismatch(mismatches, "cells differ from the target");
  });

  it("issuance: a terminal issues for its municipality only — not for another code, nor for another municipality's resident on file", async () => {
    const [own, foreign, claimed] = [W.spareCsrs.shift()!, W.spareCsrs.shift()!, W.spareCsrs.shift()!];
    const mismatches: string[] = [];
    const expect = (label: string, res: HttpAnswer, statuses: readonly number[]): void => {
      if (!statuses.includes(res.status)) mismatches.push(`${label}: ${res.status} (expected ${statuses.join("/")}) ${text(res)}`);
    };
    expect("a 131041 resident at the 131041 counter", await W.issue(P.clients.terminal, T().token, application(newResident(OWN_MUNICIPALITY), [{ kind: "auth", csr: own }])), [201]);
    // The application names another municipality: refused whether or not such a resident exists.
    expect("an application for 271004 at the 131041 counter", await W.issue(P.clients.terminal, T().token, application(newResident(OTHER_MUNICIPALITY), [{ kind: "auth", csr: foreign }])), [403, 404]);
    // The application claims the terminal's municipality for a resident on file in 271004 (same four
    // items): refused and audited. Any refusal here tells that the code is on file (an unknown code
    // would be issued), so the status may be that of any record mismatch; what matters is no 2xx.
    const seq = (await audit().head()).seq;
    const res = await W.issue(P.clients.terminal, T().token, application(W.other.resident, [{ kind: "auth", csr: claimed }], OWN_MUNICIPALITY));
    expect("a 271004 resident on file, claimed at the 131041 counter", res, [403, 404, 409]);
    if (res.body.toString("utf8").includes(W.other.resident.name)) mismatches.push("the refusal carries personal data");
    // Replaying the other terminal's Idempotency-Key and body must not hand over its stored answer (the keys are per terminal).
    const replay = await W.issue(P.clients.terminal, T().token, W.otherIssuance.body, W.otherIssuance.key);
    expect("the 271004 terminal's issuance replayed (same key and body) at the 131041 counter", replay, [403, 404, 409]);
    if (replay.body.toString("utf8").includes(W.other.resident.name) || replay.body.toString("utf8").includes(W.other.serial)) mismatches.push("the replay handed over the other terminal's answer");
    const denied = (await audit().range(seq + 1, 1000)).some((e) => e.outcome === "denied" || e.outcome === "failure");
    if (!denied) mismatches.push("the refused issuance for another municipality's resident is not audited");
    assertNoMismatch(mismatches, "cells differ from the target");
  });

  it("nothing under /v1 answers without a client certificate (plain HTTP: 401 problem; HTTPS: handshake refused or 401)", async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      const res = await request(`${ts.httpUrl}${urlOf(r)}`, { method: r.method });
      if (res.status !== 401 || problemOf(res).type !== "urn:jpki-ca:problem:unauthenticated") wrong.push(`${r.key} over HTTP: ${res.status}`);
      const tls = await call(P.clients.none, r.method, urlOf(r)).then(
        (x) => x.status,
        () => "refused",
      );
      if (tls !== "refused" && tls !== 401) wrong.push(`${r.key} over HTTPS without a certificate: ${tls}`);
    }
    assertNoMismatch(wrong, "answers differ from the target");
  });

  // Last: logging off ends the principals' own sessions.
  it(`${LOGOFF} × every principal (last: it ends the sessions)`, async () => {
    const r = route(LOGOFF);
    const mismatches: string[] = [];
    // Principals presenting another certificate's token first, so the sessions they borrow still exist.
    const ordered = [...principals].sort((a: Principal, b: Principal) => Number(allows(ruleOf(r), a)) - Number(allows(ruleOf(r), b)));
    for (const p of ordered) {
      const token = p.person ? P.tokens.get(p.key) : undefined;
      const res = await call(P.clients[p.kind], r.method, r.path, token ? { token } : {});
      const expected = allows(ruleOf(r), p);
      if (res.status >= 500 || expected !== (res.status !== 401 && res.status !== 403)) mismatches.push(`${LOGOFF} as ${p.key}: ${res.status} (should be ${expected ? "allowed" : "401/403"})`);
    }
    assert.equal(kinds.length * (persons.length + 1), principals.length);
    assertNoMismatch(mismatches, "cells differ from the target");
  });
});
