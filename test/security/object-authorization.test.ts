import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildHandlers } from "../../api/main.js";
import { request, requestJson, type ClientCredentials, type HttpAnswer } from "../support/https-client.js";
import { startTestService, type TestService } from "../support/service-harness.js";
import { application, cardCsrs, jstToday, newResident, OTHER_MUNICIPALITY, OWN_MUNICIPALITY, type MatrixResident } from "./support/matrix-residents.js";

/**
 * Issue 12 §1 and §3, as an attacker tried them on a fresh service:
 * - the demo terminal (131041) read an Osaka (271004) resident's record, then held and revoked the
 *   certificate: 200 each. Now 404 each, with the body of an unknown serial, and audited as a denial;
 *   its own municipality's residents still 200.
 * - a terminal enrolled without a municipality issued for every municipality: enrolment now needs one,
 *   and a service with such a terminal on file refuses to start, naming it.
 * - the mass-revocation approval was avoided by splitting 12 serials into 6 + 6: now counted per
 *   operator over a sliding window, so the second 6 need approval, and single revocations count too.
 */
describe("security: object-level authorization and the revocation window", function () {
  this.timeout(180_000);
  let t: TestService;
  let clerk: string; // terminal-operator on the demo terminal (131041)
  let ops: string; // ca-operator on the admin workstation
  let osaka: { creds: ClientCredentials; token: string };
  let csrs: string[];
  const issued: Array<{ resident: MatrixResident; sign: string; auth: string }> = [];
  let foreign: { resident: MatrixResident; sign: string; auth: string };
  let mover: { resident: MatrixResident; sign: string; auth: string };
  let idem = 0;

  const call = (creds: ClientCredentials, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<HttpAnswer> => {
    const headers = { ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}), ...opts.headers };
    return opts.body === undefined ? request(`${t.httpsUrl}${path}`, { method, tls: creds, headers }) : requestJson(`${t.httpsUrl}${path}`, method, opts.body, creds, headers);
  };
  const terminal = (): ClientCredentials => t.tls("terminal");
  const admin = (): ClientCredentials => t.tls("admin");
  const issue = async (creds: ClientCredentials, token: string, body: unknown): Promise<HttpAnswer> =>
    call(creds, "POST", "/v1/issuances", { token, body, headers: { "Idempotency-Key": `objauthz-${process.pid}-${++idem}` } });
  const issueBoth = async (creds: ClientCredentials, token: string, resident: MatrixResident): Promise<{ resident: MatrixResident; sign: string; auth: string }> => {
    const r = await issue(creds, token, application(resident, [{ kind: "auth", csr: csrs.shift()! }, { kind: "sign", csr: csrs.shift()! }]));
    assert.equal(r.status, 201, r.body.toString());
    const certs = r.json<{ certificates: Array<{ kind: string; serialNumber: string }> }>().certificates;
    return { resident, sign: certs.find((c) => c.kind === "sign")!.serialNumber, auth: certs.find((c) => c.kind === "auth")!.serialNumber };
  };
  const denials = async (): Promise<Array<{ actor: string; subject: string; detail: Record<string, unknown> }>> =>
    (await t.service.db.knex("audit_log").where({ action: "access.denied" }).orderBy("seq")).map((r: Record<string, unknown>) => ({
      actor: String(r.actor),
      subject: String(r.subject),
      detail: (typeof r.detail === "string" ? JSON.parse(r.detail) : r.detail) as Record<string, unknown>,
    }));

  before(async function () {
    t = await startTestService({ name: "objauthz", engine: "pglite" });
    csrs = await cardCsrs(20);
    clerk = await t.login("terminal-operator", "terminal");
    ops = await t.login("ca-operator", "admin");
    // A counter terminal of Osaka (271004), enrolled by the CA operator, with a clerk logged in on it.
    const enrolled = await call(admin(), "POST", "/v1/admin/terminals", {
      token: ops,
      body: { terminalId: `osaka-${process.pid}`, municipalityCode: OTHER_MUNICIPALITY, operatingHours: { open: "00:00", close: "24:00", weekdays: [1, 2, 3, 4, 5, 6, 7], openOnHolidays: true } },
    });
    assert.equal(enrolled.status, 201, enrolled.body.toString());
    const e = enrolled.json<{ certificate: string; privateKey: string }>();
    const creds: ClientCredentials = { ca: t.demo.tlsCa, cert: e.certificate, key: e.privateKey };
    const login = await call(creds, "POST", "/v1/sessions", { body: t.demo.operators["terminal-operator"] });
    assert.equal(login.status, 201, login.body.toString());
    osaka = { creds, token: login.json<{ token: string }>().token };
    foreign = await issueBoth(osaka.creds, osaka.token, newResident(OTHER_MUNICIPALITY));
    for (let i = 0; i < 7; i++) issued.push(await issueBoth(terminal(), clerk, newResident(OWN_MUNICIPALITY)));
    mover = await issueBoth(terminal(), clerk, newResident(OWN_MUNICIPALITY));
  });
  after(async () => {
    await t?.close();
  });

  it("the demo terminal may not read, hold or revoke an Osaka resident's certificate: 404 as an unknown serial, each audited", async () => {
    const unknown = await call(terminal(), "GET", "/v1/certificates/7f00000000000000000000000000000001", { token: clerk });
    assert.equal(unknown.status, 404);
    const before = (await denials()).length;
    const attempts = [
      await call(terminal(), "GET", `/v1/certificates/${foreign.sign}`, { token: clerk }),
      await call(terminal(), "POST", `/v1/certificates/${foreign.sign}/hold`, { token: clerk, body: {} }),
      await call(terminal(), "POST", `/v1/certificates/${foreign.sign}/revocation`, { token: clerk, body: { reason: "unspecified" } }),
      await call(terminal(), "POST", `/v1/certificates/${foreign.auth}/revocation`, { token: clerk, body: { reason: "keyCompromise" } }),
    ];
    for (const r of attempts) {
      assert.equal(r.status, 404, r.body.toString());
      assert.deepEqual(r.json(), unknown.json(), "the same body as a serial that does not exist");
      for (const personal of [foreign.resident.name, foreign.resident.address, foreign.resident.residentCode]) assert.ok(!r.body.toString().includes(personal));
    }
    const audited = (await denials()).slice(before);
    assert.deepEqual(
      audited.map((d) => [d.subject, d.detail.operation, d.detail.terminalId]),
      [
        [`certificate:${foreign.sign}`, "read", "demo-terminal-1"],
        [`certificate:${foreign.sign}`, "hold", "demo-terminal-1"],
        [`certificate:${foreign.sign}`, "revoke", "demo-terminal-1"],
        [`certificate:${foreign.auth}`, "revoke", "demo-terminal-1"],
      ],
    );
    assert.ok(audited.every((d) => d.actor === `operator:${t.demo.operators["terminal-operator"].operatorId}`));
    assert.ok(!JSON.stringify(audited).includes(foreign.resident.residentCode), "no personal data in the denial");
    // Nothing changed: Osaka's own terminal still sees it valid.
    const mine = await call(osaka.creds, "GET", `/v1/certificates/${foreign.sign}`, { token: osaka.token });
    assert.equal(mine.status, 200);
    assert.equal(mine.json<{ status: string }>().status, "valid");
  });

  it("its own municipality's residents still: 200 read (no-store), hold, revocation", async () => {
    const [a, b] = [issued[0]!, issued[1]!];
    const read = await call(terminal(), "GET", `/v1/certificates/${a.sign}`, { token: clerk });
    assert.equal(read.status, 200);
    assert.equal(read.headers["cache-control"], "no-store");
    assert.equal((await call(terminal(), "POST", `/v1/certificates/${a.sign}/hold`, { token: clerk, body: {} })).status, 200);
    assert.equal((await call(terminal(), "POST", `/v1/certificates/${b.auth}/revocation`, { token: clerk, body: { reason: "unspecified" } })).status, 200);
  });

  it("issuance: only for the terminal's municipality; a resident on file elsewhere is refused without comparing a field, and audited", async () => {
    // The Osaka resident, applied for at the Shinjuku counter as a Shinjuku resident: the record on file says 271004.
    const asOwn = await issue(terminal(), clerk, application({ ...foreign.resident, municipalityCode: OWN_MUNICIPALITY }, [{ kind: "auth", csr: csrs[0]! }]));
    assert.equal(asOwn.status, 409, asOwn.body.toString());
    assert.equal(asOwn.json<{ field: string }>().field, "residentCode", "no field of the four items is compared");
    // A wrong name gives the very same answer: nothing can be probed field by field.
    const wrongName = await issue(terminal(), clerk, application({ ...foreign.resident, municipalityCode: OWN_MUNICIPALITY, name: "偽名　太郎" }, [{ kind: "auth", csr: csrs[0]! }]));
    assert.deepEqual(wrongName.json(), asOwn.json());
    const last = (await denials()).at(-1);
    assert.deepEqual([last?.detail.operation, last?.detail.terminalId], ["issue", "demo-terminal-1"]);
    // Stating the other municipality: 403 for the terminal's own scope.
    const asOther = await issue(terminal(), clerk, application(foreign.resident, [{ kind: "auth", csr: csrs[0]! }]));
    assert.equal(asOther.status, 403);
    assert.equal(asOther.json<{ field: string }>().field, "municipalityCode");
  });

  it("a body that is empty or not JSON is refused as such (400/415), never as 'another municipality'", async () => {
    const empty = await request(`${t.httpsUrl}/v1/issuances`, { method: "POST", tls: terminal(), headers: { Authorization: `Bearer ${clerk}`, "Idempotency-Key": "objauthz-empty" } });
    assert.equal(empty.status, 400, empty.body.toString());
    const text = await request(`${t.httpsUrl}/v1/issuances`, { method: "POST", tls: terminal(), body: "municipalityCode=271004", headers: { Authorization: `Bearer ${clerk}`, "Idempotency-Key": "objauthz-text", "content-type": "text/plain" } });
    assert.ok(text.status === 415 || text.status === 400, `${text.status}`);
    assert.doesNotMatch(text.body.toString(), /another municipality/);
  });

  it("the CA side reads any resident's certificate with a stated purpose, which is audited", async () => {
    assert.equal((await call(admin(), "GET", `/v1/certificates/${foreign.sign}`, { token: ops })).status, 400, "purpose missing");
    const r = await call(admin(), "GET", `/v1/certificates/${foreign.sign}?purpose=${encodeURIComponent("record error reported by 271004")}`, { token: ops });
    assert.equal(r.status, 200, r.body.toString());
    const row = await t.service.db.knex("audit_log").where({ action: "certificate.read", subject: `certificate:${foreign.sign}` }).orderBy("seq", "desc").first();
    const detail = (typeof row.detail === "string" ? JSON.parse(row.detail) : row.detail) as Record<string, unknown>;
    assert.equal(detail.purpose, "record error reported by 271004");
  });

  it("a terminal must be enrolled for exactly one municipality (400 naming the field)", async () => {
    const r = await call(admin(), "POST", "/v1/admin/terminals", { token: ops, body: { terminalId: `nowhere-${process.pid}` } });
    assert.equal(r.status, 400);
    assert.equal(r.json<{ field: string }>().field, "municipalityCode");
    const badDigit = await call(admin(), "POST", "/v1/admin/terminals", { token: ops, body: { terminalId: `nowhere-${process.pid}`, municipalityCode: "131040" } });
    assert.equal(badDigit.status, 400, "check digit");
  });

  it("a move to another municipality (ADDRESS_CHANGED with its municipalityCode) moves the resident to the new municipality's counters", async () => {
    const demo = join(t.config.varDir, "demo");
    const feed: ClientCredentials = { ca: t.demo.tlsCa, cert: readFileSync(join(demo, "feed.pem"), "utf8"), key: readFileSync(join(demo, "feed.key"), "utf8") };
    const event = (id: string, changes: Record<string, unknown>) => ({
      eventId: `objauthz-move-${process.pid}-${id}`, residentCode: mover.resident.residentCode, type: "ADDRESS_CHANGED",
      effectiveDate: jstToday(), recordedAt: new Date().toISOString(), changes,
    });
    const address = "大阪府大阪市北区中之島一丁目３番２０号";
    const flags = "0".repeat([...address].length);
    // A municipality code with a wrong check digit is rejected with the field named, and changes nothing.
    const bad = await call(feed, "POST", "/v1/resident-events", { body: { events: [event("bad", { address, addressSubstituteFlags: flags, municipalityCode: "271000" })] } });
    assert.equal(bad.status, 200, bad.body.toString());
    const badResult = bad.json<{ results: Array<{ outcome: string; reason?: string }> }>().results[0]!;
    assert.equal(badResult.outcome, "rejected");
    assert.match(badResult.reason ?? "", /municipalityCode/);
    assert.equal((await call(terminal(), "GET", `/v1/certificates/${mover.auth}`, { token: clerk })).status, 200, "still Shinjuku's resident");
    const moved = await call(feed, "POST", "/v1/resident-events", { body: { events: [event("ok", { address, addressSubstituteFlags: flags, municipalityCode: OTHER_MUNICIPALITY })] } });
    assert.equal(moved.status, 200, moved.body.toString());
    const result = moved.json<{ results: Array<{ outcome: string; revoked: string[] }> }>().results[0]!;
    assert.equal(result.outcome, "applied");
    assert.deepEqual(result.revoked, [mover.sign], "a move revokes the signing certificate (its address is stale), not the user-authentication one");
    // The user-authentication certificate now belongs to Osaka's counters, no longer to Shinjuku's.
    assert.equal((await call(terminal(), "GET", `/v1/certificates/${mover.auth}`, { token: clerk })).status, 404);
    const atOsaka = await call(osaka.creds, "GET", `/v1/certificates/${mover.auth}`, { token: osaka.token });
    assert.equal(atOsaka.status, 200, atOsaka.body.toString());
    // Osaka's counter issues the new signing certificate with the address on file; Shinjuku's may not.
    const renewed = { ...mover.resident, municipalityCode: OTHER_MUNICIPALITY, address };
    const atShinjuku = await issue(terminal(), clerk, application({ ...renewed, municipalityCode: OWN_MUNICIPALITY }, [{ kind: "sign", csr: csrs[csrs.length - 1]! }]));
    assert.equal(atShinjuku.status, 409, atShinjuku.body.toString());
    const newSign = await issue(osaka.creds, osaka.token, application(renewed, [{ kind: "sign", csr: csrs[csrs.length - 1]! }]));
    assert.equal(newSign.status, 201, newSign.body.toString());
  });

  it("mass revocation cannot be split: 6 + 6 in the window → the second needs approval; single revocations count too", async () => {
    const own = issued.slice(2); // 5 residents × 2 certificates, all valid
    const serials = own.flatMap((x) => [x.sign, x.auth]);
    const first = await call(admin(), "POST", "/v1/admin/revocations", { token: ops, body: { serials: serials.slice(0, 6), reason: "affiliationChanged" } });
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(first.json<{ revoked: string[] }>().revoked.length, 6);
    const second = await call(admin(), "POST", "/v1/admin/revocations", { token: ops, body: { serials: [...serials.slice(6), foreign.sign, foreign.auth], reason: "affiliationChanged" } });
    assert.equal(second.status, 202, second.body.toString());
    assert.ok(second.json<{ approvalId: string }>().approvalId);
    // 6 counted: 4 more single revocations pass, the 11th within the hour is refused and points at the approval.
    for (const serial of serials.slice(6, 10)) {
      assert.equal((await call(admin(), "POST", `/v1/certificates/${serial}/revocation`, { token: ops, body: { reason: "affiliationChanged" } })).status, 200);
    }
    const eleventh = await call(admin(), "POST", `/v1/certificates/${foreign.sign}/revocation`, { token: ops, body: { reason: "affiliationChanged" } });
    assert.equal(eleventh.status, 409, eleventh.body.toString());
    assert.match(eleventh.json<{ detail: string }>().detail, /approval/);
    // The window is per operator: the clerk (3 certificates so far, at either counter) still may.
    assert.equal((await call(osaka.creds, "POST", `/v1/certificates/${foreign.auth}/revocation`, { token: osaka.token, body: { reason: "unspecified" } })).status, 200);
  });

  it("refuses to start with an active terminal enrolled without a municipality, naming it (ids only)", async () => {
    const k = t.service.db.knex;
    // A row from before the rule (the constraint of migration 0017 refuses new ones; it is NOT VALID for old rows).
    await assert.rejects(k("terminals").insert(legacyRow("legacy-new")), /terminals_municipality_required/);
    await k.raw("alter table terminals drop constraint terminals_municipality_required");
    try {
      await k("terminals").insert(legacyRow("legacy-7"));
      await assert.rejects(buildHandlers(t.service), (e: Error) => /legacy-7/.test(e.message) && /municipality/.test(e.message) && !/demo-terminal-1/.test(e.message));
    } finally {
      await k("terminals").where({ terminal_id: "legacy-7" }).delete();
      await k.raw("alter table terminals add constraint terminals_municipality_required check (status = 'revoked' or municipality_code is not null) not valid");
    }
  });
});

function legacyRow(id: string): Record<string, unknown> {
  return {
    terminal_id: id,
    municipality_code: null,
    client_cert_serial: `7f${id.length.toString(16).padStart(2, "0")}${"0".repeat(28)}${id.endsWith("7") ? "07" : "08"}`,
    client_cert_fingerprint: id.endsWith("7") ? "AA".repeat(32) : "BB".repeat(32),
    status: "active",
    operating_hours: null,
    enrolled_at: new Date(),
    revoked_at: null,
  };
}
