import { CaError } from "../errors.js";
import { auditHolderDenials, decodeSignedRequest, verifyHolderSignedRequest, type HolderSignedRequestDeps, type VerifiedHolderRequest } from "../holder/holder-signed-request.js";
import type { HolderRequestLog } from "../holder/holder-request-log.js";
import { parseCsr, type ParsedCsr } from "../issuance/csr.js";
import { pendingOf, personalFieldsOf, type Planned } from "../issuance/issuance-plan.js";
import { PublicKeyInUseError, PublicKeyRefusedError, type ResidentRecord, type ResidentStore } from "../issuance/issuance-ports.js";
import type { AuthorityResolver, IssuingAuthority } from "../issuance/issuing-authority.js";
import { generateSerial, partitionOf } from "../issuance/serial.js";
import { cardPhoneLinks, linksOfIssuance, type CertificateLinkStore, type LinkedCertificate } from "../linkage/certificate-links.js";
import type { ResidentMunicipalities } from "../access/resident-access.js";
import type { Clock, Random } from "../ports.js";
import type { AliasFormatter } from "../residents/alias-format.js";
import type { OutboxWriter } from "../revocation/outbox.js";
import type { AuditStore, CertificateStore, TransactionRunner, Tx } from "../stores.js";
import type { CaKind, CertificateRecord } from "../types.js";
import { pem } from "../x509/pem.js";
import { applicationField, parsePhoneApplication, PHONE_APPLICATION_PURPOSE } from "./phone-application.js";

/** The resident's phone certificates ever signed, whatever their status: predecessors of a new phone's (docs/linkage.md). */
export interface PhoneHistory {
  /** Heads of chains (no successor yet) last, then oldest first: the order `linksOfIssuance` expects. */
  signedPhoneCertificates(residentCode: string, tx?: Tx): Promise<LinkedCertificate[]>;
}

export interface PhoneIssuanceDeps extends HolderSignedRequestDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly transactions: TransactionRunner;
  readonly certificates: CertificateStore;
  readonly residents: Pick<ResidentStore, "getForUpdate">;
  readonly residentMunicipalities: Pick<ResidentMunicipalities, "currentMunicipality">;
  readonly audit: AuditStore;
  readonly outbox: OutboxWriter;
  readonly links: Pick<CertificateLinkStore, "insertMany">;
  readonly history: PhoneHistory;
  readonly holderRequests: HolderRequestLog;
  /** The phone authorities (ca/phone/phone-authorities.ts): same CA generations, the phone profile. */
  readonly authorities: AuthorityResolver;
  readonly aliasFormatter: AliasFormatter;
}

/** Who relayed the application: a registered holder portal (the マイナポータル role, docs/phone.md). */
export interface HolderPortal {
  readonly portalId: string;
}

/** The 201 answer: the two certificates, user-auth first, as `POST /v1/issuances` answers them. */
export interface PhoneIssuanceAnswer {
  readonly certificates: ReadonlyArray<Record<string, unknown>>;
}


/** What `holder_requests.outcome` holds for a phone application. */
interface ApplicationOutcome {
  readonly serials: readonly string[];
  readonly answer?: PhoneIssuanceAnswer;
  /** Nothing was issued (the HSM failed, or the reconciler gave up): a retry is refused. */
  readonly failed?: true;
}

const kindsInOrder: readonly CaKind[] = ["auth", "sign"];

/**
 * Smartphone certificates through an online application signed with the card's signing key (issue 16
 * item 1, docs/phone.md). The card certificate that signed is checked against OUR record
 * (ca/holder/holder-signed-request.ts); the resident fields come from the CA's resident record, never from
 * the request. docs/design.md invariant 1 as the counter issuance does it: (1) one transaction records the
 * request (replay protection) and reserves both serials as pending rows with their TBS; (2) the HSM signs;
 * (3) one transaction stores both certificates, revokes the previous phone's certificates `superseded`
 * (one phone per person), records the links (card → phone, successor, sign → auth), writes the outbox and
 * the audit entry and stores the answer, so a retry of the same signed request gets the same certificates.
 */
export class PhoneIssuanceService {
  constructor(private readonly deps: PhoneIssuanceDeps) {}

  async apply(portal: HolderPortal, signedRequest: string): Promise<{ answer: PhoneIssuanceAnswer; replayed: boolean }> {
    const actor = `holder-portal:${portal.portalId}`;
    const expected = { purpose: PHONE_APPLICATION_PURPOSE, kind: "sign", device: "card", actor } as const;
    return auditHolderDenials(this.deps, expected, async () => {
      const verified = await verifyHolderSignedRequest(this.deps, decodeSignedRequest(signedRequest), expected);
      const previous = await this.deps.holderRequests.get(verified.digest);
      if (previous) return { answer: await this.retry(previous.outcome as ApplicationOutcome | null, actor), replayed: true };
      const application = parsePhoneApplication(verified.content);
      const card = verified.certificate;
      if (card.residentCode === null) throw new CaError("unprocessable", "the signer's certificate has no resident on file", { field: "signedRequest" });
      const csrs = kindsInOrder.map((kind) => {
        const authority = this.deps.authorities.active(kind);
        const field = applicationField(`csrs.${kind}`);
        return { kind, authority, field, csr: parseCsr(application.csrs[kind], field, authority.subjectKeyPolicy) };
      });
      if (csrs[0]!.csr.publicKeySha256 === csrs[1]!.csr.publicKeySha256) throw new CaError("unprocessable", "each certificate needs its own key pair", { field: applicationField("csrs.sign") });
      const planned = await this.reserve(verified, card, application.phoneId, csrs, actor).catch((e: unknown) => {
        // The database's key rules (migrations 0015, 0019) refuse without knowing the field: name it, as the counter path does.
        if (e instanceof PublicKeyRefusedError && e.field === undefined) throw e.withField(csrs.find((c) => c.csr.publicKeySha256 === e.publicKeySha256)?.field ?? csrs[0]!.field);
        if (e instanceof PublicKeyInUseError && e.field === undefined) throw new PublicKeyInUseError({ field: csrs[0]!.field, cause: e });
        throw e;
      });
      if (!Array.isArray(planned)) return { answer: await this.retry(planned, actor), replayed: true };
      const signed = await this.signAll(planned.map((p) => ({ serial: p.serial, caId: p.authority.ca.id, tbs: p.tbs })), actor);
      return { answer: await this.complete(verified.digest, card.residentCode, signed, actor), replayed: false };
    });
  }

  /** Step (1): the request recorded once and both pending rows, in one transaction. */
  private async reserve(
    verified: VerifiedHolderRequest,
    card: CertificateRecord,
    phoneId: string,
    csrs: ReadonlyArray<{ kind: CaKind; authority: IssuingAuthority; field: string; csr: ParsedCsr }>,
    actor: string,
  ): Promise<Planned[] | ApplicationOutcome | null> {
    const residentCode = card.residentCode as string;
    const now = truncate(this.deps.clock.now());
    return this.deps.transactions.transaction(async (tx) => {
      const resident = await this.deps.residents.getForUpdate(residentCode, tx);
      // docs/domain.md §3: a resident who died, was removed or left the register gets no new certificate.
      if (!resident || (resident.status !== undefined && resident.status !== "registered")) throw new CaError("unprocessable", "the resident is no longer on the resident register", { field: "signedRequest" });
      const seen = await this.deps.certificates.findLiveByResidentOrKeys(residentCode, csrs.map((c) => c.csr.publicKeySha256), tx);
      for (const c of csrs) if (seen.some((x) => x.publicKeySha256 === c.csr.publicKeySha256)) throw new PublicKeyInUseError({ field: c.field });
      const municipalityCode = (await this.deps.residentMunicipalities.currentMunicipality(residentCode, tx)) ?? (card.recorded.municipalityCode as string | undefined) ?? null;
      if (municipalityCode === null) throw new CaError("unprocessable", "the resident has no municipality on file", { field: "signedRequest" });
      // [U] docs/phone.md: a phone certificate never outlives the card certificate the application was signed with.
      const notAfter = card.notAfter;
      if (notAfter.getTime() <= now.getTime()) throw new CaError("unprocessable", "the signer's certificate is outside its validity period", { field: "signedRequest" });
      const plans = csrs.map((c) => this.plan(c.authority, c.csr, resident, municipalityCode, now, notAfter, { actor, phoneId, card, digest: verified.digest }));
      const outcome: ApplicationOutcome = { serials: plans.map((p) => p.serial) };
      const inserted = await this.deps.holderRequests.insert({ digest: verified.digest, purpose: PHONE_APPLICATION_PURPOSE, serial: card.serial, createdAt: now, outcome: { ...outcome } }, tx);
      // A concurrent sending of the same request recorded it first: answer as its retry is answered.
      if (!inserted) return (await this.deps.holderRequests.get(verified.digest, tx))?.outcome as ApplicationOutcome | null;
      // Not an issuance of the counter path: the phone rows are found through holder_requests.
      for (const p of plans) await this.deps.certificates.insertPending(pendingOf(p, residentCode, null, now, "phone"), tx);
      return plans;
    });
  }

  private plan(
    authority: IssuingAuthority,
    csr: ParsedCsr,
    resident: ResidentRecord,
    municipalityCode: string,
    now: Date,
    notAfter: Date,
    ctx: { actor: string; phoneId: string; card: CertificateRecord; digest: string },
  ): Planned {
    const serial = generateSerial(authority.ca.serialPrefix, this.deps.random);
    const partition = partitionOf(serial, authority.ca.partitionCount);
    const subjectId = Buffer.from(this.deps.random.bytes(12)).toString("hex").toUpperCase();
    const personal = authority.kind === "sign" ? personalFieldsOf(this.deps.aliasFormatter, resident) : null;
    const tbs = authority.prepare({ serial, notBefore: now, notAfter, partition, subjectId, subjectPublicKey: csr.publicKey, municipalityCode, personal });
    const answer = {
      kind: authority.kind,
      device: "phone",
      caId: authority.ca.id,
      serialNumber: serial,
      issuer: authority.issuerName,
      notBefore: now.toISOString(),
      notAfter: notAfter.toISOString(),
      policyOid: authority.policyOid,
      keyUsage: authority.keyUsage,
      publicKey: Buffer.from(csr.publicKey).toString("base64"),
      ...(personal ? { subject: { ...personal } } : {}),
    };
    return {
      authority,
      csr,
      serial,
      tbs,
      notBefore: now,
      notAfter,
      partition,
      subjectId,
      recorded: { answer, municipalityCode, device: "phone", phoneId: ctx.phoneId, cardCertificate: ctx.card.serial, holderRequest: ctx.digest, relayedBy: ctx.actor, cappedBy: "cardCertificate" },
    };
  }

  /** Step (2); on an HSM failure the pending rows are marked failed (nothing was issued). */
  private async signAll(rows: ReadonlyArray<{ serial: string; caId: string; tbs: Uint8Array | null; der?: Uint8Array | null }>, actor: string): Promise<Array<{ serial: string; der: Uint8Array }>> {
    // A CA generation made on another node is taken into use here within its poll (docs/cluster.md): until
    // then the caller is told to come back, and the application is not failed under the node signing it.
    if (rows.some((r) => this.deps.authorities.byCaId(r.caId) === undefined)) throw new CaError("unavailable", "the CA generation of this application is not in use on this node yet; retry shortly");
    try {
      return await Promise.all(
        rows.map(async (r) => {
          if (r.der) return { serial: r.serial, der: r.der };
          if (!r.tbs) throw new CaError("internal", "a pending phone certificate without its TBS");
          return { serial: r.serial, der: await this.deps.authorities.byCaId(r.caId)!.sign(r.tbs) };
        }),
      );
    } catch (e) {
      const now = truncate(this.deps.clock.now());
      await this.deps.transactions.transaction(async (tx) => {
        for (const r of rows) if ((await this.deps.certificates.get(r.serial, tx))?.status === "pending") await this.deps.certificates.markFailed(r.serial, tx);
        await this.deps.audit.append({ at: now, action: "certificate.issuance.failed", actor, subject: `certificate:${rows[0]?.serial ?? "unknown"}`, outcome: "failure", detail: { device: "phone", serials: rows.map((r) => r.serial), error: e instanceof Error ? e.name : "unknown" } }, tx);
      });
      throw e instanceof CaError ? e : new CaError("unavailable", "the HSM did not sign; nothing was issued", { cause: e });
    }
  }

  /**
   * The reconciler (docs/design.md invariant 1): completes phone applications whose certificates stayed
   * pending longer than `olderThanMs` (a crash between reservation and completion), from the stored TBS;
   * one that cannot be completed is marked failed. Run with the issuance reconciler, under its lease.
   */
  async reconcile(olderThanMs = 60_000, limit = 100): Promise<{ completed: number; failed: number }> {
    const before = new Date(this.deps.clock.now().getTime() - olderThanMs);
    let completed = 0;
    let failed = 0;
    for (const entry of await this.deps.holderRequests.listUnfinished(PHONE_APPLICATION_PURPOSE, before, limit)) {
      try {
        await this.retry(entry.outcome as ApplicationOutcome | null, "system");
        completed++;
      } catch (e) {
        failed++;
        // A permanent refusal (failed rows, a certificate gone): recorded, so it is not tried again.
        if (e instanceof CaError && e.kind === "conflict") {
          await this.deps.transactions.transaction((tx) => this.deps.holderRequests.setOutcome(entry.digest, { ...(entry.outcome ?? {}), failed: true }, tx));
        }
      }
    }
    return { completed, failed };
  }

  /** A retry of a recorded application: its answer, or — still pending after a crash — its completion. */
  private async retry(outcome: ApplicationOutcome | null, actor: string): Promise<PhoneIssuanceAnswer> {
    if (!outcome || !Array.isArray(outcome.serials)) throw new CaError("conflict", "this signed request was already used", { field: "signedRequest" });
    if (outcome.answer) return outcome.answer;
    const failedApplication = () => new CaError("conflict", "the application with this signed request failed and issued nothing; sign a new one", { field: "signedRequest" });
    if (outcome.failed) throw failedApplication();
    const rows = (await Promise.all(outcome.serials.map((s) => this.deps.certificates.get(s)))).filter((r): r is CertificateRecord => r !== undefined);
    if (rows.length !== outcome.serials.length || rows.some((r) => r.status === "failed")) throw failedApplication();
    const signed = await this.signAll(rows, actor);
    const digest = String(rows[0]!.recorded.holderRequest);
    return this.complete(digest, rows[0]!.residentCode as string, signed, actor);
  }

  /** Step (3), one transaction (docs/design.md invariants 1 and 3). */
  private async complete(digest: string, residentCode: string, signed: ReadonlyArray<{ serial: string; der: Uint8Array }>, actor: string): Promise<PhoneIssuanceAnswer> {
    const now = truncate(this.deps.clock.now());
    const { certificates, outbox } = this.deps;
    return this.deps.transactions.transaction(async (tx) => {
      // The resident lock first: two completions (a retry racing the first attempt) take turns.
      await this.deps.residents.getForUpdate(residentCode, tx);
      const recorded = (await this.deps.holderRequests.get(digest, tx))?.outcome as ApplicationOutcome | null | undefined;
      if (recorded?.answer) return recorded.answer;
      const ours = new Set(signed.map((s) => s.serial));
      for (const s of signed) await certificates.completeIssued(s.serial, s.der, tx);
      const issued = await Promise.all(signed.map(async (s) => (await certificates.get(s.serial, tx)) as CertificateRecord));
      const live = (await certificates.findLiveByResident(residentCode, tx)).filter((c) => !ours.has(c.serial));
      const previousPhone = live.filter((c) => c.device === "phone" && (c.status === "valid" || c.status === "hold")).sort(byCreated);
      const superseded: string[] = [];
      // One phone per person (docs/phone.md): the previous phone's certificates are superseded now.
      for (const old of previousPhone) {
        if (await certificates.revoke(old.serial, { status: "revoked", reason: "superseded", revokedAt: now, invalidityDate: null }, tx)) {
          await outbox.add("certificate.revoked", { serial: old.serial, caId: old.caId, partition: old.partition, reason: "superseded" }, tx);
          superseded.push(old.serial);
        }
      }
      const cardValid = live.filter((c) => c.device === "card" && c.status === "valid" && c.notAfter > now);
      // Successors from the previous phone's certificates whatever their status: a new phone after a lost,
      // revoked one still links to it (docs/linkage.md).
      const history = await this.deps.history.signedPhoneCertificates(residentCode, tx);
      const links = [...linksOfIssuance(issued, history, residentCode, now), ...cardPhoneLinks(cardValid, issued, residentCode, now)];
      await this.deps.links.insertMany(links, tx);
      for (const c of issued) await outbox.add("certificate.issued", { serial: c.serial, caId: c.caId, partition: c.partition }, tx);
      const answer = this.answerOf(issued);
      await this.deps.holderRequests.setOutcome(digest, { serials: signed.map((s) => s.serial), answer }, tx);
      await this.deps.audit.append(
        {
          at: now,
          action: "certificate.issued",
          actor,
          subject: `holder-request:${digest}`,
          outcome: "success",
          detail: {
            device: "phone",
            residentCode,
            certificates: issued.map((c) => ({ serial: c.serial, kind: c.kind, caId: c.caId })),
            cardCertificate: issued[0]?.recorded.cardCertificate ?? null,
            superseded,
            links: links.map((l) => ({ from: l.fromSerial, to: l.toSerial, link: l.link })),
          },
        },
        tx,
      );
      return answer;
    });
  }

  private answerOf(issued: readonly CertificateRecord[]): PhoneIssuanceAnswer {
    return {
      certificates: [...issued]
        .sort((a, b) => kindsInOrder.indexOf(a.kind) - kindsInOrder.indexOf(b.kind))
        .map((c) => ({
          ...(c.recorded.answer as Record<string, unknown>),
          certificate: pem(c.der as Uint8Array, "CERTIFICATE"),
          caCertificate: this.deps.authorities.byCaId(c.caId)?.caCertificatePem ?? null,
        })),
    };
  }
}

const byCreated = (a: CertificateRecord, b: CertificateRecord): number => a.createdAt.getTime() - b.createdAt.getTime() || (a.serial < b.serial ? -1 : 1);

function truncate(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}
