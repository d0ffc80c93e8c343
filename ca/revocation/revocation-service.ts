/**
 * @packageDocumentation
 * ca/revocation: revoking and holding certificates, and what CRL and OCSP need to follow.
 *
 * - revocation-policy.ts: the decision table — resident change event → which certificates, which reason.
 * - revocation-service.ts (this file): manual revocation and hold by operators, one transaction each.
 * - revocation-safety-valve.ts: the cap between the resident feed and mass revocation.
 * - revocation-window.ts: mass revocation counted per operator over a sliding window.
 * - phone-cascade.ts: phone certificates following the card's, and the port of lifting a phone hold.
 * - outbox.ts: the transactional outbox the CRL and OCSP workers read.
 * - crl-ports.ts, ocsp-ports.ts: what crl/ and ocsp/ need from the database.
 * The CRL partition of a certificate is chosen at issuance: ca/issuance/serial.ts `partitionOf`.
 */
import { CaError } from "../errors.js";
import { actorName, type Actor } from "../operators/operator-principal.js";
import type { OutboxWriter } from "./outbox.js";
import type { Clock } from "../ports.js";
import { assertMayActOnCertificate, assertScopeFitsActor, auditDenials, scopeDetail, type AccessScope, type ResidentMunicipalities } from "../access/resident-access.js";
import { defaultRevocationWindow, remainingInWindow, windowExceeded, type RevocationWindowLimits, type RevocationWindowStore } from "./revocation-window.js";
import type { OperatorRole } from "../operators/roles.js";
import type { AuditStore, CertificateStore, TransactionRunner, Tx } from "../stores.js";
import { revocationReasonCodes, type CaKind, type CertificateRecord, type RevocationReason } from "../types.js";
import { phoneCertificatesFollowing, PHONE_HOLD_LIFTABLE, type CertificateReleaseStore } from "./phone-cascade.js";

/**
 * Manual revocation and hold by operators (docs/domain.md §3, the lines that are not resident events;
 * docs/api.md §4, §6). Each is one transaction: status change + reason + audit entry + outbox row
 * (docs/design.md invariant 3); CRL and OCSP follow from the outbox.
 *
 * - Terminal operators at the counter: the holder's request (`unspecified`) and a reported private-key
 *   compromise (`keyCompromise`).
 * - CA operators: any reason of docs/api.md §6 (e.g. `cACompromise` for certificates of a compromised CA
 *   generation, `affiliationChanged` for a record error found by the CA).
 * - Hold (lost card, 24/7 line): every certificate of the card goes on hold with `certificateHold`.
 *   A hold is never released for card certificates; a later revocation replaces it.
 * Revoking a revoked certificate is a conflict (409); so is holding one already revoked or held.
 *
 * Phone certificates (issue #16 item 1, ca/revocation/phone-cascade.ts): revoking or holding a CARD
 * certificate does the same, in the same transaction and with the same reason, to the resident's phone
 * certificates of the same kind (valid or held; valid for a hold). Each gets its outbox row and an audit
 * entry `certificate.revoked.cascaded` / `certificate.held.cascaded`; the per-operator window counts
 * what it counted before phones existed — the card certificates — not these [U]. Holding a PHONE
 * certificate holds that certificate only (the phone's suspension, 一時利用停止) [U]; a phone user-auth hold
 * is lifted by its holder (`liftPhoneHold`), never a card's.
 *
 * Whose certificate (issue 12 §1, ca/access/resident-access.ts): a counter terminal acts only on certificates
 * of residents of its municipality; any other serial answers 404 as an unknown one and is audited.
 * How many (issue 12 §3, ca/revocation/revocation-window.ts): an operator's revocations and holds are counted
 * over a sliding window; past its limit a revocation needs a second operator's approval (409 here).
 */

/** Reasons by operator role; `certificateHold` only through `hold`. */
export const manualReasonsByRole: Readonly<Partial<Record<OperatorRole, readonly RevocationReason[]>>> = Object.freeze({
  "terminal-operator": Object.freeze(["unspecified", "keyCompromise"] as RevocationReason[]),
  "ca-operator": Object.freeze(["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation"] as RevocationReason[]),
});

/** Roles that may put a card on hold. */
export const holdRoles: readonly OperatorRole[] = Object.freeze(["terminal-operator", "ca-operator"]);

export const MAX_COMMENT_LENGTH = 1000;

/** docs/api.md §6: RFC 5280 names; others (removeFromCRL, privilegeWithdrawn, aACompromise, …) are refused. */
export function parseRevocationReason(value: unknown): RevocationReason {
  if (typeof value !== "string" || !Object.hasOwn(revocationReasonCodes, value)) {
    throw new CaError("invalid-input", `reason must be one of ${Object.keys(revocationReasonCodes).join(", ")}`, { field: "reason" });
  }
  return value as RevocationReason;
}

/** The manual reasons `actor` may give (the CLI, root on the CA host, may give any). */
export function allowedManualReasons(actor: Actor): ReadonlySet<RevocationReason> {
  if (actor === "cli") return new Set(manualReasonsByRole["ca-operator"]);
  return new Set(actor.roles.flatMap((r) => manualReasonsByRole[r] ?? []));
}

export interface ManualRevocationRequest {
  readonly reason: unknown;
  readonly comment?: string | null;
}

export interface RevocationContext {
  /** The client certificate's id (terminal or admin workstation), for the audit entry. */
  readonly clientId?: string;
  /** Whose certificates the request may touch (required: there is no default reach). */
  readonly scope: AccessScope;
  /** Set when a second operator approved this revocation (mass revocation): outside the window. */
  readonly approvalId?: string;
}

export interface RevocationServiceDeps {
  readonly clock: Clock;
  readonly transactions: TransactionRunner;
  readonly certificates: Pick<CertificateStore, "get" | "revoke" | "findLiveByResident">;
  readonly audit: Pick<AuditStore, "append">;
  readonly outbox: OutboxWriter;
  /** The resident's current municipality (object-level authorization). */
  readonly residents: Pick<ResidentMunicipalities, "currentMunicipality">;
  /** The per-operator sliding window, counted in the database. */
  readonly window: RevocationWindowStore;
  /** Default: more than 10 in an hour needs approval. */
  readonly windowLimits?: RevocationWindowLimits;
  /** Lifting a phone user-auth hold (absent: `liftPhoneHold` is refused). */
  readonly releases?: CertificateReleaseStore;
}

/** Options of `liftPhoneHold`. */
export interface LiftPhoneHoldOptions {
  /** The holder portal's client id, for the audit entry. */
  readonly clientId?: string;
  /** The resident the caller proved (the card certificate's): another resident's serial is unknown (404). */
  readonly residentCode?: string;
  /** The request's digest or other reference the route recorded, for the audit entry. */
  readonly requestRef?: string;
  /** Runs in the caller's transaction (the route records its replay protection in the same one). */
  readonly tx?: Tx;
}

export class RevocationService {
  constructor(private readonly deps: RevocationServiceDeps) {}

  /** Revokes one certificate; answers its record after the change. */
  async revoke(actor: Actor, serial: string, request: ManualRevocationRequest, context: RevocationContext): Promise<CertificateRecord> {
    const reason = parseRevocationReason(request.reason);
    if (reason === "certificateHold") throw new CaError("unprocessable", "a hold is requested with POST /v1/certificates/{serial}/hold", { field: "reason" });
    if (!allowedManualReasons(actor).has(reason)) throw new CaError("forbidden", `your roles may not revoke with reason ${reason}`);
    assertScopeFitsActor(actor, context.scope);
    const comment = parseComment(request.comment);
    const now = this.now();
    return auditDenials({ audit: this.deps.audit, clock: this.deps.clock }, actor, context.scope, () => this.deps.transactions.transaction(async (tx) => {
      const cert = await this.load(serial, tx);
      // Whose it is before anything about its state: a 409 would confirm the serial exists.
      await assertMayActOnCertificate(this.deps.residents, context.scope, cert, "revoke", tx);
      if (cert.status === "revoked") throw new CaError("conflict", "the certificate is already revoked");
      if (cert.status === "failed") throw new CaError("conflict", "the certificate was never issued");
      await this.assertWithinWindow(actor, 1, context, now, tx);
      if (!(await this.deps.certificates.revoke(serial, { status: "revoked", reason, revokedAt: now, invalidityDate: null }, tx))) {
        throw new CaError("conflict", "the certificate is already revoked");
      }
      await this.deps.outbox.add("certificate.revoked", { serial, caId: cert.caId, partition: cert.partition, reason }, tx);
      const cascaded = cert.device === "phone" ? [] : await this.cascade(actor, cert, "revoked", reason, new Set([cert.kind]), now, tx);
      await this.deps.audit.append(
        {
          at: now,
          action: "certificate.revoked",
          actor: actorName(actor),
          subject: `certificate:${serial}`,
          outcome: "success",
          detail: {
            reason,
            previousStatus: cert.status,
            caId: cert.caId,
            kind: cert.kind,
            residentCode: cert.residentCode,
            comment,
            clientId: context.clientId ?? null,
            ...(cascaded.length === 0 ? {} : { cascaded }),
            ...scopeDetail(context.scope),
            ...(context.approvalId === undefined ? {} : { approvalId: context.approvalId }),
          },
        },
        tx,
      );
      return (await this.deps.certificates.get(serial, tx))!;
    }));
  }

  /**
   * Lost card: puts the certificate and the resident's other valid certificates (the card holds one of
   * each kind) on hold. Pending rows belong to an issuance in flight, i.e. a replacement card, and are
   * left alone unless named. Answers every certificate put on hold.
   */
  async hold(actor: Actor, serial: string, request: { readonly comment?: string | null }, context: RevocationContext): Promise<CertificateRecord[]> {
    if (actor !== "cli" && !actor.roles.some((r) => holdRoles.includes(r))) throw new CaError("forbidden", `a hold needs the operator role ${holdRoles.join(" or ")}`);
    assertScopeFitsActor(actor, context.scope);
    const comment = parseComment(request.comment);
    const now = this.now();
    return auditDenials({ audit: this.deps.audit, clock: this.deps.clock }, actor, context.scope, () => this.deps.transactions.transaction(async (tx) => {
      const target = await this.load(serial, tx);
      await assertMayActOnCertificate(this.deps.residents, context.scope, target, "hold", tx);
      if (target.status === "revoked") throw new CaError("conflict", "the certificate is revoked; a hold cannot replace a revocation");
      if (target.status === "failed") throw new CaError("conflict", "the certificate was never issued");
      const resident = target.residentCode === null || target.device === "phone" ? [target] : await this.deps.certificates.findLiveByResident(target.residentCode, tx);
      const card = resident.filter((c) => c.serial === serial || (c.status === "valid" && c.device !== "phone"));
      await this.assertWithinWindow(actor, card.filter((c) => c.status === "valid" || c.status === "pending").length, context, now, tx);
      const held: CertificateRecord[] = [];
      for (const cert of card) {
        if (cert.status !== "valid" && cert.status !== "pending") continue;
        if (!(await this.deps.certificates.revoke(cert.serial, { status: "hold", reason: "certificateHold", revokedAt: now, invalidityDate: null }, tx))) continue;
        await this.deps.outbox.add("certificate.held", { serial: cert.serial, caId: cert.caId, partition: cert.partition, reason: "certificateHold" }, tx);
        held.push(cert);
      }
      if (held.length === 0) throw new CaError("conflict", "the card's certificates are already on hold");
      const cascaded = target.device === "phone" ? [] : await this.cascade(actor, target, "hold", "certificateHold", new Set(held.map((c) => c.kind)), now, tx, resident);
      await this.deps.audit.append(
        {
          at: now,
          action: "certificate.held",
          actor: actorName(actor),
          subject: `certificate:${serial}`,
          outcome: "success",
          // `serials`: what the per-operator window counts (db/revocation-window-store.ts); `cascaded`: the phone's.
          detail: {
            serials: held.map((c) => c.serial),
            ...(cascaded.length === 0 ? {} : { cascaded }),
            residentCode: target.residentCode,
            comment,
            clientId: context.clientId ?? null,
            ...scopeDetail(context.scope),
          },
        },
        tx,
      );
      const out: CertificateRecord[] = [];
      for (const c of [...held.map((h) => h.serial), ...cascaded]) out.push((await this.deps.certificates.get(c, tx))!);
      return out;
    }));
  }

  /**
   * Lifts the hold of a phone user-auth certificate (issue #16 item 1: the phone's suspension can be
   * lifted, a card's hold never): hold → valid, revocation time and reason cleared, the status version
   * raised (OCSP answers good again: ca/revocation/ocsp-ports.ts `isNotOlderThan`; a delta CRL lists it
   * with removeFromCRL: crl/released-entries.ts), an outbox row `certificate.released` and an audit entry,
   * in one transaction (docs/design.md invariant 3). Called by the holder's signed route after it checked
   * the card signature; `actor` names the holder (e.g. `holder:<card serial>`), or is the CLI. An operator
   * may place a phone hold but not lift it [U]. Anything but a held phone user-auth certificate is a
   * CaError naming `serial`.
   */
  async liftPhoneHold(actor: Actor | string, serial: string, options: LiftPhoneHoldOptions = {}): Promise<CertificateRecord> {
    if (typeof actor !== "string") throw new CaError("forbidden", "a phone hold is lifted by its holder through the signed route", { field: "serial" });
    const releases = this.deps.releases;
    if (releases === undefined) throw new CaError("unprocessable", "lifting a phone hold is not enabled", { field: "serial" });
    const now = this.now();
    const work = async (tx: Tx): Promise<CertificateRecord> => {
      const cert = await this.deps.certificates.get(serial, tx);
      if (!cert || (options.residentCode !== undefined && cert.residentCode !== options.residentCode)) throw new CaError("not-found", "no such certificate", { field: "serial" });
      const { device, kind, status } = PHONE_HOLD_LIFTABLE;
      if (cert.device !== device || cert.kind !== kind) throw new CaError("unprocessable", "only a phone user-authentication certificate's hold can be lifted", { field: "serial" });
      if (cert.status !== status) throw new CaError("conflict", "the certificate is not on hold", { field: "serial" });
      if (cert.notAfter.getTime() <= now.getTime()) throw new CaError("conflict", "the certificate has expired", { field: "serial" });
      if (!(await releases.release(serial, now, tx))) throw new CaError("conflict", "the certificate is not on hold", { field: "serial" });
      await this.deps.outbox.add("certificate.released", { serial, caId: cert.caId, partition: cert.partition }, tx);
      await this.deps.audit.append(
        {
          at: now,
          action: "certificate.released",
          actor,
          subject: `certificate:${serial}`,
          outcome: "success",
          detail: { previousStatus: cert.status, heldAt: cert.revokedAt?.toISOString() ?? null, caId: cert.caId, kind: cert.kind, device: cert.device, residentCode: cert.residentCode, clientId: options.clientId ?? null, requestRef: options.requestRef ?? null },
        },
        tx,
      );
      return (await this.deps.certificates.get(serial, tx))!;
    };
    if (options.tx !== undefined) return work(options.tx); // the caller's transaction: the caller audits a refusal
    try {
      return await this.deps.transactions.transaction(work);
    } catch (e) {
      if (e instanceof CaError) {
        await this.deps.audit.append({ at: now, action: "certificate.released", actor, subject: `certificate:${serial}`, outcome: "denied", detail: { problem: e.kind, clientId: options.clientId ?? null } });
      }
      throw e;
    }
  }

  /**
   * The resident's phone certificates of `kinds` take the card's change (see the class comment): status,
   * outbox row and an audit entry each. @returns their serials
   */
  private async cascade(
    actor: Actor,
    card: CertificateRecord,
    change: "revoked" | "hold",
    reason: RevocationReason,
    kinds: ReadonlySet<CaKind>,
    now: Date,
    tx: Tx,
    residentCertificates?: readonly CertificateRecord[],
  ): Promise<string[]> {
    if (card.residentCode === null) return [];
    const resident = residentCertificates ?? (await this.deps.certificates.findLiveByResident(card.residentCode, tx));
    const done: string[] = [];
    for (const phone of phoneCertificatesFollowing(change, kinds, resident)) {
      if (!(await this.deps.certificates.revoke(phone.serial, { status: change, reason, revokedAt: now, invalidityDate: null }, tx))) continue;
      const topic = change === "revoked" ? "certificate.revoked" : "certificate.held";
      await this.deps.outbox.add(topic, { serial: phone.serial, caId: phone.caId, partition: phone.partition, reason }, tx);
      await this.deps.audit.append(
        {
          at: now,
          action: `${topic}.cascaded`,
          actor: actorName(actor),
          subject: `certificate:${phone.serial}`,
          outcome: "success",
          detail: { reason, previousStatus: phone.status, caId: phone.caId, kind: phone.kind, device: phone.device, residentCode: phone.residentCode, cardSerial: card.serial },
        },
        tx,
      );
      done.push(phone.serial);
    }
    return done;
  }

  /** Issue 12 §3: refuses when `count` more certificates would take the operator past the window's limit. */
  private async assertWithinWindow(actor: Actor, count: number, context: RevocationContext, now: Date, tx: Tx): Promise<void> {
    if (actor === "cli" || context.approvalId !== undefined) return;
    const limits = this.deps.windowLimits ?? defaultRevocationWindow;
    if ((await remainingInWindow(this.deps.window, limits, actorName(actor), now, tx)) < count) throw windowExceeded(limits);
  }

  private async load(serial: string, tx: Tx): Promise<CertificateRecord> {
    const cert = await this.deps.certificates.get(serial, tx);
    if (!cert) throw new CaError("not-found", "no such certificate");
    return cert;
  }

  /** CRL times have whole seconds (RFC 5280 §5.1.2.4). */
  private now(): Date {
    return new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
  }
}

function parseComment(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string" || value.length > MAX_COMMENT_LENGTH) throw new CaError("invalid-input", `comment must be a string of at most ${MAX_COMMENT_LENGTH} characters`, { field: "comment" });
  return value;
}
