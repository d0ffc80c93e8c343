/**
 * @packageDocumentation
 * ca/linkage: the certificate linkage graph of a resident (issue #16 item 2, docs/linkage.md).
 *
 * - certificate-links.ts (this file): the link record, its store port, and the pure rules: which links an
 *   issuance records (`linksOfIssuance`, `cardPhoneLinks`), the newest certificate a chain leads to
 *   (`latestOf`) and the links around one certificate (`linksAround`).
 */
import type { Tx } from "../stores.js";
import type { CaKind, CertificateDevice } from "../types.js";

/**
 * - `successor`: older → newer certificate of the same kind and device of one resident (renewal,
 *   re-issue after a move, a new phone);
 * - `card-phone`: card certificate → phone certificate of the same kind (公的個人認証法 第18条4項);
 * - `sign-auth`: signing → user-auth certificate of the same device issued together (第18条5項).
 */
export type LinkType = "successor" | "card-phone" | "sign-auth";
export const linkTypes: readonly LinkType[] = ["successor", "card-phone", "sign-auth"] as const;

/** One edge of the graph (table certificate_links, migration 0026). */
export interface CertificateLink {
  readonly fromSerial: string;
  readonly toSerial: string;
  readonly link: LinkType;
  /** The resident both ends belong to; null only for certificates recorded without one. */
  readonly residentCode: string | null;
  readonly createdAt: Date;
}

/**
 * The linkage store. Links are written once, in the transaction that issues the `to` end, and never
 * changed: `insertMany` ignores a link already recorded (an issuance replay, the reconciler), so writing
 * twice is harmless. Reads come back oldest first (created, then serials).
 */
export interface CertificateLinkStore {
  insertMany(links: readonly CertificateLink[], tx: Tx): Promise<void>;
  /** Links of type `link` leaving `serial` (its successors, its phone counterpart, its auth pair). */
  from(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]>;
  /** Links of type `link` arriving at `serial` (its predecessor, its card counterpart, its sign pair). */
  to(serial: string, link: LinkType, tx?: Tx): Promise<CertificateLink[]>;
  /** Every link of one resident (the admin inquiry, the disclosure report). */
  ofResident(residentCode: string, tx?: Tx): Promise<CertificateLink[]>;
}

/** What the rules need of a certificate. */
export interface LinkedCertificate {
  readonly serial: string;
  readonly kind: CaKind;
  readonly device: CertificateDevice;
}

/**
 * The links one issuance records (docs/linkage.md):
 * - for each issued certificate, `successor` from the resident's most recent earlier certificate of the
 *   same kind and device, whatever its status (superseded, revoked by a move, expired); `predecessors`
 *   are the resident's earlier certificates most recent last, so the last match is taken (the stores put
 *   the heads of chains, certificates with no successor link yet, after the others, then order by
 *   creation: creation times are truncated to the second);
 * - `sign-auth` from each issued signing certificate to the user-auth certificate of the same device
 *   issued with it.
 */
export function linksOfIssuance(
  issued: readonly LinkedCertificate[],
  predecessors: readonly LinkedCertificate[],
  residentCode: string | null,
  at: Date,
): CertificateLink[] {
  const issuedSerials = new Set(issued.map((c) => c.serial));
  const earlier = predecessors.filter((p) => !issuedSerials.has(p.serial));
  const edge = (fromSerial: string, toSerial: string, link: LinkType): CertificateLink => ({ fromSerial, toSerial, link, residentCode, createdAt: at });
  const links: CertificateLink[] = [];
  for (const c of issued) {
    const previous = earlier.filter((p) => p.kind === c.kind && p.device === c.device).at(-1);
    if (previous !== undefined) links.push(edge(previous.serial, c.serial, "successor"));
  }
  for (const sign of issued.filter((c) => c.kind === "sign")) {
    for (const auth of issued.filter((c) => c.kind === "auth" && c.device === sign.device)) links.push(edge(sign.serial, auth.serial, "sign-auth"));
  }
  return links;
}

/**
 * `card-phone` links of a phone issuance: from each card certificate valid when the phone ones were
 * issued to the phone certificate of the same kind (公的個人認証法 第18条4項, docs/linkage.md).
 */
export function cardPhoneLinks(
  cardCertificates: readonly LinkedCertificate[],
  phoneIssued: readonly LinkedCertificate[],
  residentCode: string | null,
  at: Date,
): CertificateLink[] {
  return phoneIssued
    .filter((p) => p.device === "phone")
    .flatMap((p) =>
      cardCertificates
        .filter((c) => c.device === "card" && c.kind === p.kind)
        .map((c): CertificateLink => ({ fromSerial: c.serial, toSerial: p.serial, link: "card-phone", residentCode, createdAt: at })),
    );
}

/** How many successor steps `latestOf` follows at most: renewals every few years, a move now and then. */
export const maxSuccessorSteps = 64;

/**
 * The newest certificate the successor links lead to from `serial` (`serial` itself when none does).
 * Were there ever two successors of one certificate, the newest link wins. Bounded and cycle-safe: a
 * serial seen before ends the walk.
 */
export async function latestOf(serial: string, store: Pick<CertificateLinkStore, "from">, tx?: Tx): Promise<string> {
  const seen = new Set([serial]);
  let current = serial;
  for (let step = 0; step < maxSuccessorSteps; step++) {
    const next = newest(await store.from(current, "successor", tx));
    if (next === undefined || seen.has(next.toSerial)) return current;
    seen.add(next.toSerial);
    current = next.toSerial;
  }
  return current;
}

/**
 * Every link that leaves or reaches `serial`, oldest first (the certificate view, docs/linkage.md): six
 * indexed reads, one per type and direction (from: the primary key; to: certificate_links_to_idx).
 */
export async function linksAround(serial: string, store: Pick<CertificateLinkStore, "from" | "to">, tx?: Tx): Promise<CertificateLink[]> {
  const reads = linkTypes.flatMap((t) => [store.from(serial, t, tx), store.to(serial, t, tx)]);
  const links = (await Promise.all(reads)).flat();
  return links.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.link.localeCompare(b.link) || a.fromSerial.localeCompare(b.fromSerial) || a.toSerial.localeCompare(b.toSerial));
}

function newest(links: readonly CertificateLink[]): CertificateLink | undefined {
  return [...links].sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.toSerial.localeCompare(b.toSerial)).at(-1);
}
