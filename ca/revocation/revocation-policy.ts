import type { ResidentEvent, ResidentFieldChanges } from "../residents/resident-event.js";
import type { CaId, CaKind, CertificateRecord, CertificateStatus, RevocationReason } from "../types.js";

/**
 * The revocation policy for resident change events: docs/domain.md §3, line by line. Pure: the same event
 * and certificates always give the same decision; storing it is the processor's job.
 *
 * | event                                       | signing                 | user-auth | reason                |
 * |---------------------------------------------|-------------------------|-----------|-----------------------|
 * | ADDRESS_CHANGED                             | revoke                  | keep      | affiliationChanged    |
 * | NAME_CHANGED, GENDER_CHANGED, BIRTHDATE_…   | revoke                  | keep      | affiliationChanged    |
 * | MINOR_CORRECTION (predicate says minor)     | keep                    | keep      | —                     |
 * | ALIAS_CHANGED                               | revoke if alias in cert | keep      | affiliationChanged    |
 * | DECEASED, REMOVED                           | revoke                  | revoke    | cessationOfOperation  |
 * | EMIGRATED                                   | revoke                  | revoke    | cessationOfOperation  |
 * | EMIGRATED_CONTINUED_USE                     | revoke                  | keep      | affiliationChanged    |
 * | CARD_INVALIDATED                            | revoke                  | revoke    | superseded if replaced, else cessationOfOperation |
 * | RECORD_ERROR                                | revoke                  | revoke    | affiliationChanged    |
 *
 * Phone certificates (issue #16 item 1; docs/domain.md §3, docs/linkage.md): the phone signing certificate
 * follows the card signing column of every line, the phone user-auth certificate the card user-auth
 * column — a move revokes card AND phone signing and keeps both user-auth; CARD_INVALIDATED revokes all
 * four. A phone certificate is revoked when the line selects it on its own terms (the same column, its
 * own recorded fields) or when the line revokes a card certificate of its kind (the cascade), with the
 * same reason [U: the phone signing certificate carries the same four items, docs/domain.md
 * §9 [I]]. Cascaded phone revocations are marked `cascaded`: the per-event cap and the rate
 * breaker of the safety valve count card certificates only, as before phones existed
 * (events/resident-event-applier.ts) [U].
 *
 * The remaining lines of the table (holder's request, key compromise, lost card, CA key compromise)
 * are operator actions, not events: ca/revocation/revocation-service.ts.
 */

/** What the policy needs of a certificate. */
export type PolicyCertificate = Pick<CertificateRecord, "serial" | "caId" | "kind" | "status" | "notAfter" | "partition" | "recorded"> & {
  /** Migration 0026; absent: a card certificate. */
  readonly device?: CertificateRecord["device"];
};

/** The personal fields a signing certificate carries, as recorded at issuance (`recorded.resident`). */
export interface CertifiedFields {
  readonly name: string | null;
  readonly nameSubstituteFlags: string | null;
  readonly alias: string | null;
  readonly aliasSubstituteFlags: string | null;
  readonly dateOfBirth: string | null;
  readonly gender: number | null;
  readonly address: string | null;
  readonly addressSubstituteFlags: string | null;
  /** The alias was rendered into the name otherName (ca/residents/alias-format.ts) [U]. */
  readonly aliasInCertificate: boolean;
}

/**
 * Decides whether a MINOR_CORRECTION (軽微な修正) leaves a signing certificate standing. The list of
 * minor corrections is not public (docs/domain.md §3 [U]), so this is configuration.
 */
export type MinorCorrectionPredicate = (event: ResidentEvent, certified: CertifiedFields) => boolean;

/**
 * Default predicate: a correction is minor when it changes nothing the signing certificate states,
 * i.e. every corrected field either is not in the certificate or already has the certified value.
 * A "minor" correction that alters a certified field would leave a wrong identity trusted, so it
 * revokes like a real change.
 */
export const certifiedFieldsUnchanged: MinorCorrectionPredicate = (event, certified) => {
  const c = event.changes;
  const differs = <K extends keyof ResidentFieldChanges>(key: K, certifiedValue: unknown): boolean =>
    c[key] !== undefined && (c[key] ?? null) !== (certifiedValue ?? null);
  if (differs("name", certified.name) || differs("nameSubstituteFlags", certified.nameSubstituteFlags)) return false;
  if (differs("dateOfBirth", certified.dateOfBirth) || differs("gender", certified.gender)) return false;
  if (differs("address", certified.address) || differs("addressSubstituteFlags", certified.addressSubstituteFlags)) return false;
  if (certified.aliasInCertificate && (differs("alias", certified.alias) || differs("aliasSubstituteFlags", certified.aliasSubstituteFlags))) return false;
  return true;
};

/** Trusts the feed: every MINOR_CORRECTION keeps both certificates. */
export const everyCorrectionMinor: MinorCorrectionPredicate = () => true;

/** The predicates selectable by configuration. */
export const minorCorrectionPredicates: Readonly<Record<"certified-fields-unchanged" | "always", MinorCorrectionPredicate>> = Object.freeze({
  "certified-fields-unchanged": certifiedFieldsUnchanged,
  always: everyCorrectionMinor,
});

export interface RevocationPolicyOptions {
  readonly isMinor: MinorCorrectionPredicate;
  /** Certificates past notAfter are left alone: nothing relies on them any more (RFC 5280 §3.3). */
  readonly now: Date;
}

/** One certificate the event revokes. */
export interface PlannedRevocation {
  readonly serial: string;
  readonly caId: CaId;
  readonly kind: CaKind;
  readonly partition: number;
  readonly reason: RevocationReason;
  /** A phone certificate (docs/linkage.md): not counted by the safety valve (see the table comment). */
  readonly cascaded: boolean;
}

export interface RevocationDecision {
  readonly revocations: readonly PlannedRevocation[];
  /** The docs/domain.md §3 line that decided, for the audit log. */
  readonly rule: string;
}

/** Statuses an event may revoke from: a pending serial is revocable (invariant 1), a hold is replaced. */
const revocableStatuses: ReadonlySet<CertificateStatus> = new Set(["pending", "valid", "hold"]);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The personal fields of a signing certificate, from what issuance recorded with it. */
export function certifiedFieldsOf(cert: Pick<CertificateRecord, "recorded">): CertifiedFields {
  const resident = isRecord(cert.recorded.resident) ? cert.recorded.resident : {};
  const answer = isRecord(cert.recorded.answer) ? cert.recorded.answer : {};
  const subject = isRecord(answer.subject) ? answer.subject : {};
  const alias = str(resident.alias);
  const renderedName = str(subject.name);
  return {
    name: str(resident.name),
    nameSubstituteFlags: str(resident.nameSubstituteFlags),
    alias,
    aliasSubstituteFlags: str(resident.aliasSubstituteFlags),
    dateOfBirth: str(resident.dateOfBirth),
    gender: typeof resident.gender === "number" ? resident.gender : null,
    address: str(resident.address),
    addressSubstituteFlags: str(resident.addressSubstituteFlags),
    // The formatter renders a non-empty alias into the name; when the rendered name is recorded,
    // believe it (a template without {alias} leaves the name unchanged).
    aliasInCertificate: alias !== null && alias !== "" && (renderedName === null || renderedName !== str(resident.name)),
  };
}

type Selector = (cert: PolicyCertificate) => RevocationReason | null;

const signingOnly =
  (reason: RevocationReason): Selector =>
  (cert) =>
    cert.kind === "sign" ? reason : null;
const both =
  (reason: RevocationReason): Selector =>
  () =>
    reason;

/**
 * The decision for one event against the resident's certificates (any status; only live, unexpired
 * ones are revoked). Never throws for a valid event.
 */
export function decideRevocations(event: ResidentEvent, certificates: readonly PolicyCertificate[], options: RevocationPolicyOptions): RevocationDecision {
  let rule: string;
  let select: Selector;
  switch (event.type) {
    case "ADDRESS_CHANGED":
      rule = "address change: signing revoked (affiliationChanged)";
      select = signingOnly("affiliationChanged");
      break;
    case "NAME_CHANGED":
    case "GENDER_CHANGED":
    case "BIRTHDATE_CORRECTED":
      rule = "name, gender or date-of-birth change: signing revoked (affiliationChanged)";
      select = signingOnly("affiliationChanged");
      break;
    case "MINOR_CORRECTION":
      rule = "minor correction: kept unless it alters a certified field (configurable predicate)";
      select = (cert) => (cert.kind === "sign" && !options.isMinor(event, certifiedFieldsOf(cert)) ? "affiliationChanged" : null);
      break;
    case "ALIAS_CHANGED":
      rule = "alias change: signing revoked if the alias is in the certificate (affiliationChanged)";
      select = (cert) => (cert.kind === "sign" && certifiedFieldsOf(cert).aliasInCertificate ? "affiliationChanged" : null);
      break;
    case "DECEASED":
    case "REMOVED":
      rule = "death or removal from the register: both revoked (cessationOfOperation)";
      select = both("cessationOfOperation");
      break;
    case "EMIGRATED":
      rule = "moved abroad without continued use: both revoked (cessationOfOperation)";
      select = both("cessationOfOperation");
      break;
    case "EMIGRATED_CONTINUED_USE":
      rule = "moved abroad with continued use: signing revoked (affiliationChanged)";
      select = signingOnly("affiliationChanged");
      break;
    case "CARD_INVALIDATED":
      rule = event.changes.cardReplaced === true ? "card re-issued: both revoked (superseded)" : "card returned or abolished: both revoked (cessationOfOperation)";
      select = both(event.changes.cardReplaced === true ? "superseded" : "cessationOfOperation");
      break;
    case "RECORD_ERROR":
      rule = "certificate content found wrong: both revoked (affiliationChanged)";
      select = both("affiliationChanged");
      break;
  }
  const live = certificates.filter((cert) => revocableStatuses.has(cert.status) && cert.notAfter.getTime() > options.now.getTime());
  const revocations: PlannedRevocation[] = [];
  // Card certificates first: their decisions are what the phone certificates of the same kind follow.
  const cardReasons = new Map<CaKind, RevocationReason>();
  for (const cert of live) {
    if (isPhone(cert)) continue;
    const reason = select(cert);
    if (reason === null) continue;
    revocations.push({ serial: cert.serial, caId: cert.caId, kind: cert.kind, partition: cert.partition, reason, cascaded: false });
    if (!cardReasons.has(cert.kind)) cardReasons.set(cert.kind, reason);
  }
  for (const cert of live) {
    if (!isPhone(cert)) continue;
    const reason = cardReasons.get(cert.kind) ?? select(cert);
    if (reason !== null) revocations.push({ serial: cert.serial, caId: cert.caId, kind: cert.kind, partition: cert.partition, reason, cascaded: true });
  }
  return { revocations, rule: phoneRule(rule, revocations) };
}

const isPhone = (cert: PolicyCertificate): boolean => cert.device === "phone";

/** The rule, saying when phone certificates followed (the audit log shows the cascade). */
function phoneRule(rule: string, revocations: readonly PlannedRevocation[]): string {
  const kinds = [...new Set(revocations.filter((r) => r.cascaded).map((r) => (r.kind === "sign" ? "signing" : "user-auth")))];
  return kinds.length === 0 ? rule : `${rule}; phone ${kinds.join(" and ")} revoked with the card's`;
}
