import { createHash } from "node:crypto";
import type { AliasFormatter } from "../residents/alias-format.js";
import { parseCsr } from "./csr.js";
import { CaError } from "../errors.js";
import { IdempotencyKeyInUseError, PublicKeyInUseError, PublicKeyRefusedError, type IssuanceRecord, type IssuanceStore, type ResidentRecord, type ResidentStore } from "./issuance-ports.js";
import { pendingOf, planCertificates, type Planned } from "./issuance-plan.js";
import { parseIssuanceRequest } from "./issuance-request.js";
import type { AuthorityResolver } from "./issuing-authority.js";
import type { Clock, Random } from "../ports.js";
import { AccessDenied, auditDenials, type AccessScope, type ResidentMunicipalities } from "../access/resident-access.js";
import type { ResidentApplication } from "../residents/resident-fields.js";
import type { AuditStore, CertificateStore, TransactionRunner, Tx } from "../stores.js";
import type { CaId, CaKind } from "../types.js";
import { pem } from "../x509/pem.js";

/** Who asks: the terminal (mTLS) and the operator (session) — recorded with every certificate. */
export interface IssuanceContext {
  readonly terminalId: string;
  readonly operatorId: string;
  /** docs/api.md §4: required; scoped to the terminal. */
  readonly idempotencyKey: string;
  /** The terminal's enrolled municipality: it issues only for its own residents (ca/access/resident-access.ts). */
  readonly municipalityCode: string;
}

export interface IssuanceDeps {
  readonly clock: Clock;
  readonly random: Random;
  readonly transactions: TransactionRunner;
  readonly certificates: CertificateStore;
  readonly issuances: IssuanceStore;
  readonly residents: ResidentStore;
  readonly audit: AuditStore;
  readonly authorities: AuthorityResolver;
  readonly aliasFormatter: AliasFormatter;
  /** The resident's current municipality on file (object-level authorization, issue 12 §1). */
  readonly residentMunicipalities: ResidentMunicipalities;
}

/** The 201 answer of docs/api.md §4. */
export interface IssuanceAnswer {
  readonly issuanceId: string;
  readonly certificates: ReadonlyArray<Record<string, unknown>>;
}

/** A certificate of an issuance with its signature: what step (3) stores and answers. */
interface SignedCertificate {
  readonly serial: string;
  readonly kind: CaKind;
  readonly caId: CaId;
  readonly recorded: Readonly<Record<string, unknown>>;
  readonly der: Uint8Array;
}

/**
 * Issuance of JPKI signing and user-authentication certificates (docs/domain.md §2, §5; docs/api.md §4).
 *
 * docs/design.md invariant 1, no signature without a record: (1) one transaction reserves every serial and
 * stores each to-be-signed certificate as `pending` together with the issuance record; (2) the HSM signs;
 * (3) one transaction stores the certificates, supersedes the previous ones of the same kinds, records
 * their links (docs/linkage.md), writes the outbox and the audit entry, and stores the answer. A crash between (1) and (3) leaves pending rows
 * that `reconcile` completes from the stored TBS. All requested certificates are issued, or none.
 */
export class IssuanceService {
  constructor(private readonly deps: IssuanceDeps) {}

  async issue(ctx: IssuanceContext, body: unknown): Promise<{ answer: IssuanceAnswer; replayed: boolean }> {
    const { clock, issuances } = this.deps;
    const now = truncate(clock.now());
    // The body is parsed (400) before any decision that depends on it (issue 12 §6).
    const request = parseIssuanceRequest(body, now);
    // 告示334号 第4-4(5): a terminal applies for the municipality it is enrolled for, never another.
    if (request.application.municipalityCode !== ctx.municipalityCode) throw new CaError("forbidden", "this terminal is enrolled for another municipality", { field: "municipalityCode" });
    const scope: AccessScope = { kind: "terminal", terminalId: ctx.terminalId, municipalityCode: ctx.municipalityCode };

    const previous = await issuances.findByKey(ctx.terminalId, ctx.idempotencyKey);
    if (previous) return { answer: await this.replay(previous, request.bodySha256), replayed: true };

    const csrs = request.requests.map((r) => ({ request: r, authority: this.deps.authorities.active(r.kind) })).map(({ request: r, authority }) => ({
      kind: r.kind,
      authority,
      csr: parseCsr(r.csr, r.field, authority.subjectKeyPolicy),
      field: r.field,
    }));
    const distinctKeys = new Set(csrs.map((c) => c.csr.publicKeySha256));
    if (distinctKeys.size !== csrs.length) throw new CaError("unprocessable", "each certificate needs its own key pair", { field: csrs[csrs.length - 1]?.field ?? "requests" });

    const issuanceId = newId(this.deps.random);
    let planned: Planned[];
    try {
      planned = await auditDenials(this.deps, `operator:${ctx.operatorId}`, scope, () => this.deps.transactions.transaction(async (tx) => {
        // The resident lock first, then the read in a statement of its own: a statement that waited for the
        // lock would read certificates from a snapshot taken before a concurrent issuance committed.
        await this.checkResident(request.application, now, tx, `issuance:${issuanceId}`);
        const residentCode = request.application.residentCode;
        const seen = await this.deps.certificates.findLiveByResidentOrKeys(residentCode, csrs.map((c) => c.csr.publicKeySha256), tx);
        for (const c of csrs) {
          if (seen.some((x) => x.publicKeySha256 === c.csr.publicKeySha256)) throw new PublicKeyInUseError({ field: c.field });
        }
        const live = seen.filter((x) => x.residentCode === residentCode);
        const plans = planCertificates(this.deps, request, csrs, live, ctx, issuanceId, now);
        await issuances.insertWithCertificates(
          {
            issuanceId,
            terminalId: ctx.terminalId,
            idempotencyKey: ctx.idempotencyKey,
            requestSha256: request.bodySha256,
            operatorId: ctx.operatorId,
            municipalityCode: request.application.municipalityCode,
            applicationDate: request.application.applicationDate,
            residentCode: request.application.residentCode,
            status: "pending",
            response: null,
            createdAt: now,
            completedAt: null,
          },
          plans.map((p) => pendingOf(p, residentCode, issuanceId, now)),
          tx,
        );
        return plans;
      }));
    } catch (e) {
      // A concurrent request with the same key won the race: answer as a retry would be answered. The
      // loser meets the winner's rows as the key's unique index, or — waiting on the resident lock —
      // as the winner's (pending) certificates holding the same public keys (docs/cluster.md: a client
      // that timed out on one node and retried on another).
      if (e instanceof IdempotencyKeyInUseError || (e instanceof CaError && e.kind === "conflict")) {
        const winner = await issuances.findByKey(ctx.terminalId, ctx.idempotencyKey).catch(() => undefined);
        if (winner) return { answer: await this.replay(winner, request.bodySha256), replayed: true };
      }
      // A concurrent issuance for another resident took a key between the check and the insert (the
      // database's unique index refused the second): name the request field, as the check would have.
      if (e instanceof PublicKeyInUseError && e.field === undefined) {
        let taken: (typeof csrs)[number] | undefined;
        for (const c of csrs) if (!taken && (await this.deps.certificates.findLiveByPublicKey(c.csr.publicKeySha256)).length > 0) taken = c;
        throw new PublicKeyInUseError({ field: taken?.field ?? csrs[0]?.field ?? "requests", cause: e });
      }
      // A blocked key, or one certified before (migration 0019, refused by the database): name its field.
      if (e instanceof PublicKeyRefusedError && e.field === undefined) {
        throw e.withField(csrs.find((c) => c.csr.publicKeySha256 === e.publicKeySha256)?.field ?? csrs[0]?.field ?? "requests");
      }
      throw e;
    }

    let signed: Uint8Array[];
    try {
      signed = await Promise.all(planned.map((p) => p.authority.sign(p.tbs)));
    } catch (e) {
      await this.failIssuance(issuanceId, planned.map((p) => p.serial), e);
      throw e instanceof CaError ? e : new CaError("unavailable", "the HSM did not sign; nothing was issued", { cause: e });
    }
    const certificates = planned.map((p, i): SignedCertificate => ({
      serial: p.serial,
      kind: p.authority.kind,
      caId: p.authority.ca.id,
      recorded: p.recorded,
      der: signed[i] as Uint8Array,
    }));
    return { answer: await this.complete(issuanceId, certificates, request.application.residentCode), replayed: false };
  }

  /** A retry with the same Idempotency-Key: the same answer for the same body, 409 otherwise. */
  private async replay(previous: IssuanceRecord, bodySha256: string): Promise<IssuanceAnswer> {
    if (previous.requestSha256 !== bodySha256) {
      throw new CaError("conflict", "this Idempotency-Key was used with another request body", { field: "Idempotency-Key" });
    }
    if (previous.status === "completed" && previous.response) return previous.response as unknown as IssuanceAnswer;
    if (previous.status === "failed") throw new CaError("conflict", "the issuance with this Idempotency-Key failed and issued nothing; send it with a new key", { field: "Idempotency-Key" });
    // Pending: the first attempt is still signing, or it crashed; finish it from the stored TBS.
    return this.finishPending(previous.issuanceId);
  }

  /** docs/domain.md §3: the four items of an application must agree with the CA's copy of the resident record. */
  private async checkResident(app: ResidentApplication, now: Date, tx: Tx, subject: string): Promise<void> {
    const r = app.resident;
    const candidate: ResidentRecord = {
      residentCode: app.residentCode,
      name: r.name,
      nameSubstituteFlags: r.nameSubstituteFlags,
      alias: r.alias,
      aliasSubstituteFlags: r.aliasSubstituteFlags,
      dateOfBirth: r.dateOfBirth,
      gender: r.gender,
      address: r.address,
      addressSubstituteFlags: r.addressSubstituteFlags,
      updatedAt: now,
    };
    // A first application creates the CA's copy from the application itself: nothing to compare.
    const { record: onFile, inserted } = await this.deps.residents.lockOrInsert(candidate, tx);
    // Whose resident (ca/access/resident-access.ts), before any comparison: a field-by-field answer would let a
    // terminal probe another municipality's residents' names and dates of birth. The answer names no
    // field compared; the app's municipality equals the terminal's (checked above).
    const current = inserted ? undefined : await this.deps.residentMunicipalities.currentMunicipality(app.residentCode, tx);
    if (typeof current === "string" && current !== app.municipalityCode) throw new AccessDenied("issue", subject, "does not match the resident record on file", "conflict", "residentCode");
    if (typeof current !== "string") await this.deps.residentMunicipalities.setMunicipality(app.residentCode, app.municipalityCode, tx);
    if (inserted) return;
    // docs/domain.md §3: a resident who died, was removed or left the register gets no new certificate.
    if (onFile.status !== undefined && onFile.status !== "registered") {
      throw new CaError("unprocessable", "the resident is no longer on the resident register", { field: "residentCode" });
    }
    const checks: Array<[string, boolean]> = [
      ["resident.name", onFile.name === r.name && onFile.nameSubstituteFlags === r.nameSubstituteFlags],
      ["resident.dateOfBirth", onFile.dateOfBirth === r.dateOfBirth],
      ["resident.gender", onFile.gender === r.gender],
      ["resident.address", onFile.address === r.address && onFile.addressSubstituteFlags === r.addressSubstituteFlags],
      ["resident.alias", (onFile.alias ?? null) === (r.alias ?? null)],
    ];
    for (const [field, same] of checks) {
      if (!same) throw new CaError("conflict", "does not match the resident record on file", { field });
    }
  }

  /**
   * Step (3): stores the signed certificates, supersedes the previous ones of the same kinds (docs/domain.md §3:
   * superseded, in the same transaction), writes outbox rows and one audit entry, and stores the answer.
   * Two round trips besides BEGIN/COMMIT: the issuance store's one statement, then the audit append,
   * whose head lock is taken last so it is held as briefly as possible.
   */
  /**
   * @param residentCode the resident whose record is locked first: two completions for one resident then
   * take turns, so the later one sees the earlier one's certificate valid and supersedes it (a statement
   * reads with the snapshot it started with, so the lock must come in a statement of its own).
   */
  private async complete(issuanceId: string, certificates: readonly SignedCertificate[], residentCode: string | null): Promise<IssuanceAnswer> {
    const now = truncate(this.deps.clock.now());
    const { issuances, audit } = this.deps;
    const rows = [...certificates].sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
    const answer = this.answerOf(issuanceId, rows);
    try {
      return await this.deps.transactions.transaction(async (tx) => {
        const signed = rows.map((r) => ({ serial: r.serial, der: r.der }));
        if (residentCode !== null) await this.deps.residents.getForUpdate(residentCode, tx);
        const done = await issuances.completeWithCertificates(issuanceId, signed, answer as unknown as Record<string, unknown>, now, tx);
        if (!done) throw new CompletedConcurrently();
        const { issuance, superseded, links } = done;
        await audit.append(
          {
            at: now,
            action: "certificate.issued",
            actor: `operator:${issuance.operatorId}`,
            subject: `issuance:${issuanceId}`,
            outcome: "success",
            detail: {
              terminalId: issuance.terminalId,
              municipalityCode: issuance.municipalityCode,
              residentCode: issuance.residentCode,
              certificates: rows.map((r) => ({ serial: r.serial, kind: r.kind, caId: r.caId })),
              superseded: [...superseded],
              // The linkage graph recorded with them (docs/linkage.md): serials and link types only.
              links: links.map((l) => ({ from: l.fromSerial, to: l.toSerial, link: l.link })),
            },
          },
          tx,
        );
        return answer;
      });
    } catch (e) {
      if (e instanceof CompletedConcurrently) {
        const done = await issuances.get(issuanceId);
        if (done?.response) return done.response as unknown as IssuanceAnswer;
      }
      throw e;
    }
  }

  private answerOf(issuanceId: string, rows: readonly SignedCertificate[]): IssuanceAnswer {
    const order = (k: CaKind): number => (k === "auth" ? 0 : 1);
    return {
      issuanceId,
      certificates: [...rows]
        .sort((a, b) => order(a.kind) - order(b.kind))
        .map((row) => {
          const authority = this.deps.authorities.byCaId(row.caId);
          const recorded = row.recorded.answer as Record<string, unknown>;
          return {
            ...recorded,
            certificate: pem(row.der, "CERTIFICATE"),
            caCertificate: authority?.caCertificatePem ?? null,
          };
        }),
    };
  }

  /** Signs the stored TBS of a pending issuance and completes it (retry of a crashed first attempt, reconciler). */
  private async finishPending(issuanceId: string): Promise<IssuanceAnswer> {
    const rows = await this.deps.certificates.listByIssuance(issuanceId);
    // A CA generation made on another node is taken into use here within its poll (docs/cluster.md "Nodes
    // are interchangeable"): until then a retry is told to come back, and the issuance is not failed
    // under the node still signing it.
    if (rows.some((row) => this.deps.authorities.byCaId(row.caId) === undefined)) {
      throw new CaError("unavailable", "the CA generation of this issuance is not in use on this node yet; retry shortly");
    }
    const signed: SignedCertificate[] = [];
    try {
      for (const row of rows) {
        const authority = this.deps.authorities.byCaId(row.caId);
        if (!authority || !row.tbs) throw new CaError("internal", `cannot re-sign pending certificate of ${row.caId}`);
        signed.push({ serial: row.serial, kind: row.kind, caId: row.caId, recorded: row.recorded, der: row.der ?? (await authority.sign(row.tbs)) });
      }
    } catch (e) {
      await this.failIssuance(issuanceId, rows.map((r) => r.serial), e);
      throw e instanceof CaError ? e : new CaError("unavailable", "the HSM did not sign; nothing was issued", { cause: e });
    }
    return this.complete(issuanceId, signed, rows[0]?.residentCode ?? null);
  }

  private async failIssuance(issuanceId: string, serials: readonly string[], cause: unknown): Promise<void> {
    const now = truncate(this.deps.clock.now());
    await this.deps.transactions.transaction(async (tx) => {
      const issuance = await this.deps.issuances.get(issuanceId, tx);
      if (!(await this.deps.issuances.fail(issuanceId, now, tx))) return;
      for (const serial of serials) {
        const row = await this.deps.certificates.get(serial, tx);
        if (row?.status === "pending") await this.deps.certificates.markFailed(serial, tx);
      }
      await this.deps.audit.append(
        {
          at: now,
          action: "certificate.issuance.failed",
          actor: `operator:${issuance?.operatorId ?? "unknown"}`,
          subject: `issuance:${issuanceId}`,
          outcome: "failure",
          detail: { serials: [...serials], error: cause instanceof Error ? cause.name : "unknown" },
        },
        tx,
      );
    });
  }

  /**
   * The reconciler (docs/design.md invariant 1): completes issuances whose certificates stayed pending longer than
   * `olderThanMs` (a crash between reserve and store), or marks them failed when they cannot be signed.
   */
  async reconcile(olderThanMs = 60_000, limit = 100): Promise<{ completed: number; failed: number }> {
    const before = new Date(this.deps.clock.now().getTime() - olderThanMs);
    const pending = await this.deps.certificates.listPending(before, limit);
    const ids = [...new Set(pending.map((p) => p.issuanceId).filter((x): x is string => x !== null))];
    let completed = 0;
    let failed = 0;
    for (const id of ids) {
      try {
        await this.finishPending(id);
        completed++;
      } catch {
        failed++;
      }
    }
    return { completed, failed };
  }
}

/** Step (3) found the issuance no longer pending: another attempt completed it (its answer is stored). */
class CompletedConcurrently extends CaError {
  constructor() {
    super("conflict", "issuance completed concurrently");
  }
}

function truncate(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** An opaque issuance id: 16 random bytes, hex. */
function newId(random: Random): string {
  return createHash("sha256").update(random.bytes(32)).digest("hex").slice(0, 32);
}
