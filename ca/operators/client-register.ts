import { generateKeyPair as generateKeyPairCallback, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import * as pkijs from "pkijs";
import { certificateFingerprint, normalizeFingerprint } from "./certificate-fingerprint.js";
import { parseClientIdentity } from "./client-identity.js";
import { CaError } from "../errors.js";
import type { OperatorSessionStore } from "./operator-ports.js";
import { actorName, assertActorRole, type Actor } from "./operator-principal.js";
import type { Clock, Random } from "../ports.js";
import { buildClientCertificate } from "./service-ca.js";
import type { AuditStore, TransactionRunner, Tx } from "../stores.js";
import type { ServiceCaMaterial } from "./terminal-registry.js";

const generateKeyPair = promisify(generateKeyPairCallback);

/**
 * The register of admin-workstation and resident-feed client certificates (issue 12 item 2), the
 * counterpart of the terminal register (ca/operators/terminal-registry.ts) and of relying parties. The service
 * CA publishes no CRL, so a certificate it issued is honoured only while the register holds it, active,
 * for its kind and id, with the very fingerprint presented (checked at login and on every request by
 * api/client-register-guard.ts); revoking one ends the operator sessions opened on it.
 *
 * Who administers it: the security officer (告示334号 第4-4: access control to the CA's equipment is the
 * security officer's duty; the same officer manages the operator accounts an admin workstation is
 * useless without). Not the CA operator: a CA operator who could mint admin workstations would control
 * the equipment the four-eyes approvals are given from. The local CLI (root on the CA host) passes.
 */
// "holder-portal": the マイナポータル role relaying holder-signed requests (docs/phone.md).
export type RegisteredClientKind = "admin" | "feed" | "holder-portal";
export const registeredClientKinds: readonly RegisteredClientKind[] = Object.freeze(["admin", "feed", "holder-portal"] as const);
export type ClientCertificateStatus = "active" | "revoked";

export interface ClientCertificateRecord {
  readonly kind: RegisteredClientKind;
  /** The certificate's CN. */
  readonly clientId: string;
  /** Lower-case hex serial, no leading zeros (as api/client-identity.ts reads it). */
  readonly clientCertSerial: string;
  /** Canonical SHA-256 fingerprint (ca/operators/certificate-fingerprint.ts). */
  readonly clientCertFingerprint: string;
  readonly status: ClientCertificateStatus;
  readonly description: string | null;
  readonly enrolledAt: Date;
  readonly revokedAt: Date | null;
}

export type NewClientCertificate = Omit<ClientCertificateRecord, "status" | "revokedAt">;

/** Store port; adapter db/client-certificate-store.ts, double test/support/memory-client-certificates.ts. */
export interface ClientCertificateStore {
  /**
   * Registers a certificate (status active). A revoked (kind, id) may be registered again (the row is
   * replaced); an active one is CaError("conflict"), as is a serial or fingerprint already recorded.
   */
  register(record: NewClientCertificate, tx?: Tx): Promise<void>;
  get(kind: RegisteredClientKind, clientId: string, tx?: Tx): Promise<ClientCertificateRecord | undefined>;
  list(kind?: RegisteredClientKind, tx?: Tx): Promise<ClientCertificateRecord[]>;
  /** active → revoked. False when unknown or already revoked. */
  revoke(kind: RegisteredClientKind, clientId: string, at: Date, tx?: Tx): Promise<boolean>;
}

/**
 * May this admin or feed certificate be used? CaError("forbidden") unless the register holds it, active,
 * with this fingerprint. One message for every case: the answer does not tell an unknown certificate
 * from a revoked or replaced one.
 */
export function assertClientRegistered(record: ClientCertificateRecord | undefined, presented: { readonly fingerprint: string }): void {
  if (record === undefined || record.status !== "active" || record.clientCertFingerprint !== normalizeFingerprint(presented.fingerprint)) {
    throw new CaError("forbidden", "client certificate is not registered, or has been revoked");
  }
}

export interface ClientRegisterDeps {
  readonly store: ClientCertificateStore;
  readonly sessions: Pick<OperatorSessionStore, "endAllOnTerminal">;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  /** Needed by `enrol` only (the ceremony registers certificates it issued itself). */
  readonly serviceCa?: () => ServiceCaMaterial;
}

export interface EnrolledClient {
  readonly record: ClientCertificateRecord;
  /** DER of the client certificate (OU=<kind>, CN=<id>). */
  readonly certificate: Uint8Array;
  /** PKCS#8 DER of its private key: handed over once, never stored. */
  readonly privateKeyPkcs8: Uint8Array;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export class ClientRegister {
  constructor(private readonly deps: ClientRegisterDeps) {}

  /** Issues a client certificate (EC P-256 key made here) and registers it. CaError("conflict") when the id is active. */
  async enrol(actor: Actor, input: { kind: RegisteredClientKind; clientId: string; description?: string | null; validityDays?: number }): Promise<EnrolledClient> {
    assertActorRole(actor, "security-officer");
    checkKindAndId(input.kind, input.clientId);
    const existing = await this.deps.store.get(input.kind, input.clientId);
    if (existing?.status === "active") throw new CaError("conflict", "this client certificate id is registered and active: revoke it first");
    const ca = this.deps.serviceCa?.();
    if (ca === undefined) throw new CaError("unavailable", "the service CA is not available to this process");
    const { publicKey, privateKey } = (await generateKeyPair("ec", { namedCurve: "P-256" })) as { publicKey: KeyObject; privateKey: KeyObject };
    const certificate = await buildClientCertificate({
      caCertificate: ca.certificate,
      caSigner: ca.signer,
      subjectPublicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      serial: BigInt(`0x${this.serial()}`),
      notBefore: this.deps.clock.now(),
      role: input.kind,
      id: input.clientId,
      ...(input.validityDays === undefined ? {} : { validityDays: input.validityDays }),
    });
    const record = await this.register(actor, { kind: input.kind, certificate, description: input.description ?? null });
    return { record, certificate, privateKeyPkcs8: new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" })) };
  }

  /**
   * Registers a client certificate issued elsewhere by the service CA (the ceremony's demo credentials):
   * kind and id are read from its subject and must be `kind`. `replace` first revokes an active
   * registration of the same id (the ceremony re-issuing after a new service CA).
   */
  async register(actor: Actor, input: { kind: RegisteredClientKind; certificate: Uint8Array; description?: string | null; replace?: boolean }): Promise<ClientCertificateRecord> {
    assertActorRole(actor, "security-officer");
    let cert: pkijs.Certificate;
    try {
      cert = pkijs.Certificate.fromBER(input.certificate.slice().buffer);
    } catch (cause) {
      throw new CaError("invalid-input", "client certificate cannot be parsed", { field: "certificate", cause });
    }
    const identity = parseClientIdentity(cert);
    if (identity.role !== input.kind) throw new CaError("invalid-input", `the certificate's OU is ${identity.role}, not ${input.kind}`, { field: "certificate" });
    checkKindAndId(input.kind, identity.id);
    const now = this.deps.clock.now();
    const record: NewClientCertificate = {
      kind: input.kind,
      clientId: identity.id,
      clientCertSerial: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString("hex").replace(/^0+(?=.)/, ""),
      clientCertFingerprint: certificateFingerprint(input.certificate),
      description: input.description ?? null,
      enrolledAt: now,
    };
    await this.deps.transactions.transaction(async (tx) => {
      if (input.replace === true) await this.revokeIn(tx, actor, input.kind, identity.id, now);
      await this.deps.store.register(record, tx);
      await this.deps.audit.append(
        { at: now, action: "client-certificate.registered", actor: actorName(actor), subject: `${input.kind}:${identity.id}`, outcome: "success", detail: { kind: input.kind, serial: record.clientCertSerial } },
        tx,
      );
    });
    return { ...record, status: "active", revokedAt: null };
  }

  /** Revokes a registration and ends the sessions opened on its certificate. CaError("not-found") when none is active. */
  async revoke(actor: Actor, kind: RegisteredClientKind, clientId: string): Promise<void> {
    assertActorRole(actor, "security-officer");
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      if (!(await this.revokeIn(tx, actor, kind, clientId, now))) throw new CaError("not-found", "no active client certificate with this kind and id");
    });
  }

  list(kind?: RegisteredClientKind): Promise<ClientCertificateRecord[]> {
    return this.deps.store.list(kind);
  }

  /** Revokes an active registration inside `tx`, ends its sessions, audits; false when none was active. */
  private async revokeIn(tx: Tx, actor: Actor, kind: RegisteredClientKind, clientId: string, now: Date): Promise<boolean> {
    const r = await this.deps.store.get(kind, clientId, tx);
    if (r === undefined || !(await this.deps.store.revoke(kind, clientId, now, tx))) return false;
    const ended = await this.deps.sessions.endAllOnTerminal(r.clientCertFingerprint, now, tx);
    await this.deps.audit.append(
      { at: now, action: "client-certificate.revoked", actor: actorName(actor), subject: `${kind}:${clientId}`, outcome: "success", detail: { kind, serial: r.clientCertSerial, sessionsEnded: ended } },
      tx,
    );
    return true;
  }

  /** 16 random octets, first 0x40–0x7F: positive, no leading zero (see TerminalRegistry). */
  private serial(): string {
    const b = Uint8Array.from(this.deps.random.bytes(16));
    if (b.length !== 16) throw new CaError("internal", "Random returned the wrong number of bytes");
    b[0] = (b[0]! & 0x3f) | 0x40;
    return Buffer.from(b).toString("hex");
  }
}

function checkKindAndId(kind: string, id: string): void {
  if (!(registeredClientKinds as readonly string[]).includes(kind)) throw new CaError("invalid-input", "kind must be admin, feed or holder-portal", { field: "kind" });
  if (!ID.test(id)) throw new CaError("invalid-input", "client id must be 1–64 of [A-Za-z0-9._:-]", { field: "clientId" });
}
