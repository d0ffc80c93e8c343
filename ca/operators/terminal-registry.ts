import { generateKeyPair as generateKeyPairCallback, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { certificateFingerprint } from "./certificate-fingerprint.js";
import { CaError } from "../errors.js";
import type { OperatingSchedule } from "./operating-hours.js";
import type { OperatorSessionStore, TerminalRecord, TerminalStore } from "./operator-ports.js";
import { actorName, assertActorRole, type Actor } from "./operator-principal.js";
import type { Clock, Random, Signer } from "../ports.js";
import { isMunicipalityCode } from "../residents/resident-fields.js";
import { buildClientCertificate } from "./service-ca.js";
import type { AuditStore, TransactionRunner } from "../stores.js";

const generateKeyPair = promisify(generateKeyPairCallback);

/** The internal service CA that issues mTLS client certificates (ca/operators/service-ca.ts). */
export interface ServiceCaMaterial {
  readonly signer: Signer;
  /** DER of the service CA certificate. */
  readonly certificate: Uint8Array;
}

export interface TerminalRegistryDeps {
  readonly terminals: TerminalStore;
  readonly sessions: Pick<OperatorSessionStore, "endAllOnTerminal">;
  readonly audit: Pick<AuditStore, "append">;
  readonly transactions: TransactionRunner;
  readonly clock: Clock;
  readonly random: Random;
  readonly serviceCa: ServiceCaMaterial;
}

export interface EnrolTerminalInput {
  readonly terminalId: string;
  /**
   * 6-digit 全国地方公共団体コード (check digit verified), written into the certificate's L. Required:
   * a terminal acts for exactly one municipality (issue 12 §1, ca/access/resident-access.ts).
   */
  readonly municipalityCode: string;
  /** null / absent = the default schedule. */
  readonly operatingHours?: OperatingSchedule | null;
  /** Default 397 days (ca/operators/service-ca.ts). */
  readonly validityDays?: number;
}

export interface EnrolledTerminal {
  readonly record: TerminalRecord;
  /** DER of the terminal's client certificate (OU=terminal, CN=<terminalId>). */
  readonly certificate: Uint8Array;
  /** The terminal's private key: PKCS#8 DER. Handed over once, never stored here. */
  readonly privateKeyPkcs8: Uint8Array;
}

/**
 * Enrolment and revocation of counter terminals (docs/api.md §7 `POST/DELETE /v1/admin/terminals`, CA
 * operator; the CLI `terminal enrol|revoke`). The terminal key is an EC P-256 key made in software:
 * it goes to the terminal (a TLS client key Node's TLS stack must read), never to the CA's HSM.
 */
export class TerminalRegistry {
  constructor(private readonly deps: TerminalRegistryDeps) {}

  /** Issues a client certificate and records the terminal. CaError("conflict") when the id is enrolled and active. */
  async enrol(actor: Actor, input: EnrolTerminalInput): Promise<EnrolledTerminal> {
    assertActorRole(actor, "ca-operator");
    if (typeof input.municipalityCode !== "string" || !isMunicipalityCode(input.municipalityCode)) {
      throw new CaError("invalid-input", "municipalityCode is required: the 6-digit code (with its check digit) of the one municipality the terminal serves", { field: "municipalityCode" });
    }
    const existing = await this.deps.terminals.get(input.terminalId);
    if (existing?.status === "active") throw new CaError("conflict", "terminal is already enrolled and active: revoke it first");
    const now = this.deps.clock.now();
    const { publicKey, privateKey } = (await generateKeyPair("ec", { namedCurve: "P-256" })) as { publicKey: KeyObject; privateKey: KeyObject };
    const serial = this.serial();
    const certificate = await buildClientCertificate({
      caCertificate: this.deps.serviceCa.certificate,
      caSigner: this.deps.serviceCa.signer,
      subjectPublicKey: new Uint8Array(publicKey.export({ type: "spki", format: "der" })),
      serial: BigInt(`0x${serial}`),
      notBefore: now,
      role: "terminal",
      id: input.terminalId, // checked by clientSubject: 1–64 of [A-Za-z0-9._:-]
      municipalityCode: input.municipalityCode,
      ...(input.validityDays === undefined ? {} : { validityDays: input.validityDays }),
    });
    const record: TerminalRecord = {
      terminalId: input.terminalId,
      municipalityCode: input.municipalityCode,
      clientCertSerial: serial,
      clientCertFingerprint: certificateFingerprint(certificate),
      status: "active",
      operatingHours: input.operatingHours ?? null,
      enrolledAt: now,
      revokedAt: null,
    };
    await this.deps.transactions.transaction(async (tx) => {
      await this.deps.terminals.enrol(record, tx);
      await this.deps.audit.append(
        { at: now, action: "terminal.enrolled", actor: actorName(actor), subject: `terminal:${input.terminalId}`, outcome: "success", detail: { serial, municipalityCode: record.municipalityCode } },
        tx,
      );
    });
    return { record, certificate, privateKeyPkcs8: new Uint8Array(privateKey.export({ type: "pkcs8", format: "der" })) };
  }

  /** Revokes a terminal and ends the sessions opened on it. CaError("not-found") when no active terminal has this id. */
  async revoke(actor: Actor, terminalId: string): Promise<void> {
    assertActorRole(actor, "ca-operator");
    const now = this.deps.clock.now();
    await this.deps.transactions.transaction(async (tx) => {
      const t = await this.deps.terminals.get(terminalId, tx);
      if (t === undefined || !(await this.deps.terminals.revoke(terminalId, now, tx))) throw new CaError("not-found", "no active terminal with this id");
      const ended = await this.deps.sessions.endAllOnTerminal(t.clientCertFingerprint, now, tx);
      await this.deps.audit.append(
        { at: now, action: "terminal.revoked", actor: actorName(actor), subject: `terminal:${terminalId}`, outcome: "success", detail: { serial: t.clientCertSerial, sessionsEnded: ended } },
        tx,
      );
    });
  }

  /**
   * 16 random octets, first octet 0x40–0x7F: positive, no leading zero, so the hex is exactly the
   * DER INTEGER content and equals the `serial` the TLS layer reports (api/client-identity.ts).
   */
  private serial(): string {
    const b = this.deps.random.bytes(16);
    if (b.length !== 16) throw new CaError("internal", "Random returned the wrong number of bytes");
    const octets = Uint8Array.from(b);
    octets[0] = (octets[0]! & 0x3f) | 0x40;
    return Buffer.from(octets).toString("hex");
  }
}
