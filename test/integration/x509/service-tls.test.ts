import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { parseClientIdentity } from "../../../ca/operators/client-identity.js";
import { buildClientCertificate, buildServerCertificate, buildServiceCaCertificate } from "../../../ca/operators/service-ca.js";
import { pem } from "../../../ca/x509/pem.js";
import { MemorySigner } from "../../../hsm/memory-signer.js";
import { openssl, scratchDir, writeCert } from "./openssl.js";

const certPem = (der: Uint8Array): string => pem(der, "CERTIFICATE");
const keyPem = (s: MemorySigner): string => s.keyObject.export({ type: "pkcs8", format: "pem" }) as string;

interface Outcome {
  data: string;
  error?: NodeJS.ErrnoException;
}

/** Connects, reads until the server closes, and reports what came back or what went wrong. */
async function talk(options: tls.ConnectionOptions): Promise<Outcome> {
  return new Promise((resolve) => {
    let data = "";
    let settled = false;
    const done = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const socket = tls.connect(options);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    socket.on("error", (error: NodeJS.ErrnoException) => done({ data, error }));
    socket.on("close", () => done({ data }));
  });
}

/** The service CA's certificates in real TLS: Node as server (client certificates required) and client. */
describe("x509 service CA: mutual TLS on 127.0.0.1", () => {
  const scratch = scratchDir();
  const ca = MemorySigner.generate({ type: "ec", curve: "P-256" });
  const serverKey = MemorySigner.generate({ type: "ec", curve: "P-256" });
  const clientKey = MemorySigner.generate({ type: "rsa", bits: 2048 });
  const strangerCa = MemorySigner.generate({ type: "ec", curve: "P-256" });
  let caDer: Uint8Array;
  let serverDer: Uint8Array;
  let clientDer: Uint8Array;
  let strangerCaDer: Uint8Array;
  let strangerClientDer: Uint8Array;
  let server: tls.Server;
  let port: number;
  const accepted: string[] = [];

  before(async () => {
    caDer = await buildServiceCaCertificate({ signer: ca, serial: 100n });
    serverDer = await buildServerCertificate({ caCertificate: caDer, caSigner: ca, subjectPublicKey: serverKey.publicKey, serial: 101n, dnsNames: ["localhost"], ips: ["127.0.0.1", "::1"] });
    clientDer = await buildClientCertificate({ caCertificate: caDer, caSigner: ca, subjectPublicKey: clientKey.publicKey, serial: 102n, role: "terminal", id: "T-131041-0001", municipalityCode: "131041" });
    strangerCaDer = await buildServiceCaCertificate({ signer: strangerCa, serial: 200n });
    strangerClientDer = await buildClientCertificate({ caCertificate: strangerCaDer, caSigner: strangerCa, subjectPublicKey: clientKey.publicKey, serial: 201n, role: "admin", id: "intruder" });

    server = tls.createServer(
      { key: keyPem(serverKey), cert: certPem(serverDer), ca: certPem(caDer), requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const identity = parseClientIdentity(new Uint8Array(socket.getPeerCertificate().raw));
        accepted.push(identity.id);
        socket.end(JSON.stringify(identity));
      },
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.close();
    scratch.remove();
  });

  it("openssl verifies the server and client certificates for their purposes only", () => {
    const caPath = writeCert(scratch.dir, "tls-ca.pem", caDer);
    const serverPath = writeCert(scratch.dir, "server.pem", serverDer);
    const clientPath = writeCert(scratch.dir, "client.pem", clientDer);
    for (const [purpose, path] of [["sslserver", serverPath], ["sslclient", clientPath]] as const) {
      const r = openssl(["verify", "-x509_strict", "-CAfile", caPath, "-purpose", purpose, path]);
      assert.equal(r.status, 0, r.out);
    }
    assert.notEqual(openssl(["verify", "-x509_strict", "-CAfile", caPath, "-purpose", "sslserver", clientPath]).status, 0, "a client cert is no server cert");
    assert.notEqual(openssl(["verify", "-x509_strict", "-CAfile", caPath, "-purpose", "sslclient", serverPath]).status, 0, "a server cert is no client cert");
    assert.equal(openssl(["verify", "-x509_strict", "-CAfile", caPath, caPath]).status, 0);
  });

  it("a client with its certificate completes the handshake; the server reads its role", async () => {
    const out = await talk({ host: "127.0.0.1", port, ca: certPem(caDer), key: keyPem(clientKey), cert: certPem(clientDer) });
    assert.equal(out.error, undefined, out.error?.message);
    assert.deepEqual(JSON.parse(out.data), { role: "terminal", id: "T-131041-0001", municipalityCode: "131041" });
  });

  it("the server certificate matches the DNS name too", async () => {
    const out = await talk({ host: "127.0.0.1", servername: "localhost", port, ca: certPem(caDer), key: keyPem(clientKey), cert: certPem(clientDer) });
    assert.equal(out.error, undefined, out.error?.message);
    assert.equal(JSON.parse(out.data).role, "terminal");
  });

  it("a connection without a client certificate is refused", async () => {
    const before = accepted.length;
    const out = await talk({ host: "127.0.0.1", port, ca: certPem(caDer) });
    assert.equal(out.data, "");
    assert.equal(accepted.length, before, "the server never accepted it");
    assert.ok(out.error, "the client sees the refusal");
    assert.match(String(out.error.code ?? out.error.message), /CERTIFICATE_REQUIRED|HANDSHAKE|ECONNRESET/);
  });

  it("a client certificate from another CA is refused", async () => {
    const before = accepted.length;
    const out = await talk({ host: "127.0.0.1", port, ca: certPem(caDer), key: keyPem(clientKey), cert: certPem(strangerClientDer) });
    // Node's server destroys the socket after the failed verification (no 'secureConnection');
    // with TLS 1.3 the client may only see the connection close.
    assert.equal(out.data, "");
    assert.equal(accepted.length, before);
  });

  it("a client that trusts another CA refuses the server", async () => {
    const out = await talk({ host: "127.0.0.1", port, ca: certPem(strangerCaDer), key: keyPem(clientKey), cert: certPem(clientDer) });
    assert.ok(out.error);
    assert.match(String(out.error.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it("a host name outside the SAN is refused", async () => {
    const out = await talk({ host: "127.0.0.1", servername: "example.test", port, ca: certPem(caDer), key: keyPem(clientKey), cert: certPem(clientDer) });
    assert.ok(out.error);
    assert.equal(out.error.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });
});
