import { buildOcspResponderCertificate } from "../ca/profiles/ocsp-responder-certificate.js";
import type { Clock, Random, Signer } from "../ca/ports.js";
import type { AuditStore, CaGenerationStore, TransactionRunner } from "../ca/stores.js";
import type { CaGeneration, CaId, KeySpec } from "../ca/types.js";
import { parseIssuerCertificate } from "../ca/x509/issuer-certificate.js";

/**
 * Renewal of the delegated responder certificates before they expire (RFC 6960 §4.2.2.2.1: with
 * id-pkix-ocsp-nocheck the responder certificate is short-lived, 90 days here, so it must be renewed
 * by the service, not by a ceremony).
 *
 * When fewer than `renewBeforeDays` (30) remain, or a generation has no responder at all: a new key
 * (`keySpec`: `hsm.serviceKeyType`, P-256 by default, RSA on a token without EC) is generated in the HSM under the next label (`<caId>-ocsp-<n+1>`, reused if a crashed renewal
 * left it), the CA key issues a new responder certificate, and both are stored on the CA generation
 * with an audit entry in one transaction. The caller then reloads the responders: new responses are
 * signed with the new key at once, while responses already signed stay valid under the old
 * certificate (≥ 30 days left against a 24 h response validity). No downtime, no flag day.
 */
export interface ResponderKeys {
  findKey(label: string): Promise<{ uri: string; publicKey: Uint8Array } | undefined>;
  generateKey(label: string, spec: KeySpec): Promise<{ uri: string; publicKey: Uint8Array }>;
}

export interface ResponderRenewalDeps {
  readonly generations: Pick<CaGenerationStore, "list" | "setOcspResponder">;
  readonly transactions: TransactionRunner;
  readonly audit: Pick<AuditStore, "append">;
  readonly keys: ResponderKeys;
  /** The CA key of a generation, or undefined when it is not available (then that generation is skipped). */
  readonly caSigner: (caId: CaId) => Promise<Signer | undefined>;
  readonly clock: Clock;
  readonly random: Random;
}

export interface ResponderRenewalOptions {
  readonly renewBeforeDays: number;
  readonly validityDays: number;
  /**
   * The type of a new responder key (api/config.ts `hsm.serviceKeySpec`). Default P-256: fast in any HSM
   * and independent of the CA key; RSA for a token without EC mechanisms (docs/hsm-vendors.md).
   */
  readonly keySpec?: KeySpec;
}

export const defaultResponderRenewalOptions: ResponderRenewalOptions = Object.freeze({ renewBeforeDays: 30, validityDays: 90 });

export type RenewalOutcome =
  | { readonly caId: CaId; readonly action: "renewed"; readonly keyUri: string; readonly notAfter: Date }
  | { readonly caId: CaId; readonly action: "skipped"; readonly why: string };

/** The responder key spec when none is configured. */
const DEFAULT_RESPONDER_KEY: KeySpec = Object.freeze({ type: "ec", curve: "P-256" }) as KeySpec;
const DAY_MS = 86_400_000;

/** Renews every responder certificate that is due. @returns what was done (generations not due are left out) */
export async function renewDueResponders(
  deps: ResponderRenewalDeps,
  options: ResponderRenewalOptions = defaultResponderRenewalOptions,
): Promise<RenewalOutcome[]> {
  const outcomes: RenewalOutcome[] = [];
  const now = deps.clock.now();
  for (const ca of await deps.generations.list()) {
    const caCert = parseIssuerCertificate(ca.certificate);
    if (caCert.notAfter <= now) continue; // an expired CA has nothing left to answer for
    const current = ca.ocspResponderCertificate ? parseIssuerCertificate(ca.ocspResponderCertificate) : undefined;
    if (current && current.notAfter.getTime() - now.getTime() >= options.renewBeforeDays * DAY_MS) continue;
    if (current && caCert.notAfter <= current.notAfter) {
      outcomes.push({ caId: ca.id, action: "skipped", why: "the CA certificate expires before a new responder certificate could outlast the current one" });
      continue;
    }
    const caSigner = await deps.caSigner(ca.id);
    if (!caSigner) {
      outcomes.push({ caId: ca.id, action: "skipped", why: "the CA key is not available" });
      continue;
    }
    outcomes.push(await renewOne(deps, ca, caSigner, options, now));
  }
  return outcomes;
}

async function renewOne(deps: ResponderRenewalDeps, ca: CaGeneration, caSigner: Signer, options: ResponderRenewalOptions, now: Date): Promise<RenewalOutcome> {
  const label = nextResponderLabel(ca.id, ca.ocspResponderKeyUri);
  const key = (await deps.keys.findKey(label)) ?? (await deps.keys.generateKey(label, options.keySpec ?? DEFAULT_RESPONDER_KEY));
  const certificate = await buildOcspResponderCertificate({
    caId: ca.id,
    caCertificate: ca.certificate,
    caSigner,
    responderPublicKey: key.publicKey,
    serial: BigInt(`0x01${Buffer.from(deps.random.bytes(15)).toString("hex")}`),
    notBefore: now,
    validityDays: options.validityDays,
  });
  const notAfter = parseIssuerCertificate(certificate).notAfter;
  await deps.transactions.transaction(async (tx) => {
    await deps.generations.setOcspResponder(ca.id, certificate, key.uri, tx);
    await deps.audit.append(
      {
        at: now,
        action: "ocsp.responder.renewed",
        actor: "system",
        subject: `ca:${ca.id}`,
        outcome: "success",
        detail: { keyUri: key.uri, previousKeyUri: ca.ocspResponderKeyUri, notAfter: notAfter.toISOString() },
      },
      tx,
    );
  });
  return { caId: ca.id, action: "renewed", keyUri: key.uri, notAfter };
}

/** `<caId>-ocsp-<n+1>` after the current key's label `<caId>-ocsp-<n>` (the ceremony makes n = 1). */
export function nextResponderLabel(caId: CaId, currentKeyUri: string | null): string {
  const object = currentKeyUri ? /(?:^|[:;])object=([^;?]+)/.exec(currentKeyUri)?.[1] : undefined;
  const label = object ? decodeURIComponent(object) : "";
  const m = new RegExp(`^${caId}-ocsp-([0-9]+)$`).exec(label);
  return `${caId}-ocsp-${m ? Number(m[1]) + 1 : currentKeyUri ? 2 : 1}`;
}
