/**
 * A CA generation with real end-entity certificates in a test database, for the CRL integration tests:
 * a MemorySigner CA (end-entity-fixtures.ts), its `ca_generations` row, certificates issued through
 * EndEntityIssuer and stored through KnexCertificateStore, and revocations written the way the
 * revocation service writes them (status change + outbox row in one transaction, docs/design.md invariant 3).
 */
import { EndEntityIssuer } from "../../ca/issuance/end-entity-issuer.js";
import { FixedClock, type Clock } from "../../ca/ports.js";
import { generateSubjectId } from "../../ca/profiles/subject-id.js";
import { sha256Hex } from "../../ca/sha256.js";
import type { CaGeneration, CaId, RevocationReason } from "../../ca/types.js";
import { createCrlService, type CrlService } from "../../crl/crl-service.js";
import { parseCrlSettings, type CrlSettings } from "../../crl/crl-settings.js";
import { KnexCaGenerationStore } from "../../db/ca-generation-store.js";
import { KnexCertificateStore } from "../../db/certificate-store.js";
import { KnexCrlStore } from "../../db/crl-store.js";
import type { Database } from "../../db/database.js";
import { KnexOutboxStore } from "../../db/outbox-store.js";
import { MemorySigner } from "../../hsm/memory-signer.js";
import { makeTestCa, publicBaseUrl, samplePersonal, SeededRandom, templateContext, type TestCa } from "./end-entity-fixtures.js";

export interface IssuedTestCertificate {
  readonly serial: string;
  readonly partition: number;
  readonly der: Uint8Array;
}

export interface CrlWorld {
  readonly ca: TestCa;
  readonly generation: CaGeneration;
  readonly caId: CaId;
  readonly issuer: EndEntityIssuer;
  readonly certificates: KnexCertificateStore;
  readonly outbox: KnexOutboxStore;
  /** Issues and stores one valid certificate (optionally until `notAfter`). */
  issue(options?: { notAfter?: Date; notBefore?: Date }): Promise<IssuedTestCertificate>;
  /** Revokes (or holds) it and writes the outbox row, in one transaction. */
  revoke(serial: string, reason: RevocationReason, at: Date, invalidityDate?: Date | null): Promise<void>;
  hold(serial: string, at: Date): Promise<void>;
  /** A CRL service on `db` (another Database handle on the same database = another node). */
  crl(db: Database, options?: { settings?: Partial<CrlSettings>; clock?: Clock; owner?: string }): CrlService & { store: KnexCrlStore };
}

/** Inserts the CA generation and returns the world. The CA is `sign-g1` with `partitionCount` partitions. */
export async function createCrlWorld(db: Database, options: { partitionCount?: number; ca?: TestCa; seed?: number } = {}): Promise<CrlWorld> {
  const partitionCount = options.partitionCount ?? 4;
  const ca = options.ca ?? (await makeTestCa("sign"));
  const caId: CaId = "sign-g1";
  const generation: CaGeneration = {
    id: caId,
    kind: "sign",
    generation: 1,
    keyAlgorithm: "RSA-2048",
    signatureAlgorithm: ca.signer.algorithm,
    keyUri: "pkcs11:token=test;object=sign-g1;type=private",
    certificate: ca.certificate,
    serialPrefix: 0x11,
    partitionCount,
    status: "active",
    ocspResponderCertificate: null,
    ocspResponderKeyUri: null,
    createdAt: new Date("2026-01-05T00:00:00Z"),
  };
  const generations = new KnexCaGenerationStore(db);
  if (!(await generations.get(caId))) await generations.insert(generation);
  const issuer = EndEntityIssuer.create(templateContext(ca, { partitionCount }));
  const certificates = new KnexCertificateStore(db);
  const outbox = new KnexOutboxStore(db);
  const rng = new SeededRandom(options.seed ?? 2026);
  const subjectKey = MemorySigner.generate({ type: "ec", curve: "P-256" }).publicKey;

  const world: CrlWorld = {
    ca,
    generation,
    caId,
    issuer,
    certificates,
    outbox,
    async issue(o = {}) {
      const serial = `11${Buffer.from(rng.bytes(15)).toString("hex")}`;
      const partition = issuer.partitionOf(serial);
      const notBefore = o.notBefore ?? new Date("2026-11-01T00:00:00Z");
      const notAfter = o.notAfter ?? new Date("2031-02-17T14:59:59Z");
      const tbs = issuer.prepare({
        serialHex: serial,
        partition,
        notBefore,
        notAfter,
        subjectId: generateSubjectId(rng),
        subjectPublicKey: subjectKey,
        locality: { prefecture: "Tokyo", municipality: "Shinjuku-ku" },
        personal: samplePersonal,
      });
      await certificates.insertPending({
        serial,
        caId,
        kind: "sign",
        notBefore,
        notAfter,
        partition,
        tbs,
        publicKeySha256: sha256Hex(serial),
        subjectId: generateSubjectId(rng),
        residentCode: null,
        issuanceId: null,
        recorded: {},
        createdAt: notBefore,
      });
      const der = issuer.finish(tbs, await ca.signer.sign(tbs));
      await certificates.completeIssued(serial, der);
      return { serial, partition, der };
    },
    async revoke(serial, reason, at, invalidityDate = null) {
      const cert = await certificates.get(serial);
      if (!cert) throw new Error(`no certificate ${serial}`);
      const status = reason === "certificateHold" ? "hold" : "revoked";
      await db.transaction(async (tx) => {
        if (!(await certificates.revoke(serial, { status, reason, revokedAt: at, invalidityDate }, tx))) throw new Error(`${serial} not revocable`);
        await outbox.add(status === "hold" ? "certificate.held" : "certificate.revoked", { serial, caId, partition: cert.partition }, tx);
      });
    },
    async hold(serial, at) {
      await world.revoke(serial, "certificateHold", at);
    },
    crl(handle, o = {}) {
      const store = new KnexCrlStore(handle);
      const service = createCrlService({
        store,
        outbox: new KnexOutboxStore(handle),
        transactions: handle,
        generations: [generation],
        signers: new Map([[caId, ca.signer]]),
        crlBaseUrl: publicBaseUrl,
        clock: o.clock ?? new FixedClock(new Date()),
        settings: parseCrlSettings({ coalesceSeconds: 0, ...o.settings }),
        ...(o.owner ? { owner: o.owner } : {}),
      });
      return Object.assign(service, { store });
    },
  };
  return world;
}
