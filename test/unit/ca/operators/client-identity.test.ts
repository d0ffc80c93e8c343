import assert from "node:assert/strict";
import * as pkijs from "pkijs";
import { clientSubject, parseClientIdentity, serviceRoles } from "../../../../ca/operators/client-identity.js";
import { CaError } from "../../../../ca/errors.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../../ca/operators/service-ca.js";
import { encodeName, formatName } from "../../../../ca/x509/name.js";
import { signCertificate } from "../../../../ca/x509/signed-certificate.js";
import { buildTbsCertificate } from "../../../../ca/x509/tbs-certificate.js";
import { MemorySigner } from "../../../../hsm/memory-signer.js";

describe("ca/client-identity", () => {
  let caSigner: MemorySigner;
  let caDer: Uint8Array;
  let leaf: MemorySigner;
  before(async () => {
    caSigner = MemorySigner.generate({ type: "ec", curve: "P-256" });
    leaf = MemorySigner.generate({ type: "ec", curve: "P-256" });
    caDer = await buildServiceCaCertificate({ signer: caSigner, serial: 1n, notBefore: new Date("2026-01-01T00:00:00Z") });
  });
  const client = (role: (typeof serviceRoles)[number], id: string, municipalityCode?: string): Promise<Uint8Array> =>
    buildClientCertificate({
      caCertificate: caDer,
      caSigner,
      subjectPublicKey: leaf.publicKey,
      serial: 2n,
      notBefore: new Date("2026-01-02T00:00:00Z"),
      role,
      id,
      ...(municipalityCode === undefined ? {} : { municipalityCode }),
    });

  it("round-trips every role through a certificate, DER or pkijs", async () => {
    for (const role of serviceRoles) {
      const der = await client(role, `${role}-01`);
      assert.deepEqual(parseClientIdentity(der), { role, id: `${role}-01` });
      assert.deepEqual(parseClientIdentity(pkijs.Certificate.fromBER(der.slice().buffer)), { role, id: `${role}-01` });
    }
  });

  it("puts the role in OU and the municipality code in L", async () => {
    const der = await client("terminal", "T-131041-0007", "131041");
    const cert = pkijs.Certificate.fromBER(der.slice().buffer);
    assert.equal(formatName(cert.subject), "C=JP, L=131041, O=JPKI CA Service, OU=terminal, CN=T-131041-0007");
    assert.deepEqual(parseClientIdentity(der), { role: "terminal", id: "T-131041-0007", municipalityCode: "131041" });
  });

  it("refuses bad identities when building", () => {
    assert.throws(() => clientSubject({ role: "root" as "admin", id: "x" }), CaError);
    assert.throws(() => clientSubject({ role: "admin", id: "" }), CaError);
    assert.throws(() => clientSubject({ role: "admin", id: "a b" }), CaError);
    assert.throws(() => clientSubject({ role: "terminal", id: "t1", municipalityCode: "13104" }), CaError);
  });

  it("refuses certificates that do not follow the convention", async () => {
    const issue = async (subject: Parameters<typeof encodeName>[0]): Promise<Uint8Array> =>
      signCertificate(
        buildTbsCertificate({
          serial: 3n,
          issuer: encodeName([{ type: "CN", value: "x" }]),
          subject: encodeName(subject),
          notBefore: new Date("2026-01-01T00:00:00Z"),
          notAfter: new Date("2027-01-01T00:00:00Z"),
          subjectPublicKey: leaf.publicKey,
          extensions: [],
        }),
        caSigner,
        { issuerPublicKey: caSigner.publicKey },
      );
    const unauthenticated = (e: unknown): boolean => e instanceof CaError && e.kind === "unauthenticated";
    const base = [{ type: "C", value: "JP" }, { type: "O", value: "JPKI CA Service" }];
    assert.throws(() => parseClientIdentity(Uint8Array.of(1, 2)), unauthenticated);
    for (const subject of [
      [...base, { type: "OU", value: "root" }, { type: "CN", value: "x" }], // unknown role
      [...base, { type: "CN", value: "x" }], // no OU
      [...base, { type: "OU", value: "admin" }, { type: "OU", value: "feed" }, { type: "CN", value: "x" }], // two OUs
      [{ type: "C", value: "JP" }, { type: "O", value: "Other" }, { type: "OU", value: "admin" }, { type: "CN", value: "x" }],
      [...base, { type: "OU", value: "admin" }], // no CN
    ]) {
      const der = await issue(subject);
      assert.throws(() => parseClientIdentity(der), unauthenticated, formatName(encodeName(subject)));
    }
  });

  it("a server certificate is not a client identity", async () => {
    const der = await buildServerCertificate({ caCertificate: caDer, caSigner, subjectPublicKey: leaf.publicKey, serial: 4n, dnsNames: ["localhost"], ips: [] });
    assert.throws(() => parseClientIdentity(der), CaError);
  });
});
