import { CaError } from "../errors.js";
import { auditHolderDenials, decodeSignedRequest, verifyHolderSignedRequest, type HolderSignedRequestDeps, type VerifiedHolderRequest } from "../holder/holder-signed-request.js";
import { recordHolderRequestOnce, type HolderRequestLog } from "../holder/holder-request-log.js";
import type { OutboxWriter } from "../revocation/outbox.js";
import type { AuditStore, CertificateStore, TransactionRunner, Tx } from "../stores.js";
import type { CertificateRecord, RevocationReason } from "../types.js";
import type { HolderPortal } from "./phone-issuance-service.js";
import type { PhoneSettings } from "./phone-settings.js";

/** The purposes of the holder's actions on the phone certificates (the signed content's `purpose`). */
export const phoneActionPurposes = Object.freeze({
  revocation: "phone-revocation",
  suspension: "phone-suspension",
  resumption: "phone-resumption",
} as const);
export type PhoneAction = keyof typeof phoneActionPurposes;

/** Lifting a phone user-auth hold: H3b's core function (ca/revocation/revocation-service.ts). */
export interface PhoneHoldLifter {
  liftPhoneHold(actor: string, serial: string, options: { clientId?: string; residentCode?: string; requestRef?: string; tx?: Tx }): Promise<CertificateRecord>;
}

export interface PhoneActionDeps extends HolderSignedRequestDeps {
  readonly transactions: TransactionRunner;
  readonly certificates: CertificateStore;
  readonly audit: AuditStore;
  readonly outbox: OutboxWriter;
  readonly holderRequests: Pick<HolderRequestLog, "insert">;
  readonly lifter: PhoneHoldLifter;
  readonly settings: Pick<PhoneSettings, "holderRevocationReasons">;
}

/** The 200 answer: the phone certificates the action changed, with their status now. */
export interface PhoneActionAnswer {
  readonly certificates: ReadonlyArray<{ readonly serialNumber: string; readonly kind: string; readonly status: string; readonly revocationReason: string | null }>;
}

/**
 * The holder's actions on their phone certificates (issue 16 item 1, docs/phone.md "Holder actions"), each
 * a request signed with the card's SIGNING key whose purpose names the action, relayed by a holder portal:
 * - revocation: both phone certificates (valid or held) revoked with a reason from the allowed list [U];
 * - suspension: the phone user-auth certificate put on hold (certificateHold);
 * - resumption: that hold lifted, only here, by `RevocationService.liftPhoneHold` (H3b).
 * Each is one transaction with the replay record (holder_requests), status, outbox row and audit entry
 * (docs/design.md invariant 3). The resident is the card certificate's; nothing in the request names one.
 */
export class PhoneHolderActions {
  constructor(private readonly deps: PhoneActionDeps) {}

  async act(portal: HolderPortal, action: PhoneAction, signedRequest: string): Promise<PhoneActionAnswer> {
    const actor = `holder-portal:${portal.portalId}`;
    const expected = { purpose: phoneActionPurposes[action], kind: "sign", device: "card", actor } as const;
    return auditHolderDenials(this.deps, expected, async () => {
      const verified = await verifyHolderSignedRequest(this.deps, decodeSignedRequest(signedRequest), expected);
      const residentCode = verified.certificate.residentCode;
      if (residentCode === null) throw new CaError("unprocessable", "the signer's certificate has no resident on file", { field: "signedRequest" });
      const reason = action === "revocation" ? this.reasonOf(verified) : null;
      const now = new Date(Math.floor(this.deps.clock.now().getTime() / 1000) * 1000);
      const changed = await this.deps.transactions.transaction(async (tx) => {
        await recordHolderRequestOnce(this.deps.holderRequests, verified, now, tx);
        const phone = (await this.deps.certificates.findLiveByResident(residentCode, tx)).filter((c) => c.device === "phone");
        if (action === "resumption") {
          const held = phone.filter((c) => c.kind === "auth" && c.status === "hold");
          if (held.length === 0) throw new CaError("conflict", "no phone user-authentication certificate is on hold", { field: "signedRequest" });
          const out: CertificateRecord[] = [];
          for (const c of held) out.push(await this.deps.lifter.liftPhoneHold(actor, c.serial, { clientId: portal.portalId, residentCode, requestRef: verified.digest, tx }));
          return out;
        }
        const targets = action === "revocation" ? phone.filter((c) => c.status === "valid" || c.status === "hold") : phone.filter((c) => c.kind === "auth" && c.status === "valid");
        if (targets.length === 0) throw new CaError("conflict", action === "revocation" ? "there is no phone certificate to revoke" : "no valid phone user-authentication certificate to suspend", { field: "signedRequest" });
        const change = action === "revocation" ? { status: "revoked" as const, reason: reason as RevocationReason } : { status: "hold" as const, reason: "certificateHold" as const };
        for (const c of targets) {
          if (!(await this.deps.certificates.revoke(c.serial, { ...change, revokedAt: now, invalidityDate: null }, tx))) continue;
          const topic = change.status === "revoked" ? "certificate.revoked" : "certificate.held";
          await this.deps.outbox.add(topic, { serial: c.serial, caId: c.caId, partition: c.partition, reason: change.reason }, tx);
          await this.deps.audit.append(
            {
              at: now,
              action: topic,
              actor,
              subject: `certificate:${c.serial}`,
              outcome: "success",
              detail: { reason: change.reason, previousStatus: c.status, caId: c.caId, kind: c.kind, device: c.device, residentCode, cardSerial: verified.certificate.serial, requestRef: verified.digest },
            },
            tx,
          );
        }
        return Promise.all(targets.map(async (c) => (await this.deps.certificates.get(c.serial, tx)) as CertificateRecord));
      });
      return { certificates: changed.map((c) => ({ serialNumber: c.serial, kind: c.kind, status: c.status, revocationReason: c.revocationReason })) };
    });
  }

  /** The revocation reason of the signed content, from the allowed list [U] (ca/phone/phone-settings.ts). */
  private reasonOf(verified: VerifiedHolderRequest): RevocationReason {
    const reason = verified.content.reason ?? "unspecified";
    if (typeof reason !== "string" || !this.deps.settings.holderRevocationReasons.includes(reason as RevocationReason)) {
      throw new CaError("unprocessable", `reason must be one of ${this.deps.settings.holderRevocationReasons.join(", ")}`, { field: "signedRequest.reason" });
    }
    return reason as RevocationReason;
  }
}
