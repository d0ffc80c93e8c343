import assert from "node:assert/strict";
import { operatorAuthOf } from "../../cli/operator-commands.js";
import { request, requestJson, type HttpAnswer } from "../support/https-client.js";
import type { TestService } from "../support/service-harness.js";
import {
  assertNoPersonalDataInLogs,
  application,
  assertProblem,
  csrPemOf,
  derOfPem,
  issuanceClient,
  jstToday,
  resident,
  startIssuanceService,
  weakCardKey,
  type CardKey,
  type IssuanceAnswer,
  type IssuedCertificate,
} from "./support/issuance-e2e.js";

/**
 * docs/api.md §4 issuance end to end, refused: malformed or unacceptable applications, missing
 * credentials and a locked operator, each answered with an RFC 7807 problem that names the field and
 * echoes no personal data, the service staying ready; then the captured service log is searched for the
 * personal data that went through this file's service. One service instance for the whole file.
 */

describe("e2e: issuance over HTTPS (PostgreSQL + SoftHSM + openssl)", function () {
  this.timeout(60_000);
  let t: TestService;
  let token: string;
  let keys: CardKey[];
  let weakKey: CardKey;
  let sign: IssuedCertificate;
  const { issue, getCertificate } = issuanceClient(() => ({ t, token }));

  before(async function () {
    ({ t, keys } = await startIssuanceService(this, "e2e-issuance-bad", 6));
    weakKey = weakCardKey();
    token = await t.login("terminal-operator");
    // One accepted application: the session test reads its signing certificate back, and the log test
    // needs a 201 that carried the resident's personal data through the service.
    const res = await issue(application([{ kind: "auth", csr: keys[1]!.csr }, { kind: "sign", csr: keys[2]!.csr }]));
    assert.equal(res.status, 201, res.body.toString("utf8"));
    sign = res.json<IssuanceAnswer>().certificates[1]!;
  });
  after(async () => {
    await t?.close();
  });

  describe("bad input: a 4xx problem naming the field, and the service stays ready", () => {
    // keys[0] is in no certificate of this file's service: every case below must be refused for its own
    // reason (one that is not would issue a certificate, and fail on the status).
    const good = (): string => keys[0]!.csr;
    afterEach(async () => {
      const ready = await request(`${t.httpUrl}/readyz`);
      assert.equal(ready.status, 200, ready.body.toString("utf8"));
    });

    it("a CSR whose signature does not verify (one byte of the signature changed) → 422 requests[1].csr", async () => {
      const der = derOfPem(keys[3]!.csr);
      der.writeUInt8(der.readUInt8(der.length - 5) ^ 0x01, der.length - 5);
      const body = application([{ kind: "auth", csr: good() }, { kind: "sign", csr: csrPemOf(der) }], { residentCode: "44444444444" });
      const p = assertProblem(await issue(body), 422, "requests[1].csr");
      assert.match(String(p.detail), /signature does not verify/);
    });

    it("a truncated DER CSR → 400 requests[0].csr", async () => {
      const der = derOfPem(good());
      const body = application([{ kind: "auth", csr: csrPemOf(der.subarray(0, der.length - 40)) }], { residentCode: "44444444444" });
      assertProblem(await issue(body), 400, "requests[0].csr");
    });

    it("a 1 MB body → 413", async () => {
      const body = { ...application([{ kind: "auth", csr: good() }]), padding: "x".repeat(1024 * 1024) };
      assertProblem(await issue(body), 413);
    });

    it("a 1024-bit RSA key → 422 requests[0].csr", async () => {
      const body = application([{ kind: "auth", csr: weakKey.csr }], { residentCode: "44444444444" });
      const p = assertProblem(await issue(body), 422, "requests[0].csr");
      assert.match(String(p.detail), /2048/);
    });

    it("a signing certificate for a 14-year-old → 422 resident.dateOfBirth", async () => {
      const today = jstToday();
      const dob = `${Number(today.slice(0, 4)) - 14}${today.slice(4)}`; // 14 today
      // keys[5]: in no certificate, so the age rule is what refuses it.
      const body = application([{ kind: "auth", csr: good() }, { kind: "sign", csr: keys[5]!.csr }], { residentCode: "55555555555", resident: resident({ dateOfBirth: dob }) });
      assertProblem(await issue(body), 422, "resident.dateOfBirth");
      // All or nothing: no resident record, no issuance, no certificate row was left behind.
      const knex = t.service.db.knex;
      for (const table of ["residents", "issuances", "certificates"]) {
        assert.deepEqual(await knex(table).where({ resident_code: "55555555555" }).count({ n: "*" }), [{ n: 0 }], table);
      }
    });

    it("name substitute flags of the wrong length → 400 resident.nameSubstituteFlags", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ nameSubstituteFlags: "0000" }) })), 400, "resident.nameSubstituteFlags");
    });

    it("gender 4 → 400 resident.gender", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ gender: 4 }) })), 400, "resident.gender");
    });

    it("a half-width name → 400 resident.name", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }], { resident: resident({ name: "Yamada Taro", nameSubstituteFlags: "00000000000" }) })), 400, "resident.name");
    });

    it("an application for another municipality than the terminal's → 403 municipalityCode", async () => {
      // 011002: Sapporo, a valid JIS X 0402 code; the demo terminal is enrolled for 131041.
      assertProblem(await issue({ ...application([{ kind: "auth", csr: good() }]), municipalityCode: "011002" }), 403, "municipalityCode");
    });

    it("a missing Idempotency-Key → 400 Idempotency-Key", async () => {
      assertProblem(await issue(application([{ kind: "auth", csr: good() }]), { key: null }), 400, "Idempotency-Key");
    });

    it("no operator session → 401", async () => {
      const res = await issue(application([{ kind: "auth", csr: good() }]), { token: null });
      assertProblem(res, 401);
      assert.match(String(res.headers["www-authenticate"]), /^Bearer /);
    });

    it("a wrong password three times → 401, 401, 401 (locked, issue 12: same answer); then the right one is refused too", async () => {
      const { oneTimePassword } = await operatorAuthOf(t.service).addOperator("cli", { operatorId: "e2e-lockout", roles: ["terminal-operator"], ready: true });
      assert.ok(oneTimePassword);
      const login = (password: string): Promise<HttpAnswer> => requestJson(`${t.httpsUrl}/v1/sessions`, "POST", { operatorId: "e2e-lockout", password }, t.tls("terminal"));
      // The right password works before the failures (it is not the password that is wrong later).
      assert.equal((await login(oneTimePassword)).status, 201);
      assertProblem(await login("wrong-password-1"), 401);
      assertProblem(await login("wrong-password-2"), 401);
      assertProblem(await login("wrong-password-3"), 401);
      assertProblem(await login(oneTimePassword), 401);
      assert.notEqual((await t.service.stores.operators.get("e2e-lockout"))?.lockedAt, null);
      // The demo operator is not affected.
      assert.match(await t.login("terminal-operator"), /^[A-Za-z0-9_-]{43}$/);
    });

    it("an HTTPS request without a client certificate is refused at the TLS handshake", async () => {
      await assert.rejects(
        request(`${t.httpsUrl}/v1/issuances`, { method: "POST", body: "{}", headers: { "content-type": "application/json" }, tls: t.tls("none") }),
        // TLS 1.3: the server's certificate_required alert (116); TLS 1.2: handshake_failure; or the reset after it.
        (e: NodeJS.ErrnoException) => /^(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE|ECONNRESET)$/.test(String(e.code)),
      );
    });

    it("a session token presented with another client certificate (the admin workstation's) → 401", async () => {
      // The same request works from the terminal the session was opened on…
      assert.equal((await getCertificate(sign.serialNumber)).status, 200);
      // …and not from another client certificate.
      assertProblem(await getCertificate(sign.serialNumber, { client: "admin" }), 401);
      // An issuance from the admin workstation is refused by role before any session check.
      assertProblem(await issue(application([{ kind: "auth", csr: good() }]), { client: "admin" }), 403);
    });
  });

  describe("logs", () => {
    it("the service log (debug level) never carries the name, address, date of birth or resident code", () => {
      assertNoPersonalDataInLogs(t.logs());
    });
  });
});
