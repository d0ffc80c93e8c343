import { randomBytes } from "node:crypto";
import * as graphene from "graphene-pk11";
import pkcs11js from "pkcs11js";
import { CaError } from "../ca/errors.js";
import type { KeySpec } from "../ca/types.js";
import { assertLoggedIn, readSpki } from "./key-lookup.js";
import { ecParamsDer } from "./public-key-info.js";
import { ckrName } from "./pkcs11-error.js";

/** A key pair made in the token. */
export interface GeneratedKeyPair {
  readonly label: string;
  /** CKA_ID shared by both halves. */
  readonly id: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
}

/** What is in the token under a label. */
export interface FoundKey {
  readonly label: string;
  readonly id: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * PKCS#11 v2.40 §4.4 storage attributes graphene has no names for: CKA_COPYABLE (0x171: C_CopyObject
 * may not clone the key into an object with weaker attributes) and CKA_DESTROYABLE (0x172: C_DestroyObject
 * refused). Registered under these names in graphene's attribute table (idempotent, additive).
 */
graphene.registerAttribute("copyable", pkcs11js.CKA_COPYABLE, "boolean");
graphene.registerAttribute("destroyable", pkcs11js.CKA_DESTROYABLE, "boolean");

/**
 * Storage protection of CA and responder keys (issue 12): not modifiable (no C_SetAttributeValue can
 * turn CKA_SENSITIVE off, add CKA_DECRYPT, or relabel a key so another is found in its place), not
 * copyable, not destroyable (a compromised operator session cannot wipe a CA key; retiring one is a
 * token-administration act). Each is asked for where the token supports it: a token that refuses an
 * attribute at generation (CKR_ATTRIBUTE_TYPE_INVALID / _VALUE_INVALID / CKR_TEMPLATE_INCONSISTENT) gets
 * the template without it, and `keyProtection` reads back what it made.
 */
export const KEY_PROTECTION = Object.freeze({ modifiable: false, copyable: false, destroyable: false });
export type KeyProtectionAttribute = keyof typeof KEY_PROTECTION;

/** What the token recorded for a key's storage attributes (null: the token does not know the attribute). */
export type KeyProtection = Readonly<Record<KeyProtectionAttribute, boolean | null>>;

/** Reads CKA_MODIFIABLE, CKA_COPYABLE and CKA_DESTROYABLE of `key`, one at a time (null where unsupported). */
export function keyProtection(key: graphene.SessionObject): KeyProtection {
  const read = (name: KeyProtectionAttribute): boolean | null => {
    try {
      const v = (key.getAttribute({ [name]: null }) as Record<string, unknown>)[name];
      return typeof v === "boolean" ? v : null;
    } catch {
      return null;
    }
  };
  return { modifiable: read("modifiable"), copyable: read("copyable"), destroyable: read("destroyable") };
}

/** PKCS#11 CKA_LABEL is a UTF-8 string; we keep labels to printable ASCII to stay portable across HSMs. */
const labelPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function assertLabel(label: string): void {
  if (typeof label !== "string" || !labelPattern.test(label)) {
    throw new CaError("invalid-input", "key label must be 1-64 characters of A-Z a-z 0-9 . _ - (starting alphanumeric)", {
      field: "label",
    });
  }
}

function assertSpec(spec: KeySpec): void {
  const ok =
    (spec.type === "rsa" && [2048, 3072, 4096].includes(spec.bits)) ||
    (spec.type === "ec" && (spec.curve === "P-256" || spec.curve === "P-384"));
  if (!ok) throw new CaError("invalid-input", "key spec must be RSA-2048/3072/4096 or EC P-256/P-384", { field: "keySpec" });
}

/**
 * Templates for a CA key pair. Private key: token object, private, sign only, sensitive and not
 * extractable so it never leaves the token (docs/design.md invariant 5); decrypt/unwrap/derive set false
 * explicitly because SoftHSM defaults them to true (docs/traps.md §2). Public key: verify only.
 */
function templates(spec: KeySpec, label: string, id: Buffer): { pub: graphene.ITemplate; priv: graphene.ITemplate } {
  const common = { token: true, label, id };
  const pub: graphene.ITemplate = {
    ...common,
    class: graphene.ObjectClass.PUBLIC_KEY,
    private: false,
    verify: true,
    encrypt: false,
    wrap: false,
    derive: false,
  };
  const priv: graphene.ITemplate = {
    ...common,
    class: graphene.ObjectClass.PRIVATE_KEY,
    private: true,
    sign: true,
    decrypt: false,
    unwrap: false,
    derive: false,
    sensitive: true,
    extractable: false,
  };
  if (spec.type === "rsa") {
    Object.assign(pub, { keyType: pkcs11js.CKK_RSA, modulusBits: spec.bits, publicExponent: Buffer.from([1, 0, 1]) });
    priv.keyType = pkcs11js.CKK_RSA;
  } else {
    Object.assign(pub, { keyType: pkcs11js.CKK_EC, paramsEC: Buffer.from(ecParamsDer[spec.curve]) });
    priv.keyType = pkcs11js.CKK_EC;
  }
  return { pub, priv };
}

/** Every object (any class) whose CKA_LABEL is `label`. */
function objectsLabelled(session: graphene.Session, label: string): number {
  assertLoggedIn(session); // else private objects are invisible and we would duplicate a label
  return session.find({ label }).length;
}

/**
 * Finds the key pair stored under `label` (the private key must exist); undefined if there is none.
 * The ceremony uses this to be idempotent: if the key exists, reuse it instead of generating.
 */
export function findKey(session: graphene.Session, label: string): FoundKey | undefined {
  assertLabel(label);
  assertLoggedIn(session); // else "absent" could just mean "not logged in"
  const found = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label });
  if (found.length === 0) return undefined;
  if (found.length > 1) throw new CaError("conflict", `key "${label}" is ambiguous: ${found.length} private keys`);
  const id = found.items(0).getAttribute({ id: null }).id ?? Buffer.alloc(0);
  return { label, id: new Uint8Array(id), publicKey: readSpki(session, { label, cacheKey: label, display: label }) };
}

/**
 * Generates a key pair inside the token (C_GenerateKeyPair, asynchronous: RSA-4096 takes seconds),
 * with CKA_LABEL = `label` and a random 16-byte CKA_ID. Refuses (CaError "conflict") when any object
 * with that label exists: overwriting or duplicating a CA key is never what a ceremony wants.
 */
export async function generateKeyPair(session: graphene.Session, label: string, spec: KeySpec): Promise<GeneratedKeyPair> {
  assertLabel(label);
  assertSpec(spec);
  if (objectsLabelled(session, label) > 0) {
    throw new CaError("conflict", `the token already holds an object labelled "${label}"`);
  }
  assertTokenCanMake(session, spec);
  const id = randomBytes(16);
  const { pub, priv } = templates(spec, label, id);
  const mechanism = spec.type === "rsa" ? graphene.KeyGenMechanism.RSA : graphene.KeyGenMechanism.EC;
  const generate = (protect: readonly KeyProtectionAttribute[]): Promise<graphene.IKeyPair> => {
    const extra = Object.fromEntries(protect.map((name) => [name, KEY_PROTECTION[name]]));
    return new Promise<graphene.IKeyPair>((resolve, reject) =>
      session.generateKeyPair(mechanism, { ...pub, ...extra }, { ...priv, ...extra }, (err, keys) => (err || !keys ? reject(err) : resolve(keys))),
    );
  };
  // All three first; on a template error, drop the ones the token refuses (one at a time, most exotic first).
  let protect: KeyProtectionAttribute[] = ["modifiable", "copyable", "destroyable"];
  let pair: graphene.IKeyPair | undefined;
  for (;;) {
    try {
      pair = await generate(protect);
      break;
    } catch (e) {
      if (!isTemplateError(e) || protect.length === 0) throw e;
      protect = protect.slice(0, -1);
    }
  }
  // Belt and braces: refuse a key the token did not make sensitive and non-extractable.
  const a = pair.privateKey.getAttribute({ sensitive: null, extractable: null, neverExtractable: null, decrypt: null });
  if (!a.sensitive || a.extractable || !a.neverExtractable || a.decrypt) {
    // A key generated non-destroyable cannot be removed: it stays, unusable by label lookups that check.
    for (const k of [pair.privateKey, pair.publicKey]) {
      try {
        session.destroy(k);
      } catch {
        /* CKA_DESTROYABLE false */
      }
    }
    throw new CaError("internal", `the token did not honour the key template for "${label}"; key destroyed if the token allowed it`);
  }
  return { label, id: new Uint8Array(id), publicKey: readSpki(session, { label, id, cacheKey: "", display: label }) };
}

/**
 * Mechanisms a key of `spec` needs: its key-pair generation and one way to sign with it
 * (hsm/pkcs11-signer.ts: RSA through CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS, EC through CKM_ECDSA).
 */
const NEEDED: Readonly<Record<KeySpec["type"], { generate: [string, number]; sign: Array<[string, number]> }>> = {
  rsa: { generate: ["CKM_RSA_PKCS_KEY_PAIR_GEN", pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN], sign: [["CKM_SHA256_RSA_PKCS", pkcs11js.CKM_SHA256_RSA_PKCS], ["CKM_RSA_PKCS", pkcs11js.CKM_RSA_PKCS]] },
  ec: { generate: ["CKM_EC_KEY_PAIR_GEN", pkcs11js.CKM_EC_KEY_PAIR_GEN], sign: [["CKM_ECDSA", pkcs11js.CKM_ECDSA]] },
};

/**
 * Refuses, before anything is made, a key the token cannot generate or sign with: opencryptoki 3.8.1's
 * software token offers no EC mechanism at all (docs/hsm-vendors.md §"Mechanisms"), and C_GenerateKeyPair
 * would only say CKR_MECHANISM_INVALID. CaError("unprocessable") names the missing mechanism.
 */
function assertTokenCanMake(session: graphene.Session, spec: KeySpec): void {
  const offered = new Set(session.lib.C_GetMechanismList(session.slot.handle));
  const { generate, sign } = NEEDED[spec.type];
  const what = spec.type === "rsa" ? `RSA-${spec.bits}` : spec.curve;
  if (!offered.has(generate[1])) {
    throw new CaError("unprocessable", `the token does not offer ${generate[0]}: it cannot generate ${what} keys`, { field: "keySpec" });
  }
  if (!sign.some(([, m]) => offered.has(m))) {
    throw new CaError("unprocessable", `the token offers none of ${sign.map(([n]) => n).join(", ")}: it cannot sign with ${what} keys`, { field: "keySpec" });
  }
}

/** PKCS#11 return values that mean "this token does not take that template" (PKCS#11 v2.40 §5.1). */
const TEMPLATE_ERRORS: ReadonlySet<string> = new Set(["CKR_ATTRIBUTE_TYPE_INVALID", "CKR_ATTRIBUTE_VALUE_INVALID", "CKR_TEMPLATE_INCONSISTENT", "CKR_ATTRIBUTE_READ_ONLY"]);

/** True for a refused template; the CKR name is read once, by hsm/pkcs11-error.ts ckrName. */
function isTemplateError(e: unknown): boolean {
  const name = ckrName(e);
  return name !== undefined && TEMPLATE_ERRORS.has(name);
}
