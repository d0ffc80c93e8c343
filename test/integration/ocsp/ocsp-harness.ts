/**
 * A running OCSP endpoint for integration tests and the benchmark: the Koa app from createApp with
 * the OCSP routes, on a real listener at 127.0.0.1:0, a SoftHSM test token holding the delegated
 * responder key (P-256), PGlite or PostgreSQL, and the pre-signer consuming the outbox.
 * The CA key itself is a software key (MemorySigner): it only signs test certificates.
 *
 * SoftHSM trap (test/support/softhsm.ts): call startOcspEndpoint in `before()` before anything else
 * opens a Pkcs11Hsm in the process, and `close()` it in `after()`.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type Koa from "koa";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createApp } from "../../../api/app.js";
import { createLogger } from "../../../api/logger.js";
import { Metrics } from "../../../api/metrics.js";
import { ocspFastPath, ocspRoutes, type OcspRouteDeps } from "../../../api/routes/ocsp.js";
import type { RelyingParty, RelyingPartyAuthenticator } from "../../../ca/relying-parties/relying-party.js";
import { generateSerial, partitionOf } from "../../../ca/issuance/serial.js";
import { systemClock, type Clock } from "../../../ca/ports.js";
import type { RevocationReason } from "../../../ca/types.js";
import { pem } from "../../../ca/x509/pem.js";
import { KnexCaGenerationStore } from "../../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../../db/certificate-store.js";
import { KnexOcspStore } from "../../../db/ocsp-store.js";
import { KnexOutboxStore } from "../../../db/outbox-store.js";
import { KnexAuditStore } from "../../../db/audit-store.js";
import { Pkcs11Hsm } from "../../../hsm/pkcs11-hsm.js";
import type { CertStatusName, OcspResponseStatus } from "../../../ocsp/ocsp-response.js";
import type { OcspMetrics, SignaturePurpose } from "../../../ocsp/ocsp-metrics.js";
import { OcspService, type OcspServiceOptions } from "../../../ocsp/ocsp-service.js";
import { CachedRelyingPartyAuthenticator } from "../../../ocsp/relying-party-cache.js";
import { openTestDatabase, type TestDatabase, type TestEngine } from "../../support/database.js";
import { createTestToken } from "../../support/softhsm.js";
import { makeTestCa, type TestCa } from "../../support/end-entity-fixtures.js";
import { issueCertificate, makeOcspCa, type OcspTestCa } from "../../unit/ocsp/fixtures.js";

/** Counts what the responder reports (the metrics port, as the lead's prom-client adapter would see it). */
export class CountingMetrics implements OcspMetrics {
  readonly responses = new Map<string, number>();
  hits = 0;
  misses = 0;
  oldestAge = -1;
  queueDepthMax = 0;
  readonly signatures = new Map<string, number>();
  countResponse(status: CertStatusName | Exclude<OcspResponseStatus, "successful">): void {
    this.responses.set(status, (this.responses.get(status) ?? 0) + 1);
  }
  countPresignedLookup(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }
  setOldestResponseAge(seconds: number): void {
    this.oldestAge = seconds;
  }
  setSigningQueueDepth(depth: number): void {
    this.queueDepthMax = Math.max(this.queueDepthMax, depth);
  }
  countSignature(purpose: SignaturePurpose): void {
    this.signatures.set(purpose, (this.signatures.get(purpose) ?? 0) + 1);
  }
  stored = -1;
  setStoredResponses(count: number): void {
    this.stored = count;
  }
}

export const TEST_API_KEY = `rp_${"A".repeat(43)}`;

export interface OcspEndpoint {
  readonly url: string;
  readonly dir: string;
  readonly hsm: Pkcs11Hsm;
  readonly db: TestDatabase;
  readonly t: OcspTestCa;
  readonly ocsp: OcspService;
  readonly metrics: CountingMetrics;
  readonly store: KnexOcspStore;
  /** The Koa app and the OCSP route dependencies (to serve the same service on another listener). */
  readonly app: Koa;
  readonly routeDeps: OcspRouteDeps;
  /** PEM files: the CA, the responder certificate, a CA we do not serve. */
  readonly files: { readonly ca: string; readonly responder: string; readonly otherCa: string };
  /** Issues a certificate (recorded valid, outbox row); returns its serial and PEM path. */
  issue(options?: { notAfter?: Date }): Promise<{ serial: string; pemFile: string; der: Uint8Array }>;
  /** Revokes or holds in one transaction with its outbox row (docs/design.md invariant 3). */
  revoke(serial: string, status: "revoked" | "hold", reason: RevocationReason): Promise<void>;
  close(): Promise<void>;
}

export async function startOcspEndpoint(options: {
  name: string;
  engine?: TestEngine;
  mode?: "registered" | "public";
  clock?: Clock;
  ocsp?: Partial<OcspServiceOptions>;
  /** Skip writing PEM files of every issued certificate (bench). */
  noPemFiles?: boolean;
  /** Answer GET /ocsp/… with ocspFastPath before Koa (as the listeners would). */
  fastPath?: boolean;
}): Promise<OcspEndpoint> {
  const token = createTestToken(options.name);
  const dir = join(process.cwd(), "var/test", `${options.name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const clock = options.clock ?? systemClock;
  const hsm = await Pkcs11Hsm.open({ modulePath: token.modulePath, tokenLabel: token.tokenLabel, pin: token.pin, poolSize: 4 });
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true }), () => hsm.close()];
  const close = async (): Promise<void> => {
    while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
  };
  try {
    const key = await hsm.generateKey("auth-g1-ocsp-1", { type: "ec", curve: "P-256" });
    const responderSigner = await hsm.signer(key.uri, "ecdsa-with-SHA256");
    const t = await makeOcspCa({ responder: { signer: responderSigner, uri: key.uri } });
    const other: TestCa = await makeTestCa("sign", { type: "ec", curve: "P-256" }, 7);
    const db = await openTestDatabase(options.engine ?? "pglite");
    cleanups.push(() => db.close());
    const generations = new KnexCaGenerationStore(db.db);
    await generations.insert(t.generation);
    const certificates = new KnexCertificateStore(db.db);
    const outbox = new KnexOutboxStore(db.db);
    const store = new KnexOcspStore(db.db);
    const metrics = new CountingMetrics();
    const logger = createLogger("silent");
    const ocsp = await OcspService.create(
      {
        clock,
        random: { bytes: (n) => new Uint8Array(randomBytes(n)) },
        generations,
        transactions: db.db,
        audit: new KnexAuditStore(db.db),
        outbox,
        responses: store,
        statuses: store,
        accessLog: store,
        signerFor: (uri, alg) => hsm.signer(uri, alg),
        renewal: { keys: hsm, caSigner: async (id) => (id === t.generation.id ? t.ca.signer : undefined) },
        metrics,
        log: logger,
      },
      { accessLog: { flushIntervalMs: 100 }, ...options.ocsp },
    );
    ocsp.start();
    cleanups.push(() => ocsp.stop());

    const parties: RelyingPartyAuthenticator = {
      byApiKey: async (k) => (k === TEST_API_KEY ? ({ id: "rp-test", name: "Test RP", active: true } satisfies RelyingParty) : undefined),
      byCertificateId: async () => undefined,
    };
    const routeDeps: OcspRouteDeps = {
      responder: ocsp.responder,
      recorder: ocsp.accessRecorder,
      access: { mode: options.mode ?? "public", parties: new CachedRelyingPartyAuthenticator(parties, clock) },
      clock,
    };
    const app = createApp({
      logger,
      metrics: new Metrics({ defaultMetrics: false }),
      caGenerations: generations,
      readiness: [],
      publicRouters: [ocspRoutes(routeDeps)],
    });
    const server = http.createServer(options.fastPath ? ocspFastPath(routeDeps, app.callback() as http.RequestListener) : app.callback());
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const files = { ca: join(dir, "ca.pem"), responder: join(dir, "responder.pem"), otherCa: join(dir, "other-ca.pem") };
    writeFileSync(files.ca, pem(t.ca.certificate, "CERTIFICATE"));
    writeFileSync(files.responder, pem(t.generation.ocspResponderCertificate!, "CERTIFICATE"));
    writeFileSync(files.otherCa, pem(other.certificate, "CERTIFICATE"));

    return {
      url,
      dir,
      hsm,
      db,
      t,
      ocsp,
      metrics,
      store,
      app,
      routeDeps,
      files,
      issue: async (o = {}) => {
        const serial = generateSerial(1, { bytes: (n) => new Uint8Array(randomBytes(n)) });
        const now = clock.now();
        const der = await issueCertificate(t, serial, { notBefore: new Date(now.getTime() - 3600_000), ...(o.notAfter ? { notAfter: o.notAfter } : {}) });
        await db.db.transaction(async (tx) => {
          await certificates.insertPending(
            {
              serial,
              caId: t.generation.id,
              kind: "auth",
              notBefore: new Date(now.getTime() - 3600_000),
              notAfter: o.notAfter ?? new Date(now.getTime() + 365 * 86_400_000),
              partition: partitionOf(serial, 16),
              tbs: der,
              publicKeySha256: randomBytes(32).toString("hex"),
              subjectId: "0123456789ABCDEF01234567",
              residentCode: null,
              issuanceId: null,
              recorded: {},
              createdAt: now,
            },
            tx,
          );
          await certificates.completeIssued(serial, der, tx);
          await outbox.add("certificate.issued", { serial, caId: t.generation.id, partition: partitionOf(serial, 16) }, tx);
        });
        const pemFile = join(dir, `${serial}.pem`);
        if (!options.noPemFiles) writeFileSync(pemFile, pem(der, "CERTIFICATE"));
        return { serial, pemFile, der };
      },
      revoke: async (serial, status, reason) => {
        await db.db.transaction(async (tx) => {
          const done = await certificates.revoke(serial, { status, reason, revokedAt: clock.now(), invalidityDate: null }, tx);
          if (!done) throw new Error(`certificate ${serial} not revocable`);
          await outbox.add(status === "hold" ? "certificate.held" : "certificate.revoked", { serial, caId: t.generation.id, partition: partitionOf(serial, 16), reason }, tx);
        });
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
