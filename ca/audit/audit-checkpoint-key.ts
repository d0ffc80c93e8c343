import { CaError } from "../errors.js";
import type { SignatureAlgorithmName, Signer } from "../ports.js";
import type { KeySpec } from "../types.js";
import { defaultAlgorithm } from "../profiles/algorithms.js";
import { publicKeySpec } from "../x509/public-key.js";

/** HSM label of the key that signs audit checkpoints. */
export const AUDIT_CHECKPOINT_KEY_LABEL = "audit-checkpoint";
/** P-256: fast to sign on SoftHSM (docs/traps.md §2), small signatures, verifiable with node:crypto. */
export const AUDIT_CHECKPOINT_KEY_SPEC: KeySpec = Object.freeze({ type: "ec", curve: "P-256" }) as KeySpec;
export const AUDIT_CHECKPOINT_ALGORITHM: SignatureAlgorithmName = "ecdsa-with-SHA256";

/** What this needs of the key custody (hsm/pkcs11-hsm.ts `Pkcs11Hsm` fits as is). */
export interface CheckpointKeyCustody {
  findKey(label: string): Promise<{ uri: string; publicKey: Uint8Array } | undefined>;
  generateKey(label: string, spec: KeySpec): Promise<{ uri: string; publicKey: Uint8Array }>;
  signer(uri: string, algorithm: SignatureAlgorithmName): Promise<Signer>;
}

/** Runs `work` while no other process of the cluster runs the same (db/advisory-lock.ts). */
export type Exclusive = <T>(work: () => Promise<T>) => Promise<T>;

/**
 * The checkpoint signer: the key under `label` in the token, generated there (sensitive,
 * non-extractable: invariant 5) on first use. Nodes starting together on one token: the token does not
 * refuse a second key with the same label, so find-or-generate runs under `exclusive` and the later
 * node finds the earlier one's key (issue 14: two keys made every later start fail as ambiguous).
 * @param spec the type of a new key (`hsm.serviceKeyType`, RSA on a token without EC: docs/hsm-vendors.md);
 *   the signature algorithm follows the key found, so an existing key keeps its type
 */
export async function auditCheckpointSigner(custody: CheckpointKeyCustody, exclusive: Exclusive, label: string = AUDIT_CHECKPOINT_KEY_LABEL, spec: KeySpec = AUDIT_CHECKPOINT_KEY_SPEC): Promise<Signer> {
  const key = (await custody.findKey(label)) ?? (await exclusive(async () => (await custody.findKey(label)) ?? (await custody.generateKey(label, spec))));
  const signer = await custody.signer(key.uri, defaultAlgorithm(publicKeySpec(key.publicKey)));
  if (Buffer.compare(Buffer.from(signer.publicKey), Buffer.from(key.publicKey)) !== 0) {
    throw new CaError("internal", `the ${label} key's public key does not match its signer`);
  }
  return signer;
}
